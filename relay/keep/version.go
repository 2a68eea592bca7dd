package keep

import (
	"context"
	"log/slog"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/state"
)

// Versions is where the BBB server's version comes from (redisfeed.Versions).
type Versions interface {
	// Get returns the current version and its source.
	Get() (bbb.Version, string)
	// Changed is signalled whenever the version to record changes.
	Changed() <-chan struct{}
}

// RecordVersion writes the BBB version of the server named server (BBB_CHAT_SERVER_ID) to the meetings bucket
// whenever it changes, once the state is open.
func RecordVersion(ctx context.Context, k *Keeper, server string, t Versions, log *slog.Logger, now func() time.Time) {
	select {
	case <-k.opened:
	case <-ctx.Done():
		return
	}
	recorded := ""
	for {
		retry := false
		v, src := t.Get()
		if key := v.String() + "/" + src; !v.IsZero() && key != recorded {
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := k.Store().SetServerVersion(octx, server, state.ServerVersion{Version: v.String(), Source: src, At: now().UTC()})
			cancel()
			if err == nil {
				recorded = key
				log.Info("BBB version recorded", "bbb_version", v.String(), "source", src, "server_id", server)
			} else {
				retry = true
				log.Warn("cannot record the BBB version yet", "err", err)
			}
		}
		var wait <-chan time.Time
		if retry {
			wait = time.After(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.Changed():
		case <-wait:
		}
	}
}
