package pyjson

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (runs python3)")

// vector is one line of testdata/vectors.jsonl, written by
// testdata/gen_vectors.py with CPython.
type vector struct {
	Name  string  `json:"name"`
	In    string  `json:"in"` // base64
	Out   *string `json:"out"`
	Error *string `json:"error"`
}

func readVectors(t *testing.T, path string) []vector {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v vector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		vs = append(vs, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func regenerate(t *testing.T, which, golden string) {
	t.Helper()
	cmd := exec.Command("python3", filepath.Join("testdata", "gen_vectors.py"), which)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gen_vectors.py %s: %v", which, err)
	}
	if err := os.WriteFile(golden, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVectors(t *testing.T) {
	golden := filepath.Join("testdata", "vectors.jsonl")
	if *update {
		regenerate(t, "pyjson", golden)
	}
	vs := readVectors(t, golden)
	if len(vs) < 100 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for _, vec := range vs {
		t.Run(vec.Name, func(t *testing.T) {
			in, err := base64.StdEncoding.DecodeString(vec.In)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Parse(in)
			if vec.Error != nil {
				if err == nil {
					t.Fatalf("Parse accepted what CPython rejects (%s): %s", *vec.Error, Dumps(v))
				}
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("error %v does not match ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := string(Dumps(v)); got != *vec.Out {
				t.Fatalf("Dumps mismatch\n got: %s\nwant: %s", got, *vec.Out)
			}
			if v.Kind() == KindObject {
				got, err := Canonical(in)
				if err != nil || string(got) != *vec.Out {
					t.Fatalf("Canonical = %q, %v; want %q", got, err, *vec.Out)
				}
			}
		})
	}
}
