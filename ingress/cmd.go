package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/config"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// check reads the configuration and says line by line what is right and what is wrong.
func check(ctx context.Context, getenv func(string) string, w io.Writer) error {
	c := &service.Checks{W: w}
	cfg, err := config.LoadIngress(getenv)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			c.Fail("configuration: %s", line)
		}
		if cfg.RedisURL == "" {
			return c.Err()
		}
	} else {
		c.OK("configuration read")
	}
	switch {
	case cfg.SharedSecret == "":
		// already reported
	case cfg.SharedSecret == config.DefaultSecret:
		c.Fail("BBB_CHAT_SHARED_SECRET is the example value change_me; set a random secret")
	case len(cfg.SharedSecret) < 16:
		c.Warn("BBB_CHAT_SHARED_SECRET is short (%d characters); 32 or more random characters are better", len(cfg.SharedSecret))
	default:
		c.OK("shared secret set")
	}
	if err := bbb.ValidateTemplate(cfg.MessageTemplate); err != nil {
		c.Fail("BBB_CHAT_MESSAGE_TEMPLATE: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	service.CheckRedis(ctx, c, cfg.RedisURL, bbb.ChannelToAkka)

	nc, err := nats.Connect(cfg.NATSURL, nats.Timeout(3*time.Second), nats.Name("bbb-chat check"))
	if err != nil {
		c.Fail("NATS at %s unreachable: %v (relay embeds one when BBB_CHAT_NATS_EMBEDDED=true: is relay running?)", cfg.NATSURL, err)
	} else {
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if _, err := js.AccountInfo(ctx); err != nil {
			c.Fail("NATS at %s answers, but JetStream does not: %v (start nats-server with -js)", nc.ConnectedUrlRedacted(), err)
		} else {
			c.OK("NATS JetStream at %s answers", nc.ConnectedUrlRedacted())
			// A check reads: it looks the stream and buckets up and never creates or changes them.
			state.CheckDefinitions(ctx, c, nc, stateOptions(cfg))
		}
	}

	switch v, err := fixedVersion(cfg); {
	case err != nil:
		c.Fail("%v", err)
	case !v.IsZero():
		c.OK("BBB version %s", v)
	case nc != nil:
		if s, err := state.Bind(ctx, nc); err == nil {
			if sv, err := s.GetServerVersion(ctx, cfg.ServerID); err == nil {
				c.OK("BBB version %s (recorded by relay for server %s)", sv.Version, cfg.ServerID)
				break
			}
		}
		c.Warn("BBB version not known yet: no %s, and relay has recorded none for server %s (BBB_CHAT_SERVER_ID); set BBB_CHAT_BBB_VERSION", cfg.ReleaseFile, cfg.ServerID)
	default:
		c.Warn("BBB version not known: no %s; set BBB_CHAT_BBB_VERSION", cfg.ReleaseFile)
	}
	if bbbAPIClient(cfg).Configured() {
		c.OK("BBB API known (external meeting ids can be resolved with getMeetingInfo)")
	} else {
		c.Warn("BBB API not known: external meeting ids work only for meetings relay saw created (set BBB_CHAT_BBB_URL and BBB_CHAT_BBB_SECRET)")
	}
	service.CheckListen(ctx, c, "BBB_CHAT_LISTEN", cfg.Listen, "ingress")
	return c.Err()
}

// stateOptions are the stream and bucket settings ingress opens the state with, from its configuration.
func stateOptions(cfg config.Ingress) state.Options {
	return state.Options{
		Replicas: cfg.Replicas, EventsMaxAge: cfg.StreamMaxAge, EventsMaxBytes: cfg.StreamMaxBytes,
		// A checksum is valid for 2*delta+1 seconds; remember used ones a little longer than that.
		NonceTTL: max(time.Minute, time.Duration(2*cfg.TimeDelta+5)*time.Second),
		Server:   cfg.ServerID,
	}
}

// callCmd signs one API call with the configured secret and prints the answer (or, with --print-curl, the curl
// command that sends it).
func callCmd(ctx context.Context, args []string, getenv func(string) string, w io.Writer, now func() time.Time) error {
	cfg, err := config.LoadIngress(getenv)
	if err != nil {
		return err
	}
	var endpoint, base string
	printCurl := false
	var members []pyjson.Member
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--print-curl":
			printCurl = true
		case a == "--url" && i+1 < len(args):
			i++
			base = args[i]
		case strings.HasPrefix(a, "--url="):
			base = strings.TrimPrefix(a, "--url=")
		case endpoint == "":
			endpoint = strings.TrimPrefix(a, "/")
		default:
			m, err := member(a)
			if err != nil {
				return err
			}
			members = append(members, m)
		}
	}
	if endpoint == "" {
		return fmt.Errorf("%w: ingress call ENDPOINT [key=value | key:=json]... [--print-curl] [--url URL]", service.ErrUsage)
	}
	if base == "" {
		host, port, _ := net.SplitHostPort(cfg.Listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port) + "/api"
	}
	call, _, _ := strings.Cut(endpoint, "/")
	signedAt := now()
	body := checksum.SignedBody(call, pyjson.Object(members...), cfg.SharedSecret, signedAt.Unix())
	url := strings.TrimSuffix(base, "/") + "/" + endpoint
	if printCurl {
		fmt.Fprintf(w, "curl -sS -X POST %s --data-binary %s\n", shellQuote(url), shellQuote(string(body)))
		fmt.Fprintln(w, validity(signedAt, max(cfg.TimeDelta, 0)))
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	w.Write(out)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("call %s: %s", endpoint, resp.Status)
	}
	return nil
}

// validity is the shell comment printed after a --print-curl command: until when, by this machine's clock, the
// server accepts its checksum (the time window, BBB_CHAT_SHARED_SECRET_TIME_DELTA) and that it is accepted once.
// It follows the command so that eval $(ingress call --print-curl ...) still runs it.
func validity(signedAt time.Time, delta int64) string {
	until := signedAt.Truncate(time.Second).Add(time.Duration(delta+1) * time.Second).UTC()
	return fmt.Sprintf("# valid for %d s, until %s UTC by this machine's clock (the server accepts ±%d s), and once only: "+
		"run it again and the server answers \"Checksum was already used.\"", delta+1, until.Format(time.TimeOnly), delta)
}

// member reads key=value (a string) or key:=json (any JSON value).
func member(arg string) (pyjson.Member, error) {
	if k, raw, ok := strings.Cut(arg, ":="); ok && !strings.Contains(k, "=") {
		v, err := pyjson.Parse([]byte(raw))
		if err != nil {
			return pyjson.Member{}, fmt.Errorf("%w: %s: %v", service.ErrUsage, arg, err)
		}
		return pyjson.Member{Key: k, Value: v}, nil
	}
	k, v, ok := strings.Cut(arg, "=")
	if !ok || k == "" {
		return pyjson.Member{}, fmt.Errorf("%w: %q is not key=value or key:=json", service.ErrUsage, arg)
	}
	return pyjson.Member{Key: k, Value: pyjson.String(v)}, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
