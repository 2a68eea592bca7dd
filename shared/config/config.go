// Package config reads the configuration of ingress and relay from the environment (and an optional env file with
// the same keys), with caarlos0/env. It owns the names, defaults and validation of every BBB_CHAT_* setting, and
// the paths where a packaged install keeps its files (HostDefault). It does not open connections, and it reads no
// file but the env file and the secret file that its getenv names: a host's files are found only through Getenv,
// so a test that passes a map reads no file it does not name.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
	"github.com/bbb-chat/bbb-chat/shared/egress"
	"github.com/caarlos0/env/v11"
)

// Where the package installs the settings and the API secret, and where bbb-web keeps its properties.
const (
	DefaultEnvFile               = "/etc/bigbluebutton/bbb-chat.env"
	DefaultSecretFile            = "/etc/bigbluebutton/bbb-chat.secret"
	DefaultBBBProperties         = "/usr/share/bbb-web/WEB-INF/classes/bigbluebutton.properties"
	DefaultBBBPropertiesOverride = "/etc/bigbluebutton/bbb-web.properties"
)

// defaultSuffix marks a getenv key that asks for the host's default of a setting (DefaultKey). A real environment
// variable cannot be named so.
const defaultSuffix = "@default"

// DefaultKey is the key under which getenv answers the host's default of key: the file a packaged install keeps
// it in, used when neither the environment nor the env file sets key. Getenv answers it with HostDefault; a test's
// map answers it only where the test names a file of its own.
func DefaultKey(key string) string { return key + defaultSuffix }

// HostDefault is where a BBB server with bbb-chat's package keeps the file that key names, or "" when key is not
// a host file's path. Only Getenv applies these, so only the binaries read a host's files unasked.
func HostDefault(key string) string {
	switch key {
	case "BBB_CHAT_ENV_FILE":
		return DefaultEnvFile // read when it exists
	case "BBB_CHAT_SHARED_SECRET_FILE":
		return DefaultSecretFile // read when it exists and no systemd credential holds the secret
	case "BBB_CHAT_BBB_RELEASE_FILE":
		return bbb.DefaultReleaseFile
	case "BBB_CHAT_BBB_PROPERTIES":
		return DefaultBBBProperties
	case "BBB_CHAT_BBB_PROPERTIES_OVERRIDE":
		return DefaultBBBPropertiesOverride
	}
	return ""
}

// Getenv is the binaries' getenv: the process environment, and the host's defaults (HostDefault) under
// DefaultKey. Tests pass a map lookup instead.
func Getenv(key string) string {
	if base, ok := strings.CutSuffix(key, defaultSuffix); ok {
		if base == "BBB_CHAT_SERVER_ID" {
			// Not a file: the host's name, so each BBB server's bbb-chat keeps its own facts without a setting.
			h, _ := os.Hostname()
			return h
		}
		return HostDefault(base)
	}
	return os.Getenv(key)
}

// DefaultSecret is the original bbb-chat's example secret; ingress warns when it is used.
const DefaultSecret = "change_me"

// Common is what both binaries read.
type Common struct {
	RedisURL   string `env:"BBB_CHAT_REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	NATSURL    string `env:"BBB_CHAT_NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	NATSCreds  string `env:"BBB_CHAT_NATS_CREDS"`
	BBBVersion string `env:"BBB_CHAT_BBB_VERSION" envDefault:"auto"`
	// ReleaseFile is where "auto" looks for BBB's version (HostDefault; empty: nowhere).
	ReleaseFile    string        `env:"BBB_CHAT_BBB_RELEASE_FILE"`
	LogLevel       string        `env:"BBB_CHAT_LOG_LEVEL" envDefault:"info"`
	LogFormat      string        `env:"BBB_CHAT_LOG_FORMAT" envDefault:"text"`
	EnvFile        string        `env:"BBB_CHAT_ENV_FILE"`
	Replicas       int           `env:"BBB_CHAT_NATS_REPLICAS" envDefault:"1"`
	StreamMaxAge   time.Duration `env:"BBB_CHAT_STREAM_MAX_AGE" envDefault:"168h"`
	StreamMaxBytes int64         `env:"BBB_CHAT_STREAM_MAX_BYTES" envDefault:"1073741824"`
	// CallbackAllow lists CIDRs and host names that callback URIs may point at although they are loopback,
	// private or otherwise special.
	CallbackAllow []string `env:"BBB_CHAT_CALLBACK_ALLOW" envSeparator:","`
	// MaxPending is how many undelivered callbacks a bridge may have before it counts as overloaded: relay warns
	// and counts it, getChatInfo shows it. Nothing is dropped for it (see docs/security.md).
	MaxPending int `env:"BBB_CHAT_CALLBACK_MAX_PENDING" envDefault:"100000"`
	// DebugListen, when set, serves Go's profiles (/debug/pprof/) on this loopback address, for a CPU or heap
	// profile of a running process. Off by default; a non-loopback address is refused.
	DebugListen string `env:"BBB_CHAT_DEBUG_LISTEN"`
	// ServerID names this BBB server among others that share the NATS server: the facts relay records about the
	// server (its BBB version) are kept under it, so another bbb-chat on the same NATS cannot change them. Empty:
	// the host's name (Getenv), else LocalServerID. Letters, digits, '.', '-' and '_'.
	ServerID string `env:"BBB_CHAT_SERVER_ID"`
}

