package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := LoadIngress(getenv(map[string]string{"BBB_CHAT_SHARED_SECRET": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8090" || c.TimeDelta != 5 || c.RedisURL != "redis://127.0.0.1:6379/0" || c.BBBVersion != "auto" {
		t.Fatalf("defaults: %+v", c)
	}
	r, err := LoadRelay(getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !r.NATSEmbedded || r.NATSStore != "/var/lib/bbb-chat/nats" || len(r.RetrySchedule) != 7 || r.RetrySchedule[6] != 10*time.Hour {
		t.Fatalf("relay defaults: %+v", r)
	}
}

func TestSecretRequiredAndFromFile(t *testing.T) {
	if _, err := LoadIngress(getenv(nil)); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("no secret: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "shared_secret"), []byte("from-credential\n"), 0o600)
	c, err := LoadIngress(getenv(map[string]string{"CREDENTIALS_DIRECTORY": dir}))
	if err != nil || c.SharedSecret != "from-credential" {
		t.Fatalf("credential: %q %v", c.SharedSecret, err)
	}
	os.WriteFile(filepath.Join(dir, "s"), []byte("from-file"), 0o600)
	c, err = LoadIngress(getenv(map[string]string{"BBB_CHAT_SHARED_SECRET_FILE": filepath.Join(dir, "s")}))
	if err != nil || c.SharedSecret != "from-file" {
		t.Fatalf("file: %q %v", c.SharedSecret, err)
	}
	c, _ = LoadIngress(getenv(map[string]string{"BBB_CHAT_SHARED_SECRET": "env", "CREDENTIALS_DIRECTORY": dir}))
	if c.SharedSecret != "env" {
		t.Fatalf("the environment wins: %q", c.SharedSecret)
	}
}

func TestEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bbb-chat.env")
	os.WriteFile(path, []byte("# comment\nexport BBB_CHAT_LISTEN=0.0.0.0:1\nBBB_CHAT_SHARED_SECRET='quoted'\n\nBBB_CHAT_LOG_LEVEL=\"debug\"\n"), 0o600)
	c, err := LoadIngress(getenv(map[string]string{"BBB_CHAT_ENV_FILE": path, "BBB_CHAT_LOG_LEVEL": "warn"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:1" || c.SharedSecret != "quoted" || c.LogLevel != "warn" {
		t.Fatalf("env file: %+v (the environment wins over the file)", c)
	}
	os.WriteFile(path, []byte("not a line\n"), 0o600)
	if _, err := LoadIngress(getenv(map[string]string{"BBB_CHAT_ENV_FILE": path})); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad env file: %v", err)
	}
}

func TestValidation(t *testing.T) {
	cases := map[string]map[string]string{
		"redis url":  {"BBB_CHAT_REDIS_URL": "http://x"},
		"log format": {"BBB_CHAT_LOG_FORMAT": "xml"},
		"log level":  {"BBB_CHAT_LOG_LEVEL": "loud"},
		"time delta": {"BBB_CHAT_SHARED_SECRET_TIME_DELTA": "-1"},
		"allow list": {"BBB_CHAT_CALLBACK_ALLOW": "a b"},
		"duration":   {"BBB_CHAT_STREAM_MAX_AGE": "soon"},
		"replicas":   {"BBB_CHAT_NATS_REPLICAS": "9"},
		"body limit": {"BBB_CHAT_MAX_BODY_BYTES": "10"},
	}
	for name, m := range cases {
		m["BBB_CHAT_SHARED_SECRET"] = "x"
		if _, err := LoadIngress(getenv(m)); err == nil {
			t.Errorf("%s: accepted %v", name, m)
		}
	}
	if _, err := LoadRelay(getenv(map[string]string{"BBB_CHAT_CALLBACK_RETRY_JITTER": "1.5"})); err == nil {
		t.Error("jitter 1.5 accepted")
	}
}

func TestSecretFileWithPreviousSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(path, []byte("# rotated on Monday\nnew-secret\nold-secret\n"), 0o600)
	c, err := LoadIngress(getenv(map[string]string{"BBB_CHAT_SHARED_SECRET_FILE": path}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Secrets(); len(got) != 2 || got[0] != "new-secret" || got[1] != "old-secret" {
		t.Fatalf("Secrets() = %q", got)
	}
}
