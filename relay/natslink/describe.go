package natslink

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/nats-io/nats.go"
)

// userInfoSubject answers a client with its user and account (every nats-server since 2.10 serves it to any
// connection).
const userInfoSubject = "$SYS.REQ.USER.INFO"

// Joined is what relay learnt at start about the NATS server it joined.
type Joined struct {
	Server   string   // the server's name
	URL      string   // where (credentials redacted)
	Account  string   // the account relay's connection is in ("$G": the server has no accounts)
	Embedded bool     // a relay's embedded server
	Stream   bool     // bbb-chat's stream is there
	Others   []string // other servers (BBB_CHAT_SERVER_ID) whose relays recorded their facts in this account
}

// Foreign reports whether the server looks like no bbb-chat's: not a relay's embedded server, and no bbb-chat
// stream in the account.
func (j Joined) Foreign() bool { return !j.Embedded && !j.Stream }

// describe looks at the NATS server nc is connected to, without creating or changing anything; serverID is this
// relay's BBB_CHAT_SERVER_ID.
func describe(ctx context.Context, nc *nats.Conn, serverID string) (Joined, error) {
	j := Joined{Server: nc.ConnectedServerName(), URL: nc.ConnectedUrlRedacted(), Embedded: nc.ConnectedServerName() == embeddedName}
	if msg, err := nc.RequestWithContext(ctx, userInfoSubject, nil); err == nil {
		var r struct {
			Data struct {
				Account     string `json:"account"`
				AccountName string `json:"account_name"`
			} `json:"data"`
		}
		if json.Unmarshal(msg.Data, &r) == nil {
			j.Account = r.Data.Account
			if r.Data.AccountName != "" && r.Data.AccountName != r.Data.Account {
				j.Account = r.Data.AccountName + " (" + r.Data.Account + ")"
			}
		}
	}
	f, err := state.LookFootprint(ctx, nc)
	if err != nil {
		return j, err
	}
	j.Stream = f.Stream
	for _, s := range f.Servers {
		if s != serverID {
			j.Others = append(j.Others, s)
		}
	}
	return j, nil
}

// logJoined says at start which NATS server relay joined, and warns when it looks like another application's or
// another bbb-chat server's state shares its account (docs/operations.md, "Keeping deployments apart"), unless
// fleet (replicas above 1: a cluster whose servers share the account on purpose, docs/fleet.md).
func logJoined(nc *nats.Conn, serverID string, fleet bool, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	j, err := describe(ctx, nc, serverID)
	attrs := []any{"nats_server", j.Server, "url", j.URL, "account", j.Account, "server_id", serverID}
	switch {
	case err != nil:
		log.Warn("joined a NATS server whose JetStream does not answer yet", append(attrs, "err", err)...)
	case j.Foreign():
		log.Warn("joined a NATS server that is not bbb-chat's: it is no relay's embedded server and its account holds "+
			"no bbb-chat stream, so relay creates its stream and buckets there. If another application uses this "+
			"server, give bbb-chat a NATS account of its own (docs/operations.md)", attrs...)
	case len(j.Others) > 0 && fleet:
		// Replicas above 1: a NATS cluster, where servers share an account on purpose (docs/fleet.md).
		log.Info("joined a fleet: other bbb-chat servers share this NATS account (docs/fleet.md)",
			append(attrs, "other_servers", slices.Clone(j.Others))...)
	case len(j.Others) > 0:
		log.Warn("other bbb-chat servers keep their state in this NATS account: their meetings and callbacks share "+
			"the stream with this server's. Give each BBB server a NATS account of its own (docs/operations.md)",
			append(attrs, "other_servers", slices.Clone(j.Others))...)
	case j.Embedded:
		log.Info("joined the embedded NATS server of a relay", attrs...)
	default:
		log.Info("joined bbb-chat's NATS server", attrs...)
	}
}

// CheckJoined is `relay check`'s line on the NATS server nc joined: which server and account, and whether it looks
// like another application's or other bbb-chat servers share the account. It creates and changes nothing.
func CheckJoined(ctx context.Context, c *service.Checks, nc *nats.Conn, serverID string) {
	j, err := describe(ctx, nc, serverID)
	switch {
	case err != nil:
		c.Warn("cannot look at bbb-chat's state on NATS server %s: %v", j.Server, err)
	case j.Foreign():
		c.Warn("NATS server %s (account %s) is no relay's embedded server and holds no bbb-chat stream: relay will create "+
			"its state there; if another application uses it, give bbb-chat an account of its own (docs/operations.md)",
			j.Server, j.Account)
	case len(j.Others) > 0:
		c.Warn("NATS server %s, account %s: other bbb-chat servers keep their state here too (%v); give each BBB server an "+
			"account of its own (docs/operations.md)", j.Server, j.Account, j.Others)
	default:
		c.OK("NATS server %s, account %s: bbb-chat's (this server is %s)", j.Server, j.Account, serverID)
	}
}
