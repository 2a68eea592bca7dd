package bbbsim

import (
	"html"
	"strings"
)

// messageAsHTML stands in for 4.0's messageAsHtml, akka's HTML rendering of a message's Markdown
// (docs/protocol.md §3.8). The simulator does not render Markdown: it escapes the text and makes each line a
// paragraph, which is enough for a consumer that, like bbb-chat, reads the Markdown and ignores the HTML.
func messageAsHTML(text string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		b.WriteString("<p>")
		b.WriteString(html.EscapeString(strings.TrimRight(line, "\r\n")))
		b.WriteString("</p>")
	}
	return b.String()
}
