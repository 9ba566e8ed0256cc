#!/bin/sh
# man-check.sh: the manual pages format without a single groff warning,
# and scopegate.8 documents every long option that `scopegate --help`,
# `scopegate explain --help` and `scopegate-token --help` print, and
# scopegate-policy.1 every one of `scopegate-policy --help`.
# Exit 77 (skipped) without groff (Debian package groff-base).
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
scopegate=${SCOPEGATE:-$builddir/scopegate}
token_tool=$builddir/scopegate-token
fail=0

if ! command -v groff >/dev/null 2>&1; then
	echo "man-check: groff not found (package groff-base), skipped"
	exit 77
fi

for page in "$srcdir/doc/scopegate.8" "$srcdir/doc/scopegate.json.5" "$srcdir/doc/scopegate-policy.1"; do
	# -ww: all warnings; -z: no output, only the diagnostics. The utf8
	# device also reports characters it cannot render.
	warn=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$page" 2>&1)
	if [ -n "$warn" ]; then
		echo "FAIL: $page:"
		echo "$warn"
		fail=1
	fi
	if command -v man >/dev/null 2>&1; then
		warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
		if [ -n "$warn" ]; then
			echo "FAIL: man: $page:"
			echo "$warn"
			fail=1
		fi
	fi
	# Every page needs these sections.
	for sect in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		case $page in *.5) [ "$sect" = SYNOPSIS ] && continue ;; esac
		if ! grep -q "^\.SH \"*$sect\"*\$" "$page"; then
			echo "FAIL: $page: no $sect section"
			fail=1
		fi
	done
done

# The long options each program prints in its --help, as the page writes
# them: "--no-token" is "\-\-no\-token" in roff.
check_options() {
	prog=$1
	shift
	help=$("$@" 2>&1) || { echo "FAIL: $prog --help failed"; fail=1; return; }
	opts=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	[ -n "$opts" ] || { echo "FAIL: $prog --help lists no long option"; fail=1; return; }
	for o in $opts; do
		roff=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		if ! grep -q -- "$roff" "${optpage:-$srcdir/doc/scopegate.8}"; then
			echo "FAIL: ${optpage:-scopegate.8} does not document $prog $o"
			fail=1
		fi
	done
	echo "checked $(printf '%s\n' "$opts" | wc -l) long options of $prog"
}

if [ -x "$scopegate" ]; then
	check_options scopegate "$scopegate" --help
	check_options "scopegate explain" "$scopegate" explain --help
else
	echo "FAIL: $scopegate not built"
	fail=1
fi
if [ -x "$token_tool" ]; then
	check_options scopegate-token "$token_tool" --help
fi
# scopegate-policy has its own page.
if [ -x "$builddir/scopegate-policy" ]; then
	optpage="$srcdir/doc/scopegate-policy.1" check_options scopegate-policy \
	    "$builddir/scopegate-policy" --help
else
	echo "FAIL: $builddir/scopegate-policy not built"
	fail=1
fi

# Every configuration key the loader accepts appears in scopegate.json.5:
# the key tables of the configuration parsers, {"name", JC_...}.
for src in "$srcdir"/src/cfg.c "$srcdir"/src/cfg_upstreams.c "$srcdir"/src/token_config.c "$srcdir"/src/revoke_config.c \
    "$srcdir"/src/policy_load.c "$srcdir"/src/tls_config.c \
    "$srcdir"/src/jwks_remote.c "$srcdir"/src/cfg_rollout.c \
    "$srcdir"/src/ratelimits.c "$srcdir"/src/introspect_parse.c; do
	[ -f "$src" ] || continue
	for key in $(grep -o '{ *"[a-z_]*", *JC_' "$src" | sed 's/{ *"\([a-z_]*\)".*/\1/' | sort -u); do
		# A term of its own (.SS/.BR/.B line) or quoted in an example.
		if ! grep -q -e "^\.\(SS\|BR\|B\) $key\( \|\$\)" -e "\\\\(dq$key\\\\(dq" \
		    "$srcdir/doc/scopegate.json.5"; then
			echo "FAIL: scopegate.json.5 does not document \"$key\" ($src)"
			fail=1
		fi
	done
done
exit $fail
