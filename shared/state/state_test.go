package state

import (
	"errors"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func openStore(t *testing.T) (*Store, *testenv.Server) {
	t.Helper()
	srv := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(srv), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := Open(t.Context(), nc, Options{NonceTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

func TestKey(t *testing.T) {
	for _, id := range []string{"8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700", "w_xfsb9gxtlfom", "a.b", "*", ">", "", "x y", "ä"} {
		k := Key(id)
		if !keyOK(k) {
			t.Errorf("Key(%q) = %q: not a valid KV key", id, k)
		}
		back, err := ParseKey(k)
		if err != nil || back != id {
			t.Errorf("ParseKey(Key(%q)) = %q, %v", id, back, err)
		}
	}
	if Key("abc-1") != "abc-1" {
		t.Errorf("plain ids stay readable")
	}
}

func keyOK(k string) bool {
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return k != ""
}

func TestBridgesPresenceMeetings(t *testing.T) {
	s, srv := openStore(t)
	ctx := t.Context()
	b := Bridge{MeetingID: "m-1", ChatUser: "Bridge", CallbackURI: "http://x", CallbackSecret: "s", CreatedAt: time.Now()}
	if _, err := s.CreateBridge(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateBridge(ctx, b); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	// State survives a NATS restart (file storage).
	srv.Restart()
	testenv.Eventually(t, 10*time.Second, "bridge readable after restart", func() bool {
		got, err := s.GetBridge(ctx, "m-1")
		return err == nil && got.ChatUser == "Bridge"
	})
	if _, err := s.UpdateBridge(ctx, "m-1", func(b *Bridge) bool { b.Ending = true; return true }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetBridge(ctx, "m-1"); !got.Ending {
		t.Fatal("update lost")
	}
	bs, err := s.Bridges(ctx)
	if err != nil || len(bs) != 1 {
		t.Fatalf("Bridges = %v, %v", bs, err)
	}

	t0 := time.Unix(1000, 0)
	must(t, s.UserJoined(ctx, "m-1", Presence{UserID: "w_a", Name: "Bridge", JoinedAt: t0}))
	must(t, s.UserJoined(ctx, "m-1", Presence{UserID: "w_b", Name: "Bridge", JoinedAt: t0.Add(time.Second)}))
	must(t, s.UserJoined(ctx, "m-1", Presence{UserID: "w_c", Name: "Other", JoinedAt: t0}))
	if p, err := s.FindUser(ctx, "m-1", "Bridge"); err != nil || p.UserID != "w_b" {
		t.Fatalf("FindUser = %+v, %v; want the latest, w_b", p, err)
	}
	must(t, s.UserLeft(ctx, "m-1", "w_b"))
	if p, err := s.FindUser(ctx, "m-1", "Bridge"); err != nil || p.UserID != "w_a" {
		t.Fatalf("FindUser after leave = %+v, %v; want w_a", p, err)
	}
	must(t, s.UserLeft(ctx, "m-1", "w_a"))
	if _, err := s.FindUser(ctx, "m-1", "Bridge"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindUser after all left: %v", err)
	}
	must(t, s.UserLeft(ctx, "m-1", "w_unknown"))
	must(t, s.ClearPresence(ctx, "m-1"))
	if us, _ := s.MeetingUsers(ctx, "m-1"); len(us) != 0 {
		t.Fatalf("users after clear: %v", us)
	}

	must(t, s.PutMeeting(ctx, Meeting{InternalID: "int-1", ExternalID: "ext 1"}))
	if m, known, err := s.ResolveMeeting(ctx, "ext 1"); err != nil || !known || m.InternalID != "int-1" {
		t.Fatalf("resolve external: %+v %v %v", m, known, err)
	}
	if m, known, _ := s.ResolveMeeting(ctx, "int-1"); !known || m.ExternalID != "ext 1" {
		t.Fatalf("resolve internal: %+v", m)
	}
	if m, known, _ := s.ResolveMeeting(ctx, "never-seen"); known || m.InternalID != "never-seen" {
		t.Fatalf("resolve unknown: %+v", m)
	}
	must(t, s.DeleteMeeting(ctx, "int-1"))
	if _, known, _ := s.ResolveMeeting(ctx, "ext 1"); known {
		t.Fatal("external mapping kept after delete")
	}

	must(t, s.DeleteBridge(ctx, "m-1"))
	if err := s.DeleteBridge(ctx, "m-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestNonceAndEvents(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	must(t, s.UseNonce(ctx, "abc"))
	if err := s.UseNonce(ctx, "abc"); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	e := Event{Type: TypeMessage, ID: "1-x", MeetingID: "m"}
	if _, err := s.PublishEvent(ctx, e, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublishEvent(ctx, e, []byte(`{}`)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	id, typ, err := ParseSubject(e.Subject())
	if id != "m" || typ != TypeMessage || err != nil {
		t.Fatalf("ParseSubject = %q %q %v", id, typ, err)
	}
	if _, typ, _ := ParseSubject(EventSubject("m", TypeUserJoined)); typ != TypeUserJoined {
		t.Fatalf("two-token type: %q", typ)
	}

	must(t, s.PutFailed(ctx, FailedDelivery{MeetingID: "m", Seq: 1, Subject: e.Subject(), Event: []byte(`{"a":1}`), FailedAt: time.Now()}))
	must(t, s.PutFailed(ctx, FailedDelivery{MeetingID: "m", Seq: 2, Subject: e.Subject(), Event: []byte(`{"a":2}`), FailedAt: time.Now()}))
	n, err := s.RetryFailed(ctx, "m")
	if err != nil || n != 2 {
		t.Fatalf("RetryFailed = %d, %v", n, err)
	}
	if fs, _ := s.Failed(ctx, "m"); len(fs) != 0 {
		t.Fatalf("failed left: %v", fs)
	}
	must(t, s.AddCallbackStats(ctx, "m", CallbackStats{Delivered: 3}, nil))
	var known StoredStats
	must(t, s.AddCallbackStats(ctx, "m", CallbackStats{Delivered: 2, LastError: "x"}, &known))
	// Another writer in between: the write on top of what this one knows conflicts, and it reads again.
	must(t, s.AddCallbackStats(ctx, "m", CallbackStats{Retries: 1}, nil))
	must(t, s.AddCallbackStats(ctx, "m", CallbackStats{Delivered: 10}, &known))
	must(t, s.AddCallbackStats(ctx, "m", CallbackStats{Delivered: 100}, &known))
	if known.Stats.Delivered != 115 || known.Stats.Retries != 1 {
		t.Fatalf("known after the writes: %+v", known)
	}
	if c, _ := s.GetCallbackStats(ctx, "m"); c.Delivered != 115 || c.Retries != 1 || c.LastError != "x" {
		t.Fatalf("stats = %+v", c)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAPIPosts(t *testing.T) {
	s, _ := openStore(t)
	ctx := t.Context()
	must(t, s.RecordAPIPost(ctx, "m", "Ann", "hello"))
	if ok, err := s.IsAPIPost(ctx, "m", "Ann", "other"); ok || err != nil {
		t.Fatalf("other text: %v %v", ok, err)
	}
	if ok, err := s.IsAPIPost(ctx, "m", "Ann", "hello"); !ok || err != nil {
		t.Fatalf("recorded post: %v %v", ok, err)
	}
	if ok, _ := s.IsAPIPost(ctx, "m", "Ann", "hello"); ok {
		t.Fatal("a post is recognised once")
	}
}

func TestCache(t *testing.T) {
	s, srv := openStore(t)
	ctx := t.Context()
	c := s.StartCache(ctx)
	// A miss reads through.
	must(t, s.PutMeeting(ctx, Meeting{InternalID: "int-c", ExternalID: "ext c"}))
	if m, known, err := c.ResolveMeeting(ctx, "ext c"); err != nil || !known || m.InternalID != "int-c" {
		t.Fatalf("read-through: %+v %v %v", m, known, err)
	}
	if _, err := c.GetBridge(ctx, "m-c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing bridge: %v", err)
	}
	if _, err := s.CreateBridge(ctx, Bridge{MeetingID: "m-c", ChatUser: "Bot"}); err != nil {
		t.Fatal(err)
	}
	must(t, s.UserJoined(ctx, "m-c", Presence{UserID: "w_1", Name: "Bot", JoinedAt: time.Unix(1, 0)}))
	testenv.Eventually(t, 5*time.Second, "watches fill the cache", func() bool {
		c.mu.RLock()
		defer c.mu.RUnlock()
		_, b := c.bridges["m-c"]
		_, m := c.external["ext c"]
		_, n := c.names[s.nameKey("m-c", "Bot")]
		return b && m && n
	})
	// Hits need NATS no more: they answer while it is down.
	srv.Stop()
	if b, err := c.GetBridge(ctx, "m-c"); err != nil || b.ChatUser != "Bot" {
		t.Fatalf("cached bridge: %+v %v", b, err)
	}
	if p, err := c.FindUser(ctx, "m-c", "Bot"); err != nil || p.UserID != "w_1" {
		t.Fatalf("cached presence: %+v %v", p, err)
	}
	srv.Start()
	// Changes elsewhere reach the cache, deletions too.
	testenv.Eventually(t, 10*time.Second, "NATS back", func() bool { return s.Ping(ctx) == nil })
	must(t, s.UserLeft(ctx, "m-c", "w_1"))
	must(t, s.DeleteBridge(ctx, "m-c"))
	must(t, s.DeleteMeeting(ctx, "int-c"))
	testenv.Eventually(t, 10*time.Second, "deletions reach the cache", func() bool {
		_, errB := c.GetBridge(ctx, "m-c")
		_, errU := c.FindUser(ctx, "m-c", "Bot")
		_, known, _ := c.ResolveMeeting(ctx, "ext c")
		return errors.Is(errB, ErrNotFound) && errors.Is(errU, ErrNotFound) && !known
	})
}

// TestOpenOverOlderStream: a stream made by an earlier version (the server's default consumer limit) is updated.
func TestOpenOverOlderStream(t *testing.T) {
	srv := testenv.NATS(t)
	nc, err := nats.Connect(testenv.NATSURL(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: StreamEvents, Subjects: []string{SubjectRoot + ".>"}}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), nc, Options{})
	if err != nil {
		t.Fatalf("Open over an older stream: %v", err)
	}
	info, err := s.events.Info(t.Context())
	if err != nil || info.Config.MaxConsumers < 2000 {
		t.Fatalf("MaxConsumers = %d, %v", info.Config.MaxConsumers, err)
	}
}
