#!/usr/bin/env bash
# docs/claims.md is what the current build prints for every claim: it is
# regenerated from real runs and compared with the committed file.
source "$(dirname "$0")/lib.bash"
python3 "$NICSIM_SOURCE_DIR/scripts/claims.py" "$NICSIM" > "$T/claims.md" || bad "scripts/claims.py failed"
if diff -u "$NICSIM_SOURCE_DIR/docs/claims.md" "$T/claims.md" > "$T/diff"; then
  ok "docs/claims.md matches what this build prints"
else
  bad "docs/claims.md is out of date: regenerate with 'python3 scripts/claims.py build/nicsim > docs/claims.md'"
  head -40 "$T/diff"
fi
grep -q "^## U5" "$T/claims.md" && ok "every claim is in the catalogue" || bad "claims missing"
finish
