// Package checksum owns request and callback authentication: the original
// bbb-chat checksum, and Standard Webhooks v1 signatures
// (https://www.standardwebhooks.com) for callbacks to receivers that speak
// that scheme.
//
// The original checksum is
//
//	sha512_hex(call + json.dumps(params) + secret + str(unix_seconds))
//
// where params is the JSON body, parsed by Python's json.loads, without its
// "checksum" member, and the checksum travels as that member. Verifier
// accepts a request when the checksum matches, for one of its secrets and a
// second within ±Delta of now, either of two texts for json.dumps(params):
//
//  1. pyjson.Canonical(body, "checksum"): what the original Python server
//     computed, and what a Python client computes;
//  2. the body as received with the checksum member cut out
//     (pyjson.Document.Cut): what a client in another language computes when
//     it signs its own serialisation and then adds the checksum member with
//     the same serialiser.
//
// All candidates are hashed and compared in constant time, whichever matches.
//
// Explain says why a refused checksum was refused, where it can tell (a
// clock outside the window, another call's name, a retired secret, another
// JSON serialisation, uppercase hex), trying only candidates that need the
// secret to match, with bounded work (ExplainCost); its Reason is also the
// label of ingress's failure metric.
//
// What it must not do: read configuration, the clock (Now is injected) or
// HTTP requests; detect replays (Verify returns the checksum so that the
// caller can).
package checksum
