package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/internal/apispec"
	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// routedAPI is an api with its routes, connected to nothing (Redis at an address nothing listens on).
func routedAPI(t *testing.T) (*api, http.Handler) {
	rl := &reloadable{level: new(slog.LevelVar)}
	rl.verify.Store(&checksum.Verifier{})
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	a := &api{
		log: slog.New(slog.DiscardHandler), now: time.Now, live: rl, rdb: rdb,
		m: newAPIMetrics(prometheus.NewRegistry()),
	}
	a.cfg.MaxBodyBytes = 1 << 10
	a.cfg.RequestTimeout = time.Second
	return a, a.routes()
}

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml valid and in step with the router: every call ingress routes is
// described, and every described path is routed (an unrouted one answers "No such API call").
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, err := apispec.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	a, h := routedAPI(t)
	ops := apispec.Operations(doc)
	for _, name := range a.callNames {
		if !slices.ContainsFunc(ops, func(o apispec.Operation) bool {
			return o.Method == http.MethodPost && (o.Path == "/api/"+name || strings.HasPrefix(o.Path, "/api/"+name+"/{"))
		}) {
			t.Errorf("ingress routes POST /api/%s; docs/openapi.yaml does not describe it", name)
		}
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, o := range ops {
		path := param.ReplaceAllString(o.Path, "x")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(o.Method, path, strings.NewReader("")))
		if w.Code == http.StatusNotFound || w.Code == http.StatusMethodNotAllowed {
			t.Errorf("docs/openapi.yaml describes %s %s; ingress answers %d %s", o.Method, o.Path, w.Code, w.Body)
		}
		if strings.HasPrefix(o.Path, "/api/") {
			name := strings.Split(strings.TrimPrefix(o.Path, "/api/"), "/")[0]
			if o.Op.OperationID != name {
				t.Errorf("%s: operationId %q; want the call's name %q", o.Path, o.Op.OperationID, name)
			}
		}
	}
}

// TestOpenAPIInAPIDoc: every field of every answer that docs/openapi.yaml describes is named in the call's section
// of docs/api.md, so the prose cannot forget one either.
func TestOpenAPIInAPIDoc(t *testing.T) {
	doc, err := apispec.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range apispec.Operations(doc) {
		if !strings.HasPrefix(o.Path, "/api/") {
			continue
		}
		name := o.Op.OperationID
		section := apiDocSection(string(md), name)
		if section == "" {
			t.Errorf("docs/api.md has no section ### %s", name)
			continue
		}
		ok := o.Op.Responses.Status(http.StatusOK)
		if ok == nil {
			t.Errorf("%s: no 200 answer described", name)
			continue
		}
		for _, f := range apispec.Fields(ok.Value.Content.Get("application/json").Schema) {
			leaf := f[strings.LastIndexByte(f, '.')+1:]
			if leaf == "success" || leaf == "message" {
				continue
			}
			if !strings.Contains(section, "`"+leaf+"`") {
				t.Errorf("docs/api.md, ### %s, does not name the answer's field `%s`", name, f)
			}
		}
	}
}

