#!/usr/bin/env python3
"""rawupstream.py PORT_FILE: an upstream that answers with exact bytes,
hostile ones included, chosen by the request path /case/NAME. It writes
its port to PORT_FILE and counts connections (GET /stats). /case/stale
answers on a new connection but, on a reused one, reads the request and
closes without a byte: an idle keep-alive connection closed by the
upstream just as a request went out on it. /case/early answers 200
keep-alive as soon as it has the head, reads none of the body, waits
half a second, then goes on reading the connection: what the gateway
wrote after the head (the rest of the body, then any request it put on
the same connection) is taken as the next requests, and a body made of
"GET /case/evil" requests gets "evil" answers. /case/slow-cl and
/case/slow-chunked send the head, then the body 0.6 s later."""
import socket
import socketserver
import sys
import threading
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CASES = {
    "ok-cl": (OK, False),
    "ok-chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"2\r\nok\r\n0\r\n\r\n", False),
    "ok-chunked-ext": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"2;x=y\r\nok\r\n0\r\nX-Trailer: t\r\n\r\n", False),
    "ok-close": (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nok", True),
    "ok-continue": (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, False),
    # CORS fields of its own, for an action the gateway answers CORS for.
    "cors-star": (b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n"
                  b"Access-Control-Allow-Credentials: true\r\n"
                  b"access-control-expose-headers: X-Secret\r\n"
                  b"Content-Length: 2\r\n\r\nok", False),
    "ok-nocontent": (b"HTTP/1.1 204 No Content\r\n\r\n", False),
    "nocontent-cl": (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", False),
    "cl-te": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"2\r\nok\r\n0\r\n\r\n", False),
    "cl-cl": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", False),
    "cl-sign": (b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", False),
    "te-gzip": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok", False),
    "obs-fold": (b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok", False),
    "bare-lf": (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", False),
    "nul-value": (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", False),
    "space-colon": (b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", False),
    "bad-status": (b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", False),
    "http2": (b"HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
    "http09": (b"ok", True),
    "upgrade": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", False),
    "huge-head": (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 40000 + b"\r\nContent-Length: 2\r\n\r\nok", False),
    "smuggle": (OK + b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil", False),
    "bad-chunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n", False),
    "chunk-0x": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n", False),
    "short-body": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", True),
    "empty": (b"", True),
    "evil": (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil", False),
    "reqid": (b"HTTP/1.1 200 OK\r\nX-Request-Id: upstream-chosen\r\n"
              b"X-Upstream-Request-Id: forged\r\nX-Scopegate-Decision: allow\r\n"
              b"Content-Length: 2\r\n\r\nok", False),
    "noreason": (b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", False),
}

# /case/slow-*: the head, then the body 0.6 s later.
SLOW = {
    "slow-cl": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok"),
    "slow-chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                     b"2\r\nok\r\n0\r\n\r\n"),
}

connections = 0
lock = threading.Lock()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        global connections
        with lock:
            connections += 1
        buf = b""
        s = self.request
        served = 0
        while True:
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1].decode()
            if path == "/stats":
                with lock:
                    body = b'{"connections":%d}' % connections
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                continue
            name = path.rsplit("/", 1)[-1]
            served += 1
            if name == "stale" and served > 1:
                s.close()
                return
            if name == "stale":
                name = "ok-cl"
            if name == "early":
                s.sendall(OK)
                time.sleep(0.5)
                continue
            # The head now, the body 0.6 s later (a slow upstream).
            if name in SLOW:
                s.sendall(SLOW[name][0])
                time.sleep(0.6)
                s.sendall(SLOW[name][1])
                continue
            data, close = CASES.get(name, (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", False))
            s.sendall(data)
            if close:
                s.shutdown(socket.SHUT_WR)
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % srv.server_address[1])
srv.serve_forever()
