// Package bbb owns BigBlueButton's internal Redis wire formats for BBB 2.2 to 4.0
// (see docs/protocol.md): the channel names, the server version and the
// message shape it implies, decoding the events bbb-chat consumes (chat,
// chat cleared, user joined/left, meeting created/ended, and from 3.0 the
// edits, deletes, reactions and pins of chat messages), encoding the chat
// posts bbb-chat publishes, and the text transforms BBB applies to chat bodies.
//
// The rule is "decode leniently, encode strictly, nothing else":
//
//   - Decode accepts every shape from 2.2 to 4.0 and ignores fields it does not
//     need, because BBB adds fields between releases. What it does need must be
//     present and well typed; otherwise it returns an error wrapping
//     ErrMalformed that names the field.
//   - EncodeChatPost and EncodeAPIChatPost emit exactly the fields of the target
//     version, in the order BBB's own producers use. akka-apps parses with
//     FAIL_ON_UNKNOWN_PROPERTIES and FAIL_ON_MISSING_CREATOR_PROPERTIES, so one
//     extra or missing field drops the whole message without any reply
//     (docs/protocol.md §2.2).
//   - Render and PlainText own the chat text conventions: 2.x renders chat as
//     raw HTML (docs/protocol.md §3.3 item 7), 3.0 renders Markdown.
//
// The package holds no state and does no I/O except ReadReleaseFile. It knows
// nothing about Redis clients, NATS, bridges, HTTP or configuration; it must not
// grow any of those.
package bbb
