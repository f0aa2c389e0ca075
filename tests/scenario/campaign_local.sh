#!/usr/bin/env bash
# nicsim campaign on local cores: a small campaign (2 designs x 2 fault
# variants x 3 seeds on the bundled sample trace) with -j 2. Every run's
# report exists and is the run its id names; the merged table equals one
# computed independently (python3) from the reports; copy stays safe without
# faults; resume reruns only what is missing or broken; a failing run makes
# the campaign exit 2 and is recorded; a bad spec is one line with
# file:line:col and exit 2 before anything runs; --emit-jobs writes the job
# list and the Slurm script; a spec's limit reaches every run.
. "$(dirname "$0")/lib.bash"

mkdir -p "$T/spec/traces"
cp "$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap" "$T/spec/traces/mixed.pcap"
cat >"$T/spec/campaign.yaml" <<'EOF'
# paths relative to this file's folder
traces: [traces/mixed.pcap]
designs: [zc-shared-ring, copy]
faults:
  - []
  - ["malicious_dma:prob=0.05"]
seeds: 1..3
EOF

# From another folder: the trace is found relative to the spec.
start=$(date +%s.%N)
(cd / && "$NICSIM" campaign "$T/spec/campaign.yaml" -j 2 --out "$T/camp") >"$T/stdout" 2>"$T/stderr"
rc=$?
end=$(date +%s.%N)
if [ $rc -eq 0 ]; then ok "campaign of 12 runs with -j 2 completed (exit 0, $(python3 -c "print(round($end-$start,2))") s)"; else bad "campaign exit $rc"; sed 's/^/  | /' "$T/stderr" | head; fi
[ ! -s "$T/stderr" ] && ok "nothing on standard error (not a terminal: no progress bar)" || { bad "standard error not empty"; head -5 "$T/stderr"; }
grep -q "12 runs: 12 ran, 0 already done, 0 failed" "$T/stdout" && ok "summary line" || { bad "summary line"; head -3 "$T/stdout"; }
grep -q "^zc-shared-ring  *malicious_dma:prob=0.05 " "$T/stdout" && ok "table printed" || bad "table not printed"

# Every run's report, named by its id, holding that run.
python3 - "$T/camp" <<'EOF' && ok "12 reports, each the run its id names" || bad "reports do not match their ids"
import json, os, sys
out = sys.argv[1]
want = {}
for d in ["zc-shared-ring", "copy"]:
    for f, faults in [(0, []), (1, ["malicious_dma:prob=0.05"])]:
        for s in [1, 2, 3]:
            want["t0-%s-f%d-s%d.json" % (d, f, s)] = (d, faults, s)
have = sorted(os.listdir(os.path.join(out, "runs")))
assert have == sorted(want), have
for name, (d, faults, s) in want.items():
    r = json.load(open(os.path.join(out, "runs", name)))
    assert r["design"] == d and r["seed"] == s, name
    assert [f["spec"] for f in r["faults"]] == faults, name
    assert r["trace"]["path"].endswith("/spec/traces/mixed.pcap") and r["trace"]["path"].startswith("/"), r["trace"]["path"]
EOF

# The merged table, computed independently from the reports.
cat >"$T/recompute.py" <<'EOF'
import json, os, sys
runs_dir, merged = sys.argv[1], json.load(open(sys.argv[2]))
groups = {}
for root, _, files in os.walk(runs_dir):
    for f in files:
        if not f.endswith(".json"):
            continue
        r = json.load(open(os.path.join(root, f)))
        key = (r["design"], " + ".join(x["spec"] for x in r["faults"]) or "none")
        g = groups.setdefault(key, {"runs": 0, "unsafe": 0, "verdicts": {}, "props": {}})
        g["runs"] += 1
        g["unsafe"] += r["verdict"] == "unsafe"
        g["verdicts"][r["verdict"]] = g["verdicts"].get(r["verdict"], 0) + 1
        for p, v in r["violations"].items():
            e = g["props"].setdefault(p, [0, 0])
            e[0] += v["count"] > 0
            e[1] += v["count"]
