#!/usr/bin/env bash
# replay --read-ahead on|off|auto: the capture read on a second thread gives
# the same replay. For every capture of the tests, a generated one, copies
# cut short (standard pcap and pcapng), standard input, and with --limit:
# the same exit status, standard output, error line and --json report on,
# off and auto. A replay reading ahead (--read-ahead, else
# NICSIM_READ_AHEAD) has its second thread, one that does not has none;
# SIGINT and SIGTERM in the middle of a replay reading ahead still give the
# incomplete report and exit 128 + the signal. A bad value is a usage
# error.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
PCAPNG="$CAPTURES/tcpdump/tests/of13_ericsson.pcapng"

expect_exit 2 "--read-ahead sometimes is refused" -- "$NICSIM" replay "$G" --read-ahead sometimes
grep -q "^nicsim: --read-ahead 'sometimes': expected on, off or auto$" "$T/err" &&
  ok "...naming the value and the choices" || bad "bad value: $(cat "$T/err")"
expect_exit 2 "--read-ahead without a value is refused" -- "$NICSIM" replay "$G" --read-ahead
expect_exit 2 "NICSIM_READ_AHEAD=sometimes is refused" -- env NICSIM_READ_AHEAD=sometimes "$NICSIM" replay "$G"
grep -q "^nicsim: NICSIM_READ_AHEAD 'sometimes': expected on, off or auto$" "$T/err" &&
  ok "...naming the variable, the value and the choices" || bad "bad variable: $(cat "$T/err")"
expect_exit 0 "...unless --read-ahead is given" -- env NICSIM_READ_AHEAD=sometimes "$NICSIM" replay "$G" --read-ahead off

# ---- the same replay, on, off and auto ----
"$NICSIM" gen -o "$T/flows.pcap" --packets 20000 --size 60 --flows 64 --rate-gbps 0.672 --seed 1 ||
  bad "gen"
size=$(stat -c %s "$G")
head -c $((size * 2 / 3)) "$G" >"$T/cut.pcap"
size=$(stat -c %s "$PCAPNG")
head -c $((size - 7)) "$PCAPNG" >"$T/cut.pcapng"
size=$(stat -c %s "$T/flows.pcap")
head -c $((size / 2 + 5)) "$T/flows.pcap" >"$T/flows-cut.pcap"

# same_replay WHAT [INPUT-FILE] -- ARGS...: replay ARGS with each mode.
same_replay() {
  local what=$1 input=$2; shift 3
  local mode
  for mode in off on auto; do
    "$NICSIM" replay "$@" --read-ahead $mode --json "$T/$mode.json" <"$input" >"$T/$mode.out" 2>"$T/$mode.err"
    echo $? >"$T/$mode.rc"
    [ -e "$T/$mode.json" ] || echo none >"$T/$mode.json"
  done
  for mode in on auto; do
    if cmp -s "$T/off.rc" "$T/$mode.rc" && cmp -s "$T/off.out" "$T/$mode.out" &&
       cmp -s "$T/off.err" "$T/$mode.err" && cmp -s "$T/off.json" "$T/$mode.json"; then
      ok "$what: --read-ahead $mode gives what off gives (exit $(cat "$T/off.rc"))"
    else
      bad "$what: --read-ahead $mode differs from off: exit $(cat "$T/$mode.rc")/$(cat "$T/off.rc")"
      diff "$T/off.err" "$T/$mode.err" | head -5
      diff "$T/off.json" "$T/$mode.json" | head -10
    fi
  done
  rm -f "$T"/{off,on,auto}.{json,out,err,rc}
}

while IFS= read -r f; do
  same_replay "${f#"$NICSIM_SOURCE_DIR"/}" /dev/null -- "$f" --skip-unsupported
done < <(find "$CAPTURES" "$NICSIM_SOURCE_DIR/traces/samples" -name '*.pcap*' | sort)
same_replay "64 flows of 60 B frames" /dev/null -- "$T/flows.pcap" --design zc-shared-ring
same_replay "...with --limit 7000" /dev/null -- "$T/flows.pcap" --design zc-shared-ring --limit 7000
same_replay "...cut in the middle of a record" /dev/null -- "$T/flows-cut.pcap" --design copy
same_replay "standard pcap cut short" /dev/null -- "$T/cut.pcap"
same_replay "pcapng cut short" /dev/null -- "$T/cut.pcapng"
same_replay "standard input" "$G" -- -
"$NICSIM" replay "$T/flows-cut.pcap" --read-ahead on --quiet 2>"$T/err"
rc=$?
[ $rc -eq 2 ] && grep -q "flows-cut.pcap: record [0-9]*: truncated dump file" "$T/err" &&
  ok "a torn capture read ahead: exit 2, the record and libpcap's text" ||
  bad "torn capture: exit $rc: $(cat "$T/err")"

# ---- the second thread, and signals ----
# A capture long enough that the replay is still running when looked at
# (2,000,000 frames, each delivered: seconds of replay): it waits until the
# replay pass has read a tenth of it (the process's read count,
# /proc/PID/io), as interrupt.sh does.
"$NICSIM" gen -o "$T/big.pcap" --packets 2000000 --size 60 --flows 64 --rate-gbps 0.672 --seed 1 ||
  bad "gen"
size=$(stat -c %s "$T/big.pcap")
# in_replay PID: until PID has read the capture once and a tenth again.
in_replay() {
  local rchar
  for _ in $(seq 1 60000); do
    rchar=$(awk '/^rchar:/ {print $2}' "/proc/$1/io" 2>/dev/null) || return 1
    [ -n "$rchar" ] && [ "$rchar" -ge $((size + size / 10)) ] && return 0
    sleep 0.005
  done
  return 1
}
# MODE: NICSIM_READ_AHEAD's value (- for none), then --read-ahead's
for mode in "- on" "- off" "off -" "on -" "off on"; do
  set -- $mode
  env=() opt=() want=1
  [ "$1" != - ] && env=("NICSIM_READ_AHEAD=$1")
  [ "$2" != - ] && opt=(--read-ahead "$2")
  [ "$2" = on ] || { [ "$2" = - ] && [ "$1" = on ]; } && want=2
  what="${env[*]:-} replay ${opt[*]:-}"
  env "${env[@]}" "$NICSIM" replay "$T/big.pcap" "${opt[@]}" --json "$T/r.json" --quiet 2>"$T/err" &
  pid=$!
  in_replay $pid
  # threads: the replay's, and its reader (named trace-reader) when reading ahead
  n=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
  r=$(cat /proc/$pid/task/*/comm 2>/dev/null | grep -c '^trace-reader$')
  [ "$r" -eq $((want - 1)) ] && [ "$n" -ge $want ] && ok "$what: $r reader thread in the replay" ||
    bad "$what: $n threads in the replay, $r reader, wanted $((want - 1)) reader"
  kill -TERM $pid
  wait $pid
  rc=$?
  [ $rc -eq 143 ] && ok "...SIGTERM: exit 143" || bad "...SIGTERM: exit $rc: $(cat "$T/err")"
  check "...the report is written, incomplete, with the frames replayed" \
    "d['incomplete'] is True and 0 < d['trace']['packets'] < 2000000" "$T/r.json"
  rm -f "$T/r.json"
done
"$NICSIM" replay "$T/big.pcap" --read-ahead on --json "$T/r.json" --quiet 2>"$T/err" &
pid=$!
in_replay $pid
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] && ok "--read-ahead on, SIGINT: exit 130" || bad "SIGINT: exit $rc: $(cat "$T/err")"
check "...the report is written and incomplete" "d['incomplete'] is True" "$T/r.json"
finish
