package service

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
)

func TestServeDebug(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "example.org:6060", "no-port"} {
		if err := ServeDebug(t.Context(), addr, log); err == nil || !strings.Contains(err.Error(), "BBB_CHAT_DEBUG_LISTEN") {
			t.Errorf("ServeDebug(%q) = %v, want a refusal naming the setting", addr, err)
		}
	}
	if err := ServeDebug(t.Context(), "", log); err != nil {
		t.Fatalf("empty address: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	if err := ServeDebug(ctx, addr, log); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("heap profile: %d %.100s", resp.StatusCode, body)
	}
	cancel()
	testenv.Eventually(t, 5*time.Second, "listener closed", func() bool {
		_, err := http.Get("http://" + addr + "/debug/pprof/")
		return err != nil
	})
}
