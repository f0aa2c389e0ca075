#!/usr/bin/env bash
# Conservation of frames: every frame the NIC accepted (received, not
# dropped) reaches its destination, an XDP drop or a full socket receive
# buffer (sock.rcvbuf_bytes) by the end of the run, on
# every design, at recorded and at line speed. A lost interrupt (a
# completion while the interrupt was masked, never raised after) leaves
# frames in the ring and fails here.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 64 --packets 3000 --size imix >/dev/null || bad "gen"
for trace in "$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap" "$T/g.pcap"; do
  for speed in recorded line; do
    for design in $("$NICSIM" designs | awk '{print $1}'); do
      "$NICSIM" replay "$trace" --design "$design" --speed "$speed" --json "$T/r.json" >/dev/null 2>"$T/err"
      rc=$?
      if [ "$rc" -gt 1 ]; then bad "$design $speed $(basename "$trace"): exit $rc: $(head -1 "$T/err")"; continue; fi
      check "$design, $speed, $(basename "$trace"): every accepted frame delivered, dropped by XDP or at a full socket" \
        "d['nic']['rx_packets'] == d['delivered']['packets'] + d['xdp']['drop'] + d['umem'].get('copy_out_drops', 0) + sum(p['drops'] for p in d['sockets']['per_principal']) and d['nic']['rx_packets'] > 0" "$T/r.json"
    done
  done
done
finish
