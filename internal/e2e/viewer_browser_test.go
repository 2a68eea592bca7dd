package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/testenv"
	"github.com/bbb-chat/bbb-chat/shared/state"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chromium is Debian's Chromium (apt-get install chromium; .ci/run installs it), or "" when it is not there.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium for the test and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium()
	if bin == "" {
		t.Skip("chromium is not installed (apt-get install chromium): the viewer page's browser test is skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.WindowSize(720, 560),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// run runs browser actions with a time limit.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// pageHas waits until JavaScript expression js is true on the page.
func pageHas(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, what, func() bool {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](js))
		return err == nil && ok
	})
}

// logHas is a JavaScript test that some message in the page's log reads text (as text).
func logHas(text string) string {
	q, _ := jsonString(text)
	return `Array.from(document.querySelectorAll("#log .msg")).some(li => li.textContent.includes(` + q + `))`
}

func jsonString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

func TestViewerPageInBrowser(t *testing.T) {
	ctx := browser(t)
	v := newViewerEnv(t)
	link := v.viewerLink(v.meetingID, true, 0)
	expect(t, link, 200, "created")
	page := v.apiURL + "/chat/" + link.Body["token"].(string)

	// Open the link: the history is there, as text (Bob's "<everyone>" is no element).
	run(t, ctx, "open the link", chromedp.Navigate(page), chromedp.WaitVisible("#log"), chromedp.WaitVisible("#send"))
	pageHas(t, ctx, "history shown", logHas("Welcome, <everyone>!"))
	pageHas(t, ctx, "chat text is never markup", `document.getElementsByTagName("everyone").length === 0`)
	pageHas(t, ctx, "live", `document.getElementById("status").textContent === "Live"`)

	// Post with the keyboard only: type the name, Tab to the message, Enter sends.
	run(t, ctx, "post", chromedp.Focus("#name"), chromedp.SendKeys("#name", "Ann"), chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent("Hello from the <browser>"), chromedp.KeyEvent(kb.Enter))
	msgs := v.waitChat(v.meetingID, 2)
	if got := msgs[1].Message; got != "Ann (stream): Hello from the &lt;browser&gt;" {
		t.Fatalf("BBB shows %q", got)
	}
	pageHas(t, ctx, "the post comes back from BBB", logHas("Ann (stream): Hello from the <browser>"))

	// Slow mode refuses a second post at once, and the page says so.
	run(t, ctx, "post again", chromedp.SendKeys("#message", "Again"), chromedp.Click("#send"))
	pageHas(t, ctx, "slow mode shown", `document.getElementById("post-status").textContent.includes("Slow mode")`)

	// Another participant's message appears live; a deleted one disappears.
	live, err := v.sim.Say(t.Context(), v.meetingID, v.bob, "A live message")
	if err != nil {
		t.Fatal(err)
	}
	pageHas(t, ctx, "live message shown", logHas("A live message"))
	if updateScreenshots() {
		screenshots(t, ctx, page)
	}
	// Edits and reactions (BBB 3.0's events, put into the stream as relay does) change the message in place.
	v.publish(state.Event{Type: state.TypeMessageEdited, ID: "edit-" + live.ID, MeetingID: v.meetingID,
		ChatID: "MAIN-PUBLIC-GROUP-CHAT", MessageID: live.ID, Text: "An <edited> message", Timestamp: time.Now().UnixMilli()})
	pageHas(t, ctx, "edit shown", logHas("An <edited> message(edited)"))
	for i, typ := range []string{state.TypeReactionAdded, state.TypeReactionAdded, state.TypeReactionRemoved} {
		v.publish(state.Event{Type: typ, ID: "react-" + strconv.Itoa(i), MeetingID: v.meetingID,
			ChatID: "MAIN-PUBLIC-GROUP-CHAT", MessageID: live.ID, Emoji: "👍", Timestamp: time.Now().UnixMilli()})
	}
	pageHas(t, ctx, "reactions counted", logHas("👍 1"))
	v.publish(state.Event{Type: state.TypeMessageDeleted, ID: "del-" + live.ID, MeetingID: v.meetingID,
		ChatID: "MAIN-PUBLIC-GROUP-CHAT", MessageID: live.ID, Timestamp: time.Now().UnixMilli()})
	pageHas(t, ctx, "deleted message gone", "!("+logHas("An <edited> message")+")")

	// A read-only link: the chat, no form.
	ro := v.viewerLink(v.meetingID, false, 0)
	run(t, ctx, "open a read-only link", chromedp.Navigate(v.apiURL+"/chat/"+ro.Body["token"].(string)), chromedp.WaitVisible("#log"))
	pageHas(t, ctx, "read-only: history, no form", logHas("Welcome, <everyone>!")+` && document.getElementById("post") === null`)

	// A moderator clears the chat, then the meeting ends: the page says both.
	if err := v.sim.ClearChat(t.Context(), v.meetingID, v.bob); err != nil {
		t.Fatal(err)
	}
	pageHas(t, ctx, "cleared", `document.querySelectorAll("#log .msg").length === 0 && document.getElementById("log").textContent.includes("cleared")`)
	if err := v.sim.EndMeeting(t.Context(), v.meetingID); err != nil {
		t.Fatal(err)
	}
	pageHas(t, ctx, "meeting ended", `document.getElementById("status").textContent === "The meeting has ended."`)

	// An expired and a revoked link are refused, the page saying why.
	short := v.viewerLink(v.meetingID, true, 1)
	testenv.Eventually(t, 10*time.Second, "a one-second link refused as expired", func() bool {
		run(t, ctx, "open a link that expires", chromedp.Navigate(v.apiURL+"/chat/"+short.Body["token"].(string)))
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`!!document.getElementById("refused") && document.getElementById("refused").textContent.includes("expired") && !document.getElementById("log")`))
		return err == nil && ok
	})
	expect(t, v.call("revokeViewerLinks", "meeting_id", v.meetingID), 200, "revoked")
	run(t, ctx, "open a revoked link", chromedp.Navigate(page), chromedp.WaitVisible("#refused"))
	pageHas(t, ctx, "revoked link refused", `document.getElementById("refused").textContent.includes("revoked")`)
}

// updateScreenshots: docs/viewer.md's screenshots are taken again with -update.
func updateScreenshots() bool { return *updateGolden }

// screenshots writes docs/viewer-light.png, viewer-dark.png and viewer-phone.png of the page as it is.
func screenshots(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(t), "docs")
	shot := func(name string, w, h int64, dark bool) {
		scheme := "light"
		if dark {
			scheme = "dark"
		}
		run(t, ctx, "screenshot "+name,
			chromedp.EmulateViewport(w, h),
			colorScheme(scheme),
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Evaluate[any](`document.getElementById("post-status").textContent = ""; document.getElementById("message").value = ""; true`)(ctx, t)
				return err
			}),
			chromedp.Sleep(200*time.Millisecond), // the style change's repaint
		)
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot("viewer-light.png", 640, 420, false)
	shot("viewer-dark.png", 640, 420, true)
	shot("viewer-phone.png", 360, 560, false)
	run(t, ctx, "back to the window's size", chromedp.EmulateViewport(720, 560), colorScheme("light"))
}

// colorScheme makes the page see prefers-color-scheme as scheme (light or dark).
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}
