#!/usr/bin/env bash
# The help is complete and true: nicsim --help lists every command the
# program dispatches; nicsim help CMD prints CMD --help; every option a
# command's help shows is one the command accepts, and every option it
# accepts is in its help. The options come from the program itself (each
# candidate spelled anywhere in the command-line sources, kept when the
# command does not reject it as unknown), so the test holds whatever the
# option tables look like.
source "$(dirname "$0")/lib.bash"
SRC=$NICSIM_SOURCE_DIR

"$NICSIM" --help > "$T/main.txt" || bad "nicsim --help failed"
listed=$(awk '/^commands:/{f=1;next} f&&/^$/{f=0} f&&/^  [a-z]+ /{print $1}' "$T/main.txt")
# Every command the program knows: each word of the sources that it does
# not answer with "unknown command".
known=""
for w in $(grep -ohE '"[a-z]{3,12}"' "$SRC"/sim/tool/cli/*.c | tr -d '"' | sort -u); do
  "$NICSIM" "$w" --help >/dev/null 2>"$T/err" </dev/null
  grep -q "unknown command" "$T/err" || known="$known $w"
done
for c in $known; do
  case "$c" in help|version) continue ;; esac
  if echo "$listed" | grep -qx "$c"; then ok "nicsim --help lists $c"; else bad "nicsim --help omits the command $c"; fi
done
for c in costs dmabench campaign merge replay review gen designs; do
  echo "$known" | grep -qw "$c" || bad "the probe missed the command $c"
done
grep -q "^  version " "$T/main.txt" && ok "the version command is documented" || bad "version is not in --help"
for v in -V --version version; do
  if [ "$("$NICSIM" $v)" = "$("$NICSIM" --version)" ] && "$NICSIM" $v | grep -qE '^nicsim [0-9]+\.[0-9]+'; then ok "$v prints the version"; else bad "$v: $("$NICSIM" $v 2>&1)"; fi
done
for c in $listed; do
  case "$c" in help|version) continue ;; esac
  "$NICSIM" "$c" --help > "$T/h1" 2>&1; r1=$?
  "$NICSIM" help "$c" > "$T/h2" 2>&1; r2=$?
  if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && cmp -s "$T/h1" "$T/h2" && grep -q "^usage: nicsim $c" "$T/h1"; then ok "nicsim help $c prints $c --help"; else bad "nicsim help $c differs from $c --help"; fi
done
expect_exit 2 "help of an unknown command" -- "$NICSIM" help frobnicate
# The help points only at documentation that is installed (share/doc/nicsim).
if "$NICSIM" --help | grep -qE '(^|[ (])docs/[a-z-]+\.md' ; then bad "the help names docs/ files, which are not installed"; else ok "the help names no uninstalled docs/ path"; fi
for c in $listed; do
  case "$c" in help|version) continue ;; esac
  "$NICSIM" "$c" --help | grep -oE '[^ (]*share/doc/nicsim/[a-z-]+\.md' | while read -r f; do
    [ -f "$SRC/docs/$(basename "$f")" ] && echo "ok $f" || echo "missing $f"
  done
done > "$T/docrefs"
if grep -q missing "$T/docrefs"; then bad "the help names docs that do not exist: $(grep missing "$T/docrefs")"; else ok "every documentation path in the help exists ($(wc -l < "$T/docrefs") references)"; fi

# Candidate options: every -x and --long spelled in the command-line sources
# (string literals, and the names of getopt_long tables).
cands=$( (grep -ohE '"--?[a-zA-Z][a-zA-Z0-9-]*' "$SRC"/sim/tool/cli/*.c "$SRC"/sim/tool/campaign/*.c "$SRC"/sim/tool/bench/*.c | tr -d '"';
          grep -ohE '\{"[a-z][a-z0-9-]+", *(no|required|optional)_argument' "$SRC"/sim/tool/cli/*.c "$SRC"/sim/tool/campaign/*.c "$SRC"/sim/tool/bench/*.c |
            sed -E 's/^\{"([^"]+)".*/--\1/') | grep -E '^(-[a-zA-Z]|--[a-z][a-z0-9-]+)$' | sort -u)

# Probe every command with every candidate, four at a time: a line "CMD OPT
# yes" when the command does not reject OPT as unknown, "CMD OPT no" else.
mkdir -p "$T/probe"
export NICSIM PROBE=$T/probe
for c in $listed; do
  case "$c" in help|version) continue ;; esac
  for o in $cands; do echo "$c $o"; done
done | xargs -P 4 -L 1 bash -c 'err=$(cd "$PROBE" && timeout 60 "$NICSIM" "$0" "$1" </dev/null 2>&1 >/dev/null)
  if echo "$err" | grep -qiE "unknown (option|argument)|unrecognized option|invalid option|unexpected argument"; then
    echo "$0 $1 no"; else echo "$0 $1 yes"; fi' > "$T/accepted"
accepts() {
  if ! grep -qx -- "$1 $2 [a-z]*" "$T/accepted"; then
    (cd "$T/probe" && timeout 60 "$NICSIM" "$1" "$2" </dev/null >/dev/null 2>"$T/perr")
    ! grep -qiE "unknown (option|argument)|unrecognized option|invalid option|unexpected argument" "$T/perr"
    return
  fi
  grep -qx -- "$1 $2 yes" "$T/accepted"
}

for c in $listed; do
  case "$c" in help|version) continue ;; esac
  "$NICSIM" "$c" --help > "$T/help.$c"
  # Options of the help: the first column of its option lines, and the usage synopsis.
  python3 - "$T/help.$c" > "$T/opts.$c" <<'PY'
import re, sys
text = open(sys.argv[1]).read().splitlines()
opts = set()
syn = True
for line in text:
    if syn:
        if not line.strip():
            syn = False
        opts.update(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])", line))
        continue
    if re.match(r"^  -", line):
        left = re.split(r" {2,}", line.strip())[0]
        opts.update(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])", left))
print("\n".join(sorted(opts)))
PY
  missing_in_help=""; not_accepted=""
  for o in $(cat "$T/opts.$c"); do
    accepts "$c" "$o" || not_accepted="$not_accepted $o"
  done
  for o in $cands; do
    if accepts "$c" "$o" && ! grep -qx -- "$o" "$T/opts.$c"; then missing_in_help="$missing_in_help $o"; fi
  done
  [ -z "$not_accepted" ] && ok "$c: every option of its help is accepted ($(wc -l < "$T/opts.$c"))" || bad "$c: help shows options it rejects:$not_accepted"
  [ -z "$missing_in_help" ] && ok "$c: every option it accepts is in its help" || bad "$c: accepts options its help omits:$missing_in_help"
done
# The probe itself: an option the code rejects is seen as such.
accepts replay --frobnicate && bad "the probe takes --frobnicate for an option" || ok "the probe sees an unknown option"
finish
