package main

import (
	"fmt"
	"slices"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// errChatBlocked is a post or moderation request BBB would drop without a word, as far as relay knows.
var errChatBlocked = fmt.Errorf("BBB would drop it")

// chatBlocked says why BBB (akka-apps) would drop a public chat post, edit or deletion of user u in meeting m ("" when
// nothing relay knows stops it), with what to do: chat is a disabled feature of the meeting (2.5+), or u is a
// viewer who is locked while the meeting's lock settings disable public chat, or whose own lock settings disable
// it (3.0) (docs/protocol.md §3.3 items 3 and 4). Moderators are never locked. byLock tells the locks (which
// do not stop BBB's chat API) from the disabled feature.
func chatBlocked(m state.Meeting, u state.Presence) (reason string, byLock bool) {
	if slices.Contains(m.DisabledFeatures, "chat") {
		return fmt.Sprintf("chat is a disabled feature of meeting %s (disabledFeatures when it was created), so BBB drops every chat message there; create the meeting without it", m.InternalID), false
	}
	if u.Role == roleModerator {
		return "", false
	}
	if u.Locked && m.PublicChatLocked {
		return fmt.Sprintf("the meeting's lock settings disable public chat for locked viewers, and the chat user %q is a locked viewer; make the chat user a moderator, unlock it, or lift the lock", u.Name), true
	}
	if u.PublicChatLocked {
		return fmt.Sprintf("the chat user %q is a viewer whose own lock settings disable public chat; make it a moderator or lift its lock", u.Name), true
	}
	return "", false
}
