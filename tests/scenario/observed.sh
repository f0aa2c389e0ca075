#!/usr/bin/env bash
# --observed DIR: what each principal could observe that it is not entitled
# to, as pcaps; a leaked packet reads back (through libpcap) as its original
# frame.
source "$(dirname "$0")/lib.bash"
"$NICSIM" gen -o "$T/g.pcap" --flows 6 --packets 300 --size imix --seed 13 || bad "gen"
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --observed "$T/obs" --json "$T/r.json" --quiet
[ -f "$T/obs/app.pcap" ] && [ -f "$T/obs/other.pcap" ] && ok "one pcap per principal" || bad "pcaps missing: $(ls "$T/obs")"
n=$(tcpdump -r "$T/obs/app.pcap" 2>/dev/null | wc -l)
want=$(jval "$T/r.json" "d['violations']['cross_flow_leak']['count']")
if [ "$n" -eq "$want" ] && [ "$n" -gt 0 ]; then ok "libpcap reads $n records, one per exposure"; else bad "$n records for $want exposures"; fi
[ "$(tcpdump -r "$T/obs/other.pcap" 2>/dev/null | wc -l)" -eq 0 ] && ok "'other' saw nothing it was not entitled to" || bad "other.pcap not empty"
# The first leaked record is the original frame of the packet the report names.
idx=$(jval "$T/r.json" "d['violations']['cross_flow_leak']['first']['source']['packet_index']")
tcpdump -r "$T/g.pcap" -w "$T/orig.pcap" -c $((idx + 1)) 2>/dev/null
python3 - "$T/orig.pcap" "$T/obs/app.pcap" <<'PY' && ok "the first leaked record is packet $idx's original frame" || bad "leaked bytes differ from the frame"
import struct, sys
def records(path):
    d = open(path, "rb").read()
    endian = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, out = 24, []
    while off + 16 <= len(d):
        _, _, cl, _ = struct.unpack(endian + "IIII", d[off:off + 16])
        out.append(d[off + 16:off + 16 + cl]); off += 16 + cl
    return out
orig = records(sys.argv[1])[-1]
leak = records(sys.argv[2])[0]
sys.exit(0 if leak == orig else 1)
PY
"$NICSIM" replay "$T/g.pcap" --design copy --observed "$T/obs2" --quiet
[ "$(tcpdump -r "$T/obs2/app.pcap" 2>/dev/null | wc -l)" -eq 0 ] && ok "copy: nothing observed" || bad "copy leaked"
ls -A "$T/obs" | grep -q tmp && bad "temporary files left" || ok "no temporary files left"
finish
