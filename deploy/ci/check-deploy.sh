#!/usr/bin/env bash
# CI check of the packaging: docker-compose.yml, the Dockerfile, the .deb (contents, conffiles, maintainer scripts,
# the layout of settings and secret), the systemd units and the Ansible playbook. Needs no Docker engine and no systemd running; installs what it needs
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
	command -v lintian >/dev/null || want+=(lintian)
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
	for t in systemd-analyze ansible-playbook shellcheck dpkg-deb lintian go; do
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
	for f in deploy/nfpm/scripts/preinst deploy/nfpm/scripts/postinst deploy/nfpm/scripts/prerm deploy/nfpm/scripts/postrm; do
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
	# preinst and postinst share their reading and writing of the secret: the two copies must not drift apart.
	local shared='/^# ---- shared with/,/^# ---- end of shared ----$/{/^# ---- shared with/d;p}'
	if [ "$(sed -n "$shared" deploy/nfpm/scripts/preinst)" != "$(sed -n "$shared" deploy/nfpm/scripts/postinst)" ] ||
		[ -z "$(sed -n "$shared" deploy/nfpm/scripts/postinst)" ]; then
		echo "the shared part of preinst and postinst differs (or is missing)" >&2
		ok=1
	fi
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
		[ "$services" = "bbb-sim ingress nats redis relay relay-2 " ] || {
			echo "demo profile services: $services" >&2
			return 1
		}
	else
		echo "no docker-compose nor docker compose: YAML parse only"
		python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert set(d["services"]) == {"ingress", "relay", "relay-2", "nats", "redis", "bbb-sim"}, d["services"].keys()' docker-compose.yml
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
		grep -qF 'org.opencontainers.image.licenses="Apache-2.0"' <<<"$body" || { echo "stage $stage: no licence label" >&2; ok=1; }
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
	local f=deploy/env/bbb-chat.env ok=0 key
	while read -r key; do
		case $key in
		BBB_CHAT_ENV_FILE) continue ;; # the units set it to this file
		BBB_CHAT_SHARED_SECRET)
			# Not even commented out: the secret is in bbb-chat.secret, and the file must say so.
			if grep -Eq '^[#[:space:]]*(export[[:space:]]+)?BBB_CHAT_SHARED_SECRET[[:space:]]*=' "$f"; then
				echo "$f has a BBB_CHAT_SHARED_SECRET= line; the secret belongs in bbb-chat.secret" >&2
				ok=1
			fi
			continue
			;;
		esac
		grep -Eq "^#?${key}=" "$f" || {
			echo "$f does not mention $key" >&2
			ok=1
		}
	done < <(grep -o 'env:"BBB_CHAT_[A-Z0-9_]*"' shared/config/config.go | sed 's/env:"\(.*\)"/\1/' | sort -u)
	# Nothing is set: every line is a comment or empty, so the file holds no secret and dpkg's copy stays pristine.
	if grep -Evq '^(#.*)?$' "$f"; then
		echo "$f sets something: $(grep -Ev '^(#.*)?$' "$f" | cut -c1-40)" >&2
		ok=1
	fi
	# What an operator must read in it.
	local phrase
	for phrase in 'Do not put the shared secret here; it is in /etc/bigbluebutton/bbb-chat.secret' \
		'(root only), loaded by systemd as a credential' \
		'systemctl reload bbb-chat-ingress bbb-chat-relay@1 bbb-chat-relay@2' \
		'systemctl restart bbb-chat-relay@1 && systemctl restart bbb-chat-relay@2' \
		'which applies BBB_CHAT_LOG_LEVEL and BBB_CHAT_CALLBACK_ALLOW' \
		'Any other key needs' 'systemctl restart bbb-chat-ingress'; do
		grep -qF -- "$phrase" "$f" || {
			echo "$f does not say: $phrase" >&2
			ok=1
		}
	done
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
		"-rw-r--r-- ./lib/systemd/system/bbb-chat-relay@.service"
		"-rw-r--r-- ./lib/systemd/system/bbb-chat-relay.target"
		"-rw-r--r-- ./etc/bigbluebutton/bbb-chat.env"
		"-rw-r--r-- ./etc/bigbluebutton/nginx/bbb-chat.nginx"
		"-rw-r--r-- ./usr/share/bbb-chat/bbb-chat.env"
		"-rw-r--r-- ./usr/share/doc/bbb-chat/README.md"
		"-rw-r--r-- ./usr/share/doc/bbb-chat/copyright"
		"-rw-r--r-- ./usr/share/doc/bbb-chat/changelog.Debian.gz"
		"-rw-r--r-- ./usr/share/lintian/overrides/bbb-chat"
	)
	local w
	for w in "${want[@]}"; do
		awk '{print $1, $NF}' <<<"$listing" | grep -qxF -e "$w" || {
			echo "package lacks: $w" >&2
			ok=1
		}
	done
	# (nfpm writes the changelog it generates as 0/0: root by number)
	awk '$2 != "root/root" && $2 != "0/0" {print "not root-owned: " $0; bad = 1} END {exit bad}' <<<"$listing" >&2 || ok=1
	# The secret is made on the host by postinst, never shipped: an upgrade must not touch it.
	! grep -q 'secret' <<<"$listing" || { echo "the package ships a secret file" >&2; ok=1; }
	# control fields and maintainer scripts
	local field
	for field in "Package: bbb-chat" "Version: $DEB_VERSION" "Recommends: redis-server, nginx"; do
		grep -qF " $field" <<<"$info" || { echo "control lacks '$field'" >&2; ok=1; }
	done
	for field in preinst postinst prerm postrm conffiles; do
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
	sed -e 's/^#\(BBB_CHAT_[A-Z0-9_]*=\)/\1/' deploy/env/bbb-chat.env >"$WORK/all.env"
	echo BBB_CHAT_SHARED_SECRET=ci-check >>"$WORK/all.env"
	# check_reads BIN ENV_FILE [VAR=VALUE...]: the first line `BIN check` prints, run as the units run it.
	check_reads() {
		env -i PATH=/usr/bin:/bin BBB_CHAT_ENV_FILE="$2" BBB_CHAT_REDIS_URL=redis://127.0.0.1:1/0 \
			BBB_CHAT_NATS_URL=nats://127.0.0.1:1 BBB_CHAT_NATS_EMBEDDED=false BBB_CHAT_NATS_STORE="$WORK/nats" "${@:3}" \
			timeout 60 "$x/usr/bin/bbb-chat-$1" check 2>&1 | head -n 1
	}
	local first
	for b in ingress relay; do
		first=$(check_reads "$b" "$WORK/all.env")
		grep -Eq '^ok +configuration read$' <<<"$first" || {
			echo "bbb-chat-$b does not accept the env file's defaults: $first" >&2
			ok=1
		}
	done
	# The shipped env file as it is, and the secret only as the unit hands it over: the credential shared_secret.
	mkdir -p "$WORK/cred" && openssl rand -hex 32 >"$WORK/cred/shared_secret"
	first=$(check_reads ingress "$x/etc/bigbluebutton/bbb-chat.env" CREDENTIALS_DIRECTORY="$WORK/cred")
	grep -Eq '^ok +configuration read$' <<<"$first" || {
		echo "bbb-chat-ingress does not take the shipped env file and the credential: $first" >&2
		ok=1
	}
	# Without the credential it has no secret (unless this host has a real /etc/bigbluebutton/bbb-chat.secret,
	# which ingress falls back to).
	if [ ! -e /etc/bigbluebutton/bbb-chat.secret ]; then
		first=$(check_reads ingress "$x/etc/bigbluebutton/bbb-chat.env")
		grep -q 'BBB_CHAT_SHARED_SECRET is not set' <<<"$first" || {
			echo "bbb-chat-ingress found a secret without the credential: $first" >&2
			ok=1
		}
	fi
	# the packaged text files are the repository's
	cmp "$x/etc/bigbluebutton/bbb-chat.env" deploy/env/bbb-chat.env || ok=1
	cmp "$x/usr/share/bbb-chat/bbb-chat.env" deploy/env/bbb-chat.env || ok=1
	cmp "$x/etc/bigbluebutton/nginx/bbb-chat.nginx" deploy/nginx/bbb-chat.nginx || ok=1
	cmp "$x/lib/systemd/system/bbb-chat-relay@.service" deploy/systemd/bbb-chat-relay@.service || ok=1
	cmp "$x/lib/systemd/system/bbb-chat-relay.target" deploy/systemd/bbb-chat-relay.target || ok=1
	cmp "$x/usr/share/doc/bbb-chat/copyright" deploy/nfpm/debian/copyright || ok=1
	cmp "$x/lib/systemd/system/bbb-chat-ingress.service" deploy/systemd/bbb-chat-ingress.service || ok=1
	return $ok
}

