#!/usr/bin/env bash
# Golden reports: every case of tests/golden/cases.tsv (every built-in design
# on the bundled sample, --set and --fault variants, corpus captures,
# generated traces) gives the stored report byte for byte (and the stored
# --observed pcaps). Speed work must keep results bit-identical; a change to
# the model that is meant to change them regenerates the goldens with
# scripts/update-golden, and says so in its commit.
source "$(dirname "$0")/lib.bash"
source "$NICSIM_SOURCE_DIR/tests/golden/run-case.bash"
G="$NICSIM_SOURCE_DIR/tests/golden"
mkdir -p "$T/out"
while IFS=$'\t' read -r name trace args; do
  # A corpus capture: from the shared corpus, else the copy shipped under
  # tests/captures; a case whose capture is in neither is skipped where the
  # corpus is not present (a plain clone).
  dir=$CORPUS
  if [ "${trace#corpus:}" != "$trace" ] && [ ! -f "$CORPUS/${trace#corpus:}" ]; then
    if [ -f "$CORPUS/MANIFEST.tsv" ]; then
      bad "$name: corpus capture ${trace#corpus:} is missing"
      continue
    elif [ -f "$CAPTURES/${trace#corpus:}" ]; then
      dir=$CAPTURES
    else
      echo "skipped: $name: corpus not present ($CORPUS)"
      continue
    fi
  fi
  if ! golden_run "$NICSIM" "$NICSIM_SOURCE_DIR" "$dir" "$T" "$name" "$trace" "$args" "$T/out"; then
    bad "$name: replay failed"
    continue
  fi
  if [ ! -f "$G/$name.json" ]; then
    bad "$name: no stored report (scripts/update-golden)"
  elif cmp -s "$G/$name.json" "$T/out/$name.json"; then
    ok "$name: report identical"
  else
    bad "$name: report differs from tests/golden/$name.json"
    diff -u "$G/$name.json" "$T/out/$name.json" | head -30 | sed 's/^/  | /'
  fi
  if [ -f "$T/out/$name.observed" ]; then
    if cmp -s "$G/$name.observed" "$T/out/$name.observed"; then
      ok "$name: observed pcaps identical"
    else
      bad "$name: observed pcaps differ"
      diff "$G/$name.observed" "$T/out/$name.observed" | sed 's/^/  | /'
    fi
  fi
done < <(golden_cases "$G/cases.tsv")
finish
