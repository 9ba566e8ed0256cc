#!/bin/sh
# systemd-verify.sh: `systemd-analyze verify` on the unit, with @sbindir@
# and @sysconfdir@ replaced by real paths (the built daemon, a temporary
# configuration folder) and the man pages of Documentation= made findable.
# Checks systemd/scopegate.service.in, and scopegate.service.in.new while a
# proposed replacement is pending. Exit 77 (skipped) without systemd-analyze.
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
sbin=$(cd "$builddir" && pwd)

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd-verify: systemd-analyze not found, skipped"
	exit 77
fi
if [ ! -x "$sbin/scopegate" ]; then
	echo "systemd-verify: $sbin/scopegate not built"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-systemd.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/etc/scopegate" "$tmp/man/man8" "$tmp/man/man5" "$tmp/units"
cp "$srcdir/doc/scopegate.8" "$tmp/man/man8/" &&
cp "$srcdir/doc/scopegate.json.5" "$tmp/man/man5/" || exit 1
MANPATH="$tmp/man"
export MANPATH
manopt=
if ! command -v man >/dev/null 2>&1; then
	manopt=--man=no
fi

fail=0
checked=0
final="$srcdir/systemd/scopegate.service.in"
[ -f "$final.new" ] && final="$final.new"
for f in "$srcdir/systemd/scopegate.service.in" "$srcdir/systemd/scopegate.service.in.new"; do
	[ -f "$f" ] || continue
	unit="$tmp/units/scopegate.service"
	sed -e "s|@sbindir@|$sbin|g" -e "s|@sysconfdir@|$tmp/etc|g" \
	    -e "s|@bindir@|$sbin|g" -e "s|@localstatedir@|$tmp/var|g" "$f" >"$unit"
	if grep -n '@[a-z_]*@' "$unit"; then
		echo "FAIL: $f: unsubstituted placeholder(s) above"
		fail=1
		continue
	fi
	# verify prints problems but does not always fail on them; it also
	# loads the units ours depends on, whose complaints are not ours.
	out=$(systemd-analyze verify $manopt "$unit" 2>&1)
	rc=$?
	checked=$((checked + 1))
	other=$(printf '%s\n' "$out" | grep -v -e scopegate -e '^$')
	out=$(printf '%s\n' "$out" | grep -e scopegate)
	[ -n "$other" ] && printf 'note (other units): %s\n' "$other"
	if [ -n "$out" ] || { [ $rc -ne 0 ] && [ -z "$other" ]; }; then
		echo "FAIL: $f (exit $rc):"
		echo "$out"
		fail=1
	else
		echo "ok: $f"
	fi
	# What the daemon relies on, beyond what verify checks.
	for want in '^Type=notify$' '^NotifyAccess=main$' '^ExecReload=/bin/kill -HUP \$MAINPID$' \
	    '^ExecStart=.* -f '; do
		if ! grep -q "$want" "$unit"; then
			if [ "$f" = "$final" ]; then
				echo "FAIL: $f lacks $want"
				fail=1
			else
				echo "note: $f lacks $want (superseded by $final)"
			fi
		fi
	done
done
if [ -f "$srcdir/systemd/scopegate.sysusers" ] &&
    ! grep -q '^u scopegate ' "$srcdir/systemd/scopegate.sysusers"; then
	echo "FAIL: scopegate.sysusers does not declare the scopegate user"
	fail=1
fi
[ $checked -gt 0 ] || { echo "FAIL: no unit file found"; fail=1; }
exit $fail
