// Package bridge owns a bridge's lifecycle, for both binaries: start (startChatForMeeting), end (endChatForMeeting),
// retry of failed deliveries (retryCallbacks, which also turns a gone callback back on), the release of a
// delivery that waits out a retry delay (Release: retryCallbacks with pending, and relay when a receiver answers
// again), gone (the receiver answered 410), the meeting's end, a followed room's bridge made again for each of
// its meetings (follow.go), and the bridge's callback consumer: its name, its
// filter subjects (the kinds the bridge asked for, Filters), its deliver subject and queue group, its settings
// (one AckWait rule, below), its creation and re-creation, and the listing of the consumers' queues (pending
// counts). Ingress and relay call it; neither names, configures or lists a callback consumer itself. It also
// holds the requests ingress makes of relay about callbacks (Ping, CheckTarget: subjects and shapes; relay
// answers them), so that only relay ever sends anything to a receiver.
//
// AckWait rule: a callback consumer's AckWait is the callback timeout plus AckWaitMargin (AckWait), the time one
// attempt may take before JetStream hands the event to another relay. Relay reads BBB_CHAT_CALLBACK_TIMEOUT and
// keeps the consumers it serves at that value. Ingress does not read that setting: a consumer it creates (at
// startChatForMeeting, or retryCallbacks after a 410) gets the default timeout's AckWait, and a consumer that
// exists already is left as it is, so ingress never rewrites what relay set.
//
// It must not deliver callbacks (relay/callback does), decide HTTP answers (ingress does), or keep state of its
// own: everything lives in shared/state, whose narrow methods it uses. It logs nothing; callers log what it
// returns.
package bridge
