//go:build !unix

package natslink

import (
	"fmt"
	"os"
)

// lockStore only makes sure the store directory exists where file locks are not available.
func lockStore(dir string) (unlock func(), held bool, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, false, fmt.Errorf("NATS store %s: %w", dir, err)
	}
	return func() {}, false, nil
}
