package bbb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr error // nil: success; errAny: any error
	}{
		{"2.2", Version{2, 2}, nil},
		{"2.2.36", Version{2, 2}, nil},
		{"2.3.16", Version{2, 3}, nil},
		{"2.4", Version{2, 4}, nil},
		{"2.4-rc-7", Version{2, 4}, nil},
		{"2.5.0", Version{2, 5}, nil},
		{"2.6.14", Version{2, 6}, nil},
		{"2.7.3", Version{2, 7}, nil},
		{"v2.6", Version{2, 6}, nil},
		{"V2.6", Version{2, 6}, nil},
		{" 2.7.3\n", Version{2, 7}, nil},
		{"3.0", Version{3, 0}, nil},
		{"3.0.0-beta.1", Version{3, 0}, nil},
		{"3.0.32", Version{3, 0}, nil},
		{"3.1", Version{3, 1}, nil},
		{"3.10.2+build.5", Version{3, 10}, nil},
		{"4.0", Version{4, 0}, nil},
		{"4.0.0-beta.3", Version{4, 0}, nil},
		{"4.0.1", Version{4, 0}, nil},
		{"v4.1", Version{4, 1}, nil},
		{"1.1", Version{}, ErrUnsupported},
		{"2.0", Version{}, ErrUnsupported},
		{"2.1.9", Version{}, ErrUnsupported},
		{"2.8", Version{}, ErrUnsupported},
		{"5.0", Version{}, ErrUnsupported},
		{"5.0.0-beta.1", Version{}, ErrUnsupported},
		{"0.0", Version{}, ErrUnsupported},
		{"", Version{}, errAny},
		{"x", Version{}, errAny},
		{"2", Version{}, errAny},
		{"2.", Version{}, errAny},
		{"2.7.", Version{}, errAny},
		{".7", Version{}, errAny},
		{"vv2.6", Version{}, errAny},
		{"2.7 beta", Version{}, errAny},
		{"2.x", Version{}, errAny},
		{"-2.7", Version{}, errAny},
		{"99999999999999999999.1", Version{}, errAny},
		{"2.99999999999999999999", Version{}, errAny},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseVersion(tc.in)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("ParseVersion(%q) error %v", tc.in, err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("ParseVersion(%q) = %v, want error", tc.in, got)
			case tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("ParseVersion(%q) error %v, want %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseVersion(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestVersionMethods(t *testing.T) {
	tests := []struct {
		v       Version
		str     string
		shape   Shape
		apiChat bool
		edits   bool
		pins    bool
	}{
		{Version{}, "unknown", ShapeUnknown, false, false, false},
		{Version{2, 2}, "2.2", ShapeLegacy, false, false, false},
		{Version{2, 3}, "2.3", ShapeLegacy, false, false, false},
		{Version{2, 4}, "2.4", ShapeLegacy, false, false, false},
		{Version{2, 5}, "2.5", ShapeRole, false, false, false},
		{Version{2, 6}, "2.6", ShapeRole, false, false, false},
		{Version{2, 7}, "2.7", ShapeRole, false, false, false},
		{Version{3, 0}, "3.0", ShapeV3, true, true, false},
		{Version{3, 2}, "3.2", ShapeV3, true, true, false},
		{Version{4, 0}, "4.0", ShapeV3, true, true, true},
		{Version{4, 1}, "4.1", ShapeV3, true, true, true},
		{Version{2, 8}, "2.8", ShapeUnknown, false, false, false},
		{Version{1, 1}, "1.1", ShapeUnknown, false, false, false},
		{Version{5, 0}, "5.0", ShapeUnknown, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.str, func(t *testing.T) {
			if got := tc.v.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			if got := tc.v.Shape(); got != tc.shape {
				t.Errorf("Shape() = %v, want %v", got, tc.shape)
			}
			if got := tc.v.HasAPIChat(); got != tc.apiChat {
				t.Errorf("HasAPIChat() = %v, want %v", got, tc.apiChat)
			}
			if got := tc.v.HasMessageEdits(); got != tc.edits {
				t.Errorf("HasMessageEdits() = %v, want %v", got, tc.edits)
			}
			if got := tc.v.HasPins(); got != tc.pins {
				t.Errorf("HasPins() = %v, want %v", got, tc.pins)
			}
			if got := tc.v.IsZero(); got != (tc.v == Version{}) {
				t.Errorf("IsZero() = %v", got)
			}
			if tc.shape != ShapeUnknown {
				back, err := ParseVersion(tc.v.String())
				if err != nil || back != tc.v {
					t.Errorf("ParseVersion(String()) = %v, %v; want %v", back, err, tc.v)
				}
			}
		})
	}
}

func TestVersionCompare(t *testing.T) {
	order := []Version{{}, {2, 2}, {2, 4}, {2, 5}, {2, 7}, {3, 0}, {3, 1}, {3, 10}, {4, 0}}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%v.Compare(%v) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestReadReleaseFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		content string
		want    Version
		wantErr bool
	}{
		{"plain", "BIGBLUEBUTTON_RELEASE=2.7.3\n", Version{2, 7}, false},
		{"no newline", "BIGBLUEBUTTON_RELEASE=3.0.0-beta.1", Version{3, 0}, false},
		{"rc", "BIGBLUEBUTTON_RELEASE=2.4-rc-7\n", Version{2, 4}, false},
		{"4.0 beta", "BIGBLUEBUTTON_RELEASE=4.0.0-beta.3\n", Version{4, 0}, false},
		{"spaces comments quotes", "# installed by bbb-install\n\n BIGBLUEBUTTON_RELEASE = \"2.6.14\" \r\nOTHER=1\n", Version{2, 6}, false},
		{"crlf", "BIGBLUEBUTTON_RELEASE=2.5.0\r\n", Version{2, 5}, false},
		{"empty", "", Version{}, true},
		{"no key", "RELEASE=2.7.3\n", Version{}, true},
		{"bad value", "BIGBLUEBUTTON_RELEASE=banana\n", Version{}, true},
		{"unsupported", "BIGBLUEBUTTON_RELEASE=1.1.0\n", Version{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadReleaseFile(write(tc.name, tc.content))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ReadReleaseFile error %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ReadReleaseFile = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadReleaseFile(filepath.Join(dir, "does-not-exist"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("error %v, want one wrapping fs.ErrNotExist", err)
		}
	})
}

func TestVersionString(t *testing.T) {
	for major := range 12 {
		for minor := range 12 {
			v := Version{major, minor}
			want := fmt.Sprintf("%d.%d", major, minor)
			if v.IsZero() {
				want = "unknown"
			}
			if got := v.String(); got != want {
				t.Errorf("Version{%d, %d}.String() = %q, want %q", major, minor, got, want)
			}
		}
	}
	if got := (Version{2, 17}).String(); got != "2.17" {
		t.Errorf("2.17: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Version{2, 7}.String() }); n != 0 {
		t.Errorf("String allocates %v times for 2.7", n)
	}
}
