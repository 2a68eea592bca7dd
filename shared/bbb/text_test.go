package bbb

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	v22, v27, v30 := Version{2, 2}, Version{2, 7}, Version{3, 0}
	tests := []struct {
		name              string
		v                 Version
		template, user, m string
		want              string
	}{
		{"2.7 default", v27, "", "Alice", "hi", "Alice: hi"},
		{"2.7 explicit default", v27, DefaultTemplate, "Alice", "hi", "Alice: hi"},
		{"2.7 script in message", v27, "", "Alice", "<script>alert(1)</script>", "Alice: &lt;script&gt;alert(1)&lt;/script&gt;"},
		{"2.7 img onerror", v27, "", "Alice", `<img src=x onerror="alert('x')">`, "Alice: &lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;"},
		{"2.7 html in name", v27, "", "<b>Mallory</b>", "hi", "&lt;b&gt;Mallory&lt;/b&gt;: hi"},
		{"2.7 html in template is escaped too", v27, "<b>{user_name}</b> {message}", "Alice", "hi", "&lt;b&gt;Alice&lt;/b&gt; hi"},
		{"2.7 ampersand and entities", v27, "", "A&B", "&lt; & &amp;", "A&amp;B: &amp;lt; &amp; &amp;amp;"},
		{"2.7 quotes", v27, "", `"Q"`, `it's`, "&quot;Q&quot;: it&#39;s"},
		{"2.7 newline in message kept", v27, "", "Alice", "line 1\nline 2", "Alice: line 1\nline 2"},
		{"2.7 forged second sender in name", v27, "", "Alice: hi\nBob", "x", "Alice: hi Bob: x"},
		{"2.7 CRLF and tabs in name", v27, "", "\tAl\r\nice \t ", "x", "Al ice: x"},
		{"2.7 line separators in name", v27, "", "A\u2028B\u2029C\u0085D", "x", "A B C D: x"},
		{"2.7 bidi override in name", v27, "", "Bob\u202egnp.exe", "x", "Bob gnp.exe: x"},
		{"2.7 bidi isolates and marks in name", v27, "", "\u2067A\u2069\u200fB\u200eC\u061c", "x", "A B C: x"},
		{"2.7 C0 and DEL in name", v27, "", "A\x00B\x1bC\x7fD", "x", "A B C D: x"},
		{"2.7 name made only of breakers", v27, "", "\n\u202e\t", "x", ": x"},
		{"2.7 name with placeholder text is not expanded", v27, "", "{message}", "hi", "{message}: hi"},
		{"2.7 message with placeholder text is not expanded", v27, "", "Alice", "{user_name}", "Alice: {user_name}"},
		{"2.7 unknown placeholder left literal", v27, "[{room}] {user_name}: {message}", "A", "m", "[{room}] A: m"},
		{"2.7 placeholders repeated", v27, "{message}/{message}/{user_name}", "A", "m", "m/m/A"},
		{"2.7 unicode kept", v27, "", "Zoë 山田", "ça va? 👍", "Zoë 山田: ça va? 👍"},
		{"2.7 invalid utf-8", v27, "", "a\xffb", "\xc3", "a\uFFFDb: \uFFFD"},
		{"2.2 same as 2.7", v22, "", "<i>", "<i>", "&lt;i&gt;: &lt;i&gt;"},
		{"zero version escapes like 2.x", Version{}, "", "<i>", "<i>", "&lt;i&gt;: &lt;i&gt;"},
		{"3.0 markdown in name escaped", v30, "", "Ada *Lovelace*", "hi **there**", `Ada \*Lovelace\*: hi **there**`},
		{"3.0 link in name escaped", v30, "", "[click](http://evil)", "x", `\[click\]\(http://evil\): x`},
		{"3.0 heading and list starts escaped", v30, "", "# 1. - + Title", "x", `\# 1\. \- \+ Title: x`},
		{"3.0 html-ish and backslash in name", v30, "", `<b>\ _a_ ~b~ |c| !d`, "x", `\<b\>\\ \_a\_ \~b\~ \|c\| \!d: x`},
		{"3.0 code and ampersand in name", v30, "", "`x` &amp;", "x", "\\`x\\` \\&amp;: x"},
		{"3.0 message untouched", v30, "", "Alice", "<b>x</b> & *y* [z](u)\nline", "Alice: <b>x</b> & *y* [z](u)\nline"},
		{"3.0 template markdown untouched", v30, "**{user_name}** wrote: {message}", "Alice", "hi", "**Alice** wrote: hi"},
		{"3.0 name sanitised then escaped", v30, "", "A\n# B", "x", `A \# B: x`},
		{"3.1 like 3.0", Version{3, 1}, "", "a_b", "c_d", `a\_b: c_d`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Render(tc.v, tc.template, tc.user, tc.m); got != tc.want {
				t.Errorf("Render(%v, %q, %q, %q)\n got: %q\nwant: %q", tc.v, tc.template, tc.user, tc.m, got, tc.want)
			}
		})
	}
}

