#!/usr/bin/env bash
# nicsim campaign through GNU parallel (Debian's `parallel`): the job lines
# of --emit-jobs run as they are under `parallel -j 2`, then `nicsim merge`
# gives the same merged JSON as the local engine on the same spec, byte for
# byte. Also through --sshlogin with the local host (":", no ssh), and the
# exit status parallel reports counts failed runs, not unsafe ones.
. "$(dirname "$0")/lib.bash"

if ! command -v parallel >/dev/null || ! parallel --version 2>/dev/null | head -1 | grep -q "GNU parallel"; then
  bad "GNU parallel is not installed (Debian package 'parallel'; scripts/setup.sh installs it): cannot test the engine"
  finish
  exit 1
fi

cat >"$T/campaign.yaml" <<EOF
traces: ["$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"]
designs: [zc-shared-ring, copy]
faults:
  - []
  - ["malicious_dma:prob=0.05"]
seeds: 1..3
EOF

# The reference: the local engine.
"$NICSIM" campaign "$T/campaign.yaml" -j 2 --out "$T/local" --quiet
rc=$?
[ $rc -eq 0 ] && ok "local engine (exit 0)" || bad "local engine exit $rc"

# GNU parallel, from another folder.
start=$(date +%s.%N)
(cd / && "$NICSIM" campaign "$T/campaign.yaml" --emit-jobs --out "$T/par" | parallel --will-cite -j 2) >"$T/po" 2>"$T/pe"
rc=$?
end=$(date +%s.%N)
[ $rc -eq 0 ] && ok "--emit-jobs | parallel -j 2: exit 0 though runs found violations ($(python3 -c "print(round($end-$start,2))") s)" \
  || { bad "parallel exit $rc"; head -5 "$T/pe"; }
[ ! -s "$T/po" ] && [ ! -s "$T/pe" ] && ok "quiet runs: parallel printed nothing" || { bad "output from the runs"; head -5 "$T/po" "$T/pe"; }
[ "$(ls "$T/par/runs" | wc -l)" -eq 12 ] && ok "12 reports" || bad "$(ls "$T/par/runs" | wc -l) reports"
"$NICSIM" merge "$T/par/runs" --json "$T/par.json" --quiet
rc=$?
[ $rc -eq 0 ] && ok "nicsim merge (exit 0)" || bad "merge exit $rc"
cmp -s "$T/par.json" "$T/local/merged.json" && ok "merged JSON identical to the local engine's" || bad "merged JSON differs from the local engine's"
python3 -c "import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); assert a==b and a['runs']==12" \
  "$T/par.json" "$T/local/merged.json" && ok "same JSON values (12 runs)" || bad "JSON values differ"
# The reports themselves are the same, byte for byte (runs are deterministic).
same=1
for f in "$T/local/runs/"*.json; do cmp -s "$f" "$T/par/runs/$(basename "$f")" || same=0; done
[ $same -eq 1 ] && ok "every report identical to the local engine's" || bad "reports differ between engines"

# --sshlogin: ':' is the local host without ssh; the job lines go through
# parallel's remote-command quoting all the same.
(cd / && "$NICSIM" campaign "$T/campaign.yaml" --emit-jobs --out "$T/ssh" | parallel --will-cite --sshlogin 2/: ) >/dev/null 2>"$T/se"
rc=$?
[ $rc -eq 0 ] && ok "parallel --sshlogin 2/: (exit 0)" || { bad "parallel --sshlogin exit $rc"; head -5 "$T/se"; }
"$NICSIM" merge "$T/ssh/runs" --json "$T/ssh.json" --quiet && cmp -s "$T/ssh.json" "$T/local/merged.json" \
  && ok "--sshlogin: merged JSON identical" || bad "--sshlogin: merged JSON differs"

# Paths with spaces and quotes survive the shell.
mkdir -p "$T/odd dir's"
cp "$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap" "$T/odd dir's/trace one.pcap"
cat >"$T/odd dir's/c.yaml" <<'EOF'
traces: ["trace one.pcap"]
designs: [copy]
seeds: [4]
EOF
"$NICSIM" campaign "$T/odd dir's/c.yaml" --emit-jobs --out "$T/odd dir's/out" | parallel --will-cite -j 2
rc=$?
[ $rc -eq 0 ] && [ -s "$T/odd dir's/out/runs/t0-copy-f0-s4.json" ] && ok "spaces and quotes in paths" || bad "odd paths (exit $rc)"

# A failing run: parallel's exit status is the number of failed jobs.
echo "not a capture" >"$T/broken.pcap"
cat >"$T/failing.yaml" <<EOF
traces: ["$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap", broken.pcap]
designs: [zc-shared-ring]
seeds: 1..2
EOF
"$NICSIM" campaign "$T/failing.yaml" --emit-jobs --out "$T/fail" | parallel --will-cite -j 2 >/dev/null 2>"$T/fe"
rc=$?
[ $rc -eq 2 ] && ok "2 failed runs: parallel exits 2 (unsafe runs are not failures)" || bad "parallel exit $rc with 2 failed runs"
grep -q "broken.pcap" "$T/fe" && ok "the failed runs' errors reach standard error" || bad "no error from the failed runs"
"$NICSIM" merge "$T/fail/runs" --json "$T/fail.json" --quiet
check "the completed runs merge" 'd["runs"] == 2 and d["groups"][0]["unsafe_runs"] == 2' "$T/fail.json"
finish
