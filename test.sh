#!/usr/bin/env bash
# Runs every test against real redis-server and nats-server processes (started on free ports by the tests), with
# the race detector, then each fuzz target for a few seconds. Needs go, redis-server and, optionally, python3.
set -euo pipefail
cd "$(dirname "$0")"
# nats-server: the one go.mod pins, built once outside the source tree (next to Go's build cache) for every test
# package to share; BBB_CHAT_NATS_SERVER names another.
if [ -z "${BBB_CHAT_NATS_SERVER:-}" ]; then
  BBB_CHAT_NATS_SERVER="$(go env GOCACHE)/../bbb-chat/nats-server"
  mkdir -p "$(dirname "$BBB_CHAT_NATS_SERVER")"
  go build -o "$BBB_CHAT_NATS_SERVER" github.com/nats-io/nats-server/v2
  export BBB_CHAT_NATS_SERVER
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Nothing a run does may write into the source tree: what git sees is compared before and after.
tree_before=$(git status --porcelain --ignored 2>/dev/null || true)
status=0
go test -race -count=1 -timeout 20m ./... 2>&1 | tee "$log" || status=$?
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]+[a-z]' "$log" || true)
# Short fuzzing of every parser that faces input (longer runs by hand: FUZZTIME=10m ./test.sh).
fuzztime="${FUZZTIME:-5s}"
if [ "$status" -eq 0 ]; then
  for pkg in $(go list ./...); do
    for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        echo "fuzz $pkg $target $fuzztime: ok"
        passed=$((passed + 1))
      elif grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log" &&
        go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
        # Go 1.26's fuzzing coordinator can report its own -fuzztime deadline as a failure, with no failing input
        # (golang/go#75804, fixed in Go 1.27): such a run is run once more, a real finding always writes its input.
        echo "fuzz $pkg $target $fuzztime: ok (run again after the coordinator's deadline report, no input found)"
        passed=$((passed + 1))
      else
        cat "$log"
        echo "fuzz $pkg $target: FAILED (the crasher is in $pkg's testdata/fuzz/$target)"
        failed=$((failed + 1))
        status=1
      fi
    done
  done
fi
tree_after=$(git status --porcelain --ignored 2>/dev/null || true)
if [ "$tree_before" != "$tree_after" ]; then
  echo "the run wrote into the source tree:"
  diff <(echo "$tree_before") <(echo "$tree_after") || true
  failed=$((failed + 1))
  status=1
fi
echo "summary: $passed passed, $failed failed"
exit "$status"
