#!/usr/bin/env bash
# Output files: devices and FIFOs are written in place, symbolic links are
# followed, only regular files are replaced (whole); every write to standard
# output is checked; every output path is checked before the first frame;
# temporary names fit NAME_MAX; over-long paths are refused, never cut; a
# file size limit leaves the old file and no temporary behind.
source "$(dirname "$0")/lib.bash"
G="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
cd "$T" || exit 1
# A character device of our own, a copy of /dev/null (1, 3): never the real one.
mknod "$T/null" c 1 3 2>/dev/null && have_dev=1 || have_dev=0
mkfifo "$T/fifo"
no_temp() { ! ls -A "$1" | grep -q '^\.nicsim-'; }
is_dev() { [ -c "$1" ]; }

# ---- --json, --vcd, --observed to a device, through a symlink, to a FIFO ----
if [ $have_dev = 1 ]; then
  "$NICSIM" replay "$G" --json "$T/null" --vcd "$T/null" --quiet; rc=$?
  is_dev "$T/null" && [ $rc -le 1 ] && ok "--json and --vcd to a character device leave it a device" \
    || bad "a device given as --json/--vcd: rc $rc, now $(stat -c %F "$T/null")"
  ln -s null "$T/link-to-dev"
  "$NICSIM" replay "$G" --json "$T/link-to-dev" --quiet
  [ -L "$T/link-to-dev" ] && is_dev "$T/null" && ok "a symlink to a device: both stay" || bad "symlink to device replaced"
  mkdir "$T/obs"; ln -s ../null "$T/obs/app.pcap"
  "$NICSIM" replay "$G" --design zc-shared-ring --observed "$T/obs" --quiet
  [ -L "$T/obs/app.pcap" ] && is_dev "$T/null" && [ -s "$T/obs/other.pcap" ] \
    && ok "--observed: a capture name that links to a device is written through" || bad "--observed replaced a link"
else
  ok "(no mknod here: device cases skipped)"
fi
echo old > "$T/target.json"; ln -s target.json "$T/link.json"
"$NICSIM" replay "$G" --json "$T/link.json" --quiet
[ -L "$T/link.json" ] && grep -q '"verdict"' "$T/target.json" && ok "a symlink to a regular file: the link stays, its target is replaced" \
  || bad "symlink to a regular file"
( cat "$T/fifo" > "$T/fifo.out" ) & reader=$!
"$NICSIM" replay "$G" --json "$T/fifo" --quiet; rc=$?
wait $reader
[ -p "$T/fifo" ] && grep -q '"verdict"' "$T/fifo.out" && ok "--json to a FIFO: written into it, still a FIFO (rc $rc)" || bad "FIFO output"
( cat "$T/fifo" > "$T/fifo.vcd" ) & reader=$!
"$NICSIM" replay "$G" --vcd "$T/fifo" --quiet
wait $reader
[ -p "$T/fifo" ] && grep -q '\$enddefinitions' "$T/fifo.vcd" && ok "--vcd to a FIFO: the waveform goes through it" || bad "--vcd FIFO"
no_temp "$T" && ok "no temporary left" || bad "temporaries left: $(ls -A "$T" | grep nicsim)"

# ---- --vcd FILE without .vcd: FILE.vcd is not touched ----
echo keep > "$T/w.vcd"
"$NICSIM" replay "$G" --vcd "$T/w" --quiet
[ "$(cat "$T/w.vcd")" = keep ] && grep -q '\$enddefinitions' "$T/w" && ok "--vcd w leaves w.vcd alone" || bad "--vcd w clobbered w.vcd"

# ---- names at NAME_MAX: the temporary still fits ----
long=$(printf 'n%.0s' $(seq 1 250)).json
"$NICSIM" replay "$G" --json "$T/$long" --quiet && [ -s "$T/$long" ] && ok "a 255-byte file name is written" || bad "255-byte name"
toolong=$(printf 'o%.0s' $(seq 1 300))
expect_exit 2 "--observed with a 300-byte folder name is refused" -- "$NICSIM" replay "$G" --observed "$T/$toolong"
grep -q "longer than NAME_MAX" "$T/err" && ok "...saying why" || bad "over-long message: $(cat "$T/err")"
ls "$T" | grep -q '^ooooo' && bad "an over-long path was cut and created" || ok "nothing cut and created"

