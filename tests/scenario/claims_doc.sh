#!/usr/bin/env bash
# docs/claims.md is what the current build prints for every claim: it is
# regenerated from real runs and compared with the committed file, and each
# claim's printed evidence is held, claim by claim, to the outcome mission.md
# expects (tests/scenario/claims_check.py).
source "$(dirname "$0")/lib.bash"
python3 "$NICSIM_SOURCE_DIR/scripts/claims.py" "$NICSIM" > "$T/claims.md" || bad "scripts/claims.py failed"
if diff -u "$NICSIM_SOURCE_DIR/docs/claims.md" "$T/claims.md" > "$T/diff"; then
  ok "docs/claims.md matches what this build prints"
else
  bad "docs/claims.md is out of date: regenerate with 'python3 scripts/claims.py build/nicsim > docs/claims.md'"
  head -40 "$T/diff"
fi
python3 "$(dirname "$0")/claims_check.py" "$T/claims.md" > "$T/check"
rc=$?
while IFS= read -r line; do
  case "$line" in
    ok:*) ok "${line#ok: }" ;;
    *) bad "${line#FAIL: }" ;;
  esac
done < "$T/check"
[ $rc -eq 0 ] || [ "$failures" -gt 0 ] || bad "claims_check.py failed"
finish
