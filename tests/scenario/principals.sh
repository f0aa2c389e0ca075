#!/usr/bin/env bash
# principals: tenants beyond app and other (scenario key `principals:`),
# ownership by their filters, and by_pair attribution. Every verdict and
# pair comes from running the model on the sample trace, whose clients are
# spread over 10.0.0.0/8; the assertions relate the pairs to the principals'
# own packet counts in the same report, so a wrong owner, a wrong viewer or
# a pair counted to the wrong side fails.
source "$(dirname "$0")/lib.bash"
S=$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap
LO="src net 10.0.0.0/9"
HI="src net 10.128.0.0/9"

# pair FILE PROPERTY WHO OWNER: the pair's count (0 when absent).
pair() {
  jval "$1" "sum(p['count'] for p in d['violations']['$2']['by_pair'] if p['principal']=='$3' and p['owner']=='$4')"
}
# packets FILE NAME: what the principals list gives the principal.
packets() { jval "$1" "[p['packets'] for p in d['principals'] if p['name']=='$2'][0]"; }

# Every property's pairs sum to its count and bytes.
sums() {
  check "$2: by_pair sums to count and bytes in every property" \
    "all(sum(p['count'] for p in v['by_pair'])==v['count'] and sum(p['bytes'] for p in v['by_pair'])==v['bytes'] for v in d['violations'].values())" "$1"
}

# --- the built-in M1 designs ---
"$NICSIM" replay "$S" --design multi-tenant-shared --json "$T/shared.json" --observed "$T/obs" --quiet
check "multi-tenant-shared: principals app, blue, green, other (in list order) with their deliveries" \
  "[(p['name'],p['delivery']) for p in d['principals']]==[('app','copy'),('blue','copy'),('green','zero_copy'),('other','copy')]" "$T/shared.json"
check "multi-tenant-shared: every packet of the trace is owned once" \
  "sum(p['packets'] for p in d['principals'])==d['trace']['packets'] and all(p['packets']>0 for p in d['principals'] if p['name']!='other')" "$T/shared.json"
check "multi-tenant-shared: unsafe" "d['verdict']=='unsafe'" "$T/shared.json"
for owner in app blue; do
  got=$(pair "$T/shared.json" cross_flow_leak green $owner); want=$(packets "$T/shared.json" $owner)
  if [ "$got" = "$want" ]; then ok "green sees each of $owner's $want packets (green <- $owner)"; else bad "green <- $owner: $got, $owner has $want packets"; fi
done
check "multi-tenant-shared: the copy tenants (app, blue) see nothing" \
  "all(p['principal']=='green' for v in d['violations'].values() for p in v['by_pair'])" "$T/shared.json"
sums "$T/shared.json" multi-tenant-shared
# --observed: one pcap per principal; green's holds one record per exposure.
for p in app other blue green; do
  if [ -f "$T/obs/$p.pcap" ]; then ok "--observed wrote $p.pcap"; else bad "--observed wrote no $p.pcap"; fi
