#!/usr/bin/env bash
# nicsim review: every design, one table, on a generated trace and a real capture.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 500 --size imix --seed 9 || bad "gen"
designs=$("$NICSIM" designs | awk '{print $1}')
for need in copy zc-shared-ring zc-shared-ring-writable; do
  if echo "$designs" | grep -qx "$need"; then ok "designs lists $need"; else bad "designs lacks $need"; fi
done

for trace in "$T/g.pcap" "$CAPTURES/zeek/testing/btest/Traces/var-services-std-ports.pcap"; do
  name=$(basename "$trace")
  expect_exit 0 "$name: review completes" -- "$NICSIM" review "$trace" -j 2 --json "$T/r.json" --markdown "$T/r.md"
  cp "$T/out" "$T/table"
  for d in $designs; do
    if grep -q "^$d " "$T/table"; then ok "$name: table has $d"; else bad "$name: table lacks $d"; fi
  done
  check "$name: JSON lists every design" "len(d['designs'])==$(echo "$designs" | wc -l)" "$T/r.json"
  check "$name: copy is safe, zc-shared-ring unsafe" "{e['design']:e['verdict'] for e in d['designs']}['copy']=='safe' and {e['design']:e['verdict'] for e in d['designs']}['zc-shared-ring']=='unsafe'" "$T/r.json"
  check "$name: the review agrees with its own per-design replays" "{e['design']:e['violations']['kernel_pointer_leak'] for e in d['designs']}['zc-shared-ring-writable']>0" "$T/r.json"
  if grep -q '^| zc-shared-ring | unsafe |' "$T/r.md"; then ok "$name: markdown table"; else bad "$name: markdown table"; fi
done

# The outputs record what was run, so that each can be re-run from itself.
"$NICSIM" review "$T/g.pcap" --designs copy,zc-shared-ring -j 2 --seed 5 --set pool.clear=on_recycle --set nic.ring_size=512 \
  --json "$T/m.json" --markdown "$T/m.md" > /dev/null
check "review JSON meta: version, seed, --set keys in order, trace" \
  "d['meta']['nicsim_version']==d['meta']['nicsim_version'].strip() and d['meta']['seed']==5 and d['meta']['set']==['pool.clear=on_recycle','nic.ring_size=512'] and d['meta']['trace']['packets']==500 and d['meta']['trace']['flows']==8 and d['meta']['trace']['path']=='$T/g.pcap'" "$T/m.json"
check "review JSON meta: the version is the program's" "d['meta']['nicsim_version']=='$("$NICSIM" --version | cut -d' ' -f2)'" "$T/m.json"
if grep -q "^nicsim $("$NICSIM" --version | cut -d' ' -f2) review of \`$T/g.pcap\`: 500 frames, 8 flows; seed 5; --set: \`pool.clear=on_recycle\`, \`nic.ring_size=512\`." "$T/m.md" &&
   grep -q "^To reproduce: \`nicsim review $T/g.pcap --designs copy,zc-shared-ring --seed 5 --set 'pool.clear=on_recycle' --set 'nic.ring_size=512' --markdown FILE\`" "$T/m.md"; then
  ok "the Markdown records version, trace, frames, flows, seed and --set keys, and the command"
else
  bad "Markdown preamble: $(head -3 "$T/m.md")"
fi
# ... and re-running the recorded command gives the same table.
"$NICSIM" review "$T/g.pcap" --designs copy,zc-shared-ring --seed 5 --set pool.clear=on_recycle --set nic.ring_size=512 --markdown "$T/m2.md" >/dev/null
cmp -s "$T/m.md" "$T/m2.md" && ok "the recorded command reproduces the Markdown byte for byte" || bad "re-run differs"

# --limit N: every run replays only the first N frames, as replay --limit does,
# and the outputs record it.
"$NICSIM" review "$T/g.pcap" --designs copy,zc-shared-ring -j 2 --limit 100 --json "$T/l.json" --markdown "$T/l.md" \
  --html "$T/l.html" > /dev/null
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --limit 100 --json "$T/l1.json" > /dev/null
check "review --limit: meta.limit and meta.trace count the first 100 frames" \
  "d['meta']['limit']==100 and d['meta']['trace']['packets']==100 and d['meta']['trace']['limit']==100" "$T/l.json"
