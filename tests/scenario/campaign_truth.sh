#!/usr/bin/env bash
# Campaigns and merge that tell the truth: incomplete runs are re-run on
# restart and never merged as safe; inconclusive ones neither; a restart
# under another spec is refused; a job is always one line; merge treats
# every report as untrusted input.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
cp "$G" "$T/a.pcap"
printf 'traces: [a.pcap]\ndesigns: [copy]\nseeds: [1, 2]\n' > "$T/c.yaml"
"$NICSIM" campaign "$T/c.yaml" -j 2 --out "$T/cout" --quiet || bad "first campaign"
R="$T/cout/runs/t0-copy-f0-s1.json"
# A run stopped half-way leaves a report marked incomplete (as replay writes
# it after SIGINT); make this one so.
python3 - "$R" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d['incomplete'] = True
json.dump(d, open(sys.argv[1], 'w'))
PY
"$NICSIM" campaign "$T/c.yaml" -j 2 --out "$T/cout" > "$T/stdout" 2>&1
grep -q "2 runs: 1 ran, 1 already done, 0 failed" "$T/stdout" && ok "restart re-runs the incomplete run" \
  || bad "restart: $(head -1 "$T/stdout")"
check "...whose report is now complete" "d['incomplete'] is False" "$R"

# merge: incomplete and inconclusive are not safe
mkdir -p "$T/m"
for v in inc inconc safe; do cp "$R" "$T/m/$v.json"; done
python3 - "$T/m" <<'PY'
import json, sys, os
d = sys.argv[1]
r = json.load(open(os.path.join(d, 'inc.json'))); r['incomplete'] = True; r['verdict'] = 'safe'
json.dump(r, open(os.path.join(d, 'inc.json'), 'w'))
r = json.load(open(os.path.join(d, 'inconc.json'))); r['verdict'] = 'inconclusive'
json.dump(r, open(os.path.join(d, 'inconc.json'), 'w'))
PY
"$NICSIM" merge "$T/m" --json "$T/m.json" --quiet
check "merge: an incomplete run is not counted safe" "d['groups'][0]['verdicts']['safe'] == 1 and d['groups'][0]['verdicts']['incomplete'] == 1" "$T/m.json"
check "merge: an inconclusive run is not counted safe" "d['groups'][0]['verdicts']['inconclusive'] == 1 and d['groups'][0]['runs'] == 3" "$T/m.json"
# A report whose verdict says safe while a count says otherwise is unsafe.
mkdir -p "$T/lie"
python3 - "$R" "$T/lie/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r['violations']['cross_flow_leak']['count'] = 3; r['verdict'] = 'safe'
json.dump(r, open(sys.argv[2], 'w'))
PY
"$NICSIM" merge "$T/lie" --json "$T/lie.json" --quiet
check "merge: a 'safe' report with a violation counted is counted unsafe" \
  "d['groups'][0]['verdicts'].get('safe', 0) == 0 and d['groups'][0]['verdicts']['unsafe'] == 1 and d['groups'][0]['unsafe_runs'] == 1" "$T/lie.json"

# A restart under another spec, or after the trace changed, is refused.
printf 'traces: [a.pcap]\ndesigns: [copy]\nseeds: [1, 2]\nset: {pool.clear: on_recycle}\n' > "$T/c2.yaml"
expect_exit 2 "restart with other settings into the same --out is refused" -- "$NICSIM" campaign "$T/c2.yaml" --out "$T/cout"
grep -q "holds the runs of another campaign" "$T/err" && ok "...saying so" || bad "message: $(cat "$T/err")"
touch -d @978307200 "$T/a.pcap"
expect_exit 2 "restart after the trace changed is refused" -- "$NICSIM" campaign "$T/c.yaml" --out "$T/cout"
grep -q "was 'trace" "$T/err" && ok "...naming the trace" || bad "message: $(cat "$T/err")"
# ...with the line that differs whole: its modification time, not the end of
# the identity file elided onto it.
python3 - "$T/err" "$T/cout/campaign.id" <<'PY' && ok "...showing the old and new modification time" || bad "message: $(cat "$T/err")"
import re, sys
msg = open(sys.argv[1]).read()
was = open(sys.argv[2]).read().splitlines()[1]
m = re.search(r"was '([^']*)', is now '([^']*)'", msg)
sys.exit(0 if m and m.group(1) == was and m.group(2).startswith('trace ') and 'modified 978307200.' in m.group(2) else 1)
PY

