#!/usr/bin/env bash
# verdicts: cases where a wrong "safe" would hide, each settled by running
# the model on a trace built here, frame by frame, so that which buffer and
# page each frame gets is known; the expected pairs follow from the design's
# own rules (which principal maps which page when), not from a table.
source "$(dirname "$0")/lib.bash"

# frames FILE SRC...: one 200-byte IPv4/UDP frame per source address, 10 us
# apart, to 10.0.1.1:4000.
frames() {
  python3 - "$@" <<'PY'
import struct, sys
out, srcs = sys.argv[1], sys.argv[2:]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, src in enumerate(srcs):
        payload = (b'<frame %04d>' % i).ljust(200 - 42, b'.')
        udp = struct.pack('!HHHH', 40000 + i, 4000, 8 + len(payload), 0) + payload
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes(map(int, src.split('.'))), bytes([10, 0, 1, 1]))
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        eth = b'\x02\x00\x00\x00\x00\x01' + b'\x02\x00\x00\x00\x00\x02' + b'\x08\x00'
        frame = eth + ip + udp
        f.write(struct.pack('<IIII', 1, 10 * i, len(frame), len(frame)) + frame)
PY
}
# pair FILE PROPERTY WHO OWNER: the pair's count (0 when absent).
pair() {
  jval "$1" "sum(p['count'] for p in d['violations']['$2']['by_pair'] if p['principal']=='$3' and p['owner']=='$4')"
}

# --- Two zero-copy principals holding fragments of one page ---
# frag-pages: two fragments a page, a page mapped into a principal while it
# holds a buffer of it. The application holds its frame (hold_us); green's
# frame, next on the ring, is the other fragment of the same page. Green is
# mapped the page when it is handed its fragment, whoever else holds the
# other one, and sees the application's frame there; the application, mapped
# since its own frame, sees green's being written.
frames "$T/two.pcap" 10.0.0.1 10.200.0.1
cat >"$T/frag2.yaml" <<'YAML'
design: frag-pages
app:
  owns: "src host 10.0.0.1"
  hold_us: 1000
principals:
  - name: green
    owns: "src host 10.200.0.1"
    delivery: zero_copy
    zc_queues: all
    mapping: ro
    mapping_lifetime: per_packet
YAML
"$NICSIM" replay "$T/two.pcap" --scenario "$T/frag2.yaml" --json "$T/frag2.json" --quiet
check "frag-pages, two holders: both frames handed over zero-copy" \
  "d['delivered']['zero_copy_packets']==2" "$T/frag2.json"
check "frag-pages, two holders: one page mapped per holder (two maps, two unmaps)" \
  "d['user']['maps']==2 and d['user']['unmaps']==2" "$T/frag2.json"
for w in "app green" "green app"; do
  set -- $w
  got=$(pair "$T/frag2.json" cross_flow_leak "$1" "$2")
  if [ "$got" = 1 ]; then ok "frag-pages, two holders: $1 sees $2's frame in the shared page ($1 <- $2)"
  else bad "frag-pages, two holders: $1 <- $2 is $got, wanted 1"; fi
done
# The application gives its buffer back at once: unmapped before green's
# frame arrives, it sees nothing of it; its own frame stays in the page (the
# page is recycled only when its last fragment is), so green still sees it.
sed -i 's/hold_us: 1000/hold_us: 0/' "$T/frag2.yaml"
"$NICSIM" replay "$T/two.pcap" --scenario "$T/frag2.yaml" --json "$T/frag2b.json" --quiet
got="$(pair "$T/frag2b.json" cross_flow_leak app green) $(pair "$T/frag2b.json" cross_flow_leak green app)"
if [ "$got" = "0 1" ]; then ok "frag-pages, buffers given back at once: app <- green 0, green <- app 1"
else bad "frag-pages, buffers given back at once: app <- green, green <- app are $got, wanted 0 1"; fi

finish
