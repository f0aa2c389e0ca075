#!/usr/bin/env bash
# The outcomes the model must produce for the designs of this version
# (mission.md C1, C3, C6, C8, C9), on a generated trace and on a real capture.
# Every verdict here comes from running the model.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 600 --size imix --seed 7 || bad "gen"
G=$T/g.pcap
R=$CAPTURES/tcpreplay/test/test.pcap

for trace in "$G" "$R"; do
  name=$(basename "$trace")
  expect_exit 0 "$name: copy is safe" -- "$NICSIM" replay "$trace" --design copy --json "$T/copy.json"
  check "$name: copy has no violation at all" "all(v['count']==0 for v in d['violations'].values()) and d['verdict']=='safe'" "$T/copy.json"
  check "$name: copy delivered every packet" "d['nic']['rx_packets']==d['trace']['packets'] and d['throughput']['delivered_gbps']>0" "$T/copy.json"

  expect_exit 1 "$name: zc-shared-ring leaks" -- "$NICSIM" replay "$trace" --design zc-shared-ring --json "$T/zc.json"
  check "$name: C6 zc-shared-ring shows cross_flow_leak" "d['violations']['cross_flow_leak']['count']>0" "$T/zc.json"
  check "$name: C3 read-only SKBs put no kernel pointers in the page" "d['violations']['kernel_pointer_leak']['count']==0" "$T/zc.json"
  check "$name: first cross_flow_leak is explained" "d['violations']['cross_flow_leak']['first']['principal']=='app' and len(d['violations']['cross_flow_leak']['first']['explanation'])>40 and d['violations']['cross_flow_leak']['first']['source']['packet_index'] is not None" "$T/zc.json"

  expect_exit 1 "$name: zc-shared-ring-writable leaks" -- "$NICSIM" replay "$trace" --design zc-shared-ring-writable --json "$T/zcw.json"
  check "$name: C3 writable SKBs leak kernel pointers" "d['violations']['kernel_pointer_leak']['count']>0 and d['violations']['kernel_pointer_leak']['first']['source']['kind']=='skb_shared_info'" "$T/zcw.json"
  check "$name: writable also leaks other flows" "d['violations']['cross_flow_leak']['count']>0" "$T/zcw.json"
done

# C8: CAP_NET_ADMIN entitles the application to every packet, not to kernel data.
expect_exit 0 "C8: zc-shared-ring with CAP_NET_ADMIN is safe" -- "$NICSIM" replay "$G" --design zc-shared-ring --set 'app.caps=[CAP_NET_ADMIN]' --json "$T/c8.json"
expect_exit 1 "C8: writable with CAP_NET_ADMIN still leaks kernel pointers" -- "$NICSIM" replay "$G" --design zc-shared-ring-writable --set 'app.caps=[CAP_NET_ADMIN]' --json "$T/c8w.json"
check "C8: only kernel_pointer_leak remains" "d['violations']['kernel_pointer_leak']['count']>0 and d['violations']['cross_flow_leak']['count']==0 and d['violations']['stale_data_leak']['count']==0" "$T/c8w.json"

# C1: per-packet mappings of recycled pages expose what earlier packets left.
expect_exit 1 "C1: per-packet mapping, clear on entry" -- "$NICSIM" replay "$G" --design zc-shared-ring --set app.mapping_lifetime=per_packet --set pool.clear=on_entry --json "$T/c1a.json"
check "C1: stale_data_leak with clearing on entry only" "d['violations']['stale_data_leak']['count']>0" "$T/c1a.json"
expect_exit 0 "C1: per-packet mapping, clear on recycle is safe" -- "$NICSIM" replay "$G" --design zc-shared-ring --set app.mapping_lifetime=per_packet --set pool.clear=on_recycle --json "$T/c1b.json"
check "C1: clearing on recycle costs clear cycles" "d['pool']['clears']>0 and d['cpu']['breakdown']['clear']>0" "$T/c1b.json"
check "C1: per-packet mapping costs map cycles" "d['cpu']['breakdown']['map']>0" "$T/c1b.json"

# Pages that enter a shared pool uncleared hold what the kernel left there.
expect_exit 1 "never-cleared shared pool" -- "$NICSIM" replay "$G" --design zc-shared-ring --set pool.clear=never --json "$T/never.json"
check "never-cleared pool exposes pre-simulation kernel data" "d['violations']['kernel_pointer_leak']['count']>0 and d['violations']['kernel_pointer_leak']['first']['source']['kind']=='kernel_presim'" "$T/never.json"