a=$(jval "$T/l1.json" "d['violations']['cross_flow_leak']['count']")
b=$(jval "$T/l.json" "[e for e in d['designs'] if e['design']=='zc-shared-ring'][0]['violations']['cross_flow_leak']")
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --json "$T/l0.json" > /dev/null
c=$(jval "$T/l0.json" "d['violations']['cross_flow_leak']['count']")
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" -lt "$c" ] && ok "review --limit 100 counts what replay --limit 100 counts ($b, the whole trace $c)" \
  || bad "review --limit 100: $b, replay --limit 100: $a, whole trace: $c"
grep -q "^nicsim .* review of \`$T/g.pcap\`: 100 frames, 8 flows; seed 1; --limit 100; --set: none." "$T/l.md" &&
  grep -q "^To reproduce: \`nicsim review $T/g.pcap --designs copy,zc-shared-ring --seed 1 --limit 100 --markdown FILE\`" "$T/l.md" \
  && ok "the Markdown records --limit and its command repeats it" || bad "Markdown preamble with --limit: $(head -3 "$T/l.md")"
grep -q 'id="meta-limit">the first 100 frames' "$T/l.html" && grep -q -- '--limit 100 --html review.html' "$T/l.html" \
  && ok "the page records --limit" || bad "the page does not record --limit"
check "without --limit, meta has no limit" "'limit' not in d['meta']" "$T/m.json"
expect_exit 2 "review --limit 0 is refused" -- "$NICSIM" review "$T/g.pcap" --limit 0
grep -q "^nicsim: --limit '0': expected a number of frames, 1 or more$" "$T/err" && ok "with one line" || bad "--limit 0: $(cat "$T/err")"

# -j 1 and -j 2 give the same table.
"$NICSIM" review "$T/g.pcap" -j 1 --json "$T/j1.json" >/dev/null
"$NICSIM" review "$T/g.pcap" -j 2 --json "$T/j2.json" >/dev/null
if cmp -s "$T/j1.json" "$T/j2.json"; then ok "-j 1 and -j 2 give the same results"; else bad "-j 1 and -j 2 differ"; fi
check "designs safe as mission.md says (copy, zc-dedicated-queue, af-xdp-zc-steered, header-split-zcrx)" \
  "all(e['verdict']=='safe' for e in d['designs'] if e['design'] in ('copy','zc-dedicated-queue','af-xdp-zc-steered','header-split-zcrx'))" "$T/j1.json"
check "and the others unsafe" \
  "all(e['verdict']=='unsafe' for e in d['designs'] if e['design'] in ('zc-shared-ring','zc-shared-ring-writable','zc-rw-mapping','iommu-lazy-unmap'))" "$T/j1.json"

# The review's counts equal a replay's.
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --json "$T/one.json" >/dev/null
"$NICSIM" review "$T/g.pcap" --designs zc-shared-ring -j 1 --json "$T/r1.json" >/dev/null
a=$(jval "$T/one.json" "d['violations']['cross_flow_leak']['count']")
b=$(jval "$T/r1.json" "d['designs'][0]['violations']['cross_flow_leak']")
if [ "$a" = "$b" ]; then ok "review and replay agree ($a)"; else bad "review $b vs replay $a"; fi

# Without -j, as many runs at a time as the CPUs review may run on: its
# affinity mask (taskset), not every CPU online. Pinned to one CPU, no two
# runs overlap: the runs alive at once are sampled while it works.
if two_cpus; then
  "$NICSIM" gen -o "$T/j.pcap" --flows 8 --packets 20000 --size 60 --rate-gbps 0.672 --seed 9 > /dev/null
  one=$(most_at_once taskset -c "$c0" "$NICSIM" review "$T/j.pcap" --quiet)
  two=$(most_at_once taskset -c "$c0,$c1" "$NICSIM" review "$T/j.pcap" --quiet)
  [ "$one" -eq 1 ] && ok "review pinned to one CPU runs one design at a time" ||
    bad "review pinned to one CPU ran $one designs at once"
  [ "$two" -eq 2 ] && ok "...and two at a time on two" || bad "review on two CPUs ran at most $two at once"
else
  echo "skip: taskset, or a second CPU to pin to, missing: the default -j is not checked"
fi

finish
