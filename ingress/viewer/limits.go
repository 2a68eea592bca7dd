package viewer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Refusals of a post or a stream; ingress's error table maps them to HTTP answers.
var (
	ErrReadOnly       = errors.New("viewer link is read-only")
	ErrName           = errors.New("viewer name empty or too long")
	ErrMessage        = errors.New("viewer message empty or too long")
	ErrBlocked        = errors.New("viewer post has a blocked word")
	ErrSlowMode       = errors.New("viewer posting too fast")
	ErrTooManyStreams = errors.New("too many viewer streams from one address")
	ErrBadPost        = errors.New("viewer post is not a JSON object with name and message")
)

// Limits on a viewer's post, in characters.
const (
	MaxNameLen    = 40
	MaxMessageLen = 500
)

// SlowModeError says how long to wait before the next post (the Retry-After header).
type SlowModeError struct{ Wait time.Duration }

func (e *SlowModeError) Error() string { return fmt.Sprintf("%v: wait %s", ErrSlowMode, e.Wait) }
func (e *SlowModeError) Unwrap() error { return ErrSlowMode }

// RetryAfter is the Retry-After header's value: whole seconds, at least one.
func (e *SlowModeError) RetryAfter() string {
	return fmt.Sprint(int64((e.Wait + time.Second - 1) / time.Second))
}

// slowMode allows one post per interval for each key (a link and an address), in this process.
type slowMode struct {
	mu    sync.Mutex
	last  map[string]time.Time
	swept time.Time
}

// allow records a post for key at now unless one was made less than every ago; then it says how long to wait.
func (s *slowMode) allow(key string, now time.Time, every time.Duration) error {
	if every <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]time.Time{}
	}
	if now.Sub(s.swept) > every {
		for k, t := range s.last {
			if now.Sub(t) >= every {
				delete(s.last, k)
			}
		}
		s.swept = now
	}
	if t, ok := s.last[key]; ok && now.Sub(t) < every {
		return &SlowModeError{Wait: every - now.Sub(t)}
	}
	s.last[key] = now
	return nil
}

// streamCap counts the open event streams of each address.
type streamCap struct {
	mu   sync.Mutex
	open map[string]int
}

func (c *streamCap) acquire(addr string, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == nil {
		c.open = map[string]int{}
	}
	if max > 0 && c.open[addr] >= max {
		return false
	}
	c.open[addr]++
	return true
}

func (c *streamCap) release(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[addr]--; c.open[addr] <= 0 {
		delete(c.open, addr)
	}
}

// clientAddr is the viewer's address: the connection's, or, when that is a loopback address (a reverse proxy on
// the same host, as the nginx snippet is), the X-Real-IP the proxy set.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		if real := net.ParseIP(strings.TrimSpace(r.Header.Get("X-Real-IP"))); real != nil {
			return real.String()
		}
	}
	return host
}

// Blocklist is a word list: a post with one of its words (whole words, any case) is refused.
type Blocklist struct{ words map[string]bool }

// LoadBlocklist reads a word list: one word or phrase per line, '#' starts a comment. An empty path is no list.
func LoadBlocklist(path string) (*Blocklist, error) {
	b := &Blocklist{words: map[string]bool{}}
	if path == "" {
		return b, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("viewer word list: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b.words[strings.Join(words(line), " ")] = true
	}
	return b, sc.Err()
}

// maxPhraseWords bounds the phrases looked for.
const maxPhraseWords = 4

// Hit reports whether text has a listed word or phrase.
func (b *Blocklist) Hit(text string) bool {
	if b == nil || len(b.words) == 0 {
		return false
	}
	ws := words(text)
	for i := range ws {
		for n := 1; n <= maxPhraseWords && i+n <= len(ws); n++ {
			if b.words[strings.Join(ws[i:i+n], " ")] {
				return true
			}
		}
	}
	return false
}

// words splits text into lower-case words of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}
