package redisfeed

import (
	"path/filepath"
	"testing"

	"github.com/bbb-chat/bbb-chat/internal/bbbmsg"
)

// The Redis messages below are shaped as BBB 2.7 sends them (docs/protocol.md); the relay's end-to-end tests
// build the same ones in their own helpers.

// captured returns the 2.7 events captured on a real server.
func captured(t testing.TB) [][]byte {
	return bbbmsg.Captured(t, filepath.Join("..", "testdata", "bbb-2.7-captured-raw.jsonl"))
}

type obj = map[string]any
