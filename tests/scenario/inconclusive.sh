#!/usr/bin/env bash
# inconclusive: no violation found, but the run did not exercise what it was
# asked to (no frame reached host memory, a requested fault never fired).
# Exit status 0, one line saying why, "verdict_reason" in the JSON, and
# review shows it as its own verdict.
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/short.pcap" --packets 50 --flows 4 --seed 3 > /dev/null || bad "gen short"
"$NICSIM" gen -o "$T/jumbo.pcap" --packets 20 --size 9000 --seed 3 > /dev/null || bad "gen jumbo"

expect_exit 0 "late write past the trace's end: exit 0" -- "$NICSIM" replay "$T/short.pcap" --design iommu-lazy-unmap --json "$T/late.json"
check "a fault that never fired: inconclusive" "d['verdict'] == 'inconclusive' and 'never fired' in d['verdict_reason'] and 'late_dma' in d['verdict_reason']" "$T/late.json"
grep -q "^verdict: inconclusive: the fault late_dma.* never fired$" "$T/out" && ok "the summary says why in one line" || bad "summary: $(grep verdict "$T/out")"

expect_exit 0 "every frame dropped: exit 0" -- "$NICSIM" replay "$T/jumbo.pcap" --design copy --json "$T/jumbo.json"
check "no frame reached host memory: inconclusive" "d['verdict'] == 'inconclusive' and d['verdict_reason'].startswith('no frame reached host memory')" "$T/jumbo.json"

"$NICSIM" replay "$T/short.pcap" --design copy --json "$T/copy.json" --quiet
check "a run that tested what it was asked: safe, no reason" "d['verdict'] == 'safe' and d['verdict_reason'] is None" "$T/copy.json"
"$NICSIM" replay "$T/short.pcap" --design zc-shared-ring --fault malicious_dma --json "$T/zc.json" --quiet
check "a violation found: unsafe, no reason" "d['verdict'] == 'unsafe' and d['verdict_reason'] is None" "$T/zc.json"

"$NICSIM" review "$T/short.pcap" --designs copy,iommu-lazy-unmap -j 1 --json "$T/review.json" > "$T/review.txt" 2>&1
grep -Eq "^iommu-lazy-unmap +inconclusive " "$T/review.txt" && ok "review's table prints inconclusive" || bad "review table: $(cat "$T/review.txt")"
check "review --json carries it" "[x['verdict'] for x in d['designs']] == ['safe', 'inconclusive']" "$T/review.json"
finish
