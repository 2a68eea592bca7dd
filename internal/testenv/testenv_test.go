package testenv

import (
	"net"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/proc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

func TestSeedReplays(t *testing.T) {
	t.Setenv(SeedVar, "12345")
	if got := Seed(t); got != 12345 {
		t.Errorf("Seed with %s=12345 = %d", SeedVar, got)
	}
	t.Setenv(SeedVar, "")
	if a, b := Seed(t), Seed(t); a == b {
		t.Errorf("two fresh seeds are equal: %d", a)
	}
}

func TestConsistently(t *testing.T) {
	start := time.Now()
	n := 0
	Consistently(t, 50*time.Millisecond, "stays true", func() bool { n++; return true })
	if time.Since(start) < 50*time.Millisecond || n < 2 {
		t.Errorf("Consistently returned after %s and %d checks", time.Since(start), n)
	}
}

func TestNATSClusterReplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("three nats-servers electing a leader: not with -short")
	}
	nodes := NATSCluster(t)
	nc, err := nats.Connect(NATSClusterURL(nodes))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var s jetstream.Stream
	Eventually(t, 30*time.Second, "a stream with three replicas is created", func() bool {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
		return err == nil
	})
	if _, err := js.Publish(ctx, "r3.x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Second, "every replica is current", func() bool {
		info, err := s.Info(ctx)
		if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current {
				return false
			}
		}
		return true
	})
}
