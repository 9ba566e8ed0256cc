#!/bin/sh
# systemd-verify.sh: what `make install` installs is what is checked. Runs
# `make install DESTDIR=<scratch root>` in the build tree, then, on the
# INSTALLED files (never a copy made here):
#   - the unit has no unsubstituted @...@ and passes `systemd-analyze verify
#     --root=<root>`, which also fails when an Exec*= binary is missing
#     under the root or a Documentation= man page does not open there;
#   - what the daemon relies on is in the unit (Type=notify, the
#     configuration checked before each reload, then HUP);
#   - the installed man pages render without groff warnings;
#   - the installed default configuration fails -t naming the key file,
#     then passes -t once the documented key step is done (a JWKS put in
#     the configuration folder);
#   - the logrotate snippet and the sysusers entry are installed and parse;
#   - the unit's ExecReload= lines, run as systemd runs them against the
#     installed daemon, fail on a broken configuration without signalling
#     it, and reload it on a good one.
# Exit 77 (skipped) without systemd-analyze.
set -u

srcdir=${top_srcdir:-.}
builddir=$(cd "${top_builddir:-.}" && pwd)

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd-verify: systemd-analyze not found, skipped"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
root="$tmp/root"
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

# The parent make's job server is not ours to use.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" install \
    DESTDIR="$root" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: make install DESTDIR=$root"
	exit 1
fi
# Where configure put things: read back from the build's Makefile.
mkvar() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" --no-print-directory \
	    -f Makefile -f - print-var VAR="$1" <<'EOF'
print-var:
	@echo $($(VAR))
EOF
}
sbindir=$(mkvar sbindir)
sysconfdir=$(mkvar sysconfdir)
mandir=$(mkvar mandir)
bindir=$(mkvar bindir)
unitdir=$(mkvar systemdunitdir)
sysusersdir=$(mkvar sysusersdir)
echo "installed: sbindir=$sbindir sysconfdir=$sysconfdir unitdir=$unitdir"

unit="$root$unitdir/scopegate.service"
[ -f "$unit" ] || { bad "no unit at $unit"; exit 1; }
if grep -n '@[A-Za-z_]*@' "$unit"; then
	bad "$unit: unsubstituted placeholder(s) above"
fi
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[ "$exe" = "$sbindir/scopegate" ] || bad "ExecStart runs '$exe', not $sbindir/scopegate"
[ -x "$root$exe" ] || bad "ExecStart binary $exe is not installed under DESTDIR"
[ -x "$root$bindir/scopegate-policy" ] || bad "scopegate-policy is not installed in $bindir"

# systemd-analyze resolves Exec*= paths and the units ours depends on
# inside --root: give the root the system's units and the kill(1) that
# ExecReload= uses, the rest must be what make install put there.
mkdir -p "$root/usr/lib/systemd" "$root/usr/bin"
cp -R /lib/systemd/system "$root/usr/lib/systemd/" 2>/dev/null ||
    cp -R /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp /bin/kill "$root/usr/bin/kill"
