#!/usr/bin/env bash
# Bad input: one clear line on standard error naming the file or key and the
# problem, exit status 2; never a crash.
source "$(dirname "$0")/lib.bash"

one_line() { # DESCRIPTION PATTERN -- COMMAND...
  local what=$1 pat=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local rc=$? lines
  lines=$(wc -l < "$T/err")
  if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
    ok "$what: $(cat "$T/err")"
  else
    bad "$what: exit $rc, $lines lines on stderr: $(head -3 "$T/err")"
  fi
}

"$NICSIM" gen -o "$T/g.pcap" --flows 3 --packets 50 --seed 2 || bad "gen"
one_line "missing trace" "$T/nope.pcap" -- "$NICSIM" replay "$T/nope.pcap"
echo "not a capture" > "$T/text.pcap"
one_line "not a capture" "$T/text.pcap" -- "$NICSIM" replay "$T/text.pcap"
one_line "unreadable capture (bad version)" "pcap-invalid-version-1.pcap" -- "$NICSIM" replay "$CAPTURES/libpcap/tests/pcap-invalid-version-1.pcap"
one_line "802.11 capture" "IEEE802_11" -- "$NICSIM" replay "$CAPTURES/libpcap/tests/filter/wpa-Induction.pcap" --design zc-shared-ring
one_line "unknown design" "no-such-design" -- "$NICSIM" replay "$T/g.pcap" --design no-such-design
one_line "unknown key" "nic.nope" -- "$NICSIM" replay "$T/g.pcap" --set nic.nope=1
one_line "bad enum value" "pool.clear" -- "$NICSIM" replay "$T/g.pcap" --set pool.clear=sometimes
one_line "ring size not a power of two" "nic.ring_size" -- "$NICSIM" replay "$T/g.pcap" --set nic.ring_size=500
one_line "zero queues" "nic.queues" -- "$NICSIM" replay "$T/g.pcap" --set nic.queues=0
one_line "empty alloc cache" "pool.cache_size.*1..1024" -- "$NICSIM" replay "$T/g.pcap" --set pool.cache_size=0
one_line "recycle ring past Linux's cap" "pool.ring_size.*1..16384" -- "$NICSIM" replay "$T/g.pcap" --set pool.ring_size=16385
one_line "RSS queue out of range" "nic.rss_queues" -- "$NICSIM" replay "$T/g.pcap" --set 'nic.rss_queues=[0,5]'
one_line "bad BPF filter" "app.owns" -- "$NICSIM" replay "$T/g.pcap" --set 'app.owns=udp port nonsense'
one_line "unknown option" "--frobnicate" -- "$NICSIM" replay "$T/g.pcap" --frobnicate
one_line "no trace" "no trace" -- "$NICSIM" replay
one_line "review: unknown design" "bogus" -- "$NICSIM" review "$T/g.pcap" --designs copy,bogus
one_line "review: missing trace" "$T/nope.pcap" -- "$NICSIM" review "$T/nope.pcap"
one_line "gen: size out of range" "--size" -- "$NICSIM" gen -o "$T/x.pcap" --size 20
one_line "unknown command" "frob" -- "$NICSIM" frob

# A capture torn in its last record.
size=$(stat -c %s "$T/g.pcap")
head -c $((size - 7)) "$T/g.pcap" > "$T/torn.pcap"
one_line "torn last record" "torn.pcap" -- "$NICSIM" replay "$T/torn.pcap"

# Standard input is copied to a temporary file in $TMPDIR: none to be made
# there is said as such.
one_line "standard input, TMPDIR a folder that does not exist" \
  "^nicsim: <stdin>: cannot copy it to a temporary file in $T/none: No such file or directory$" -- \
  env TMPDIR="$T/none" bash -c '"$1" replay - < "$2"' _ "$NICSIM" "$T/g.pcap"

finish