func TestValidateTemplate(t *testing.T) {
	tests := []struct {
		t        string
		wantErr  bool
		mentions []string
	}{
		{DefaultTemplate, false, nil},
		{"{message}", false, nil},
		{"**{user_name}** says {message} {message}", false, nil},
		{"{ message } {message}", false, nil}, // not a placeholder: spaces
		{"{} {message} {", false, nil},        // stray braces are literal
		{"{{message}}", false, nil},           // outer braces literal
		{"{user-name} {message}", false, nil}, // '-' is not a placeholder character
		{"{user_name}: {msg}", true, []string{"{msg}", "{message}"}},
		{"", true, []string{"{message}"}},
		{"{user_name}", true, []string{"{message}"}},
		{"{User_Name} {Message} {message}", true, []string{"{User_Name}", "{Message}"}},
		{"{room} {room} {message} {time}", true, []string{"{room}, {time}"}},
		{"{message}\xff", true, []string{"UTF-8"}},
	}
	for _, tc := range tests {
		t.Run(tc.t, func(t *testing.T) {
			err := ValidateTemplate(tc.t)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ValidateTemplate(%q) = %v, wantErr %v", tc.t, err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestPlainText(t *testing.T) {
	v27, v30 := Version{2, 7}, Version{3, 0}
	tests := []struct {
		name string
		v    Version
		in   string
		want string
	}{
		{"plain", v27, "Public chat test", "Public chat test"},
		{"link wrapper", v27, "see <a href='event:https://example.org/a?b=1&c=2'><u>https://example.org/a?b=1&c=2</u></a> now",
			"see https://example.org/a?b=1&c=2 now"},
		{"two links", v27, "<a href='event:http://a.example'><u>http://a.example</u></a> and <a href='event:http://b.example/x'><u>http://b.example/x</u></a>",
			"http://a.example and http://b.example/x"},
		{"link with escaped quote", v27, "<a href='event:https://x.example/&#39;q&#39;'><u>https://x.example/&#39;q&#39;</u></a>", "https://x.example/'q'"},
		{"double-quoted link without underline", v27, `<a href="event:http://x.example">http://x.example</a>`, "http://x.example"},
		{"link with empty text", v27, `<a href='event:http://x.example'><u></u></a>`, "http://x.example"},
		{"unterminated link kept", v27, "<a href='event:http://x.example'>oops", "<a href='event:http://x.example'>oops"},
		{"link with markup inside kept", v27, "<a href='event:u'><u><b>x</b></u></a>", "<a href='event:u'><u><b>x</b></u></a>"},
		{"entities", v27, "&lt;3 &quot;q&quot; it&#39;s &gt; &amp; &#34;", `<3 "q" it's > & "`},
		{"entities unescaped once", v27, "&amp;lt; &amp;amp;", "&lt; &amp;"},
		{"other entities kept", v27, "&copy; &nbsp; &#60; &#x27; &lt", "&copy; &nbsp; &#60; &#x27; &lt"},
		{"bare ampersand", v27, "Tom & Jerry &", "Tom & Jerry &"},
		{"br tags", v27, "a<br/>b<br>c<BR />d<br\\>e", "a\nb\nc\nd\ne"},
		{"not a br", v27, "<brx> <br / >", "<brx> <br / >"},
		{"server newline from br", v27, "line one\n\rline two\nline three", "line one\nline two\nline three"},
		{"two server newlines", v27, "a\n\r\n\rb", "a\n\nb"},
		{"crlf", v27, "a\r\nb\r\n\r\nc", "a\nb\n\nc"},
		{"lone cr", v27, "a\rb", "a\nb"},
		{"other tags kept", v27, "<b>x</b> <u>y</u>", "<b>x</b> <u>y</u>"},
		{"escaped html the user typed", v27, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "<script>alert('x')</script>"},
		{"2.2 fixture", Version{2, 2},
			"see <a href='event:https://example.org/a?b=1&c=2'><u>https://example.org/a?b=1&c=2</u></a> &lt;3 &quot;quoted&quot; it&#39;s",
			`see https://example.org/a?b=1&c=2 <3 "quoted" it's`},
		{"zero version like 2.x", Version{}, "&lt;", "<"},
		{"3.0 unchanged", v30, "&lt;b&gt; <br/> <a href='event:x'><u>x</u></a>\n\r", "&lt;b&gt; <br/> <a href='event:x'><u>x</u></a>\n\r"},
		{"empty", v27, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlainText(tc.v, tc.in); got != tc.want {
				t.Errorf("PlainText(%v, %q)\n got: %q\nwant: %q", tc.v, tc.in, got, tc.want)
			}
		})
	}
}

// meteorEscape mimics what the 2.x HTML5 server does to chat text before
// publishing it (docs/protocol.md §3.3 item 7):
// trim, <br/> → "\n\r", escape < > " ', wrap URLs in an event: anchor.
func meteorEscape(s string) string {
	s = strings.TrimSpace(s)
	s = meteorBr.ReplaceAllString(s, "\n\r")
	s = meteorHTML.Replace(s)
	return meteorURL.ReplaceAllString(s, "<a href='event:$0'><u>$0</u></a>")
}

var (
	meteorBr   = regexp.MustCompile(`(?i)<br\s*[\\/]?>`)
	meteorHTML = strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	meteorURL  = regexp.MustCompile(`(?i)\b(?:https?|ftp)://[^\s]+`)
)

// roundTrips reports whether s survives the 2.x server unambiguously and, if
// so, what PlainText must return for it. The server does not escape '&', so
// text that already contains one of the entities PlainText decodes is
// ambiguous; it also trims, and turns typed <br/> into newlines.
func roundTrips(s string) (string, bool) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, '\r') {
		return "", false
	}
	for _, e := range entities {
		if strings.Contains(s, e.name) {
			return "", false
		}
	}
	return meteorBr.ReplaceAllString(strings.TrimSpace(s), "\n"), true
}

