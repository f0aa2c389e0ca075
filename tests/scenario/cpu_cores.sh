#!/usr/bin/env bash
# The cost model's cores: at line rate with 64-byte frames one core cannot
# keep up with four queues (the rings run dry, drops), four cores spread
# over the queues can; each core's busy time is reported.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/t.pcap" --flows 1024 --packets 100000 --size 64 >/dev/null || bad "gen"
for c in 1 2 4; do
  expect_exit 0 "copy, 4 queues, $c cores" -- "$NICSIM" replay "$T/t.pcap" --design copy --speed line \
    --set nic.queues=4 --set cpu.cores=$c --json "$T/c$c.json"
  check "$c cores reported" "len(d['cpu']['cores']) == $c and d['config']['cpu.cores'] == $c" "$T/c$c.json"
done
d1=$(jval "$T/c1.json" "d['nic']['rx_dropped']")
d2=$(jval "$T/c2.json" "d['nic']['rx_dropped']")
d4=$(jval "$T/c4.json" "d['nic']['rx_dropped']")
[ "$d1" -gt 0 ] && ok "one core falls behind the line ($d1 dropped)" || bad "one core dropped nothing"
[ "$d2" -lt "$d1" ] && [ "$d4" -lt "$d2" ] && ok "more cores, fewer drops ($d1 > $d2 > $d4)" || bad "drops $d1 $d2 $d4"
check "one core: busy all the time it can be" "d['cpu']['cores'][0]['utilisation'] > 0.9" "$T/c1.json"
check "four cores: every core worked, none beyond 100%" \
  "all(0 < c['utilisation'] <= 1.0 for c in d['cpu']['cores'])" "$T/c4.json"
# The same work per packet (within what the pools' growth adds: a pool
# that drops less takes in more pages through its slow path).
check "about the same work per packet, whatever the cores" \
  "abs(d['cpu']['cycles_per_packet'] / $(jval "$T/c1.json" "d['cpu']['cycles_per_packet']") - 1) < 0.05" "$T/c4.json"
# Busy time is NAPI work: the cycles charged, less what runs elsewhere (the
# recipient's recvmsg copy, setup).
check "the busy time is most of the cycles charged, never more" \
  "0.8 * d['cpu']['cycles_total'] * 1000 / d['config']['cpu.ghz'] <= sum(c['busy_ps'] for c in d['cpu']['cores']) <= d['cpu']['cycles_total'] * 1000 / d['config']['cpu.ghz']" "$T/c4.json"
expect_exit 2 "cpu.cores=0 refused" -- "$NICSIM" replay "$T/t.pcap" --set cpu.cores=0
grep -q "cpu.cores.*1..64" "$T/err" && ok "range named" || bad "message: $(cat "$T/err")"
finish
