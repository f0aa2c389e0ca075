#!/usr/bin/env bash
# app.hostile_read: the application reads every byte mapped into it, through
# its mappings. It decides nothing (the verdicts stay the same), and it
# cross-checks the checker: on every design where the checker reports a
# cross_flow_leak to the application (its by_pair entries) the reader actually
# got bytes of other flows, on `copy` it got none; likewise stale and
# kernel-private bytes. Both numbers come from
# running the model.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 500 --size imix --seed 13 || bad "gen"
G=$T/g.pcap

# cross DESCRIPTION ARGS...: run with and without the reader, compare.
cross() {
  local what=$1; shift
  "$NICSIM" replay "$G" "$@" --json "$T/off.json" --quiet
  "$NICSIM" replay "$G" "$@" --set app.hostile_read=true --json "$T/on.json" --quiet
  if [ "$(jval "$T/on.json" "json.dumps(d['violations'],sort_keys=True)")" = \
       "$(jval "$T/off.json" "json.dumps(d['violations'],sort_keys=True)")" ]; then
    ok "$what: the reader changes no verdict"
  else
    bad "$what: the reader changed a verdict"
  fi
  check "$what: it read through its mappings (every read allowed)" \
    "d['user']['hostile_read']['enabled'] and d['user']['hostile_read']['bytes']>0 and d['user']['hostile_read']['faults']==0" "$T/on.json"
  check "$what: cross_flow_leak <=> foreign-flow bytes read" \
    "(sum(p['count'] for p in d['violations']['cross_flow_leak']['by_pair'] if p['principal']=='app')>0)==(d['user']['hostile_read']['foreign_flow_bytes']>0)" "$T/on.json"
  check "$what: stale_data_leak <=> stale bytes read" \
    "(sum(p['count'] for p in d['violations']['stale_data_leak']['by_pair'] if p['principal']=='app')>0)==(d['user']['hostile_read']['stale_bytes']>0)" "$T/on.json"
  check "$what: kernel_pointer_leak <=> kernel-private bytes read" \
    "(sum(p['count'] for p in d['violations']['kernel_pointer_leak']['by_pair'] if p['principal']=='app')>0)==(d['user']['hostile_read']['kernel_private_bytes']>0)" "$T/on.json"
}

leaky=0
for d in $("$NICSIM" designs | awk '{print $1}'); do
  cross "$d" --design "$d"
  if [ "$(jval "$T/on.json" "sum(p['count'] for p in d['violations']['cross_flow_leak']['by_pair'] if p['principal']=='app')")" -gt 0 ]; then
    leaky=$((leaky + 1))
    # (the checker's bytes cover every principal: with a hostile writer,
    # `other` also receives the application's bytes written into its packets)
    check "$d: the checker's leaked bytes were all read" \
      "d['user']['writes']>0 or d['user']['hostile_read']['foreign_flow_bytes']>=sum(p['bytes'] for p in d['violations']['cross_flow_leak']['by_pair'] if p['principal']=='app')" "$T/on.json"
  fi
  if [ "$d" = copy ]; then
    check "copy: the reader got no byte of another flow, nothing stale, nothing of the kernel" \
      "d['user']['hostile_read']['foreign_flow_bytes']==0 and d['user']['hostile_read']['stale_bytes']==0 and d['user']['hostile_read']['kernel_private_bytes']==0 and d['violations']['cross_flow_leak']['count']==0" "$T/on.json"
  fi
done
if [ "$leaky" -ge 3 ]; then ok "$leaky designs leak other flows and the reader saw each"; else bad "only $leaky leaky designs"; fi

# Stale data and pre-simulation kernel data, from the knobs that cause them
# (on the trace of properties.sh, where recycled pages still hold old packets).
"$NICSIM" gen -o "$T/g21.pcap" --flows 8 --packets 800 --size imix --seed 21 || bad "gen"
G=$T/g21.pcap
cross "per-packet mappings, pool cleared on entry" --design zc-shared-ring \
  --set app.mapping_lifetime=per_packet --set pool.clear=on_entry
check "stale bytes were read" "d['user']['hostile_read']['stale_bytes']>0" "$T/on.json"
cross "a never-cleared pool mapped whole" --design zc-shared-ring --set pool.clear=never
check "pre-simulation kernel data was read (4 KiB a page)" \
  "d['user']['hostile_read']['kernel_private_bytes']>=d['violations']['kernel_pointer_leak']['bytes']>0" "$T/on.json"
# A design error made with xdp.rules: the reader gets the redirected flows.
cross "zc-dedicated-queue redirecting other flows to the app" --design zc-dedicated-queue \
  --set 'xdp.rules=redirect app tuple owner=other'
check "foreign bytes read" "d['user']['hostile_read']['foreign_flow_bytes']>0" "$T/on.json"

# Off by default: nothing read, the key reported.
check "off by default" "not d['config']['app.hostile_read'] and d['user']['hostile_read']['reads']==0" "$T/off.json"

# --observed writes what it read: the records add up to the bytes read.
"$NICSIM" replay "$G" --design zc-shared-ring --set app.hostile_read=true --observed "$T/obs" \
  --json "$T/obs.json" --quiet
if [ -f "$T/obs/app.read.pcap" ]; then
  sum=$(python3 - "$T/obs/app.read.pcap" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
off, n = 24, 0
while off + 16 <= len(b):
    incl = struct.unpack_from('<I', b, off + 8)[0]
    n += incl
    off += 16 + incl
print(n)
PY
)
  check "app.read.pcap holds every byte read ($sum)" "d['user']['hostile_read']['bytes']==$sum" "$T/obs.json"
else
  bad "--observed wrote no app.read.pcap"
fi
[ ! -e "$T/obs/other.read.pcap" ] && ok "no reader for other: no other.read.pcap" || bad "other.read.pcap written"

finish
