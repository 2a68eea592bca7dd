package redisfeed

import (
	"container/list"
	"sync"
	"time"
)

// meetingCache remembers external meeting ids by internal id, so that relay does not ask the meetings bucket for
// every event. It is bounded (least recently used entries go first) and remembers "not known" only for a while,
// since ingress or another relay may learn the meeting later. Relay is stateless across restarts; this is only a
// cache.
type meetingCache struct {
	mu      sync.Mutex
	max     int
	negTTL  time.Duration
	now     func() time.Time
	order   *list.List // front: most recently used
	entries map[string]*list.Element
}

type cacheEntry struct {
	id      string
	extID   string
	known   bool
	expires time.Time // for unknown entries
}

func newMeetingCache(max int, negTTL time.Duration, now func() time.Time) *meetingCache {
	return &meetingCache{max: max, negTTL: negTTL, now: now, order: list.New(), entries: map[string]*list.Element{}}
}

// get returns the external id and whether the meeting is known; cached reports whether there was a valid entry.
func (c *meetingCache) get(id string) (extID string, known, cached bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return "", false, false
	}
	e := el.Value.(*cacheEntry)
	if !e.known && c.now().After(e.expires) {
		c.order.Remove(el)
		delete(c.entries, id)
		return "", false, false
	}
	c.order.MoveToFront(el)
	return e.extID, e.known, true
}

// put records a known meeting.
func (c *meetingCache) put(id, extID string) { c.set(&cacheEntry{id: id, extID: extID, known: true}) }

// putUnknown records that the meeting is not known, for negTTL.
func (c *meetingCache) putUnknown(id string) {
	c.set(&cacheEntry{id: id, expires: c.now().Add(c.negTTL)})
}

func (c *meetingCache) set(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.id]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.entries[e.id] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).id)
	}
}

func (c *meetingCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
