#!/usr/bin/env bash
# verdicts: cases where a wrong "safe" would hide, each settled by running
# the model on a trace built here, frame by frame, so that which buffer and
# page each frame gets is known; the expected pairs follow from the design's
# own rules (which principal maps which page when), not from a table.
source "$(dirname "$0")/lib.bash"

# frames FILE BYTES SRC...: one IPv4/UDP frame of BYTES per source address,
# 10 us apart, to 10.0.1.1:4000.
frames() {
  python3 - "$@" <<'PY'
import struct, sys
out, size, srcs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, src in enumerate(srcs):
        payload = (b'<frame %04d>' % i).ljust(size - 42, b'.')[:size - 42]
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
frames "$T/two.pcap" 200 10.0.0.1 10.200.0.1
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

# --- Writes into two packets are two tamperings ---
# zc-rw-mapping: the application writes into every packet the stack
# validated (16 bytes, and the fault's 64 more, cut to the payload). With
# 60-byte frames the payload (18 bytes) is overwritten whole, so the bytes
# other's recvmsg copies out lie side by side in its socket buffer: still
# one cross_flow_tamper per packet, and one --observed record each.
frames "$T/small.pcap" 60 10.0.0.2 10.0.0.3 10.0.0.2 10.0.0.3 10.0.0.2 10.0.0.3 10.0.0.2 10.0.0.3
"$NICSIM" replay "$T/small.pcap" --design zc-rw-mapping --set 'app.owns=src host 10.0.0.1' \
  --fault user_write:prob=1,len=64 --json "$T/rw.json" --observed "$T/rwobs" --quiet
want=$(jval "$T/rw.json" "[p['packets'] for p in d['principals'] if p['name']=='other'][0]")
got=$(pair "$T/rw.json" cross_flow_tamper other app)
if [ "$want" = 8 ] && [ "$got" = "$want" ]; then ok "zc-rw-mapping, 60-byte frames: other <- app tampered once per packet ($got)"
else bad "zc-rw-mapping, 60-byte frames: other <- app is $got for $want packets of other"; fi
recs=$(python3 -c "
import struct,sys
b=open(sys.argv[1],'rb').read(); o=24; n=[]
while o+16<=len(b):
    incl=struct.unpack('<I',b[o+8:o+12])[0]; n.append(b[o+16:o+16+incl]); o+=16+incl
print(len(n), all(set(x)=={0x58} for x in n))" "$T/rwobs/other.pcap")
if [ "$recs" = "$want True" ]; then ok "other.pcap: one record of the application's bytes per packet"
else bad "other.pcap: records, all the application's bytes: $recs (wanted $want True)"; fi

finish
