#!/usr/bin/env python3
"""summarize.py: turn bench/run's raw records into the table and results.json.

Usage: summarize.py OUTDIR

Reads OUTDIR/meta.json, OUTDIR/raw.jsonl (one record per load run),
OUTDIR/memory.jsonl and OUTDIR/tls.jsonl (both optional); prints the table,
and writes it to OUTDIR/results.txt and everything to OUTDIR/results.json.
Exits 1 when any load run was invalid (wrong statuses or socket errors).
"""

import json
import os
import statistics
import sys

SERVERS = {
    "a": "(a) upstream direct",
    "b": "(b) nginx proxy",
    "c": "(c) HAProxy jwt_verify",
    "d": "(d) scopegate",
    "b-tls": "(b) nginx proxy, TLS",
    "d-tls": "(d) scopegate, TLS",
    "e": "(e) sg, shared limit",
    "f": "(f) bare evhttp proxy",
}

LOADS = [
    ("baseline", "no auth work (same request, ES256 token header)"),
    ("rs256", "RS256, one token repeated"),
    ("es256", "ES256, one token repeated"),
    ("hs256", "HS256, one token repeated"),
    ("rs256-fresh", "RS256, a fresh token every request"),
    ("es256-fresh", "ES256, a fresh token every request"),
    ("hs256-fresh", "HS256, a fresh token every request"),
    ("es256-denied", "denied: 403, ES256 token without the scope"),
    ("hs256-delete", "DELETE of the seed route, HS256 token repeated (revocation learnt again)"),
    ("es256-mixed", "mixed: 90% ES256 repeated, 9% fresh, 1% denied"),
    ("tls-es256", "TLS on: ES256, one token repeated"),
]


def load_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    return out


def med_range(values, fmt):
    """'median [min-max]' of values formatted with fmt, or '-'."""
    if not values:
        return "-"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt % m
    return (fmt % m) + " [" + (fmt % min(values)) + "-" + (fmt % max(values)) + "]"


def med(values):
    return statistics.median(values) if values else None


def rps(rec):
    w = rec["wrk"]
    return w["requests"] / (w["duration_us"] / 1e6) if w["duration_us"] else 0.0


def cpu_us_per_req(rec):
    w = rec["wrk"]
    if not w["requests"]:
        return None
    return rec["cpu_ticks"] / rec["clk_tck"] / w["requests"] * 1e6


