package redisfeed

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
)

// Sources of the BBB version, as recorded in the meetings bucket.
const (
	sourceConfig      = "config"
	sourceReleaseFile = "release-file"
	sourceEvents      = "events"
)

// Versions knows the BBB server's version: fixed by configuration or the release file, else inferred from
// the events (the highest Hint seen: every field a release adds stays in later ones, so it is a lower bound that
// matches the shape the server speaks). Changed is signalled whenever the version to record changes.
type Versions struct {
	mu      sync.Mutex
	v       bbb.Version
	source  string
	fixed   bool
	changed chan struct{}
}

// NewVersions reads the configured version: "auto" tries the release file and falls back to the events.
func NewVersions(configured, releaseFile string) (*Versions, error) {
	t := &Versions{changed: make(chan struct{}, 1)}
	if !strings.EqualFold(strings.TrimSpace(configured), "auto") {
		v, err := bbb.ParseVersion(configured)
		if err != nil {
			return nil, fmt.Errorf("BBB_CHAT_BBB_VERSION %q: want auto or a version such as 2.7: %w", configured, err)
		}
		t.v, t.source, t.fixed = v, sourceConfig, true
		t.signal()
		return t, nil
	}
	t.source = sourceEvents
	if releaseFile != "" {
		v, err := bbb.ReadReleaseFile(releaseFile)
		switch {
		case err == nil:
			t.v, t.source, t.fixed = v, sourceReleaseFile, true
			t.signal()
		case errors.Is(err, fs.ErrNotExist):
		default:
			return t, err // reported, then inferred from events
		}
	}
	return t, nil
}

// Changed is signalled whenever the version to record changes (also for the configured version, at start).
func (t *Versions) Changed() <-chan struct{} { return t.changed }

func (t *Versions) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// observe takes an event's hint into account and returns the version to use for that event.
func (t *Versions) observe(hint bbb.Version) bbb.Version {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.fixed && !hint.IsZero() && hint.Compare(t.v) > 0 {
		t.v = hint
		t.signal()
	}
	return t.v
}

// Get returns the current version and its source.
func (t *Versions) Get() (bbb.Version, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.v, t.source
}
