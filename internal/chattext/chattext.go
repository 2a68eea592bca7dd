// Package chattext checks what bbb-chat posts into a BBB 2.x chat, which the client renders as HTML: that the text
// carries no markup. It holds the one check that ingress's fuzz test and the whole-system tests share. It is
// test-only; the product must not import it, and it must not render or escape text itself (shared/bbb does).
package chattext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// entities are the only character references the escaper in shared/bbb writes.
var entities = []string{"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"}

// Safe returns an error when chat text for a 2.x client holds markup: a character that opens a tag or an
// attribute, an entity other than the five the escaper writes, or invalid UTF-8. This is stricter than an HTML
// tokenizer (which would also accept, say, a lone '>' in text).
func Safe(s string) error {
	if i := strings.IndexAny(s, "<>\"'"); i >= 0 {
		return fmt.Errorf("chat text %q has %q at %d", s, s[i], i)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			continue
		}
		ok := false
		for _, e := range entities {
			if strings.HasPrefix(s[i:], e) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("chat text %q has a raw '&' at %d", s, i)
		}
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("chat text %q is not valid UTF-8", s)
	}
	return nil
}
