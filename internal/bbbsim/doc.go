// Package bbbsim is a stand-in for BigBlueButton's akka-apps on a real Redis, as strict as akka-apps is, for tests
// and demos of bbb-chat. It plays one BBB version at a time (2.2, 2.3, 2.4, 2.5, 2.6, 2.7, 3.0 or 4.0).
//
// What it owns:
//   - Its own, independent definition of every message shape of every version (docs/protocol.md §2–§5). It must never import the product's codec (shared/bbb): it exists to check that codec, so sharing code
//     with it would make the check worthless.
//   - The strict parse of requests on to-akka-apps-redis-channel, the way akka's Jackson mapper does it
//     (FAIL_ON_UNKNOWN_PROPERTIES, FAIL_ON_MISSING_CREATOR_PROPERTIES): the message is exactly {envelope, core};
//     the envelope exactly {name, routing (string → string), timestamp (integer)}; core exactly {header, body};
//     the header exactly the fields of the message's header class; the body exactly the fields of that version's
//     case class, with the right JSON types. A violation drops the message, records a Drop with a reason such as
//     `SendGroupChatMessageMsg: body.msg: unknown field "color" for 2.7`, and publishes nothing, as akka does.
//   - The akka handlers that matter to a chat bridge: SendGroupChatMessageMsg (sender from header.userId must be a
//     joined user, or SYSTEM before 4.0; the chat must exist; a locked viewer cannot post while public chat is
//     locked),
//     SendGroupChatMessageFromApiSysPubMsg (3.0), ClearPublicChatHistoryPubMsg (moderators only),
//     RegisterUserReqMsg, UserJoinMeetingReqMsg and UserLeaveReqMsg; and the events they publish, in each
//     version's exact shape, on the channels akka uses (including the frontend-channel duplicates of 2.3+).
//   - Scripted actions for the rest of BBB: meetings created and ended as by bbb-web, and humans who join, leave,
//     type (through the 2.x HTML5 server's escaping) and clear the chat, and from 3.0 edit, delete and react to
//     messages and from 4.0 pin them (docs/protocol.md §3.7), with akka's checks; on a version without the feature
//     these fail with ErrNoFeature and publish nothing.
//
// Where it differs from akka-apps, on purpose:
//   - Jackson's default scalar coercions (a number into a String, "true" into a Boolean, 1.0 into a Long, a number
//     as a routing value) are rejected: a producer must not rely on them. An explicit null is accepted, as Jackson
//     does, but recorded as a Warning; a null where akka dereferences an object (header, body, body.msg,
//     sender …) is a drop, since akka's actor would fail on it.
//   - UserLeaveReqMsg removes the user at once; akka sets a left flag and removes the user about 10 s later.
//   - The 2.2–2.4 grace period that lets a locked user's message through within 5 s of a lock-settings change is
//     not simulated; SetLock takes effect at once.
//   - Private chats, presenters and the inactivity audit are not simulated. Locks, roles, disabled features and
//     breakout rooms are, as far as chat is concerned (locks.go), and 3.0's edits and deletions (moderation.go).
//   - 4.0's messageAsHtml is the escaped text in paragraphs, not akka's Markdown rendering, and the public chat's
//     chatParticipants is an empty array (docs/protocol.md §3.8).
//     Names the simulator does not handle are dropped with the reason "not handled by simulator".
//   - Scripted joins publish only UserJoinedMeetingEvtMsg (no UserRegisteredRespMsg); MeetingCreatedEvtMsg props for
//     2.2 and 2.3 follow the 2.4 layout, an approximation (only meetingProp and durationProps matter to a consumer).
//
// Typical use in a test of the product:
//
//	sim, err := bbbsim.Start(ctx, rdb, bbbsim.Options{Version: "2.7"})
//	m, err := sim.CreateMeeting(ctx, "demo-meeting", "Demo")
//	bot, err := sim.Join(ctx, m.IntID, "Chat Bridge", bbbsim.RoleViewer) // a user the product may post as
//	// … let the product publish SendGroupChatMessageMsg as bot …
//	chat, err := sim.WaitChat(ctx, m.IntID, 1) // or sim.WaitDropped(ctx, 1) to read why akka would drop it
//	_, err = sim.Say(ctx, m.IntID, human, "hi <b>") // a human typing, for the product's relay to forward
//
// What it must not do: read anything but to-akka-apps-redis-channel, or publish anything akka-apps would not.
package bbbsim
