package callback

import (
	"context"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/state"
)

// note changes the worker's unwritten statistics and makes sure they are written within statsInterval.
func (w *worker) note(change func(*state.CallbackStats)) {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	if w.statsOff {
		return
	}
	change(&w.stats)
	w.pos.Advance(w.stats.Position)
	w.statsDirty = true
	w.armLocked()
}

func (w *worker) armLocked() {
	if w.statsTimer != nil {
		return
	}
	wait := max(statsInterval-time.Since(w.lastFlush), 0)
	w.statsTimer = time.AfterFunc(wait, func() { w.flushStats(false) })
}

// flushStats adds the unwritten statistics to the bridge's. final: the worker stops; a failure is not retried.
func (w *worker) flushStats(final bool) {
	w.statsMu.Lock()
	if final && w.statsTimer != nil {
		w.statsTimer.Stop()
	}
	w.statsTimer = nil
	if !w.statsDirty || w.statsOff {
		w.statsMu.Unlock()
		return
	}
	d := w.stats
	w.stats, w.statsDirty = state.CallbackStats{}, false
	w.lastFlush = time.Now()
	w.statsMu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.flushMu.Lock()
	err := w.m.o.Store.AddCallbackStats(ctx, w.id, d, &w.written)
	w.flushMu.Unlock()
	if err == nil {
		return
	}
	if final {
		w.log.Warn("callback: statistics not written", "err", err)
		return
	}
	w.log.Debug("callback: statistics not written, trying again", "err", err)
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	if w.statsOff {
		return
	}
	w.stats = mergeStats(d, w.stats)
	w.statsDirty = true
	w.armLocked()
}

// position returns the last event the worker is done with, written or not.
func (w *worker) position() state.Position {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	return w.pos
}

// dropStats forgets unwritten statistics: the bridge and its statistics are gone.
func (w *worker) dropStats() {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	w.statsOff = true
	if w.statsTimer != nil {
		w.statsTimer.Stop()
		w.statsTimer = nil
	}
	w.stats, w.statsDirty = state.CallbackStats{}, false
}

// mergeStats adds later to earlier.
func mergeStats(earlier, later state.CallbackStats) state.CallbackStats {
	out := earlier
	out.Delivered += later.Delivered
	out.Failed += later.Failed
	out.Retries += later.Retries
	out.Position.Advance(later.Position)
	if later.LastError != "" {
		out.LastError, out.LastErrorAt = later.LastError, later.LastErrorAt
	}
	if later.LastSuccessAt.After(out.LastSuccessAt) {
		out.LastSuccessAt = later.LastSuccessAt
	}
	return out
}
