#!/usr/bin/env bash
# A reader that went away (standard output a pipe whose reading end is
# closed) is a write error like any other: one line, exit 2, no temporary
# left behind, and a long writer stops at once. SIGPIPE's default kill
# (exit 141) left the staged waveform of --vcd - in $TMPDIR.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
cd "$T" || exit 1
cp "$G" t.pcap

# closed_out DESCRIPTION PATTERN -- COMMAND...: run COMMAND with standard
# output a pipe whose reading end is already closed (SIGPIPE at its default,
# as a shell leaves it); exit 2, one line on standard error matching PATTERN,
# nothing left in $TMPDIR.
closed_out() {
  local what=$1 pat=$2; shift 3
  python3 - "$T/err" "$@" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
with open(sys.argv[1], "w") as err:
    rc = subprocess.run(sys.argv[2:], stdout=w, stderr=err).returncode
print(rc, file=open(sys.argv[1] + ".rc", "w"))
PY
  local rc; rc=$(cat "$T/err.rc")
  if [ "$rc" = 2 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" && [ -z "$(ls -A "$TMPDIR")" ]; then
    ok "$what: exit 2, one line, no temporary"
  else
    bad "$what: exit $rc, left: $(ls -A "$TMPDIR" | tr '\n' ' ')"; sed 's/^/  | /' "$T/err" | head -3
    rm -rf "${TMPDIR:?}"/.nicsim-* "${TMPDIR:?}"/*
  fi
}

closed_out "replay --vcd - (staged in \$TMPDIR)" "-: cannot write: Broken pipe" -- \
  "$NICSIM" replay t.pcap --vcd - --json r.json -q
[ ! -e r.json ] && ok "...and no report of a run that failed" || bad "a report of a failed run"
closed_out "replay's summary" "standard output: cannot write: Broken pipe" -- "$NICSIM" replay t.pcap --json r2.json
check "...after its report was written whole" "d['verdict'] == 'safe'" r2.json
closed_out "replay --json -" "standard output: cannot write: Broken pipe" -- "$NICSIM" replay t.pcap --json -
closed_out "review's table (its temporary folder removed too)" "standard output: cannot write: Broken pipe" -- \
  "$NICSIM" review t.pcap --designs copy,zc-shared-ring -j 2
closed_out "gen -o - of 100,000,000 frames stops at the first failed write" "standard output: cannot write: Broken pipe" -- \
  "$NICSIM" gen -o - --packets 100000000 --size 60
printf 'traces: [t.pcap]\ndesigns: all\nseeds: 1..100\n' > c.yaml
closed_out "campaign --emit-jobs" "cannot write the job list to standard output: Broken pipe" -- \
  "$NICSIM" campaign c.yaml --emit-jobs --out cout
closed_out "designs" "standard output: cannot write: Broken pipe" -- "$NICSIM" designs

finish
