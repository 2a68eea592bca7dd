package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bbb-chat/bbb-chat/relay/keep"
	"github.com/bbb-chat/bbb-chat/relay/natslink"
	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// checkCmd reads the configuration and says line by line what is right and what is wrong; the exit status tells
// scripts.
func checkCmd(ctx context.Context, env cmdEnv) error {
	c := &service.Checks{W: env.stdout}
	cfg, err := config.LoadRelay(env.getenv)
	if err != nil {
		c.Fail("configuration: %v", err)
		return c.Err()
	}
	c.OK("configuration read")
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	service.CheckRedis(ctx, c, cfg.RedisURL, bbb.ChannelToAkka)

	nc, err := nats.Connect(cfg.NATSURL, nats.Timeout(3*time.Second), nats.Name("bbb-chat check"))
	switch {
	case err != nil && natslink.Embeddable(cfg):
		addr, _ := natslink.HostPort(cfg.NATSURL)
		if natslink.CanBind(addr) {
			c.OK("no NATS at %s: relay will start its embedded JetStream server there", addr)
		} else {
			c.Fail("NATS at %s unreachable, and relay cannot listen there for its embedded server: %v", cfg.NATSURL, err)
		}
		checkStore(c, cfg.NATSStore)
	case err != nil && cfg.NATSEmbedded:
		c.Fail("NATS at %s unreachable: %v (BBB_CHAT_NATS_REPLICAS=%d needs a NATS cluster: relay embeds no server then)",
			cfg.NATSURL, err, cfg.Replicas)
	case err != nil:
		c.Fail("NATS at %s unreachable: %v (BBB_CHAT_NATS_EMBEDDED=false: relay needs that server)", cfg.NATSURL, err)
	default:
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if _, err := js.AccountInfo(ctx); err != nil {
			c.Fail("NATS at %s answers, but JetStream does not: %v (start nats-server with -js)", nc.ConnectedUrlRedacted(), err)
		} else {
			c.OK("NATS JetStream at %s answers", nc.ConnectedUrlRedacted())
			// A check reads: it looks the stream and buckets up and never creates or changes them.
			state.CheckDefinitions(ctx, c, nc, keep.StateOptions(cfg))
			natslink.CheckJoined(ctx, c, nc, cfg.ServerID)
		}
	}

	switch {
	case cfg.BBBVersion != "auto":
		if v, err := bbb.ParseVersion(cfg.BBBVersion); err != nil {
			c.Fail("BBB_CHAT_BBB_VERSION: %v", err)
		} else {
			c.OK("BBB version %s (configured)", v)
		}
	default:
		if v, err := bbb.ReadReleaseFile(cfg.ReleaseFile); err == nil {
			c.OK("BBB version %s (from %s)", v, cfg.ReleaseFile)
		} else {
			c.Warn("no BBB release file at %s: the version will be inferred from BBB's events", cfg.ReleaseFile)
		}
	}
	if len(cfg.CallbackAllow) > 0 {
		c.OK("callbacks may also reach %v", cfg.CallbackAllow)
	}
	service.CheckListen(ctx, c, "BBB_CHAT_RELAY_LISTEN", cfg.Listen, "relay")
	return c.Err()
}

// checkStore says whether the embedded server can store where it is told to.
func checkStore(c *service.Checks, dir string) {
	probe := dir
	for {
		if _, err := os.Stat(probe); err == nil {
			break
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			break
		}
		probe = parent
	}
	f, err := os.CreateTemp(probe, ".bbb-chat-check-")
	if err != nil {
		c.Fail("BBB_CHAT_NATS_STORE %s is not writable: %v", dir, err)
		return
	}
	f.Close()
	os.Remove(f.Name())
	c.OK("BBB_CHAT_NATS_STORE %s is writable", dir)
}

func healthcheckCmd(ctx context.Context, env cmdEnv) error {
	cfg, err := config.LoadRelay(env.getenv)
	if err != nil {
		return err
	}
	if err := service.HealthCheck(ctx, cfg.Listen); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "ok")
	return nil
}
