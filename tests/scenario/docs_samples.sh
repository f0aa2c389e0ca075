#!/usr/bin/env bash
# The documentation's sample outputs are what this build prints: every
# <!-- sample: NAME --> block of README.md and docs/*.md is regenerated from
# real runs (scripts/docs-samples.py) and compared; the user guide has the
# samples a new user reads (the package list from scripts/setup.sh, the
# commands' synopsis, the replay summary, the review table and the report's
# keys), error examples run with their exit status, and the README says what
# the test command runs.
source "$(dirname "$0")/lib.bash"
SRC=$NICSIM_SOURCE_DIR
if python3 "$SRC/scripts/docs-samples.py" "$NICSIM" --check > "$T/diff" 2>&1; then
  ok "every sample in the documentation matches this build"
else
  bad "stale samples: regenerate with 'python3 scripts/docs-samples.py build/nicsim'"
  head -40 "$T/diff"
fi
for s in packages synopsis replay-summary review-table review-keys report-keys; do
  grep -q "^<!-- sample: $s -->" "$SRC/docs/user-guide.md" && ok "the user guide's $s is generated" || bad "the user guide's $s is not generated"
done
# The program's output elsewhere in the documentation is generated too: the
# error examples (with their exit status), campaign listings, the dmabench
# sweep, the designs, faults and costs listings.
for fs in robustness:robustness-errors campaigns:spec-errors campaigns:campaign-identity campaigns:campaign-jobs \
          campaigns:campaign-sbatch campaigns:merge-json campaigns:merge-table iommu:dmabench-sweep \
          user-guide:scenario-errors user-guide:xdp-errors designs:designs-list faults:faults-help timing:costs \
          traces:linktype-errors traces:record-errors traces:gen-synopsis; do
  f=${fs%%:*} s=${fs#*:}
  grep -q "^<!-- sample: $s -->" "$SRC/docs/$f.md" && ok "docs/$f.md: $s is generated" || bad "docs/$f.md: $s is not generated"
done
# No error line of the program is written by hand outside a sample block.
stray=$(for f in "$SRC/README.md" "$SRC"/docs/*.md; do
  awk -v F="${f#$SRC/}" '/^<!-- sample:/{s=1} /^<!-- end sample -->/{s=0} !s && /^(\$ )?nicsim: /{print F":"NR": "$0}' "$f"
  grep -Hn '`nicsim: ' "$f" | sed "s|^$SRC/||"
done)
[ -z "$stray" ] && ok "no hand-written error line outside the samples" || bad "hand-written error lines: $(echo "$stray" | head -3)"
# The user guide's table of scenario keys has every key replay --help lists, and no other.
want=$("$NICSIM" replay --help | awk '$0=="scenario keys:"{f=1;next} f&&/^$/{f=0} f&&/^  [a-z]/{print $1}' | sort)
got=$(grep -o '^| `[a-z_]*\.[a-z_]*` |' "$SRC/docs/user-guide.md" | tr -d '|` ' | sort)
[ -n "$want" ] && [ "$want" = "$got" ] && ok "the guide's scenario keys are replay --help's ($(echo "$want" | wc -l))" \
  || bad "scenario keys differ: $(diff <(echo "$want") <(echo "$got") | head -5)"
# Every package scripts/setup.sh installs is in the guide's list, and no other.
want=$(bash -c 'eval "$(sed -n "/^PKGS=(/,/)/p" "$1")"; printf "%s\n" "${PKGS[@]}"' _ "$SRC/scripts/setup.sh" | sort)
got=$(sed -n '/^<!-- sample: packages -->/,/^<!-- end sample -->/p' "$SRC/docs/user-guide.md" | grep -v '^<!--' | tr -d '`' | tr ' ' '\n' | grep -v '^$' | sort)
[ -n "$want" ] && [ "$want" = "$got" ] && ok "the guide's package list is setup.sh's ($(echo "$want" | wc -l) packages)" || bad "package lists differ: $(diff <(echo "$want") <(echo "$got") | head -5)"
# The check catches a stale sample.
mkdir -p "$T/src/docs" "$T/src/scripts" "$T/src/traces/samples"
cp "$SRC/scripts/docs-samples.py" "$SRC/scripts/setup.sh" "$T/src/scripts/"
cp "$SRC/traces/samples/mixed.pcap" "$T/src/traces/samples/"
printf '# r\n' > "$T/src/README.md"
printf 'x\n<!-- sample: cpu-lines -->\n```\n  cpu: 583.4 cycles per packet (clear 0, copy 27284)\n```\n<!-- end sample -->\n' > "$T/src/docs/g.md"
python3 "$T/src/scripts/docs-samples.py" "$NICSIM" --check > "$T/out2" 2>&1 && bad "a stale sample passed the check" || ok "a stale sample fails the check"
python3 "$T/src/scripts/docs-samples.py" "$NICSIM" > /dev/null && python3 "$T/src/scripts/docs-samples.py" "$NICSIM" --check > /dev/null \
  && grep -q "cpu per packet" "$T/src/docs/g.md" && ok "regenerating makes it current" || bad "regenerating did not fix the sample"
# The README says what the test command runs and how long it takes.
for w in "AddressSanitizer" "valgrind" "libFuzzer" "minutes" "corpus not present"; do
  grep -q "$w" "$SRC/README.md" && ok "README mentions $w" || bad "README does not mention $w"
done
finish
