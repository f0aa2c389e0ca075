#!/usr/bin/env bash
# --vcd writes a waveform a VCD reader parses: the signals the contract lists,
# time increasing, and final values that agree with the JSON report.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 6 --packets 400 --size imix --seed 4 || bad "gen"
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --vcd "$T/w.vcd" --json "$T/r.json" --quiet
[ -s "$T/w.vcd" ] && ok "the VCD file exists" || bad "no VCD file"

python3 - "$T/w.vcd" "$T/r.json" <<'PY' && ok "the VCD parses and agrees with the report" || bad "VCD check"
import json, sys
text = open(sys.argv[1]).read().split()
rep = json.load(open(sys.argv[2]))
# A small VCD reader (IEEE 1364 section 18): declarations, then #time and value changes.
i, scope, ids, timescale = 0, [], {}, None
while i < len(text):
    t = text[i]
    if t == "$timescale":
        j = text.index("$end", i); timescale = " ".join(text[i + 1:j]); i = j
    elif t == "$scope":
        scope.append(text[i + 2]); i += 3
    elif t == "$upscope":
        scope.pop(); i += 1
    elif t == "$var":
        width, code, name = int(text[i + 2]), text[i + 3], text[i + 4]
        ids[code] = (".".join(scope[1:] + [name]), width); i = text.index("$end", i)
    elif t == "$enddefinitions":
        i = text.index("$end", i) + 1; break
    i += 1
assert timescale in ("1 ps", "1ps"), timescale
names = {n for n, _ in ids.values()}
for need in ["nic.q0.ring_fill", "nic.q0.ring_head", "nic.q0.ring_tail", "nic.buffer_bytes",
             "iommu.iotlb_hits", "iommu.iotlb_misses", "pool.q0.free_pages", "check.violations"]:
    assert need in names, (need, sorted(names))
now, last, changes = -1, {}, 0
while i < len(text):
    t = text[i]
    if t.startswith("#"):
        tt = int(t[1:]); assert tt >= now, (tt, now); now = tt; i += 1
    elif t == "$comment":
        i = text.index("$end", i) + 1
    elif t in ("$dumpvars", "$end", "$dumpon", "$dumpoff", "$dumpall"):
        i += 1
    elif t[0] in "bB":
        code = text[i + 1]; assert code in ids
        last[ids[code][0]] = int(t[1:], 2); changes += 1; i += 2
    elif t[0] in "01xz":
        last[ids[t[1:]][0]] = int(t[0]) if t[0] in "01" else 0; changes += 1; i += 1
    else:
        raise SystemExit("unexpected token " + t)
assert changes > 100, changes
total = sum(v["count"] for v in rep["violations"].values())
assert last["check.violations"] == total, (last["check.violations"], total)
assert last["iommu.iotlb_misses"] == rep["iommu"]["iotlb_misses"]
assert now >= rep["sim"]["sim_time_ps"] - 10, (now, rep["sim"]["sim_time_ps"])
PY

expect_exit 2 "an unwritable VCD path is refused" -- "$NICSIM" replay "$T/g.pcap" --vcd "$T/no/such/dir/w.vcd"
finish