// TestOpenAPICallbacksInAPIDoc: every callback docs/openapi.yaml describes is named in docs/api.md's "Callbacks"
// section (a kind, or a first spelling), with every member of its body (in backquotes, or as a key of an example);
// a nested member's name is in api.md where its shape is described.
func TestOpenAPICallbacksInAPIDoc(t *testing.T) {
	doc, err := apispec.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(md), "\n## Callbacks\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if !found {
		t.Fatal("docs/api.md has no section ## Callbacks")
	}
	named := func(s string) bool {
		return strings.Contains(section, "`"+s+"`") || strings.Contains(section, `"`+s+`"`)
	}
	callbacks := doc.Paths.Find("/api/startChatForMeeting").Post.Callbacks
	if len(callbacks) == 0 {
		t.Fatal("docs/openapi.yaml describes no callbacks")
	}
	for name, cb := range callbacks {
		if !named(name) {
			t.Errorf("docs/api.md, ## Callbacks, does not name the callback %s", name)
		}
		for _, item := range cb.Value.Map() {
			for _, f := range apispec.Fields(item.Post.RequestBody.Value.Content.Get("application/json").Schema) {
				// A member inside a member (the transcript callback's transcript, getChatTranscript's json) is
				// described where that shape is: its outer member named here, its own name somewhere in api.md.
				if top, _, nested := strings.Cut(f, "."); nested {
					leaf := f[strings.LastIndex(f, ".")+1:]
					if !named(top) || !strings.Contains(string(md), "`"+leaf+"`") {
						t.Errorf("docs/api.md does not name the %s callback's member %s", name, f)
					}
					continue
				}
				if !named(f) {
					t.Errorf("docs/api.md, ## Callbacks, does not name the %s callback's member %s", name, f)
				}
			}
		}
	}
}

// apiDocSection is the text of docs/api.md's "### name…" section, up to the next heading.
func apiDocSection(md, name string) string {
	for _, part := range strings.Split(md, "\n### ")[1:] {
		title, _, _ := strings.Cut(part, "\n")
		if title == name || strings.HasPrefix(title, name+"/") || strings.HasPrefix(title, name+" ") {
			body, _, _ := strings.Cut(part, "\n## ")
			return body
		}
	}
	return ""
}

// TestOutcomeLogged: every answered request is one log line at info with its call, status and duration.
func TestOutcomeLogged(t *testing.T) {
	a, h := routedAPI(t)
	var buf strings.Builder
	a.log = slog.New(slog.NewTextHandler(&buf, nil))
	for _, path := range []string{"/api/getChatInfo", "/api/nothing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"meeting_id": "m"}`)))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged:\n%s", buf.String())
	}
	for i, want := range []string{
		`level=INFO msg="request refused" call=getChatInfo status=401 err="No checksum was given." duration=`,
		`level=INFO msg="request refused" call=other status=404 err="unknown path" duration=`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s\nwant %s", i, lines[i], want)
		}
	}
}