// LocalServerID is the server id when neither a setting nor the host's name gives one (a test's getenv).
const LocalServerID = "local"

var serverIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// withServerID fills an empty ServerID with LocalServerID.
func (c *Common) withServerID() {
	if c.ServerID == "" {
		c.ServerID = LocalServerID
	}
}

// Ingress is the configuration of the ingress binary.
type Ingress struct {
	Common
	Listen        string `env:"BBB_CHAT_LISTEN" envDefault:"127.0.0.1:8090"`
	MetricsListen string `env:"BBB_CHAT_METRICS_LISTEN" envDefault:"127.0.0.1:9090"`
	SharedSecret  string `env:"BBB_CHAT_SHARED_SECRET"`
	// SharedSecretFile holds the secret instead (first line; a second line is the previous secret, still
	// accepted); under systemd the default is the credential
	// $CREDENTIALS_DIRECTORY/shared_secret (LoadCredential=), so the secret need not be in the env file.
	SharedSecretFile string        `env:"BBB_CHAT_SHARED_SECRET_FILE"`
	OldSharedSecret  string        `env:"BBB_CHAT_SHARED_SECRET_OLD"`
	TimeDelta        int64         `env:"BBB_CHAT_SHARED_SECRET_TIME_DELTA" envDefault:"5"`
	MessageTemplate  string        `env:"BBB_CHAT_MESSAGE_TEMPLATE" envDefault:"{user_name}: {message}"`
	MaxBodyBytes     int64         `env:"BBB_CHAT_MAX_BODY_BYTES" envDefault:"65536"`
	RequestTimeout   time.Duration `env:"BBB_CHAT_REQUEST_TIMEOUT" envDefault:"10s"`
	MaxBridges       int           `env:"BBB_CHAT_MAX_BRIDGES" envDefault:"10000"`
	// SendConfirmTimeout is how long sendChatMessage waits for BBB's broadcast of the posted message; 0: no wait.
	SendConfirmTimeout time.Duration `env:"BBB_CHAT_SEND_CONFIRM_TIMEOUT" envDefault:"2s"`
	// BlockedViaAPI lets a post that the locks keep the chat user from making go through BBB's chat API (3.0+)
	// under the viewer's name instead of being refused.
	BlockedViaAPI bool `env:"BBB_CHAT_BLOCKED_VIA_API" envDefault:"false"`
	// BBB's own API, to resolve external meeting ids relay has not seen created. Empty: read bbb-web's
	// properties files (BBBProperties, then BBBPropertiesOverride; HostDefault, empty: none).
	BBBURL                string `env:"BBB_CHAT_BBB_URL"`
	BBBSecret             string `env:"BBB_CHAT_BBB_SECRET"`
	BBBChecksum           string `env:"BBB_CHAT_BBB_CHECKSUM" envDefault:"sha1"`
	BBBProperties         string `env:"BBB_CHAT_BBB_PROPERTIES"`
	BBBPropertiesOverride string `env:"BBB_CHAT_BBB_PROPERTIES_OVERRIDE"`
	Viewer
}

