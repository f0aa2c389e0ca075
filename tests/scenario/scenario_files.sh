#!/usr/bin/env bash
# Scenario files (replay --scenario FILE): a file gives the same run as the
# equivalent --design/--set command line; --set applies after the file; a
# broken file is one line on standard error with FILE:LINE:COLUMN and exit 2;
# `nicsim designs --show NAME` prints a file that loads back as that design.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 300 --size imix --seed 7 || bad "gen"
G=$T/g.pcap

# same_run DESCRIPTION A.json B.json: the reports are equal apart from "design".
same_run() {
  local what=$1 a=$2 b=$3
  if python3 - "$a" "$b" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("design", None)
sys.exit(0 if a == b else 1)
EOF
  then ok "$what"; else bad "$what: the reports differ"; fi
}

# one_line DESCRIPTION PATTERN -- COMMAND...: exit 2, exactly one line on
# standard error, matching the grep pattern.
one_line() {
  local what=$1 pat=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local rc=$? lines
  lines=$(wc -l < "$T/err")
  if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
    ok "$what: $(cat "$T/err")"
  else
    bad "$what: exit $rc, $lines lines on stderr: $(head -3 "$T/err")"
  fi
}

# A nested file on a base design, with a dotted key and a list, against the
# same keys on the command line.
cat > "$T/c1.yaml" <<'EOF'
# C1 with clearing on recycle, as a file.
design: zc-shared-ring
summary: "zc-shared-ring, pages mapped per packet and cleared on recycle"
pool:
  clear: on_recycle     # clear every recycled page
app.mapping_lifetime: per_packet
nic:
  queues: 2
  rss_queues: [0, 1]
EOF
"$NICSIM" replay "$G" --scenario "$T/c1.yaml" --json "$T/c1-file.json" --quiet
rc_file=$?
"$NICSIM" replay "$G" --design zc-shared-ring --set pool.clear=on_recycle --set app.mapping_lifetime=per_packet \
  --set nic.queues=2 --set 'nic.rss_queues=[0,1]' --json "$T/c1-cli.json" --quiet
rc_cli=$?
if [ $rc_file -eq $rc_cli ] && [ $rc_file -le 1 ]; then ok "same exit status ($rc_file) from the file and the command line"; else bad "exit $rc_file from the file, $rc_cli from the command line"; fi
same_run "a scenario file gives the run of the equivalent --design/--set command" "$T/c1-file.json" "$T/c1-cli.json"
check "the report names the file's base design" "d['design']=='zc-shared-ring'" "$T/c1-file.json"

# Without design: the defaults; the report names the file.
cat > "$T/dedicated.yaml" <<'EOF'
nic.queues: 4
nic.rss_queues: [0, 1, 2]
nic.steer_app_to: 3
app: {delivery: zero_copy, zc_queues: [3], mapping: ro, mapping_lifetime: persistent}
pool:
  clear: 'on_entry'
EOF
"$NICSIM" replay "$G" --scenario "$T/dedicated.yaml" --json "$T/ded-file.json" --quiet
"$NICSIM" replay "$G" --design zc-dedicated-queue --json "$T/ded-design.json" --quiet
same_run "a file without design: equals the built-in design it spells out" "$T/ded-file.json" "$T/ded-design.json"
check "the report names a file without design: by its base name" "d['design']=='dedicated'" "$T/ded-file.json"

# --set applies after the file.
"$NICSIM" replay "$G" --scenario "$T/c1.yaml" --set pool.clear=on_entry --json "$T/set.json" --quiet
check "--set overrides the file" "d['config']['pool.clear']=='on_entry' and d['config']['app.mapping_lifetime']=='per_packet'" "$T/set.json"

# Faults listed in the file are the faults of --fault, before those of the command line.
cat > "$T/faults.yaml" <<'EOF'
design: copy
faults:
  - "frame_drop:packet=3"
EOF
"$NICSIM" replay "$G" --scenario "$T/faults.yaml" --fault frame_drop:packet=5 --json "$T/f-file.json" --quiet
"$NICSIM" replay "$G" --design copy --fault frame_drop:packet=3 --fault frame_drop:packet=5 --json "$T/f-cli.json" --quiet
same_run "faults: in a file equal --fault on the command line" "$T/f-file.json" "$T/f-cli.json"
check "the file's fault was applied" "d['nic']['rx_packets']==d['trace']['packets']-2" "$T/f-file.json"

