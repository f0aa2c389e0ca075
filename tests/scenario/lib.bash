# Shared helpers of the scenario tests (sourced; not a test itself).
set -u
: "${NICSIM:?NICSIM must name the built program}"
: "${NICSIM_SOURCE_DIR:?}"
CORPUS=${NICSIM_CORPUS:-$NICSIM_SOURCE_DIR/../shared/corpus}
# Real captures shipped with the tests (tests/captures/README.md): the same
# paths as in the shared corpus, present in every clone.
CAPTURES=$NICSIM_SOURCE_DIR/tests/captures
mkdir -p "${TMPDIR_BASE:-/tmp}"
T=$(mktemp -d "${TMPDIR_BASE:-/tmp}/scenario.XXXXXX")
trap 'rm -rf "$T"' EXIT
# The python3 of these scripts (and of every program they start) is Debian's,
# the one scripts/setup.sh installs with python3-jsonschema: first on PATH
# through a link in $T. A version manager's `python3` found earlier on PATH
# may be a shell script that costs half a second a call, and the tests call
# python3 thousands of times.
if [ -x /usr/bin/python3 ]; then
  mkdir -p "$T/.bin" && ln -s /usr/bin/python3 "$T/.bin/python3" && PATH=$T/.bin:$PATH
fi
failures=0
checks=0
# Sanitizer build: every report of every program this script runs goes to
# $T/sanitizer.PID, and finish() fails the test when there is one.
if [ -n "${NICSIM_SANITIZED:-}" ]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/sanitizer"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/sanitizer"
fi

ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $*"; }

# expect_exit CODE DESCRIPTION -- COMMAND...: run, compare the exit status.
expect_exit() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then ok "$what (exit $got)"; else bad "$what: exit $got, wanted $want"; sed 's/^/  | /' "$T/err" | head -5; fi
}

# jval FILE EXPR: evaluate a Python expression over the JSON document `d`.
jval() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# check DESCRIPTION PYTHON-CONDITION FILE
check() {
  local what=$1 cond=$2 file=$3
  if [ "$(jval "$file" "bool($cond)")" = "True" ]; then ok "$what"; else bad "$what [$cond]"; fi
}

# need_corpus: end a test that sweeps the whole shared corpus as skipped
# (CTest's SKIP_RETURN_CODE 77) when the corpus is not present.
need_corpus() {
  if [ ! -f "$CORPUS/MANIFEST.tsv" ]; then
    echo "skipped: corpus not present ($CORPUS)"
    exit 77
  fi
}

# most_at_once CMD...: run CMD (its output discarded) and print the most of
# its child processes alive at one time, sampled every 20 ms.
most_at_once() {
  "$@" > /dev/null 2>&1 &
  local pid=$! most=0 n
  while kill -0 "$pid" 2>/dev/null; do
    n=$(pgrep -c -P "$pid" || true)
    [ "${n:-0}" -gt "$most" ] && most=$n
    sleep 0.02
  done
  wait "$pid"
  echo "$most"
}

# two_cpus: set c0 and c1 to the first two CPUs of this process's own
# affinity mask (a container may not have CPUs 0 and 1); fails when there
# are fewer or taskset cannot pin to them.
two_cpus() {
  read -r c0 c1 < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0))[:2])')
  command -v taskset >/dev/null && [ -n "$c1" ] && taskset -c "$c0" true 2>/dev/null
}

finish() {
  local rep
  for rep in "$T"/sanitizer.*; do
    [ -e "$rep" ] || continue
    bad "sanitizer report $(basename "$rep")"; head -30 "$rep"
  done
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
