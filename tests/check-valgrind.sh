#!/usr/bin/env bash
# check-valgrind.sh: the daemon's integration tests with the daemon under
# valgrind memcheck; fails on any test failure, any memcheck error (invalid
# read/write, uninitialised use) and any definite leak. Memory-size checks
# are skipped there (valgrind's own overhead), see UNDER_VALGRIND.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
VG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sgvalgrind.XXXXXX")
export VG_DIR SCOPEGATE_REAL="$top_builddir/scopegate" UNDER_VALGRIND=1
export SCOPEGATE="$top_srcdir/tests/valgrind-scopegate.sh"
rc=0
npass=0
nfail=0
# One suite a line, so that branches adding suites merge cleanly.
suites=(
	forwarding
	authz
	reload
	ops
	revocation
	revoke_attacks
	revoke_outage
	revoke_lifetime
	gateway_tls
	hostile
	upstream_hostile
	upstream_dns
	ratelimit
	realip
	policy_guard
	admin
	connlimits
	logfields
	trace
	bodies
	idp_oidc
	idp_introspect
	chunked
	upstreams
	report_mode
	cors
	upstreams_health
	head
	ratelimits_spellings
	ratelimit_fields
	tls_write
	tls_resume
	tls_keepalive
	key_reload
	ratelimit_batch
	trailers
)
for t in "${suites[@]}"; do
	if bash "$top_srcdir/tests/integration/$t.sh" > "$VG_DIR/$t.out" 2>&1; then
		echo "PASS: $t (under valgrind) $(tail -n 1 "$VG_DIR/$t.out")"
		npass=$((npass + 1))
	else
		nfail=$((nfail + 1))
		echo "FAIL: $t (under valgrind)"
		grep -E '^not ok' "$VG_DIR/$t.out" | head -20
		rc=1
	fi
done
runs=$(ls "$VG_DIR"/scopegate.*.log 2>/dev/null | wc -l)
bad=$(grep -lE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$VG_DIR"/scopegate.*.log 2>/dev/null)
if [ -n "$bad" ]; then
	echo "memcheck found errors or leaks:"
	for f in $bad; do sed -n '1,80p' "$f"; done
	rc=1
	nfail=$((nfail + 1))
fi
echo "memcheck: $runs daemon runs, $(echo "$bad" | grep -c . ) with errors or definite leaks"
echo "$npass passed, $nfail failed"
[ $rc -eq 0 ] && rm -rf "$VG_DIR"
exit $rc
