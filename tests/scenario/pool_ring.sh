#!/usr/bin/env bash
# The page_pool's recycle ring and what leaves the pool (docs/pool.md):
# pages recycled into a full ring leave the pool, DMA-unmapped, back to the
# page allocator with whatever they hold; another pool that later takes them
# from the allocator gets those bytes. With zc-dedicated-queue only queue 3's
# pool is mapped into the application: when the application holds its pages,
# that pool grows through the slow path and takes pages the other queues'
# pools released, full of other flows' packets. Unless pages are cleared when
# they enter a pool, the application can read them (stale_data_leak).
# Every number asserted here comes from the runs.
source "$(dirname "$0")/lib.bash"

# Frames spread out in time (1 Gb/s), so the other queues release pages
# before queue 3's pool needs more.
"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 3000 --size imix --seed 7 --rate-gbps 1 || bad "gen"
run() { local out=$1; shift; "$NICSIM" replay "$T/g.pcap" --quiet --json "$T/$out.json" "$@"; echo $? > "$T/$out.rc"; }
D=(--design zc-dedicated-queue --set app.hold_us=1000000)

run tiny_never "${D[@]}" --set pool.ring_size=4 --set pool.clear=never
run tiny_entry "${D[@]}" --set pool.ring_size=4 --set pool.clear=on_entry
run big_never "${D[@]}" --set pool.clear=never --set pool.pages=1024

check "a tiny ring: pages leave the pool during the run" \
  "d['pool']['recycle_ring_full']>0 and d['pool']['released']-d['pool']['destroy_released']==d['pool']['recycle_ring_full']" "$T/tiny_never.json"
check "they come back through the slow path: more pages entered than the pools can hold at once" \
  "d['pool']['pages_entered']>d['pool']['pages_in_pool_max']" "$T/tiny_never.json"
check "pool.clear=never: stale bytes of other flows reach the application's mapped pool" \
  "d['violations']['stale_data_leak']['count']>0 and 'earlier allocation' in d['violations']['stale_data_leak']['first']['explanation'] and d['violations']['stale_data_leak']['first']['principal']=='app'" "$T/tiny_never.json"
check "pool.clear=on_entry: the same churn, nothing stale and no violation" \
  "d['pool']['recycle_ring_full']>0 and d['verdict']=='safe'" "$T/tiny_entry.json"
check "the default ring (1024), pools capped at 1024 pages: no page leaves during the run, nothing stale" \
  "d['pool']['recycle_ring_full']==0 and d['pool']['released']==d['pool']['destroy_released'] and d['violations']['stale_data_leak']['count']==0" "$T/big_never.json"
[ "$(cat "$T/tiny_entry.rc")" = 0 ] && ok "on_entry: exit 0" || bad "on_entry: exit $(cat "$T/tiny_entry.rc")"

# Accounting: every page that entered is in a pool's cache or ring at the end
# (released at destroy), or still out (in flight), or left earlier.
for f in tiny_never tiny_entry big_never; do
  check "$f: entered = released + still in flight at destroy" \
    "d['pool']['pages_entered']==d['pool']['released']+d['pool']['destroy_inflight']" "$T/$f.json"
  check "$f: allocations by source add up" \
    "d['pool']['allocs']==d['pool']['alloc_fast']+d['pool']['alloc_refill']+d['pool']['alloc_slow']" "$T/$f.json"
  check "$f: recycles by destination add up" \
    "d['pool']['recycles']==d['pool']['recycle_cached']+d['pool']['recycle_ring']" "$T/$f.json"
done

# The bound: pool.pages caps what a pool has at once; the holder exhausts it.
check "pool.pages=1024 bounds each pool (4 pools of 1024)" "d['pool']['pages_in_pool_max']<=4*1024 and d['pool']['alloc_failed']>0" "$T/big_never.json"

# A cache of one page and a ring of one still move every frame.
run small "${D[@]}" --set pool.cache_size=1 --set pool.ring_size=1 --set app.hold_us=0
check "cache 1, ring 1: every frame delivered" "d['nic']['rx_dropped']==0 and d['delivered']['packets']==d['nic']['rx_packets']" "$T/small.json"

# Same inputs, same report.
run again "${D[@]}" --set pool.ring_size=4 --set pool.clear=never
if cmp -s "$T/tiny_never.json" "$T/again.json"; then ok "deterministic"; else bad "two runs differ"; fi
finish
