#!/usr/bin/env bash
# Print the package's changelog for VERSION in nfpm's changelog format (nfpm turns it into the Debian changelog,
# /usr/share/doc/bbb-chat/changelog.Debian.gz). One entry: the release notes are the repository's history. The
# entry's version is the package's Debian version (nfpm's mapping of VERSION: 1.2.0-rc1 is 1.2.0~rc1, release 1);
# the date is SOURCE_DATE_EPOCH's (reproducible), else now.
# Usage: deploy/nfpm/changelog.sh VERSION >dist/changelog.yml
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 VERSION" >&2
	exit 2
fi
version=${1#v}
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
cat <<YAML
- semver: ${version/-/\~}-1
  date: $date
  packager: bbb-chat maintainers <bbb-chat@users.noreply.github.com>
  deb:
    urgency: medium
    distributions: [unstable]
  changes:
    - note: "Release ${version}: see the history of github.com/bbb-chat/bbb-chat"
YAML
