#!/usr/bin/python3
# Parse a Prometheus text exposition (stdin) with the Prometheus project's own
# Python client (Debian's python3-prometheus-client), not with the module's
# code: print its families as JSON, or fail (exit 1) on any parse error.
#   {"families": [{"name", "type", "help", "samples": [[name, {labels}, value], ...]}]}
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
out = []
try:
    for fam in text_string_to_metric_families(text):
        out.append({
            "name": fam.name,
            "type": fam.type,
            "help": fam.documentation,
            "samples": [[s.name, s.labels, s.value] for s in fam.samples],
        })
except Exception as e:  # the parser raises ValueError (and others) on bad input
    print("parse error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
    sys.exit(1)
json.dump({"families": out}, sys.stdout, allow_nan=True)
