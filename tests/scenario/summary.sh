#!/usr/bin/env bash
# The human summary says what it means: the CPU cost per packet and over the
# whole run, each with its unit and the same breakdown, agreeing with the
# JSON report of the same run.
source "$(dirname "$0")/lib.bash"
S=$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap
for d in copy zc-shared-ring iommu-lazy-unmap; do
  "$NICSIM" replay "$S" --design "$d" > "$T/sum.txt"
  "$NICSIM" replay "$S" --design "$d" --json "$T/r.json" --quiet
  python3 - "$T/sum.txt" "$T/r.json" <<'PY' && ok "$d: cpu lines per packet and per run, with units, agree with the report" || bad "$d: cpu lines: $(grep cpu "$T/sum.txt")"
import json, re, sys
text = open(sys.argv[1]).read()
r = json.load(open(sys.argv[2]))["cpu"]
buckets = ["clear", "copy", "iommu", "skb", "map", "other"]
m = re.search(r"^  cpu per packet: ([0-9.]+) cycles \((.*)\)$", text, re.M)
t = re.search(r"^  cpu, whole run: (\d+) cycles \((.*)\)$", text, re.M)
assert m and t, "no per-packet or whole-run line"
per = dict((k, float(v)) for k, v in (x.split() for x in m.group(2).split(", ")))
tot = dict((k, int(v)) for k, v in (x.split() for x in t.group(2).split(", ")))
assert list(per) == buckets and list(tot) == buckets, (per, tot)
assert abs(float(m.group(1)) - r["cycles_per_packet"]) < 0.06
assert int(t.group(1)) == r["cycles_total"] == sum(tot.values())
assert all(tot[b] == r["breakdown"][b] for b in buckets)
# each part per packet is its total over the packets cycles_per_packet divides by
packets = r["cycles_total"] / r["cycles_per_packet"]
assert all(abs(per[b] - tot[b] / packets) < 0.06 for b in buckets), (per, tot, packets)
assert abs(sum(per.values()) - r["cycles_per_packet"]) < 0.4
PY
done
finish
