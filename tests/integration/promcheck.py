#!/usr/bin/env python3
"""promcheck.py METRICS_FILE CHECK...: parse a /metrics text with the
official Prometheus client's parser (Debian python3-prometheus-client)
and check samples. Each CHECK is NAME{label=value,...}OP NUMBER, with OP
one of == >= > <= < !=; labels given must match, others are free, and the
check applies to the sum of the matching samples ("NAME#" counts them
instead). Exits 1 naming the first failing check; prints nothing else."""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
samples = []
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        samples.append((s.name, s.labels, s.value))

pat = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(#?)(?:\{(.*)\})?\s*(==|>=|<=|!=|>|<)\s*(-?[0-9.e+]+)$')
for check in sys.argv[2:]:
    m = pat.match(check)
    if not m:
        sys.exit("bad check: " + check)
    name, count, labels, op, want = m.group(1), m.group(2), m.group(3), m.group(4), float(m.group(5))
    want_labels = {}
    if labels:
        for kv in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels):
            want_labels[kv[0]] = kv[1]
    hits = [v for (n, l, v) in samples
            if n == name and all(l.get(k) == v2 for k, v2 in want_labels.items())]
    got = float(len(hits)) if count else sum(hits)
    if not hits and not count:
        sys.exit("%s: no such sample" % check)
    ok = {"==": got == want, ">=": got >= want, "<=": got <= want,
          ">": got > want, "<": got < want, "!=": got != want}[op]
    if not ok:
        sys.exit("%s: got %r" % (check, got))