var realLookingMessages = []string{
	"Public chat test",
	"hello world",
	"Can everyone see my screen?",
	"<script>alert('xss')</script>",
	`He said "don't" & left`,
	"5 > 3 && 2 < 4",
	"slides: https://example.org/slides?id=42&page=3#top",
	"two links http://a.example/x and https://b.example/y'z",
	"ftp://files.example/pub/README",
	"line one<br/>line two<br>line three",
	"multi\nline\nmessage",
	"   padded   ",
	"emoji 👍🏽 and ümlauts",
	"<a href='event:http://fake'>not a real wrapper</a>",
	"<b>bold</b> <i>italic</i>",
	"what about &copy; or &#60;?",
	"a & b",
	"https://example.org/<script>",
	"http://x.example/\"quoted\"",
}

func TestPlainTextRoundTrip(t *testing.T) {
	for _, s := range realLookingMessages {
		t.Run(s, func(t *testing.T) {
			want, ok := roundTrips(s)
			if !ok {
				t.Fatalf("table entry %q is ambiguous; pick another", s)
			}
			sent := meteorEscape(s)
			if got := PlainText(Version{2, 7}, sent); got != want {
				t.Errorf("PlainText(meteorEscape(%q)) via %q\n got: %q\nwant: %q", s, sent, got, want)
			}
		})
	}
}

// TestRenderPlainTextRoundTrip: what ingress posts to 2.x and relay reads back
// is the text the viewer wrote.
func TestRenderPlainTextRoundTrip(t *testing.T) {
	for _, s := range append(realLookingMessages, "&amp;lt; &#39; &quot;", "<br/>") {
		for _, v := range []Version{{2, 2}, {2, 7}} {
			if got := PlainText(v, Render(v, PlaceholderMessage, "", s)); got != s {
				t.Errorf("%v: PlainText(Render(%q)) = %q", v, s, got)
			}
		}
	}
}

func FuzzPlainText(f *testing.F) {
	for _, s := range realLookingMessages {
		f.Add(s)
		f.Add(meteorEscape(s))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []Version{{}, {2, 2}, {2, 7}} {
			got := PlainText(v, s)
			if len(got) > len(s) {
				t.Errorf("PlainText(%v, %q) = %q grew the text", v, s, got)
			}
		}
		if got := PlainText(Version{3, 0}, s); got != s {
			t.Errorf("PlainText(3.0, %q) = %q, want it unchanged", s, got)
		}
		if want, ok := roundTrips(s); ok {
			sent := meteorEscape(s)
			if got := PlainText(Version{2, 7}, sent); got != want {
				t.Errorf("PlainText(meteorEscape(%q)) via %q\n got: %q\nwant: %q", s, sent, got, want)
			}
		}
	})
}