assert merged["runs"] == sum(g["runs"] for g in groups.values()), "runs"
assert [(g["design"], g["faults"]) for g in merged["groups"]] == sorted(groups), "group order"
for mg in merged["groups"]:
    g = groups[(mg["design"], mg["faults"])]
    assert mg["runs"] == g["runs"] and mg["unsafe_runs"] == g["unsafe"], mg["design"]
    for v, n in g["verdicts"].items():
        assert mg["verdicts"][v] == n, (mg["design"], v)
    assert set(mg["properties"]) == set(g["props"]), "properties"
    for p, (w, c) in g["props"].items():
        e = mg["properties"][p]
        assert e["runs_with"] == w and e["total_count"] == c, (mg["design"], mg["faults"], p)
        assert e["rate"] == w / g["runs"], (mg["design"], p, e["rate"])
print(len(groups))
EOF
n=$(python3 "$T/recompute.py" "$T/camp/runs" "$T/camp/merged.json") && [ "$n" = 4 ] \
  && ok "merged.json equals the table recomputed from the 12 reports (4 groups)" || bad "merged.json differs from the reports ($n)"
check "copy stays safe without faults" \
  '[g["unsafe_runs"] for g in d["groups"] if g["design"]=="copy" and g["faults"]=="none"] == [0]' "$T/camp/merged.json"
check "zc-shared-ring leaks across flows in every run" \
  '[g["properties"]["cross_flow_leak"]["runs_with"] for g in d["groups"] if g["design"]=="zc-shared-ring"] == [3, 3]' "$T/camp/merged.json"
check "malicious_dma writes outside grants" \
  'all(g["properties"]["device_write_outside_grant"]["runs_with"] > 0 for g in d["groups"] if g["faults"] != "none")' "$T/camp/merged.json"
grep -q '^| copy | none | 3 | 0 |' "$T/camp/merged.md" && ok "merged.md written" || bad "merged.md"
"$NICSIM" merge "$T/camp/runs" --json "$T/again.json" --quiet && cmp -s "$T/again.json" "$T/camp/merged.json" \
  && ok "nicsim merge OUT/runs gives merged.json byte for byte" || bad "nicsim merge differs from merged.json"

# Resume: delete one report and break another; only those two run again.
python3 -c "
import os, sys, json
d = sys.argv[1]
json.dump({n: os.stat(os.path.join(d, n)).st_mtime_ns for n in os.listdir(d)}, open(sys.argv[2], 'w'))" \
  "$T/camp/runs" "$T/mtimes.json"
sleep 0.05
rm "$T/camp/runs/t0-copy-f1-s2.json"
head -c 100 "$T/camp/runs/t0-zc-shared-ring-f0-s3.json" >"$T/trunc" && mv "$T/trunc" "$T/camp/runs/t0-zc-shared-ring-f0-s3.json"
touch -d '2001-01-01' "$T/camp/runs/t0-zc-shared-ring-f0-s3.json"
"$NICSIM" campaign "$T/spec/campaign.yaml" -j 2 --out "$T/camp" >"$T/stdout2" 2>"$T/stderr2"
rc=$?
[ $rc -eq 0 ] && ok "resumed campaign exit 0" || bad "resumed campaign exit $rc"
grep -q "12 runs: 2 ran, 10 already done, 0 failed" "$T/stdout2" && ok "resume ran 2, skipped 10" || { bad "resume summary"; head -2 "$T/stdout2"; }
python3 - "$T/camp/runs" "$T/mtimes.json" <<'EOF' && ok "only the missing and the broken report were rewritten" || bad "resume rewrote other reports"
import json, os, sys
d, before = sys.argv[1], json.load(open(sys.argv[2]))
changed = sorted(n for n in os.listdir(d) if os.stat(os.path.join(d, n)).st_mtime_ns != before.get(n))
assert changed == ["t0-copy-f1-s2.json", "t0-zc-shared-ring-f0-s3.json"], changed
for n in changed:
    json.load(open(os.path.join(d, n)))
EOF
cmp -s "$T/again.json" "$T/camp/merged.json" && ok "resumed merge equals the first" || bad "resumed merge differs"
"$NICSIM" campaign "$T/spec/campaign.yaml" --out "$T/camp" --quiet >"$T/stdout3" 2>&1
[ $? -eq 0 ] && [ ! -s "$T/stdout3" ] && ok "complete campaign rerun: nothing to do, --quiet prints nothing" || bad "rerun of a complete campaign"

