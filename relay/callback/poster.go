package callback

import (
	"io"
	"net/http"
)

// reply is what a receiver answered.
type reply struct {
	status     int
	retryAfter string
}

// post sends req with c (net/http: its Transport keeps the connections to each receiver, dials through the
// egress guard and sets up TLS) and reads at most maxResponseRead bytes of the reply's body. The attempt's
// deadline, and the Manager's drain timeout, are req's context: cancelling it ends the attempt at once. A body
// longer than that is not read to its end, so net/http drops the connection instead of reusing it.
//
// A callback is idempotent (the receiver deduplicates by webhook-id), so req is marked so for net/http: an
// Idempotency-Key entry with no value is not sent, but lets the Transport send the request again on a fresh
// connection when a kept one turns out to have been closed by the receiver meanwhile.
func post(c *http.Client, req *http.Request) (reply, error) {
	req.Header["Idempotency-Key"] = nil
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	return reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}, nil
}
