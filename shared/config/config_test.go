package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// fakeHost is a getenv for a host whose packaged files live under root: the map's keys, and every host default
// (DefaultKey) moved under root. Nothing it names is outside root.
func fakeHost(root string, m map[string]string) func(string) string {
	return func(k string) string {
		if base, ok := strings.CutSuffix(k, defaultSuffix); ok {
			if def := HostDefault(base); def != "" {
				return filepath.Join(root, def)
			}
			return ""
		}
		return m[k]
	}
}

// stringFields lists every string setting of cfg (a pointer to a config struct) by its key.
func stringFields(t *testing.T, cfg any) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		for i := 0; i < v.NumField(); i++ {
			f, sf := v.Field(i), v.Type().Field(i)
			switch {
			case sf.Anonymous && f.Kind() == reflect.Struct:
				walk(f)
			case f.Kind() == reflect.String && sf.Tag.Get("env") != "":
				out[sf.Tag.Get("env")] = f.String()
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem())
	if len(out) == 0 {
		t.Fatalf("no string settings in %T", cfg)
	}
	return out
}

// TestHermeticLoad shows that a load with a map getenv takes no host path: every path it could read comes from
// getenv, and the host's defaults only from Getenv.
func TestHermeticLoad(t *testing.T) {
	hostKeys := []string{"BBB_CHAT_ENV_FILE", "BBB_CHAT_SHARED_SECRET_FILE", "BBB_CHAT_BBB_RELEASE_FILE",
		"BBB_CHAT_BBB_PROPERTIES", "BBB_CHAT_BBB_PROPERTIES_OVERRIDE"}

	t.Run("map getenv: no host path", func(t *testing.T) {
		var asked []string
		getenv := func(k string) string {
			asked = append(asked, k)
			return map[string]string{"BBB_CHAT_SHARED_SECRET": "x"}[k]
		}
		c, err := LoadIngress(getenv)
		if err != nil {
			t.Fatal(err)
		}
		r, err := LoadRelay(getenv)
		if err != nil {
			t.Fatal(err)
		}
		for _, fields := range []map[string]string{stringFields(t, &c), stringFields(t, &r)} {
			for key, val := range fields {
				for _, hk := range hostKeys {
					if val == HostDefault(hk) {
						t.Errorf("%s = %q: a host default without Getenv", key, val)
					}
				}
			}
		}
		if c.ReleaseFile != "" || c.BBBProperties != "" || c.BBBPropertiesOverride != "" {
			t.Errorf("host paths set: %q %q %q", c.ReleaseFile, c.BBBProperties, c.BBBPropertiesOverride)
		}
		if !slices.Contains(asked, DefaultKey("BBB_CHAT_BBB_RELEASE_FILE")) {
			t.Errorf("load did not ask getenv for the host's release file: %v", asked)
		}
	})

	t.Run("host under a temp dir", func(t *testing.T) {
		root := t.TempDir()
		for path, content := range map[string]string{
			DefaultEnvFile:    "BBB_CHAT_LOG_LEVEL=debug\n",
			DefaultSecretFile: "host-secret\n",
		} {
			os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o755)
			os.WriteFile(filepath.Join(root, path), []byte(content), 0o600)
		}
		c, err := LoadIngress(fakeHost(root, nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.LogLevel != "debug" || c.SharedSecret != "host-secret" {
			t.Errorf("host files not read: level %q, secret %q", c.LogLevel, c.SharedSecret)
		}
		for key, val := range stringFields(t, &c) {
			if strings.HasPrefix(val, "/") && !strings.HasPrefix(val, root) {
				t.Errorf("%s = %q, outside the temp dir", key, val)
			}
		}
		if want := filepath.Join(root, HostDefault("BBB_CHAT_BBB_RELEASE_FILE")); c.ReleaseFile != want {
			t.Errorf("release file %q, want %q", c.ReleaseFile, want)
		}
	})

	t.Run("precedence: environment, env file, host", func(t *testing.T) {
		root := t.TempDir()
		envFile := filepath.Join(root, "set.env")
		os.WriteFile(envFile, []byte("BBB_CHAT_BBB_RELEASE_FILE=/from/file\nBBB_CHAT_BBB_PROPERTIES=/from/file\n"), 0o600)
		r, err := LoadRelay(fakeHost(root, map[string]string{
			"BBB_CHAT_ENV_FILE": envFile, "BBB_CHAT_BBB_RELEASE_FILE": "/from/env",
		}))
		if err != nil {
			t.Fatal(err)
		}
		c, err := LoadIngress(fakeHost(root, map[string]string{"BBB_CHAT_ENV_FILE": envFile, "BBB_CHAT_SHARED_SECRET": "x"}))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, got, want string }{
			{"environment over env file", r.ReleaseFile, "/from/env"},
			{"env file over host", c.BBBProperties, "/from/file"},
			{"host when unset", c.BBBPropertiesOverride, filepath.Join(root, DefaultBBBPropertiesOverride)},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
			}
		}
	})
}

func TestGetenv(t *testing.T) {
	t.Setenv("BBB_CHAT_LISTEN", "127.0.0.1:1")
	tests := []struct{ key, want string }{
		{"BBB_CHAT_LISTEN", "127.0.0.1:1"},
		{DefaultKey("BBB_CHAT_ENV_FILE"), DefaultEnvFile},
		{DefaultKey("BBB_CHAT_SHARED_SECRET_FILE"), DefaultSecretFile},
		{DefaultKey("BBB_CHAT_BBB_RELEASE_FILE"), "/etc/bigbluebutton/bigbluebutton-release"},
		{DefaultKey("BBB_CHAT_BBB_PROPERTIES"), DefaultBBBProperties},
		{DefaultKey("BBB_CHAT_BBB_PROPERTIES_OVERRIDE"), DefaultBBBPropertiesOverride},
		{DefaultKey("BBB_CHAT_LISTEN"), ""},
	}
	for _, tc := range tests {
		if got := Getenv(tc.key); got != tc.want {
			t.Errorf("Getenv(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

// TestServerID shows where the server id comes from: the setting, else the host's name (asked of getenv), else
// LocalServerID; and that a name NATS could not carry as one key is refused.
func TestServerID(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"set", map[string]string{"BBB_CHAT_SERVER_ID": "bbb-1.example.org"}, "bbb-1.example.org", false},
		{"host name", map[string]string{DefaultKey("BBB_CHAT_SERVER_ID"): "bbbhost"}, "bbbhost", false},
		{"setting over host name", map[string]string{"BBB_CHAT_SERVER_ID": "a", DefaultKey("BBB_CHAT_SERVER_ID"): "b"}, "a", false},
		{"nothing", map[string]string{}, LocalServerID, false},
		{"space", map[string]string{"BBB_CHAT_SERVER_ID": "bbb one"}, "", true},
		{"wildcard", map[string]string{"BBB_CHAT_SERVER_ID": "bbb.*"}, "", true},
		{"empty part", map[string]string{"BBB_CHAT_SERVER_ID": "bbb..one"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := LoadRelay(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && r.ServerID != tc.want {
				t.Errorf("server id %q, want %q", r.ServerID, tc.want)
			}
		})
	}
	if got := Getenv(DefaultKey("BBB_CHAT_SERVER_ID")); got != host {
		t.Errorf("Getenv's server id default %q, want the host name %q", got, host)
	}
}
