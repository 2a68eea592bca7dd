package e2e

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExternalIDFromBBBAPI: a meeting relay never saw created (it predates relay) is found by its external id
// through BBB's getMeetingInfo, here a local stand-in for bbb-web that checks the checksum as bbb-web does.
func TestExternalIDFromBBBAPI(t *testing.T) {
	const salt = "bbb-web-salt"
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.RawQuery
		i := strings.LastIndex(q, "&checksum=")
		sum := sha1.Sum([]byte("getMeetingInfo" + q[:i] + salt))
		if r.URL.Path != "/bigbluebutton/api/getMeetingInfo" || q[i+len("&checksum="):] != hex.EncodeToString(sum[:]) {
			w.Write([]byte(`<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey></response>`))
			return
		}
		if r.URL.Query().Get("meetingID") != "old-room" {
			w.Write([]byte(`<response><returncode>FAILED</returncode><messageKey>notFound</messageKey></response>`))
			return
		}
		w.Write([]byte(`<response><returncode>SUCCESS</returncode><meetingID>old-room</meetingID><internalMeetingID>0123abcd-1700000000000</internalMeetingID><createTime>1700000000000</createTime></response>`))
	}))
	defer stub.Close()
	e := newEnv(t, "2.7")
	_, c := e.startIngressWith(map[string]string{"BBB_CHAT_BBB_URL": stub.URL + "/bigbluebutton/", "BBB_CHAT_BBB_SECRET": salt})
	e.apiURL = c.url
	a := e.call("startChatForMeeting", "meeting_id", "old-room", "chat_user", "Bridge")
	expect(t, a, 200, "started")
	if a.Body["meeting_id"] != "0123abcd-1700000000000" || a.Body["meeting_known"] != true {
		t.Fatalf("not resolved through BBB's API: %s", a.Raw)
	}
	// Unknown to BBB too: taken as an internal id, as the original did.
	a = e.call("startChatForMeeting", "meeting_id", "never-created", "chat_user", "Bridge")
	if a.Body["meeting_id"] != "never-created" || a.Body["meeting_known"] != false {
		t.Fatalf("unknown meeting: %s", a.Raw)
	}
}
