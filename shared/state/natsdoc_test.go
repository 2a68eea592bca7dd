package state

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"
)

// TestNATSDocBuckets: docs/nats.md's bucket table names exactly the buckets Open makes, and the transcripts
// Object Store, each once.
func TestNATSDocBuckets(t *testing.T) {
	md, err := os.ReadFile("../../docs/nats.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(bbbchat_[a-z0-9_]+)` \\|").FindAllStringSubmatch(string(md), -1) {
		documented = append(documented, m[1])
	}
	buckets, _ := definitions(Options{NonceTTL: time.Minute}.withDefaults())
	var made []string
	for _, b := range buckets {
		made = append(made, b.cfg.Bucket)
	}
	made = append(made, BucketTranscripts) // the Object Store relay makes (EnsureTranscripts)
	sort.Strings(documented)
	sort.Strings(made)
	if !slices.Equal(documented, made) {
		t.Errorf("docs/nats.md's bucket table names %v; Open makes %v", documented, made)
	}
}
