#!/usr/bin/env bash
# Runs every test against real redis-server and nats-server processes (started on free ports by the tests), with
# the race detector, then each fuzz target for a few seconds. Needs go, redis-server and, optionally, python3.
set -euo pipefail
cd "$(dirname "$0")"
if [ -z "${BBB_CHAT_NATS_SERVER:-}" ] && [ ! -x .bin/nats-server ]; then
  go build -o .bin/nats-server github.com/nats-io/nats-server/v2
fi
go test -race -count=1 -timeout 20m ./...
# Short fuzzing of every parser that faces input (longer runs by hand: FUZZTIME=10m ./test.sh).
fuzztime="${FUZZTIME:-5s}"
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/dev/null
    echo "fuzz $pkg $target $fuzztime: ok"
  done
done
