#!/usr/bin/env bash
# Print the package's changelog for VERSION in nfpm's changelog format (nfpm turns it into the Debian changelog,
# /usr/share/doc/bbb-chat/changelog.Debian.gz). One entry: the release notes are the repository's history. The
# date is SOURCE_DATE_EPOCH's (reproducible), else now.
# Usage: deploy/nfpm/changelog.sh VERSION >dist/changelog.yml
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 VERSION" >&2
	exit 2
fi
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
cat <<YAML
- semver: ${1#v}
  date: $date
  packager: bbb-chat maintainers <bbb-chat@users.noreply.github.com>
  changes:
    - note: "bbb-chat ${1#v}: see https://github.com/bbb-chat/bbb-chat for what changed."
YAML
