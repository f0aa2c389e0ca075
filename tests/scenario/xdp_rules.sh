#!/usr/bin/env bash
# xdp.rules, run through the model: a rule that redirects other flows to the
# application is a design error the checker flags (cross_flow_leak) where the
# default program leaks nothing; a drop rule keeps a flow from being
# delivered; first match wins; a scenario file and --set give the same run;
# bad rules exit 2 with one line naming the key, the rule and the problem.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 600 --size imix --seed 11 || bad "gen"
G=$T/g.pcap
run() { local out=$1; shift; "$NICSIM" replay "$G" "$@" --json "$T/$out.json" --quiet; }

# --- redirecting other flows to the application ---------------------------
run def --design zc-dedicated-queue
run redir --design zc-dedicated-queue --set 'xdp.rules=[redirect app tuple owner=other]'
check "default program: no leak on zc-dedicated-queue" \
  "d['violations']['cross_flow_leak']['count']==0 and d['xdp']['program']=='default' and d['xdp']['rules']==[]" "$T/def.json"
check "redirecting other flows to the app: cross_flow_leak" \
  "d['violations']['cross_flow_leak']['count']>0 and d['xdp']['program']=='rules'" "$T/redir.json"
check "those frames reached the app by copy (an XSK in copy mode on the RSS queues)" \
  "d['xdp']['redirect_copy']>0 and d['xdp']['redirect_copy']==d['xdp']['rules'][0]['hits']" "$T/redir.json"
check "the default program hands the app's frames over in place" \
  "d['xdp']['redirect_in_place']==d['delivered']['zero_copy_packets']>0" "$T/def.json"
# In place on a shared zero-copy ring: every frame to the app.
run allzc --design zc-shared-ring --set 'app.caps=[CAP_NET_ADMIN]'
run allzc2 --design zc-shared-ring --set 'app.caps=[CAP_NET_ADMIN]' --set 'xdp.rules=redirect app'
check "zc-shared-ring, every frame redirected in place (CAP_NET_ADMIN: entitled, no leak)" \
  "d['xdp']['redirect_in_place']==d['xdp']['runs']==d['delivered']['zero_copy_packets']>0 and d['violations']['cross_flow_leak']['count']==0" "$T/allzc2.json"
run allzc3 --design zc-shared-ring --set 'xdp.rules=redirect app'
check "the same without CAP_NET_ADMIN: cross_flow_leak" "d['violations']['cross_flow_leak']['count']>0" "$T/allzc3.json"

# --- drop ---------------------------------------------------------------
run copy --design copy
app_pk=$(jval "$T/def.json" "d['delivered']['zero_copy_packets']")
run drop --design zc-dedicated-queue --set 'xdp.rules=[drop tuple owner=app]'
check "drop: the app's flow is not delivered" "d['delivered']['zero_copy_packets']==0" "$T/drop.json"
check "drop: every one of its $app_pk frames counted as dropped by its rule" \
  "d['xdp']['drop']==$app_pk==d['xdp']['rules'][0]['hits'] and d['xdp']['no_match']==d['xdp']['pass']" "$T/drop.json"
tot=$(jval "$T/def.json" "d['delivered']['packets']")
check "drop: delivered falls by exactly the dropped frames" "d['delivered']['packets']==$tot-$app_pk" "$T/drop.json"
# The same flow named by a BPF filter built from the report's flow text.
bpf=$(jval "$T/def.json" "(lambda f: 'src host %s and src port %s and udp' % tuple(f.split()[1].rsplit(':',1)))(d['trace']['app_flow'])")
run dropbpf --design zc-dedicated-queue --set "xdp.rules=drop $bpf"
check "drop by BPF filter ($bpf): the same frames" \
  "d['xdp']['drop']==$app_pk and d['delivered']['zero_copy_packets']==0" "$T/dropbpf.json"

# --- first match wins, no match passes -----------------------------------
run order1 --design copy --set 'xdp.rules=[pass tuple owner=app; drop]'
run order2 --design copy --set 'xdp.rules=[drop; pass tuple owner=app]'
c_app=$(jval "$T/order1.json" "d['xdp']['pass']")
check "[pass app; drop]: only the app's frames delivered" \
  "d['delivered']['packets']==$c_app>0 and d['xdp']['drop']==d['xdp']['runs']-$c_app" "$T/order1.json"
check "[drop; pass app]: nothing delivered, the second rule never hit" \
  "d['delivered']['packets']==0 and d['xdp']['rules'][1]['hits']==0 and d['xdp']['drop']==d['xdp']['runs']" "$T/order2.json"
