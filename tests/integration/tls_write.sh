#!/usr/bin/env bash
# tls_write.sh: what the gateway writes to a TLS client, counted in TLS
# records by tests/integration/tls_records.py (TLS over memory BIOs, the
# raw bytes split into records before decryption): a small answer, the
# upstream's or the gateway's own, leaves as one record (libevent would
# write its head and its body as two), on TLS 1.3 and 1.2, again and again
# on one keep-alive connection; large answers, with a length or chunked in
# small pieces, arrive whole and in order.
. "$(dirname "$0")/lib.sh"

PKI="$T/pki"
copy_tls_pki

start_upstream up
GW_PORT=$(free_port)
cat > "$T/gw.json" <<EOT
{
  "listeners": [ { "address": "127.0.0.1", "port": $GW_PORT,
    "tls": { "certificates": [ { "cert": "pki/server-ec.pem", "key": "pki/server-ec.key" } ] } } ],
  "upstream": { "url": "http://127.0.0.1:$UP_PORT" },
  "log": { "access": "$T/access.log" }
}
EOT
start_gateway "$T/gw.json" || exit 1

for v in 1.3 1.2; do
	python3 "$top_srcdir/tests/integration/tls_records.py" "$GW_PORT" "$PKI/ca.pem" "$v" \
	    "GET /__test/echo/a" "GET /__test/echo/b" \
	    "GET /__test/bigcl?bytes=300000" "GET /__test/bigcl?bytes=17000" \
	    "GET /__test/big?bytes=40000&chunk=100" "GET /__test/echo/c" \
	    "PROPFIND /x" > "$T/r$v" 2> "$T/r$v.err"
	expect_eq "TLS $v: seven answers on one connection (the last closes it)" 7 "$(wc -l < "$T/r$v")"
	a() { sed -n "${1}p" "$T/r$v"; }
	for i in 1 2 6; do
		expect_eq "TLS $v: small proxied answer $i: 200 in one record" '200 1' \
		    "$(json_get - 'str(d["status"]) + " " + str(d["records"])' <<<"$(a $i)")"
	done
	expect_eq "TLS $v: the gateway's own error answer in one record" '501 1' \
	    "$(json_get - 'str(d["status"]) + " " + str(d["records"])' <<<"$(a 7)")"
	expect_eq "TLS $v: 300,000 bytes with a length arrive whole" '200 300000 True' \
	    "$(json_get - '"%d %d %s" % (d["status"], d["body_length"], d["body_ok"])' <<<"$(a 3)")"
	expect_eq "TLS $v: 17,000 bytes (over one record) arrive whole" '200 17000 True' \
	    "$(json_get - '"%d %d %s" % (d["status"], d["body_length"], d["body_ok"])' <<<"$(a 4)")"
	expect_eq "TLS $v: 40,000 bytes chunked by 100 arrive whole" '200 40000 True' \
	    "$(json_get - '"%d %d %s" % (d["status"], d["body_length"], d["body_ok"])' <<<"$(a 5)")"
done
finish