done
recs() { python3 -c "
import struct,sys
b=open(sys.argv[1],'rb').read(); o=24; n=0
while o+16<=len(b):
    incl=struct.unpack('<I',b[o+8:o+12])[0]; o+=16+incl; n+=1
print(n)" "$1"; }
want=$(jval "$T/shared.json" "d['violations']['cross_flow_leak']['count']")
got=$(recs "$T/obs/green.pcap")
if [ "$got" = "$want" ]; then ok "green.pcap holds its $want exposures"; else bad "green.pcap holds $got records, cross_flow_leak is $want"; fi
if [ "$(recs "$T/obs/blue.pcap")" = 0 ]; then ok "blue.pcap is empty (a copy tenant observes nothing)"; else bad "blue.pcap has records"; fi

"$NICSIM" replay "$S" --design multi-tenant-steered --json "$T/steered.json" --quiet
check "multi-tenant-steered: two zero-copy tenants on their own steered queues: safe, no pair" \
  "d['verdict']=='safe' and all(v['by_pair']==[] for v in d['violations'].values()) and [p['delivery'] for p in d['principals']][1:3]==['zero_copy','zero_copy']" "$T/steered.json"
check "multi-tenant-steered: the tenants' queues carry their packets (queues 2 and 3 = blue + green)" \
  "d['nic']['per_queue'][2]['rx_packets']+d['nic']['per_queue'][3]['rx_packets']==sum(p['packets'] for p in d['principals'][1:3])" "$T/steered.json"

# --- two zero-copy tenants on one shared queue, then with filters swapped ---
two() { # FILE RED-OWNS BLUE-OWNS [extra principal keys for red]
  cat > "$T/two.yaml" <<YAML
nic: {queues: 1}
driver: {skb_mode: readonly}
pool: {clear: on_entry}
principals:
  - {name: red, owns: "$2", delivery: zero_copy$4}
  - {name: blue, owns: "$3", delivery: zero_copy}
YAML
  "$NICSIM" replay "$S" --scenario "$T/two.yaml" --json "$1" --quiet
}
two "$T/a.json" "$LO" "$HI" ""
two "$T/b.json" "$HI" "$LO" ""
ra=$(pair "$T/a.json" cross_flow_leak red blue); ba=$(pair "$T/a.json" cross_flow_leak blue red)
rb=$(pair "$T/b.json" cross_flow_leak red blue); bb=$(pair "$T/b.json" cross_flow_leak blue red)
if [ "$ra" -gt 0 ] && [ "$ba" -gt 0 ] && [ "$ra" != "$ba" ]; then ok "shared queue: each sees the other's packets (red <- blue $ra, blue <- red $ba)"; else bad "shared queue: red <- blue $ra, blue <- red $ba"; fi
if [ "$ra" = "$bb" ] && [ "$ba" = "$rb" ]; then ok "swapping the filters swaps the pairs"; else bad "swapped filters: red <- blue $rb, blue <- red $bb (before: $ra, $ba)"; fi
if [ "$ra" = "$(packets "$T/a.json" blue)" ]; then ok "red <- blue counts each of blue's packets"; else bad "red <- blue $ra, blue has $(packets "$T/a.json" blue)"; fi
sums "$T/a.json" "two tenants on one queue"

# --- CAP_NET_ADMIN entitles to other tenants' packets, not to kernel pointers ---
"$NICSIM" replay "$S" --design multi-tenant-shared --set 'principals.1.caps=[CAP_NET_ADMIN]' --set driver.skb_mode=writable \
  --json "$T/admin.json" --quiet
check "green with CAP_NET_ADMIN: no cross_flow_leak" "d['violations']['cross_flow_leak']['count']==0" "$T/admin.json"
check "green with CAP_NET_ADMIN, writable SKBs: kernel_pointer_leak, green <- kernel" \
  "d['violations']['kernel_pointer_leak']['count']>0 and {(p['principal'],p['owner']) for p in d['violations']['kernel_pointer_leak']['by_pair']}=={('green','kernel')}" "$T/admin.json"

# --- a fault names a tenant ---
"$NICSIM" replay "$S" --design multi-tenant-shared --fault user_hoard:principal=green --set pool.pages=64 \
  --set nic.ring_size=64 --json "$T/hoard.json" --quiet
check "user_hoard of green: pool_exhaustion charged to green, on the other tenants' dropped packets" \
  "d['violations']['pool_exhaustion']['count']>0 and all(p['principal']=='green' and p['owner'] in ('app','blue') for p in d['violations']['pool_exhaustion']['by_pair'])" "$T/hoard.json"

# --- review and merge tables say who leaks to whom ---
"$NICSIM" review "$S" --designs multi-tenant-shared,copy -j 2 --markdown "$T/review.md" >"$T/review.txt" 2>/dev/null
n_app=$(pair "$T/shared.json" cross_flow_leak green app)
if grep -q "multi-tenant-shared cross_flow_leak: green <- app: $n_app " "$T/review.txt"; then ok "review's table: green <- app"; else bad "review's table lacks green <- app: $(cat "$T/review.txt")"; fi
if grep -q "| multi-tenant-shared | cross_flow_leak | green <- app: $n_app " "$T/review.md"; then ok "review's markdown: green <- app"; else bad "review's markdown lacks green <- app"; fi
if grep -q "^  copy " "$T/review.txt"; then bad "review lists pairs for copy (one pair at most)"; else ok "review lists no pairs for copy"; fi
mkdir -p "$T/m/r1" "$T/m/r2"
cp "$T/shared.json" "$T/m/r1/report.json"; cp "$T/shared.json" "$T/m/r2/report.json"
"$NICSIM" merge "$T/m" --json "$T/merged.json" >"$T/merge.txt" 2>&1
if grep -q "multi-tenant-shared none cross_flow_leak: green <- app: 2 runs, $((2 * n_app))" "$T/merge.txt"; then ok "merge's table: green <- app over 2 runs"; else bad "merge's table: $(cat "$T/merge.txt")"; fi
check "merge's JSON: by_pair summed over the runs" \
  "[(p['principal'],p['owner'],p['runs_with'],p['total_count']) for p in d['groups'][0]['properties']['cross_flow_leak']['by_pair'] if p['owner']=='app']==[('green','app',2,2*$n_app)]" "$T/merged.json"

# --- TX: two tenants send; the pairs follow the sender ---
# blue and green each own one client's flow, and traffic.tx has both send
# (the application's flow is received). tx-early-release frees each sent
# frame's pages at once, so the device sends kernel data: every frame a
# tenant sends is a wire_leak of that tenant's. Swapping the filters swaps
# the counts.
A="src host 10.125.57.203"
B="src host 10.213.81.12"
tx_two() { # FILE DESIGN BLUE-OWNS GREEN-OWNS [replay args...]
  local f=$1 design=$2 b=$3 g=$4; shift 4
  cat > "$T/tx.yaml" <<YAML
design: $design
traffic.tx: "$A or $B"
principals:
  - {name: blue, owns: "$b"}
  - {name: green, owns: "$g"}
YAML
  "$NICSIM" replay "$S" --scenario "$T/tx.yaml" --json "$f" --quiet "$@"
  [ $? -le 1 ] || bad "$f: replay failed"
}
# sent FILE PROPERTY WHO: the pairs' count of WHO, whatever the owner.
sent() { jval "$1" "sum(p['count'] for p in d['violations']['$2']['by_pair'] if p['principal']=='$3')"; }
tx_two "$T/txa.json" tx-early-release "$A" "$B"
tx_two "$T/txb.json" tx-early-release "$B" "$A"
na=$(tcpdump -nr "$S" "$A" 2>/dev/null | wc -l); nb=$(tcpdump -nr "$S" "$B" 2>/dev/null | wc -l)
check "TX: both tenants send, and only they" "d['tx']['packets']==$na+$nb" "$T/txa.json"
ba=$(sent "$T/txa.json" wire_leak blue); ga=$(sent "$T/txa.json" wire_leak green)
bb=$(sent "$T/txb.json" wire_leak blue); gb=$(sent "$T/txb.json" wire_leak green)
if [ "$ba" = "$na" ] && [ "$ga" = "$nb" ]; then ok "wire_leak by_pair: blue's $na frames are blue's, green's $nb green's"; else bad "wire_leak: blue $ba (sent $na), green $ga (sent $nb)"; fi
if [ "$bb" = "$nb" ] && [ "$gb" = "$na" ]; then ok "TX: swapping the filters swaps the senders' pairs"; else bad "TX swapped: blue $bb, green $gb (before: $ba, $ga)"; fi
check "wire_leak: the owners of what was sent are the kernel's (or stale)" \
  "all(p['owner'] in ('kernel','stale') for p in d['violations']['wire_leak']['by_pair'])" "$T/txa.json"
sums "$T/txa.json" "TX, two senders"
# One tenant rewrites its frame in flight (MSG_ZEROCOPY): the fault names
# it, and only its pair shows; name the other and the pair moves. At the
# later of the two clients' 3rd frames: by then both tenants have sent.
third() { tcpdump -nr "$S" 2>/dev/null | grep -n "^[^ ]* IP ${1#src host }\." | sed -n 3p | cut -d: -f1; }
ka=$(($(third "$A") - 1)); kb=$(($(third "$B") - 1)); k=$((ka > kb ? ka : kb))
for who in blue green; do
  tx_two "$T/uw-$who.json" tx-zerocopy "$A" "$B" --fault "user_write:principal=$who,packet=$k"
done
check "user_write of blue while sending: user_write_after_validation, blue's pair only" \
  "d['violations']['user_write_after_validation']['count']==1 and [p['principal'] for p in d['violations']['user_write_after_validation']['by_pair']]==['blue'] and d['faults'][0]['effect'].startswith('blue wrote ')" "$T/uw-blue.json"
check "user_write of green: the pair moves to green" \
  "d['violations']['user_write_after_validation']['count']==1 and [p['principal'] for p in d['violations']['user_write_after_validation']['by_pair']]==['green'] and d['faults'][0]['effect'].startswith('green wrote ')" "$T/uw-green.json"
# The device's reads report their pairs too: tx_overread reads past a
# frame's buffer (device_read_outside_grant) and sends it (wire_leak, by
# the frame's sender).
tx_two "$T/over.json" tx-copy "$A" "$B" --fault "tx_overread:packet=$ka"
check "tx_overread: device_read_outside_grant by the device, wire_leak by blue, the sender" \
  "[p['principal'] for p in d['violations']['device_read_outside_grant']['by_pair']]==['device 01:00.0'] and [p['principal'] for p in d['violations']['wire_leak']['by_pair']]==['blue']" "$T/over.json"
sums "$T/over.json" "tx_overread"

# --- xdp.rules redirects to a tenant by name ---
# The application's frames redirected to a copy tenant: copied into its
# memory (an XSK in copy mode), which it is not entitled to.
xdp_to() { # FILE TARGET
  cat > "$T/xdp.yaml" <<YAML
xdp:
  rules: ["redirect $2 src host 10.103.128.7", pass]
principals:
  - {name: blue, owns: "$LO"}
  - {name: green, owns: "$HI"}
YAML
  "$NICSIM" replay "$S" --scenario "$T/xdp.yaml" --json "$1" --quiet
  [ $? -le 1 ] || bad "$1: replay failed"
}
xdp_to "$T/xdp-blue.json" blue
xdp_to "$T/xdp-green.json" green
xdp_to "$T/xdp-app.json" app
xdp_to "$T/xdp-other.json" other
napp=$(packets "$T/xdp-blue.json" app)
bapp=$(jval "$T/xdp-blue.json" "[p['bytes'] for p in d['principals'] if p['name']=='app'][0]")
for who in blue green other; do
  check "redirect $who: every frame of app's flow copied to $who, cross_flow_leak $who <- app of each of app's bytes" \
    "d['xdp']['redirect_copy']==$napp and [(p['principal'],p['owner'],p['bytes']) for p in d['violations']['cross_flow_leak']['by_pair']]==[('$who','app',$bapp)]" "$T/xdp-$who.json"
done
check "redirect app: app's own frames, nothing violated" \
  "d['xdp']['redirect_copy']==$napp and d['verdict']=='safe'" "$T/xdp-app.json"
"$NICSIM" replay "$S" --scenario "$T/xdp.yaml" --set 'xdp.rules=redirect nobody' --quiet >"$T/out" 2>"$T/err"
if [ $? -eq 2 ] && grep -qF "xdp.rules: rule 1 'redirect nobody': unknown principal 'nobody' (principals: app, other, blue, green)" "$T/err"; then
  ok "a redirect to no principal is refused, naming the principals"; else bad "redirect nobody: $(cat "$T/err")"; fi

# --- bad input: one line naming the file, line and column; exit 2 ---
bad_scenario() { # DESCRIPTION WANTED-SUBSTRING YAML
  printf '%s\n' "$3" > "$T/bad.yaml"
  "$NICSIM" replay "$S" --scenario "$T/bad.yaml" --quiet >"$T/out" 2>"$T/err"
  local rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "$2" "$T/err" && [ "$(wc -l < "$T/err")" -eq 1 ]; then ok "$1"; else bad "$1: exit $rc: $(cat "$T/err")"; fi
}
bad_scenario "reserved name" "bad.yaml:2:" $'principals:\n  - {name: kernel, owns: udp}'
# wire.pcap is --observed's capture of the wire: no principal may be named wire.
bad_scenario "wire is reserved (--observed's wire.pcap)" "bad.yaml:3:12: principals.0.name: 'wire' is not allowed" $'design: tx-copy\nprincipals:\n  - {name: wire, owns: udp}'
"$NICSIM" replay "$S" --design tx-copy --set principals.0.name=wire --observed "$T/obs-wire" --quiet >"$T/out" 2>"$T/err"
if [ $? -eq 2 ] && grep -q "principals.0.name: 'wire' is not allowed.*wire.pcap" "$T/err" && [ ! -e "$T/obs-wire" ]; then
  ok "--set principals.0.name=wire: refused before anything is written"; else bad "name wire: $(cat "$T/err")"; fi
bad_scenario "bad character" "letters, digits" $'principals:\n  - {name: "we b", owns: udp}'
bad_scenario "duplicate name" "already the name of principal 0" $'principals:\n  - {name: web}\n  - {name: web}'
bad_scenario "no name" "has no name" $'principals:\n  - {owns: udp}'
bad_scenario "queue out of range" "allowed 0..0" $'principals:\n  - {name: web, queue: 3}'
bad_scenario "unknown key" "unknown key 'colour'" $'principals:\n  - {name: web, colour: red}'
bad_scenario "delivery af_xdp is app's only" "one of copy, zero_copy" $'principals:\n  - {name: web, delivery: af_xdp}'
bad_scenario "a bad filter names its key" "principals.0.owns: cannot compile" $'principals:\n  - {name: web, owns: "nonsense here"}'
bad_scenario "a steered queue that leaves RSS empty" "leave none" $'principals:\n  - {name: web, queue: 0}'
many=$'principals:'
for i in $(seq 1 17); do many+=$'\n'"  - {name: t$i}"; done
bad_scenario "17 principals" "more than 16 principals" "$many"
"$NICSIM" replay "$S" --design multi-tenant-shared --fault user_write:principal=nobody --quiet >"$T/out" 2>"$T/err"
if [ $? -eq 2 ] && grep -q "principal 'nobody' is not one of the scenario's principals (app, other, blue, green)" "$T/err"; then
  ok "a fault naming no principal is refused"; else bad "fault principal: $(cat "$T/err")"; fi

finish
