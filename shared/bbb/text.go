package bbb

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultTemplate is the chat text template used when none is configured.
const DefaultTemplate = "{user_name}: {message}"

// Template placeholders.
const (
	PlaceholderUserName = "{user_name}"
	PlaceholderMessage  = "{message}"
)

// ValidateTemplate checks a Render template: it must be valid UTF-8 and
// contain {message}, and every {placeholder} in it must be {user_name} or
// {message} (the error names the unknown ones). Braces that do not enclose a
// name made of ASCII letters, digits and '_' are literal text. The empty
// template is an error here even though Render falls back to DefaultTemplate
// for it: configuration should apply the default before validating.
func ValidateTemplate(t string) error {
	if !utf8.ValidString(t) {
		return fmt.Errorf("bbb: template is not valid UTF-8: %w", ErrInvalid)
	}
	var unknown []string
	for rest := t; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		rest = rest[i:]
		n := placeholderLen(rest)
		if n == 0 {
			rest = rest[1:]
			continue
		}
		if p := rest[:n]; p != PlaceholderUserName && p != PlaceholderMessage && !slices.Contains(unknown, p) {
			unknown = append(unknown, p)
		}
		rest = rest[n:]
	}
	if len(unknown) > 0 {
		return fmt.Errorf("bbb: template has unknown placeholder(s) %s (known: %s, %s): %w",
			strings.Join(unknown, ", "), PlaceholderUserName, PlaceholderMessage, ErrInvalid)
	}
	if !strings.Contains(t, PlaceholderMessage) {
		return fmt.Errorf("bbb: template %q lacks %s: %w", t, PlaceholderMessage, ErrInvalid)
	}
	return nil
}

// placeholderLen returns the length of the placeholder s starts with
// ("{" name "}"), or 0 if s does not start with one.
func placeholderLen(s string) int {
	if len(s) < 3 || s[0] != '{' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '}':
			if i == 1 {
				return 0
			}
			return i + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		default:
			return 0
		}
	}
	return 0
}

// Render builds the chat text ingress posts for version v from template
// (DefaultTemplate if empty), substituting {user_name} and {message} in one
// pass (text substituted in is never rescanned for placeholders).
//
// The user name is sanitised first: control characters (newlines included),
// U+2028/U+2029 and bidi formatting characters become a space, whitespace runs
// collapse to one space, and the ends are trimmed, so a name can neither forge
// a line break nor a second sender.
//
// 2.x renders chat as raw HTML (docs/protocol.md §3.3 item 7), so the whole
// result, template included, is HTML-escaped (& < > " ' become &amp; &lt; &gt;
// &quot; &#39;) and no tag survives. Newlines in the message stay "\n"; the
// 2.x client turns them into <br/>. The zero Version is treated like 2.x: the
// escaped text is also safe, and displays the same, under 3.0's Markdown.
//
// 3.0 renders Markdown: Markdown special characters in the user name are
// backslash-escaped; the message and the template are left as written.
//
// Invalid UTF-8 in any input becomes U+FFFD, so the result always encodes.
func Render(v Version, template, userName, message string) string {
	if template == "" {
		template = DefaultTemplate
	}
	template = strings.ToValidUTF8(template, "\uFFFD")
	message = strings.ToValidUTF8(message, "\uFFFD")
	name := sanitizeName(userName)
	if v.Shape() == ShapeV3 {
		return substitute(template, escapeMarkdown(name), message)
	}
	return escapeHTML(substitute(template, name, message))
}

// substitute replaces the placeholders in t in a single left-to-right pass.
func substitute(t, name, message string) string {
	var b strings.Builder
	b.Grow(len(t) + len(name) + len(message))
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			return b.String()
		}
		b.WriteString(t[:i])
		t = t[i:]
		switch {
		case strings.HasPrefix(t, PlaceholderUserName):
			b.WriteString(name)
			t = t[len(PlaceholderUserName):]
		case strings.HasPrefix(t, PlaceholderMessage):
			b.WriteString(message)
			t = t[len(PlaceholderMessage):]
		default:
			b.WriteByte('{')
			t = t[1:]
		}
	}
}

