#!/usr/bin/env bash
# A refused DMA write never wedges a queue: a memory write is posted, the
# device cannot know it failed, writes the descriptor back as usual and goes
# on. With a corrupted descriptor address the IOMMU refuses (seed 4: one
# address bit flipped to an unmapped IOVA), every other frame is received
# and delivered, the fault is counted, and a leaky design's leaks are not
# collapsed by it.
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/g.pcap" --flows 16 --packets 6000 --size imix --seed 1 || bad "gen"
"$NICSIM" replay "$T/g.pcap" --design copy --fault bad_descriptor --seed 4 --json "$T/c.json" >"$T/c.txt" ||
  bad "replay copy"
check "copy: all 6000 frames received" "d['nic']['rx_packets'] == 6000 and d['nic']['rx_dropped'] == 0" "$T/c.json"
check "copy: all 6000 frames delivered" "d['delivered']['packets'] == 6000" "$T/c.json"
check "the refused write is counted once, per queue and in total" \
  "d['nic']['dma_write_faults'] == 1 and d['nic']['per_queue'][0]['dma_write_faults'] == 1 and d['iommu']['faults'] == 1" "$T/c.json"
check "the descriptor was written back (no write-back fault)" "d['nic']['per_queue'][0]['drop_dma_fault'] == 0" "$T/c.json"
check "the fault's effect says the write was refused" "'refused' in d['faults'][0]['effect']" "$T/c.json"
grep -q "1 frames with a DMA write the IOMMU refused" "$T/c.txt" && ok "the summary names the refused write" ||
  bad "summary: $(cat "$T/c.txt")"
# (exit 1: the verdict is unsafe)
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --json "$T/z0.json" >/dev/null
[ $? -eq 1 ] || bad "replay zc"
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --fault bad_descriptor --seed 4 --json "$T/z1.json" >/dev/null
[ $? -eq 1 ] || bad "replay zc with the fault"
a=$(jval "$T/z0.json" "d['violations']['cross_flow_leak']['count']")
b=$(jval "$T/z1.json" "d['violations']['cross_flow_leak']['count']")
[ "$a" -gt 1000 ] && [ "$b" -ge $((a - 2)) ] && ok "zc-shared-ring: leaks $b with the fault, $a without" ||
  bad "zc-shared-ring leaks collapsed: $b with the fault, $a without"
finish
