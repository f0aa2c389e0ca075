#!/usr/bin/env bash
# Speed and memory benchmark (a script, not a test): nicsim against reading
# the same capture with tcpdump, in one run, median of REPS repetitions.
#
#   tests/bench/run.sh [NICSIM] [OUT.csv]     (default build/nicsim, bench.csv)
#   REPS=5 BIG=10000000 tests/bench/run.sh    (sizes and repetitions can be set)
#
#   FLOWS="1 64" SMALL64=100000 tests/bench/run.sh   (fewer, smaller captures)
#
# Prints one line per figure with its ratio, its target and whether it is
# met, and for each replay how many frames were delivered and by which path
# (zero-copy, through the stack, to the kernel) and how many were not, from
# the replay's JSON report; the same goes to the CSV
# (figure,value,baseline,ratio,target,met,delivered,zero_copy,stack,kernel,
# dropped).
#
# The captures: for each flow count in FLOWS (1, 64, 10,000, 1,000,000),
# SMALL64 frames of 64 bytes paced at 1 Mpps and BIG1500 frames of 1,514
# bytes at 10 Gb/s, written by `nicsim gen --flows N --rate-gbps R`; paced so
# that every frame is delivered (the delivery column shows it), since a
# capture the NIC half drops makes a replay do half the host work per frame.
#
# Method. Every timed figure is the median of REPS runs (at least 5 by
# default). A replay and its tcpdump baseline are timed in alternation (one
# tcpdump run, then one nicsim run, REPS times), so that load from other
# processes on a shared machine falls on both alike; the ratio is the ratio
# of the two medians. Wall time and peak resident memory come from wait4(2)
# (through Python: sub-millisecond resolution, unlike /usr/bin/time's 10 ms).
# A run that exits with a status other than 0 or 1 (1: violations found)
# aborts the benchmark instead of being timed.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
NICSIM=${1:-$top/build/nicsim}
CSV=${2:-bench.csv}
REPS=${REPS:-5}
SMALL64=${SMALL64:-1000000}
FLOWS=${FLOWS:-"1 64 10000 1000000"}
BIG1500=${BIG1500:-200000}
REVIEW=${REVIEW:-100000}
BIG=${BIG:-10000000}
command -v tcpdump >/dev/null || { echo "bench: tcpdump is missing (apt-get install tcpdump)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 is missing" >&2; exit 2; }
W=$(mktemp -d /tmp/nicsim-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# measure CMD...: prints "WALL_S MAXRSS_MIB" of one run; fails unless it
# exits 0 or 1.
measure() {
  python3 - "$@" <<'PY'
import os, sys, time
argv = sys.argv[1:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1); os.dup2(fd, 2)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
rc = os.waitstatus_to_exitcode(status)
if rc not in (0, 1):
    sys.stderr.write("bench: %s exited %d\n" % (" ".join(argv), rc))
    sys.exit(2)
print("%.4f %.1f" % (wall, ru.ru_maxrss / 1024.0))
PY
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "import sys; a,b=map(float,sys.argv[1:]); print(f'{a/b:.2f}' if b>0 else 'inf')" "$1" "$2"; }

# pair NAME -- BASE_CMD... -- CMD...: REPS alternating runs of both; leaves
# the medians in $W/NAME.{base,wall,rss}.
pair() {
  local name=$1; shift 2
  local base=() cmd=()
  while [ "$1" != "--" ]; do base+=("$1"); shift; done
  shift
  cmd=("$@")
  : > "$W/$name.b"; : > "$W/$name.n"
  for _ in $(seq "$REPS"); do
    measure "${base[@]}" >> "$W/$name.b"
    measure "${cmd[@]}" >> "$W/$name.n"
  done
  awk '{print $1}' "$W/$name.b" | median > "$W/$name.base"
  awk '{print $1}' "$W/$name.n" | median > "$W/$name.wall"
  awk '{print $2}' "$W/$name.n" | sort -g | tail -n 1 > "$W/$name.rss"
}
# timeit CMD...: median wall seconds of REPS runs.
timeit() {
  for _ in $(seq "$REPS"); do measure "$@"; done | awk '{print $1}' | median
}

echo "figure,value,baseline,ratio,target,met,delivered,zero_copy,stack,kernel,dropped" > "$CSV"
# met RATIO TARGET: yes/no for targets written "<= X" or ">= X".
met() { python3 -c "import sys; r=float(sys.argv[1]); op,x=sys.argv[2].split()[:2]; print('yes' if (r<=float(x) if op=='<=' else r>=float(x)) else 'no')" "$1" "$2" 2>/dev/null || echo "-"; }
# line FIGURE VALUE BASELINE RATIO TARGET [DELIVERY]: one printed line and
# one CSV row; DELIVERY is "delivered zero_copy stack kernel dropped".
line() {
  local m; m=$(met "$4" "$5")
  local d=${6:-}
  printf '%-66s %9s %9s %7s  %-9s %-4s %s\n' "$1" "$2" "$3" "$4" "$5" "$m" \
    "${d:+$(set -- $d; echo "delivered $1 (zero-copy $2, stack $3, kernel $4), dropped $5")}"
  echo "$1,$2,$3,$4,$5,$m,$(echo "$d" | tr ' ' ',')" >> "$CSV"
}
# delivery TRACE DESIGN [ARGS...]: "delivered zero_copy stack kernel dropped"
# from one replay's report (dropped: frames of the trace not delivered).
delivery() {
  local t=$1 d=$2; shift 2
  "$NICSIM" replay "$t" --design "$d" --json "$W/d.json" --quiet "$@" || [ $? -eq 1 ]
  python3 -c "
import json; r = json.load(open('$W/d.json')); d = r['delivered']
print(d['packets'], d['zero_copy_packets'], d['stack_packets'], d.get('kernel_packets', 0),
      r['trace']['packets'] - d['packets'])"
}

# Paced captures: 64-byte frames at 1 Mpps (0.672 Gb/s with preamble and
# gap), 1,514-byte frames at 10 Gb/s; at those rates the NIC and the host
# keep up and every frame is delivered (the report says how, below).
echo "generating traces in $W ..." >&2
for f in $FLOWS; do
  "$NICSIM" gen -o "$W/64.$f.pcap" --packets "$SMALL64" --size 60 --flows "$f" --rate-gbps 0.672 --seed 1
  "$NICSIM" gen -o "$W/1500.$f.pcap" --packets "$BIG1500" --size 1514 --flows "$f" --rate-gbps 10 --seed 1
done
"$NICSIM" gen -o "$W/review.pcap" --packets "$REVIEW" --size imix --flows 16 --seed 1
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), REPS=$REPS" >&2

