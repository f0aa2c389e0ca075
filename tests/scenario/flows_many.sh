#!/usr/bin/env bash
# The first pass counts every frame of every flow once, also when the flow
# table is too large for the memo of recent keys and frames go into it a few
# frames after they are read, their slots fetched ahead (a table of more than
# 32,768 flows, as here). The counts are checked against the capture itself,
# read here with Python.
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/many.pcap" --packets 150000 --flows 1000000 --seed 3 > /dev/null || bad "gen"
"$NICSIM" gen -o "$T/few.pcap" --packets 3000 --flows 4 --seed 3 > /dev/null || bad "gen"

# flows in the first N records: distinct UDP/TCP 5-tuples of IPv4 frames,
# either direction; packets of the busiest; all frames.
count() {
  python3 - "$1" "$2" <<'EOF'
import struct, sys
path, limit = sys.argv[1], int(sys.argv[2])
data = open(path, 'rb').read()
magic = struct.unpack('<I', data[:4])[0]
assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
off, n, flows = 24, 0, {}
while off + 16 <= len(data) and (limit == 0 or n < limit):
    caplen = struct.unpack('<I', data[off + 8:off + 12])[0]
    f = data[off + 16:off + 16 + caplen]
    off += 16 + caplen
    n += 1
    if len(f) < 34 or f[12:14] != b'\x08\x00':
        continue
    ihl = (f[14] & 15) * 4
    proto, src, dst = f[23], f[26:30], f[30:34]
    sp, dp = struct.unpack('>HH', f[14 + ihl:18 + ihl]) if proto in (6, 17) else (0, 0)
    a, b = (src, sp), (dst, dp)
    key = (proto,) + (a + b if a <= b else b + a)
    flows[key] = flows.get(key, 0) + 1
print(len(flows), max(flows.values()), n)
EOF
}

for t in many few; do
  for lim in 0 120000; do
    args=()
    [ "$lim" -gt 0 ] && args=(--limit "$lim")
    "$NICSIM" replay "$T/$t.pcap" --design copy "${args[@]}" --json "$T/$t.$lim.json" --quiet
    read -r nflows top frames < <(count "$T/$t.pcap" "$lim")
    check "$t flows, limit $lim: $nflows flows in the capture" "d['trace']['flows'] == $nflows" "$T/$t.$lim.json"
    check "$t flows, limit $lim: every one of $frames frames is counted once" \
      "sum(p['packets'] for p in d['principals']) == $frames == d['trace']['packets']" "$T/$t.$lim.json"
    check "$t flows, limit $lim: the application's flow is the busiest ($top frames)" \
      "d['principals'][0]['name'] == 'app' and d['principals'][0]['packets'] == $top and d['principals'][0]['flows'] == 1" \
      "$T/$t.$lim.json"
  done
done
finish
