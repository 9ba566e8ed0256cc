#!/usr/bin/env bash
# revoke_attacks.sh: the revocation guarantees, each attacked through the
# real daemon and the example upstream (and `scopegate explain`, which must
# agree): another spelling of the id (every case combination, through the
# API, the admin API, the ids file and a journal of the old format), a
# short retention with compaction and restart, an API status change
# against an operator's revocation, tokens whose id cannot be revoked
# (tokens.require_id), and reloads of the revocation sources. A refusal is
# asserted with its status and with nothing reaching the upstream.
. "$(dirname "$0")/lib.sh"

KEYS="$top_srcdir/tests/data/keys"
APP=5f0c0c0c0c0c0c0c0c0c0c0c
mkdir -p "$T/state"
start_upstream up
GW_PORT=$(free_port)
ADMIN_PORT=$(free_port)
U="http://127.0.0.1:$GW_PORT/applications/$APP/tokens"
A="http://127.0.0.1:$ADMIN_PORT"
J=(-H 'Content-Type: application/json')

# gw_config FILE [extra members of "revocations" [extra members of "tokens"]]
gw_config() {
	cat > "$1" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "policy": "$top_srcdir/conf/policy.json",
  "tokens": { "keys": [ { "file": "$KEYS/ec256.pem", "kid": "e1" } ]${3:+, $3} },
  "admin": { "address": "127.0.0.1", "port": $ADMIN_PORT },
  "revocations": { "journal": "${JOURNAL:-$T/state/rev.journal}", "retention_s": 1${2:+, $2} },
  "log": { "access": "$T/access.log" }
}
EOT
}
mint() {	# JTI [more scopegate-token options]
	local jti=$1
	shift
	"$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 86400 \
	    --jti "$jti" --scope "applicationApiTokens.get" "$@"
}
code() {	# TOKEN: status of a GET with it on a fresh connection
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$U"
}
explain_status() {	# TOKEN
	"$SCOPEGATE" explain -c "$T/gw.json" GET "/applications/$APP/tokens" --token "$1" \
	    > "$T/ex.json" 2> "$T/ex.err"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%s/%s" % (d["status"], d["reason"]))' "$T/ex.json"
}
# Under valgrind an explain run takes seconds: there only every 12th
# decision is also asked of explain (the daemon's are all checked).
NEXPLAIN=0
explain_now() {
	NEXPLAIN=$((NEXPLAIN + 1))
	[ -z "${UNDER_VALGRIND:-}" ] || [ $((NEXPLAIN % 12)) -eq 1 ]
}
# refused NAME TOKEN [reason]: 401 from the daemon, nothing forwarded,
# and explain says the same.
refused() {
	local before got reason=${3:-revoked}
	before=$(record_count)
	got=$(code "$2")
	expect_eq "$1: 401" 401 "$got"
	expect_eq "$1: nothing reached the upstream" "$before" "$(record_count)"
	if explain_now; then
		expect_eq "$1: explain agrees" "401/$reason" "$(explain_status "$2")"
	fi
}
allowed() {	# NAME TOKEN
	expect_eq "$1: 200" 200 "$(code "$2")"
	if explain_now; then
		expect_eq "$1: explain agrees" "200/" "$(explain_status "$2" | sed 's,/.*,/,')"
	fi
}
new_token() {	# a token the upstream holds; prints its id
	curl -s -X POST "${J[@]}" -d '{"name":"t","scope":["all.Application.read"]}' \
	    -H "Authorization: Bearer $ADMIN_TOK" "$U" > "$T/new.json"
	json_get "$T/new.json" 'd["id"]'
}
upper() { echo "$1" | tr 'a-f' 'A-F'; }
mixed() { python3 -c 'import sys; s=sys.argv[1]; print("".join(c.upper() if i%2 else c.lower() for i,c in enumerate(s)))' "$1"; }
spell() {	# SPELLING ID
	case $1 in lower) echo "$2" ;; upper) upper "$2" ;; mixed) mixed "$2" ;; esac
}

# A journal written by the previous version (format 1, no header): an
# upper-case id in it is the same token as its lower-case jti.
OLD=5f3333333333333333333333
printf '+ %s 99999999999\n' "$(upper "$OLD")" > "$T/state/rev.journal"
gw_config "$T/gw.json"
start_gateway "$T/gw.json"
ADMIN_TOK=$(mint admin-1 --scope "all.Application")
refused "format 1 journal entry (upper case) vs lower-case jti" "$(mint "$OLD")"
check "the old journal was rewritten in format 2" \
    grep -q '^#scopegate-revocations 2$' "$T/state/rev.journal"