# Broken files: exit 2, one line, FILE:LINE:COLUMN.
printf 'nic:\n  ring_size: 500\n' > "$T/bad.yaml"
one_line "bad value" "bad.yaml:2:14: nic.ring_size: '500' is not allowed" -- "$NICSIM" replay "$G" --scenario "$T/bad.yaml"
printf 'nic:\n  queues: 2\n  queuez: 4\n' > "$T/key.yaml"
one_line "unknown key" "key.yaml:3:3: unknown key 'nic.queuez'" -- "$NICSIM" replay "$G" --scenario "$T/key.yaml"
printf 'nic:\n  queues: 2\n ring_size: 8\n' > "$T/syntax.yaml"
one_line "YAML syntax error" "syntax.yaml:3:2: YAML syntax error" -- "$NICSIM" replay "$G" --scenario "$T/syntax.yaml"
printf 'nic:\n  queues: &n 2\n  ring_size: *n\n' > "$T/alias.yaml"
one_line "anchors and aliases" "alias.yaml:2:11: anchors are not allowed" -- "$NICSIM" replay "$G" --scenario "$T/alias.yaml"
printf 'app:\n  caps: CAP_NET_ADMIN\n' > "$T/list.yaml"
one_line "a list expected" "list.yaml:2:9: app.caps: expected a list" -- "$NICSIM" replay "$G" --scenario "$T/list.yaml"
: > "$T/empty.yaml"
one_line "empty file" "empty.yaml:1:1: the scenario is empty" -- "$NICSIM" replay "$G" --scenario "$T/empty.yaml"
printf 'faults:\n  - late_dmx\n' > "$T/fault.yaml"
one_line "bad fault spec" "fault.yaml:2:5: faults: 'late_dmx': unknown fault" -- "$NICSIM" replay "$G" --scenario "$T/fault.yaml"
printf 'nic:\n  queues: 2\n  rss_queues: [0, 3]\n' > "$T/valid.yaml"
one_line "cross-key check" "valid.yaml:3:15: nic.rss_queues: queue 3 is out of range" -- "$NICSIM" replay "$G" --scenario "$T/valid.yaml"
one_line "missing file" "$T/nope.yaml: cannot open" -- "$NICSIM" replay "$G" --scenario "$T/nope.yaml"
one_line "--design with --scenario" "cannot be combined" -- "$NICSIM" replay "$G" --scenario "$T/c1.yaml" --design copy
one_line "--scenario without a file" "--scenario needs a file" -- "$NICSIM" replay "$G" --scenario

# designs: the listing's format, and --show printing files that load back.
"$NICSIM" designs > "$T/designs.txt" || bad "nicsim designs"
if grep -q '^zc-shared-ring  *Brouer 2016: ' "$T/designs.txt" && [ "$(wc -l < "$T/designs.txt")" -ge 5 ]; then
  ok "nicsim designs lists name, then summary"
else
  bad "nicsim designs: $(head -3 "$T/designs.txt")"
fi
while read -r name _; do
  "$NICSIM" designs --show "$name" > "$T/shown-$name.yaml" || bad "designs --show $name"
  "$NICSIM" replay "$G" --scenario "$T/shown-$name.yaml" --json "$T/shown-$name.json" --quiet
  "$NICSIM" replay "$G" --design "$name" --json "$T/design-$name.json" --quiet
  same_run "designs --show $name loads back as that design" "$T/shown-$name.json" "$T/design-$name.json"
done < "$T/designs.txt"
if grep -q '^# zc-shared-ring' "$T/shown-zc-shared-ring.yaml" && grep -q 'C6' "$T/shown-zc-shared-ring.yaml"; then
  ok "designs --show prints the commented file"
else
  bad "designs --show zc-shared-ring: $(head -3 "$T/shown-zc-shared-ring.yaml")"
fi
one_line "designs --show unknown" "unknown design 'nope'" -- "$NICSIM" designs --show nope

finish
