#!/usr/bin/env bash
# Host rules held to Linux: AF_XDP RX chunks come back through the fill ring
# (the completion ring is for TX); RX headroom is NET_SKB_PAD without an XDP
# program and XDP_PACKET_HEADROOM with one.
source "$(dirname "$0")/lib.bash"
TR="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
"$NICSIM" replay "$TR" --design af-xdp-zc-shared --json "$T/xsk.json" --quiet
check "AF_XDP: RX chunks return through the fill ring" "d['umem']['fill_ring_returns'] > 0" "$T/xsk.json"
check "AF_XDP: the completion ring returns no RX chunk" "d['umem']['completions'] == 0" "$T/xsk.json"
"$NICSIM" replay "$TR" --design zc-shared-ring --json "$T/zc.json" --quiet
check "XDP attached (zero copy): packet data at XDP_PACKET_HEADROOM (256)" \
  "d['violations']['cross_flow_leak']['first']['offset'] == 256" "$T/zc.json"
"$NICSIM" replay "$TR" --design copy --fault malicious_dma --json "$T/copy.json" --quiet
# frame 0 of mixed.pcap is 590 bytes: the overflow starts at headroom + 590
check "no XDP program (copy): packet data at NET_SKB_PAD (64)" \
  "d['violations']['device_write_outside_grant']['first']['offset'] == 64 + 590" "$T/copy.json"
finish
