package state

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/service"
	"github.com/nats-io/nats.go/jetstream"
)

// Cache keeps a process-local copy of the bridges, the meeting ids and the chat-user presence, kept current by
// KV watches, so the hot paths (a sendChatMessage, a callback's echo check) need no NATS round trip. It is a
// read-through cache: a miss asks the bucket, so a bridge started a moment ago on another process is found; a hit
// may lag a change made elsewhere by the few milliseconds a watch update takes. Anything that writes (compare and
// set included) uses the Store's own methods, never the cache.
type Cache struct {
	s *Store

	mu       sync.RWMutex
	bridges  map[string]Bridge    // by internal meeting id
	internal map[string]Meeting   // by internal id
	external map[string]Meeting   // by external id
	names    map[string]nameEntry // by presence name key
}

// StartCache starts the watches and returns the cache; they run until ctx ends (and follow NATS reconnects).
func (s *Store) StartCache(ctx context.Context) *Cache {
	c := &Cache{s: s, bridges: map[string]Bridge{}, internal: map[string]Meeting{}, external: map[string]Meeting{},
		names: map[string]nameEntry{}}
	go c.run(ctx)
	return c
}

// run keeps the watches going. After a NATS reconnect the server may have lost the watches' consumers, and
// nats.go would notice only after missing heartbeats for many seconds: so the cache empties itself (every lookup
// reads through meanwhile) and watches afresh at once.
func (c *Cache) run(ctx context.Context) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { c.watch(wctx, c.s.bridges, ">", c.applyBridge) })
		wg.Go(func() { c.watch(wctx, c.s.meetings, ">", c.applyMeeting) })
		wg.Go(func() { c.watch(wctx, c.s.presence, c.s.presencePrefix()+"*.n.*", c.applyName) })
		reconnects := c.s.nc.Stats().Reconnects
		for ctx.Err() == nil && c.s.nc.Stats().Reconnects == reconnects {
			service.Sleep(ctx, 100*time.Millisecond)
		}
		cancel()
		wg.Wait()
		c.mu.Lock()
		clear(c.bridges)
		clear(c.internal)
		clear(c.external)
		clear(c.names)
		c.mu.Unlock()
	}
}

// watch feeds every entry of kv under filter to apply, again after any interruption.
func (c *Cache) watch(ctx context.Context, kv jetstream.KeyValue, filter string, apply func(key string, value []byte, deleted bool)) {
	for ctx.Err() == nil {
		w, err := kv.Watch(ctx, filter)
		if err != nil {
			if !service.Sleep(ctx, time.Second) {
				return
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil {
				continue // end of the initial values
			}
			apply(e.Key(), e.Value(), e.Operation() != jetstream.KeyValuePut)
		}
		w.Stop()
		if !service.Sleep(ctx, 100*time.Millisecond) {
			return
		}
	}
}

func (c *Cache) applyBridge(key string, value []byte, deleted bool) {
	id, err := ParseKey(key)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var b Bridge
	if deleted || json.Unmarshal(value, &b) != nil {
		delete(c.bridges, id)
		return
	}
	c.bridges[id] = b
}

func (c *Cache) applyMeeting(key string, value []byte, deleted bool) {
	kind, rest, _ := strings.Cut(key, ".")
	if kind != "i" && kind != "e" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kind == "i" {
		id, err := ParseKey(rest)
		if err != nil {
			return
		}
		var m Meeting
		if deleted || json.Unmarshal(value, &m) != nil {
			delete(c.internal, id)
			return
		}
		c.internal[id] = m
		return
	}
	// External keys are hashes; the value says which id. A deletion names only the hash: drop what maps to it.
	var m Meeting
	if deleted || json.Unmarshal(value, &m) != nil {
		for ext := range c.external {
			if meetingExtKey(ext) == key {
				delete(c.external, ext)
			}
		}
		return
	}
	c.external[m.ExternalID] = m
}

func (c *Cache) applyName(key string, value []byte, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n nameEntry
	if deleted || json.Unmarshal(value, &n) != nil || len(n.Users) == 0 {
		delete(c.names, key)
		return
	}
	c.names[key] = n
}

// GetBridge is Store.GetBridge from the cache, asking the bucket on a miss.
func (c *Cache) GetBridge(ctx context.Context, meetingID string) (Bridge, error) {
	c.mu.RLock()
	b, ok := c.bridges[meetingID]
	c.mu.RUnlock()
	if ok {
		return b, nil
	}
	return c.s.GetBridge(ctx, meetingID)
}

// ResolveMeeting is Store.ResolveMeeting from the cache, asking the bucket on a miss.
func (c *Cache) ResolveMeeting(ctx context.Context, id string) (Meeting, bool, error) {
	c.mu.RLock()
	m, ok := c.internal[id]
	if !ok {
		m, ok = c.external[id]
	}
	c.mu.RUnlock()
	if ok {
		return m, true, nil
	}
	return c.s.ResolveMeeting(ctx, id)
}

// FindUser is Store.FindUser from the cache, asking the bucket on a miss.
func (c *Cache) FindUser(ctx context.Context, meetingID, name string) (Presence, error) {
	c.mu.RLock()
	n, ok := c.names[c.s.nameKey(meetingID, name)]
	c.mu.RUnlock()
	if !ok {
		return c.s.FindUser(ctx, meetingID, name)
	}
	if len(n.Users) == 0 {
		return Presence{}, ErrNotFound
	}
	return n.latest(), nil
}
