package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func startRedis(t *testing.T) (string, *redis.Client) {
	t.Helper()
	url := testenv.RedisURL(testenv.Redis(t))
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return url, rdb
}

func TestRunDemo(t *testing.T) {
	url, rdb := startRedis(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var stdout, stderr testenv.Buffer
	done := make(chan error, 1)
	go func() {
		// The Redis URL comes from the environment, as in the compose demo.
		done <- run(ctx, []string{"bbb-sim", "-version", "2.7", "-viewers", "2", "-interval", "20ms",
			"-meeting", "demo-meeting"}, env(map[string]string{"BBB_CHAT_REDIS_URL": url}), &stdout, &stderr)
	}()

	joined := regexp.MustCompile(`user-joined +(w_[a-z0-9]{12}) "Chat Bridge" VIEWER joined (\S+)`)
	testenv.Eventually(t, 10*time.Second, "the chat user joined and viewers chatted", func() bool {
		out := stdout.String()
		return joined.MatchString(out) && strings.Count(out, "user-joined") == 3 &&
			strings.Count(out, "chat ") >= 4
	})
	out := stdout.String()
	if !strings.Contains(out, `meeting "demo-meeting" created as 0fcaeaf7ed055104e6aca85ac2d953d77b5d3f0a-`) || !strings.Contains(out, "(BBB 2.7)") {
		t.Errorf("no meeting line with the internal id:\n%s", out)
	}
	// The viewers' lines went through the 2.x HTML5 server's escaping.
	testenv.Eventually(t, 10*time.Second, "an escaped viewer line", func() bool {
		return strings.Contains(stdout.String(), `2 &lt; 3 & &quot;quotes&quot; are &#39;fine&#39;`)
	})
	mm := joined.FindStringSubmatch(out)
	bridge, meetingID := mm[1], mm[2]

	// The bridge posts as the chat user, once right and once with a 2.4 field.
	post := func(msg map[string]any) {
		b, _ := json.Marshal(map[string]any{
			"envelope": map[string]any{"name": "SendGroupChatMessageMsg",
				"routing": map[string]any{"meetingId": meetingID, "userId": bridge}, "timestamp": 1},
			"core": map[string]any{
				"header": map[string]any{"name": "SendGroupChatMessageMsg", "meetingId": meetingID, "userId": bridge},
				"body":   map[string]any{"chatId": "MAIN-PUBLIC-GROUP-CHAT", "msg": msg},
			},
		})
		if err := rdb.Publish(ctx, "to-akka-apps-redis-channel", b).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sender := map[string]any{"id": bridge, "name": "", "role": ""}
	post(map[string]any{"correlationId": bridge + "-1", "sender": sender, "chatEmphasizedText": false,
		"message": "from the bridge"})
	post(map[string]any{"correlationId": bridge + "-2", "sender": sender, "chatEmphasizedText": false,
		"message": "x", "color": "0"})
	testenv.Eventually(t, 10*time.Second, "the bridge's post accepted and the bad one dropped", func() bool {
		out := stdout.String()
		return strings.Contains(out, `from `+bridge+` "Chat Bridge": "from the bridge"`) &&
			strings.Contains(out, `dropped         SendGroupChatMessageMsg: body.msg: unknown field "color" for 2.7`)
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if !strings.Contains(stdout.String(), "meeting-ended") {
		t.Errorf("the meeting was not ended on the way out:\n%s", stdout.String())
	}
}

func TestRunReplay(t *testing.T) {
	url, rdb := startRedis(t)
	ps := rdb.Subscribe(t.Context(), "from-akka-apps-redis-channel")
	if _, err := ps.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	var stdout testenv.Buffer
	err := run(t.Context(), []string{"bbb-sim", "-redis", url, "-replay",
		"../../internal/bbbsim/testdata/bbb-2.7-captured-raw.jsonl"}, env(nil), &stdout, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "replayed 6 messages") {
		t.Errorf("output: %s", stdout.String())
	}
	ch := ps.Channel()
	for i := range 6 {
		select {
		case m := <-ch:
			if !json.Valid([]byte(m.Payload)) {
				t.Errorf("message %d is not JSON", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of 6 messages arrived", i)
		}
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	url, _ := startRedis(t)
	for _, args := range [][]string{
		{"-redis", url, "-version", "2.8"},
		{"-redis", url, "-nope"},
		{"-redis", url, "extra"},
		{"-redis", url, "-viewers", "-1"},
		{"-redis", "http://not-redis"},
	} {
		var out testenv.Buffer
		if err := run(t.Context(), append([]string{"bbb-sim"}, args...), env(nil), &out, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
