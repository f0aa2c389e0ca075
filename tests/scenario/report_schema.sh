#!/usr/bin/env bash
# Reports validate against the JSON Schema in docs/ (Debian's python3-jsonschema),
# for every design and with faults injected.
source "$(dirname "$0")/lib.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SCHEMA=$NICSIM_SOURCE_DIR/docs/report.schema.json

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 300 --size imix --seed 5 || bad "gen"
n=0
for d in $("$NICSIM" designs | awk '{print $1}'); do
  "$NICSIM" replay "$T/g.pcap" --design "$d" --json "$T/r$n.json" --quiet; n=$((n + 1))
done
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring-writable --fault malicious_dma:prob=0.5 \
  --fault late_dma:packet=4 --fault frame_drop:packet=2 --json "$T/r$n.json" --quiet; n=$((n + 1))
"$NICSIM" replay "$T/g.pcap" --set driver.dma_mapping=per_packet --set driver.page_recycle=free \
  --fault late_dma:packet=10,delay_us=1 --json "$T/r$n.json" --quiet; n=$((n + 1))
"$NICSIM" replay "$T/g.pcap" --design tx-zerocopy --fault tx_overread:prob=0.2 --fault user_write:packet=20 \
  --set tx.head_writeback=true --json "$T/r$n.json" --quiet; n=$((n + 1))

"$NICSIM" replay "$T/g.pcap" --design zc-dedicated-queue --set app.hostile_read=true \
  --set 'xdp.rules=[drop udp port 9; redirect app tuple owner=other; pass]' --json "$T/r$n.json" --quiet; n=$((n + 1))

"$PY" - "$SCHEMA" "$T"/r*.json <<'PY' && ok "$n reports validate against docs/report.schema.json" || bad "schema validation"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
v = jsonschema.Draft7Validator(schema)
bad = 0
for path in sys.argv[2:]:
    errs = sorted(v.iter_errors(json.load(open(path))), key=str)
    for e in errs[:5]:
        print(f"  {path}: {'/'.join(map(str, e.path))}: {e.message}")
    bad += len(errs)
sys.exit(1 if bad else 0)
PY

# The validator is not a rubber stamp: a report missing a key fails.
"$PY" - "$SCHEMA" "$T/r0.json" <<'PY' && ok "a report without 'verdict' is rejected" || bad "schema accepted a broken report"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
del d["verdict"]
try:
    jsonschema.validate(d, schema)
except jsonschema.ValidationError:
    sys.exit(0)
sys.exit(1)
PY
finish
