#!/usr/bin/env bash
# An output is never an input of the same command (the trace, the scenario,
# the spec, a report merged) nor another of its outputs: each such command is
# refused with one line, exit 2, before anything is written, and the input
# stays byte for byte what it was.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
cd "$T" || exit 1
cp "$G" t.pcap
printf 'design: copy\n' > s.yaml
intact() { cmp -s "$G" t.pcap && [ "$(cat s.yaml)" = "design: copy" ]; }
no_temp() { ! ls -A "$1" | grep -q '^\.nicsim-'; }

# refused DESCRIPTION PATTERN -- COMMAND...: exit 2, one line matching PATTERN,
# the inputs intact and no temporary left.
refused() {
  local what=$1 pat=$2; shift 3
  "$@" > "$T/out" 2> "$T/err"
  local rc=$?
  if [ "$rc" -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" && intact && no_temp .; then
    ok "$what: refused ($(cat "$T/err"))"
  else
    bad "$what: exit $rc, inputs intact: $(intact && echo yes || echo NO)"; sed 's/^/  | /' "$T/err" | head -3
    cp "$G" t.pcap; printf 'design: copy\n' > s.yaml
  fi
}

# ---- replay: the trace, the scenario, two outputs on one file ----
refused "--json the trace" "it is the trace t.pcap" -- "$NICSIM" replay t.pcap --json t.pcap -q
refused "--vcd the trace, spelt another way" "it is the trace" -- "$NICSIM" replay t.pcap --vcd ./t.pcap -q
ln -s t.pcap link.pcap
refused "--json the trace, the trace given through a link" "it is the trace" -- "$NICSIM" replay link.pcap --json t.pcap -q
ln t.pcap hard.pcap
refused "--json a hard link of the trace" "it is the trace" -- "$NICSIM" replay t.pcap --json hard.pcap -q
refused "--json the scenario" "it is the scenario s.yaml" -- "$NICSIM" replay t.pcap --scenario s.yaml --json s.yaml -q
mkdir obs
cp "$G" obs/other.pcap
"$NICSIM" replay obs/other.pcap --design zc-shared-ring --observed obs -q 2> "$T/err"
rc=$?
if [ "$rc" -eq 2 ] && cmp -s "$G" obs/other.pcap && grep -q 'observed obs/other.pcap: cannot write: it is the trace' "$T/err" \
  && [ ! -e obs/app.pcap ] && no_temp obs; then
  ok "--observed DIR holding the trace as a principal's file: refused, the trace intact, nothing written"
else
  bad "--observed over the trace: exit $rc, trace $(cmp -s "$G" obs/other.pcap && echo intact || echo REPLACED)"; cat "$T/err"
fi
echo old > r.json
refused "--json and --vcd one existing file" "--json r.json writes the same file" -- "$NICSIM" replay t.pcap --json r.json --vcd r.json -q
[ "$(cat r.json)" = old ] && ok "the file named twice is untouched" || bad "the file named twice was written"
refused "--json and --vcd one new file, spelt two ways" "writes the same file" -- "$NICSIM" replay t.pcap --json new.json --vcd ./new.json -q
[ ! -e new.json ] && ok "nothing created" || bad "new.json created"
refused "--json and --observed's file" "writes the same file" -- \
  "$NICSIM" replay t.pcap --design zc-shared-ring --observed obs --json obs/app.pcap -q
refused "--json - and --vcd -" "standard output too" -- "$NICSIM" replay t.pcap --json - --vcd -
expect_exit 0 "--json and --vcd both /dev/null (written in place)" -- "$NICSIM" replay t.pcap --json /dev/null --vcd /dev/null -q

# ---- review ----
refused "review --html the trace" "it is the trace" -- "$NICSIM" review t.pcap --designs copy --html t.pcap -q
refused "review --json and --markdown one file" "writes the same file" -- \
  "$NICSIM" review t.pcap --designs copy --json x.json --markdown x.json -q

# ---- merge: an output that is one of the reports merged ----
mkdir runs
"$NICSIM" replay t.pcap --limit 50 --json runs/a.json -q
"$NICSIM" replay t.pcap --limit 50 --design zc-shared-ring --json runs/b.json -q
cp runs/a.json a.saved
refused "merge --json one of the reports" "one of the reports merged" -- "$NICSIM" merge runs --json runs/a.json -q
refused "merge --markdown one of the reports, through another path" "one of the reports merged" -- \
  "$NICSIM" merge runs --markdown runs/../runs/a.json -q
cmp -s a.saved runs/a.json && ok "the report stays whole" || bad "merge replaced a report it merged"
expect_exit 0 "merge --json beside the reports (not one of them)" -- "$NICSIM" merge runs --json runs/merged.json -q

# ---- campaign: --slurm-script over the spec, a trace or the job list ----
printf 'traces: [t.pcap]\ndesigns: [copy]\nlimit: 10\n' > c.yaml
cp c.yaml c.saved
refused "--slurm-script the spec" "it is the spec c.yaml" -- "$NICSIM" campaign c.yaml --emit-jobs --out o1 --slurm-script c.yaml
cmp -s c.yaml c.saved && ok "the spec stays whole" || bad "the spec was replaced"
refused "--slurm-script a trace" "it is a trace" -- "$NICSIM" campaign c.yaml --emit-jobs --out o2 --slurm-script t.pcap
refused "--slurm-script the job list" "writes the same file" -- \
  "$NICSIM" campaign c.yaml --emit-jobs --out o3 --slurm-script o3/jobs.txt
[ ! -e o3/jobs.txt ] && ok "no job list written" || bad "the job list was written"
expect_exit 0 "--slurm-script inside the out folder" -- "$NICSIM" campaign c.yaml --emit-jobs --out o4 --slurm-script o4/x.sbatch

finish
