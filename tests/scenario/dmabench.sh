#!/usr/bin/env bash
# nicsim dmabench: throughput falls as the window outgrows what the IOTLB
# covers with 4 KiB pages, stays flat with superpages and with no IOMMU.
source "$(dirname "$0")/lib.bash"
gbps() { "$NICSIM" dmabench --window "$1" --size 64 --pattern random --op read --iommu "$2" --count 50000 --json - |
         python3 -c "import json,sys; print(json.load(sys.stdin)['gbps'])"; }
small_on=$(gbps 131072 on); big_on=$(gbps 67108864 on)
small_sp=$(gbps 131072 superpages); big_sp=$(gbps 67108864 superpages)
big_off=$(gbps 67108864 off)
python3 -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if b < 0.5*a else 1)" "$small_on" "$big_on" \
  && ok "4 KiB pages: $small_on Gb/s over 128 KiB, $big_on Gb/s over 64 MiB" || bad "no fall: $small_on -> $big_on"
python3 -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) <= 0.02*a else 1)" "$small_sp" "$big_sp" \
  && ok "superpages: flat ($small_sp, $big_sp Gb/s)" || bad "superpages not flat: $small_sp -> $big_sp"
python3 -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) <= 0.02*a else 1)" "$big_off" "$small_sp" \
  && ok "no IOMMU: $big_off Gb/s" || bad "iommu off: $big_off"
"$NICSIM" dmabench --window 1048576 --size 256 --op write --pattern seq --iommu on --count 1000 --json "$T/d.json" >/dev/null
python3 - "$T/d.json" <<'PY' && ok "the JSON has exactly the contract's keys" || bad "dmabench JSON keys"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"window_bytes", "size_bytes", "pattern", "op", "iommu", "gbps", "lat_ns", "iotlb_hits", "iotlb_misses"}, set(d)
assert set(d["lat_ns"]) == {"p50", "p95", "p99"}
assert d["window_bytes"] == 1048576 and d["size_bytes"] == 256 and d["op"] == "write" and d["pattern"] == "seq"
PY
expect_exit 2 "a size larger than the window is refused" -- "$NICSIM" dmabench --window 4096 --size 8192
finish