run nomatch --design copy --set 'xdp.rules=[drop udp port 9]'
check "no match passes: everything delivered as without a program" \
  "d['xdp']['no_match']==d['xdp']['pass']==d['xdp']['runs'] and d['delivered']['packets']==$(jval "$T/copy.json" "d['delivered']['packets']")" "$T/nomatch.json"

# --- YAML and --set are one syntax --------------------------------------
cat >"$T/s.yaml" <<'EOF'
design: zc-dedicated-queue
xdp:
  rules:
    - "drop ip[6:2] & 0x1fff != 0"
    - redirect app tuple proto=udp, owner=other
    - pass
EOF
"$NICSIM" replay "$G" --scenario "$T/s.yaml" --json "$T/yaml.json" --quiet
run set --design zc-dedicated-queue --set 'xdp.rules=[drop ip[6:2] & 0x1fff != 0; redirect app tuple proto=udp, owner=other; pass]'
if [ "$(jval "$T/yaml.json" "json.dumps({k:v for k,v in d.items() if k!='design'},sort_keys=True)")" = \
     "$(jval "$T/set.json" "json.dumps({k:v for k,v in d.items() if k!='design'},sort_keys=True)")" ]; then
  ok "a scenario file's rule list and --set give the same report"
else
  bad "the scenario file and --set disagree"
fi
check "the report lists the rules as given" \
  "[r['rule'] for r in d['xdp']['rules']]==['drop ip[6:2] & 0x1fff != 0','redirect app tuple proto=udp, owner=other','pass'] and d['config']['xdp.rules']==[r['rule'] for r in d['xdp']['rules']]" "$T/yaml.json"

# --- bad rules: exit 2, one line ----------------------------------------
one_line() {
  local what=$1 want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local rc=$? lines
  lines=$(wc -l <"$T/err")
  if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$T/err"; then
    ok "$what: exit 2, one line"
  else
    bad "$what: exit $rc, $lines lines: $(head -3 "$T/err")"
  fi
}
one_line "unknown action" "nicsim: --set: xdp.rules: rule 2 'frob udp': unknown action 'frob' (actions: pass, drop, redirect)" \
  "$NICSIM" replay "$G" --set 'xdp.rules=[pass tcp; frob udp]'
one_line "BPF that does not compile" "xdp.rules: rule 1 'drop udpp port 53': the BPF filter 'udpp port 53' does not compile:" \
  "$NICSIM" replay "$G" --set 'xdp.rules=drop udpp port 53'
one_line "unknown principal" "xdp.rules: rule 1 'redirect mallory': unknown principal 'mallory' (principals: app, other)" \
  "$NICSIM" replay "$G" --set 'xdp.rules=redirect mallory'
one_line "unknown tuple field" "xdp.rules: rule 1 'drop tuple xport=53': tuple: unknown field 'xport'" \
  "$NICSIM" replay "$G" --set 'xdp.rules=drop tuple xport=53'
one_line "empty rule" "xdp.rules: 'pass;;drop' is not allowed: rule 2 is empty" \
  "$NICSIM" replay "$G" --set 'xdp.rules=pass;;drop'
printf 'design: copy\nxdp:\n  rules:\n    - pass\n    - "redirect app tuple dport=x"\n' >"$T/bad.yaml"
one_line "scenario file: line and column of the rule" \
  "$T/bad.yaml:5:7: xdp.rules: rule 2 'redirect app tuple dport=x': tuple: dport 'x' is not allowed" \
  "$NICSIM" replay "$G" --scenario "$T/bad.yaml"
printf 'design: copy\nxdp:\n  rules:\n    - pass\n    - "redirect bob udp"\n' >"$T/bad4.yaml"
one_line "scenario file: an unknown principal, found once every name is known: line and column of its rule" \
  "$T/bad4.yaml:5:7: xdp.rules: rule 2 'redirect bob udp': unknown principal 'bob' (principals: app, other)" \
  "$NICSIM" replay "$G" --scenario "$T/bad4.yaml"
printf 'xdp.rules: "pass; drop"\n' >"$T/bad2.yaml"
one_line "scenario file: a list, not one text" "xdp.rules: expected a list" "$NICSIM" replay "$G" --scenario "$T/bad2.yaml"
printf 'xdp:\n  rules: ["pass; drop"]\n' >"$T/bad3.yaml"
one_line "scenario file: no ';' inside an item" "cannot contain ';'" "$NICSIM" replay "$G" --scenario "$T/bad3.yaml"
one_line "zcrx runs no XDP program" "xdp.rules: an XDP program cannot be attached with app.delivery=zcrx" \
  "$NICSIM" replay "$G" --design header-split-zcrx --set 'xdp.rules=pass'

finish
