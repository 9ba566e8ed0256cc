#!/bin/sh
# readme-usage.sh: the usage lines at the top of the README's "Running"
# block are exactly what `scopegate --help` prints (its lines up to the
# first blank one, "usage: " and its indentation taken off), so the README
# cannot drift from the program. (The scopegate-token line there is a
# summary ending in "..."; `scopegate-token --help` is its reference.)
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
scopegate=${SCOPEGATE:-$builddir/scopegate}

help=$("$scopegate" --help | sed -n '1,/^$/p' | sed -e '/^$/d' -e 's/^usage: //' -e 's/^       //')
readme=$(awk '/^## Running/ { r = 1; next } r && /^```/ { if (f) exit; f = 1; next }
    f && /^scopegate-token / { exit } f { print }' "$srcdir/README.md")
if [ -z "$help" ] || [ "$help" != "$readme" ]; then
	echo "FAIL: README usage differs from scopegate --help"
	echo "--- scopegate --help"
	echo "$help"
	echo "--- README.md"
	echo "$readme"
	exit 1
fi
echo "ok: README usage matches scopegate --help ($(echo "$help" | wc -l) lines)"