# ---- bad output paths: found before the first frame ----
expect_exit 2 "--json into a missing folder" -- "$NICSIM" replay "$G" --vcd "$T/early.vcd" --json "$T/no/such/r.json"
[ ! -e "$T/early.vcd" ] && ok "...refused before the run (no waveform written)" || bad "the run went on before refusing --json"
grep -q "^nicsim: --json .*no/such/r.json: cannot write" "$T/err" && ok "...naming the option and path" || bad "message: $(cat "$T/err")"
expect_exit 2 "--vcd naming a folder" -- "$NICSIM" replay "$G" --vcd "$T"

# ---- standard output checked ----
for cmd in "replay $G --json -" "replay $G" "dmabench --count 1000 --json -" "dmabench --count 1000" "designs" "review $G --designs copy --json -"; do
  # shellcheck disable=SC2086
  "$NICSIM" $cmd > /dev/full 2>"$T/err"; rc=$?
  [ $rc -eq 2 ] && grep -q "standard output: cannot write: No space left on device" "$T/err" \
    && ok "nicsim $cmd > /dev/full: exit 2 and a clear line" || bad "nicsim $cmd > /dev/full: exit $rc: $(head -2 "$T/err")"
done

# ---- review and merge: - for standard output ----
"$NICSIM" review "$G" --designs copy --json - > "$T/rev.json" 2>/dev/null
check "review --json - writes the table to standard output" "d['designs'][0]['design'] == 'copy'" "$T/rev.json"
"$NICSIM" review "$G" --designs copy --markdown - > "$T/rev.md" 2>/dev/null
grep -q '^| copy | safe |' "$T/rev.md" && [ ! -e "$T/-" ] && ok "review --markdown - writes Markdown to standard output" || bad "review --markdown -"
mkdir -p "$T/runs"; cp "$T/target.json" "$T/runs/a.json"
"$NICSIM" merge "$T/runs" --markdown - > "$T/merge.md" 2>/dev/null
grep -q '^| copy | none | 1 |' "$T/merge.md" && [ ! -e "$T/-" ] && ok "merge --markdown - writes to standard output" || bad "merge --markdown -"
"$NICSIM" merge "$T/runs" --json - > "$T/merge.json" 2>/dev/null
check "merge --json - writes JSON to standard output" "d['runs'] == 1" "$T/merge.json"
"$NICSIM" merge "$T/runs" --json - > /dev/full 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && ok "merge --json - > /dev/full: exit 2" || bad "merge to /dev/full: exit $rc"

# ---- a file size limit: the old file stays, no temporary ----
echo old > "$T/lim.json"; echo old > "$T/lim.vcd"; mkdir -p "$T/limobs"
( ulimit -f 2; "$NICSIM" replay "$G" --json "$T/lim.json" --quiet ) 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(cat "$T/lim.json")" = old ] && grep -q "File too large" "$T/err" \
  && ok "ulimit -f: --json fails with exit 2, the old report stays" || bad "ulimit -f --json: rc $rc, $(head -c 80 "$T/lim.json"); $(cat "$T/err")"
( ulimit -f 8; "$NICSIM" replay "$G" --vcd "$T/lim.vcd" --quiet ) 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(cat "$T/lim.vcd")" = old ] && ok "ulimit -f: --vcd fails with exit 2, the old waveform stays" \
  || bad "ulimit -f --vcd: rc $rc; $(cat "$T/err")"
( ulimit -f 8; "$NICSIM" replay "$G" --design zc-shared-ring --observed "$T/limobs" --vcd "$T/lim2.vcd" --quiet ) 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ -z "$(ls -A "$T/limobs")" ] && [ ! -e "$T/lim2.vcd" ] \
  && ok "ulimit -f: --observed and --vcd as a set: neither is put in place" || bad "ulimit -f --observed: rc $rc, $(ls -A "$T/limobs")"
no_temp "$T" && no_temp "$T/limobs" && ok "no temporary left after the failures" || bad "temporaries left"
finish
