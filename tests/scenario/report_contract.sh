#!/usr/bin/env bash
# The JSON report has every key of the contract, and the same inputs give
# the same report byte for byte.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 5 --packets 300 --size 300 --seed 11 || bad "gen"
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --seed 5 --json "$T/a.json" >/dev/null
"$NICSIM" replay "$T/g.pcap" --design zc-shared-ring --seed 5 --json "$T/b.json" >/dev/null
if cmp -s "$T/a.json" "$T/b.json"; then ok "two runs give identical JSON"; else bad "two runs differ"; fi

python3 - "$T/a.json" <<'PY' && ok "every contract key is present" || bad "contract keys"
import json, sys
d = json.load(open(sys.argv[1]))
top = ["nicsim_version", "design", "seed", "trace", "config", "sim", "nic", "iommu", "pool", "cpu",
       "throughput", "violations", "verdict"]
need = {
    "trace": ["path", "packets", "bytes", "linktype"],
    "sim": ["sim_time_ps", "events"],
    "nic": ["rx_packets", "rx_bytes", "rx_dropped", "per_queue"],
    "iommu": ["translations", "iotlb_hits", "iotlb_misses", "faults", "invalidations"],
    "pool": ["allocs", "recycles", "clears", "pages_in_use_max"],
    "cpu": ["cycles_total", "cycles_per_packet", "breakdown"],
    "throughput": ["offered_gbps", "delivered_gbps", "delivered_mpps"],
}
props = ["cross_flow_leak", "stale_data_leak", "kernel_pointer_leak", "kernel_data_tamper",
         "user_write_after_validation", "device_write_outside_grant", "device_write_after_unmap",
         "pool_exhaustion", "cross_flow_tamper"]
keys = ["nic.queues", "nic.line_rate_gbps", "nic.rss_queues", "nic.header_split", "nic.ring_size",
        "nic.buffer_size", "iommu.mode", "iommu.iotlb_entries", "pool.pages", "pool.clear", "pool.frag",
        "driver.skb_mode", "driver.dma_mapping", "app.owns", "app.caps", "app.mapping",
        "app.mapping_lifetime", "app.hold_us", "cpu.ghz"]
missing = [k for k in top if k not in d]
for sect, ks in need.items():
    missing += [sect + "." + k for k in ks if k not in d[sect]]
missing += ["cpu.breakdown." + b for b in ["clear", "copy", "iommu", "skb", "map", "other"] if b not in d["cpu"]["breakdown"]]
missing += ["violations." + p + "." + k for p in props for k in ["count", "bytes", "first"] if k not in d["violations"].get(p, {})]
missing += ["config." + k for k in keys if k not in d["config"]]
for q in d["nic"]["per_queue"]:
    missing += ["per_queue." + k for k in ["queue", "rx_packets", "rx_dropped"] if k not in q]
f = d["violations"]["cross_flow_leak"]["first"]
missing += ["first." + k for k in ["time_ps", "principal", "page", "offset", "length", "source", "explanation"] if k not in f]
missing += ["first.source." + k for k in ["flow", "packet_index", "kind"] if k not in f["source"]]
assert d["verdict"] == ("unsafe" if any(d["violations"][p]["count"] for p in props) else "safe")
assert d["seed"] == 5 and d["design"] == "zc-shared-ring" and d["trace"]["packets"] == 300
if missing:
    print("missing:", missing)
    sys.exit(1)
PY

# Standard input as the trace, and --json - on standard output.
"$NICSIM" replay - --design copy --json - < "$T/g.pcap" > "$T/stdin.json"
check "a trace on standard input is read" "d['trace']['packets']==300 and d['trace']['path']=='-'" "$T/stdin.json"

# --quiet prints nothing.
"$NICSIM" replay "$T/g.pcap" --quiet > "$T/q.out" 2>&1
if [ ! -s "$T/q.out" ]; then ok "--quiet prints nothing"; else bad "--quiet printed: $(head -2 "$T/q.out")"; fi

finish
