#!/usr/bin/env bash
# Every built-in design with every output option (--json, --vcd, --observed):
# each run completes (exit 0 or 1) and writes whole files. Under the
# sanitizer build this runs every design's output code under ASan/UBSan.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
for d in $("$NICSIM" designs | awk '{print $1}'); do
  for opt in json vcd observed; do
    out="$T/$d.$opt"
    "$NICSIM" replay "$G" --design "$d" --"$opt" "$out" --quiet 2>"$T/err"
    rc=$?
    case $opt in
      json) whole=$(python3 -c "import json,sys; json.load(open(sys.argv[1])); print(1)" "$out" 2>/dev/null) ;;
      vcd) grep -q '\$enddefinitions' "$out" 2>/dev/null && whole=1 || whole= ;;
      observed) [ -s "$out/app.pcap" ] && [ -s "$out/other.pcap" ] && whole=1 || whole= ;;
    esac
    if [ $rc -le 1 ] && [ -n "$whole" ]; then ok "$d --$opt (exit $rc)"; else bad "$d --$opt: exit $rc: $(head -3 "$T/err")"; fi
  done
done
finish
