#!/usr/bin/env python3
"""loadloop.py PORT PATH TOKEN STOPFILE: keep requests flowing until
STOPFILE exists (or 120 s pass), on keep-alive connections that are renewed
now and then, from 4 threads. Prints one JSON line of counts: statuses seen
and errors (resets, timeouts, anything that is not an HTTP answer)."""
import http.client, json, os, sys, threading, time

port, path, token, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
# Seconds to wait for an answer; longer when the daemon runs under valgrind.
TIMEOUT = float(os.environ.get("LOADLOOP_TIMEOUT", "5"))
lock = threading.Lock()
counts = {"errors": 0, "statuses": {}}
errors = []

def worker():
    deadline = time.time() + 120
    conn, n = None, 0
    while not os.path.exists(stop) and time.time() < deadline:
        try:
            if conn is None or n % 25 == 0:
                if conn:
                    conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            conn.request("GET", path, headers={"Authorization": "Bearer " + token})
            r = conn.getresponse()
            r.read()
            with lock:
                k = str(r.status)
                counts["statuses"][k] = counts["statuses"].get(k, 0) + 1
            n += 1
        except Exception as e:  # any failure to get an answer counts
            with lock:
                counts["errors"] += 1
                errors.append(repr(e))
            conn = None
    if conn:
        conn.close()

threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
counts["first_errors"] = errors[:5]
print(json.dumps(counts))
