package bbbsim

import "fmt"

// ver is a simulated BBB release, encoded as major*10+minor so versions compare with < and >=.
type ver int

const (
	v22 ver = 22
	v23 ver = 23
	v24 ver = 24
	v25 ver = 25
	v26 ver = 26
	v27 ver = 27
	v30 ver = 30
	v40 ver = 40
)

var allVersions = []ver{v22, v23, v24, v25, v26, v27, v30, v40}

// latest is the newest version the simulator plays.
const latest = v40

// Versions lists the BBB versions the simulator can play, oldest first.
func Versions() []string {
	out := make([]string, len(allVersions))
	for i, v := range allVersions {
		out[i] = v.String()
	}
	return out
}

func (v ver) String() string { return fmt.Sprintf("%d.%d", int(v)/10, int(v)%10) }

func parseVersion(s string) (ver, error) {
	for _, v := range allVersions {
		if v.String() == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %v)", ErrVersion, s, Versions())
}
