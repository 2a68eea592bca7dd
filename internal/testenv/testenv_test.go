package testenv

import (
	"net"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/proc"
)

func TestServersStartAndRestart(t *testing.T) {
	r := Redis(t)
	n := NATS(t)
	for _, s := range []*Server{r, n} {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		c.Close()
		s.Restart()
		if err := proc.WaitTCP(t.Context(), s.Addr, 5*time.Second); err != nil {
			t.Fatalf("%s after restart: %v", s.Name, err)
		}
	}
}

func TestFreePortNeverTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 300 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
