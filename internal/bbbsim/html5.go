package bbbsim

import (
	"regexp"
	"strings"
)

// The 2.x HTML5 (Meteor) server rewrites every chat message before it publishes SendGroupChatMessageMsg
// (docs/protocol.md §3.3 item 7).

var (
	breakLine = regexp.MustCompile(`(?i)<br\s*[\\/]?>`)
	htmlSafe  = strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	// webURL follows the URL pattern the HTML5 server uses (Diego Perini's): ftp/http/https, optional user:pass@,
	// a dotted IPv4 address or a host name with a TLD of two or more letters, optional port and path. RE2 has no
	// look-ahead, so the original's exclusion of private and loopback IPv4 ranges is not reproduced: such URLs
	// are wrapped here and would not be by BBB.
	webURL = regexp.MustCompile(`(?i)(?:(?:https?|ftp)://)` +
		`(?:\S+(?::\S*)?@)?` +
		`(?:` +
		`(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))` +
		`|` +
		`(?:(?:[a-z\x{00a1}-\x{ffff}0-9]-*)*[a-z\x{00a1}-\x{ffff}0-9]+)` +
		`(?:\.(?:[a-z\x{00a1}-\x{ffff}0-9]-*)*[a-z\x{00a1}-\x{ffff}0-9]+)*` +
		`(?:\.(?:[a-z\x{00a1}-\x{ffff}]{2,}))\.?` +
		`)` +
		`(?::\d{2,5})?` +
		`(?:[/?#]\S*)?`)
)

// HTML5Process is what the 2.2–2.7 HTML5 server does to a chat message typed in the browser: trim, turn <br/>
// into "\n\r", escape < > " ' as HTML entities, and wrap URLs as <a href='event:URL'><u>URL</u></a>. akka-apps
// stores and broadcasts the result unchanged.
func HTML5Process(text string) string {
	t := strings.TrimSpace(text)
	t = breakLine.ReplaceAllString(t, "\n\r")
	t = htmlSafe.Replace(t)
	return webURL.ReplaceAllString(t, "<a href='event:$0'><u>$0</u></a>")
}