// Viewer is the live chat page for a stream's audience (docs/viewer.md), served by ingress.
type Viewer struct {
	// PublicURL is where viewers reach ingress (the nginx snippet's https://<host>/bbb-chat): viewer links are
	// absolute under it. Empty: createViewerLink answers the path alone.
	PublicURL string `env:"BBB_CHAT_PUBLIC_URL"`
	// ViewerTemplate is how a viewer's post reads in the chat ({name}, {message}).
	ViewerTemplate string `env:"BBB_CHAT_VIEWER_TEMPLATE" envDefault:"{name} (stream): {message}"`
	// ViewerSlowMode is the least time between two posts from one address on one link (0: no limit).
	ViewerSlowMode time.Duration `env:"BBB_CHAT_VIEWER_SLOW_MODE" envDefault:"5s"`
	// ViewerBlocklistFile is a word list (one word or phrase a line): posts with one of them are refused.
	ViewerBlocklistFile string `env:"BBB_CHAT_VIEWER_BLOCKLIST_FILE"`
	// ViewerFrameAncestors are the pages that may show the viewer page in a frame: origins separated by spaces,
	// or self, none, *.
	ViewerFrameAncestors string `env:"BBB_CHAT_VIEWER_FRAME_ANCESTORS" envDefault:"self"`
	// ViewerMaxStreams is how many live update streams one address may have open (0: no cap).
	ViewerMaxStreams int `env:"BBB_CHAT_VIEWER_MAX_STREAMS_PER_ADDRESS" envDefault:"20"`
}

// ViewerRenderTemplate is the viewer template in the placeholders of BBB_CHAT_MESSAGE_TEMPLATE ({user_name}), as
// the send path renders it.
func (v Viewer) ViewerRenderTemplate() string {
	return strings.ReplaceAll(v.ViewerTemplate, "{name}", bbb.PlaceholderUserName)
}

// Validate checks the viewer settings.
func (v Viewer) Validate() error {
	var errs []error
	if v.PublicURL != "" {
		if u, err := url.Parse(v.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("BBB_CHAT_PUBLIC_URL %q: want an absolute http or https URL without query", v.PublicURL))
		}
	}
	if err := bbb.ValidateTemplate(v.ViewerRenderTemplate()); err != nil {
		errs = append(errs, fmt.Errorf("BBB_CHAT_VIEWER_TEMPLATE: %w", err))
	}
	if v.ViewerSlowMode < 0 {
		errs = append(errs, errors.New("BBB_CHAT_VIEWER_SLOW_MODE must not be negative"))
	}
	if v.ViewerMaxStreams < 0 {
		errs = append(errs, errors.New("BBB_CHAT_VIEWER_MAX_STREAMS_PER_ADDRESS must not be negative"))
	}
	for _, a := range strings.Fields(v.ViewerFrameAncestors) {
		if strings.ContainsAny(a, ";,'\"") {
			errs = append(errs, fmt.Errorf("BBB_CHAT_VIEWER_FRAME_ANCESTORS %q: want origins separated by spaces, or self, none, *", a))
		}
	}
	return errors.Join(errs...)
}

