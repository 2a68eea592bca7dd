package callback

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is what a receiver read of one request.
type seen struct {
	method, uri, host, contentType, webhookID string
	body                                      string
}

// rawReceiver reads each request with net/http's parser and writes the reply the test chose, byte for byte.
type rawReceiver struct {
	ln    net.Listener
	mu    sync.Mutex
	reply []byte
	got   []seen
}

func newRawReceiver(t testing.TB) *rawReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawReceiver{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *rawReceiver) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, seen{req.Method, req.RequestURI, req.Host, req.Header.Get("Content-Type"),
			req.Header.Get("Webhook-Id"), string(body)})
		reply := r.reply
		r.mu.Unlock()
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

func (r *rawReceiver) take() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// FuzzPosterAgainstNetHTTP holds the hand HTTP/1.1 client to net/http's: for any reply a receiver writes, both
// read the same status and Retry-After (or both fail), and the receiver reads the same request from both. Replies
// keep the connection open and are small enough to be read whole (a closed connection is
// TestPosterConnectionClose's, a long reply TestPosterLargeReply's): a new connection per input would run
// the machine out of local ports within a minute of fuzzing.
func FuzzPosterAgainstNetHTTP(f *testing.F) {
	f.Add(200, "", "", "/hook", "1-m", `{"message":"hi"}`)
	f.Add(429, "120", "slow down", "/hook?x=1", "17-abc", `{}`)
	f.Add(410, "", "gone", "/", "1-m", "")
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", strings.Repeat("x", 3000), "/a/b", "9-z", `{"a":1}`)
	f.Add(302, "", "", "/hook", "1-m", `{}`)
	r := newRawReceiver(f)
	url := "http://" + r.ln.Addr().String()
	netClient := NewClient(2 * time.Second)
	hand := newPoster(netClient.Transport.(*http.Transport))
	f.Cleanup(func() { hand.closeIdle(); netClient.CloseIdleConnections() })
	f.Fuzz(func(t *testing.T, status int, retryAfter, replyBody, path, webhookID, body string) {
		if status < 200 || status > 999 || !printable(retryAfter) || !printable(webhookID) ||
			len(replyBody) > maxResponseRead || !strings.HasPrefix(path, "/") || !printable(path) || strings.ContainsAny(path, " #") {
			t.Skip()
		}
		if status == http.StatusNoContent || status == http.StatusNotModified {
			replyBody = "" // these have no body: one would be read as the next reply by either client
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "HTTP/1.1 %d Reason\r\n", status)
		if retryAfter != "" {
			fmt.Fprintf(&b, "Retry-After: %s\r\n", retryAfter)
		}
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(replyBody), replyBody)
		r.mu.Lock()
		r.reply = b.Bytes()
		r.mu.Unlock()

		send := func(viaHand bool) (reply, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+path, strings.NewReader(body))
			if err != nil {
				t.Skip()
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("webhook-id", webhookID)
			if viaHand {
				return hand.post(ctx, time.Now().Add(2*time.Second), req, []byte(body), 64)
			}
			resp, err := netClient.Do(req)
			if err != nil {
				return reply{}, err
			}
			excerpt, _ := readExcerpt(resp.Body, 64)
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
			resp.Body.Close()
			return reply{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), excerpt: excerpt}, nil
		}
		gotHand, errHand := send(true)
		seenHand := r.take()
		gotLib, errLib := send(false)
		seenLib := r.take()
		if (errHand == nil) != (errLib == nil) || gotHand.status != gotLib.status ||
			gotHand.retryAfter != gotLib.retryAfter || !bytes.Equal(gotHand.excerpt, gotLib.excerpt) {
			t.Fatalf("reply %q:\nhand     %+v, %v\nnet/http %+v, %v", b.String(), gotHand, errHand, gotLib, errLib)
		}
		if len(seenHand) != 1 || len(seenLib) != 1 || seenHand[0] != seenLib[0] {
			t.Fatalf("the receiver read\nhand     %+v\nnet/http %+v", seenHand, seenLib)
		}
	})
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
