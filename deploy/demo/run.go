package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
	"github.com/bbb-chat/bbb-chat/internal/proc"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "2.7", "BBB version the simulator plays (2.2 … 3.0)")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	interval := fs.Duration("interval", 3*time.Second, "how often viewers chat and the API posts")
	envFile := fs.String("env-file", filepath.Join(os.TempDir(), "bbb-chat-demo.env"),
		"write API, SECRET, MEETING and BBB_CHAT_SHARED_SECRET of the running demo here, for your own calls (docs/api.md, \"First hour\")")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	out := &printer{w: stdout}
	dir, err := os.MkdirTemp("", "bbb-chat-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Stopped in reverse order of starting, politely first.
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	var ports proc.Ports
	addrs := map[string]string{}
	for _, name := range []string{"redis", "nats", "api", "relay", "receiver"} {
		if addrs[name], err = ports.FreeAddr(); err != nil {
			return err
		}
	}

	out.say("setup", "building ingress and relay")
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := proc.FindRoot(wd)
	if err != nil {
		return fmt.Errorf("run the demo inside the repository: %w", err)
	}
	bins := map[string]string{}
	for _, name := range []string{"ingress", "relay"} {
		bins[name] = filepath.Join(dir, name)
		if err := proc.Build(ctx, root, "./"+name, bins[name]); err != nil {
			return err
		}
	}
	redisAddr := addrs["redis"]
	rs, err := proc.Redis(redisAddr, dir)
	if err != nil {
		return err
	}
	if err := rs.Start(ctx); err != nil {
		return err
	}
	stops = append(stops, func() { rs.Stop(10 * time.Second) })
	out.say("setup", "redis-server on %s (stands in for BBB's Redis)", redisAddr)

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	sim, err := bbbsim.Start(ctx, rdb, bbbsim.Options{Version: *version, OnEvent: func(e bbbsim.Event) {
		out.say("bbb", "%s", e)
	}})
	if err != nil {
		return err
	}
	defer sim.Close()

	secret := randomHex(16)
	natsAddr, apiAddr, relayAddr := addrs["nats"], addrs["api"], addrs["relay"]
	env := func(kv ...string) map[string]string {
		m := map[string]string{
			"BBB_CHAT_REDIS_URL":      "redis://" + redisAddr + "/0",
			"BBB_CHAT_NATS_URL":       "nats://" + natsAddr,
			"BBB_CHAT_BBB_VERSION":    *version,
			"BBB_CHAT_CALLBACK_ALLOW": "127.0.0.0/8",
			"BBB_CHAT_LOG_LEVEL":      "warn",
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	start := func(name string, env map[string]string) (*proc.Process, error) {
		p, err := proc.Start(proc.Spec{Name: name, Bin: bins[name], Dir: dir, Env: env,
			LogFile: filepath.Join(dir, name+".log"), KeepBytes: 64 << 10})
		if err != nil {
			return nil, err
		}
		stops = append(stops, func() { p.Stop(10 * time.Second) })
		return p, nil
	}
	relay, err := start("relay", env("BBB_CHAT_RELAY_LISTEN", relayAddr, "BBB_CHAT_NATS_STORE", filepath.Join(dir, "nats")))
	if err != nil {
		return err
	}
	if err := proc.WaitHTTP(ctx, "http://"+relayAddr+"/readyz", 15*time.Second, relay); err != nil {
		return fmt.Errorf("relay did not get ready: %w", err)
	}
	out.say("setup", "relay ready; it runs an embedded NATS JetStream on %s", natsAddr)
	ingress, err := start("ingress", env("BBB_CHAT_LISTEN", apiAddr, "BBB_CHAT_METRICS_LISTEN", "off",
		"BBB_CHAT_SHARED_SECRET", secret))
	if err != nil {
		return err
	}
	if err := proc.WaitHTTP(ctx, "http://"+apiAddr+"/readyz", 15*time.Second, ingress); err != nil {
		return fmt.Errorf("ingress did not get ready: %w", err)
	}
	out.say("setup", "ingress API on http://%s/api (shared secret %s)", apiAddr, secret)

	// A NATS subscriber, as any client of the stream would be.
	nc, err := nats.Connect("nats://"+natsAddr, nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	sub, err := nc.Subscribe("bbbchat.>", func(m *nats.Msg) {
		var e state.Event
		if json.Unmarshal(m.Data, &e) == nil {
			switch e.Type {
			case state.TypeMessage:
				out.say("nats", "%s  %s: %s", m.Subject, e.SenderName, e.Text)
			default:
				out.say("nats", "%s", m.Subject)
			}
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	// A callback receiver that checks the signature.
	cbSecret := randomHex(16)
	recvAddr := addrs["receiver"]
	recv := &http.Server{Addr: recvAddr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		err := checksum.VerifyWebhook(cbSecret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
			r.Header.Get("webhook-signature"), body, time.Now(), 5*time.Minute)
		var msg struct{ UserName, Message string }
		var raw map[string]any
		json.Unmarshal(body, &raw)
		msg.UserName, _ = raw["user_name"].(string)
		msg.Message, _ = raw["message"].(string)
		verdict := "signature ok"
		if err != nil {
			verdict = "BAD SIGNATURE: " + err.Error()
		}
		out.say("callback", "%s: %s  (%s, webhook-id %s)", msg.UserName, msg.Message, verdict, r.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusNoContent)
	})}
	go recv.ListenAndServe()
	defer recv.Close()

	m, err := sim.CreateMeeting(ctx, "demo-meeting", "Demo meeting")
	if err != nil {
		return err
	}
	bridgeUser, err := sim.Join(ctx, m.IntID, "Chat Bridge", bbbsim.RoleViewer)
	if err != nil {
		return err
	}
	_ = bridgeUser
	viewers := []string{}
	for _, name := range []string{"Alice", "Bob"} {
		id, err := sim.Join(ctx, m.IntID, name, bbbsim.RoleViewer)
		if err != nil {
			return err
		}
		viewers = append(viewers, id)
	}
	api := client{base: "http://" + apiAddr + "/api", secret: secret, out: out}
	// Relay records the meeting and the chat user from BBB's events; wait until it has.
	var a map[string]any
	if perr := proc.Poll(ctx, 10*time.Second, 200*time.Millisecond, func() bool {
		a, err = api.call(ctx, "startChatForMeeting", "meeting_id", m.ExtID, "chat_user", "Chat Bridge",
			"callback_uri", "http://"+recvAddr+"/hook", "callback_secret", cbSecret)
		if err == nil && a["success"] == true && a["chat_user_present"] == true {
			return true
		}
		if err == nil && a["success"] == true {
			api.call(ctx, "endChatForMeeting", "meeting_id", m.ExtID)
		}
		return false
	}); perr != nil {
		return fmt.Errorf("could not start the chat: %v %v (%w)", a, err, perr)
	}
	out.say("setup", "chat started for meeting %s with a callback to http://%s/hook; Ctrl-C stops the demo", m.ExtID, recvAddr)
	if *envFile != "" {
		vars := fmt.Sprintf("export API=http://%s/api SECRET=%s MEETING=%s BBB_CHAT_SHARED_SECRET=%s\n", apiAddr, secret, m.ExtID, secret)
		if err := os.WriteFile(*envFile, []byte(vars), 0o600); err != nil {
			return err
		}
		defer os.Remove(*envFile)
		out.say("setup", "your own calls: . %s  (sets API, SECRET and MEETING; see docs/api.md, \"First hour\")", *envFile)
	}

	if *duration > 0 {
		// The duration counts from here: building and starting may take a while on a cold machine.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	lines := []string{"Hello from the stream <3", "Is the audio OK?", "Great talk!", "See <b>you</b> & bye"}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			out.say("setup", "stopping")
			sim.EndMeeting(context.Background(), m.IntID)
			return nil
		case <-tick.C:
		}
		if i%2 == 0 {
			sim.Say(ctx, m.IntID, viewers[i/2%len(viewers)], lines[i%len(lines)])
		} else {
			api.call(ctx, "sendChatMessage/"+m.IntID, "user_name", "Viewer "+strconv.Itoa(i), "message", lines[i%len(lines)])
		}
	}
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) say(who, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %-8s %s\n", time.Now().Format("15:04:05"), who, fmt.Sprintf(format, args...))
}

type client struct {
	base, secret string
	out          *printer
}

func (c client) call(ctx context.Context, endpoint string, kv ...string) (map[string]any, error) {
	var ms []pyjson.Member
	for i := 0; i+1 < len(kv); i += 2 {
		ms = append(ms, pyjson.Member{Key: kv[i], Value: pyjson.String(kv[i+1])})
	}
	ms = append(ms, pyjson.Member{Key: "nonce", Value: pyjson.String(randomHex(8))})
	call := endpoint
	if i := bytes.IndexByte([]byte(endpoint), '/'); i >= 0 {
		call = endpoint[:i]
	}
	body := checksum.SignedBody(call, pyjson.Object(ms...), c.secret, time.Now().Unix())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+endpoint, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	c.out.say("api", "POST /api/%s → %d %s", endpoint, resp.StatusCode, bytes.TrimSpace(raw))
	var a map[string]any
	return a, json.Unmarshal(raw, &a)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
