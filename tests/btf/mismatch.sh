#!/usr/bin/env bash
# The BTF layout test fails on a mismatch: a copy of the layout header with
# destructor_arg at 32 (where dataref is) must be caught.
set -u
HERE=$(dirname "$0")
HEADER=${1:?layout header}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
sed 's/^#define LINUX_SHINFO_DESTRUCTOR_ARG 40u/#define LINUX_SHINFO_DESTRUCTOR_ARG 32u/' "$HEADER" > "$T/layout.h"
PY=/usr/bin/python3 # Debian's, as in tests/scenario/lib.bash
[ -x "$PY" ] || PY=python3
"$PY" "$HERE/btf_layout.py" "$T/layout.h" > "$T/out"
rc=$?
cat "$T/out"
[ $rc -eq 77 ] && exit 77
if [ $rc -eq 1 ] && grep -q "^FAIL: LINUX_SHINFO_DESTRUCTOR_ARG = 32 in the model, 40 in the kernel" "$T/out"; then
  echo "ok: the mismatch is caught"
  exit 0
fi
echo "FAIL: a wrong destructor_arg offset was not caught (exit $rc)"
exit 1
