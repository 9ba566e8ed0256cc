#!/usr/bin/env python3
"""authflood.py: forged ES256 tokens from one address, a valid client from
another, for failedauth.sh.

  authflood.py PORT PATH SECONDS FORGED_PREFIX VALID_TOKEN [FLOODERS]

FLOODERS threads (default 3) on keep-alive connections from 127.0.0.1 send
GET PATH with "header.payload." of a real token plus a fresh random
64-byte signature each time (so every one is a new token that costs a
signature check); meanwhile one client from 127.0.0.2 sends the valid
token 10 times a second, each answer awaited at most 1 s. Prints JSON:
flood status counts, the first 429's status line and Retry-After, and
how many of the valid client's requests were answered 200 in time.
"""
import base64
import http.client
import json
import os
import sys
import threading
import time

port, path, secs, prefix, valid = (int(sys.argv[1]), sys.argv[2], float(sys.argv[3]),
                                   sys.argv[4], sys.argv[5])
nflood = int(sys.argv[6]) if len(sys.argv) > 6 else 3
stop = time.monotonic() + secs
lock = threading.Lock()
flood = {}
first429 = {}


def forged():
    sig = base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=").decode()
    return prefix + sig


def flooder():
    c = None
    while time.monotonic() < stop:
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path, headers={"Authorization": "Bearer " + forged()})
            r = c.getresponse()
            r.read()
            with lock:
                flood[r.status] = flood.get(r.status, 0) + 1
                if r.status == 429 and not first429:
                    first429["line"] = "%d %s" % (r.status, r.reason)
                    first429["retry_after"] = r.getheader("Retry-After")
            if r.getheader("Connection", "").lower() == "close":
                c.close()
                c = None
        except (OSError, http.client.HTTPException):
            with lock:
                flood["error"] = flood.get("error", 0) + 1
            c = None


def valid_client(res):
    c = None
    sent = ok = 0
    while time.monotonic() < stop:
        t = time.monotonic()
        sent += 1
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1,
                                               source_address=("127.0.0.2", 0))
            c.request("GET", path, headers={"Authorization": "Bearer " + valid})
            r = c.getresponse()
            r.read()
            if r.status == 200 and time.monotonic() - t <= 1.0:
                ok += 1
        except (OSError, http.client.HTTPException):
            c = None
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))
    res["sent"], res["ok"] = sent, ok


threads = [threading.Thread(target=flooder) for _ in range(nflood)]
vres = {}
threads.append(threading.Thread(target=valid_client, args=(vres,)))
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"flood": {str(k): v for k, v in flood.items()}, "first429": first429,
                  "valid": vres}))
