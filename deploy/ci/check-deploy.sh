#!/usr/bin/env bash
# CI check of the packaging: docker-compose.yml, the Dockerfile, the .deb (contents, conffiles, maintainer scripts),
# the systemd units and the Ansible playbook. Needs no Docker engine and no systemd running; installs what it needs
# with apt-get (Debian 12, as root). Exits non-zero if any check fails; prints "check-deploy: N passed, N failed".
#
#   deploy/ci/check-deploy.sh            # everything
#   SKIP_APT=1 deploy/ci/check-deploy.sh # do not install anything (use what is there)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export DEBIAN_FRONTEND=noninteractive

VERSION=0.0.0-ci
DEB_VERSION=0.0.0~ci-1 # nfpm's semver mapping of $VERSION, with release 1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
failures=()

# check NAME CMD...: run one check, keep going on failure.
check() {
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "--- ok: $name"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "--- FAIL: $name" >&2
	fi
}

# ---------------------------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------------------------
COMPOSE_V1=() # the Compose command: docker-compose (v1, Debian's package) or docker compose
install_tools() {
	local want=()
	command -v systemd-analyze >/dev/null || want+=(systemd)
	command -v ansible-playbook >/dev/null || want+=(ansible-core)
	command -v shellcheck >/dev/null || want+=(shellcheck)
	command -v docker-compose >/dev/null || want+=(docker-compose)
	command -v openssl >/dev/null || want+=(openssl)
	if [ ${#want[@]} -gt 0 ] && [ -z "${SKIP_APT:-}" ]; then
		echo "installing: ${want[*]}"
		apt-get update -qq || return 1
		# docker-compose separately: if Debian ever drops it, the checks fall back (see check_compose_v1).
		local pkgs=()
		for p in "${want[@]}"; do [ "$p" = docker-compose ] || pkgs+=("$p"); done
		if [ ${#pkgs[@]} -gt 0 ]; then
			apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null || return 1
		fi
		case " ${want[*]} " in
		*" docker-compose "*) apt-get install -y -qq docker-compose >/dev/null || echo "docker-compose package unavailable" ;;
		esac
	fi
	if command -v docker-compose >/dev/null; then
		COMPOSE_V1=(docker-compose)
	elif docker compose version >/dev/null 2>&1; then
		COMPOSE_V1=(docker compose)
	fi
	local t
	for t in systemd-analyze ansible-playbook shellcheck dpkg-deb go; do
		command -v "$t" >/dev/null || {
			echo "missing tool: $t" >&2
			return 1
		}
	done
}

# ---------------------------------------------------------------------------------------------------------------
# Shell scripts
# ---------------------------------------------------------------------------------------------------------------
check_shell() {
	local ok=0 f
	for f in deploy/nfpm/scripts/postinst deploy/nfpm/scripts/prerm deploy/nfpm/scripts/postrm; do
		sh -n "$f" || ok=1
		shellcheck -s sh "$f" || ok=1
		[ -x "$f" ] || {
			echo "$f is not executable" >&2
			ok=1
		}
	done
	for f in deploy/nfpm/build-deb.sh deploy/ci/check-deploy.sh; do
		bash -n "$f" || ok=1
		shellcheck -s bash "$f" || ok=1
	done
	return $ok
}

# ---------------------------------------------------------------------------------------------------------------
# docker-compose.yml
# ---------------------------------------------------------------------------------------------------------------
# The secret is required by the file (${BBB_CHAT_SHARED_SECRET:?}); give a dummy one, unless a .env has one.
compose_env() { BBB_CHAT_SHARED_SECRET=${BBB_CHAT_SHARED_SECRET:-ci-dummy-secret} "$@"; }

check_compose_v1() {
	if [ ${#COMPOSE_V1[@]} -gt 0 ]; then
		echo "with ${COMPOSE_V1[*]}"
		compose_env "${COMPOSE_V1[@]}" -f docker-compose.yml config -q &&
			compose_env "${COMPOSE_V1[@]}" -f docker-compose.yml --profile demo config -q || return 1
		local services
		services=$(compose_env "${COMPOSE_V1[@]}" -f docker-compose.yml --profile demo config --services | sort | tr '\n' ' ')
		[ "$services" = "bbb-sim ingress nats redis relay " ] || {
			echo "demo profile services: $services" >&2
			return 1
		}
	else
		echo "no docker-compose nor docker compose: YAML parse only"
		python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert set(d["services"]) == {"ingress", "relay", "nats", "redis", "bbb-sim"}, d["services"].keys()' docker-compose.yml
	fi
}

# Compose v2's own loader (compose-spec/compose-go): today's schema, profiles, merge keys, dependencies.
check_compose_v2() {
	(cd tools && compose_env go run ./compose-check -profiles '' -profiles demo ../docker-compose.yml) || return 1
	# Without a secret the file must refuse to load (no .env here in CI; skipped when a developer has one).
	if [ ! -e .env ]; then
		if (cd tools && env -u BBB_CHAT_SHARED_SECRET go run ./compose-check ../docker-compose.yml >/dev/null 2>&1); then
			echo "docker-compose.yml loads without BBB_CHAT_SHARED_SECRET" >&2
			return 1
		fi
	fi
	# Every build target it names exists in the Dockerfile.
	local target
	while read -r target; do
		grep -Eq "^FROM .* AS ${target}\$" deploy/docker/Dockerfile || {
			echo "compose target $target is not a stage of deploy/docker/Dockerfile" >&2
			return 1
		}
	done < <(sed -n 's/^ *target: *//p' docker-compose.yml)
}

# ---------------------------------------------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------------------------------------------
check_dockerfile() {
	# BuildKit's frontend and build checks (what `docker build --check` runs), offline; any warning fails. Only the
	# two base images are expected: anything else is a mistyped stage name.
	(cd tools && go run ./dockerfile-check \
		-images golang:1.26,gcr.io/distroless/static-debian12:nonroot ../deploy/docker/Dockerfile) || return 1
	# House rules the linter does not know: each runtime stage runs as the distroless non-root user, has a health
	# check (or says it has none) and an entrypoint.
	local ok=0 stage body
	for stage in ingress relay bbb-sim; do
		body=$(awk -v s="$stage" '/^FROM /{on = ($NF == s)} on' deploy/docker/Dockerfile)
		grep -q '^USER 65532:65532$' <<<"$body" || { echo "stage $stage: no USER 65532:65532" >&2; ok=1; }
		grep -q '^HEALTHCHECK ' <<<"$body" || { echo "stage $stage: no HEALTHCHECK" >&2; ok=1; }
		grep -q '^ENTRYPOINT \["/' <<<"$body" || { echo "stage $stage: no ENTRYPOINT" >&2; ok=1; }
	done
	grep -q 'CGO_ENABLED=0' deploy/docker/Dockerfile || { echo "build is not CGO_ENABLED=0" >&2; ok=1; }
	# shellcheck disable=SC2016 # the literal text of the Dockerfile
	grep -q -- '-trimpath -ldflags "-s -w -X main.version=$VERSION"' deploy/docker/Dockerfile ||
		{ echo "build flags changed" >&2; ok=1; }
	# The build context keeps secrets and build output out.
	local pat
	for pat in .git '**/.env' dist; do
		grep -qxF "$pat" .dockerignore || { echo ".dockerignore lacks $pat" >&2; ok=1; }
	done
	return $ok
}

# ---------------------------------------------------------------------------------------------------------------
# The env file template covers every setting
# ---------------------------------------------------------------------------------------------------------------
check_env_template() {
	local ok=0 key
	while read -r key; do
		[ "$key" = BBB_CHAT_ENV_FILE ] && continue # systemd reads the file itself
		grep -Eq "^#?${key}=" deploy/env/bbb-chat.env || {
			echo "deploy/env/bbb-chat.env does not mention $key" >&2
			ok=1
		}
	done < <(grep -o 'env:"BBB_CHAT_[A-Z0-9_]*"' shared/config/config.go | sed 's/env:"\(.*\)"/\1/' | sort -u)
	grep -qx 'BBB_CHAT_SHARED_SECRET=' deploy/env/bbb-chat.env || {
		echo "the template must ship an empty BBB_CHAT_SHARED_SECRET= for the postinst to fill" >&2
		ok=1
	}
	return $ok
}

# ---------------------------------------------------------------------------------------------------------------
# The .deb
# ---------------------------------------------------------------------------------------------------------------
DEB=dist/bbb-chat_${DEB_VERSION}_$(go env GOARCH).deb

build_deb() {
	rm -f "$DEB"
	deploy/nfpm/build-deb.sh "$VERSION" && [ -f "$DEB" ]
}

check_deb_contents() {
	[ -f "$DEB" ] || return 1
	local ok=0 listing info
	listing=$(dpkg-deb -c "$DEB") || return 1
	info=$(dpkg-deb -I "$DEB") || return 1
	echo "$listing"
	# path and mode of every file the package must have
	local want=(
		"-rwxr-xr-x ./usr/bin/bbb-chat-ingress"
		"-rwxr-xr-x ./usr/bin/bbb-chat-relay"
		"-rw-r--r-- ./lib/systemd/system/bbb-chat-ingress.service"
		"-rw-r--r-- ./lib/systemd/system/bbb-chat-relay.service"
		"-rw-r----- ./etc/bigbluebutton/bbb-chat.env"
		"-rw-r--r-- ./etc/bigbluebutton/nginx/bbb-chat.nginx"
		"-rw-r--r-- ./usr/share/doc/bbb-chat/README.md"
	)
	local w
	for w in "${want[@]}"; do
		awk '{print $1, $NF}' <<<"$listing" | grep -qxF -e "$w" || {
			echo "package lacks: $w" >&2
			ok=1
		}
	done
	awk '$2 != "root/root" {print "not root-owned: " $0; bad = 1} END {exit bad}' <<<"$listing" >&2 || ok=1
	# control fields and maintainer scripts
	local field
	for field in "Package: bbb-chat" "Version: $DEB_VERSION" "Recommends: redis-server, nginx"; do
		grep -qF " $field" <<<"$info" || { echo "control lacks '$field'" >&2; ok=1; }
	done
	for field in postinst prerm postrm conffiles; do
		grep -Eq "^ +[0-9]+ bytes, +[0-9]+ lines +\*? +$field( |\$)" <<<"$info" || { echo "control.tar lacks $field" >&2; ok=1; }
	done
	local conffiles
	conffiles=$(dpkg-deb -I "$DEB" conffiles) || return 1
	[ "$(sort <<<"$conffiles")" = "$(printf '%s\n' /etc/bigbluebutton/bbb-chat.env /etc/bigbluebutton/nginx/bbb-chat.nginx)" ] || {
		echo "conffiles: $conffiles" >&2
		ok=1
	}
	return $ok
}

check_deb_binaries() {
	[ -f "$DEB" ] || return 1
	local x="$WORK/x" ok=0 b
	rm -rf "$x" && dpkg-deb -x "$DEB" "$x" || return 1
	for b in ingress relay; do
		local bin="$x/usr/bin/bbb-chat-$b" meta
		"$bin" version | grep -qxF "bbb-chat $b $VERSION" || { echo "bbb-chat-$b version: $("$bin" version)" >&2; ok=1; }
		meta=$(go version -m "$bin") || { ok=1; continue; }
		grep -q 'build	CGO_ENABLED=0' <<<"$meta" || { echo "bbb-chat-$b: not CGO_ENABLED=0" >&2; ok=1; }
		grep -q 'build	-trimpath=true' <<<"$meta" || { echo "bbb-chat-$b: not -trimpath" >&2; ok=1; }
	done
	# Every default the env file documents is a value the binaries accept: uncomment them all and let each binary's
	# `check` read the file (its first line reports the configuration; Redis and NATS point at a closed port).
	sed -e 's/^#\(BBB_CHAT_[A-Z0-9_]*=\)/\1/' -e 's/^BBB_CHAT_SHARED_SECRET=$/BBB_CHAT_SHARED_SECRET=ci-check/' \
		deploy/env/bbb-chat.env >"$WORK/all.env"
	for b in ingress relay; do
		local first
		first=$(env -i PATH=/usr/bin:/bin BBB_CHAT_ENV_FILE="$WORK/all.env" BBB_CHAT_REDIS_URL=redis://127.0.0.1:1/0 \
			BBB_CHAT_NATS_URL=nats://127.0.0.1:1 BBB_CHAT_NATS_EMBEDDED=false BBB_CHAT_NATS_STORE="$WORK/nats" \
			timeout 60 "$x/usr/bin/bbb-chat-$b" check 2>&1 | head -n 1)
		grep -Eq '^ok +configuration read$' <<<"$first" || {
			echo "bbb-chat-$b does not accept the env file's defaults: $first" >&2
			ok=1
		}
	done
	# the packaged text files are the repository's
	cmp "$x/etc/bigbluebutton/bbb-chat.env" deploy/env/bbb-chat.env || ok=1
	cmp "$x/etc/bigbluebutton/nginx/bbb-chat.nginx" deploy/nginx/bbb-chat.nginx || ok=1
	cmp "$x/lib/systemd/system/bbb-chat-relay.service" deploy/systemd/bbb-chat-relay.service || ok=1
	cmp "$x/lib/systemd/system/bbb-chat-ingress.service" deploy/systemd/bbb-chat-ingress.service || ok=1
	return $ok
}

# The maintainer scripts run against a temporary root ($DPKG_ROOT, which dpkg itself sets with --root): there
# they edit files only and touch no service.
check_maintainer_scripts() {
	[ -f "$DEB" ] || return 1
	local ctl="$WORK/ctl" r="$WORK/root" env first ok=0
	rm -rf "$ctl" "$r" && dpkg-deb -e "$DEB" "$ctl" || return 1
	mkdir -p "$r" && dpkg-deb -x "$DEB" "$r" || return 1
	env="$r/etc/bigbluebutton/bbb-chat.env"
	run() { DPKG_ROOT="$r" sh "$ctl/$1" "${@:2}"; }
	secret() { sed -n 's/^BBB_CHAT_SHARED_SECRET=//p' "$env"; }
	fail() {
		echo "maintainer scripts: $*" >&2
		ok=1
	}

	chmod 0644 "$env" # as if an operator had loosened it
	run postinst configure || fail "postinst configure failed"
	first=$(secret)
	grep -Eqx '[0-9a-f]{64}' <<<"$first" || fail "first install: secret '$first' is not 64 hex digits"
	[ "$(grep -c '^BBB_CHAT_SHARED_SECRET=' "$env")" = 1 ] || fail "first install: not exactly one secret line"
	[ "$(stat -c '%a %U:%G' "$env")" = "640 root:root" ] || fail "env file is $(stat -c '%a %U:%G' "$env")"

	cp "$env" "$WORK/before"
	run postinst configure "$VERSION" || fail "postinst (upgrade) failed"
	cmp -s "$env" "$WORK/before" || fail "upgrade changed an env file that had a secret"

	sed -i 's/^BBB_CHAT_SHARED_SECRET=.*/BBB_CHAT_SHARED_SECRET=operator-chosen/' "$env"
	run postinst configure "$VERSION" || fail "postinst failed"
	[ "$(secret)" = operator-chosen ] || fail "an operator's secret was replaced"

	sed -i 's/^BBB_CHAT_SHARED_SECRET=.*/BBB_CHAT_SHARED_SECRET="change_me"/' "$env"
	run postinst configure "$VERSION" || fail "postinst failed"
	grep -Eqx '[0-9a-f]{64}' <<<"$(secret)" || fail "the change_me placeholder was not replaced"

	sed -i 's/^BBB_CHAT_SHARED_SECRET=.*/#BBB_CHAT_SHARED_SECRET=/' "$env"
	run postinst configure "$VERSION" || fail "postinst failed"
	grep -Eqx '[0-9a-f]{64}' <<<"$(secret)" || fail "a commented-out secret was not added"
	grep -q '^BBB_CHAT_LOG_LEVEL=\|^#BBB_CHAT_LOG_LEVEL=info' "$env" || fail "the rest of the file was lost"

	rm "$env"
	run postinst configure "$VERSION" || fail "postinst failed"
	grep -Eqx '[0-9a-f]{64}' <<<"$(secret)" || fail "a deleted env file was not recreated with a secret"
	[ "$(stat -c '%a' "$env")" = 640 ] || fail "recreated env file is $(stat -c '%a' "$env")"

	# the generated secret never reaches the output (apt logs)
	sed -i 's/^BBB_CHAT_SHARED_SECRET=.*/BBB_CHAT_SHARED_SECRET=/' "$env"
	run postinst configure "$VERSION" >"$WORK/out" 2>&1 || fail "postinst failed"
	! grep -qF "$(secret)" "$WORK/out" || fail "postinst printed the secret"

	run prerm remove || fail "prerm remove failed"
	run prerm upgrade "$VERSION" || fail "prerm upgrade failed"
	mkdir -p "$r/var/lib/private/bbb-chat/nats" && ln -s private/bbb-chat "$r/var/lib/bbb-chat"
	run postrm remove || fail "postrm remove failed"
	[ -d "$r/var/lib/private/bbb-chat/nats" ] || fail "postrm remove deleted the state"
	run postrm purge || fail "postrm purge failed"
	if [ -e "$r/var/lib/private/bbb-chat" ] || [ -L "$r/var/lib/bbb-chat" ]; then
		fail "postrm purge kept the state"
	fi
	run postinst bogus 2>/dev/null && fail "postinst accepted an unknown action"
	return $ok
}

# ---------------------------------------------------------------------------------------------------------------
# systemd units
# ---------------------------------------------------------------------------------------------------------------
# `systemd-analyze verify` checks that ExecStart= and ExecReload= exist, and `--root` needs the units it depends on
# (sysinit.target …): so verify inside a root made of the extracted package (the real binaries), the host's own
# unit files and a stand-in /bin/kill. verify exits 0 on unknown keys or bad values, so any output fails too.
check_units() {
	[ -f "$DEB" ] || return 1
	local r="$WORK/units" out ok=0 unit
	rm -rf "$r" && mkdir -p "$r" && dpkg-deb -x "$DEB" "$r" || return 1
	mkdir -p "$r/usr/lib/systemd" "$r/bin"
	cp -a /usr/lib/systemd/system "$r/usr/lib/systemd/" || return 1
	printf '#!/bin/sh\nexit 0\n' >"$r/bin/kill" && chmod +x "$r/bin/kill"
	out=$(systemd-analyze verify --root="$r" bbb-chat-relay.service bbb-chat-ingress.service 2>&1) || ok=1
	if [ -n "$out" ]; then
		echo "$out" >&2
		ok=1
	fi
	# exposure score of the sandbox: both scored 1.4 ("OK") when written; fail above 2.0
	for unit in bbb-chat-relay.service bbb-chat-ingress.service; do
		systemd-analyze security --offline=true --root="$r" --threshold=20 "$unit" | tail -n 1 || {
			echo "$unit: exposure above 2.0" >&2
			ok=1
		}
	done
	# what the binaries and the package rely on
	for unit in relay ingress; do
		local f="deploy/systemd/bbb-chat-$unit.service" line
		# shellcheck disable=SC2016 # $MAINPID is systemd's, literally in the unit
		for line in Type=notify 'EnvironmentFile=-/etc/bigbluebutton/bbb-chat.env' 'ExecReload=/bin/kill -HUP $MAINPID' \
			"ExecStart=/usr/bin/bbb-chat-$unit" DynamicUser=yes Restart=on-failure; do
			grep -qxF "$line" "$f" || { echo "$f lacks $line" >&2; ok=1; }
		done
	done
	if ! grep -qxF 'Environment=BBB_CHAT_NATS_STORE=%S/bbb-chat/nats' deploy/systemd/bbb-chat-relay.service ||
		! grep -qxF 'StateDirectory=bbb-chat' deploy/systemd/bbb-chat-relay.service; then
		echo "relay: no state directory for the NATS store" >&2
		ok=1
	fi
	return $ok
}

# ---------------------------------------------------------------------------------------------------------------
# nginx snippet (no nginx here: the shape BBB's server block needs)
# ---------------------------------------------------------------------------------------------------------------
check_nginx() {
	local f=deploy/nginx/bbb-chat.nginx ok=0 line
	for line in 'location /bbb-chat/api/ {' 'proxy_pass http://127.0.0.1:8090/api/;' 'client_max_body_size 64k;'; do
		grep -qF "$line" "$f" || { echo "$f lacks $line" >&2; ok=1; }
	done
	# braces balance, and nothing but the API is published
	[ "$(tr -cd '{' <"$f" | wc -c)" = "$(tr -cd '}' <"$f" | wc -c)" ] || { echo "$f: unbalanced braces" >&2; ok=1; }
	[ "$(grep -c '^ *location ' "$f")" = 1 ] || { echo "$f: more than one location" >&2; ok=1; }
	! grep -Eq 'healthz|readyz|metrics|:9090|:8091' <(grep -v '^ *#' "$f") || { echo "$f publishes health or metrics" >&2; ok=1; }
	return $ok
}

check_ansible() {
	ansible-playbook --syntax-check -i localhost, deploy/ansible/playbook.yml
}

# ---------------------------------------------------------------------------------------------------------------
check "install tools" install_tools
check "shell scripts (sh -n, shellcheck)" check_shell
check "docker-compose.yml (${COMPOSE_V1[*]:-YAML parse})" check_compose_v1
check "docker-compose.yml (Compose v2 loader)" check_compose_v2
check "Dockerfile (BuildKit build checks, offline)" check_dockerfile
check "env file template covers every setting" check_env_template
check "build the .deb" build_deb
check ".deb contents, modes and conffiles" check_deb_contents
check ".deb binaries (static, versioned) and text files" check_deb_binaries
check "maintainer scripts against a temporary root" check_maintainer_scripts
check "systemd units (systemd-analyze verify, security)" check_units
check "nginx snippet" check_nginx
check "ansible-playbook --syntax-check" check_ansible

if [ $failed -gt 0 ]; then
	printf 'failed: %s\n' "${failures[@]}" >&2
fi
echo "check-deploy: $passed passed, $failed failed"
[ $failed -eq 0 ]
