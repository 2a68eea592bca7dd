package natslink

import "testing"

func TestNATSHostPort(t *testing.T) {
	cases := map[string]string{
		"nats://127.0.0.1:4333":                      "127.0.0.1:4333",
		"nats://user:pw@localhost":                   "localhost:4222",
		"127.0.0.1:5000":                             "127.0.0.1:5000",
		"nats://10.0.0.1:4222, nats://10.0.0.2:4222": "10.0.0.1:4222",
	}
	for in, want := range cases {
		if got, err := HostPort(in); err != nil || got != want {
			t.Errorf("HostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