// sanitizeName makes a display name safe to show as one line: control
// characters (newlines included), U+2028/U+2029 and bidi formatting characters
// become spaces, whitespace runs collapse to one space, the ends are trimmed,
// and invalid UTF-8 becomes U+FFFD.
func sanitizeName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for _, r := range s { // invalid bytes arrive as utf8.RuneError (U+FFFD)
		if unicode.IsSpace(r) || nameBreaker(r) {
			pendingSpace = b.Len() > 0
			continue
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// nameBreaker reports runes that could break a name out of its line or
// reorder the text around it.
func nameBreaker(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0, DEL, C1 (incl. \n \r \t U+0085)
		return true
	case r == '\u2028' || r == '\u2029': // line and paragraph separators
		return true
	case r == '\u061c' || r == '\u200e' || r == '\u200f': // ALM, LRM, RLM
		return true
	case r >= '\u202a' && r <= '\u202e': // LRE RLE PDF LRO RLO
		return true
	case r >= '\u2066' && r <= '\u2069': // LRI RLI FSI PDI
		return true
	}
	return false
}

// markdownSpecials are the ASCII punctuation characters with a meaning in
// CommonMark/GFM inline or block syntax; CommonMark lets any of them be
// backslash-escaped.
const markdownSpecials = "\\`*_{}[]()#+-.!|<>~&"

func escapeMarkdown(s string) string {
	if !strings.ContainsAny(s, markdownSpecials) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(markdownSpecials, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var htmlEscaper = strings.NewReplacer(
	"&", "&amp;",
	"<", "&lt;",
	">", "&gt;",
	`"`, "&quot;",
	"'", "&#39;",
)

func escapeHTML(s string) string { return htmlEscaper.Replace(s) }

// PlainText undoes what the 2.x HTML5 server did to chat text before
// publishing it (docs/protocol.md §3.3 item 7), for forwarding outside BBB:
// link wrappers <a href='event:URL'><u>URL</u></a> become URL again, <br/> (and
// <br>, <br />) become "\n", line endings are normalised to "\n" (the server
// turns a typed <br/> into "\n\r"; CRLF and lone CR come from other
// producers), and the entities &lt; &gt; &quot; &#39; &#34; &amp; are unescaped, in one pass (so
// "&amp;lt;" yields "&lt;"). Other entities and tags are left alone: a 2.x user
// who typed "&copy;" gets "&copy;" back.
//
// The 2.x server does not escape '&', so a 2.x user who literally typed
// "&lt;" arrives as "<"; that ambiguity is BBB's.
//
// For 3.0 and later (Markdown) the text is returned unchanged. The zero
// Version is treated like 2.x.
func PlainText(v Version, message string) string {
	if v.Shape() == ShapeV3 {
		return message
	}
	if !strings.ContainsAny(message, "<&\r") {
		return message
	}
	var b strings.Builder
	b.Grow(len(message))
	s := message
	for len(s) > 0 {
		i := strings.IndexAny(s, "<&\n\r")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch s[0] {
		case '<':
			if text, n := parseAnchor(s); n > 0 {
				b.WriteString(unescapeEntities(text))
				s = s[n:]
			} else if n := parseBr(s); n > 0 {
				b.WriteByte('\n')
				s = s[n:]
			} else {
				b.WriteByte('<')
				s = s[1:]
			}
		case '&':
			if r, n := entity(s); n > 0 {
				b.WriteString(r)
				s = s[n:]
			} else {
				b.WriteByte('&')
				s = s[1:]
			}
		case '\n', '\r':
			// "\n\r" is the server's rendering of <br/>; CRLF and lone CR
			// come from other producers. All become "\n".
			pair := "\n\r"
			if s[0] == '\r' {
				pair = "\r\n"
			}
			b.WriteByte('\n')
			if strings.HasPrefix(s, pair) {
				s = s[2:]
			} else {
				s = s[1:]
			}
		}
	}
	return b.String()
}

var entities = [...]struct{ name, text string }{
	{"&amp;", "&"},
	{"&lt;", "<"},
	{"&gt;", ">"},
	{"&quot;", `"`},
	{"&#39;", "'"},
	{"&#34;", `"`},
}

// entity returns the text of the entity s starts with and its length.
func entity(s string) (string, int) {
	for _, e := range entities {
		if strings.HasPrefix(s, e.name) {
			return e.text, len(e.name)
		}
	}
	return "", 0
}

func unescapeEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		if r, n := entity(s); n > 0 {
			b.WriteString(r)
			s = s[n:]
		} else {
			b.WriteByte('&')
			s = s[1:]
		}
	}
}

// parseAnchor recognises the link wrapper the 2.x server puts around URLs,
// <a href='event:URL'><u>TEXT</u></a>, tolerating double quotes, a missing
// "event:" prefix and a missing <u></u>. It returns TEXT (URL if TEXT is
// empty) and the wrapper's length, or 0 if s does not start with one.
//
// Neither URL nor TEXT may contain '<' (the server escaped them), so every
// scan stops at the next '<': PlainText stays linear even on hostile input.
func parseAnchor(s string) (string, int) {
	const open = "<a href="
	if !strings.HasPrefix(s, open) || len(s) <= len(open) {
		return "", 0
	}
	q := s[len(open)]
	if q != '\'' && q != '"' {
		return "", 0
	}
	rest := s[len(open)+1:]
	end := strings.IndexAny(rest, string(q)+"<")
	if end < 0 || rest[end] != q {
		return "", 0
	}
	url := strings.TrimPrefix(rest[:end], "event:")
	rest = rest[end+1:]
	if !strings.HasPrefix(rest, ">") {
		return "", 0
	}
	rest = rest[1:]
	closer := "</a>"
	if strings.HasPrefix(rest, "<u>") {
		rest = rest[len("<u>"):]
		closer = "</u></a>"
	}
	end = strings.IndexByte(rest, '<')
	if end < 0 || !strings.HasPrefix(rest[end:], closer) {
		return "", 0
	}
	text := rest[:end]
	if text == "" {
		text = url
	}
	return text, len(s) - len(rest) + end + len(closer)
}

// parseBr returns the length of the <br>, <br/>, <br /> or <br\> tag
// (case-insensitive, ASCII spaces allowed before the slash) s starts with, or 0.
func parseBr(s string) int {
	if len(s) < 4 || !strings.EqualFold(s[:3], "<br") {
		return 0
	}
	i := 3
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f') {
		i++
	}
	if i < len(s) && (s[i] == '/' || s[i] == '\\') {
		i++
	}
	if i < len(s) && s[i] == '>' {
		return i + 1
	}
	return 0
}

// SanitizeName makes a display name one clean line: control characters, line and paragraph separators and bidi
// overrides become spaces and runs of spaces collapse, so a name cannot forge a line break or a second sender.
func SanitizeName(s string) string { return sanitizeName(s) }