# Debian's own checks of the package: no error, and no warning about how the maintainer scripts handle the units
# (deb-systemd-helper and deb-systemd-invoke, as Debian's packages do). Its overrides are in nfpm.yaml.
check_lintian() {
	[ -f "$DEB" ] || return 1
	local out ok=0
	out=$(lintian --no-tag-display-limit "$DEB" 2>&1)
	echo "$out"
	if grep -q '^E: ' <<<"$out"; then
		echo "lintian reports errors" >&2
		ok=1
	fi
	if grep -Eq '^W: .*(maintainer-script-calls-systemctl|systemd-service-file)' <<<"$out"; then
		echo "lintian warns about the units or their handling" >&2
		ok=1
	fi
	return $ok
}

# The packaging before the secret file: the env file held the secret, which that postinst wrote into it.
OLD_LAYOUT=0619ba5e5d9d0a31bb1468ef25007184f3240ae0
OLD_DEB_VERSION=0.0.0~a-1 # older than $DEB_VERSION

# old_env_template prints the env file that layout shipped: from git when the commit is there (a shallow clone may
# lack it), else one of the same shape.
old_env_template() {
	git show "$OLD_LAYOUT:deploy/env/bbb-chat.env" 2>/dev/null ||
		printf '# settings\n\n# the secret\nBBB_CHAT_SHARED_SECRET=\n\n#BBB_CHAT_LOG_LEVEL=info\n'
}

