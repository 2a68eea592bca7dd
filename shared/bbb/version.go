package bbb

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrUnsupported reports a BBB version outside 2.2–4.x, or an operation the
// target version does not have (e.g. the API chat message before 3.0).
var ErrUnsupported = errors.New("unsupported BBB version")

// DefaultReleaseFile is where BBB packages record the installed release.
const DefaultReleaseFile = "/etc/bigbluebutton/bigbluebutton-release"

// Version of a BBB server (major and minor only; patch levels do not change the
// wire format). The zero value means unknown.
type Version struct{ Major, Minor int }

// Shape is the family of chat message shapes a version speaks
// (docs/protocol.md §3.2, §3.4).
type Shape int

const (
	// ShapeUnknown is the shape of the zero Version and of unsupported ones.
	ShapeUnknown Shape = iota
	// ShapeLegacy is 2.2–2.4: msg.color, sender{id,name}.
	ShapeLegacy
	// ShapeRole is 2.5–2.7: sender{id,name,role} and msg.chatEmphasizedText.
	ShapeRole
	// ShapeV3 is 3.0 and later (4.0 posts the same SendGroupChatMessageMsg):
	// sender{id,name,role}, msg.replyToMessageId and msg.metadata; emphasis is
	// computed by akka-apps.
	ShapeV3
)

// String returns the shape's name for logs.
func (s Shape) String() string {
	switch s {
	case ShapeLegacy:
		return "legacy"
	case ShapeRole:
		return "role"
	case ShapeV3:
		return "v3"
	default:
		return "unknown"
	}
}

// ParseVersion parses a BBB release string such as "2.4", "2.7.3",
// "3.0.0-beta.1", "4.0.0-beta.3", "2.4-rc-7" or "v2.6". Only major and minor
// are kept. Versions 2.2 to 2.7 and every 3.x and 4.x are accepted (a release
// after 3.0 keeps its number but posts in the 3.0 shape); anything else is an
// error, wrapping ErrUnsupported when the string is well formed but out of
// range.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimSpace(s)
	if t != "" && (t[0] == 'v' || t[0] == 'V') {
		t = t[1:]
	}
	major, rest, ok := leadingInt(t)
	if !ok || rest == "" || rest[0] != '.' {
		return Version{}, fmt.Errorf("bbb: parse version %q: want MAJOR.MINOR[.PATCH][-SUFFIX]", s)
	}
	minor, rest, ok := leadingInt(rest[1:])
	if !ok || !validVersionSuffix(rest) {
		return Version{}, fmt.Errorf("bbb: parse version %q: want MAJOR.MINOR[.PATCH][-SUFFIX]", s)
	}
	v := Version{Major: major, Minor: minor}
	if !v.supported() {
		return Version{}, fmt.Errorf("bbb: version %q: %w (want 2.2 to 4.x)", s, ErrUnsupported)
	}
	return v, nil
}

// leadingInt reads up to 6 leading ASCII digits (no BBB version needs more, and
// the bound rules out overflow).
func leadingInt(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && i < 6 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || (i < len(s) && s[i] >= '0' && s[i] <= '9') {
		return 0, s, false
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, s, false
	}
	return n, s[i:], true
}

// validVersionSuffix accepts "" or a patch/pre-release tail such as ".3",
// ".0-beta.1", "-rc-7" or "+build".
func validVersionSuffix(s string) bool {
	if s == "" {
		return true
	}
	if len(s) < 2 || (s[0] != '.' && s[0] != '-' && s[0] != '+') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '+' || c == '_') {
			return false
		}
	}
	return true
}

func (v Version) supported() bool {
	return v.Major == 2 && v.Minor >= 2 && v.Minor <= 7 || (v.Major == 3 || v.Major == 4) && v.Minor >= 0
}

// String returns "MAJOR.MINOR", e.g. "2.7", or "unknown" for the zero Version.
func (v Version) String() string {
	if v.IsZero() {
		return "unknown"
	}
	if v.Major >= 0 && v.Major <= 9 && v.Minor >= 0 && v.Minor <= 9 { // every BBB release: no allocation
		i := 3 * (10*v.Major + v.Minor)
		return shortVersions[i : i+3]
	}
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
}

// shortVersions spells every version from 0.0 to 9.9, three bytes each, for String.
const shortVersions = "0.00.10.20.30.40.50.60.70.80.9" + "1.01.11.21.31.41.51.61.71.81.9" +
	"2.02.12.22.32.42.52.62.72.82.9" + "3.03.13.23.33.43.53.63.73.83.9" + "4.04.14.24.34.44.54.64.74.84.9" +
	"5.05.15.25.35.45.55.65.75.85.9" + "6.06.16.26.36.46.56.66.76.86.9" + "7.07.17.27.37.47.57.67.77.87.9" +
	"8.08.18.28.38.48.58.68.78.88.9" + "9.09.19.29.39.49.59.69.79.89.9"

// IsZero reports whether v is the zero (unknown) Version.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Major, w.Major); c != 0 {
		return c
	}
	return cmp.Compare(v.Minor, w.Minor)
}

// Shape returns the chat message shape v speaks; ShapeUnknown for the zero
// Version and unsupported versions.
func (v Version) Shape() Shape {
	switch {
	case !v.supported():
		return ShapeUnknown
	case v.Major >= 3:
		return ShapeV3
	case v.Minor >= 5:
		return ShapeRole
	default:
		return ShapeLegacy
	}
}

// HasAPIChat reports whether v has SendGroupChatMessageFromApiSysPubMsg (3.0+,
// docs/protocol.md §3.5).
func (v Version) HasAPIChat() bool { return v.Shape() == ShapeV3 }

// HasMessageEdits reports whether v edits and deletes chat messages and
// reacts to them (3.0+, docs/protocol.md §3.7).
func (v Version) HasMessageEdits() bool { return v.Shape() == ShapeV3 }

// HasPins reports whether v pins chat messages (4.0+, docs/protocol.md §3.7).
func (v Version) HasPins() bool { return v.supported() && v.Major >= 4 }

// ReadReleaseFile reads the BBB version from a release file such as
// DefaultReleaseFile, whose relevant line is "BIGBLUEBUTTON_RELEASE=2.7.3".
// A missing file yields an error wrapping fs.ErrNotExist.
func ReadReleaseFile(path string) (Version, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Version{}, fmt.Errorf("bbb: read release file: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "BIGBLUEBUTTON_RELEASE" {
			continue
		}
		v, err := ParseVersion(strings.Trim(strings.TrimSpace(val), `"'`))
		if err != nil {
			return Version{}, fmt.Errorf("bbb: release file %s: %w", path, err)
		}
		return v, nil
	}
	return Version{}, fmt.Errorf("bbb: release file %s: no BIGBLUEBUTTON_RELEASE line", path)
}
