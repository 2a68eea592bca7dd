package redisfeed

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bbb-chat/bbb-chat/shared/bbb"
)

func TestVersionTracker(t *testing.T) {
	dir := t.TempDir()
	release := filepath.Join(dir, "bigbluebutton-release")
	if err := os.WriteFile(release, []byte("BIGBLUEBUTTON_RELEASE=2.6.14\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, configured, file string
		hints                  []bbb.Version
		want, source           string
	}{
		{"config wins", "3.0", release, []bbb.Version{{Major: 2, Minor: 5}}, "3.0", sourceConfig},
		{"release file", "auto", release, []bbb.Version{{Major: 3, Minor: 0}}, "2.6", sourceReleaseFile},
		{"highest hint", "auto", filepath.Join(dir, "absent"), []bbb.Version{{Major: 2, Minor: 5}, {Major: 2, Minor: 7}, {Major: 2, Minor: 2}, {}}, "2.7", sourceEvents},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vt, err := NewVersions(tc.configured, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tc.hints {
				vt.observe(h)
			}
			v, src := vt.Get()
			if v.String() != tc.want || src != tc.source {
				t.Errorf("got %s from %s, want %s from %s", v, src, tc.want, tc.source)
			}
		})
	}
	if _, err := NewVersions("two point seven", ""); err == nil {
		t.Error("a bad configured version is accepted")
	}
}
