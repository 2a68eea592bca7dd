package viewer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// streamEnv is a real nats-server with the state opened, and the viewer handler on an httptest server.
type streamEnv struct {
	t     *testing.T
	store *state.Store
	srv   *Server
	url   string
	key   []byte
}

func newStreamEnv(t *testing.T, keep int) *streamEnv {
	return newStreamEnvWith(t, keep, 0, 0)
}

// newStreamEnvWith serves with the given read and write timeouts (0: none), as ingress's server has them, and the
// given heartbeat (0: the product's).
func newStreamEnvWith(t *testing.T, keep int, timeout, beat time.Duration) *streamEnv {
	ns := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	store, err := state.Open(t.Context(), nc, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := Key("secret")
	set := &Settings{Keys: [][]byte{key}, FrameAncestors: "'self'", MaxStreamsPerIP: 0}
	srv := New(Options{
		Log:      slog.New(slog.DiscardHandler),
		Now:      time.Now,
		Settings: func() *Settings { return set },
		Store:    func() *state.Store { return store },
		Send:     func(context.Context, string, string, string) error { return errors.New("no posts here") },
		Fail: func(w http.ResponseWriter, r *http.Request, call string, err error) {
			http.Error(w, err.Error(), http.StatusBadRequest)
		},
		Status: func(err error) (int, string) { return http.StatusBadRequest, err.Error() },
	})
	srv.hubs.keep = keep
	if beat > 0 {
		srv.hubs.beat = beat
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewUnstartedServer(srv)
	hs.Config.ReadTimeout, hs.Config.WriteTimeout = timeout, timeout
	hs.Start()
	t.Cleanup(hs.Close)
	return &streamEnv{t: t, store: store, srv: srv, url: hs.URL, key: key}
}

func (e *streamEnv) say(meetingID string, n int) {
	e.t.Helper()
	for i := range n {
		ev := state.Event{Type: state.TypeMessage, ID: meetingID + "-" + strconv.Itoa(i), MeetingID: meetingID,
			ChatID: "MAIN-PUBLIC-GROUP-CHAT", MessageID: meetingID + "-" + strconv.Itoa(i), Text: "message " + strconv.Itoa(i)}
		payload, _ := json.Marshal(ev)
		if _, err := e.store.PublishEvent(e.t.Context(), ev, payload); err != nil {
			e.t.Fatal(err)
		}
		// Presence in between: in the stream, never on the page.
		other := state.Event{Type: state.TypeUserJoined, ID: ev.ID + "-join", MeetingID: meetingID, UserName: "u"}
		payload, _ = json.Marshal(other)
		if _, err := e.store.PublishEvent(e.t.Context(), other, payload); err != nil {
			e.t.Fatal(err)
		}
	}
}

// read opens the meeting's events after lastID and reads n events' ids and texts.
func (e *streamEnv) read(meetingID string, lastID uint64, n int) (ids []uint64, texts []string) {
	e.t.Helper()
	tok := Sign(e.key, Link{MeetingID: meetingID, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/chat/"+tok+"/events", nil)
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(lastID, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("events: %d %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	for len(texts) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id, _ := strconv.ParseUint(line[4:], 10, 64)
			ids = append(ids, id)
		case strings.HasPrefix(line, "data: "):
			var v view
			json.Unmarshal([]byte(line[6:]), &v)
			texts = append(texts, v.Text)
		}
	}
	if len(texts) < n {
		e.t.Fatalf("read %d of %d events: %v", len(texts), n, sc.Err())
	}
	return ids, texts
}

// TestEventsWithoutGapOrRepeat: from the start, from any Last-Event-ID, and further back than the meeting's hub
// keeps, a viewer reads the meeting's messages in order, each once, and no other meeting's.
func TestEventsWithoutGapOrRepeat(t *testing.T) {
	e := newStreamEnv(t, 8)
	e.say("other-meeting", 3)
	e.say("m1", 30)
	e.say("yet-another-meeting", 3)

	check := func(name string, ids []uint64, texts []string, from int) {
		t.Helper()
		for i, text := range texts {
			if want := "message " + strconv.Itoa(from+i); text != want {
				t.Fatalf("%s: event %d is %q, want %q (all: %v)", name, i, text, want, texts)
			}
			if i > 0 && ids[i] <= ids[i-1] {
				t.Fatalf("%s: ids not increasing: %v", name, ids)
			}
		}
	}
	// The first viewer starts the hub, which keeps only the last 8 or so: the viewer reads the rest from the
	// stream itself.
	ids, texts := e.read("m1", 0, 30)
	check("from the start", ids, texts, 0)
	testenv.Eventually(t, 5*time.Second, "the hub has read the meeting", func() bool {
		h := e.srv.hubs.join(e.srv.ctx, "m1")
		defer e.srv.hubs.leave(h)
		fs, _, _, _ := h.since(ids[29] - 1)
		return len(fs) == 1
	})
	for _, from := range []int{0, 5, 21, 28} {
		name := "after message " + strconv.Itoa(from)
		rids, rtexts := e.read("m1", ids[from], 29-from)
		check(name, rids, rtexts, from+1)
		if rids[0] != ids[from+1] {
			t.Fatalf("%s: resumed at id %d, want %d", name, rids[0], ids[from+1])
		}
	}
	// Live: a viewer waiting at the end gets what comes next.
	done := make(chan []string, 1)
	go func() {
		_, texts := e.read("m1", ids[29], 2)
		done <- texts
	}()
	e.say("m2", 1)
	ev := state.Event{Type: state.TypeMessage, ID: "m1-live", MeetingID: "m1", MessageID: "m1-live", Text: "message 30"}
	payload, _ := json.Marshal(ev)
	if _, err := e.store.PublishEvent(t.Context(), ev, payload); err != nil {
		t.Fatal(err)
	}
	ev = state.Event{Type: state.TypeMessage, ID: "m1-live2", MeetingID: "m1", MessageID: "m1-live2", Text: "message 31"}
	payload, _ = json.Marshal(ev)
	if _, err := e.store.PublishEvent(t.Context(), ev, payload); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got[0] != "message 30" || got[1] != "message 31" {
			t.Fatalf("live: %v", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("live messages did not arrive")
	}
}

// TestEventsOutliveServerTimeouts: ingress's HTTP server has read and write timeouts; an event stream lives on past
// them and still gets what comes.
func TestEventsOutliveServerTimeouts(t *testing.T) {
	e := newStreamEnvWith(t, 100, 300*time.Millisecond, 0)
	e.say("m1", 1)
	got := make(chan []string, 1)
	go func() {
		_, texts := e.read("m1", 0, 2)
		got <- texts
	}()
	testenv.Consistently(t, time.Second, "the stream ended within three times the server's timeouts", func() bool {
		return len(got) == 0
	})
	ev := state.Event{Type: state.TypeMessage, ID: "late", MeetingID: "m1", MessageID: "late", Text: "message 1"}
	payload, _ := json.Marshal(ev)
	if _, err := e.store.PublishEvent(t.Context(), ev, payload); err != nil {
		t.Fatal(err)
	}
	select {
	case texts := <-got:
		if texts[1] != "message 1" {
			t.Fatalf("got %v", texts)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the late message did not arrive")
	}
}

// TestEventsHeartbeat: an open stream gets a comment on each of its meeting's heartbeats, and ends with a refused
// event once its link has expired or the meeting's links were revoked; it ends when the server closes.
func TestEventsHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name        string
		expiresIn   time.Duration
		afterPing   func(e *streamEnv)
		wantRefused bool
	}{
		{name: "expired", expiresIn: 2 * time.Second, wantRefused: true},
		{name: "revoked", expiresIn: time.Hour, wantRefused: true, afterPing: func(e *streamEnv) {
			if err := e.store.RevokeViewerLinks(e.t.Context(), "m1", time.Now()); err != nil {
				e.t.Fatal(err)
			}
		}},
		{name: "server closed", expiresIn: time.Hour, afterPing: func(e *streamEnv) { e.srv.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStreamEnvWith(t, 100, 0, 50*time.Millisecond)
			now := time.Now()
			tok := Sign(e.key, Link{MeetingID: "m1", IssuedAt: now.Add(-time.Second), ExpiresAt: now.Add(tc.expiresIn)})
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/chat/"+tok+"/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("events: %d", resp.StatusCode)
			}
			lines := make(chan string, 1000)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			pings, refused := 0, false
			for line := range lines {
				switch line {
				case ": ping":
					if pings++; pings == 1 && tc.afterPing != nil {
						tc.afterPing(e)
					}
				case "event: refused":
					refused = true
				}
			}
			ended := ctx.Err() == nil
			if !ended || pings == 0 || refused != tc.wantRefused {
				t.Fatalf("stream ended %v after %d pings, refused %v; want an end, pings, refused %v", ended, pings,
					refused, tc.wantRefused)
			}
		})
	}
}
