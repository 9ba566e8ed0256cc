#!/usr/bin/env python3
"""tls_records.py PORT CAFILE VERSION REQUEST...: HTTP/1.1 requests, one
after the other on one keep-alive TLS connection to 127.0.0.1:PORT
(VERSION "1.2" or "1.3", the server verified against CAFILE), counting the
TLS records each answer arrived in. The TLS runs over memory BIOs so that
the raw bytes from the socket can be split into records (5-byte headers)
before they are decrypted. Each REQUEST is "METHOD PATH". Prints one JSON
line per answer: {"status", "records", "body_length", "body_ok"} where
body_ok says whether a /__test/big* body is the upstream's pattern (byte i
is 'a' + i % 26), else null.
"""
import json
import select
import socket
import ssl
import sys

APPLICATION_DATA = 23


class Conn:
    def __init__(self, port, cafile, version):
        ctx = ssl.create_default_context(cafile=cafile)
        v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version = v
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.raw = b""          # bytes of a record not complete yet
        self.records = 0        # application data records seen
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self.take_record():
                    self.feed(self.sock.recv(65536))
        self.flush()
        # A TLS 1.3 server sends its session tickets after the handshake:
        # take them now, so that they are not counted with an answer.
        while select.select([self.sock], [], [], 0.3)[0]:
            data = self.sock.recv(65536)
            if not data:
                break
            self.feed(data)
            while self.take_record():
                self.drain_plain()
        self.records = 0

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def feed(self, data):
        """Raw bytes from the socket, kept until whole records are taken."""
        if not data:
            raise EOFError("the server closed the connection")
        self.raw += data

    def take_record(self):
        """Pass one whole record on (counting application data); False
        when no whole record is there yet."""
        if len(self.raw) < 5:
            return False
        n = 5 + int.from_bytes(self.raw[3:5], "big")
        if len(self.raw) < n:
            return False
        if self.raw[0] == APPLICATION_DATA:
            self.records += 1
        self.inc.write(self.raw[:n])
        self.raw = self.raw[n:]
        return True

    def drain_plain(self):
        """What the records fed so far decrypt to."""
        got = b""
        while True:
            try:
                data = self.tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                return got
            if not data:        # after the server's close_notify
                return got
            got += data

    def request(self, method, path):
        self.records = 0
        self.tls.write(("%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % (method, path)).encode())
        self.flush()
        buf = b""
        # Record by record, so that what follows the answer (a close_notify
        # after "Connection: close") is not counted with it.
        while True:
            status, body, done = parse(buf, method)
            if done:
                return status, body, self.records
            if not self.take_record():
                self.feed(self.sock.recv(65536))
                continue
            buf += self.drain_plain()


def parse(buf, method):
    """(status, body, complete) of one HTTP/1.1 answer at the start of buf."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, None, False
    lines = buf[:end].decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    rest = buf[end + 4:]
    if method == "HEAD" or status in (204, 304):
        return status, b"", True
    if "content-length" in headers:
        n = int(headers["content-length"])
        return status, rest[:n], len(rest) >= n
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, pos = b"", 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return status, None, False
            size = int(rest[pos:eol].split(b";")[0], 16)
            if len(rest) < eol + 2 + size + 2:
                return status, None, False
            if size == 0:
                return status, body, True
            body += rest[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
    raise SystemExit("tls_records.py: an answer without a length: %r" % lines)


def main():
    port, cafile, version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    c = Conn(port, cafile, version)
    for spec in sys.argv[4:]:
        method, path = spec.split(" ", 1)
        status, body, records = c.request(method, path)
        ok = None
        if path.startswith("/__test/big"):
            ok = all(b == 97 + i % 26 for i, b in enumerate(body))
        print(json.dumps({"status": status, "records": records,
                          "body_length": len(body), "body_ok": ok}), flush=True)


main()
