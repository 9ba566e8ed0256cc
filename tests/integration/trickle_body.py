#!/usr/bin/env python3
"""trickle_body.py PORT SECONDS HEAD PIECE: send the request head HEAD
(Python escapes such as \\r\\n decoded), then PIECE ten times a second
until the gateway answers or closes, or SECONDS pass. Prints the answer's
status ("none" without one) and how many pieces were sent."""
import socket
import sys
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
head = sys.argv[3].encode().decode("unicode_escape").encode("latin-1")
piece = sys.argv[4].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(head)
s.setblocking(False)
got, n = b"", 0
t0 = time.monotonic()
while time.monotonic() - t0 < seconds:
    try:
        s.send(piece)
        n += 1
    except OSError:
        pass
    time.sleep(0.1)
    try:
        c = s.recv(4096)
        if not c:
            break
        got += c
    except BlockingIOError:
        pass
    except OSError:
        break
print(got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "none", n)
