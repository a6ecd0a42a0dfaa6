"""Summarise wrk outputs: req/s, p50, p99 and the ratio to the static ceiling.
   report.py OUT_DIR NAME[=LABEL] ...   (the first is the ceiling; a run
   left out of this one, bench/run's ONLY, has no file and no row)"""
import os, re, sys

out = sys.argv[1]
labels = dict(a.split("=", 1) if "=" in a else (a, a) for a in sys.argv[2:])
names = [n for n in (a.split("=", 1)[0] for a in sys.argv[2:]) if os.path.exists(f"{out}/{n}.txt")]

def parse(name):
    text = open(f"{out}/{name}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, pct(50), pct(99), int(non2xx.group(1)) if non2xx else 0

rows = {n: parse(n) for n in names}
ceiling = rows[names[0]][0]
print(f"{'endpoint':<22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}{'non-2xx':>9}")
for n in names:
    rps, p50, p99, bad = rows[n]
    print(f"{labels[n]:<22}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}{rps / ceiling:>8.0%}{bad:>9}")