# The maintainer scripts run against a temporary root ($DPKG_ROOT, which dpkg itself sets with --root): there
# they touch files only, and no service.
check_maintainer_scripts() {
	[ -f "$DEB" ] || return 1
	local ctl="$WORK/ctl" r="$WORK/root" ok=0 first second old
	rm -rf "$ctl" "$r" && dpkg-deb -e "$DEB" "$ctl" || return 1
	mkdir -p "$r" && dpkg-deb -x "$DEB" "$r" || return 1
	local env="$r/etc/bigbluebutton/bbb-chat.env" sec="$r/etc/bigbluebutton/bbb-chat.secret"
	local moved="$r/etc/bigbluebutton/bbb-chat.secret.dpkg-moved" tmpl=deploy/env/bbb-chat.env out="$WORK/out"
	run() { DPKG_ROOT="$r" sh "$ctl/$1" "${@:2}"; }
	fail() {
		echo "maintainer scripts: $*" >&2
		ok=1
	}
	mode() { stat -c '%a %U:%G' "$1"; }
	# old_env SECRET: the old layout's env file as its postinst left it, with SECRET in the line it shipped empty.
	old_env() {
		old_env_template | sed "s/^BBB_CHAT_SHARED_SECRET=\$/BBB_CHAT_SHARED_SECRET=$1/" >"$env"
		chmod 0640 "$env"
	}

	# First install: a random secret in its own file; the env file exactly as shipped, readable by the services.
	{ run preinst install && run postinst configure; } >"$out" 2>&1 || fail "first install failed: $(cat "$out")"
	first=$(cat "$sec")
	grep -Eqx '[0-9a-f]{64}' <<<"$first" || fail "first install: secret is not one line of 64 hex digits"
	[ "$(mode "$sec")" = "600 root:root" ] || fail "secret file is $(mode "$sec")"
	cmp -s "$env" "$tmpl" || fail "first install changed the env file"
	[ "$(mode "$env")" = "644 root:root" ] || fail "env file is $(mode "$env")"
	! grep -qF "$first" "$out" || fail "the first install printed the secret"

	# Upgrades and reconfigures between versions of this layout change nothing.
	cp -p "$env" "$WORK/before"
	{ run preinst upgrade "$DEB_VERSION" && run postinst configure "$DEB_VERSION"; } >/dev/null 2>&1 || fail "upgrade failed"
	[ "$(cat "$sec")" = "$first" ] || fail "an upgrade replaced the secret"
	cmp -s "$env" "$WORK/before" || fail "an upgrade changed the env file"

	# An operator's secret file is never replaced, only kept from others.
	printf 'operator-chosen\n' >"$sec" && chmod 0644 "$sec"
	run postinst configure "$DEB_VERSION" >/dev/null 2>&1 || fail "postinst failed"
	[ "$(cat "$sec")" = operator-chosen ] || fail "an operator's secret file was replaced"
	[ "$(mode "$sec")" = "600 root:root" ] || fail "an operator's secret file stayed $(mode "$sec")"

	# A deleted secret file: a new random secret. A deleted env file: the shipped one again (the units name it).
	rm "$sec" "$env"
	run postinst configure "$DEB_VERSION" >/dev/null 2>&1 || fail "postinst failed"
	second=$(cat "$sec")
	{ grep -Eqx '[0-9a-f]{64}' <<<"$second" && [ "$second" != "$first" ]; } || fail "a deleted secret file was not made anew"
	{ cmp -s "$env" "$tmpl" && [ "$(mode "$env")" = "644 root:root" ]; } || fail "a deleted env file did not come back as shipped"

	# An env file the services cannot read is made readable, unless it holds secrets: then it only says which.
	chmod 0600 "$env"
	run postinst configure "$DEB_VERSION" >/dev/null 2>&1 || fail "postinst failed"
	[ "$(mode "$env")" = "644 root:root" ] || fail "an unreadable env file stayed $(mode "$env")"
	printf 'BBB_CHAT_BBB_SECRET=bbb-api-salt\nBBB_CHAT_REDIS_URL=redis://:redis-pw@127.0.0.1:6379/0\n' >>"$env"
	chmod 0640 "$env"
	run postinst configure "$DEB_VERSION" >"$out" 2>&1 || fail "postinst failed"
	[ "$(mode "$env")" = "640 root:root" ] || fail "an env file with secrets was made $(mode "$env")"
	grep -qF 'holds secrets (BBB_CHAT_BBB_SECRET BBB_CHAT_REDIS_URL)' "$out" || fail "no word on the env file's secrets: $(cat "$out")"
	! grep -qF -e bbb-api-salt -e redis-pw "$out" || fail "postinst printed a secret of the env file"

	# Upgrade from the old layout: preinst moves the secret to its file and gives the env file back as the old package
	# shipped it (so dpkg replaces it without asking); postinst makes it readable again (dpkg keeps the old mode).
	old=$(openssl rand -hex 32)
	rm -f "$sec" && old_env "$old"
	run preinst upgrade "$OLD_DEB_VERSION" >"$out" 2>&1 || fail "preinst upgrade from the old layout failed"
	[ "$(cat "$sec" 2>/dev/null)" = "$old" ] || fail "the old secret is not in the secret file"
	[ "$(mode "$sec")" = "600 root:root" ] || fail "migrated secret file is $(mode "$sec")"
	cmp -s "$env" <(old_env_template) || fail "preinst did not give back the old package's env file"
	[ -e "$moved" ] || fail "preinst left no mark of the move"
	run postinst configure "$OLD_DEB_VERSION" >>"$out" 2>&1 || fail "postinst after the old layout failed"
	[ "$(mode "$env")" = "644 root:root" ] || fail "after the old layout the env file is $(mode "$env")"
	[ ! -e "$moved" ] || fail "postinst kept the mark of the move"
	[ "$(cat "$sec")" = "$old" ] || fail "postinst changed the migrated secret"
	! grep -qF "$old" "$out" || fail "the upgrade printed the secret"

	# ... where the operator had commented the line out, and the old postinst appended the secret: that block goes.
	rm -f "$sec"
	old_env_template | sed 's/^BBB_CHAT_SHARED_SECRET=$/#BBB_CHAT_SHARED_SECRET=/' >"$WORK/edited"
	{ cat "$WORK/edited" && printf '\n# Generated by the bbb-chat package.\nBBB_CHAT_SHARED_SECRET=%s\n' "$old"; } >"$env"
	run preinst upgrade "$OLD_DEB_VERSION" >/dev/null 2>&1 || fail "preinst failed"
	{ [ "$(cat "$sec" 2>/dev/null)" = "$old" ] && cmp -s "$env" "$WORK/edited"; } || fail "appended secret: not moved cleanly"

	# A failed upgrade: postrm abort-upgrade puts the secret back where the old version reads it, in both shapes.
	local shape
	for shape in line block; do
		rm -f "$sec"
		if [ $shape = line ]; then
			old_env "$old"
		else
			{ cat "$WORK/edited" && printf '\n# Generated by the bbb-chat package.\nBBB_CHAT_SHARED_SECRET=%s\n' "$old"; } >"$env"
		fi
		cp -p "$env" "$WORK/before"
		{ run preinst upgrade "$OLD_DEB_VERSION" && run postrm abort-upgrade "$OLD_DEB_VERSION"; } >/dev/null 2>&1 ||
			fail "preinst upgrade, postrm abort-upgrade failed"
		{ cmp -s "$env" "$WORK/before" && [ "$(mode "$env")" = "$(mode "$WORK/before")" ]; } ||
			fail "abort-upgrade ($shape): the env file is not the old one again"
		{ [ ! -e "$sec" ] && [ ! -e "$moved" ]; } || fail "abort-upgrade ($shape): the secret file or the mark stayed"
	done

	# The old example secret change_me is blanked too (it would win over the generated secret).
	rm -f "$sec" && old_env '"change_me"'
	{ run preinst upgrade "$OLD_DEB_VERSION" && run postinst configure "$OLD_DEB_VERSION"; } >/dev/null 2>&1 || fail "upgrade failed"
	{ grep -qx 'BBB_CHAT_SHARED_SECRET=' "$env" && ! grep -q '^BBB_CHAT_SHARED_SECRET=.*change_me' "$env"; } || fail "change_me was not blanked"
	grep -Eqx '[0-9a-f]{64}' <"$sec" || fail "change_me: no secret generated"

	# A secret file already there and a secret an operator put in the env file: both stay, postinst warns.
	printf 'file-secret\n' >"$sec" && cp "$tmpl" "$env" && echo 'BBB_CHAT_SHARED_SECRET=env-secret' >>"$env"
	cp -p "$env" "$WORK/before"
	{ run preinst upgrade "$DEB_VERSION" && run postinst configure "$DEB_VERSION"; } >"$out" 2>&1 || fail "upgrade failed"
	{ [ "$(cat "$sec")" = file-secret ] && cmp -s "$env" "$WORK/before"; } || fail "an operator's two secrets were touched"
	grep -q 'wins over' "$out" || fail "no warning that the env file's secret wins"
	! grep -qF -e env-secret -e file-secret "$out" || fail "postinst printed a secret"
	cp "$tmpl" "$env"

	run prerm remove || fail "prerm remove failed"
	run prerm upgrade "$VERSION" || fail "prerm upgrade failed"
	mkdir -p "$r/var/lib/private/bbb-chat/nats" && ln -s private/bbb-chat "$r/var/lib/bbb-chat"
	run postrm remove || fail "postrm remove failed"
	[ -d "$r/var/lib/private/bbb-chat/nats" ] || fail "postrm remove deleted the state"
	[ -f "$sec" ] || fail "postrm remove deleted the secret"
	run postrm purge >/dev/null 2>&1 || fail "postrm purge failed"
	if [ -e "$r/var/lib/private/bbb-chat" ] || [ -L "$r/var/lib/bbb-chat" ]; then
		fail "postrm purge kept the state"
	fi
	[ ! -e "$sec" ] || fail "postrm purge kept the secret"
	local script
	for script in preinst postinst prerm postrm; do
		run "$script" bogus 2>/dev/null && fail "$script accepted an unknown action"
	done
	return $ok
}

