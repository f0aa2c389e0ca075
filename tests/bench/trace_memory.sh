#!/usr/bin/env bash
# Peak memory of `nicsim replay` against the length of the trace: reading is
# streaming, so a trace ten times longer must not need more memory.
#
# usage: tests/bench/trace_memory.sh [NICSIM]      (default: $NICSIM, else build/nicsim)
# env:   CSV=FILE      where to write the figures
#                      (default: ${TMPDIR:-/tmp}/nicsim-trace-memory.csv)
#        PACKETS="1000000 10000000"   trace lengths; the first is the baseline
#        LIMIT=1.10    largest allowed ratio of the last to the first peak
#
# Generates 64-byte-frame traces (60 bytes without the FCS) with `nicsim gen`
# in a temporary directory (removed at the end; 10M frames take 760 MB),
# replays each with `--design copy --quiet`, and measures the peak resident
# set size with GNU time (`/usr/bin/time -v`, Debian package `time`), or,
# without it, with Python's getrusage(RUSAGE_CHILDREN). Prints one line per
# trace and the ratio, writes CSV (packets,trace_bytes,peak_rss_kib,
# wall_seconds), and exits 0 when the ratio is within LIMIT, 1 when not,
# 2 when something failed.
set -u
NICSIM=${1:-${NICSIM:-build/nicsim}}
CSV=${CSV:-${TMPDIR:-/tmp}/nicsim-trace-memory.csv}
PACKETS=${PACKETS:-"1000000 10000000"}
LIMIT=${LIMIT:-1.10}

die() { echo "trace_memory: $*" >&2; exit 2; }
[ -x "$NICSIM" ] || die "$NICSIM: not an executable (pass the nicsim path or set NICSIM)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nicsim-trace-memory.XXXXXX") || die "cannot create a temporary directory"
trap 'rm -rf "$tmp"' EXIT

# peak_rss_kib COMMAND...: run it, print "PEAK_KIB WALL_SECONDS EXIT_STATUS".
if /usr/bin/time -v true >/dev/null 2>&1; then
  peak() {
    local start end rc
    start=$(date +%s.%N)
    /usr/bin/time -v -o "$tmp/time.txt" "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    end=$(date +%s.%N)
    local kib
    kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt")
    # GNU time reports the command's status as its own, and adds a line
    # "Command exited with non-zero status N" to its output.
    echo "${kib:-0} $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}') $rc"
  }
  how="GNU time -v"
else
  command -v python3 >/dev/null || die "neither /usr/bin/time (package time) nor python3 is there"
  peak() {
    python3 - "$@" 2>"$tmp/err" <<'PY'
import resource, subprocess, sys, time
t = time.time()
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=sys.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, round(time.time() - t, 2), rc)
PY
  }
  how="getrusage(RUSAGE_CHILDREN)"
fi

echo "packets,trace_bytes,peak_rss_kib,wall_seconds" > "$CSV" || die "$CSV: cannot write"
first='' last=''
for n in $PACKETS; do
  trace="$tmp/t$n.pcap"
  "$NICSIM" gen -o "$trace" --packets "$n" --size 60 --flows 8 --seed 1 || die "nicsim gen --packets $n failed"
  bytes=$(stat -c %s "$trace")
  read -r kib wall rc < <(peak "$NICSIM" replay "$trace" --design copy --quiet)
  rm -f "$trace"
  [ "$rc" -le 1 ] || die "nicsim replay of $n packets failed ($rc): $(head -2 "$tmp/err")"
  [ "$kib" -gt 0 ] || die "no peak RSS measured for $n packets"
  printf '%10d packets (%d bytes): peak RSS %d KiB, %s s\n' "$n" "$bytes" "$kib" "$wall"
  echo "$n,$bytes,$kib,$wall" >> "$CSV"
  [ -n "$first" ] || first=$kib
  last=$kib
done
ratio=$(awk -v a="$last" -v b="$first" 'BEGIN {printf "%.4f", a / b}')
echo "ratio (last / first): $ratio (limit $LIMIT), measured with $how; CSV: $CSV"
awk -v r="$ratio" -v l="$LIMIT" 'BEGIN {exit !(r <= l)}'
