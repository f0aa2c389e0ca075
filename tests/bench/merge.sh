#!/usr/bin/env bash
# merge's cost against the number of property names in a report: a report
# of a real replay given N extra property names (25,000 to 200,000), merged
# REPS times each; the median wall time is compared with the time python3
# takes to parse the same file (the baseline), and with the 25,000-name
# figure (linear growth doubles the time when the names double; quadratic
# growth quadruples it). Usage: tests/bench/merge.sh [NICSIM]
set -euo pipefail
NICSIM=$(realpath "${1:-build/nicsim}")
REPS=${REPS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$NICSIM" gen -o "$work/t.pcap" --packets 1000 --seed 1
"$NICSIM" replay "$work/t.pcap" --json "$work/base.json" --quiet || true
python3 - "$NICSIM" "$work" "$REPS" <<'PY'
import json, os, subprocess, sys, time
nicsim, work, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = json.load(open(os.path.join(work, 'base.json')))
def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]
first = None
print('%-8s %10s %12s %8s %10s' % ('names', 'merge s', 'parse s', 'ratio', 'vs 25k'))
for n in (25000, 50000, 100000, 200000):
    d = os.path.join(work, 'r%d' % n)
    os.makedirs(d)
    r = dict(base)
    r['violations'] = dict(base['violations'])
    r['violations'].update({'p%06d' % i: {'count': 1} for i in range(n)})
    path = os.path.join(d, 'r.json')
    json.dump(r, open(path, 'w'))
    m, p = [], []
    for _ in range(reps):
        t = time.perf_counter()
        json.load(open(path))
        p.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([nicsim, 'merge', d, '--json', '/dev/null', '--quiet'], check=True)
        m.append(time.perf_counter() - t)
    mm, pm = median(m), median(p)
    first = first or mm
    print('%-8d %10.3f %12.3f %7.1fx %9.2fx' % (n, mm, pm, mm / pm, mm / first))
PY
