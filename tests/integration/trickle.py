#!/usr/bin/env python3
"""trickle.py: hostile slow clients for connlimits.sh.

  trickle.py tls PORT N INTERVAL OUT
      opens N connections to PORT and sends the bytes of a real TLS
      ClientHello (made by Python's ssl module) one at a time, every
      INTERVAL seconds on each; for each connection, writes to OUT (JSON)
      whether the server closed it, and when (seconds after the connect);
      "at_accept" when it was closed before the first byte could matter.
  trickle.py http PORT N INTERVAL OUT
      the same with the bytes of a plain HTTP request head.
  trickle.py keepalive PORT IDLE INTERVAL
      one request answered, then IDLE seconds of silence, then the next
      head one byte every INTERVAL: prints the seconds from the end of the
      first answer to the close, and the first answer bytes after it.
  trickle.py pipeline PORT
      two requests in one write (the second answered after 1.5 s), then,
      0.7 s after the second answer, a third: prints its status line (or
      "closed"): each answer restarts the deadline for the next head.
  trickle.py tlsidle PORT
      a complete TLS handshake, then silence: prints the seconds from the
      connect to the close.
Stops after 30 s at the most (HORIZON in the environment: other seconds; a
connection still open then: "closed": false).
"""
import json
import socket
import ssl
import sys
import time

HORIZON = float(__import__("os").environ.get("HORIZON", "30"))


def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    assert data[0] == 0x16, "not a TLS handshake record"
    return data


def flood(kind, port, n, interval, outpath):
    payload = client_hello() if kind == "tls" else \
        b"GET /__test/echo/slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        conns.append({"s": s, "t0": time.monotonic(), "sent": 0, "closed": False,
                      "after": None, "answer": b""})
    start = time.monotonic()
    while time.monotonic() - start < HORIZON:
        open_ = [c for c in conns if not c["closed"]]
        if not open_:
            break
        for c in open_:
            try:
                d = c["s"].recv(4096)
                if d:
                    c["answer"] += d
                    continue
                gone = True
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if not gone and c["sent"] < len(payload):
                try:
                    c["s"].send(payload[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                except OSError:
                    gone = True
            if gone:
                c["closed"] = True
                c["after"] = time.monotonic() - c["t0"]
        time.sleep(interval)
    res = [{"closed": c["closed"], "after": c["after"], "sent": c["sent"],
            "answer": c["answer"][:600].decode("latin-1")} for c in conns]
    for c in conns:
        c["s"].close()
    with open(outpath, "w") as f:
        json.dump(res, f)


def keepalive(port, idle, interval):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /__test/echo/ka HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        rest += s.recv(4096)
    t_end = time.monotonic()
    time.sleep(idle)
    nxt = b"GET /__test/echo/ka2 HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    s.setblocking(False)
    got = b""
    i = 0
    while time.monotonic() - t_end < HORIZON:
        try:
            d = s.recv(4096)
            if not d:
                break
            got += d
        except BlockingIOError:
            pass
        except OSError:
            break
        if i < len(nxt):
            try:
                s.send(nxt[i:i + 1])
                i += 1
            except OSError:
                break
        time.sleep(interval)
    print("%.2f %s" % (time.monotonic() - t_end, got[:12].decode("latin-1").replace(" ", "_")))


def read_answer(s, buf):
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            return None, b""
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        d = s.recv(4096)
        if not d:
            return None, b""
        rest += d
    return head.split(b"\r\n")[0].decode("latin-1"), rest[length:]


def pipeline(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    s.sendall(b"GET /__test/echo/p1 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /__test/slow?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
    first, buf = read_answer(s, b"")
    second, buf = read_answer(s, buf)
    if first is None or second is None:
        print("closed")
        return
    time.sleep(0.7)
    try:
        s.sendall(b"GET /__test/echo/p3 HTTP/1.1\r\nHost: x\r\n\r\n")
        third, _ = read_answer(s, buf)
    except OSError:
        third = None
    print((third or "closed").replace(" ", "_"))


def tlsidle(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t0 = time.monotonic()
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.settimeout(HORIZON)
    try:
        while s.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        pass
    print("%.2f" % (time.monotonic() - t0))


if __name__ == "__main__":
    if sys.argv[1] == "tlsidle":
        tlsidle(int(sys.argv[2]))
    elif sys.argv[1] == "pipeline":
        pipeline(int(sys.argv[2]))
    elif sys.argv[1] == "keepalive":
        keepalive(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
    else:
        flood(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
