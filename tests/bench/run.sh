#!/usr/bin/env bash
# Speed and memory benchmark (a script, not a test): nicsim against reading
# the same capture with tcpdump, in one run, median of REPS repetitions.
#
#   tests/bench/run.sh [NICSIM] [OUT.csv]     (default build/nicsim, bench.csv)
#   REPS=5 BIG=10000000 tests/bench/run.sh    (sizes and repetitions can be set)
#
# Prints one line per figure with its ratio and writes them to the CSV.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
NICSIM=${1:-$top/build/nicsim}
CSV=${2:-bench.csv}
REPS=${REPS:-5}
SMALL64=${SMALL64:-1000000}
BIG1500=${BIG1500:-200000}
REVIEW=${REVIEW:-100000}
BIG=${BIG:-10000000}
command -v tcpdump >/dev/null || { echo "bench: tcpdump is missing (apt-get install tcpdump)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
W=$(mktemp -d /tmp/nicsim-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wall seconds of a command, median of REPS
timeit() {
  for _ in $(seq "$REPS"); do
    /usr/bin/time -f "%e" -o "$W/t" "$@" >/dev/null 2>&1 || true
    tail -n 1 "$W/t"
  done | median
}
# peak resident memory in MiB of one run
peak() { /usr/bin/time -f "%M" -o "$W/m" "$@" >/dev/null 2>&1 || true; tail -n 1 "$W/m" | awk '{printf "%.1f", $1/1024}'; }

echo "figure,value,baseline,ratio" > "$CSV"
line() { printf '%-58s %10s %10s %8s\n' "$1" "$2" "$3" "$4"; echo "$1,$2,$3,$4" >> "$CSV"; }
ratio() { python3 -c "import sys; a,b=map(float,sys.argv[1:]); print(f'{a/b:.2f}' if b>0 else 'inf')" "$1" "$2"; }

echo "generating traces in $W ..." >&2
"$NICSIM" gen -o "$W/64.pcap" --packets "$SMALL64" --size 60 --flows 16 --seed 1
"$NICSIM" gen -o "$W/1500.pcap" --packets "$BIG1500" --size 1514 --flows 16 --seed 1
"$NICSIM" gen -o "$W/review.pcap" --packets "$REVIEW" --size imix --flows 16 --seed 1

printf '%-58s %10s %10s %8s\n' figure value baseline ratio
for t in 64 1500; do
  base=$(timeit tcpdump -r "$W/$t.pcap" -w /dev/null)
  for d in copy zc-shared-ring; do
    v=$(timeit "$NICSIM" replay "$W/$t.pcap" --design "$d" --quiet)
    line "replay $t B, $d: wall s vs tcpdump" "$v" "$base" "$(ratio "$v" "$base")"
  done
done

j1=$(REPS=$(( REPS < 3 ? REPS : 3 )) timeit "$NICSIM" review "$W/review.pcap" -j 1 --quiet)
j2=$(REPS=$(( REPS < 3 ? REPS : 3 )) timeit "$NICSIM" review "$W/review.pcap" -j 2 --quiet)
line "review all designs, $REVIEW frames: -j 1 / -j 2 (speed-up)" "$j1" "$j2" "$(ratio "$j1" "$j2")"

for d in copy zc-shared-ring; do
  m=$(peak "$NICSIM" replay "$W/64.pcap" --design "$d" --quiet)
  line "peak memory MiB, replay $SMALL64 x 64 B, $d" "$m" "512" "$(ratio "$m" 512)"
done
"$NICSIM" gen -o "$W/big.pcap" --packets "$BIG" --size 60 --flows 16 --seed 1
mb=$(peak "$NICSIM" replay "$W/big.pcap" --design copy --quiet)
m1=$(peak "$NICSIM" replay "$W/64.pcap" --design copy --quiet)
line "peak memory MiB, $BIG vs $SMALL64 frames (copy)" "$mb" "$m1" "$(ratio "$mb" "$m1")"
rm -f "$W/big.pcap"

# Faster than real time: simulated seconds per wall second at line rate.
for t in 1500 64; do
  "$NICSIM" replay "$W/$t.pcap" --design zc-shared-ring --speed line --json "$W/r.json" --quiet || true
  sim=$(python3 -c "import json; print(json.load(open('$W/r.json'))['sim']['sim_time_ps']/1e12)")
  wall=$(timeit "$NICSIM" replay "$W/$t.pcap" --design zc-shared-ring --speed line --quiet)
  line "line rate 10G, $t B frames: simulated s per wall s" "$sim" "$wall" "$(ratio "$sim" "$wall")"
done
echo "written: $CSV" >&2
