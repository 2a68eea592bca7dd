package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/checksum"
	"github.com/bbb-chat/bbb-chat/shared/pyjson"
)

// The API's calls, as a client names them in the path and the checksum (docs/api.md).
const (
	callStart   = "startChatForMeeting"
	callEnd     = "endChatForMeeting"
	callSend    = "sendChatMessage"
	callInfo    = "getChatInfo"
	callRunning = "runningChats"
	callRetry   = "retryCallbacks"
)

// answer is an API answer: its status, its JSON body and the body as sent.
type answer struct {
	Status int
	Body   map[string]any
	Raw    string
}

// apiClient calls one ingress process with one shared secret.
type apiClient struct {
	t          *testing.T
	url        string // http://host:port
	metricsURL string // http://host:port/metrics, "" when off
	secret     string
}

// api is a client of the env's ingress, with the env's secret, as they are at the moment of the call.
func (e *env) api() apiClient { return apiClient{t: e.t, url: e.apiURL, secret: e.secret} }

// post, call and send talk to the env's ingress (see apiClient).
func (e *env) post(path string, body []byte) answer { e.t.Helper(); return e.api().post(path, body) }

func (e *env) call(call string, kv ...string) answer { e.t.Helper(); return e.api().call(call, kv...) }

func (e *env) send(meetingID, userName, message string) answer {
	e.t.Helper()
	return e.api().send(meetingID, userName, message)
}

// postURL posts body to base+path and decodes the JSON answer, failing the test when the answer is not the API's
// JSON shape.
func postURL(t *testing.T, base, path string, body []byte) answer {
	t.Helper()
	resp, err := http.Post(base+path, "", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	return readAnswer(t, path, resp)
}

// readAnswer decodes an API answer, failing the test when it is not the API's JSON shape.
func readAnswer(t *testing.T, path string, resp *http.Response) answer {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		t.Fatalf("%s: answer %d is not JSON: %q", path, resp.StatusCode, raw)
	}
	if _, ok := a.Body["success"].(bool); !ok {
		t.Fatalf("%s: answer has no success: %s", path, raw)
	}
	if _, ok := a.Body["message"].(string); !ok {
		t.Fatalf("%s: answer has no message: %s", path, raw)
	}
	return a
}

func (c apiClient) post(path string, body []byte) answer {
	c.t.Helper()
	return postURL(c.t, c.url, path, body)
}

// call signs and posts an API call the way the original's README client does; kv are parameter names and values,
// and for sendChatMessage the meeting id (the path's) comes last. A nonce keeps two identical calls within one
// second apart (each checksum is accepted once).
func (c apiClient) call(call string, kv ...string) answer {
	c.t.Helper()
	path := "/api/" + call
	if call == callSend {
		path += "/" + kv[len(kv)-1]
		kv = kv[:len(kv)-1]
	}
	kv = append(kv, "nonce", strconv.FormatInt(time.Now().UnixNano(), 10))
	return c.post(path, sign(call, strs(kv...), c.secret, time.Now().Unix()))
}

func (c apiClient) send(meetingID, userName, message string) answer {
	c.t.Helper()
	return c.call(callSend, "user_name", userName, "message", message, meetingID)
}

// sign returns the body the original's README client sends: json.dumps of the params with the checksum added last.
func sign(call string, members []pyjson.Member, secret string, unix int64) []byte {
	sum := checksum.Sign(call, pyjson.Dumps(pyjson.Object(members...)), secret, unix)
	return pyjson.Dumps(pyjson.Object(append(members, pyjson.Member{Key: "checksum", Value: pyjson.String(sum)})...))
}

// strs turns names and values into JSON string members, in order.
func strs(kv ...string) []pyjson.Member {
	var ms []pyjson.Member
	for i := 0; i+1 < len(kv); i += 2 {
		ms = append(ms, pyjson.Member{Key: kv[i], Value: pyjson.String(kv[i+1])})
	}
	return ms
}

// signRaw signs params written as the client wants them (form 2: the body's own text) and returns the body with
// the checksum added as the last member.
func signRaw(call, params, secret string, unix int64) []byte {
	sum := checksum.Sign(call, []byte(params), secret, unix)
	inner := strings.TrimSpace(params)
	inner = strings.TrimSuffix(inner, "}")
	sep := ","
	if strings.TrimSpace(strings.TrimPrefix(inner, "{")) == "" {
		sep = ""
	}
	return []byte(inner + sep + `"checksum":"` + sum + `"}`)
}

// expect asserts an answer's status, that its message contains msgPart, and that success matches the status.
func expect(t *testing.T, a answer, status int, msgPart string) {
	t.Helper()
	if a.Status != status || !strings.Contains(a.Body["message"].(string), msgPart) {
		t.Fatalf("got %d %s; want %d with %q", a.Status, a.Raw, status, msgPart)
	}
	if want := status == 200; a.Body["success"] != want {
		t.Fatalf("success = %v with status %d", a.Body["success"], status)
	}
}
