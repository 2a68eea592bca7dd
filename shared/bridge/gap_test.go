package bridge

import (
	"slices"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// A bridge that asks for gaps gets the server's gap subject among its consumer's filters; one that does not, not.
func TestConsumerConfigGap(t *testing.T) {
	b := state.Bridge{MeetingID: "m1", CallbackURI: "http://127.0.0.1/hook", CreatedAt: time.Unix(1, 0)}
	if f := ConsumerConfig(b, time.Second, state.Position{}).FilterSubjects; slices.Contains(f, state.SubjectGap) {
		t.Fatalf("filters without gap asked for: %v", f)
	}
	b.CallbackEvents = []string{state.TypeGap}
	f := ConsumerConfig(b, time.Second, state.Position{}).FilterSubjects
	if !slices.Contains(f, state.SubjectGap) || !slices.Contains(f, state.EventSubject("m1", state.TypeMessage)) {
		t.Fatalf("filters with gap asked for: %v", f)
	}
}
