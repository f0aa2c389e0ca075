#!/usr/bin/env bash
# The claims of mission.md that the host memory model (pool/) settles, each
# run through the model, and each with the knob that decides it flipped:
# C1, C3, C4, C5, C8, C10, C11, C12, U1, U2, U3. Verdicts come from the runs.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 600 --size imix --seed 7 || bad "gen"
M=$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap
cnt() { jval "$1" "d['violations']['$2']['count']"; }

for trace in "$M" "$T/g.pcap"; do
  n=$(basename "$trace")
  run() { local out=$1; shift; "$NICSIM" replay "$trace" --quiet --json "$T/$out.json" "$@"; echo $? > "$T/$out.rc"; }

  # C1: per-packet mappings of recycled pages; clearing on entry only vs on recycle.
  run c1a --design zc-shared-ring --set app.mapping_lifetime=per_packet --set pool.clear=on_entry
  run c1b --design zc-shared-ring --set app.mapping_lifetime=per_packet --set pool.clear=on_recycle
  check "$n C1: stale_data_leak when pages are cleared on entry only" "d['violations']['stale_data_leak']['count']>0" "$T/c1a.json"
  check "$n C1: none when cleared on recycle, at a clearing cost" "d['violations']['stale_data_leak']['count']==0 and d['cpu']['breakdown']['clear']>0" "$T/c1b.json"

  # C3: writable skbs put skb_shared_info in the user-mapped page.
  run c3w --design zc-shared-ring-writable
  run c3r --design zc-shared-ring-writable --set driver.skb_mode=readonly
  check "$n C3: kernel_pointer_leak (skb_shared_info) in writable mode" "d['violations']['kernel_pointer_leak']['count']>0 and d['violations']['kernel_pointer_leak']['first']['source']['kind']=='skb_shared_info'" "$T/c3w.json"
  check "$n C3: none in read-only mode" "d['violations']['kernel_pointer_leak']['count']==0" "$T/c3r.json"

  # C4: read-only skbs cost more per packet; the same bytes are delivered.
  run c4w --design copy --set driver.skb_mode=writable
  run c4r --design copy --set driver.skb_mode=readonly
  w=$(jval "$T/c4w.json" "d['cpu']['cycles_per_packet']"); r=$(jval "$T/c4r.json" "d['cpu']['cycles_per_packet']")
  if python3 -c "import sys; sys.exit(0 if float('$r') > float('$w') else 1)"; then ok "$n C4: read-only $r > writable $w cycles/packet"; else bad "$n C4: read-only $r vs writable $w"; fi
  bw=$(jval "$T/c4w.json" "d['nic']['rx_bytes']"); br=$(jval "$T/c4r.json" "d['nic']['rx_bytes']")
  [ "$bw" = "$br" ] && ok "$n C4: same bytes delivered ($bw)" || bad "$n C4: bytes $bw vs $br"

  # C5: per-packet user mappings dominate the cycles; a lasting mapping does not.
  run c5p --design zc-shared-ring --set app.mapping_lifetime=per_packet
  run c5l --design zc-shared-ring --set app.mapping_lifetime=persistent
  check "$n C5: per_packet: map is the largest bucket" "all(d['cpu']['breakdown']['map']>v for k,v in d['cpu']['breakdown'].items() if k!='map')" "$T/c5p.json"
  # A lasting mapping is made when a page enters the pool (the slow path),
  # never per packet; a short trace still pays for the pages the pool takes
  # in during the run.
  check "$n C5: persistent: no per-packet mapping, map cycles only for pages entering the pool, fewer cycles/packet" "d['user']['maps']==0 and d['cpu']['breakdown']['map']*5 < $(jval "$T/c5p.json" "d['cpu']['breakdown']['map']") and d['cpu']['cycles_per_packet']*2 < $(jval "$T/c5p.json" "d['cpu']['cycles_per_packet']")" "$T/c5l.json"

  # C8: CAP_NET_ADMIN entitles the application to every packet, not to kernel data.
  run c8 --design zc-shared-ring --set 'app.caps=[CAP_NET_ADMIN]'
  run c8w --design zc-shared-ring-writable --set 'app.caps=[CAP_NET_ADMIN]'
  check "$n C8: shared ring with CAP_NET_ADMIN is safe" "d['verdict']=='safe'" "$T/c8.json"
  check "$n C8: writable mode still leaks kernel pointers" "d['violations']['kernel_pointer_leak']['count']>0 and d['violations']['cross_flow_leak']['count']==0" "$T/c8w.json"

  # C10: read-write mappings and a hostile writer; read-only mappings make it fault.
  run c10 --design zc-rw-mapping
  run c10ro --design zc-rw-mapping --set app.mapping=ro
  check "$n C10: user_write_after_validation with rw" "d['violations']['user_write_after_validation']['count']>0" "$T/c10.json"
  check "$n C10: none with ro" "d['violations']['user_write_after_validation']['count']==0" "$T/c10ro.json"

  # C11 / U1: AF_XDP zero copy on a queue RSS also feeds vs a steered queue out of RSS.
  run u1s --design af-xdp-zc-shared
  run u1t --design af-xdp-zc-steered
  run u1f --design af-xdp-zc-steered --set 'nic.rss_queues=[0,1,2,3]'
  check "$n C11/U1: af-xdp-zc-shared: cross_flow_leak to the app" "d['violations']['cross_flow_leak']['count']>0 and d['violations']['cross_flow_leak']['first']['principal']=='app'" "$T/u1s.json"
  check "$n U1: af-xdp-zc-steered is safe and carries the app's flow on queue 3" "d['verdict']=='safe' and d['nic']['per_queue'][3]['rx_packets']>0" "$T/u1t.json"
  check "$n U1: putting queue 3 back in RSS brings the leak back" "d['violations']['cross_flow_leak']['count']>0" "$T/u1f.json"
  # C11: on one queue every other packet first lands in the UMEM, as in the
  # shared ring: the XDP verdict (redirect or pass) does not reduce the exposure.
  run c11 --design af-xdp-zc-shared --set nic.queues=1 --set 'app.zc_queues=[0]' --set nic.steer_app_to=none --set nic.rss_queues=all
  run c6 --design zc-shared-ring
  a=$(cnt "$T/c11.json" cross_flow_leak); b=$(cnt "$T/c6.json" cross_flow_leak)
  [ "$a" -gt 0 ] && [ "$a" = "$b" ] && ok "$n C11: XDP_PASS frames were exposed: $a, as many as the shared ring's $b" || bad "$n C11: af_xdp $a vs shared ring $b"

  # C12: an application that holds its pages starves a small pool; attributed to it.
  run c12 --design zc-shared-ring --set nic.ring_size=64 --set pool.pages=64 --set app.hold_us=1000000
  run c12n --design zc-shared-ring --set nic.ring_size=64 --set pool.pages=64 --set app.hold_us=0
  check "$n C12: pool_exhaustion attributed to the app" "d['violations']['pool_exhaustion']['count']>0 and d['violations']['pool_exhaustion']['first']['principal']=='app' and d['nic']['rx_dropped']>0" "$T/c12.json"
  check "$n C12: none when it returns pages at once" "d['violations']['pool_exhaustion']['count']==0 and d['nic']['rx_dropped']==0" "$T/c12n.json"
  run c12x --design af-xdp-zc-shared --set nic.ring_size=64 --set app.umem_pages=80 --set app.hold_us=1000000
  run c12xn --design af-xdp-zc-shared --set nic.ring_size=64 --set app.umem_pages=80 --set app.hold_us=0
  check "$n C12: an AF_XDP app that holds its chunks drains the fill ring" "d['violations']['pool_exhaustion']['count']>0 and d['violations']['pool_exhaustion']['first']['principal']=='app'" "$T/c12x.json"
  check "$n C12: not when it refills at once" "d['violations']['pool_exhaustion']['count']==0" "$T/c12xn.json"

  # U2: header split zero copy, steered, out of RSS: safe; misconfigured RSS leaks.
  run u2 --design header-split-zcrx
  run u2f --design header-split-zcrx --set 'nic.rss_queues=[0,1,2,3]'
  check "$n U2: header-split-zcrx is safe" "d['verdict']=='safe' and d['nic']['per_queue'][3]['rx_packets']>0" "$T/u2.json"
  check "$n U2: with the queue in RSS other flows' payloads land in app memory" "d['violations']['cross_flow_leak']['count']>0" "$T/u2f.json"
  # The headers themselves never reach app pages: a leak would then show header bytes.
  check "$n U2: what leaks in the misconfiguration is payload, not headers" "d['violations']['cross_flow_leak']['first']['source']['kind']=='payload'" "$T/u2f.json"

  # U3: fragments: a page mapped for one packet exposes its neighbours.
  run u3 --design frag-pages
  run u3f --design frag-pages --set pool.frag=false
  check "$n U3: frag-pages leaks the neighbouring fragments" "d['violations']['cross_flow_leak']['count']+d['violations']['stale_data_leak']['count']>0" "$T/u3.json"
  check "$n U3: one buffer per page is safe" "d['verdict']=='safe'" "$T/u3f.json"
done

# Keys and their checks.
expect_exit 2 "af_xdp names exactly one queue" -- "$NICSIM" replay "$M" --design af-xdp-zc-shared --set 'app.zc_queues=[2,3]'
expect_exit 2 "zcrx needs header split" -- "$NICSIM" replay "$M" --design header-split-zcrx --set nic.header_split=false
expect_exit 2 "a 2048-byte chunk cannot hold a 2048-byte buffer" -- "$NICSIM" replay "$M" --design af-xdp-zc-shared --set app.umem_chunk=2048
expect_exit 1 "a 2048-byte chunk with a 1792-byte buffer" -- "$NICSIM" replay "$M" --design af-xdp-zc-shared --set app.umem_chunk=2048 --set nic.buffer_size=1792
expect_exit 2 "a fragment is at most half a page" -- "$NICSIM" replay "$M" --design frag-pages --set nic.buffer_size=2048
expect_exit 2 "writable fragments leave room for skb_shared_info" -- "$NICSIM" replay "$M" --design frag-pages --set driver.skb_mode=writable
expect_exit 1 "writable fragments with a smaller buffer" -- "$NICSIM" replay "$M" --design frag-pages --set driver.skb_mode=writable --set nic.buffer_size=1472

finish