# The order in which postinst restarts the services, with systemd's commands stubbed (they record what they are
# asked; `systemctl is-active` answers from a list): no systemd runs here, so this is how far an upgrade can be
# shown. The relays go one at a time, each restart returning once that relay is ready (Type=notify), and the single
# relay of older versions is stopped only after the target started both new ones.
check_upgrade_order() {
	local d="$WORK/order" ok=0 got cmd
	rm -rf "$d" && mkdir -p "$d/bin" || return 1
	for cmd in systemctl deb-systemd-helper deb-systemd-invoke; do
		{
			echo '#!/bin/sh'
			echo "if [ \"\$1\" = --quiet ] && [ \"\$2\" = is-active ]; then grep -qxF \"\$3\" '$d/active'; exit; fi"
			echo "if [ \"\$1\" = --quiet ]; then shift; fi"
			echo "echo \"$cmd \$*\" >>'$d/log'"
		} >"$d/bin/$cmd"
		chmod +x "$d/bin/$cmd"
	done
	# services() and the names it uses, as postinst has them, minus its "no systemd running" guard.
	{
		sed -n '/^UNITS=/p; /^OLD_RELAY=/p' deploy/nfpm/scripts/postinst
		sed -n '/^services() {/,/^}/p' deploy/nfpm/scripts/postinst | sed '/run\/systemd\/system/,/^\tfi$/d'
		# shellcheck disable=SC2016 # literal text of the script
		echo 'services configure "$1"'
	} >"$d/services.sh"
	# run_order ACTIVE...: the calls services() makes while the units named are active.
	run_order() {
		printf '%s\n' "$@" >"$d/active"
		: >"$d/log"
		PATH="$d/bin:$PATH" sh "$d/services.sh" "$OLD_DEB_VERSION" >/dev/null 2>&1 || return 1
		grep -E ' (restart|start|stop|purge|enable) ' "$d/log" | tr '\n' ';'
	}
	local common='deb-systemd-helper enable bbb-chat-relay.target;deb-systemd-helper enable bbb-chat-ingress.service;'
	got=$(run_order bbb-chat-relay@1.service bbb-chat-relay@2.service bbb-chat-ingress.service) || ok=1
	[ "$got" = "${common}deb-systemd-invoke restart bbb-chat-relay@1.service;deb-systemd-invoke restart bbb-chat-relay@2.service;deb-systemd-invoke start bbb-chat-relay.target;deb-systemd-helper purge bbb-chat-relay.service;deb-systemd-invoke restart bbb-chat-ingress.service;" ] ||
		{ echo "upgrade with two relays: $got" >&2; ok=1; }
	got=$(run_order bbb-chat-relay.service bbb-chat-ingress.service) || ok=1
	[ "$got" = "${common}deb-systemd-invoke start bbb-chat-relay.target;deb-systemd-invoke stop bbb-chat-relay.service;deb-systemd-helper purge bbb-chat-relay.service;deb-systemd-invoke restart bbb-chat-ingress.service;" ] ||
		{ echo "upgrade from one relay: $got" >&2; ok=1; }
	return $ok
}

