#!/usr/bin/env python3
"""chunkupstream.py PORT_FILE RECORD: an upstream that reads request bodies
itself, byte for byte, so that a test sees the framing the gateway wrote.
Each request is appended to RECORD as one JSON line once its body ended,
or once its connection ended in the middle of it:
  conn        the upstream connection's number (1, 2, ...)
  method, path, fields   ([name, value] as received)
  te, cl      its Transfer-Encoding and Content-Length values, or null
  chunks      chunk size lines read (the last chunk not counted)
  ext         a size line carried a chunk extension
  zeros       a size line had a leading zero (other than the last "0")
  upper       a size line used upper-case hex digits
  trailer     the last chunk was followed by a trailer field
  length, crc32   the decoded body: its length and CRC-32 (zlib's)
  complete    the body ended as framed; false when the connection ended
              (was closed by the gateway) in the middle of it
Framing it cannot read is recorded with "bad": the reason, and the
connection closed. A path ending in /early is answered 200 (keep-alive) as
soon as its head arrived, before the body is read; the body is then read
on as usual. Every other request is answered 200 "ok" once its body came."""
import json
import socket
import socketserver
import sys
import threading
import zlib

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
lock = threading.Lock()
conns = [0]
record = open(sys.argv[2], "a")


def log(entry):
    with lock:
        record.write(json.dumps(entry) + "\n")
        record.flush()


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = bytearray()

    def more(self):
        d = self.s.recv(262144)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return ln
            if len(self.buf) > 65536:
                raise ValueError("line too long")
            self.more()

    def data(self, n, e):
        while n > 0:
            if not self.buf:
                self.more()
            take = min(n, len(self.buf))
            piece = bytes(self.buf[:take])
            del self.buf[:take]
            e["crc"] = zlib.crc32(piece, e["crc"])
            e["length"] += take
            n -= take


def body(c, e):
    if e["te"] is not None:
        if e["te"].lower() != "chunked":
            raise ValueError("coding " + e["te"])
        while True:
            ln = c.line()
            size = ln
            if b";" in ln:
                e["ext"] = True
                size = ln.split(b";", 1)[0]
            if not size or any(ch not in b"0123456789abcdefABCDEF" for ch in size):
                raise ValueError("size line %r" % ln)
            n = int(size, 16)
            if n == 0:
                if size != b"0":
                    e["zeros"] = True
                while c.line() != b"":
                    e["trailer"] = True
                return
            e["chunks"] += 1
            if size[:1] == b"0":
                e["zeros"] = True
            if size != size.lower():
                e["upper"] = True
            c.data(n, e)
            if c.line() != b"":
                raise ValueError("chunk data without its CRLF")
    elif e["cl"] is not None:
        c.data(int(e["cl"]), e)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        with lock:
            conns[0] += 1
            me = conns[0]
        c = Conn(self.request)
        while True:
            try:
                head = []
                ln = c.line()
                while ln != b"":
                    head.append(ln.decode("latin1"))
                    ln = c.line()
            except (EOFError, ConnectionError):
                return
            method, path = head[0].split(" ")[:2]
            fields = [h.split(":", 1) for h in head[1:]]
            fields = [[k, v.strip()] for k, v in fields]
            get = lambda n: next((v for k, v in fields if k.lower() == n), None)
            e = {"conn": me, "method": method, "path": path, "fields": fields,
                 "te": get("transfer-encoding"), "cl": get("content-length"),
                 "chunks": 0, "ext": False, "zeros": False, "upper": False,
                 "trailer": False, "length": 0, "crc": 0, "complete": False}
            if path.endswith("/early"):
                self.request.sendall(OK)
            try:
                body(c, e)
                e["complete"] = True
            except (EOFError, ConnectionError):
                pass
            except ValueError as err:
                e["bad"] = str(err)
            e["crc32"] = "%08x" % (e.pop("crc") & 0xffffffff)
            log(e)
            if not e["complete"]:
                return
            if not path.endswith("/early"):
                self.request.sendall(OK)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % srv.server_address[1])
srv.serve_forever()
