#!/usr/bin/env bash
# What a page held before the simulation is a kernel_pointer_leak when
# exposed (contract), but the report tells it apart from live kernel
# pointers: its own source kind and an explanation that says what it is.
source "$(dirname "$0")/lib.bash"
TR="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
"$NICSIM" replay "$TR" --design zc-shared-ring --set pool.clear=never --json "$T/never.json" > "$T/never.txt"
"$NICSIM" replay "$TR" --design zc-shared-ring-writable --json "$T/wr.json" --quiet
check "never-cleared pool: pre-simulation contents are kernel_pointer_leak, kind kernel_presim" \
  "d['violations']['kernel_pointer_leak']['count'] > 0 and d['violations']['kernel_pointer_leak']['first']['source']['kind'] == 'kernel_presim'" "$T/never.json"
check "the explanation names them pre-simulation contents, not live pointers" \
  "'pre-simulation page contents' in d['violations']['kernel_pointer_leak']['first']['explanation'] and 'not a live kernel pointer' in d['violations']['kernel_pointer_leak']['first']['explanation']" "$T/never.json"
grep -q "pre-simulation page contents" "$T/never.txt" && ok "the summary says so too" || bad "summary lacks the pre-simulation wording"
check "writable skbs: live kernel pointers are kind skb_shared_info" \
  "d['violations']['kernel_pointer_leak']['first']['source']['kind'] == 'skb_shared_info' and 'pre-simulation' not in d['violations']['kernel_pointer_leak']['first']['explanation']" "$T/wr.json"
finish