# A failing run: a trace that exists but is not a capture. The other runs
# complete; the campaign exits 2, names the runs and records them.
echo "not a capture" >"$T/spec/broken.pcap"
cat >"$T/spec/failing.yaml" <<'EOF'
traces: [traces/mixed.pcap, broken.pcap]
designs: [copy]
seeds: [1, 2]
EOF
"$NICSIM" campaign "$T/spec/failing.yaml" -j 2 --out "$T/fail" >"$T/stdout4" 2>"$T/stderr4"
rc=$?
[ $rc -eq 2 ] && ok "a campaign with failing runs exits 2" || bad "failing campaign exit $rc"
[ "$(grep -c 'nicsim: campaign: run t1-copy-f0-s[12] failed (exit 2): ' "$T/stderr4")" = 2 ] \
  && ok "each failed run named on standard error with the reason" || { bad "failed runs not reported"; cat "$T/stderr4"; }
grep -q "broken.pcap" "$T/stderr4" && ok "the reason names the trace" || bad "reason lacks the trace"
[ "$(cut -f1 "$T/fail/failed.txt" | sort | tr '\n' ' ')" = "t1-copy-f0-s1 t1-copy-f0-s2 " ] \
  && ok "failed.txt records the failed runs" || { bad "failed.txt"; cat "$T/fail/failed.txt"; }
[ -s "$T/fail/logs/t1-copy-f0-s1.log" ] && [ ! -e "$T/fail/logs/t0-copy-f0-s1.log" ] \
  && ok "logs kept for failed runs only" || bad "logs"
check "the completed runs are merged" 'd["runs"] == 2' "$T/fail/merged.json"
grep -q "4 runs: 2 ran, 0 already done, 2 failed" "$T/stdout4" && ok "summary counts the failures" || bad "failure summary"
# Rerun: the failures run again (no report), the rest are skipped; still 2.
"$NICSIM" campaign "$T/spec/failing.yaml" -j 2 --out "$T/fail" >"$T/stdout5" 2>/dev/null
rc=$?
[ $rc -eq 2 ] && grep -q "4 runs: 0 ran, 2 already done, 2 failed" "$T/stdout5" \
  && ok "rerun retries only the failed runs" || { bad "rerun of failing campaign: exit $rc"; head -1 "$T/stdout5"; }

# A run killed by a signal is a failed run too. The trace is a FIFO nobody
# writes, so the run blocks opening it; the test kills that run (found as
# the campaign's child, by process id) with SIGKILL.
mkfifo "$T/spec/stuck.pcap"
printf 'traces: [stuck.pcap]\ndesigns: [copy]\n' >"$T/spec/stuck.yaml"
"$NICSIM" campaign "$T/spec/stuck.yaml" --out "$T/stuck" >"$T/stdout6" 2>"$T/stderr6" &
cpid=$!
child=""
for _ in $(seq 1 100); do child=$(pgrep -P "$cpid" | head -1); [ -n "$child" ] && break; sleep 0.1; done
if [ -n "$child" ]; then sleep 0.2; kill -KILL "$child"; else kill -TERM "$cpid"; fi
wait "$cpid"
rc=$?
[ $rc -eq 2 ] && grep -q "run t0-copy-f0-s1 failed (killed by signal 9" "$T/stderr6" \
  && grep -q "killed by signal 9" "$T/stuck/failed.txt" && ok "a run killed by a signal: recorded, reported, exit 2" \
  || { bad "signal-killed run: exit $rc"; cat "$T/stderr6"; }

