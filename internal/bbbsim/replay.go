package bbbsim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
)

// Replay publishes captured events, one JSON document a line, verbatim on from-akka-apps-redis-channel, as akka
// published them. Blank lines are skipped; a line that is not JSON stops the replay with an error. It returns how
// many lines it published.
func Replay(ctx context.Context, rdb *redis.Client, r io.Reader) (int, error) {
	br := bufio.NewReader(r)
	n, lineNo := 0, 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			line = bytes.TrimRight(line, "\r\n")
			if len(bytes.TrimSpace(line)) > 0 {
				if !json.Valid(line) {
					return n, fmt.Errorf("bbbsim: replay line %d: not JSON", lineNo)
				}
				if perr := rdb.Publish(ctx, ChannelFromAkka, line).Err(); perr != nil {
					return n, fmt.Errorf("bbbsim: replay line %d: publish: %w", lineNo, perr)
				}
				n++
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("bbbsim: replay: read: %w", err)
		}
	}
}