func FuzzRender(f *testing.F) {
	f.Add(DefaultTemplate, "Alice", "hi")
	f.Add("", "<b>Mallory</b>\n", "<script>alert('x')</script>")
	f.Add("**{user_name}**: {message}", "Ada *Lovelace*", "**bold** [x](y)")
	f.Add("{user_name}{message}{user_name}", "Bob\u202egnp.exe", "&amp;&lt;")
	f.Add("{message}", "\u2028\u2029\x00\x7f\u0085", "a\r\nb")
	f.Add("<i>{user_name}</i> {message} {unknown}", "{message}", "{user_name}")
	f.Fuzz(func(t *testing.T, template, name, message string) {
		for _, v := range []Version{{}, {2, 2}, {2, 7}} {
			out := Render(v, template, name, message)
			checkHTMLSafe(t, out)
			if !utf8.ValidString(out) {
				t.Errorf("Render(%v) = %q is not valid UTF-8", v, out)
			}
			// The name part, unescaped, is the sanitised name and safe.
			n := unescapeEntities(Render(v, PlaceholderUserName, name, message))
			checkSafeName(t, n)
			if n != sanitizeName(name) {
				t.Errorf("name part %q, want %q", n, sanitizeName(name))
			}
			// The message part survives the 2.x text conventions.
			m := strings.ToValidUTF8(message, "\uFFFD")
			if got := PlainText(v, Render(v, PlaceholderMessage, name, message)); got != normaliseNewlines(m) {
				t.Errorf("PlainText(Render(%q)) = %q", message, got)
			}
		}
		for _, v := range []Version{{3, 0}, {3, 1}} {
			n := Render(v, PlaceholderUserName, name, message)
			plain := checkMarkdownEscaped(t, n)
			checkSafeName(t, plain)
			if plain != sanitizeName(name) {
				t.Errorf("3.x name part %q unescapes to %q, want %q", n, plain, sanitizeName(name))
			}
			if got, want := Render(v, PlaceholderMessage, name, message), strings.ToValidUTF8(message, "\uFFFD"); got != want {
				t.Errorf("3.x message part %q, want it unchanged %q", got, want)
			}
		}
	})
}

// checkHTMLSafe asserts that s cannot contain markup: no < > " ' at all, and
// every & starts one of the entities the escaper produces.
func checkHTMLSafe(t *testing.T, s string) {
	t.Helper()
	if i := strings.IndexAny(s, `<>"'`); i >= 0 {
		t.Fatalf("output %q has %q at %d", s, s[i], i)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			continue
		}
		rest := s[i:]
		if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") &&
			!strings.HasPrefix(rest, "&quot;") && !strings.HasPrefix(rest, "&#39;") {
			t.Fatalf("output %q has a bare & at %d", s, i)
		}
	}
}

// checkSafeName asserts a sanitised name is one trimmed line with no control,
// separator or bidi characters and no double spaces.
func checkSafeName(t *testing.T, n string) {
	t.Helper()
	for _, r := range n {
		if nameBreaker(r) || (unicode.IsSpace(r) && r != ' ') {
			t.Fatalf("name %q contains %U", n, r)
		}
	}
	if strings.Contains(n, "  ") || strings.TrimSpace(n) != n {
		t.Fatalf("name %q has untrimmed or repeated spaces", n)
	}
}

// checkMarkdownEscaped asserts every Markdown special in s is backslash-escaped
// and returns s with the escapes removed.
func checkMarkdownEscaped(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte(markdownSpecials, c) < 0 {
			b.WriteByte(c)
			continue
		}
		if c != '\\' || i+1 >= len(s) || strings.IndexByte(markdownSpecials, s[i+1]) < 0 {
			t.Fatalf("name %q has an unescaped %q at %d", s, c, i)
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func normaliseNewlines(s string) string {
	return strings.NewReplacer("\r\n", "\n", "\n\r", "\n", "\r", "\n").Replace(s)
}

// BenchmarkPlainTextHostile guards against quadratic scans: a 1 MiB message
// made of anchor openings that never close.
func BenchmarkPlainTextHostile(b *testing.B) {
	for _, unit := range []string{"<a href='event:", "<a href='x'><u>", "&am", "<br", "\n\r"} {
		s := strings.Repeat(unit, MaxMessageSize/len(unit))
		b.Run(strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(unit), func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				PlainText(Version{2, 7}, s)
			}
		})
	}
}