# --emit-jobs: a trace name holding a newline is refused, never split.
nl=$'evil\ntouch pwned.pcap'
cp "$G" "$T/$nl"
printf 'traces: ["evil\\ntouch pwned.pcap"]\ndesigns: [copy]\n' > "$T/nl.yaml"
expect_exit 2 "a trace name with a newline is refused" -- "$NICSIM" campaign "$T/nl.yaml" --emit-jobs --out "$T/nl-out"
grep -q "newline" "$T/err" && [ ! -s "$T/out" ] && ok "...before any job line is printed" || bad "newline: $(cat "$T/err")"

# merge: names escaped, sums checked, a folder named twice counted once.
mkdir -p "$T/h"
python3 - "$R" "$T/h" <<'PY'
import json, sys, os
r = json.load(open(sys.argv[1]))
a = dict(r); a['design'] = 'x | evil | 9 |\n| injected | row \x1b[31mred'
json.dump(a, open(os.path.join(sys.argv[2], 'a.json'), 'w'))
b = dict(r); b['violations'] = {'big_leak': {'count': 2**63 - 1}}
json.dump(b, open(os.path.join(sys.argv[2], 'b1.json'), 'w'))
json.dump(b, open(os.path.join(sys.argv[2], 'b2.json'), 'w'))
json.dump(b, open(os.path.join(sys.argv[2], 'b3.json'), 'w'))
PY
"$NICSIM" merge "$T/h" "$T/h" --markdown "$T/h.md" --json "$T/h.json" > "$T/h.txt" 2>"$T/h.err"
check "merge: a folder named twice is counted once (3 usable of 4 files)" "d['runs'] == 3" "$T/h.json"
check "merge: a sum that would overflow makes its report unreadable" "d['unreadable'] == 1 and all(p['total_count'] < 2**64 for g in d['groups'] for p in g['properties'].values())" "$T/h.json"
! grep -q $'\x1b' "$T/h.txt" && ok "merge: no terminal escape reaches the terminal" || bad "escape printed raw"
! grep -q '^| injected' "$T/h.md" && grep -q 'x \\| evil \\| 9 \\|?\\| injected' "$T/h.md" && ok "merge: a design name cannot add Markdown rows or cells" \
  || bad "markdown: $(grep evil "$T/h.md")"

# merge of 100,000 property names: each one counted once, in name order after the checker's own.
# (Its speed is a benchmark's business: tests/bench/merge.sh. The timeout only catches a hang.)
python3 - "$R" "$T/p" <<'PY2'
import json, sys, os
os.makedirs(sys.argv[2])
r = json.load(open(sys.argv[1]))
r['violations'] = {'p%06d' % i: {'count': 1} for i in range(100000)}
json.dump(r, open(os.path.join(sys.argv[2], 'r.json'), 'w'))
PY2
timeout 600 "$NICSIM" merge "$T/p" --json "$T/p.json" --quiet; rc=$?
[ $rc -eq 0 ] && ok "merge of 100,000 property names ends" || bad "merge of 100,000 names: rc $rc"
check "...and counts each name once" "len(d['groups']) == 1 and sum(1 for k, p in d['groups'][0]['properties'].items() if k.startswith('p') and k[1:].isdigit() and p['total_count'] == 1 and p['runs_with'] == 1) == 100000" "$T/p.json"
check "...in name order after the checker's own" "[k for k in d['groups'][0]['properties'] if k.startswith('p') and k[1:].isdigit()] == sorted(k for k in d['groups'][0]['properties'] if k.startswith('p') and k[1:].isdigit()) and list(d['groups'][0]['properties'])[-1] == 'p099999'" "$T/p.json"
finish
