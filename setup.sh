#!/usr/bin/env bash
# setup.sh: the one set-up script. On a fresh Debian 12 machine, as root:
#
#   ./setup.sh run     install what is missing, build, and run the demo
#                      gateway in front of the bundled example upstream
#   ./setup.sh test    install what is missing, build, run the whole suite
#
# Other verbs: deps (install only), build, test-sanitizers (the suite in an
# AddressSanitizer + UBSan build), test-valgrind (the daemon's integration
# tests under valgrind memcheck), distcheck.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$top/build"
jobs=$(nproc 2>/dev/null || echo 2)

# Everything the build, the tests and the demo use, from Debian 12.
packages=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libssl-dev libjansson-dev libcunit1-dev libpcre2-dev
	openssl curl python3 procps
	libtest-json-schema-acceptance-perl
	libhiredis-dev redis-server
	libjemalloc-dev
	libyaml-dev
	groff-base man-db valgrind
	logrotate python3-prometheus-client
	chromium
)

say() { printf '==> %s\n' "$*" >&2; }

deps() {
	local missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	# The official Losant JS client test needs node and npm (any source).
	command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
	[ ${#missing[@]} -eq 0 ] && { node_deps; return 0; }
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup.sh: missing packages: ${missing[*]}" >&2
		echo "setup.sh: run as root (or: sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	node_deps
}

# The npm packages the tests run (losant_client.sh, idp_oidc.sh, and the
# real OpenAPI documents openapi.sh converts), pinned with their integrity
# hashes in tests/node/package-lock.json, installed with npm ci into
# tests/node/node_modules (where tests/integration/lib.sh looks); again only
# when the lock file changed. No install scripts run.
node_deps() {
	local dir="$top/tests/node" want
	want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	[ "$(cat "$dir/node_modules/.scopegate-lock" 2>/dev/null)" = "$want" ] && return 0
	say "installing the tests' npm packages (npm ci in tests/node)"
	(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --silent)
	echo "$want" > "$dir/node_modules/.scopegate-lock"
}

# build DIR [configure options...]
build_in() {
	local dir=$1
	shift
	say "building in $dir"
	(cd "$top" && autoreconf -fi >/dev/null 2>&1) || (cd "$top" && autoreconf -fi)
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q --enable-werror "$@" && make -s -j"$jobs")
}

# check DIR: run the suite there and print one summary line.
check_in() {
	local dir=$1 rc=0
	(cd "$dir" && make -s -j"$jobs" check) || rc=$?
	local log="$dir/test-suite.log"
	if [ -f "$log" ]; then
		local pass fail skip
		pass=$(sed -n 's/^# PASS: *//p' "$log")
		fail=$(( $(sed -n 's/^# FAIL: *//p' "$log") + $(sed -n 's/^# ERROR: *//p' "$log") + $(sed -n 's/^# XPASS: *//p' "$log") ))
		skip=$(sed -n 's/^# SKIP: *//p' "$log")
		[ $rc -ne 0 ] && sed -n '/^FAIL\|^ERROR/,$p' "$log" | head -200 >&2
		echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
	fi
	return $rc
}

run_demo() {
	local demo="$build/demo"
	"$top/conf/demo-init.sh" "$top" "$build" "$demo"
	"$build/scopegate" -t -c "$demo/scopegate.json" >/dev/null
	say "starting the example upstream on 127.0.0.1:8081"
	"$build/examples/example-upstream" --listen 127.0.0.1:8081 --quiet &
	local up=$!
	# Expanded now: the trap runs after this function's locals are gone.
	# shellcheck disable=SC2064
	trap "kill $up 2>/dev/null" EXIT
	local app=5f0c0c0c0c0c0c0c0c0c0c0c tok=5f1111111111111111111111
	cat >&2 <<EOT

scopegate demo: the gateway on http://127.0.0.1:8080 and https://localhost:8443
(self-signed: $demo/tls.pem) enforces the Losant API policy
(conf/policy.json, 273 actions) in front of the example Application Api Token
service on 127.0.0.1:8081; admin (health, metrics, revocations) on
http://127.0.0.1:9901. Tokens are in $demo:
reader.jwt (applicationApiToken.get, applicationApiTokens.get),
admin.jwt (all.Application), other.jwt (device.get). In another shell:

  cd $demo
  U=http://127.0.0.1:8080/applications/$app/tokens
  curl -s \$U -H "Authorization: Bearer \$(cat reader.jwt)"              # 200
  curl -s \$U/$tok -H "Authorization: Bearer \$(cat other.jwt)"         # 403
  curl -s -X DELETE \$U/$tok -H "Authorization: Bearer \$(cat reader.jwt)"  # 403
  curl -s -X DELETE \$U/$tok -H "Authorization: Bearer \$(cat admin.jwt)"   # 200
  curl -s \$U                                                            # 401
  curl -s --cacert tls.pem https://localhost:8443/applications/$app/tokens -H "Authorization: Bearer \$(cat reader.jwt)"
  curl -s http://127.0.0.1:9901/metrics | grep scopegate_requests_total
  $build/scopegate explain -c scopegate.json DELETE /applications/$app/tokens/$tok --scopes applicationApiToken.delete

One JSON access-log line per request prints below. Ctrl-C stops both.

EOT
	"$build/scopegate" -f -c "$demo/scopegate.json"
}

verb=${1:-}
case "$verb" in
deps) deps ;;
build) deps; build_in "$build" ;;
run) deps; build_in "$build"; run_demo ;;
test) deps; build_in "$build"; check_in "$build" ;;
test-sanitizers) deps; build_in "$top/build-sanitizers" --enable-sanitizers; check_in "$top/build-sanitizers" ;;
test-valgrind) deps; build_in "$build"; (cd "$build" && make -s check-valgrind) ;;
distcheck) deps; build_in "$build"
	# The unpacked tarball's tests use this tree's npm packages.
	(cd "$build" && SCOPEGATE_NODE_MODULES="$top/tests/node/node_modules" make -s distcheck) ;;
*)
	echo "usage: $0 run|test|test-sanitizers|test-valgrind|distcheck|build|deps" >&2
	exit 1
	;;
esac
