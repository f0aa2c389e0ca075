#!/usr/bin/env bash
# Fault injection: every fault fires, says what it did, is reproducible from
# the seed, and never makes the simulator abort; bad specifications are
# refused with one line and exit status 2.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 6 --packets 400 --size imix --seed 8 || bad "gen"
G=$T/g.pcap

for spec in random_dma malicious_dma:packet=20 bad_descriptor:packet=5 bad_descriptor:field=len,packet=5 \
            late_dma:packet=7 iommu_passthrough:packet=50 iommu_off:at_us=20 frame_drop:prob=0.2 \
            frame_bitflip:packet=3,bit=100 user_write:packet=9 user_hoard:packet=30; do
  "$NICSIM" replay "$G" --design zc-shared-ring-writable --fault "$spec" --json "$T/f.json" --quiet
  rc=$?
  if [ $rc -le 1 ]; then ok "$spec: ran (exit $rc)"; else bad "$spec: exit $rc"; fi
  check "$spec: fired and recorded what it did" "d['faults'][0]['fired']>=1 and len(d['faults'][0]['effect'] or '')>10 and d['faults'][0]['spec']=='$spec'" "$T/f.json"
done

"$NICSIM" replay "$G" --fault frame_drop:prob=0.2 --seed 4 --json "$T/a.json" --quiet
"$NICSIM" replay "$G" --fault frame_drop:prob=0.2 --seed 4 --json "$T/b.json" --quiet
"$NICSIM" replay "$G" --fault frame_drop:prob=0.2 --seed 5 --json "$T/c.json" --quiet
if cmp -s "$T/a.json" "$T/b.json"; then ok "same seed, same run"; else bad "same seed gave different reports"; fi
a=$(jval "$T/a.json" "d['nic']['rx_packets']"); c=$(jval "$T/c.json" "d['nic']['rx_packets']")
if [ "$a" != "$c" ]; then ok "another seed drops other frames ($a vs $c received)"; else bad "seeds 4 and 5 dropped alike"; fi
check "about a fifth of the frames lost" "0.1 < 1 - d['nic']['rx_packets']/d['trace']['packets'] < 0.3" "$T/a.json"

# The IOMMU switched off lets a random write through where it was refused.
"$NICSIM" replay "$G" --set iommu.mode=strict --fault random_dma:packet=10 --json "$T/on.json" --quiet
check "random_dma under a strict IOMMU is refused" "d['iommu']['faults']>=1 and d['violations']['device_write_outside_grant']['count']==0" "$T/on.json"
"$NICSIM" replay "$G" --set iommu.mode=off --fault random_dma:packet=10 --json "$T/off.json" --quiet
check "random_dma with the IOMMU off reaches memory" "d['violations']['device_write_outside_grant']['count']>=1" "$T/off.json"

# user_write: through a read-write mapping it changes a validated packet; a
# read-only mapping refuses the write.
"$NICSIM" replay "$G" --design zc-shared-ring --set app.mapping=rw --fault user_write:packet=9 --json "$T/uw.json" --quiet
check "user_write with rw mappings: user_write_after_validation" "d['violations']['user_write_after_validation']['count']==1 and d['user']['writes']==1" "$T/uw.json"
"$NICSIM" replay "$G" --design zc-shared-ring --set app.mapping=ro --fault user_write:packet=9 --json "$T/uwro.json" --quiet
check "user_write with ro mappings: refused, nothing violated by it" "d['violations']['user_write_after_validation']['count']==0 and d['user']['write_faults']==1" "$T/uwro.json"
# bad_descriptor with a corrupted length: the stack delivers bytes past the frame.
"$NICSIM" replay "$G" --fault bad_descriptor:field=len,packet=5 --json "$T/bd.json" --quiet
"$NICSIM" replay "$G" --json "$T/bd0.json" --quiet
a=$(jval "$T/bd.json" "d['delivered']['bytes']"); b=$(jval "$T/bd0.json" "d['delivered']['bytes']")
if [ "$a" -gt "$b" ]; then ok "bad_descriptor:field=len delivers more bytes than the frame had ($a > $b)"; else bad "bad length changed nothing ($a vs $b)"; fi

one_line() {
  local what=$1; shift
  "$@" >/dev/null 2>"$T/err"; local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 1 ]; then ok "$what: $(cat "$T/err")"; else bad "$what: exit $rc: $(head -2 "$T/err")"; fi
}
one_line "unknown fault" "$NICSIM" replay "$G" --fault frobnicate
one_line "unknown key" "$NICSIM" replay "$G" --fault late_dma:color=blue
one_line "bad probability" "$NICSIM" replay "$G" --fault frame_drop:prob=2
one_line "two whens" "$NICSIM" replay "$G" --fault frame_drop:packet=1,prob=0.5
one_line "not KEY=VALUE" "$NICSIM" replay "$G" --fault frame_drop:packet
finish
