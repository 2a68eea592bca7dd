package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range f[host] {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	res := fakeResolver{
		"public.example":   {"93.184.215.14"},
		"sneaky.example":   {"93.184.215.14", "10.1.2.3"},
		"internal.example": {"10.9.9.9"},
		"v6.example":       {"2606:4700::1111"},
	}
	p, err := NewPolicy([]string{"192.168.7.0/24", "internal.example", "fd00::1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://public.example/hook", true},
		{"http://v6.example:8080/x", true},
		{"http://93.184.215.14/", true},
		{"http://127.0.0.1:8080/", false},
		{"http://[::1]/", false},
		{"http://localhost/", false}, // does not resolve here: refused
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://10.0.0.1/", false},
		{"http://172.16.5.4/", false},
		{"http://192.168.1.1/", false},
		{"http://192.168.7.20/", true}, // allowed prefix
		{"http://[fd00::1]/", true},    // allowed address
		{"http://[fd00::2]/", false},
		{"http://[::ffff:127.0.0.1]/", false}, // IPv4-mapped loopback
		{"http://100.64.0.1/", false},
		{"http://0.0.0.0/", false},
		{"http://[64:ff9b::a00:1]/", false},
		{"http://224.0.0.1/", false},
		{"http://sneaky.example/", false}, // one private address is enough
		{"http://internal.example/", true},
		{"ftp://public.example/", false},
		{"/relative", false},
	}
	for _, tc := range cases {
		err := p.CheckURL(context.Background(), tc.url, res)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("CheckURL(%q): %v does not wrap ErrForbidden", tc.url, err)
		}
	}
	if _, err := NewPolicy([]string{"not a host/x"}); err == nil {
		t.Error("bad entry accepted")
	}
}

// TestDialRefusesAtConnect shows the check at the dialled address: a loopback server cannot be reached, whatever
// the URL said, unless allowed.
func TestDialRefusesAtConnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for _, allow := range [][]string{nil, {"127.0.0.0/8"}} {
		p, _ := NewPolicy(allow)
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: p.DialContext(&net.Dialer{})}}
		resp, err := c.Get(srv.URL)
		if resp != nil {
			resp.Body.Close()
		}
		if wantOK := allow != nil; (err == nil) != wantOK {
			t.Errorf("allow %v: err = %v", allow, err)
		}
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("error %v does not wrap ErrForbidden", err)
		}
	}
}
