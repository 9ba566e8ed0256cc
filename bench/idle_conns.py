#!/usr/bin/env python3
"""idle_conns.py: hold N idle keep-alive client connections open on a server.

Usage: idle_conns.py HOST PORT N PATH [TOKEN]

Opens N connections in batches, sends one GET request on each (with the
bearer token when given), reads each whole answer, and keeps every
connection open. Then prints "READY ok=X bad=Y" on stdout and waits until
it is killed. bench/run measures the server's resident
memory while this holds the connections.
"""

import resource
import signal
import socket
import sys

BATCH = 250


def read_answer(s):
    """Read one HTTP/1.1 answer from s; return its status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the header")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while not body.endswith(b"0\r\n\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside a chunked body")
            body += chunk
    elif length is not None:
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside the body")
            body += chunk
    return status


def main():
    if len(sys.argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    token = sys.argv[5] if len(sys.argv) == 6 else ""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n + 64:
        sys.stderr.write("idle_conns: the open files limit (%d) is below %d\n" % (hard, n + 64))
        return 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    req = "GET %s HTTP/1.1\r\nHost: %s:%d\r\n" % (path, host, port)
    if token:
        req += "Authorization: Bearer %s\r\n" % token
    req = (req + "\r\n").encode()

    conns = []
    ok = bad = 0
    while len(conns) < n:
        batch = []
        for _ in range(min(BATCH, n - len(conns))):
            s = socket.create_connection((host, port), timeout=30)
            s.sendall(req)
            batch.append(s)
        for s in batch:
            if 200 <= read_answer(s) < 300:
                ok += 1
            else:
                bad += 1
        conns.extend(batch)
    sys.stdout.write("READY ok=%d bad=%d\n" % (ok, bad))
    sys.stdout.flush()
    # Hold the connections until bench/run, done measuring, kills us.
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
