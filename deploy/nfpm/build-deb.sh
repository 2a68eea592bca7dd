#!/usr/bin/env bash
# Build the bbb-chat .deb: static binaries into dist/bin/, then nfpm (pinned in tools/go.mod) into dist/.
# Usage: deploy/nfpm/build-deb.sh VERSION   (e.g. 1.2.0; GOARCH=arm64 for another architecture)
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 VERSION" >&2
	exit 2
fi
VERSION=${1#v}
cd "$(dirname "$0")/../.."

ARCH=${GOARCH:-$(go env GOARCH)}
export VERSION ARCH

mkdir -p dist/bin
for bin in ingress relay; do
	CGO_ENABLED=0 GOOS=linux GOARCH="$ARCH" go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -o "dist/bin/bbb-chat-$bin" "./$bin"
done

# Reproducible file dates in the package: the last commit's time, unless the caller set one.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && git rev-parse --git-dir >/dev/null 2>&1; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || true)
	export SOURCE_DATE_EPOCH
fi

deploy/nfpm/changelog.sh "$VERSION" >dist/changelog.yml
go tool -modfile=tools/go.mod nfpm package -p deb -f deploy/nfpm/nfpm.yaml -t dist/
