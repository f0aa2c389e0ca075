#!/usr/bin/env bash
# Every capture of the shared corpus (../shared/corpus/MANIFEST.tsv): replay
# answers 0, 1 or 2, never a crash or a hang, and an error is one line.
# Skipped where the corpus is not present (a plain clone).
source "$(dirname "$0")/lib.bash"
need_corpus

# Every corpus file: exit 0, 1 or 2, never a crash or a hang.
crashes=0
while IFS=$'\t' read -r path _; do
  [ "$path" = path ] && continue
  timeout 60 "$NICSIM" replay "$CORPUS/$path" --design zc-shared-ring-writable --quiet >/dev/null 2>"$T/err"
  rc=$?
  if [ $rc -gt 2 ]; then crashes=$((crashes + 1)); echo "  crash or hang ($rc) on $path: $(head -2 "$T/err")"; fi
  if [ $rc -eq 2 ] && [ "$(wc -l < "$T/err")" -ne 1 ]; then crashes=$((crashes + 1)); echo "  not one line on $path"; fi
done < "$CORPUS/MANIFEST.tsv"
if [ $crashes -eq 0 ]; then ok "every corpus capture answered with 0, 1 or 2 and at most one error line"; else bad "$crashes corpus captures crashed, hung or were unclear"; fi

finish
