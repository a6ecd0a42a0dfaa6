#!/usr/bin/python3
# Parse a Prometheus text exposition (stdin) with the Prometheus project's own
# Python client (Debian's python3-prometheus-client), not with the module's
# code: print its families as JSON, or fail (exit 1) on any parse error.
#   {"families": [{"name", "type", "help", "samples": [[name, {labels}, value], ...]}]}
import json
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
out = []
# The client's parser is lenient (it drops what follows a value); each sample
# line is also held to the format's grammar: name, labels, value, optional
# timestamp, nothing else; and the text ends with a line feed.
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:%s(?:,%s)*,?)?\})? '
                    r'(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|Inf)|NaN)(?: -?[0-9]+)?$'
                    % (LABEL, LABEL))
if text and not text.endswith("\n"):
    print("parse error: the text does not end with a line feed", file=sys.stderr)
    sys.exit(1)
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("#") or line == "":
        continue
    if not SAMPLE.match(line):
        print("parse error: line %d is not a sample: %r" % (n, line), file=sys.stderr)
        sys.exit(1)
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
