package bbbapi

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stub is a local stand-in for bbb-web's getMeetingInfo, checking the checksum as bbb-web does.
func stub(t *testing.T, secret string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bigbluebutton/api/getMeetingInfo" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.RawQuery
		i := strings.LastIndex(q, "&checksum=")
		sum := sha1.Sum([]byte("getMeetingInfo" + q[:i] + secret))
		if q[i+len("&checksum="):] != hex.EncodeToString(sum[:]) {
			w.Write([]byte(`<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey><message>Checksums do not match</message></response>`))
			return
		}
		switch r.URL.Query().Get("meetingID") {
		case "room 1":
			w.Write([]byte(`<response><returncode>SUCCESS</returncode><meetingName>Room</meetingName><meetingID>room 1</meetingID><internalMeetingID>abc-123</internalMeetingID><createTime>123</createTime><running>true</running></response>`))
		default:
			w.Write([]byte(`<response><returncode>FAILED</returncode><messageKey>notFound</messageKey><message>A meeting with that ID does not exist</message></response>`))
		}
	}))
}

func TestGetMeetingInfo(t *testing.T) {
	srv := stub(t, "salt")
	defer srv.Close()
	dir := t.TempDir()
	def := filepath.Join(dir, "bigbluebutton.properties")
	over := filepath.Join(dir, "bbb-web.properties")
	os.WriteFile(def, []byte("# defaults\nbigbluebutton.web.serverURL=http://wrong.example\nsecuritySalt=wrong\n"), 0o644)
	os.WriteFile(over, []byte("bigbluebutton.web.serverURL="+srv.URL+"\nsecuritySalt=salt\n"), 0o644)
	c, err := FromProperties(def, over, filepath.Join(dir, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.GetMeetingInfo(context.Background(), "room 1")
	if err != nil || m.InternalID != "abc-123" || m.ExternalID != "room 1" {
		t.Fatalf("got %+v, %v", m, err)
	}
	if _, err := c.GetMeetingInfo(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown meeting: %v", err)
	}
	c.Secret = "bad"
	if _, err := c.GetMeetingInfo(context.Background(), "room 1"); err == nil || !strings.Contains(err.Error(), "checksumError") {
		t.Fatalf("bad secret: %v", err)
	}
	if _, err := FromProperties(filepath.Join(dir, "missing")); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("no files: %v", err)
	}
}
