#!/usr/bin/env bash
# Signals and endless input: review -j2 and campaign -j2 stop their children,
# remove their temporary folders and exit 128 + the signal; replay stops
# promptly while opening a FIFO and while spooling a silent pipe (a stop
# in the flow pre-pass or the replay: unit.test_stop, interrupt.sh); what is
# spooled from a pipe or device is bounded.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"

# The descendants of a process, and whether any is alive.
alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
children_of() { pgrep -P "$1" | tr '\n' ' '; }
# wait_for_children PID: until PID has a child (at most 10 s).
wait_for_children() { for _ in $(seq 1 100); do [ -n "$(pgrep -P "$1")" ] && return 0; sleep 0.1; done; return 1; }
# elapsed_ok SECONDS PID: PID ends within SECONDS.
ends_within() { for _ in $(seq 1 $(($1 * 10))); do kill -0 "$2" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

"$NICSIM" gen -o "$T/big.pcap" --packets 400000 --size 60 --flows 8 --seed 1 || bad "gen"

# ---- review -j2 ----
for sig in TERM INT HUP; do
  "$NICSIM" review "$T/big.pcap" -j 2 --json "$T/review.json" >"$T/out" 2>"$T/err" &
  pid=$!
  wait_for_children $pid; sleep 0.3
  kids=$(children_of $pid)
  kill -$sig $pid
  wait $pid; rc=$?
  want=$((128 + $(kill -l $sig)))
  [ $rc -eq $want ] && ok "review -j2, SIG$sig: exit $rc" || bad "review -j2, SIG$sig: exit $rc, wanted $want; $(cat "$T/err")"
  sleep 0.2
  # shellcheck disable=SC2086
  [ -n "$kids" ] && ! alive $kids && ok "...its runs are stopped" || bad "...runs left running: $kids"
  [ -z "$(ls -A "$TMPDIR")" ] && ok "...its temporary folder is removed" || bad "...left in TMPDIR: $(ls -A "$TMPDIR")"
  [ ! -e "$T/review.json" ] && ok "...and no table is written" || bad "...a table was written"
  # One line: the stop. The runs it stopped did not fail.
  [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "review: stopped" "$T/err" && ok "...saying so in one line" \
    || bad "...said: $(tr '\n' '|' < "$T/err")"
done

# ---- campaign -j2 ----
printf 'traces: [big.pcap]\ndesigns: [copy, zc-shared-ring]\nseeds: 1..16\n' > "$T/c.yaml"
"$NICSIM" campaign "$T/c.yaml" -j 2 --out "$T/c-out" >"$T/out" 2>"$T/err" &
pid=$!
wait_for_children $pid; sleep 0.5
kids=$(children_of $pid)
kill -TERM $pid
wait $pid; rc=$?
[ $rc -eq 143 ] && ok "campaign -j2, SIGTERM: exit 143" || bad "campaign -j2, SIGTERM: exit $rc; $(cat "$T/err")"
sleep 0.2
# shellcheck disable=SC2086
[ -n "$kids" ] && ! alive $kids && ok "...its runs are stopped" || bad "...runs left running: $kids"
grep -q "run the same command again to resume" "$T/err" && ok "...and it says how to resume" || bad "no resume line: $(cat "$T/err")"
[ ! -e "$T/c-out/logs" ] && ok "...no logs folder left behind" || bad "...logs left: $(ls "$T/c-out/logs")"
n=$(ls "$T/c-out/runs" | wc -l)
python3 - "$T/c-out/runs" <<'PY' && ok "...no report of a stopped run is kept ($n kept)" || bad "a stopped run's report kept"
import json, os, sys
d = sys.argv[1]
sys.exit(any(json.load(open(os.path.join(d, f)))['incomplete'] for f in os.listdir(d) if f.endswith('.json')))
PY

# ---- replay: endless or silent input ----
expect_exit 2 "replay /dev/zero is refused at once" -- timeout 20 "$NICSIM" replay /dev/zero
grep -q "does not start like a pcap or pcapng file" "$T/err" && ok "...saying it is no capture" || bad "/dev/zero: $(cat "$T/err")"
mkfifo "$T/fifo"
"$NICSIM" replay "$T/fifo" --quiet 2>"$T/err" & pid=$!
sleep 0.5; kill -INT $pid
ends_within 5 $pid && ok "SIGINT while opening a FIFO: stops at once" || { bad "FIFO open: still running"; kill -KILL $pid; }
wait $pid; rc=$?
[ $rc -eq 130 ] && grep -q "stopped (Interrupt)" "$T/err" && ok "...exit 130 and a clear line" || bad "FIFO open: exit $rc: $(cat "$T/err")"
mkfifo "$T/silent"
exec 3<>"$T/silent"   # a writer that never writes: the pipe stays open and silent
"$NICSIM" replay - --quiet <"$T/silent" 2>"$T/err" & pid=$!
sleep 0.5; kill -TERM $pid
ends_within 5 $pid && ok "SIGTERM while spooling a silent pipe: stops at once" || { bad "silent pipe: still running"; kill -KILL $pid; }
wait $pid; rc=$?
[ $rc -eq 143 ] && ok "...exit 143" || bad "silent pipe: exit $rc: $(cat "$T/err")"
exec 3>&-
finish