# C9: a dedicated queue is safe; the same with the queue still in RSS is not.
"$NICSIM" gen -o "$T/g16.pcap" --flows 16 --packets 2000 --size imix --seed 3 || bad "gen 16 flows"
expect_exit 0 "C9: zc-dedicated-queue is safe" -- "$NICSIM" replay "$T/g16.pcap" --design zc-dedicated-queue --json "$T/c9.json"
check "C9: the application's queue carried its flow" "d['nic']['per_queue'][3]['rx_packets']>0" "$T/c9.json"
expect_exit 1 "C9: zc-dedicated-queue-rss-leak leaks" -- "$NICSIM" replay "$T/g16.pcap" --design zc-dedicated-queue-rss-leak --json "$T/c9l.json"
check "C9: rss-leak shows cross_flow_leak" "d['violations']['cross_flow_leak']['count']>0" "$T/c9l.json"

# C4: read-only SKBs cost more cycles per packet, same delivered bytes.
"$NICSIM" replay "$G" --design copy --set driver.skb_mode=writable --json "$T/c4w.json" >/dev/null
"$NICSIM" replay "$G" --design copy --set driver.skb_mode=readonly --json "$T/c4r.json" >/dev/null
w=$(jval "$T/c4w.json" "d['cpu']['cycles_per_packet']"); r=$(jval "$T/c4r.json" "d['cpu']['cycles_per_packet']")
if python3 -c "import sys; sys.exit(0 if float('$r') > float('$w') else 1)"; then ok "C4: read-only ($r) costs more than writable ($w)"; else bad "C4: read-only $r vs writable $w"; fi

# C10: read-write mappings let a hostile application change validated packets.
expect_exit 1 "C10: zc-rw-mapping" -- "$NICSIM" replay "$G" --design zc-rw-mapping --json "$T/c10.json"
check "C10: user_write_after_validation with rw mappings" "d['violations']['user_write_after_validation']['count']>0" "$T/c10.json"
"$NICSIM" replay "$G" --design zc-rw-mapping --set app.mapping=ro --json "$T/c10ro.json" >/dev/null
check "C10: read-only mappings make the writes fault" "d['violations']['user_write_after_validation']['count']==0 and d['violations']['kernel_data_tamper']['count']==0" "$T/c10ro.json"

# U1, U2: AF_XDP without steering leaks; header-split zcrx keeps headers out of app memory.
expect_exit 1 "U1: af-xdp-zc-shared" -- "$NICSIM" replay "$T/g16.pcap" --design af-xdp-zc-shared --json "$T/u1.json"
check "U1: every packet on the bound queue first lands in user memory" "d['violations']['cross_flow_leak']['count']>0 and d['umem']['device_written_bytes']['header']>0" "$T/u1.json"
expect_exit 0 "U1: af-xdp-zc-steered is safe" -- "$NICSIM" replay "$T/g16.pcap" --design af-xdp-zc-steered --json "$T/u1s.json"
expect_exit 0 "U2: header-split-zcrx is safe" -- "$NICSIM" replay "$T/g16.pcap" --design header-split-zcrx --json "$T/u2.json"
check "U2: payload in app memory, headers never" "d['umem']['device_written_bytes']['header']==0 and d['umem']['device_written_bytes']['payload']>0 and d['delivered']['zero_copy_packets']>0" "$T/u2.json"
expect_exit 1 "U3: frag-pages" -- "$NICSIM" replay "$G" --design frag-pages --json "$T/u3.json"
check "U3: a fragment handed over exposes its neighbour" "d['violations']['cross_flow_leak']['count']+d['violations']['stale_data_leak']['count']>0" "$T/u3.json"

# U4: a late device write in the lazy IOMMU's stale window.
expect_exit 1 "U4: iommu-lazy-unmap" -- "$NICSIM" replay "$G" --design iommu-lazy-unmap --json "$T/u4.json"
check "U4: device_write_after_unmap in lazy mode" "d['violations']['device_write_after_unmap']['count']>0 and d['faults'][0]['fired']==1" "$T/u4.json"
expect_exit 0 "U4: strict invalidation is safe" -- "$NICSIM" replay "$G" --design iommu-lazy-unmap --set iommu.mode=strict --json "$T/u4s.json"
check "U4: strict mode records an IOMMU fault instead" "d['iommu']['faults']>=1 and d['verdict']=='safe'" "$T/u4s.json"

finish
