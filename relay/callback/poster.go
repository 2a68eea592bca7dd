package callback

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
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
// A receiver may close a kept connection just as a callback goes out on it (its idle timeout): the request then
// meets the end of the connection before any answer. That is not the receiver's answer, so post sends the request
// once more, on a new connection, within the same attempt. Any other failure, a reset included, is the attempt's.
func post(c *http.Client, req *http.Request) (reply, error) {
	resp, keptClosed, err := do(c, req)
	if keptClosed && req.GetBody != nil {
		if body, gerr := req.GetBody(); gerr == nil {
			again := req.Clone(req.Context())
			again.Body = body
			resp, _, err = do(c, again)
		}
	}
	if err != nil {
		return reply{}, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	resp.Body.Close()
	return reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}, nil
}

// do sends req once; keptClosed tells that it failed because the kept connection it went out on ended before any
// byte of an answer.
func do(c *http.Client, req *http.Request) (resp *http.Response, keptClosed bool, err error) {
	var reused, answered bool
	trace := &httptrace.ClientTrace{
		GotConn:              func(i httptrace.GotConnInfo) { reused = i.Reused },
		GotFirstResponseByte: func() { answered = true },
	}
	resp, err = c.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	keptClosed = err != nil && reused && !answered && errors.Is(err, io.EOF) && req.Context().Err() == nil
	return resp, keptClosed, err
}
