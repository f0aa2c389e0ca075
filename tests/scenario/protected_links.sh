#!/usr/bin/env bash
# A symbolic link another user planted in a sticky world-writable folder (as
# /tmp) is not followed by an output, as Linux's fs.protected_symlinks would
# not follow it: run as root, nicsim must not replace the file it points at.
# A link of the program's own user there is followed as before.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
  echo "skipped: needs root, the user nobody and setpriv"
  exit 77
fi
chmod 755 "$T"
mkdir "$T/shared"
chmod 1777 "$T/shared"
echo precious > "$T/victim"
as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
as_nobody ln -s "$T/victim" "$T/shared/r.json"
as_nobody ln -s "$T/victim" "$T/shared/w.vcd"
as_nobody mkdir "$T/shared/obs"
as_nobody ln -s "$T/victim" "$T/shared/obs-link"

expect_exit 2 "--json through another user's link in a sticky folder" -- \
  "$NICSIM" replay "$G" --limit 10 --json "$T/shared/r.json" -q
grep -q 'fs.protected_symlinks' "$T/err" && [ "$(wc -l < "$T/err")" -eq 1 ] && ok "...one line saying why" \
  || bad "...said: $(cat "$T/err")"
expect_exit 2 "--vcd through it" -- "$NICSIM" replay "$G" --limit 10 --vcd "$T/shared/w.vcd" -q
expect_exit 2 "review --html through it" -- "$NICSIM" review "$G" --limit 10 --designs copy --html "$T/shared/r.json" -q
expect_exit 2 "merge --markdown through it" -- "$NICSIM" merge "$NICSIM_SOURCE_DIR/tests/golden" --markdown "$T/shared/r.json" -q
[ "$(cat "$T/victim")" = precious ] && ok "the file the links point at is untouched" || bad "the victim was replaced"
[ -L "$T/shared/r.json" ] && [ -L "$T/shared/w.vcd" ] && ok "the links stay" || bad "a link was replaced"
! ls -A "$T/shared" "$T" | grep -q '^\.nicsim-' && ok "no temporary left" || bad "a temporary was left"

# The program's own link in the same folder, and another user's link in a
# folder that is not sticky, are followed.
ln -s "$T/victim" "$T/shared/own.json"
expect_exit 0 "--json through the program's own link there" -- "$NICSIM" replay "$G" --limit 10 --json "$T/shared/own.json" -q
grep -q '"verdict"' "$T/victim" && ok "...writes its target" || bad "...target not written"
mkdir "$T/plain"
as_nobody true && ln -s "$T/victim" "$T/plain/l.json" && chown -h nobody "$T/plain/l.json"
expect_exit 0 "--json through another user's link in a folder that is not sticky" -- \
  "$NICSIM" replay "$G" --limit 10 --json "$T/plain/l.json" -q
finish