# dpkg itself installs, upgrades and purges in a temporary root (--root, with the maintainer scripts run outside it
# and $DPKG_ROOT set): what an operator's apt does, with stdin closed as in an unattended upgrade, so a conffile
# question fails the run.
NFPM="$WORK/nfpm"

# build_variant DIR VERSION: the .deb of the packaging in DIR (deploy/ and README.md, perhaps changed) around the
# binaries in dist/bin; prints its path.
build_variant() {
	mkdir -p "$1/dist" && cp -r dist/bin "$1/dist/" && deploy/nfpm/changelog.sh "$2" >"$1/dist/changelog.yml" || return 1
	(cd "$1" && VERSION=$2 ARCH=$(go env GOARCH) "$NFPM" package -p deb -f deploy/nfpm/nfpm.yaml -t . >/dev/null) || return 1
	ls "$1"/*.deb
}

check_dpkg() {
	[ -f "$DEB" ] || return 1
	local r="$WORK/dpkg" out="$WORK/dpkg.out" ok=0 next old first secret
	local env="$r/etc/bigbluebutton/bbb-chat.env" sec="$r/etc/bigbluebutton/bbb-chat.secret"
	fail() {
		echo "dpkg: $*" >&2
		ok=1
	}
	fresh_root() { rm -rf "$r" && mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" && : >"$r/var/lib/dpkg/status"; }
	dpkg_() { dpkg --root="$r" --force-script-chrootless --log=/dev/null "$@" </dev/null >>"$out" 2>&1; }
	mode() { stat -c '%a %U:%G' "$1"; }
	(cd tools && go build -o "$NFPM" github.com/goreleaser/nfpm/v2/cmd/nfpm) || return 1
	: >"$out"

	# The next version: this packaging with another env file.
	rm -rf "$WORK/next" && mkdir -p "$WORK/next" && cp -r deploy README.md "$WORK/next/" || return 1
	echo '#BBB_CHAT_CI_NEXT_VERSION=1' >>"$WORK/next/deploy/env/bbb-chat.env"
	next=$(build_variant "$WORK/next" 0.0.1-ci) || return 1

	# First install, an upgrade that changes the env file, purge.
	fresh_root
	dpkg_ -i "$DEB" || fail "install failed: $(tail -n 5 "$out")"
	first=$(cat "$sec" 2>/dev/null)
	{ grep -Eqx '[0-9a-f]{64}' <<<"$first" && [ "$(mode "$sec")" = "600 root:root" ]; } || fail "install: no secret file"
	{ cmp -s "$env" deploy/env/bbb-chat.env && [ "$(mode "$env")" = "644 root:root" ]; } || fail "install: env file changed"
	dpkg_ -i "$next" || fail "upgrade with a new env file failed (a conffile question?): $(tail -n 5 "$out")"
	cmp -s "$env" "$WORK/next/deploy/env/bbb-chat.env" || fail "upgrade: the new env file was not installed"
	[ "$(cat "$sec")" = "$first" ] || fail "upgrade: the secret changed"
	dpkg-query --admindir="$r/var/lib/dpkg" -S /etc/bigbluebutton/bbb-chat.secret >/dev/null 2>&1 &&
		fail "dpkg counts the secret file as the package's"
	dpkg_ --purge bbb-chat || fail "purge failed"
	{ [ ! -e "$sec" ] && [ ! -e "$env" ]; } || fail "purge kept $(ls "$r/etc/bigbluebutton")"

	# Upgrade from the old layout (the secret in the env file): no question for an env file nobody edited.
	if git cat-file -e "$OLD_LAYOUT^{commit}" 2>/dev/null; then
		rm -rf "$WORK/old" && mkdir -p "$WORK/old" && git archive "$OLD_LAYOUT" deploy README.md | tar -x -C "$WORK/old" &&
			old=$(build_variant "$WORK/old" 0.0.0-a) || return 1
		fresh_root
		dpkg_ -i "$old" || fail "old layout: install failed"
		secret=$(sed -n 's/^BBB_CHAT_SHARED_SECRET=//p' "$env")
		grep -Eqx '[0-9a-f]{64}' <<<"$secret" || fail "old layout: no secret in the env file"
		dpkg_ -i "$DEB" || fail "upgrade from the old layout failed (a conffile question?): $(tail -n 5 "$out")"
		{ [ "$(cat "$sec" 2>/dev/null)" = "$secret" ] && [ "$(mode "$sec")" = "600 root:root" ]; } ||
			fail "old layout: the secret did not move to its file"
		{ cmp -s "$env" deploy/env/bbb-chat.env && [ "$(mode "$env")" = "644 root:root" ]; } ||
			fail "old layout: env file is not the new one, 0644 ($(mode "$env"))"
		dpkg_ -i "$next" || fail "old layout, then next: failed"
		[ "$(cat "$sec")" = "$secret" ] || fail "old layout, then next: the secret changed"

		# An env file the operator edited: kept, as the playbook asks (--force-confold); the secret moves all the same.
		fresh_root
		dpkg_ -i "$old" || fail "old layout: install failed"
		secret=$(sed -n 's/^BBB_CHAT_SHARED_SECRET=//p' "$env")
		sed -i 's/^#BBB_CHAT_LOG_LEVEL=info$/BBB_CHAT_LOG_LEVEL=debug/' "$env"
		dpkg_ --force-confold -i "$DEB" || fail "old layout, edited: upgrade failed: $(tail -n 5 "$out")"
		grep -qx 'BBB_CHAT_LOG_LEVEL=debug' "$env" || fail "old layout, edited: the operator's env file was not kept"
		! grep -Eq '^BBB_CHAT_SHARED_SECRET=.' "$env" || fail "old layout, edited: the secret stayed in the env file"
		[ "$(mode "$env")" = "644 root:root" ] || fail "old layout, edited: env file is $(mode "$env")"
		[ "$(cat "$sec" 2>/dev/null)" = "$secret" ] || fail "old layout, edited: the secret did not move to its file"
		dpkg_ --purge bbb-chat || fail "purge failed"
		[ ! -e "$sec" ] || fail "purge kept the secret"
		! grep -qF "$secret" "$out" || fail "dpkg's output shows the secret"
	else
		echo "SKIP upgrade from the old layout: commit $OLD_LAYOUT is not in this clone (git fetch --unshallow)"
	fi
	! grep -qF "$first" "$out" || fail "dpkg's output shows the secret"
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
	out=$(systemd-analyze verify --root="$r" bbb-chat-relay@1.service bbb-chat-relay@2.service bbb-chat-relay.target \
		bbb-chat-ingress.service 2>&1) || ok=1
	if [ -n "$out" ]; then
		echo "$out" >&2
		ok=1
	fi
	# exposure score of the sandbox: both scored 1.4 ("OK") when written; fail above 2.0
	for unit in bbb-chat-relay@1.service bbb-chat-ingress.service; do
		systemd-analyze security --offline=true --root="$r" --threshold=20 "$unit" | tail -n 1 || {
			echo "$unit: exposure above 2.0" >&2
			ok=1
		}
	done
	# what the binaries and the package rely on
	for unit in relay@ ingress; do
		local f="deploy/systemd/bbb-chat-$unit.service" line
		# shellcheck disable=SC2016 # $MAINPID is systemd's, literally in the unit
		for line in Type=notify 'Environment=BBB_CHAT_ENV_FILE=/etc/bigbluebutton/bbb-chat.env' \
			'ExecReload=/bin/kill -HUP $MAINPID' "ExecStart=/usr/bin/bbb-chat-${unit%@}" DynamicUser=yes Restart=on-failure; do
			grep -qxF "$line" "$f" || { echo "$f lacks $line" >&2; ok=1; }
		done
		# The binary reads the env file itself, on reload too; systemd must not read it (only at start, as root).
		if grep -Eq '^[[:space:]]*EnvironmentFile[[:space:]]*=.*bbb-chat\.env' "$f"; then
			echo "$f still has systemd read bbb-chat.env (EnvironmentFile=)" >&2
			ok=1
		fi
	done
	local ingress=deploy/systemd/bbb-chat-ingress.service relay=deploy/systemd/bbb-chat-relay@.service
	# Two relays by default: the target wants both instances, each with its own listener, one dynamic user for both
	# (they share the state directory), and ingress wants the target.
	for line in 'Wants=bbb-chat-relay@1.service bbb-chat-relay@2.service' 'After=bbb-chat-relay@1.service bbb-chat-relay@2.service' \
		'WantedBy=multi-user.target bigbluebutton.target'; do
		grep -qxF "$line" deploy/systemd/bbb-chat-relay.target || { echo "bbb-chat-relay.target lacks $line" >&2; ok=1; }
	done
	for line in 'Environment=BBB_CHAT_RELAY_LISTEN=127.0.0.1:809%i' 'User=bbb-chat-relay' 'WantedBy=bbb-chat-relay.target' \
		'StopPropagatedFrom=bbb-chat-relay.target'; do
		grep -qxF "$line" "$relay" || { echo "$relay lacks $line" >&2; ok=1; }
	done
	grep -qxF 'Wants=bbb-chat-relay.target' "$ingress" || { echo "$ingress does not want the relays" >&2; ok=1; }
	# The secret reaches ingress only, as the credential config.LoadIngress reads.
	grep -qxF 'LoadCredential=shared_secret:/etc/bigbluebutton/bbb-chat.secret' "$ingress" ||
		{ echo "$ingress does not load the shared secret as a credential" >&2; ok=1; }
	grep -q 'CREDENTIALS_DIRECTORY.*"shared_secret"' shared/config/config.go ||
		{ echo "shared/config no longer reads the credential shared_secret" >&2; ok=1; }
	! grep -q 'bbb-chat\.secret' "$relay" || { echo "$relay gets the shared secret, which it does not need" >&2; ok=1; }
	for line in 'LoadCredential=bbb-web.properties:/etc/bigbluebutton/bbb-web.properties' \
		'Environment=BBB_CHAT_BBB_PROPERTIES_OVERRIDE=%d/bbb-web.properties'; do
		grep -qxF "$line" "$ingress" || { echo "$ingress lacks $line" >&2; ok=1; }
	done
	if ! grep -qxF 'Environment=BBB_CHAT_NATS_STORE=%S/bbb-chat/nats' "$relay" ||
		! grep -qxF 'StateDirectory=bbb-chat' "$relay"; then
		echo "relay: no state directory for the NATS store" >&2
		ok=1
	fi
	# The same paths everywhere.
	local pair
	# shellcheck disable=SC2016 # literal text of the scripts
	for pair in \
		'deploy/nfpm/scripts/preinst|SECRET_FILE="$ETC/bbb-chat.secret"' \
		'deploy/nfpm/scripts/preinst|ETC="${DPKG_ROOT:-}/etc/bigbluebutton"' \
		'deploy/nfpm/scripts/postinst|SECRET_FILE="$ETC/bbb-chat.secret"' \
		'deploy/nfpm/scripts/postinst|ETC="${DPKG_ROOT:-}/etc/bigbluebutton"' \
		'deploy/nfpm/scripts/postrm|SECRET_FILE="$ETC/bbb-chat.secret"' \
		'deploy/nfpm/scripts/postrm|ETC="$ROOT/etc/bigbluebutton"' \
		'shared/config/config.go|"/etc/bigbluebutton/bbb-chat.secret"' \
		'shared/config/config.go|"/etc/bigbluebutton/bbb-chat.env"'; do
		grep -qF -- "${pair#*|}" "${pair%%|*}" || { echo "${pair%%|*} lacks ${pair#*|}" >&2; ok=1; }
	done
	return $ok
}

# ---------------------------------------------------------------------------------------------------------------
# nginx snippet (no nginx here: the shape BBB's server block needs)
# ---------------------------------------------------------------------------------------------------------------
check_nginx() {
	local f=deploy/nginx/bbb-chat.nginx ok=0 line
	for line in 'location /bbb-chat/api/ {' 'proxy_pass http://127.0.0.1:8090/api/;' 'client_max_body_size 64k;' \
		'location /bbb-chat/chat/ {' 'proxy_pass http://127.0.0.1:8090/chat/;'; do
		grep -qF "$line" "$f" || { echo "$f lacks $line" >&2; ok=1; }
	done
	# braces balance, and nothing but the API and the viewer page is published
	[ "$(tr -cd '{' <"$f" | wc -c)" = "$(tr -cd '}' <"$f" | wc -c)" ] || { echo "$f: unbalanced braces" >&2; ok=1; }
	[ "$(grep '^ *location ' "$f" | sort | tr -s ' ' | tr '\n' '|')" = "location /bbb-chat/api/ {|location /bbb-chat/chat/ {|" ] ||
		{ echo "$f: locations other than /bbb-chat/api/ and /bbb-chat/chat/" >&2; ok=1; }
	! grep -Eq 'healthz|readyz|metrics|:9090|:8091' <(grep -v '^ *#' "$f") || { echo "$f publishes health or metrics" >&2; ok=1; }
	return $ok
}

check_ansible() {
	local pb=deploy/ansible/playbook.yml ok=0
	ansible-playbook --syntax-check -i localhost, "$pb" || return 1
	local line
	for line in 'bbb_chat_secret_file: /etc/bigbluebutton/bbb-chat.secret' 'bbb_chat_env_file: /etc/bigbluebutton/bbb-chat.env'; do
		grep -qF "$line" "$pb" || { echo "$pb lacks $line" >&2; ok=1; }
	done
	# Run the config tasks for real, on this host as "localhost", against files in a temporary directory and with no
	# units to restart: an old-layout env file with a secret in it, then the secret and a setting from the playbook.
	local d="$WORK/ansible" secret out
	secret=vault-$(openssl rand -hex 16)
	rm -rf "$d" && mkdir -p "$d" || return 1
	{ cat deploy/env/bbb-chat.env && echo 'BBB_CHAT_SHARED_SECRET=left-in-the-env-file'; } >"$d/bbb-chat.env"
	chmod 0640 "$d/bbb-chat.env"
	cat >"$d/vars.json" <<EOF
{"bbb_chat_hosts": "localhost", "ansible_become": false, "bbb_chat_units": [], "bbb_chat_enabled_units": [],
 "bbb_chat_env_file": "$d/bbb-chat.env", "bbb_chat_secret_file": "$d/bbb-chat.secret",
 "bbb_chat_shared_secret": "$secret", "bbb_chat_settings": {"BBB_CHAT_LOG_LEVEL": "debug"}}
EOF
	play() {
		ANSIBLE_NOCOLOR=1 ansible-playbook -i localhost, -c local --tags config -e "@$d/vars.json" "$@" "$pb" 2>&1
	}
	out=$(play --diff) || { echo "$out" >&2; return 1; }
	echo "$out" | tail -n 3
	! grep -qF -e "$secret" -e left-in-the-env-file <<<"$out" || { echo "the playbook printed a secret" >&2; ok=1; }
	[ "$(cat "$d/bbb-chat.secret")" = "$secret" ] || { echo "the playbook did not write the secret file" >&2; ok=1; }
	[ "$(stat -c %a "$d/bbb-chat.secret")" = 600 ] || { echo "secret file mode $(stat -c %a "$d/bbb-chat.secret")" >&2; ok=1; }
	! grep -q SHARED_SECRET= "$d/bbb-chat.env" || { echo "the playbook left a secret in the env file" >&2; ok=1; }
	grep -qx 'BBB_CHAT_LOG_LEVEL=debug' "$d/bbb-chat.env" || { echo "the playbook did not set the log level" >&2; ok=1; }
	[ "$(stat -c %a "$d/bbb-chat.env")" = 644 ] || { echo "env file mode $(stat -c %a "$d/bbb-chat.env")" >&2; ok=1; }
	# A second run changes nothing.
	out=$(play) || { echo "$out" >&2; return 1; }
	grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' <<<"$out" || { echo "a second run changed something: $out" >&2; ok=1; }
	# The secret is not a setting.
	sed -i 's/"bbb_chat_settings": {/"bbb_chat_settings": {"BBB_CHAT_SHARED_SECRET": "x", /' "$d/vars.json"
	if play >/dev/null; then
		echo "the playbook took BBB_CHAT_SHARED_SECRET as a setting of the env file" >&2
		ok=1
	fi
	return $ok
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
check "lintian: no errors" check_lintian
check "maintainer scripts against a temporary root" check_maintainer_scripts
check "postinst restarts the relays one at a time (systemd stubbed)" check_upgrade_order
check "dpkg: install, upgrades (from the old layout too), purge in a temporary root" check_dpkg
check "systemd units (systemd-analyze verify, security)" check_units
check "nginx snippet" check_nginx
check "Ansible playbook (syntax, config tasks against a temporary directory)" check_ansible

if [ $failed -gt 0 ]; then
	printf 'failed: %s\n' "${failures[@]}" >&2
fi
echo "check-deploy: $passed passed, $failed failed"
[ $failed -eq 0 ]