curl -s "$A/revocations" > "$T/list.json"
expect_eq "GET /revocations: the old entry is an operator's" operator \
    "$(json_get "$T/list.json" '[e["source"] for e in d["revocations"] if e["id"]=="'$OLD'"][0]')"

# --- one canonical id form: DELETE through the API, every spelling pair --
for s in lower upper mixed; do
	id=$(new_token)
	for l in lower upper mixed; do
		tok=$(mint "$(spell $l "$id")")
		[ "$s" = lower ] && allowed "before: jti in $l case" "$tok"
	done
	got=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE \
	    -H "Authorization: Bearer $ADMIN_TOK" "$U/$(spell $s "$id")")
	expect_eq "DELETE with the id in $s case answered by the upstream" 200 "$got"
	for l in lower upper mixed; do
		refused "deleted as $s, jti in $l case" "$(mint "$(spell $l "$id")")"
	done
	DELETED=$id
done
check "the journal holds the canonical (lower-case) id" grep -q "^+ $DELETED " "$T/state/rev.journal"

# --- the admin API, every spelling pair; reinstated through another -----
for s in lower upper mixed; do
	id=5f44444444444444444444a$((RANDOM % 10))
	curl -s -o "$T/post.json" -X POST "${J[@]}" -d "{\"id\":\"$(spell $s "$id")\"}" "$A/revocations"
	expect_eq "admin POST in $s case stores the canonical id" "$id" "$(json_get "$T/post.json" 'd["id"]')"
	for l in lower upper mixed; do
		refused "operator revoked as $s, jti in $l case" "$(mint "$(spell $l "$id")")"
	done
	other=$(spell "$([ $s = upper ] && echo mixed || echo upper)" "$id")
	expect_eq "admin DELETE in another case reinstates" 204 \
	    "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${J[@]}" "$A/revocations/$other")"
	allowed "reinstated, jti in $s case" "$(mint "$(spell $s "$id")")"
done

# --- PATCH status inactive with an upper-case id, then active -------------
id=$(new_token)
curl -s -o /dev/null -X PATCH "${J[@]}" -d '{"status":"inactive"}' \
    -H "Authorization: Bearer $ADMIN_TOK" "$U/$(upper "$id")"
refused "PATCH inactive (upper case), jti in lower case" "$(mint "$id")"
curl -s -o /dev/null -X PATCH "${J[@]}" -d '{"status":"active"}' \
    -H "Authorization: Bearer $ADMIN_TOK" "$U/$(mixed "$id")"
allowed "PATCH active (mixed case) undoes the status change" "$(mint "$id")"

# --- who revoked decides who reinstates -----------------------------------
id=$(new_token)
curl -s -o /dev/null -X POST "${J[@]}" -d "{\"id\":\"$id\"}" "$A/revocations"
got=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "${J[@]}" -d '{"status":"active"}' \
    -H "Authorization: Bearer $ADMIN_TOK" "$U/$id")
expect_eq "the upstream reactivates the token (PATCH active)" 200 "$got"
refused "an operator's revocation survives an API status change" "$(mint "$id")"
check "... and the log says why" grep -q "$id stays revoked" "$T/gateway.err"
curl -s "$A/revocations" > "$T/list.json"
expect_eq "GET /revocations shows the source: operator" operator \
    "$(json_get "$T/list.json" '[e["source"] for e in d["revocations"] if e["id"]=="'$id'"][0]')"
expect_eq "GET /revocations shows the source: delete" delete \
    "$(json_get "$T/list.json" '[e["source"] for e in d["revocations"] if e["id"]=="'$DELETED'"][0]')"
OPS_ID=$id

# --- a learned revocation outlives every token it names -------------------
# retention_s is 1: past it, a compaction (at each start) and a restart
# (SIGKILL, so nothing is flushed on the way out) must keep them.
sleep 2
kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null
start_gateway "$T/gw.json"
refused "deleted token after retention, compaction and restart" "$(mint "$DELETED")"
refused "operator's revocation after retention and restart" "$(mint "$(upper "$OPS_ID")")"
refused "old journal entry after retention and restart" "$(mint "$OLD")"
check "learned entries are kept for ever (no token lifetime bound)" \
    grep -q "^+ $DELETED 9223372036854775807 " "$T/state/rev.journal"

