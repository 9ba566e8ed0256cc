#!/usr/bin/env python3
"""jwks_hold.py DIR: an identity provider's JWKS endpoint for the tests.

Serves DIR/jwks.json at any GET path, on 127.0.0.1 (port written to
DIR/jwks.port). While DIR/hold exists, a GET waits (up to 60 s) before it
answers, then serves the file as it is at that moment: the provider
publishing a key while a fetch is in progress. Each GET is logged to
stdout: "held" when it starts waiting, "served N" when answered.
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        hold = os.path.join(DIR, "hold")
        if os.path.exists(hold):
            print("held", flush=True)
            end = time.time() + 60
            while os.path.exists(hold) and time.time() < end:
                time.sleep(0.02)
        with open(os.path.join(DIR, "jwks.json"), "rb") as f:
            body = f.read()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            # The gateway gave up on this fetch (a reload dropped it).
            print("gone", flush=True)
            return
        print("served %d" % len(body), flush=True)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(os.path.join(DIR, "jwks.port.tmp"), "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.path.join(DIR, "jwks.port.tmp"), os.path.join(DIR, "jwks.port"))
srv.serve_forever()