printf '%-66s %9s %9s %7s  %-9s %-4s %s\n' figure value baseline ratio target met delivery
for t in 64 1500; do
  n=$([ "$t" = 64 ] && echo "$SMALL64" || echo "$BIG1500")
  target=$([ "$t" = 64 ] && echo "<= 5" || echo "<= 3")
  for f in $FLOWS; do
    for d in copy zc-shared-ring; do
      pair "r$t.$f.$d" -- tcpdump -r "$W/$t.$f.pcap" -w /dev/null -- "$NICSIM" replay "$W/$t.$f.pcap" --design "$d" --quiet
      v=$(cat "$W/r$t.$f.$d.wall") b=$(cat "$W/r$t.$f.$d.base")
      line "replay $n x $t B, $f flows, $d: s vs tcpdump -r" "$v" "$b" "$(ratio "$v" "$b")" "$target" "$(delivery "$W/$t.$f.pcap" "$d")"
    done
  done
done
for t in 64 1500; do
  n=$([ "$t" = 64 ] && echo "$SMALL64" || echo "$BIG1500")
  for f in $FLOWS; do
    for d in copy zc-shared-ring; do
      m=$(cat "$W/r$t.$f.$d.rss")
      line "peak memory MiB (ratio to 512), $n x $t B, $f flows, $d" "$m" "512" "$(ratio "$m" 512)" "<= 1"
    done
  done
done

j1=$(timeit "$NICSIM" review "$W/review.pcap" -j 1 --quiet)
j2=$(timeit "$NICSIM" review "$W/review.pcap" -j 2 --quiet)
line "review all designs, $REVIEW frames: -j 1 / -j 2 wall s (speed-up)" "$j1" "$j2" "$(ratio "$j1" "$j2")" ">= 1.7 on 2 cores"

f1=$(set -- $FLOWS; echo "$1")
"$NICSIM" gen -o "$W/big.pcap" --packets "$BIG" --size 60 --flows "$f1" --rate-gbps 0.672 --seed 1
mb=$(measure "$NICSIM" replay "$W/big.pcap" --design copy --quiet | awk '{print $2}')
rm -f "$W/big.pcap"
m1=$(cat "$W/r64.$f1.copy.rss")
line "peak memory MiB, $BIG vs $SMALL64 frames ($f1 flows, copy)" "$mb" "$m1" "$(ratio "$mb" "$m1")" "<= 1.10"

# Faster than real time: simulated seconds per wall second at line rate
# (10G, frames back to back), with every check on (the checker always
# runs), on the 64-flow captures. At 64 bytes the NIC drops what it has no
# descriptor for: the delivery column says how much.
fl=$(echo " $FLOWS " | grep -q ' 64 ' && echo 64 || echo "$f1")
for t in 1500 64; do
  "$NICSIM" replay "$W/$t.$fl.pcap" --design zc-shared-ring --speed line --json "$W/r.json" --quiet || [ $? -eq 1 ]
  sim=$(python3 -c "import json; print('%.6f' % (json.load(open('$W/r.json'))['sim']['sim_time_ps']/1e12))")
  wall=$(timeit "$NICSIM" replay "$W/$t.$fl.pcap" --design zc-shared-ring --speed line --quiet)
  target=$([ "$t" = 64 ] && echo ">= 0.2" || echo ">= 1.0")
  line "line rate 10G, $t B, $fl flows, zc-shared-ring: sim s per wall s" "$sim" "$wall" "$(ratio "$sim" "$wall")" "$target" \
    "$(delivery "$W/$t.$fl.pcap" zc-shared-ring --speed line)"
done
echo "written: $CSV" >&2
