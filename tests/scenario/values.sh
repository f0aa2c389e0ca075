#!/usr/bin/env bash
# Values: error lines carry the reason whole (long values elided), XDP rules
# are measured before they are compiled, --speed's factor is bounded,
# review --designs names each design once, gen --packets has an upper bound,
# and options are parsed alike everywhere (getopt_long).
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
q=$(python3 -c "print('[' + ','.join(str(i) for i in range(1000)) + ']')")
expect_exit 2 "a 1000-item nic.rss_queues is refused" -- "$NICSIM" replay "$G" --set "nic.rss_queues=$q"
[ "$(wc -c < "$T/err")" -lt 400 ] && grep -q "a list of queue numbers 0..63" "$T/err" && ok "...with the reason in a short line" \
  || bad "long value: $(wc -c < "$T/err") bytes, $(tail -c 100 "$T/err")"
rule=$(python3 -c "print('drop ' + ' or '.join(['udp port 53'] * 4600))")
printf 'design: copy\nxdp:\n  rules:\n    - "%s"\n' "$rule" > "$T/big.yaml"
start=$(date +%s)
expect_exit 2 "a 56 KB XDP rule in a scenario is refused" -- timeout 60 "$NICSIM" replay "$G" --scenario "$T/big.yaml"
secs=$(( $(date +%s) - start ))
[ $secs -lt 5 ] && grep -q "bytes long; at most 511 are allowed" "$T/err" && ok "...for its length, at once (${secs} s)" \
  || bad "long rule: ${secs} s: $(tail -c 150 "$T/err")"
[ "$(wc -c < "$T/err")" -lt 400 ] && ok "...in a short line" || bad "long rule: a $(wc -c < "$T/err")-byte line"
expect_exit 2 "--speed x1e-12 is refused" -- "$NICSIM" replay "$G" --speed x1e-12
grep -q "0.001..1000000000" "$T/err" && ok "...naming the range" || bad "speed: $(cat "$T/err")"
expect_exit 2 "--speed x1e-15 is refused (not silently x1)" -- "$NICSIM" replay "$G" --speed x1e-15
expect_exit 2 "--speed x1e10 is refused" -- "$NICSIM" replay "$G" --speed x1e10
expect_exit 0 "--speed x0.001 is taken" -- "$NICSIM" replay "$G" --speed x0.001 --quiet
expect_exit 2 "review --designs naming a design twice is refused" -- "$NICSIM" review "$G" --designs copy,copy
grep -q "named twice" "$T/err" && ok "...saying so" || bad "designs twice: $(cat "$T/err")"
for l in "copy," ",copy" "copy,,zc-shared-ring" ","; do
  expect_exit 2 "review --designs '$l' (an empty name) is refused" -- "$NICSIM" review "$G" --designs "$l"
  grep -q "an empty name in the list" "$T/err" && ok "...saying so" || bad "designs '$l': $(cat "$T/err")"
done
expect_exit 2 "gen --packets above 100000000 is refused" -- "$NICSIM" gen -o "$T/g.pcap" --packets 100000001
[ ! -e "$T/g.pcap" ] && ok "...and writes nothing" || bad "gen wrote a file"
expect_exit 2 "gen --packets 18446744073709551616 (past 2^64) is refused" -- "$NICSIM" gen -o "$T/g.pcap" --packets 18446744073709551616
# getopt_long: the same forms in every command
expect_exit 0 "replay --seed=3 (the = form)" -- "$NICSIM" replay "$G" --seed=3 --quiet
expect_exit 0 "options after the trace" -- "$NICSIM" replay "$G" --quiet --design=copy
expect_exit 2 "an option without its value" -- "$NICSIM" replay "$G" --json
grep -q "^nicsim: --json needs a file name$" "$T/err" && ok "...says what it needs" || bad "missing value: $(cat "$T/err")"
expect_exit 2 "campaign -j0" -- "$NICSIM" campaign x.yaml -j0
expect_exit 2 "merge --bogus" -- "$NICSIM" merge "$T" --bogus
grep -q "merge: unknown option '--bogus'" "$T/err" && ok "...named" || bad "merge --bogus: $(cat "$T/err")"
expect_exit 2 "costs with an argument" -- "$NICSIM" costs extra
expect_exit 0 "designs --show=copy" -- "$NICSIM" designs --show=copy
finish
