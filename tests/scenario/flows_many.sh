#!/usr/bin/env bash
# The first pass counts every frame of every flow once, also when the flow
# table is too large for the memo of recent keys and frames go into it a few
# frames after they are read, their slots fetched ahead (a table of more than
# 32,768 flows, as here). The counts are checked against the capture itself,
# read here with Python.
#
# The replay takes each frame's flow from the first pass's log (a file of 4
# bytes a record, since this table misses its memo): with the log turned
# off (NICSIM_FLOW_SPILL=0) every frame is looked up again, and the reports
# must be the same, also with faults that change frames, a TX design, a
# table too small for the flows (evictions: no log), --limit, and no usable
# temporary folder (no log). Another value of the variable is refused.
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

# same_with_log WHAT ARGS...: the replay of many.pcap with ARGS, with and
# without the flow log: same exit status, output and --json report.
same_with_log() {
  local what=$1; shift
  local mode
  for mode in 1 0; do
    NICSIM_FLOW_SPILL=$mode "$NICSIM" replay "$T/many.pcap" "$@" --json "$T/log$mode.json" \
      >"$T/log$mode.out" 2>&1
    echo $? >"$T/log$mode.rc"
  done
  if cmp -s "$T/log1.rc" "$T/log0.rc" && cmp -s "$T/log1.out" "$T/log0.out" &&
     cmp -s "$T/log1.json" "$T/log0.json"; then
    ok "$what: the same replay with the flow log and without (exit $(cat "$T/log1.rc"))"
  else
    bad "$what: the flow log changes the replay (exit $(cat "$T/log1.rc") / $(cat "$T/log0.rc"))"
    diff "$T/log0.json" "$T/log1.json" | head -10
  fi
}
same_with_log "zc-shared-ring" --design zc-shared-ring
same_with_log "copy, --limit 100000" --design copy --limit 100000
same_with_log "frame_bitflip on every frame" --design zc-shared-ring --fault frame_bitflip:prob=1 --seed 2
same_with_log "frame_drop" --design copy --fault frame_drop:prob=0.3 --seed 2
same_with_log "tx-copy" --design tx-copy
same_with_log "multi-tenant-steered" --design multi-tenant-steered
same_with_log "trace.max_flows=4096 (evictions)" --design copy --set trace.max_flows=4096
TMPDIR=/nonexistent/nicsim same_with_log "TMPDIR a folder that does not exist" --design copy
expect_exit 2 "NICSIM_FLOW_SPILL=yes is refused" -- env NICSIM_FLOW_SPILL=yes "$NICSIM" replay "$T/few.pcap"
grep -q "^nicsim: NICSIM_FLOW_SPILL 'yes': expected 0 or 1$" "$T/err" &&
  ok "...naming the variable, the value and the choices" || bad "bad variable: $(cat "$T/err")"

finish
