#!/usr/bin/env bash
# SIGTERM during a replay stops it cleanly: the report so far is written
# (whole, never half a file), marked incomplete, exit status 128 + 15.
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/big.pcap" --packets 2000000 --size 60 --flows 8 --seed 1 || bad "gen"
"$NICSIM" replay "$T/big.pcap" --design zc-shared-ring --json "$T/r.json" --quiet &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 143 ]; then ok "exit status 143 after SIGTERM"; else bad "exit status $rc after SIGTERM"; fi
# (a stop during the flow pre-pass counts the frames read so far)
check "the report is written and marked incomplete" "d['incomplete'] is True and 0 < d['trace']['packets'] <= 2000000" "$T/r.json"
ls -A "$T" | grep -Eq '\.tmp\.|^\.nicsim-' && bad "a temporary file was left behind" || ok "no temporary file left behind"
"$NICSIM" replay "$T/big.pcap" --design copy --json "$T/full.json" --quiet --speed line 2>/dev/null &
wait $!
check "an uninterrupted run is complete" "d['incomplete'] is False" "$T/full.json"
finish
