#!/usr/bin/env python3
"""rlflood.py SECONDS PATH TOKEN PORT [PORT...]: one client loop per port,
on keep-alive connections, for SECONDS, at most RLFLOOD_RATE requests per
second each (default 150: far over the limits tested, without taking a
shared machine's cores). Prints
one JSON line: statuses seen, the time from the first request sent to the
last answer, the slowest answer (ms), and errors (anything that is not an
HTTP answer). Used to measure what a rate limit lets through."""
import http.client, json, os, sys, threading, time

seconds, path, token = float(sys.argv[1]), sys.argv[2], sys.argv[3]
ports = [int(p) for p in sys.argv[4:]]
lock = threading.Lock()
out = {"statuses": {}, "errors": 0, "max_ms": 0.0, "per_port": {}}
start = time.monotonic()
end = start + seconds
pace = 1.0 / float(os.environ.get("RLFLOOD_RATE", "150"))


def loop(port):
    conn = None
    mine = {}
    due = time.monotonic()
    while time.monotonic() < end:
        due += pace
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            t0 = time.monotonic()
            conn.request("GET", path, headers={"Authorization": "Bearer " + token})
            r = conn.getresponse()
            r.read()
            ms = (time.monotonic() - t0) * 1000
            k = str(r.status)
            mine[k] = mine.get(k, 0) + 1
            with lock:
                out["statuses"][k] = out["statuses"].get(k, 0) + 1
                out["max_ms"] = max(out["max_ms"], ms)
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception:
            with lock:
                out["errors"] += 1
            conn = None
    if conn:
        conn.close()
    with lock:
        out["per_port"][str(port)] = mine


threads = [threading.Thread(target=loop, args=(p,)) for p in ports]
for t in threads:
    t.start()
for t in threads:
    t.join()
out["elapsed"] = time.monotonic() - start
print(json.dumps(out))
