// Package viewer owns the live chat page for a stream's audience: viewer links (signed, stateless tokens and
// their URLs), the page itself (GET /chat/<token>, embedded HTML, CSS and JavaScript, no build step), its live
// updates (GET /chat/<token>/events, Server-Sent Events read from the events stream, one NATS consumer per meeting
// fanned out to every viewer of that meeting) and viewers' posts (POST /chat/<token>/messages), with their limits:
// slow mode, lengths, the word list and the cap on streams per address. See docs/viewer.md.
//
// It must not post to BBB itself: a viewer's post goes through ingress's one send path (Options.Send), so that
// templates, escaping and confirmation are the API's. It must not map errors to HTTP answers: its refusals are
// the Err values below, which ingress's error table maps (Options.Fail, Options.Status). Revocations are kept in
// shared/state (RevokeViewerLinks); nothing else is stored. It never logs a token whole (Redact).
package viewer
