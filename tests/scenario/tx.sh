#!/usr/bin/env bash
# The TX path: each TX design's verdict comes from its mechanism (flipping
# the knob that defines it flips the verdict), and DIR/wire.pcap is what the
# device put on the wire, byte for byte.
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/g.pcap" --flows 5 --packets 400 --size imix --seed 21 || bad "gen"

# run NAME ARGS...: replay into $T/NAME.json.
# (exit 1: a violation was found)
run() { local n=$1; shift; "$NICSIM" replay "$T/g.pcap" --json "$T/$n.json" --quiet "$@"; [ $? -le 1 ] || bad "$n: replay failed"; }
viol() { jval "$T/$1.json" "d['violations']['$2']['count']"; }
# flips PROP A NA B NB: run A counts NA of PROP and run B counts NB.
flips() { [ "$(viol "$2" "$1")" -eq "$3" ] && [ "$(viol "$4" "$1")" -eq "$5" ]; }

# records PCAP [BPF]: the frames of a capture (those a BPF filter selects), one hex line each.
records() {
  if [ $# -gt 1 ]; then tcpdump -r "$1" -w "$T/sel.pcap" "$2" 2>/dev/null; set -- "$T/sel.pcap"; fi
  python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
endian = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
off = 24
while off + 16 <= len(d):
    _, _, cl, _ = struct.unpack(endian + "IIII", d[off:off + 16])
    print(d[off + 16:off + 16 + cl].hex()); off += 16 + cl
PY
}

# The application's flow as a BPF filter, from the report's "udp A:p > B:q".
run copy0 --design tx-copy --observed "$T/o-copy"
flow=$(jval "$T/copy0.json" "d['trace']['app_flow']")
bpf=$(python3 -c "import sys; p=sys.argv[1].split(); a,b=p[1].rsplit(':',1); c,e=p[3].rsplit(':',1); print(f'{p[0]} and src host {a} and src port {b} and dst host {c} and dst port {e}')" "$flow")
records "$T/g.pcap" "$bpf" >"$T/sent.txt"
records "$T/o-copy/wire.pcap" >"$T/wire.txt"
n=$(wc -l <"$T/sent.txt")
[ "$n" -gt 10 ] && ok "the application's flow has $n frames to send" || bad "only $n frames sent"
cmp -s "$T/sent.txt" "$T/wire.txt" && ok "tx-copy: wire.pcap is the sent frames of the capture, byte for byte" \
  || bad "tx-copy: wire.pcap differs from the capture's sent frames"
check "tx-copy: every sent frame left, nothing violated" \
  "d['tx']['packets'] == $n and d['verdict'] == 'safe' and d['tx']['copies'] == $n" "$T/copy0.json"
check "tx-copy: per-queue counters add up (posted = completed = on the wire)" \
  "sum(q['tx_packets'] for q in d['tx']['per_queue']) == $n and all(q['posted'] == q['completed'] for q in d['tx']['per_queue'])" "$T/copy0.json"
check "tx-copy: TX cycles per frame counted apart" "d['tx']['cycles_per_packet'] > 0" "$T/copy0.json"
check "the rest of the capture is received" "d['nic']['rx_packets'] == 400 - $n" "$T/copy0.json"

# C15: tx-early-release leaks kernel data onto the wire; wire.pcap differs
# exactly in the frames (and bytes) the checker reports.
run early --design tx-early-release --observed "$T/o-early"
records "$T/o-early/wire.pcap" >"$T/wire-early.txt"
python3 - "$T/sent.txt" "$T/wire-early.txt" "$T/early.json" <<'PY' && ok "tx-early-release: wire.pcap differs exactly in the leaked frames and bytes" || bad "tx-early-release: wire.pcap and wire_leak disagree"
import json, sys
sent = open(sys.argv[1]).read().split(); wire = open(sys.argv[2]).read().split()
r = json.load(open(sys.argv[3]))['violations']['wire_leak']
diff = [(s, w) for s, w in zip(sent, wire) if s != w]
# Every leaked frame is the kernel's objects whole: all its bytes leaked.
sys.exit(0 if len(sent) == len(wire) and len(diff) == r['count'] > 0
         and sum(len(w) // 2 for _, w in diff) == r['bytes'] else 1)
PY
[ "$(viol early device_read_after_unmap)" -eq 0 ] && ok "tx-early-release: the mapping is still there when the device reads" || bad "read after unmap"
run early_wait --design tx-early-release --set tx.wait_completion=true
[ "$(viol early_wait wire_leak)" -eq 0 ] && [ "$(jval "$T/early_wait.json" "d['verdict']")" = safe ] \
  && ok "C15 flips: waiting for the completion is safe" || bad "tx-early-release waiting still leaks"

# C13/C14: MSG_ZEROCOPY. The packet index of the 3rd frame sent.
k=$(python3 -c "
import subprocess,sys
out=subprocess.run(['tcpdump','-r',sys.argv[1],'-n','-tt',sys.argv[2]],capture_output=True,text=True).stdout.splitlines()
allf=subprocess.run(['tcpdump','-r',sys.argv[1],'-n','-tt'],capture_output=True,text=True).stdout.splitlines()
print(allf.index(out[2]))" "$T/g.pcap" "$bpf")
run zc --design tx-zerocopy
[ "$(jval "$T/zc.json" "d['verdict']")" = safe ] && ok "C13: MSG_ZEROCOPY with a patient sender is safe" || bad "tx-zerocopy unsafe"
check "tx-zerocopy: pages pinned and mapped, no copies, a notification per frame" \
  "d['tx']['pins'] == $n and d['tx']['copies'] == 0 and d['tx']['notifications'] == $n" "$T/zc.json"
run zc_uw --design tx-zerocopy --fault "user_write:packet=$k"
[ "$(viol zc_uw user_write_after_validation)" -eq 1 ] && ok "C14: a header rewritten after netfilter is user_write_after_validation" \
  || bad "C14 not found ($(viol zc_uw user_write_after_validation))"
run zc_uw_ro --design tx-zerocopy --fault "user_write:packet=$k" --set tx.protect_inflight=true
[ "$(viol zc_uw_ro user_write_after_validation)" -eq 0 ] && check "C14 flips: pages read-only in flight refuse the write" \
  "d['tx']['user_write_faults'] == 1 and d['verdict'] == 'safe'" "$T/zc_uw_ro.json" || bad "read-only pages still violated"
run zc_nowait --design tx-zerocopy --set tx.wait_completion=false
[ "$(viol zc_nowait user_write_after_validation)" -eq "$n" ] && ok "U6: a sender that does not wait rewrites every frame in flight" \
  || bad "U6 zerocopy not waiting: $(viol zc_nowait user_write_after_validation)"
run copy_uw --design tx-copy --fault "user_write:packet=$k"
[ "$(jval "$T/copy_uw.json" "d['verdict']")" = safe ] && ok "tx-copy: the sender's write touches only its own buffer" || bad "tx-copy user_write violated"

# U6: AF_XDP TX.
run xdp --design tx-af-xdp --observed "$T/o-xdp"
records "$T/o-xdp/wire.pcap" >"$T/wire-xdp.txt"
cmp -s "$T/sent.txt" "$T/wire-xdp.txt" && check "U6: AF_XDP TX from the UMEM is safe, one completion per frame, queue 3" \
  "d['verdict'] == 'safe' and d['tx']['copies'] == 0 and d['tx']['notifications'] == $n and d['tx']['per_queue'][3]['tx_packets'] == $n" \
  "$T/xdp.json" || bad "AF_XDP wire differs"
run xdp_nowait --design tx-af-xdp --set tx.wait_completion=false --observed "$T/o-xdp2"
records "$T/o-xdp2/wire.pcap" >"$T/wire-xdp2.txt"
cmp -s "$T/sent.txt" "$T/wire-xdp2.txt" && bad "AF_XDP without waiting: the wire should carry the rewritten chunks" \
  || ok "AF_XDP without waiting: the wire carries what the sender wrote over its chunks"

# A TX page_pool per socket: pages DMA-mapped once and mapped into the
# sender for good; read-only in flight and recycled at the completion.
run pp --design tx-page-pool --observed "$T/o-pp"
records "$T/o-pp/wire.pcap" >"$T/wire-pp.txt"
cmp -s "$T/sent.txt" "$T/wire-pp.txt" && check "tx-page-pool: safe, the capture's frames on the wire, nothing pinned, copied or mapped per send" \
  "d['verdict'] == 'safe' and d['tx']['pins'] == 0 and d['tx']['copies'] == 0 and d['tx']['dma_unmaps'] == 0 and d['tx']['dma_maps'] == 64 * 4 and d['tx']['validated'] == $n" \
  "$T/pp.json" || bad "tx-page-pool wire differs"
run pp_rw --design tx-page-pool --set tx.protect_inflight=false
check "tx-page-pool: without the per-send write-protect, fewer TX cycles per frame than MSG_ZEROCOPY and copy" \
  "d['tx']['cycles_per_packet'] < min(json.load(open('$T/zc.json'))['tx']['cycles_per_packet'], json.load(open('$T/copy0.json'))['tx']['cycles_per_packet'])" "$T/pp_rw.json"
run pp_uw --design tx-page-pool --fault "user_write:packet=$k"
run pp_uw_rw --design tx-page-pool --fault "user_write:packet=$k" --set tx.protect_inflight=false
flips user_write_after_validation pp_uw 0 pp_uw_rw 1 && check "tx-page-pool: read-only in flight refuses the rewrite; writable pages let it through (user_write_after_validation)" \
  "d['tx']['user_write_faults'] == 1" "$T/pp_uw.json" \
  || bad "tx-page-pool user_write: ro $(viol pp_uw user_write_after_validation), rw $(viol pp_uw_rw user_write_after_validation)"
run pp_early --design tx-page-pool --set tx.wait_completion=false --observed "$T/o-pp2"
records "$T/o-pp2/wire.pcap" >"$T/wire-pp2.txt"
[ "$(viol pp_early user_write_after_validation)" -eq "$n" ] && ! cmp -s "$T/sent.txt" "$T/wire-pp2.txt" \
  && check "tx-page-pool recycling before the completion: the page is writable again, the next message lands in it in flight" \
  "d['tx']['early_releases'] == $n and d['violations']['wire_leak']['count'] == 0" "$T/pp_early.json" \
  || bad "tx-page-pool early recycle: $(viol pp_early user_write_after_validation)"
run pp_over --design tx-page-pool --fault "tx_overread:packet=$k"
check "tx-page-pool: the whole pool is mapped, so an over-read gets through the IOMMU; it is still outside the grant" \
  "d['violations']['device_read_outside_grant']['count'] == 1 and d['iommu']['faults'] == 0 and d['violations']['wire_leak']['count'] == 0" "$T/pp_over.json"

# Device faults on TX.
run over --design tx-copy --fault "tx_overread:packet=$k"
[ "$(viol over device_read_outside_grant)" -eq 1 ] && [ "$(viol over wire_leak)" -eq 1 ] \
  && ok "tx_overread: a read past the buffer, and what lay there on the wire" || bad "tx_overread"
run early_c --design tx-copy --fault "tx_completion_early:packet=$k" --set iommu.mode=passthrough
[ "$(viol early_c device_read_after_unmap)" -eq 1 ] && ok "tx_completion_early without the IOMMU: read after unmap" || bad "early completion"
run early_s --design tx-copy --fault "tx_completion_early:packet=$k" --set iommu.mode=strict
check "tx_completion_early under a strict IOMMU: the read is refused, nothing violated" \
  "d['verdict'] == 'safe' and d['iommu']['faults'] >= 1 and sum(q['tx_dma_fault'] for q in d['tx']['per_queue']) == 1" "$T/early_s.json"
run late_l --design tx-early-release --fault "tx_late_read:packet=$k,delay_us=2"
run late_s --design tx-early-release --fault "tx_late_read:packet=$k,delay_us=2" --set iommu.mode=strict
flips device_read_after_unmap late_l 1 late_s 0 && ok "tx_late_read: a stale IOTLB entry reaches the unmapped page in lazy mode, not in strict mode" \
  || bad "tx_late_read lazy $(viol late_l device_read_after_unmap), strict $(viol late_s device_read_after_unmap)"
run lost --design tx-copy --fault "tx_completion_lost:packet=$k"
check "tx_completion_lost: the frame's buffer is never cleaned" \
  "sum(q['posted'] - q['completed'] for q in d['tx']['per_queue']) >= 1 and d['verdict'] == 'safe'" "$T/lost.json"

# Head write-back completes the same frames.
run hwb --design tx-copy --set tx.head_writeback=true
check "head write-back: every frame completed" \
  "all(q['posted'] == q['completed'] for q in d['tx']['per_queue']) and d['tx']['packets'] == $n" "$T/hwb.json"

# traffic.tx: a filter of its own on a receive design.
run filt --design copy --set "traffic.tx=$bpf"
check "traffic.tx on a receive design: the filter's frames are sent by copy" \
  "d['tx']['packets'] == $n and d['tx']['copies'] == $n" "$T/filt.json"
run none --design copy
check "no traffic.tx: nothing is sent, tx is off" "not d['tx']['enabled'] and d['tx']['packets'] == 0" "$T/none.json"
expect_exit 2 "a bad traffic.tx filter is refused" -- "$NICSIM" replay "$T/g.pcap" --set "traffic.tx=udp port nope" --quiet
grep -q "traffic.tx" "$T/err" && ok "the message names traffic.tx" || bad "message: $(cat "$T/err")"

# Both directions of a conversation: the host's own frames are sent, the
# replies received, interleaved in time (a corpus capture; skipped without it).
CONV=$CORPUS/tcpreplay/test/test.pcap
if [ -f "$CONV" ]; then
  host_bpf="src host 172.16.11.12"
  "$NICSIM" replay "$CONV" --design tx-copy --set "traffic.tx=$host_bpf" --observed "$T/o-conv" \
    --json "$T/conv.json" --quiet
  records "$CONV" "$host_bpf" >"$T/conv-sent.txt"
  records "$T/o-conv/wire.pcap" >"$T/conv-wire.txt"
  m=$(wc -l <"$T/conv-sent.txt")
  cmp -s "$T/conv-sent.txt" "$T/conv-wire.txt" && [ "$m" -gt 0 ] \
    && ok "a two-way capture: the host's $m frames are sent, byte for byte" || bad "two-way capture: wire.pcap differs"
  check "a two-way capture: the rest is received, nothing violated" \
    "d['tx']['packets'] == $m and d['nic']['rx_packets'] + d['nic']['rx_dropped'] + $m <= d['trace']['packets'] and d['nic']['rx_packets'] > 0 and d['verdict'] == 'safe'" "$T/conv.json"
else
  echo "skip: $CONV absent"
fi

# The waveform has the TX ring levels.
"$NICSIM" replay "$T/g.pcap" --design tx-copy --vcd "$T/w.vcd" --quiet
grep -q " tx_ring_fill " "$T/w.vcd" && ok "VCD: TX ring fill per queue" || bad "no TX ring in the VCD"
finish
