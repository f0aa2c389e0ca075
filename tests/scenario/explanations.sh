#!/usr/bin/env bash
# Explanations agree with the JSON and give the chain of events:
# - every byte count in a first occurrence's explanation is its `length`;
# - `kind` is "header" only for header bytes (a span over headers and
#   payload is "packet"; a frame that parses as nothing has no header bytes);
# - a frame that parses as no flow is not "a flow evicted from the flow table";
# - a write after unmap names the IOVA, when the kernel unmapped the page,
#   and what let the write through (a stale IOTLB entry, or no translation);
# - the late write's effect follows the translation's outcome, not the mode.
source "$(dirname "$0")/lib.bash"
M=$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap
python3 - "$T/bad.pcap" <<'PY'
import struct, sys
frames = []
bad = bytes.fromhex("020000000001") + b"\x11" * 6          # 12 bytes: not even an EtherType
for i in range(5):
    frames.append(bad)
for i in range(100):
    payload = (b"<app %04d>" % i) * 20
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), i, 0, 64, 17, 0, bytes([10, 0, 0, 2]),
                     bytes([10, 0, 0, 1]))
    frames.append(bytes.fromhex("020000000002020000000001" + "0800") + ip +
                  struct.pack("!HHHH", 5000, 4000, 8 + len(payload), 0) + payload)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, fr in enumerate(frames):
        f.write(struct.pack("<IIII", 1000, i * 100, len(fr), len(fr)) + fr)
PY
n=0
run() { # NAME TRACE ARGS...: a replay whose report the checks below read
  local name=$1 trace=$2; shift 2
  "$NICSIM" replay "$trace" "$@" --json "$T/$name.json" --quiet
  [ $? -le 1 ] && ok "$name ran" || bad "$name: replay failed"
}
run zc "$M" --design zc-shared-ring
run writable-malicious "$M" --design zc-shared-ring-writable --fault malicious_dma:packet=10 --seed 3
run lazy "$M" --design iommu-lazy-unmap
run strict "$M" --design iommu-lazy-unmap --set iommu.mode=strict
run strict-late "$M" --design iommu-lazy-unmap --set iommu.mode=strict --fault late_dma:packet=300,delay_us=100
run passthrough "$M" --design iommu-lazy-unmap --set iommu.mode=passthrough
run mixed "$M" --design zc-shared-ring --fault random_dma:prob=0.02 --fault frame_bitflip:prob=0.05 \
  --fault bad_descriptor:packet=100 --fault late_dma:packet=200 --seed 7
run noflow "$T/bad.pcap" --design zc-shared-ring
python3 - "$T" <<'PY' && ok "every first occurrence: byte counts, kinds and flow names agree with the JSON" || bad "explanations"
import json, re, sys, glob
fail = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    d = json.load(open(path))
    for prop, v in d["violations"].items():
        f = v["first"]
        if not f:
            continue
        e = f["explanation"]
        counts = [int(x) for x in re.findall(r"(\d+) bytes", e)]
        if not counts or any(c != f["length"] for c in counts):
            print(f"{path}: {prop}: length {f['length']}, text says {counts}: {e}"); fail = 1
        if f["source"]["kind"] == "header" and f["length"] > 14 + 8 + 60 + 60:
            print(f"{path}: {prop}: {f['length']} bytes called header"); fail = 1
        if d["trace"]["flows_evicted"] == 0 and "evicted" in (f["source"]["flow"] or "") + e:
            print(f"{path}: {prop}: eviction named with no flow evicted: {e}"); fail = 1
sys.exit(fail)
PY
check "zc-shared-ring: the first leak spans headers and payload: kind packet" \
  "d['violations']['cross_flow_leak']['first']['source']['kind'] == 'packet'" "$T/zc.json"
check "a frame that parses as nothing: no flow, no header bytes" \
  "d['violations']['cross_flow_leak']['first']['source']['flow'].startswith('none') and d['violations']['cross_flow_leak']['first']['source']['kind'] == 'payload'" "$T/noflow.json"
check "lazy: the write after unmap names the IOVA, the unmap time and the stale IOTLB entry" \
  "all(s in d['violations']['device_write_after_unmap']['first']['explanation'] for s in ('to IOVA 0x', 'unmapped it for DMA at', 'stale IOTLB entry'))" "$T/lazy.json"
check "passthrough: the write after unmap got through with no translation" \
  "'no translation stopped it' in d['violations']['device_write_after_unmap']['first']['explanation']" "$T/passthrough.json"
check "lazy: the late write's effect says stale IOTLB entry" "'through a stale IOTLB entry' in d['faults'][0]['effect']" "$T/lazy.json"
check "strict: the late write was refused, and the report says so" \
  "'refused by the IOMMU' in d['faults'][0]['effect'] and d['violations']['device_write_after_unmap']['count'] == 0" "$T/strict.json"
check "strict, later: the freed IOVA was handed out again and the write landed in the buffer granted there" \
  "'into the buffer now granted at that IOVA' in d['faults'][1]['effect'] and d['violations']['device_write_after_unmap']['count'] == 0" "$T/strict-late.json"
check "passthrough: the late write's effect says no translation" "'with no translation' in d['faults'][0]['effect']" "$T/passthrough.json"
finish