def main():
    outdir = sys.argv[1]
    with open(os.path.join(outdir, "meta.json")) as f:
        meta = json.load(f)
    raw = load_jsonl(os.path.join(outdir, "raw.jsonl"))
    memory = load_jsonl(os.path.join(outdir, "memory.jsonl"))
    tls = load_jsonl(os.path.join(outdir, "tls.jsonl"))

    # index: (server, load, round) -> record
    idx = {(r["server"], r["load"], r["round"]): r for r in raw}
    invalid = [r for r in raw if not r["valid"]]

    lines = []
    p = lines.append
    p("scopegate side-by-side benchmark  (%s)" % meta.get("date", ""))
    p("rounds %d x %ds per load, wrk -t1 -c%d, %s; fresh-token loads rotate %d tokens "
      "(scopegate token cache %d)" % (meta["rounds"], meta["duration"], meta["connections"],
                                       meta["pinning"], meta["tokens"], meta["cache_size"]))
    p("versions: %s" % "; ".join("%s %s" % kv for kv in sorted(meta.get("versions", {}).items())))
    p("req/s: median [min-max] over rounds; p50/p99: median over rounds (ms); "
      "CPU: server process user+sys per request (us), median;")
    p("x(b), x(c): req/s ratio to nginx-proxy / HAProxy in the same round, median [min-max];")
    p("x(f): req/s ratio to the bare evhttp proxy (the stack's floor, its baseline row) in the same round")
    p("")
    hdr = "  %-24s %-26s %7s %7s %8s %-19s %-19s %-19s" % (
        "server", "req/s", "p50 ms", "p99 ms", "CPU us", "x(b) req/s", "x(c) req/s", "x(f) req/s")
    p(hdr)
    p("-" * len(hdr))

    summary = []
    rounds = sorted({r["round"] for r in raw})
    for load, title in LOADS:
        servers = sorted({r["server"] for r in raw if r["load"] == load},
                         key=lambda s: list(SERVERS).index(s))
        if not servers:
            continue
        first = True
        for s in servers:
            recs = [idx[(s, load, rd)] for rd in rounds if (s, load, rd) in idx]
            good = [r for r in recs if r["valid"]]
            rates = [rps(r) for r in good]
            p50 = [r["wrk"]["p50_us"] / 1000.0 for r in good]
            p99 = [r["wrk"]["p99_us"] / 1000.0 for r in good]
            cpu = [c for c in (cpu_us_per_req(r) for r in good) if c is not None]
            xb, xc, xf = [], [], []
            bref = ("b-tls", load) if load.startswith("tls-") else ("b", "baseline")
            for r in good:
                rb = idx.get((bref[0], bref[1], r["round"]))
                if rb and rb["valid"] and rps(rb) > 0 and s not in ("a", "b", "b-tls"):
                    xb.append(rps(r) / rps(rb))
                rc = idx.get(("c", load, r["round"]))
                if rc and rc["valid"] and rps(rc) > 0 and s in ("d",):
                    xc.append(rps(r) / rps(rc))
                rf = idx.get(("f", "baseline", r["round"]))
                if rf and rf["valid"] and rps(rf) > 0 and s in ("d",):
                    xf.append(rps(r) / rps(rf))
            bad = len(recs) - len(good)
            row = {
                "load": load, "server": s, "runs": len(recs), "invalid_runs": bad,
                "rps_median": med(rates), "rps_min": min(rates) if rates else None,
                "rps_max": max(rates) if rates else None,
                "p50_ms_median": med(p50), "p99_ms_median": med(p99),
                "cpu_us_per_req_median": med(cpu),
                "ratio_to_b_median": med(xb), "ratio_to_b_range": [min(xb), max(xb)] if xb else None,
                "ratio_to_c_median": med(xc), "ratio_to_c_range": [min(xc), max(xc)] if xc else None,
                "ratio_to_f_median": med(xf), "ratio_to_f_range": [min(xf), max(xf)] if xf else None,
            }
            summary.append(row)
            if first:
                p("%s  [%s]" % (title, load))
            p("  %-24s %-26s %7s %7s %8s %-19s %-19s %-19s" % (
                SERVERS.get(s, s),
                med_range(rates, "%.0f") + (" (%d INVALID)" % bad if bad else ""),
                "%.2f" % med(p50) if p50 else "-", "%.2f" % med(p99) if p99 else "-",
                "%.1f" % med(cpu) if cpu else "-",
                med_range(xb, "%.2f"), med_range(xc, "%.2f"), med_range(xf, "%.2f")))
            first = False
    p("")

    # (e) against (d) on the same load in the same round: what the shared
    # limit's Redis round trip costs (issue target: within 15%).
    ed = []
    for rd in rounds:
        re_, rd_ = idx.get(("e", "es256", rd)), idx.get(("d", "es256", rd))
        if re_ and rd_ and re_["valid"] and rd_["valid"] and rps(rd_) > 0:
            ed.append(rps(re_) / rps(rd_))
    shared_limit = {"ratio_e_to_d": ed, "ratio_e_to_d_median": med(ed)}
    if ed or meta.get("ratelimit_note"):
        p("shared rate limit (e) against no limit (d), ES256 load, same round: req/s ratio %s"
          % med_range(ed, "%.3f"))
        if meta.get("ratelimit_note"):
            p("  " + meta["ratelimit_note"])
        p("")
    # The targets of issue 21, as medians of the per-round ratios above.
    rows = {(r["server"], r["load"]): r for r in summary}
    targets = []

    def ratio(load, key, server="d"):
        r = rows.get((server, load))
        return r and r[key]

    for load, want, what in [
            ("hs256", 1.25, "HS256 repeated (GET) vs HAProxy"),
            ("hs256-delete", 1.25, "HS256 repeated, DELETE, vs HAProxy"),
            ("rs256", 1.5, "RS256 repeated vs HAProxy"),
            ("es256", 2.8, "ES256 repeated vs HAProxy"),
            ("hs256-fresh", 1.2, "HS256 fresh vs HAProxy"),
            ("rs256-fresh", 1.2, "RS256 fresh vs HAProxy"),
            ("es256-fresh", 1.2, "ES256 fresh vs HAProxy"),
            ("es256-mixed", None, "mixed 90/9/1 vs HAProxy")]:
        targets.append((what, ratio(load, "ratio_to_c_median"), want, "x"))
    targets.append(("TLS keep-alive vs nginx TLS", ratio("tls-es256", "ratio_to_b_median", "d-tls"),
                    0.8, "x"))
    d99, b99 = rows.get(("d", "es256")), rows.get(("b", "baseline"))
    p99 = (d99["p99_ms_median"] - b99["p99_ms_median"]
           if d99 and b99 and d99["p99_ms_median"] is not None and b99["p99_ms_median"] is not None
           else None)
    targets.append(("p99, ES256 repeated, minus nginx proxy's", p99, 0.5, "ms"))
    targets.append(("ES256 repeated vs bare evhttp proxy (floor)",
                    ratio("es256", "ratio_to_f_median"), None, "x"))
    p("targets (median of the per-round figures)")
    for what, got, want, unit in targets:
        if unit == "ms":
            mark = "-" if got is None or want is None else ("met" if got <= want else "NOT met")
            p("  %-44s %8s   target <= +%.1f ms  %s" % (
                what, "-" if got is None else "%+.2f ms" % got, want, mark))
        else:
            mark = "" if got is None or want is None else ("met" if got >= want else "NOT met")
            p("  %-44s %8s   %s  %s" % (what, "-" if got is None else "%.2fx" % got,
                                        "target >= %.2fx" % want if want else "(reference)", mark))
    p("")

    if tls or meta.get("tls_note"):
        p("TLS handshakes per second (openssl s_time, one client, %ds each)" % meta["duration"])
        for t in tls:
            p("  %-24s full (-new) %8.0f/s    resumed TLS 1.3 (-reuse -www) %8.0f/s    resumed TLS 1.2 %8.0f/s" % (
                SERVERS.get(t["server"], t["server"]), t.get("new_per_s") or 0,
                t.get("reuse_per_s") or 0, t.get("reuse12_per_s") or 0))
        if meta.get("tls_note"):
            p("  " + meta["tls_note"])
        p("")

    if memory:
        p("resident memory (all processes of the server) with idle keep-alive client connections,")
        p("one request served on each, then held open")
        p("  %-24s %7s %12s %14s %10s  %s" % ("server", "conns", "RSS before", "RSS with idle",
                                            "per conn", "client"))
        for m in memory:
            per = (m["rss_idle_kib"] - m["rss_before_kib"]) * 1024.0 / max(m["conns"], 1)
            m["bytes_per_conn"] = per
            p("  %-24s %7d %8.1f MiB %10.1f MiB %8.0f B  %s" % (
                SERVERS.get(m["server"], m["server"]), m["conns"], m["rss_before_kib"] / 1024.0,
                m["rss_idle_kib"] / 1024.0, per, m.get("client", "")))
        p("")

    if invalid:
        p("INVALID RUNS (not counted above):")
        for r in invalid:
            p("  round %d %s %s: %s" % (r["round"], r["server"], r["load"], r["why"]))
    else:
        p("every load: only the expected status, no socket errors; every configuration "
          "was checked with curl first")

    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(outdir, "results.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": raw, "memory": memory,
                   "tls": tls, "shared_limit": shared_limit, "targets": [
                       {"what": t[0], "value": t[1], "target": t[2], "unit": t[3]}
                       for t in targets]}, f, indent=1)
        f.write("\n")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
