# Sourced by scripts/update-golden and tests/scenario/golden.sh (not a test).
# golden_run NICSIM SRC CORPUS WORKDIR NAME TRACE ARGS OUTDIR: replay one case
# of tests/golden/cases.tsv and leave OUTDIR/NAME.json (and NAME.observed).
#
# The report is deterministic apart from two fields that name the build and
# the file rather than the model: nicsim_version is replaced by "GOLDEN", and
# the trace is always replayed as "trace.pcap" from WORKDIR so trace.path is
# fixed.
golden_run() {
  local nicsim=$1 src=$2 corpus=$3 work=$4 name=$5 trace=$6 args=$7 out=$8
  local dir="$work/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  case "$trace" in
    corpus:*) cp "$corpus/${trace#corpus:}" "$dir/trace.pcap" || return 2 ;;
    gen:*)
      # shellcheck disable=SC2086
      "$nicsim" gen -o "$dir/trace.pcap" ${trace#gen:} >/dev/null || return 2 ;;
    *) cp "$src/$trace" "$dir/trace.pcap" || return 2 ;;
  esac
  local observed=0
  case " $args " in *" OBSERVED "*) observed=1 ;; esac
  args=${args//OBSERVED/observed}
  local rc=0
  # shellcheck disable=SC2086
  (cd "$dir" && "$nicsim" replay trace.pcap $args --json report.json --quiet) || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "golden: case $name: nicsim replay exited $rc" >&2
    return 2
  fi
  sed -E '0,/"nicsim_version":/s/("nicsim_version":)"[^"]*"/\1"GOLDEN"/' "$dir/report.json" > "$out/$name.json"
  if [ $observed -eq 1 ]; then
    (cd "$dir/observed" && sha256sum -- *.pcap) > "$out/$name.observed"
  fi
  rm -rf "$dir"
}

# golden_cases FILE: the non-comment lines of the case list.
golden_cases() { grep -v '^#' "$1" | grep -v '^[[:space:]]*$'; }
