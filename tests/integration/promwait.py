#!/usr/bin/env python3
"""promwait.py URL SECONDS CHECK...: fetch the /metrics text at URL every
20 ms until every CHECK (promcheck.py's syntax, parsed by the official
Prometheus client's parser) holds, then print the wall clock time it was
seen, in milliseconds since the epoch (the caller measures from its own
start: this interpreter's start-up is part of the wait). Exits 1 naming
the failing check when SECONDS pass first."""
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

url, secs, checks = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
promcheck = os.path.join(os.path.dirname(os.path.abspath(__file__)), "promcheck.py")
# promcheck.py's parser and checks, in this process: a fresh interpreter
# per poll would be slower than the figures being measured.
src = open(promcheck).read()
code = compile(src, promcheck, "exec")
t0 = time.monotonic()
fd, path = tempfile.mkstemp()
os.close(fd)
why = "never polled"
try:
    while True:
        with urllib.request.urlopen(url, timeout=5) as r:
            open(path, "wb").write(r.read())
        seen = time.time()
        try:
            sys.argv = [promcheck, path] + checks
            exec(code, {"__name__": "__main__"})
            why = None
        except SystemExit as e:
            why = None if e.code in (0, None) else str(e.code)
        if why is None:
            print(int(seen * 1000))
            break
        if time.monotonic() - t0 > secs:
            sys.exit(why)
        time.sleep(0.02)
finally:
    os.unlink(path)
