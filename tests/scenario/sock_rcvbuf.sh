#!/usr/bin/env bash
# Linux's page_pool has no page cap; a slow reader drops at its own socket's
# receive buffer (sk_rcvbuf), it does not starve the queue of descriptors.
# pool.pages stays as an optional cap (off by default).
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/t.pcap" --packets 6000 --flows 8 --seed 1 > /dev/null || bad "gen"
"$NICSIM" replay "$T/t.pcap" --design copy --set driver.recv_delay_us=100000 --json "$T/slow.json" > "$T/slow.txt"
check "no cap by default (pool.pages 0)" "d['config']['pool.pages'] == 0 and d['config']['sock.rcvbuf_bytes'] == 212992" "$T/slow.json"
check "slow readers: the queue never runs out of descriptors" "d['nic']['rx_dropped'] == 0" "$T/slow.json"
check "each slow socket drops at its receive buffer" \
  "all(s['drops'] > 0 for s in d['sockets']['per_principal'])" "$T/slow.json"
check "a socket holds at most sk_rcvbuf plus one skb" \
  "all(s['rmem_max_bytes'] <= d['sockets']['rcvbuf_bytes'] + 4096 + 256 + 1024 for s in d['sockets']['per_principal'])" "$T/slow.json"
grep -q "dropped at their receive buffers" "$T/slow.txt" && ok "the summary names the socket drops" || bad "summary lacks socket drops"
"$NICSIM" replay "$T/t.pcap" --design copy --set driver.recv_delay_us=100000 --set sock.rcvbuf_bytes=4194304 \
  --json "$T/big.json" --quiet
check "a larger receive buffer drops less" \
  "sum(s['drops'] for s in d['sockets']['per_principal']) < $(jval "$T/slow.json" "sum(s['drops'] for s in d['sockets']['per_principal'])")" "$T/big.json"
"$NICSIM" replay "$T/t.pcap" --design copy --json "$T/fast.json" --quiet
check "readers that keep up drop nothing" "d['nic']['rx_dropped'] == 0 and all(s['drops'] == 0 for s in d['sockets']['per_principal'])" "$T/fast.json"
"$NICSIM" replay "$T/t.pcap" --design copy --set pool.pages=unlimited --json "$T/unl.json" --quiet
check "pool.pages=unlimited is the default's 0" "d['config']['pool.pages'] == 0" "$T/unl.json"
expect_exit 2 "pool.pages below the ring is refused" -- "$NICSIM" replay "$T/t.pcap" --set pool.pages=8
# C12: pool_exhaustion still comes from a zero-copy application hoarding a capped shared pool
"$NICSIM" replay "$T/t.pcap" --design zc-shared-ring --set nic.ring_size=256 --set pool.pages=256 \
  --set app.hold_us=100000 --json "$T/c12.json" --quiet
check "C12: a hoarding zero-copy app exhausts a capped shared pool" \
  "d['violations']['pool_exhaustion']['count'] > 0 and d['violations']['pool_exhaustion']['first']['principal'] == 'app'" "$T/c12.json"
finish