// Relay is the configuration of the relay binary.
type Relay struct {
	Common
	Listen          string        `env:"BBB_CHAT_RELAY_LISTEN" envDefault:"127.0.0.1:8091"`
	NATSEmbedded    bool          `env:"BBB_CHAT_NATS_EMBEDDED" envDefault:"true"`
	NATSStore       string        `env:"BBB_CHAT_NATS_STORE" envDefault:"/var/lib/bbb-chat/nats"`
	CallbackTimeout time.Duration `env:"BBB_CHAT_CALLBACK_TIMEOUT" envDefault:"10s"`
	// RetrySchedule is the wait before each retry of a failed callback; after the last one the delivery is kept as
	// failed. The default spans about a day, like Svix's.
	RetrySchedule []time.Duration `env:"BBB_CHAT_CALLBACK_RETRY_SCHEDULE" envSeparator:"," envDefault:"5s,5m,30m,2h,5h,10h,10h"`
	// RetryJitter is the relative jitter applied to every wait (0.2 = ±20 %).
	RetryJitter   float64       `env:"BBB_CHAT_CALLBACK_RETRY_JITTER" envDefault:"0.2"`
	MaxRetryAfter time.Duration `env:"BBB_CHAT_CALLBACK_MAX_RETRY_AFTER" envDefault:"24h"`
	// ProbeInterval is how often a receiver that callbacks wait for is sent a test event, so they go as soon as it
	// answers again; 0 turns probing off.
	ProbeInterval   time.Duration `env:"BBB_CHAT_CALLBACK_PROBE_INTERVAL" envDefault:"5s"`
	ShutdownTimeout time.Duration `env:"BBB_CHAT_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// TranscriptMaxAge is how long the transcript of an ended meeting is kept in the bbbchat_transcripts bucket;
	// 0: no transcripts are written.
	TranscriptMaxAge time.Duration `env:"BBB_CHAT_TRANSCRIPT_MAX_AGE" envDefault:"720h"`
}

// LoadIngress reads the ingress configuration. getenv is Getenv in production and a map lookup in tests.
func LoadIngress(getenv func(string) string) (Ingress, error) {
	var c Ingress
	if err := load(&c, getenv); err != nil {
		return c, err
	}
	c.withServerID()
	if c.SharedSecret == "" {
		path := c.SharedSecretFile
		if path == "" && getenv("CREDENTIALS_DIRECTORY") != "" {
			path = filepath.Join(getenv("CREDENTIALS_DIRECTORY"), "shared_secret")
			if _, err := os.Stat(path); err != nil {
				path = ""
			}
		}
		if def := getenv(DefaultKey("BBB_CHAT_SHARED_SECRET_FILE")); path == "" && def != "" {
			if _, err := os.Stat(def); err == nil {
				path = def
			}
		}
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return c, fmt.Errorf("config: shared secret file: %w", err)
			}
			// Line 1 is the secret; an optional line 2 is the previous one, still accepted while clients move
			// (rotation without putting a secret in the env file).
			var lines []string
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 {
				c.SharedSecret = lines[0]
			}
			if len(lines) > 1 && c.OldSharedSecret == "" {
				c.OldSharedSecret = lines[1]
			}
		}
	}
	return c, c.Validate()
}

// LoadRelay reads the relay configuration.
func LoadRelay(getenv func(string) string) (Relay, error) {
	var c Relay
	if err := load(&c, getenv); err != nil {
		return c, err
	}
	c.withServerID()
	return c, c.Validate()
}

// load fills cfg from getenv, falling back to the env file named by BBB_CHAT_ENV_FILE for keys the environment
// does not set, then to the host's defaults (DefaultKey) for the paths of BBB's files.
func load(cfg any, getenv func(string) string) error {
	params, err := env.GetFieldParams(cfg)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	fileVals := map[string]string{}
	path := getenv("BBB_CHAT_ENV_FILE")
	if def := getenv(DefaultKey("BBB_CHAT_ENV_FILE")); path == "" && def != "" {
		// On a host where the package is installed, the commands (check, call) find its settings by themselves.
		if _, err := os.Stat(def); err == nil {
			path = def
		}
	}
	if path != "" {
		fileVals, err = ReadEnvFile(path)
		if err != nil {
			return err
		}
	}
	environ := map[string]string{}
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			environ[p.Key] = v
		} else if v, ok := fileVals[p.Key]; ok {
			environ[p.Key] = v
		}
	}
	for _, p := range params {
		// The env file and the secret file are looked up by themselves: they are read only when they exist.
		if _, set := environ[p.Key]; set || p.Key == "BBB_CHAT_ENV_FILE" || p.Key == "BBB_CHAT_SHARED_SECRET_FILE" {
			continue
		}
		if def := getenv(DefaultKey(p.Key)); def != "" {
			environ[p.Key] = def
		}
	}
	if err := env.ParseWithOptions(cfg, env.Options{Environment: environ}); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Keys lists every setting's name with its default, for docs and `check`.
func Keys(cfg any) ([]env.FieldParams, error) { return env.GetFieldParams(cfg) }

// ReadEnvFile reads KEY=VALUE lines (systemd EnvironmentFile and docker env_file syntax: '#' comments, optional
// "export ", optional single or double quotes around the value).
func ReadEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: env file: %w", err)
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config: env file %s line %d: want KEY=VALUE", path, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		vals[k] = v
	}
	return vals, sc.Err()
}

// ErrNoSecret is returned when ingress has no shared secret.
var ErrNoSecret = errors.New("BBB_CHAT_SHARED_SECRET is not set: ingress refuses to accept unauthenticated calls")

// Validate checks what both binaries need.
func (c Common) Validate() error {
	var errs []error
	if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		errs = append(errs, fmt.Errorf("BBB_CHAT_REDIS_URL %q: want redis://host:port/db, rediss:// or unix://", c.RedisURL))
	}
	if c.NATSURL == "" {
		errs = append(errs, errors.New("BBB_CHAT_NATS_URL is empty"))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("BBB_CHAT_LOG_FORMAT %q: want text or json", c.LogFormat))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("BBB_CHAT_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("BBB_CHAT_NATS_REPLICAS %d: want 1 to 5", c.Replicas))
	}
	if _, err := egress.NewPolicy(c.CallbackAllow); err != nil {
		errs = append(errs, err)
	}
	if c.StreamMaxAge <= 0 {
		errs = append(errs, errors.New("BBB_CHAT_STREAM_MAX_AGE must be positive"))
	}
	if c.ServerID != "" && (len(c.ServerID) > 253 || !serverIDPattern.MatchString(c.ServerID)) {
		errs = append(errs, fmt.Errorf("BBB_CHAT_SERVER_ID %q: want letters, digits, '-' and '_', in parts joined by '.'", c.ServerID))
	}
	if c.MaxPending < 1 {
		errs = append(errs, fmt.Errorf("BBB_CHAT_CALLBACK_MAX_PENDING %d: want at least 1", c.MaxPending))
	}
	return errors.Join(errs...)
}

// Validate checks the ingress configuration.
func (c Ingress) Validate() error {
	errs := []error{c.Common.Validate()}
	if c.SharedSecret == "" {
		errs = append(errs, ErrNoSecret)
	}
	if c.TimeDelta < 0 || c.TimeDelta > 3600 {
		errs = append(errs, fmt.Errorf("BBB_CHAT_SHARED_SECRET_TIME_DELTA %d: want 0 to 3600 seconds", c.TimeDelta))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("BBB_CHAT_MAX_BODY_BYTES %d: want at least 1024", c.MaxBodyBytes))
	}
	errs = append(errs, c.Viewer.Validate())
	// A wait longer than BBB_CHAT_REQUEST_TIMEOUT is cut short by it: the answer then says unconfirmed.
	if c.SendConfirmTimeout < 0 {
		errs = append(errs, fmt.Errorf("BBB_CHAT_SEND_CONFIRM_TIMEOUT %s: want 0 (no wait) or a positive duration", c.SendConfirmTimeout))
	}
	return errors.Join(errs...)
}

// Secrets returns the accepted shared secrets, the current one first.
func (c Ingress) Secrets() []string {
	if c.OldSharedSecret != "" && c.OldSharedSecret != c.SharedSecret {
		return []string{c.SharedSecret, c.OldSharedSecret}
	}
	return []string{c.SharedSecret}
}

// Validate checks the relay configuration.
func (c Relay) Validate() error {
	errs := []error{c.Common.Validate()}
	if c.CallbackTimeout <= 0 {
		errs = append(errs, errors.New("BBB_CHAT_CALLBACK_TIMEOUT must be positive"))
	}
	for _, d := range c.RetrySchedule {
		if d < 0 {
			errs = append(errs, errors.New("BBB_CHAT_CALLBACK_RETRY_SCHEDULE: waits must not be negative"))
			break
		}
	}
	if c.ProbeInterval < 0 {
		errs = append(errs, errors.New("BBB_CHAT_CALLBACK_PROBE_INTERVAL must not be negative"))
	}
	if c.RetryJitter < 0 || c.RetryJitter >= 1 {
		errs = append(errs, fmt.Errorf("BBB_CHAT_CALLBACK_RETRY_JITTER %v: want 0 to <1", c.RetryJitter))
	}
	if c.TranscriptMaxAge < 0 {
		errs = append(errs, errors.New("BBB_CHAT_TRANSCRIPT_MAX_AGE must not be negative (0 turns transcripts off)"))
	}
	return errors.Join(errs...)
}
