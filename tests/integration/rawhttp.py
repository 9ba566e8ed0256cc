#!/usr/bin/env python3
"""rawhttp.py: a raw-socket HTTP/1.1 client for the hostile-request tests.

It sends exact bytes (no normalisation at all), possibly in timed pieces,
and reads the answer with a timeout.

  rawhttp.py --port P [options] PIECE...

Each PIECE is sent as written after decoding backslash escapes (\\r \\n \\t
\\x00 \\\\); a PIECE of the form @FILE sends FILE's bytes unchanged. Pieces
are separated by --delay milliseconds; --trickle MS sends every byte on
its own, MS milliseconds apart.

Output (one line on stdout):
  default   the status code of the first response, or "closed" when the
            server closed (or reset) the connection before answering, or
            "timeout" when nothing came within --timeout seconds
  --all     every response's status in order, then "closed" or "timeout"
            (e.g. "400 closed", "401 timeout": the connection stayed open)
--head says the first response answers a HEAD (it has no body); --out FILE
saves every byte received; --time appends " t=SECONDS" (time from the last
byte sent to the end of the reading).

Special modes (no PIECE):
  --slowloris N --duration S --trickle MS [--request BYTES]
            opens N connections and sends one byte of a never-ending
            request head on each every MS milliseconds, for S seconds at
            most. Prints "opened=N closed=C first=T1 last=T2": how many
            the server closed and when (seconds since the start; -1 when
            none).
  --conns N --close-after K --request BYTES [--wait S]
            connection limit probe: opens N keep-alive connections one
            after the other, sends BYTES on each and waits up to --wait
            seconds (default 0.4) for its answer. Prints line 1: the N
            results ("200", "timeout", "closed", "refused"). Then closes the
            first K connections and waits up to --timeout seconds for the
            answers still missing; line 2: those connections' results.
Exit status 0 unless the arguments are wrong or the connection could not
be made (then "refused" is printed and the status is 0 too: it is a
result, not an error).
"""
import argparse
import codecs
import json
import os
import select
import socket
import sys
import time


def decode_piece(p):
    if p.startswith("@"):
        with open(p[1:], "rb") as f:
            return f.read()
    return codecs.escape_decode(p.encode("latin-1"))[0]


