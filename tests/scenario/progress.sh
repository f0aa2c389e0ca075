#!/usr/bin/env bash
# The progress line of replay, review and campaign: on a terminal (a real
# pseudo-terminal from script(1)), a carriage-return-updated line with done /
# total, percent, rate, elapsed time and ETA, cleared at the end; nothing when
# standard error is not a terminal, nor with --quiet. replay --limit N stops
# after N frames (as tcpdump -c) and the report says so.
source "$(dirname "$0")/lib.bash"
command -v script >/dev/null || { bad "script(1) is missing (util-linux)"; finish; exit 1; }

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 60000 --size 128 --seed 3 >/dev/null || bad "gen"

# on_tty FILE COMMAND...: run COMMAND with standard output and error on a
# pseudo-terminal, everything it wrote in FILE (bytes as written).
on_tty() {
  local file=$1; shift
  local cmd; printf -v cmd '%q ' "$@"
  script -qfec "$cmd" /dev/null > "$file" 2>&1 < /dev/null
}

# check_line FILE WHAT UNIT TOTAL: the progress line's form and its clearing.
check_line() {
  python3 - "$@" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
what, unit, total = sys.argv[2], sys.argv[3], sys.argv[4]
pat = re.compile(r"\r(%s: (\d+)/%s %s \(\d+%%\)(, [0-9.]+ [kM]?%s/s)?, elapsed \d+:\d\d, ETA (\d+:\d\d|\?)[^\r\n]*)" % (what, total, unit, unit))
lines = pat.findall(data)
assert lines, "no progress line in %r" % data[:300]
done = [int(l[1]) for l in lines]
assert done == sorted(done), done
# The last line drawn is erased: a carriage return, blanks as wide, a carriage return.
last = lines[-1][0].rstrip(" ")
assert ("\r" + " " * len(last) + "\r") in data, "the line is not cleared"
# Nothing of it is left on the screen: whatever follows the clearing has no progress text.
tail = data[data.rindex("\r" + " " * len(last) + "\r") + len(last) + 2:]
assert what + ": " not in tail, tail[:200]
print("%d redraws, the last: %s" % (len(lines), last))
PY
}

start=$(date +%s.%N)
on_tty "$T/replay.tty" "$NICSIM" replay "$T/g.pcap" --design zc-shared-ring
end=$(date +%s.%N)
if out=$(check_line "$T/replay.tty" replay frames 60000); then ok "replay on a terminal: $out"; else bad "replay progress line: $out"; fi
grep -q "verdict: unsafe" "$T/replay.tty" && ok "the summary follows the cleared line" || bad "no summary after the progress line"
n=$(tr '\r' '\n' < "$T/replay.tty" | grep -c "^replay: ")
# A redraw is due every 4096 frames (14 in this trace) but the clock allows
# at most four a second, and the first at once.
most=$(python3 -c "import math; print(2 + math.ceil(4 * ($end - $start)))")
if [ "$n" -ge 1 ] && [ "$n" -le "$most" ]; then ok "replay drew $n progress lines (at most $most in its time)"; else bad "replay drew $n lines, at most $most allowed"; fi

on_tty "$T/quiet.tty" "$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --quiet
if grep -q "replay: " "$T/quiet.tty"; then bad "--quiet on a terminal still shows progress"; else ok "--quiet on a terminal: no progress line"; fi

"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring > "$T/out.txt" 2> "$T/err.txt"
if [ ! -s "$T/err.txt" ] && ! grep -q $'\r' "$T/out.txt"; then ok "standard error not a terminal: no progress, no carriage return"; else bad "progress without a terminal: $(head -c 200 "$T/err.txt" | od -c | head -3)"; fi

on_tty "$T/review.tty" "$NICSIM" review "$T/g.pcap" --designs copy,zc-shared-ring,frag-pages -j 2
if out=$(check_line "$T/review.tty" review runs 3); then ok "review on a terminal: $out"; else bad "review progress line: $out"; fi
"$NICSIM" review "$T/g.pcap" --designs copy -j 1 > /dev/null 2> "$T/err.txt"
[ ! -s "$T/err.txt" ] && ok "review without a terminal: standard error empty" || bad "review wrote to a non-terminal: $(head -c 200 "$T/err.txt")"

mkdir -p "$T/spec"
cat > "$T/spec/c.yaml" <<EOF
traces: [$T/g.pcap]
designs: [copy, zc-shared-ring]
seeds: 1..2
EOF
on_tty "$T/campaign.tty" "$NICSIM" campaign "$T/spec/c.yaml" -j 2 --out "$T/camp"
if out=$(check_line "$T/campaign.tty" campaign runs 4); then ok "campaign on a terminal: $out"; else bad "campaign progress line: $out"; fi
on_tty "$T/campaign-q.tty" "$NICSIM" campaign "$T/spec/c.yaml" -j 2 --out "$T/camp2" --quiet
grep -q "campaign: " "$T/campaign-q.tty" && bad "campaign --quiet shows progress" || ok "campaign --quiet on a terminal: no progress line"

# --limit N: the first N frames only, said in the report and the summary.
expect_exit 1 "replay --limit 1000 runs" -- "$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --limit 1000 --json "$T/l.json"
check "--limit 1000: the report covers 1000 frames" "d['trace']['packets']==1000 and d['trace']['limit']==1000 and d['nic']['rx_packets']+d['nic']['rx_dropped']<=1000" "$T/l.json"
grep -q "^  --limit 1000: the replay stopped after the first 1000 frames" "$T/out" && ok "the summary says where the replay stopped" || bad "summary: $(grep limit "$T/out")"
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --json "$T/full.json" --quiet
check "without --limit: every frame, and no limit key" "d['trace']['packets']==60000 and 'limit' not in d['trace']" "$T/full.json"
expect_exit 0 "--limit past the end of the trace" -- "$NICSIM" replay "$T/g.pcap" --design copy --limit 100000 --json "$T/l2.json"
check "--limit past the end: the whole trace" "d['trace']['packets']==60000" "$T/l2.json"
grep -q "the trace ended first" "$T/out" && ok "the summary says the trace ended first" || bad "no 'trace ended first'"
for badv in 0 -3 x 1e3; do
  expect_exit 2 "--limit $badv is refused" -- "$NICSIM" replay "$T/g.pcap" --limit "$badv"
done
finish
