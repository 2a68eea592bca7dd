package callback

import (
	"errors"
	"fmt"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// MaxEventBytes bounds the payload of an event a worker acts on. Relay's events are far smaller (BBB's chat
// messages have 5000 characters at most by default, under 40 KiB as JSON even when every one is escaped); anything
// bigger was not published by relay.
const MaxEventBytes = 256 << 10

// errMalformed marks an event that relay cannot have published on that subject.
var errMalformed = errors.New("malformed event")

// checkEvent reports why an event read from a bridge's consumer cannot be relay's: too big, for another meeting,
// of another type than its subject says, or a message without the ids every BBB message has. Such events are
// skipped and counted, never sent (anyone who may publish on the stream's subjects could otherwise make a bridge
// send made-up messages, or end it). subject is the NATS subject the event came on; size its payload's length.
func checkEvent(e state.Event, subject string, size int, meetingID string) error {
	if size > MaxEventBytes {
		return fmt.Errorf("%w: %d bytes, more than %d", errMalformed, size, MaxEventBytes)
	}
	subjMeeting, subjType, err := state.ParseSubject(subject)
	if err == nil && e.Type == state.TypeGap && e.MeetingID == "" && (subjType == state.TypeGap || subjMeeting == meetingID) {
		// A gap belongs to no meeting: it comes on bbbchat.gap, or on this bridge's retry subject.
		if e.ID == "" || e.From <= 0 || e.To < e.From {
			return fmt.Errorf("%w: a gap without id or window", errMalformed)
		}
		return nil
	}
	if err != nil || subjMeeting != meetingID {
		return fmt.Errorf("%w: subject %q is not this bridge's", errMalformed, subject)
	}
	if e.MeetingID != meetingID {
		return fmt.Errorf("%w: for meeting %q", errMalformed, truncate(e.MeetingID, 100))
	}
	if subjType != "retry" && subjType != e.Type {
		return fmt.Errorf("%w: type %q on a %s subject", errMalformed, truncate(e.Type, 40), subjType)
	}
	if e.ID == "" {
		return fmt.Errorf("%w: no id", errMalformed)
	}
	if e.Type == state.TypeMessage && (e.ChatID == "" || e.SenderID == "") {
		return fmt.Errorf("%w: a message without chat or sender id", errMalformed)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
