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
# Two large answers pipelined to a client with a 4 KB receive buffer that
# stops reading a while: the gateway stops reading the upstream until the
# client takes the bytes queued (proxy.c client_drained_cb), and OpenSSL's
# bufferevent reports that drain deferred, possibly after the answer has
# ended and its request been freed (an ASan build aborts on the late call
# if it reaches the request; it goes through the connection). Every byte
# of both answers arrives, in order, on every connection.
python3 - "$GW_PORT" "$PKI/ca.pem" > "$T/pipe-big" 2> "$T/pipe-big.err" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
n = 2000000
for i in range(6):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    t = ctx.wrap_socket(s, server_hostname="localhost")
    r = b"GET /__test/bigcl?bytes=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % n
    t.sendall(r + r)
    got = b""
    while len(got) < 65536:
        got += t.recv(16384)
    time.sleep(0.1 + 0.05 * i)
    t.settimeout(10)
    try:
        while True:
            d = t.recv(65536)
            if not d:
                break
            got += d
            if got.count(b"HTTP/1.1 200") == 2 and len(got) >= 2 * n + 2 * got.index(b"\r\n\r\n"):
                break
    except (socket.timeout, ssl.SSLError, OSError):
        pass
    # The second head starts right after the first body, and the
    # second body is whole.
    h1 = got.find(b"\r\n\r\n") + 4
    second = got.find(b"HTTP/1.1 200", h1 + n)
    h2 = got.find(b"\r\n\r\n", second) + 4
    ok = got.startswith(b"HTTP/1.1 200") and second == h1 + n and len(got) == h2 + n
    print(i, ok)
    t.close()
PY
expect_eq "TLS: two pipelined 2 MB answers to a slow small-window client, 6 connections" \
    6 "$(grep -c ' True$' "$T/pipe-big")"
expect_eq "TLS: the gateway still answers" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.pem" --resolve "localhost:$GW_PORT:127.0.0.1" "https://localhost:$GW_PORT/__test/echo/z")"
finish