# Bad specs: one line naming file:line:col, exit 2, nothing started.
bad_spec() { # WHAT EXPECTED-PREFIX-REGEX SPEC-TEXT
  printf '%s\n' "$3" >"$T/spec/bad.yaml"
  "$NICSIM" campaign "$T/spec/bad.yaml" --out "$T/badout" >"$T/bo" 2>"$T/be"
  local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <"$T/be")" -eq 1 ] && grep -Eq "^nicsim: $T/spec/bad.yaml:$2" "$T/be" \
     && [ ! -s "$T/bo" ] && [ ! -e "$T/badout" ]; then
    ok "bad spec, $1: $(cat "$T/be")"
  else
    bad "bad spec, $1: exit $rc, stderr: $(cat "$T/be")"
  fi
}
bad_spec "unknown design" "2:17: designs: unknown design 'nosuch'" 'traces: [traces/mixed.pcap]
designs: [copy, nosuch]'
bad_spec "unknown key" "3:1: unknown key 'seed'" 'traces: [traces/mixed.pcap]
designs: [copy]
seed: 1..3'
bad_spec "bad fault spec" "5:5: faults: 'late_dma:when=soon'" 'traces: [traces/mixed.pcap]
designs: [copy]
faults:
  - []
  - late_dma:when=soon'
bad_spec "missing trace" "1:10: traces: 'nope.pcap': cannot open" 'traces: [nope.pcap]
designs: [copy]'
bad_spec "empty product" "2:10: designs: the list is empty" 'traces: [traces/mixed.pcap]
designs: []'
bad_spec "empty seed range" "3:8: seeds: '3..1'" 'traces: [traces/mixed.pcap]
designs: [copy]
seeds: 3..1'
bad_spec "bad set key" "3:7: set: " 'traces: [traces/mixed.pcap]
designs: [copy]
set: {pool.clear: sometimes}'
bad_spec "YAML syntax" "2:[0-9]+: YAML syntax error" 'traces: [traces/mixed.pcap
designs: [copy]'
expect_exit 2 "a spec that does not exist" -- "$NICSIM" campaign "$T/spec/none.yaml" --out "$T/badout"
expect_exit 2 "unknown option" -- "$NICSIM" campaign "$T/spec/campaign.yaml" --fast
expect_exit 2 "-j 0" -- "$NICSIM" campaign "$T/spec/campaign.yaml" -j 0

# --emit-jobs: the job list on standard output and in OUT/jobs.txt, absolute
# paths, and the Slurm script indexing it.
"$NICSIM" campaign "$T/spec/campaign.yaml" --emit-jobs --out "$T/emit" >"$T/jobs" 2>"$T/je"
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <"$T/jobs")" -eq 12 ] && cmp -s "$T/jobs" "$T/emit/jobs.txt" \
  && ok "--emit-jobs prints 12 lines, the same as OUT/jobs.txt" || bad "--emit-jobs (exit $rc)"
nic_abs=$(readlink -f "$NICSIM")
if awk -v n="$nic_abs" 'index($0, n " replay /") != 1 || $0 !~ / --json \/.*\/runs\/t0-[a-z-]+-f[01]-s[123]\.json --quiet \|\| \[ \$\? -eq 1 \]$/ {bad=1} END {exit bad}' "$T/jobs"; then
  ok "job lines: absolute program, trace and report paths"
else bad "job lines"; head -2 "$T/jobs"; fi
grep -q '^#SBATCH --array=1-12$' "$T/emit/campaign.sbatch" && [ -x "$T/emit/campaign.sbatch" ] && [ -d "$T/emit/slurm" ] \
  && ok "Slurm script OUT/campaign.sbatch with --array=1-12" || bad "Slurm script"
bash -n "$T/emit/campaign.sbatch" && ok "Slurm script is valid bash" || bad "Slurm script syntax"
# Run one array task by hand, as Slurm would.
(cd "$T" && SLURM_ARRAY_TASK_ID=5 bash "$T/emit/campaign.sbatch") && [ "$(ls "$T/emit/runs")" = "$(sed -n 5p "$T/jobs" | grep -o 't0-[^/]*\.json')" ] \
  && ok "array task 5 runs job line 5" || bad "array task 5"
"$NICSIM" campaign "$T/spec/campaign.yaml" --emit-jobs --out "$T/emit" --slurm-script "$T/other.sbatch" >/dev/null \
  && [ -s "$T/other.sbatch" ] && ok "--slurm-script FILE" || bad "--slurm-script"

