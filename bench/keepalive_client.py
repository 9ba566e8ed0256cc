#!/usr/bin/env python3
"""keepalive_client.py PORT N TOKEN PATH [METHOD [CAFILE]]: N requests (GET
by default) over one keep-alive connection; with CAFILE, over TLS to
127.0.0.1 (the server's certificate verified against CAFILE; the highest
version both sides speak, TLS 1.3 here). Exits 1 unless every answer is
200. TOKEN "@FILE" is a file of tokens, one a line: request i carries
token i mod their number (a fresh token on every request, as bench/wrk.lua's
BENCH_TOKENS)."""
import http.client
import ssl
import sys

port, n, token, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
method = sys.argv[5] if len(sys.argv) > 5 else "GET"
tokens = [token]
if token.startswith("@"):
    with open(token[1:]) as f:
        tokens = [line.strip() for line in f if line.strip()]
cafile = sys.argv[6] if len(sys.argv) > 6 else None
if cafile:
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=60,
                                    context=ssl.create_default_context(cafile=cafile))
else:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for i in range(n):
    c.request(method, path, headers={"Authorization": "Bearer " + tokens[i % len(tokens)]})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("keepalive_client: answer %d" % r.status)
