package pyjson

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDifferentialPython compares Dumps(Parse(doc)) with CPython's
// json.dumps(json.loads(doc)) on random documents, valid and broken. It
// skips when python3 is not installed.
func TestDifferentialPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	n := 50000
	if testing.Short() {
		n = 5000
	}
	g := docGen{r: rand.New(rand.NewPCG(1, 2))}
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = bytes.Clone(g.doc())
	}

	cmd := exec.Command(py, filepath.Join("testdata", "gen_vectors.py"), "roundtrip")
	var in bytes.Buffer
	for _, d := range docs {
		in.WriteString(base64.StdEncoding.EncodeToString(d))
		in.WriteByte('\n')
	}
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	var accepted, rejected, mismatches int
	for i := 0; sc.Scan(); i++ {
		if i >= n {
			t.Fatal("python3 printed more lines than documents")
		}
		line := sc.Text()
		if line == "ENC" {
			continue // python would guess UTF-16/32; see the package doc
		}
		v, perr := Parse(docs[i])
		pyOK := strings.HasPrefix(line, "OK ")
		switch {
		case pyOK && perr != nil:
			mismatches++
			t.Errorf("doc %d %q: python accepted (%s), Parse: %v", i, docs[i], line, perr)
		case !pyOK && perr == nil:
			mismatches++
			t.Errorf("doc %d %q: python rejected (%s), Parse accepted: %s", i, docs[i], line, Dumps(v))
		case pyOK:
			accepted++
			if got := string(Dumps(v)); got != line[3:] {
				mismatches++
				t.Errorf("doc %d %q:\n  go: %s\n  py: %s", i, docs[i], got, line[3:])
			}
		default:
			rejected++
		}
		if mismatches > 20 {
			t.Fatal("too many mismatches")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d documents: %d accepted, %d rejected by both", n, accepted, rejected)
	if accepted < n/2 || rejected < n/20 {
		t.Errorf("generator is unbalanced: %d accepted, %d rejected", accepted, rejected)
	}
}