# merge: unreadable reports are skipped with one warning each, and counted.
mkdir -p "$T/m/sub"
cp "$T/camp/runs/"*.json "$T/m/sub/"
printf '{"design": ' >"$T/m/truncated.json"
echo '{"runs": 3}' >"$T/m/other.json"
"$NICSIM" merge "$T/m" --json "$T/m.json" --markdown "$T/m.md" >"$T/mo" 2>"$T/me"
rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '^nicsim: merge: warning: skipped ' "$T/me")" -eq 2 ] && [ "$(wc -l <"$T/me")" -eq 2 ] \
  && ok "merge skips 2 unreadable reports, one warning line each" || { bad "merge warnings (exit $rc)"; cat "$T/me"; }
check "unreadable reports counted, the rest merged" 'd["runs"] == 12 and d["unreadable"] == 2' "$T/m.json"
grep -q "12 runs merged; 2 unreadable reports skipped" "$T/mo" && ok "table footer counts them" || bad "table footer"
expect_exit 2 "merge of a folder without reports" -- "$NICSIM" merge "$T/spec"
expect_exit 2 "merge of a missing folder" -- "$NICSIM" merge "$T/nope"
# limit: every run replays only the first N frames (replay --limit), in the
# job list too, and the campaign's identity records it.
printf 'traces: [traces/mixed.pcap]\ndesigns: [zc-shared-ring]\nseeds: 1..2\nlimit: 100\n' > "$T/spec/limit.yaml"
expect_exit 0 "campaign with limit: 100" -- "$NICSIM" campaign "$T/spec/limit.yaml" -j 2 --out "$T/lim" --quiet
check "limit: each run replayed the first 100 frames" \
  'd["trace"]["limit"] == 100 and d["trace"]["packets"] == 100' "$T/lim/runs/t0-zc-shared-ring-f0-s2.json"
"$NICSIM" replay "$T/spec/traces/mixed.pcap" --design zc-shared-ring --seed 2 --limit 100 --json "$T/lim1.json" --quiet
if python3 -c 'import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
sys.exit(0 if a["violations"] == b["violations"] and a["trace"] == b["trace"] else 1)' \
  "$T/lim/runs/t0-zc-shared-ring-f0-s2.json" "$T/lim1.json"; then
  ok "limit: the run's report is replay --limit 100's"
else
  bad "limit: the run differs from replay --limit 100"
fi
grep -qx "limit 100" "$T/lim/campaign.id" && ok "limit: in the campaign's identity" || bad "limit: not in campaign.id"
"$NICSIM" campaign "$T/spec/limit.yaml" --emit-jobs --out "$T/limj" > "$T/jobs" 2>&1
[ "$(grep -c -- ' --limit 100 ' "$T/jobs")" = 2 ] && ok "limit: every job line passes --limit 100" || bad "limit: job lines: $(head -1 "$T/jobs")"
sed -i 's/^limit: 100$/limit: 0/' "$T/spec/limit.yaml"
expect_exit 2 "limit: 0 is refused" -- "$NICSIM" campaign "$T/spec/limit.yaml" --out "$T/lim0"
grep -qx "nicsim: $T/spec/limit.yaml:4:8: limit: '0': expected a number of frames, 1 or more" "$T/err" \
  && ok "limit: 0: one line at its line and column" || bad "limit: 0: $(cat "$T/err")"
# Without -j, as many runs at a time as the CPUs the campaign may run on
# (its affinity mask), not every CPU online.
if two_cpus; then
  mkdir -p "$T/jspec"
  "$NICSIM" gen -o "$T/jspec/j.pcap" --flows 8 --packets 20000 --size 60 --rate-gbps 0.672 --seed 9 > /dev/null
  printf 'traces: [j.pcap]\ndesigns: [copy, zc-shared-ring]\nseeds: 1..3\n' > "$T/jspec/c.yaml"
  one=$(most_at_once taskset -c "$c0" "$NICSIM" campaign "$T/jspec/c.yaml" --out "$T/j1")
  two=$(most_at_once taskset -c "$c0,$c1" "$NICSIM" campaign "$T/jspec/c.yaml" --out "$T/j2")
  [ "$one" -eq 1 ] && ok "a campaign pinned to one CPU runs one run at a time" ||
    bad "a campaign pinned to one CPU ran $one runs at once"
  [ "$two" -eq 2 ] && ok "...and two at a time on two" || bad "a campaign on two CPUs ran at most $two at once"
else
  echo "skip: taskset, or a second CPU to pin to, missing: the default -j is not checked"
fi

finish
