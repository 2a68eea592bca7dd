package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bbb-chat/bbb-chat/internal/bbbsim"
)

// lines writes whole lines to w from any goroutine.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// phrases is what the simulated viewers say in turn; they show the 2.x escaping and link wrapping.
var phrases = []string{
	"hello from %s",
	"%s here: has anyone read https://docs.bigbluebutton.org ?",
	"%s thinks 2 < 3 & \"quotes\" are 'fine'",
	"%s says **bold** in Markdown (3.0 keeps it, 2.x shows it as typed)",
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bbb-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultRedis := getenv("BBB_CHAT_REDIS_URL")
	if defaultRedis == "" {
		defaultRedis = "redis://127.0.0.1:6379/0"
	}
	redisURL := fs.String("redis", defaultRedis, "Redis URL (default $BBB_CHAT_REDIS_URL)")
	version := fs.String("version", "2.7", fmt.Sprintf("BBB version to simulate, one of %v", bbbsim.Versions()))
	extID := fs.String("meeting", "demo-meeting", "external id (and name) of the meeting to create")
	chatUser := fs.String("chat-user", "Chat Bridge", "name of the user that joins for the bridge to post as")
	viewers := fs.Int("viewers", 2, "number of simulated viewers")
	interval := fs.Duration("interval", 5*time.Second, "each viewer says something every interval (0: silent)")
	replay := fs.String("replay", "", "publish this capture (JSON lines) on from-akka-apps-redis-channel and exit")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *viewers < 0 || *interval < 0 {
		return errors.New("-viewers and -interval must not be negative")
	}

	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("redis at %s: %w", opt.Addr, err)
	}
	out := &lines{w: stdout}

	if *replay != "" {
		f, err := os.Open(*replay)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := bbbsim.Replay(ctx, rdb, f)
		out.printf("replayed %d messages from %s on %s", n, *replay, bbbsim.ChannelFromAkka)
		return err
	}

	sim, err := bbbsim.Start(ctx, rdb, bbbsim.Options{
		Version: *version,
		OnEvent: func(e bbbsim.Event) { out.printf("%s", e) },
	})
	if err != nil {
		return err
	}
	defer sim.Close()
	out.printf("bbb-sim: akka-apps %s on redis %s db %d, reading %s", sim.Version(), opt.Addr, opt.DB,
		bbbsim.ChannelToAkka)

	m, err := sim.CreateMeeting(ctx, *extID, *extID)
	if err != nil {
		return err
	}
	if _, err := sim.Join(ctx, m.IntID, *chatUser, bbbsim.RoleViewer); err != nil {
		return err
	}
	ids := make([]string, *viewers)
	for i := range ids {
		if ids[i], err = sim.Join(ctx, m.IntID, fmt.Sprintf("Viewer %d", i+1), bbbsim.RoleViewer); err != nil {
			return err
		}
	}

	if *interval > 0 && len(ids) > 0 {
		tick := time.NewTicker(*interval)
		defer tick.Stop()
		for n := 0; ctx.Err() == nil; n++ {
			select {
			case <-ctx.Done():
			case <-tick.C:
				for i, id := range ids {
					text := fmt.Sprintf(phrases[(n+i)%len(phrases)], fmt.Sprintf("Viewer %d", i+1))
					// A drop is already printed by OnEvent; only a Redis failure ends the demo.
					if _, err := sim.Say(ctx, m.IntID, id, text); err != nil && !errors.Is(err, bbbsim.ErrDropped) &&
						ctx.Err() == nil {
						return err
					}
				}
			}
		}
	}
	<-ctx.Done()

	// End the meeting on the way out, so that consumers see it end.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := sim.EndMeeting(ectx, m.IntID); err != nil {
		return fmt.Errorf("end meeting: %w", err)
	}
	return nil
}
