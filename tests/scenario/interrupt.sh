#!/usr/bin/env bash
# SIGTERM (and SIGHUP) during a replay stops it cleanly: the report so far is written
# (whole, never half a file), marked incomplete, counting the frames replayed
# rather than the whole trace, exit status 128 + 15. The signal is sent once
# the replay has read past the first pass over the capture (the process's
# read count, /proc/PID/io), so it lands in the replay proper, whatever the
# machine's speed. (A stop before or during the first pass: unit.test_stop.)
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/big.pcap" --packets 2000000 --size 60 --flows 8 --seed 1 || bad "gen"
size=$(stat -c %s "$T/big.pcap")
# wait_read PID: until the replay PID (or its end) has read the capture once
# and a tenth of it again (its second pass under way).
want=$((size + size / 10))
wait_read() {
  local rchar
  for _ in $(seq 1 60000); do
    rchar=$(awk '/^rchar:/ {print $2}' "/proc/$1/io" 2>/dev/null) || break
    [ -n "$rchar" ] && [ "$rchar" -ge "$want" ] && break
    sleep 0.005
  done
}
# stopped SIG JSON: a replay writing JSON, sent SIG once its second pass is
# under way; its exit status in rc.
stopped() {
  "$NICSIM" replay "$T/big.pcap" --design copy --json "$2" --quiet &
  local pid=$!
  wait_read $pid
  kill -"$1" $pid
  wait $pid
  rc=$?
}
stopped TERM "$T/r.json"
if [ $rc -eq 143 ]; then ok "exit status 143 after SIGTERM"; else bad "exit status $rc after SIGTERM"; fi
check "the report is written and marked incomplete" "d['incomplete'] is True" "$T/r.json"
check "...it counts the frames replayed, not the whole trace" "0 < d['trace']['packets'] < 2000000 and d['trace']['bytes'] == 60 * d['trace']['packets']" "$T/r.json"
check "...a stopped run of a safe design is not called safe, and says how far it got" "d['verdict'] == 'inconclusive' and ('after %d frames' % d['trace']['packets']) in d['verdict_reason']" "$T/r.json"
ls -A "$T" | grep -Eq '\.tmp\.|^\.nicsim-' && bad "a temporary file was left behind" || ok "no temporary file left behind"
# SIGHUP (the terminal closed) too: 128 + 1, the report so far.
stopped HUP "$T/hup.json"
[ $rc -eq 129 ] && ok "exit status 129 after SIGHUP" || bad "exit status $rc after SIGHUP"
check "...the report written, marked incomplete" "d['incomplete'] is True and d['verdict'] == 'inconclusive'" "$T/hup.json"
"$NICSIM" replay "$T/big.pcap" --design copy --json "$T/full.json" --quiet 2>/dev/null &
wait $!
check "an uninterrupted run is complete and safe" "d['incomplete'] is False and d['verdict'] == 'safe' and d['trace']['packets'] == 2000000" "$T/full.json"
finish
