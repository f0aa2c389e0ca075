#!/usr/bin/env bash
# Resource limits: the flow table stays within trace.max_flows on a capture
# of thousands of small flows (eviction counted, the application's flow and
# every verdict unchanged), and pools that cannot fit the simulated RAM are
# refused with one line naming the key.
source "$(dirname "$0")/lib.bash"

# 5000 flows, sizes falling as 1/(i+1): one big flow and thousands of tiny ones.
"$NICSIM" gen -o "$T/zipf.pcap" --flows 5000 --packets 20000 --size 128 >/dev/null || bad "gen"

for design in zc-shared-ring copy; do
  [ "$design" = copy ] && want=0 || want=1
  expect_exit "$want" "$design, unbounded" -- "$NICSIM" replay "$T/zipf.pcap" --design "$design" --json "$T/full.json"
  expect_exit "$want" "$design, 64 flows kept" -- "$NICSIM" replay "$T/zipf.pcap" --design "$design" \
    --set trace.max_flows=64 --json "$T/small.json"
  check "$design: the default bound keeps every flow" "d['trace']['flows_evicted'] == 0 and d['trace']['flows'] > 1000" "$T/full.json"
  check "$design: at most 64 flows kept" "d['trace']['flows'] == 64" "$T/small.json"
  check "$design: evictions counted" "d['trace']['flows_evicted'] > 1000" "$T/small.json"
  full_app=$(jval "$T/full.json" "d['trace']['app_flow']")
  small_app=$(jval "$T/small.json" "d['trace']['app_flow']")
  [ "$full_app" = "$small_app" ] && ok "$design: same application flow ($small_app)" || bad "$design: application flow $full_app vs $small_app"
  v() { jval "$1" "sorted((k, v['count'], v['bytes']) for k, v in d['violations'].items())"; }
  [ "$(v "$T/full.json")" = "$(v "$T/small.json")" ] && ok "$design: same violations with the bound" \
    || bad "$design: violations differ: $(v "$T/full.json") vs $(v "$T/small.json")"
  check "$design: every frame still delivered somewhere" \
    "d['nic']['rx_packets'] == $(jval "$T/full.json" "d['nic']['rx_packets']")" "$T/small.json"
done

# The application's flows are never evicted; when they alone fill the table
# the replay refuses rather than misattribute the rest.
expect_exit 2 "application owns more flows than the table keeps" -- "$NICSIM" replay "$T/zipf.pcap" \
  --design copy --set 'app.owns=udp' --set trace.max_flows=16
grep -q "^nicsim: trace.max_flows: the application owns all 16 flows" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ] \
  && ok "one line naming trace.max_flows" || { bad "message: $(cat "$T/err")"; }
expect_exit 0 "application flows pinned, the rest evicted" -- "$NICSIM" replay "$T/zipf.pcap" \
  --design copy --set 'app.owns=udp dst port 4000 and src host 10.103.128.7' --set trace.max_flows=16 --json "$T/pin.json"
check "pinned run evicts others" "d['trace']['flows_evicted'] > 0 and d['trace']['app_flow'].startswith('udp 10.103.128.7')" "$T/pin.json"

# Pools bigger than the simulated RAM.
expect_exit 2 "4 pools of 4 GiB in 1 GiB" -- "$NICSIM" replay "$T/zipf.pcap" --set nic.queues=4 --set pool.pages=1048576
grep -q "^nicsim: pool.pages: 4 queues x 1048576 pages (16384 MiB) do not fit the simulated RAM of 1024 MiB (host.ram_mb.*allowed: 512\.\.[0-9]* pages per pool" "$T/err" \
  && ok "pool too big: one line with key and allowed range" || bad "message: $(cat "$T/err")"
expect_exit 2 "a pool that fits 1 GiB but not host.ram_mb=64" -- "$NICSIM" replay "$T/zipf.pcap" \
  --set pool.pages=16384 --set host.ram_mb=64
grep -q "host.ram_mb" "$T/err" && ok "names host.ram_mb" || bad "message: $(cat "$T/err")"
expect_exit 0 "the same pool with host.ram_mb=128" -- "$NICSIM" replay "$T/zipf.pcap" --design copy \
  --set pool.pages=16384 --set host.ram_mb=128
printf 'design: copy\nnic:\n  queues: 8\npool:\n  pages: 65536\n' >"$T/big.yaml"
expect_exit 2 "scenario file with a pool too big" -- "$NICSIM" replay "$T/zipf.pcap" --scenario "$T/big.yaml"
grep -q "^nicsim: $T/big.yaml:5:10: pool.pages: 8 queues x 65536 pages" "$T/err" \
  && ok "file, line, column and key" || bad "message: $(cat "$T/err")"
expect_exit 2 "host.ram_mb out of range" -- "$NICSIM" replay "$T/zipf.pcap" --set host.ram_mb=1000000
grep -q "host.ram_mb.*64..16384" "$T/err" && ok "range named" || bad "message: $(cat "$T/err")"

finish
