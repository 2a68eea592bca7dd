// Package bbbapi is the small client of BigBlueButton's own HTTP API that bbb-chat needs: getMeetingInfo, to turn
// an external meeting id that relay has not seen created into BBB's internal id. It finds BBB's URL and secret in
// bbb-web's properties files, as every BBB tool does, unless the operator sets them.
package bbbapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// ErrNotFound is returned when BBB has no running meeting with that id.
var ErrNotFound = errors.New("BBB has no such meeting")

// ErrNotConfigured is returned when neither settings nor properties files give BBB's URL and secret.
var ErrNotConfigured = errors.New("BBB's API URL and secret are not known")

// Client calls BBB's API.
type Client struct {
	URL       string // e.g. https://bbb.example.com/bigbluebutton/ (the API lives under api/)
	Secret    string
	Algorithm string // sha1 (default, works on every version), sha256, sha384 or sha512
	HTTP      *http.Client
}

// FromProperties reads serverURL and securitySalt from bbb-web's properties files (later files override earlier
// ones; missing files are skipped). Where bbb-web keeps them is config.HostDefault's to say.
func FromProperties(paths ...string) (Client, error) {
	vals := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return Client{}, fmt.Errorf("bbbapi: %w", err)
		}
		for k, v := range parseProperties(b) {
			vals[k] = v
		}
	}
	c := Client{URL: vals["bigbluebutton.web.serverURL"], Secret: vals["securitySalt"]}
	if c.URL == "" || c.Secret == "" {
		return Client{}, ErrNotConfigured
	}
	c.URL = strings.TrimSuffix(c.URL, "/") + "/bigbluebutton/"
	return c, nil
}

func parseProperties(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// Configured reports whether the client can call BBB.
func (c Client) Configured() bool { return c.URL != "" && c.Secret != "" }

// query signs a call's query string with BBB's checksum: hex(hash(call + query + secret)).
func (c Client) query(call string, params url.Values) string {
	q := params.Encode()
	var h hash.Hash
	switch c.Algorithm {
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		h = sha1.New()
	}
	io.WriteString(h, call+q+c.Secret)
	if q != "" {
		q += "&"
	}
	return q + "checksum=" + hex.EncodeToString(h.Sum(nil))
}

// MeetingInfo is what bbb-chat needs from getMeetingInfo.
type MeetingInfo struct {
	ExternalID string `xml:"meetingID"`
	InternalID string `xml:"internalMeetingID"`
	Name       string `xml:"meetingName"`
	CreateTime int64  `xml:"createTime"`
	Running    bool   `xml:"running"`
}

type meetingInfoResponse struct {
	ReturnCode string `xml:"returncode"`
	MessageKey string `xml:"messageKey"`
	Message    string `xml:"message"`
	MeetingInfo
}

// GetMeetingInfo asks BBB about a meeting by its external id.
func (c Client) GetMeetingInfo(ctx context.Context, meetingID string) (MeetingInfo, error) {
	if !c.Configured() {
		return MeetingInfo{}, ErrNotConfigured
	}
	u := strings.TrimSuffix(c.URL, "/") + "/api/getMeetingInfo?" + c.query("getMeetingInfo", url.Values{"meetingID": {meetingID}})
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return MeetingInfo{}, fmt.Errorf("bbbapi: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return MeetingInfo{}, fmt.Errorf("bbbapi: getMeetingInfo: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return MeetingInfo{}, fmt.Errorf("bbbapi: getMeetingInfo: %w", err)
	}
	var r meetingInfoResponse
	if err := xml.Unmarshal(body, &r); err != nil {
		return MeetingInfo{}, fmt.Errorf("bbbapi: getMeetingInfo: %s answered %s, not BBB's XML", redact(u), resp.Status)
	}
	switch {
	case r.ReturnCode == "SUCCESS" && r.InternalID != "":
		return r.MeetingInfo, nil
	case r.MessageKey == "notFound":
		return MeetingInfo{}, ErrNotFound
	default:
		return MeetingInfo{}, fmt.Errorf("bbbapi: getMeetingInfo: %s %s: %s", r.ReturnCode, r.MessageKey, r.Message)
	}
}

func redact(u string) string {
	if i := strings.Index(u, "?"); i >= 0 {
		return u[:i]
	}
	return u
}
