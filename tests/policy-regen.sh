#!/bin/sh
# policy-regen.sh: conf/policy.json must be exactly what tools/gen-policy.py
# makes from data/losant-api/routes.json (and its schemas must exist in
# conf/schemas/). Regenerate into a temporary file and compare; the file is
# written by scopegate-policy from-actions, the writer the OpenAPI importer
# shares.
top=${top_srcdir:-.}
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/policy-regen.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# The writer loads what it wrote, schemas included.
ln -s "$top/conf/schemas" "$tmp/schemas" || exit 1
python3 "$top/tools/gen-policy.py" --routes "$top/data/losant-api/routes.json" \
    --schemas-dir "$top/conf/schemas" --out "$tmp/policy.json" \
    --writer "${top_builddir:-.}/scopegate-policy" || exit 1
if ! cmp -s "$tmp/policy.json" "$top/conf/policy.json"; then
	echo "conf/policy.json differs from what tools/gen-policy.py generates:"
	diff -u "$top/conf/policy.json" "$tmp/policy.json" | head -40
	echo "run tools/gen-policy.py and commit the result"
	exit 1
fi
echo "conf/policy.json is up to date ($(grep -c '"action":' "$top/conf/policy.json") actions)"