class Reader:
    """Incremental HTTP/1.1 response parser over the received bytes."""

    def __init__(self, head_first=False):
        self.buf = b""
        self.statuses = []
        self.head_first = head_first

    def feed(self, data):
        self.buf += data

    def parse(self):
        """Consume every complete response in the buffer."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            try:
                status = int(parts[1])
            except (IndexError, ValueError):
                status = 0
            headers = {}
            for l in lines[1:]:
                if ":" in l:
                    k, v = l.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            rest = self.buf[end + 4:]
            bodiless = (100 <= status < 200 or status in (204, 304) or
                        (self.head_first and not self.statuses))
            if bodiless:
                used = 0
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                used = chunked_length(rest)
                if used is None:
                    return
            elif "content-length" in headers:
                try:
                    n = int(headers["content-length"])
                except ValueError:
                    n = 0
                if len(rest) < n:
                    return
                used = n
            else:
                # Until the connection closes: whatever is left.
                used = len(rest)
            self.statuses.append(str(status))
            log_answer(status, headers, rest[:used])
            self.buf = rest[used:]


def log_answer(status, headers, body):
    """With RAWHTTP_ANSWERS set, append every answer to that file as a
    JSON line (status, Content-Type, body as latin-1) for suites that
    check the shape of every answer."""
    path = os.environ.get("RAWHTTP_ANSWERS")
    if not path:
        return
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = dechunk(body)
    with open(path, "a") as f:
        f.write(json.dumps({"status": status, "type": headers.get("content-type", ""),
                            "body": body.decode("latin-1")}) + "\n")


def dechunk(b):
    out, off = b"", 0
    while True:
        eol = b.find(b"\r\n", off)
        if eol < 0:
            return out
        try:
            n = int(b[off:eol].split(b";")[0], 16)
        except ValueError:
            return out
        if n == 0:
            return out
        out += b[eol + 2:eol + 2 + n]
        off = eol + 2 + n + 2


def chunked_length(b):
    """Length of a complete chunked body at the start of b, or None."""
    off = 0
    while True:
        eol = b.find(b"\r\n", off)
        if eol < 0:
            return None
        try:
            n = int(b[off:eol].split(b";")[0], 16)
        except ValueError:
            return len(b)
        off = eol + 2
        if n == 0:
            end = b.find(b"\r\n\r\n", off - 2)
            return None if end < 0 else end + 4
        if len(b) < off + n + 2:
            return None
        off += n + 2


def connect(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_answers(s, rd, timeout, want_all, out):
    """Read until closed / timeout (or the first response unless want_all).
    Returns "closed", "timeout" or "done"."""
    deadline = time.monotonic() + timeout
    while True:
        rd.parse()
        if rd.statuses and not want_all:
            return "done"
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        try:
            data = s.recv(65536)
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            rd.parse()
            return "closed"
        if out is not None:
            out.write(data)
        rd.feed(data)


def send_all(s, data):
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


def mode_single(a):
    pieces = [decode_piece(p) for p in a.pieces]
    out = open(a.out, "wb") if a.out else None
    rd = Reader(a.head)
    try:
        s = connect(a.port)
    except OSError:
        print("refused")
        return 0
    for i, p in enumerate(pieces):
        if a.trickle:
            for j in range(len(p)):
                if not send_all(s, p[j:j + 1]):
                    break
                time.sleep(a.trickle / 1000.0)
        elif not send_all(s, p):
            break
        if a.delay and i + 1 < len(pieces):
            time.sleep(a.delay / 1000.0)
    t0 = time.monotonic()
    end = read_answers(s, rd, a.timeout, a.all, out)
    elapsed = time.monotonic() - t0
    s.close()
    if out is not None:
        out.close()
    if a.all:
        words = rd.statuses + [end]
    elif rd.statuses:
        words = [rd.statuses[0]]
    else:
        words = [end]
    line = " ".join(words)
    if a.time:
        line += " t=%.2f" % elapsed
    print(line)
    return 0


def mode_slowloris(a):
    # --silent: connect and send nothing at all.
    req = b"" if a.silent else decode_piece(a.request) if a.request else \
        b"GET /applications HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100000
    socks = []
    for _ in range(a.slowloris):
        try:
            socks.append(connect(a.port))
        except OSError:
            break
    opened = len(socks)
    pos = {s: 0 for s in socks}
    closed_at = {}
    start = time.monotonic()
    while time.monotonic() - start < a.duration and len(closed_at) < opened:
        tick = time.monotonic()
        for s in socks:
            if s in closed_at:
                continue
            if req and not send_all(s, req[pos[s]:pos[s] + 1]):
                closed_at[s] = time.monotonic() - start
                continue
            pos[s] += 1
        # Notice closes (the server may also send a 408/400 first).
        live = [s for s in socks if s not in closed_at]
        while live:
            left = a.trickle / 1000.0 - (time.monotonic() - tick)
            r, _, _ = select.select(live, [], [], max(left, 0))
            if not r:
                break
            for s in r:
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    closed_at[s] = time.monotonic() - start
            live = [s for s in socks if s not in closed_at]
            if left <= 0:
                break
    for s in socks:
        s.close()
    times = sorted(closed_at.values())
    print("opened=%d closed=%d first=%.2f last=%.2f" % (
        opened, len(times), times[0] if times else -1,
        times[-1] if times else -1))
    return 0


def mode_conns(a):
    req = decode_piece(a.request)
    conns = []
    results = []
    for _ in range(a.conns):
        try:
            s = connect(a.port)
        except OSError:
            conns.append(None)
            results.append("refused")
            continue
        rd = Reader()
        send_all(s, req)
        end = read_answers(s, rd, a.wait, False, None)
        conns.append((s, rd))
        results.append(rd.statuses[0] if rd.statuses else end)
    print(" ".join(results))
    for c in conns[:a.close_after]:
        if c is not None:
            c[0].close()
    pending = [i for i, r in enumerate(results) if r == "timeout"]
    later = []
    deadline = time.monotonic() + a.timeout
    for i in pending:
        s, rd = conns[i]
        end = read_answers(s, rd, max(deadline - time.monotonic(), 0.01),
                           False, None)
        later.append(rd.statuses[0] if rd.statuses else end)
    print(" ".join(later))
    for c in conns[a.close_after:]:
        if c is not None:
            c[0].close()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--trickle", type=float, default=0)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--head", action="store_true")
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--slowloris", type=int)
    ap.add_argument("--silent", action="store_true")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--request")
    ap.add_argument("--conns", type=int)
    ap.add_argument("--close-after", type=int, default=0)
    ap.add_argument("--wait", type=float, default=0.4)
    ap.add_argument("pieces", nargs="*")
    a = ap.parse_args()
    if a.slowloris:
        return mode_slowloris(a)
    if a.conns:
        if not a.request:
            ap.error("--conns needs --request")
        return mode_conns(a)
    if not a.pieces:
        ap.error("nothing to send")
    return mode_single(a)


if __name__ == "__main__":
    sys.exit(main())
