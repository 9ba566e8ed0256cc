#!/usr/bin/env python3
"""openapi_table.py DOC.json SCHEME SCOPEGATE CONFIG

The table test of an imported policy: for every operation of the OpenAPI
document (read here with Python's json, not with the importer), what the
document says is worked out independently and `scopegate explain` is asked
with the policy the importer wrote (CONFIG names it):
- security [] / absent / an anonymous {} alternative: allowed without a token;
- otherwise, per requirement of SCHEME: a token holding exactly its scopes
  is allowed; one holding every other scope of the document but missing
  one of them gets 403; no token gets 401;
- an operation with no requirement of SCHEME: 404, or 405 where its path
  has other methods (left out, never opened);
- requests carry the document's base path (basePath, or the servers' URL
  path) before the operation's path;
- an integer or uuid path parameter with a wrong value: 400 for a token
  that would otherwise pass.
Prints one line per failure and a summary; exit 1 on any failure."""
import json
import subprocess
import sys

METHODS = ["get", "put", "post", "delete", "options", "head", "patch"]

doc_path, scheme, scopegate, config = sys.argv[1:5]
doc = json.load(open(doc_path))
v2 = doc.get("swagger") == "2.0"
fails = 0
checks = 0


def explain(method, target, scopes):
    args = [scopegate, "explain", "-c", config, method.upper(), target]
    args += ["--no-token"] if scopes is None else ["--scopes", ",".join(scopes) or "none.at.all"]
    r = subprocess.run(args, capture_output=True, text=True)
    return json.loads(r.stdout)


def expect(what, got, status):
    global fails, checks
    checks += 1
    if got.get("status") not in (status if isinstance(status, tuple) else (status,)):
        fails += 1
        print("FAIL %s: want %d, got %s" % (what, status, json.dumps(got)))


def deref(node):
    while isinstance(node, dict) and "$ref" in node:
        cur = doc
        for tok in node["$ref"][2:].split("/"):
            cur = cur[tok.replace("~1", "/").replace("~0", "~")]
        node = cur
    return node


def param_kind(decl):
    s = decl if v2 else decl.get("schema", {})
    if s.get("type") == "integer":
        return "integer"
    if s.get("format") == "uuid":
        return "uuid"
    return "string"


def base_path():
    """Swagger 2.0's basePath, or the path part of OpenAPI 3's server URL."""
    if v2:
        b = doc.get("basePath", "")
    else:
        url = (doc.get("servers") or [{"url": ""}])[0]["url"]
        b = url.split("://", 1)[1] if "://" in url else url
        b = b[b.index("/"):] if "/" in b else ""
    return b.rstrip("/")


BASE = base_path()
GOOD = {"integer": "42", "uuid": "123e4567-e89b-12d3-a456-426614174000", "string": "abc"}
BAD = {"integer": "abc", "uuid": "123e4567"}

all_scopes = set()
for item in doc["paths"].values():
    for m in METHODS:
        for req in (item.get(m) or {}).get("security", []) or []:
            all_scopes.update(req.get(scheme, []))
for req in doc.get("security", []) or []:
    all_scopes.update(req.get(scheme, []))

counts = {"public": 0, "scoped": 0, "left out": 0}
for path, item in doc["paths"].items():
    for m in METHODS:
        op = item.get(m)
        if op is None:
            continue
        decls = {}
        for p in [deref(x) for x in item.get("parameters", []) + op.get("parameters", [])]:
            if p.get("in") == "path":
                decls[p["name"]] = param_kind(p)
        kinds = []
        target = BASE + path if path != "/" or not BASE else BASE
        for seg in path.split("/"):
            if seg.startswith("{"):
                name = seg[1:-1]
                kinds.append((seg, decls.get(name, "string")))
                target = target.replace(seg, GOOD[decls.get(name, "string")])
        name = "%s %s" % (m.upper(), path)
        sec = op["security"] if "security" in op else doc.get("security")
        if not sec or any(r == {} for r in sec):
            counts["public"] += 1
            expect(name + " public, no token", explain(m, target, None), 200)
            continue
        reqs = [sorted(set(r[scheme])) for r in sec if scheme in r and r[scheme]]
        if not reqs:
            counts["left out"] += 1
            # no such route, or 405 where the path has other methods
            expect(name + " left out", explain(m, target, sorted(all_scopes)), (404, 405))
            continue
        counts["scoped"] += 1
        expect(name + " no token", explain(m, target, None), 401)
        for r in reqs:
            got = explain(m, target, r)
            expect("%s with %s" % (name, r), got, 200)
            if got.get("action") != op.get("operationId", got.get("action")):
                fails += 1
                print("FAIL %s: routed to %s" % (name, got.get("action")))
            for missing in r:
                # every scope of the document but one this requirement needs,
                # unless another requirement is met by what is left
                rest = sorted(all_scopes - {missing})
                if any(set(o) <= set(rest) for o in reqs):
                    continue
                expect("%s without %s" % (name, missing), explain(m, target, rest), 403)
        for seg, kind in kinds:
            if kind in BAD:
                bad = BASE + path
                for s2, k2 in kinds:
                    bad = bad.replace(s2, BAD[kind] if s2 == seg else GOOD[k2])
                expect("%s bad %s %s" % (name, kind, seg), explain(m, bad, reqs[0]), 400)

print("%s: %d checks, %d failed (%d public, %d scoped, %d left out)" % (
    doc_path.split("/package/")[-1], checks, fails, counts["public"],
    counts["scoped"], counts["left out"]))
sys.exit(1 if fails else 0)
