#!/usr/bin/env bash
# cross_flow_tamper: in zc-rw-mapping the application's injected bytes reach
# the other principal's socket. That is integrity (cross_flow_tamper), not a
# leak: cross_flow_leak is the same as with read-only mappings, where the
# writes fault, and each injected write is counted once.
source "$(dirname "$0")/lib.bash"
TR="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
"$NICSIM" replay "$TR" --design zc-rw-mapping --json "$T/rw.json" --quiet
"$NICSIM" replay "$TR" --design zc-rw-mapping --set app.mapping=ro --json "$T/ro.json" --quiet
ro_leak=$(jval "$T/ro.json" "d['violations']['cross_flow_leak']['count']")
check "rw: the same cross_flow_leak as ro ($ro_leak)" "d['violations']['cross_flow_leak']['count'] == $ro_leak" "$T/rw.json"
check "rw: the injected bytes reaching 'other' are cross_flow_tamper" \
  "d['violations']['cross_flow_tamper']['count'] > 0 and d['violations']['cross_flow_tamper']['first']['principal'] == 'other' and d['violations']['cross_flow_tamper']['first']['source']['kind'] == 'user'" "$T/rw.json"
check "rw: one tamper per write that got through, never more" \
  "d['violations']['cross_flow_tamper']['count'] <= d['violations']['user_write_after_validation']['count']" "$T/rw.json"
check "ro: the writes fault, no cross_flow_tamper" "d['violations']['cross_flow_tamper']['count'] == 0" "$T/ro.json"
finish