[ -e "$root/bin" ] || ln -s usr/bin "$root/bin"
# Documentation=man:... is looked up with man(1) in the installed pages.
MANPATH="$root$mandir"
export MANPATH
manopt=
command -v man >/dev/null 2>&1 || manopt=--man=no
out=$(cd "$tmp" && systemd-analyze verify $manopt --root="$root" "$unit" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	bad "systemd-analyze verify (exit $rc):"
	echo "$out"
else
	echo "ok: systemd-analyze verify $unit"
fi

# The socket unit (socket activation): installed beside the service, passes
# verify, and its socket is what the installed configuration's listener
# takes (same name, same address): enabled as shipped, it starts.
sock="$root$unitdir/scopegate.socket"
if [ ! -f "$sock" ]; then
	bad "no socket unit at $sock"
else
	out=$(cd "$tmp" && systemd-analyze verify $manopt --root="$root" "$sock" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$out" ]; then
		bad "systemd-analyze verify $sock (exit $rc):"
		echo "$out"
	else
		echo "ok: systemd-analyze verify $sock"
	fi
	python3 - "$sock" "$root$sysconfdir/scopegate/scopegate.json" <<'PY' || bad "$sock does not match the installed configuration's listeners"
import json, sys
unit = dict(l.strip().split("=", 1) for l in open(sys.argv[1])
            if "=" in l and not l.lstrip().startswith("#"))
conf = json.load(open(sys.argv[2]))
want = ["%s:%d" % ("[%s]" % l["address"] if ":" in l["address"] else l["address"], l["port"])
        for l in conf["listeners"]]
names = [l.get("name") for l in conf["listeners"]]
ok = [unit.get("ListenStream")] == want and names == [unit.get("FileDescriptorName")]
print("socket unit: ListenStream=%s FileDescriptorName=%s; configuration: %s %s"
      % (unit.get("ListenStream"), unit.get("FileDescriptorName"), want, names))
sys.exit(0 if ok else 1)
PY
fi
grep -q '^Sockets=' "$unit" && bad "$unit has Sockets= (socket activation is meant to be optional)"

# What the daemon relies on, beyond what verify checks.
conf="$sysconfdir/scopegate/scopegate.json"
for want in '^Type=notify$' '^NotifyAccess=main$' \
    "^ExecStartPre=$sbindir/scopegate -t -c $conf\$" \
    "^ExecStart=$sbindir/scopegate -f -c $conf\$"; do
	grep -q "$want" "$unit" || bad "$unit lacks $want"
done
# Reload: the check first, then the signal (systemd runs ExecReload= lines
# in order and stops at the first that fails).
reloads=$(sed -n 's/^ExecReload=//p' "$unit")
expect="$sbindir/scopegate -t -c $conf
/bin/kill -HUP \$MAINPID"
[ "$reloads" = "$expect" ] || bad "ExecReload= lines are '$reloads', expected '$expect'"

# Installed man pages render without warnings.
for page in "$root$mandir/man8/scopegate.8" "$root$mandir/man5/scopegate.json.5" \
    "$root$mandir/man1/scopegate-policy.1"; do
	if [ ! -f "$page" ]; then
		bad "$page not installed"
		continue
	fi
	warn=$(MANWIDTH=80 man --warnings=w -l "$page" 2>&1 >/dev/null)
	lines=$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
	if [ -n "$warn" ] || [ "$lines" -lt 50 ]; then
		bad "$page renders with warnings or nearly empty ($lines lines): $warn"
	else
		echo "ok: $page renders ($lines lines)"
	fi
done

# The installed default configuration: without the key step -t fails and
# names the missing key file; with it -t passes.
cfg="$root$conf"
"$root$sbindir/scopegate" -t -c "$cfg" >"$tmp/t.out" 2>&1 &&
    bad "-t passed on the default configuration without a key"
grep -q "/tokens/keys/0: .*jwks.json" "$tmp/t.out" ||
    bad "-t without a key does not name the key file: $(cat "$tmp/t.out")"
cp "$srcdir/tests/data/keys/jwks.json" "$root$sysconfdir/scopegate/jwks.json"
if "$root$sbindir/scopegate" -t -c "$cfg" >"$tmp/t.out" 2>&1; then
	echo "ok: installed default configuration passes -t after the key step"
else
	bad "installed default configuration fails -t: $(cat "$tmp/t.out")"
fi

# logrotate snippet: installed, parses (-d: a dry run that changes nothing).
lr="$root$sysconfdir/logrotate.d/scopegate"
if [ ! -f "$lr" ]; then
	bad "$lr not installed"
elif command -v logrotate >/dev/null 2>&1; then
	logrotate -d -s "$tmp/lr.state" "$lr" >"$tmp/lr.out" 2>&1 ||
	    bad "logrotate -d $lr: $(cat "$tmp/lr.out")"
	grep -q 'error' "$tmp/lr.out" && bad "logrotate -d $lr: $(grep error "$tmp/lr.out")"
	grep -q 'kill-whom=main --signal=USR1 scopegate.service' "$lr" ||
	    bad "$lr does not send USR1 to the main process"
fi

# The installed unit's ExecReload= as systemd runs it (each line in order,
# the first that fails ends the reload and makes `systemctl reload` fail),
# against the installed daemon: the paths the unit names are taken inside
# DESTDIR, $MAINPID is the daemon's PID. A broken configuration fails the
# reload and the daemon never gets the signal; a good one reloads it.
exec_reload() {
	sed -n 's/^ExecReload=//p' "$unit" > "$tmp/reload.lines"
	while IFS= read -r line; do
		cmd=$(printf '%s\n' "$line" | sed -e "s|\$MAINPID|$1|g" \
		    -e "s|$sbindir/|$root$sbindir/|g" -e "s|$sysconfdir/|$root$sysconfdir/|g")
		sh -c "$cmd" || return 1
	done < "$tmp/reload.lines"
	return 0
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$cfg" <<EOT
{ "listeners": [ { "address": "127.0.0.1", "port": $port } ],
  "upstream": { "url": "http://127.0.0.1:9" }, "log": { "access": null } }
EOT
"$root$sbindir/scopegate" -f -c "$cfg" 2> "$tmp/daemon.err" &
daemon=$!
for i in $(seq 1 100); do grep -q ' started' "$tmp/daemon.err" && break; sleep 0.05; done
if ! grep -q ' started' "$tmp/daemon.err"; then
	bad "the installed daemon did not start: $(cat "$tmp/daemon.err")"
else
	cp "$cfg" "$tmp/good.json"
	echo '{ "listeners": [' > "$cfg"
	if exec_reload "$daemon" > "$tmp/reload.out" 2>&1; then
		bad "ExecReload succeeded on a broken configuration"
	elif ! grep -q "$cfg:" "$tmp/reload.out"; then
		bad "ExecReload's failure does not name the file: $(cat "$tmp/reload.out")"
	else
		echo "ok: ExecReload fails on a broken configuration: $(tail -n 1 "$tmp/reload.out")"
	fi
	sleep 0.3
	grep -q 'reloading' "$tmp/daemon.err" && bad "the daemon was signalled despite the broken configuration"
	cp "$tmp/good.json" "$cfg"
	exec_reload "$daemon" > "$tmp/reload.out" 2>&1 || bad "ExecReload failed on a good configuration: $(cat "$tmp/reload.out")"
	for i in $(seq 1 100); do grep -q 'generation 2 in force' "$tmp/daemon.err" && break; sleep 0.05; done
	if grep -q 'generation 2 in force' "$tmp/daemon.err"; then
		echo "ok: ExecReload on a good configuration reloads the daemon"
	else
		bad "ExecReload did not reload the daemon: $(cat "$tmp/daemon.err")"
	fi
fi
kill "$daemon" 2>/dev/null
wait "$daemon" 2>/dev/null

if ! grep -q '^u scopegate ' "$root$sysusersdir/scopegate.conf" 2>/dev/null; then
	bad "installed sysusers entry does not declare the scopegate user"
fi
[ $fail -eq 0 ] && echo "ok: installed artefacts"
exit $fail