// TestOpenAPIRequests: the description accepts the bodies clients send (signed as the original's README client
// does, with a nonce) and refuses those with a missing or mistyped parameter, as ingress's own checks do.
func TestOpenAPIRequests(t *testing.T) {
	doc, err := apispec.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	str := func(kv ...string) pyjson.Value {
		var ms []pyjson.Member
		for i := 0; i+1 < len(kv); i += 2 {
			ms = append(ms, pyjson.Member{Key: kv[i], Value: pyjson.String(kv[i+1])})
		}
		return pyjson.Object(ms...)
	}
	// with is v with one more member.
	with := func(v pyjson.Value, key string, val pyjson.Value) pyjson.Value {
		return pyjson.Object(append(v.Members(), pyjson.Member{Key: key, Value: val})...)
	}
	startWith := func(events ...string) pyjson.Value {
		var kinds []pyjson.Value
		for _, e := range events {
			kinds = append(kinds, pyjson.String(e))
		}
		return with(str("meeting_id", "m", "chat_user", "Bridge", "callback_uri", "https://r.example/hook",
			"callback_secret", "s"), "callback_events", pyjson.Array(kinds...))
	}
	withEvents := startWith("meetingEnded")
	tests := []struct {
		template, path, call string
		params               pyjson.Value
		ok                   bool
	}{
		{"/api/startChatForMeeting", "/api/startChatForMeeting", callStart, str("meeting_id", "m", "chat_user", "Bridge", "nonce", "1"), true},
		{"/api/startChatForMeeting", "/api/startChatForMeeting", callStart, withEvents, true},
		{"/api/startChatForMeeting", "/api/startChatForMeeting", callStart, str("meeting_id", "m", "callback_events", "meetingEnded,chatCleared"), false},
		{"/api/sendChatMessage/{meeting_id}", "/api/sendChatMessage/m", callSend, str("user_name", "Ann", "message", "Hi"), true},
		{"/api/sendChatMessage/{meeting_id}", "/api/sendChatMessage/m", callSend, str("user_name", "Ann"), false},
		{"/api/endChatForMeeting", "/api/endChatForMeeting", callEnd, str("meeting_id", "m"), true},
		{"/api/getChatInfo", "/api/getChatInfo", callInfo, str("meeting_id", "m"), true},
		{"/api/getChatInfo", "/api/getChatInfo", callInfo, str("nonce", "1"), false},
		{"/api/runningChats", "/api/runningChats", callRunning, str(), true},
		{"/api/startChatForMeeting", "/api/startChatForMeeting", callStart, startWith("all"), true},
		{"/api/startChatForMeeting", "/api/startChatForMeeting", callStart, startWith("chatCleared", "user.joined", "reaction.added", "gap", "transcript"), true},
		{"/api/startChatForMeeting", "/api/startChatForMeeting", callStart, startWith("cleared", "reactions"), false},
		{"/api/retryCallbacks", "/api/retryCallbacks", callRetry, str("meeting_id", "m"), true},
		{"/api/retryCallbacks", "/api/retryCallbacks", callRetry, with(str("meeting_id", "m"), "pending", pyjson.Bool(true)), true},
		{"/api/retryCallbacks", "/api/retryCallbacks", callRetry, with(str("meeting_id", "m"), "pending", pyjson.Null()), true},
		{"/api/retryCallbacks", "/api/retryCallbacks", callRetry, str("meeting_id", "m", "pending", "yes"), false},
		{"/api/pingCallback", "/api/pingCallback", callPing, str("meeting_id", "m"), true},
		{"/api/pingCallback", "/api/pingCallback", callPing, str(), false},
		{"/api/createViewerLink", "/api/createViewerLink", callCreateViewerLink, str("meeting_id", "m"), true},
		{"/api/createViewerLink", "/api/createViewerLink", callCreateViewerLink,
			with(with(str("meeting_id", "m"), "can_post", pyjson.Bool(false)), "expires_in", pyjson.Int(3600)), true},
		{"/api/createViewerLink", "/api/createViewerLink", callCreateViewerLink, with(str("meeting_id", "m"), "expires_in", pyjson.Int(0)), false},
		{"/api/createViewerLink", "/api/createViewerLink", callCreateViewerLink, str("meeting_id", "m", "can_post", "no"), false},
		{"/api/revokeViewerLinks", "/api/revokeViewerLinks", callRevokeViewerLinks, str("meeting_id", "m"), true},
		{"/api/revokeViewerLinks", "/api/revokeViewerLinks", callRevokeViewerLinks, str("nonce", "1"), false},
	}
	for _, tc := range tests {
		body := checksum.SignedBody(tc.call, tc.params, "secret", 1700000000)
		err := apispec.CheckRequest(t.Context(), doc, http.MethodPost, tc.template, tc.path, map[string]string{"meeting_id": "m"}, body)
		if (err == nil) != tc.ok {
			t.Errorf("%s %s: %v; want accepted %v", tc.path, body, err, tc.ok)
		}
		// Ingress's own checks agree with the description.
		pathID := ""
		if tc.call == callSend {
			pathID = "m"
		}
		if _, err := decodeRequest(tc.call, tc.params, pathID); (err == nil) != tc.ok {
			t.Errorf("%s %s: ingress says %v; the description says accepted %v", tc.path, pyjson.Dumps(tc.params), err, tc.ok)
		}
	}
	// A checksum that is not lowercase hex SHA-512 is not what the description allows.
	if err := apispec.CheckRequest(t.Context(), doc, http.MethodPost, "/api/getChatInfo", "/api/getChatInfo", nil,
		[]byte(`{"meeting_id": "m", "checksum": "ABC"}`)); err == nil {
		t.Error("a malformed checksum was accepted")
	}
}