# --- tokens.require_id -------------------------------------------------------
NOJTI=$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 --kid e1 --exp-in 600 \
    --scope "applicationApiTokens.get")
LONG=$(python3 -c "print('x' * $(($(grep -o 'SG_REVOKE_MAX_ID_BYTES[[:space:]]*[0-9]*' "$top_srcdir/src/defaults.h" | awk '{print $2}') + 1)))")
refused "no id claim (require_id by default with revocations)" "$NOJTI" token_id_missing
check "... logged as token_id_missing" grep -q '"reason":"token_id_missing"' "$T/access.log"
refused "an id longer than the store holds" "$(mint "$LONG")" token_id_invalid
refused "an id with a space" "$(mint "a b")" token_id_invalid
refused "an id with a NUL inside" "$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 \
    --kid e1 --exp-in 600 --scope applicationApiTokens.get --claim 'jti="x\u0000y"')" malformed
refused "a numeric id claim" "$("$TOKEN_BIN" --key "$KEYS/ec256.key" --alg ES256 \
    --kid e1 --exp-in 600 --scope applicationApiTokens.get --claim 'jti=5')" bad_claim
LONGEST=$(python3 -c "print('y' * $(( ${#LONG} - 1 )))")
allowed "the longest id the store holds" "$(mint "$LONGEST")"
curl -s -o /dev/null -X POST "${J[@]}" -d "{\"id\":\"$LONGEST\"}" "$A/revocations"
refused "... and it can be revoked" "$(mint "$LONGEST")"
expect_eq "the admin API refuses an id over the limit" 400 "$(curl -s -o /dev/null \
    -w '%{http_code}' -X POST "${J[@]}" -d "{\"id\":\"$LONG\"}" "$A/revocations")"
gw_config "$T/gw.json" "" '"require_id": false'
reload_and_wait
allowed "require_id false: a token without an id is the operator's choice" "$NOJTI"

# --- reloads apply revocation sources, or say they cannot -------------------
LISTED=$(mint listed-1)
allowed "before the ids file" "$LISTED"
printf 'LISTED-1\n5F5555555555555555555555\n' > "$T/ids"
gw_config "$T/gw.json" "\"ids_file\": \"$T/ids\""
reload_and_wait
refused "an ids file added by a reload (the id is not hex: byte for byte)" "$(mint LISTED-1)"
allowed "a different spelling of a non-hex id is another id" "$LISTED"
refused "an ids file entry in upper case vs a lower-case jti" "$(mint 5f5555555555555555555555)"
printf 'listed-1\n' > "$T/ids"
reload_and_wait
refused "the edited ids file adds" "$LISTED"
allowed "... and removes" "$(mint 5f5555555555555555555555)"
printf 'not valid\n' > "$T/ids"
reload_and_wait
check "a bad ids file fails the reload" grep -q "reload failed" "$T/gateway.err"
# The check ExecStartPre and ExecReload run must refuse what a start or a
# reload refuses (red22: it said "configuration OK", then a restart died).
check "... and scopegate -t refuses it too" bash -c "! '$SCOPEGATE' -t -c '$T/gw.json' 2>'$T/t-ids.err'"
check "... naming the line" grep -q "ids:1: not a valid token id" "$T/t-ids.err"
expect_eq "... and the old entries stay in force" 401 "$(code "$LISTED")"
explain_status "$LISTED" > /dev/null
expect_eq "explain cannot read the bad file and says so" false \
    "$(json_get "$T/ex.json" 'd["revocations_checked"]')"
check "... naming the line" grep -q "ids:1: not a valid token id" "$T/ex.err"
printf 'listed-1\n' > "$T/ids"
JOURNAL="$T/state/other.journal" gw_config "$T/gw.json" "\"ids_file\": \"$T/ids\""
reload_and_wait
check "a new journal path needs a restart (logged)" \
    grep -q "reload: revocations.journal changed; not applied live, restart to apply it" "$T/gateway.err"
check "... and the reload says it is not fully applied" \
    grep -q "in force except revocations.journal: restart needed" "$T/gateway.err"
finish
