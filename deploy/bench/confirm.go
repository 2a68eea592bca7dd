package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/proc"
)

// confirmFields are the confirmed-send phase's results: sendChatMessage answered only once BBB's broadcast of the
// message is in the events stream (docs/api.md, "Confirmation"), so its latency includes BBB (the simulator),
// relay and NATS.
type confirmFields struct {
	ConfirmOffered     float64 `json:"send_confirmed_offered_rate,omitempty"`
	ConfirmRate        float64 `json:"send_confirmed_rate,omitempty"`
	ConfirmP50         float64 `json:"send_confirmed_p50_ms,omitempty"`
	ConfirmP99         float64 `json:"send_confirmed_p99_ms,omitempty"`
	ConfirmMax         float64 `json:"send_confirmed_max_ms,omitempty"`
	ConfirmUnconfirmed int     `json:"send_unconfirmed"`
	ConfirmErrors      int     `json:"send_confirmed_errors"`
	ConfirmErrorEx     string  `json:"send_confirmed_error_sample,omitempty"`
}

// confirmSeqBase keeps the confirmed phase's sequence numbers (and so its nonces and markers) apart from the send
// phase's.
const confirmSeqBase = 1 << 40

// startConfirmIngress starts the second ingress, which waits up to 2 s for BBB to show each message.
func (b *bench) startConfirmIngress(ctx context.Context, bin, dir string, env func(...string) map[string]string, cl *cleanups) error {
	apiAddr, err := b.ports.FreeAddr()
	if err != nil {
		return err
	}
	p, err := b.startBinary("ingress-confirm", bin, dir, env("BBB_CHAT_LISTEN", apiAddr, "BBB_CHAT_METRICS_LISTEN", "off",
		"BBB_CHAT_MAX_BRIDGES", "100000", "BBB_CHAT_SEND_CONFIRM_TIMEOUT", "2s"))
	if err != nil {
		return err
	}
	cl.add(func() { p.Stop(15 * time.Second) })
	b.confirmURL = "http://" + apiAddr
	if err := proc.WaitHTTP(ctx, b.confirmURL+"/readyz", 60*time.Second, p); err != nil {
		return fmt.Errorf("ingress-confirm: %w", err)
	}
	return nil
}

// sendConfirmed runs the confirmed-send phase against the second ingress and fills f.
func (b *bench) sendConfirmed(ctx context.Context, rate float64, dur time.Duration, f *confirmFields) error {
	client := newHTTPClient(b.cfg.workers)
	defer client.CloseIdleConnections()
	var unconfirmed atomic.Int64
	res := loadHTTP(ctx, client, b.cfg.workers, rate, dur,
		func(seq uint64) (string, []byte) {
			url, body := b.sendBody(confirmSeqBase + seq)
			return b.confirmURL + strings.TrimPrefix(url, b.ingressURL), body
		},
		func(status int, body []byte) bool {
			if status != http.StatusOK {
				return false
			}
			if !bytes.Contains(body, []byte(`"confirmed":true`)) {
				unconfirmed.Add(1)
				return false
			}
			return true
		}, nil, nil)
	f.ConfirmOffered, f.ConfirmRate = rate, res.Rate
	f.ConfirmP50, f.ConfirmP99, f.ConfirmMax = res.Lat.P50, res.Lat.P99, res.Lat.Max
	// An unconfirmed answer counts as an error of loadHTTP's; it is reported apart.
	f.ConfirmUnconfirmed = int(unconfirmed.Load())
	f.ConfirmErrors, f.ConfirmErrorEx = res.Errors-f.ConfirmUnconfirmed, res.ErrSample
	return nil
}

// print writes the phase's lines of the table.
func (f confirmFields) print(w io.Writer, row func(name string, v, limit float64, unit string)) {
	if f.ConfirmOffered == 0 {
		return
	}
	fmt.Fprintf(w, "send with confirmation (offered %g/s, BBB_CHAT_SEND_CONFIRM_TIMEOUT=2s)\n", f.ConfirmOffered)
	row("  requests/s", f.ConfirmRate, 0, "")
	row("  p50 ms", f.ConfirmP50, 0, "")
	row("  p99 ms", f.ConfirmP99, 0, "")
	fmt.Fprintf(w, "  unconfirmed %d, errors %d\n", f.ConfirmUnconfirmed, f.ConfirmErrors)
	if f.ConfirmErrorEx != "" {
		fmt.Fprintf(w, "  first error: %s\n", f.ConfirmErrorEx)
	}
}
