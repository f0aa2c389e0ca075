#!/usr/bin/env python3
"""Generate docs/claims.md from real runs of the simulator.

Usage: scripts/claims.py NICSIM [TRACE] > docs/claims.md

Each claim of the mission (C1..C15, U1..U6) is settled by one or more runs
of `nicsim replay` on the bundled trace; this script runs them and writes
what the simulator printed. Nothing here decides an outcome: the numbers
and verdicts are the runs' own. tests/scenario/claims_doc.sh regenerates the
file and compares it with the committed one, so it cannot drift from the
model; tests/scenario/claims_check.py then checks each claim's printed
evidence against mission.md's expected outcome.
"""
import json
import os
import subprocess
import sys
import tempfile

NICSIM = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
TRACE = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "traces", "samples", "mixed.pcap")
TRACE_SHOWN = "traces/samples/mixed.pcap" if len(sys.argv) <= 2 else sys.argv[2]
TMP = tempfile.mkdtemp(prefix="nicsim-claims-")
DESIGNS = set(l.split()[0] for l in subprocess.run([NICSIM, "designs"], capture_output=True, text=True,
                                                      check=True).stdout.splitlines() if l.strip())

PROPS = ["cross_flow_leak", "stale_data_leak", "kernel_pointer_leak", "kernel_data_tamper",
         "user_write_after_validation", "device_write_outside_grant", "device_write_after_unmap",
         "pool_exhaustion", "cross_flow_tamper", "wire_leak", "device_read_outside_grant",
         "device_read_after_unmap"]


def run(args):
    """One replay; returns (command shown, report) or (command, None) when the design is missing."""
    shown = "nicsim replay " + TRACE_SHOWN + " " + " ".join(args)
    if "--design" in args and args[args.index("--design") + 1] not in DESIGNS:
        return shown, None
    out = os.path.join(TMP, "r.json")
    p = subprocess.run([NICSIM, "replay", TRACE] + args + ["--json", out, "--quiet"], capture_output=True,
                       text=True)
    if p.returncode not in (0, 1):
        raise SystemExit(f"claims.py: {shown}: exit {p.returncode}: {p.stderr.strip()}")
    with open(out) as f:
        return shown, json.load(f)


def pairs(v):
    """ (who <- whose: count, ...)" when a property has more than one pair."""
    bp = v.get("by_pair", [])
    if len(bp) < 2:
        return ""
    return " (" + ", ".join(f"{p['principal']} <- {p['owner']}: {p['count']}" for p in bp) + ")"


def summary(r):
    if r is None:
        return "not available in this build (the design does not exist yet)"
    def shown(p):
        v = r["violations"][p]
        who = f" (by '{v['first']['principal']}')" if p == "pool_exhaustion" and v["first"] else ""
        return f"`{p}` {v['count']}{who}" + pairs(v)
    hit = [shown(p) for p in PROPS if r["violations"][p]["count"]]
    text = f"**{r['verdict']}**" + (": " + ", ".join(hit) if hit else "")
    if r.get("verdict_reason"):
        text += f" ({r['verdict_reason']})"
    text += f"; {r['cpu']['cycles_per_packet']:.1f} cycles/packet"
    b = r["cpu"]["breakdown"]
    big = {k: v for k, v in b.items() if v}
    if big:
        text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(big.items())) + ")"
    if r.get("tx", {}).get("enabled"):
        t = r["tx"]
        text += (f"; TX: {t['packets']} frames sent, {t['cycles_per_packet']:.1f} cycles per frame sent "
                 f"({t['copies']} copies, {t['pins']} pages pinned)")
    if r["iommu"]["faults"]:
        text += f"; {r['iommu']['faults']} IOMMU fault record(s)"
    text += f"; {r['delivered']['bytes']} bytes delivered"
    if r["nic"]["rx_dropped"]:
        text += f"; {r['nic']['rx_dropped']} frames dropped"
    for f in r["faults"]:
        if f["fired"]:
            text += f"; fault `{f['fault']}` first: {f['effect']}"
    return text


CLAIMS = [
    ("C1", "Recycled pages are not cleared, so it costs nothing (Brouer); recycling without clearing leaks "
     "earlier packets to userspace (Duyck).",
     [["--design", "zc-shared-ring", "--set", "app.mapping_lifetime=per_packet", "--set", "pool.clear=on_entry"],
      ["--design", "zc-shared-ring", "--set", "app.mapping_lifetime=per_packet", "--set", "pool.clear=on_recycle"]]),
    ("C2", "Clearing 4096 B costs 143 cycles, 256 B 36 cycles (Brouer).", "costs"),
    ("C3", "In writable mode skb_shared_info, with kernel pointers, lands in the DMA page (Brouer).",
     [["--design", "zc-shared-ring-writable"], ["--design", "zc-shared-ring"]]),
    ("C4", "Read-only mode costs one more allocation and a header copy (Brouer).",
     [["--design", "copy", "--set", "driver.skb_mode=writable"],
      ["--design", "copy", "--set", "driver.skb_mode=readonly"]]),
    ("C5", "Mapping pages into userspace per packet is costly; a lasting mapping moves it off the fast path "
     "(Brouer).",
     [["--design", "zc-shared-ring", "--set", "app.mapping_lifetime=per_packet"],
      ["--design", "zc-shared-ring", "--set", "app.mapping_lifetime=persistent"]]),
    ("C6", "A zero-copy queue can carry normal traffic with read-only SKBs (Brouer). Wrong: the device writes "
     "every packet into pages userspace can read (Duyck).", [["--design", "zc-shared-ring"]]),
    ("C7", "\"Read-only\" pages are still written by the device (Duyck).",
     [["--design", "zc-shared-ring", "--set", "app.mapping=ro"]]),
    ("C8", "CAP_NET_ADMIN already sees every packet, so sharing is acceptable (Brouer, Duyck).",
     [["--design", "zc-shared-ring", "--set", "app.caps=[CAP_NET_ADMIN]"],
      ["--design", "zc-shared-ring-writable", "--set", "app.caps=[CAP_NET_ADMIN]"]]),
    ("C9", "A hardware filter steering the application's flow to its own queue (Duyck).",
     [["--design", "zc-dedicated-queue"], ["--design", "zc-dedicated-queue-rss-leak"]]),
    ("C10", "A program with writable mappings can change pages while the kernel uses them; map them read-only "
     "(Brouer).", [["--design", "zc-rw-mapping"], ["--design", "zc-rw-mapping", "--set", "app.mapping=ro"]]),
    ("C11", "XDP decides which pages go zero-copy (Brouer).", [["--design", "af-xdp-zc-shared"]]),
    ("C12", "Userspace holding pages can exhaust the pool (Brouer).",
     [["--design", "zc-shared-ring", "--set", "nic.ring_size=64", "--set", "pool.pages=64",
       "--set", "app.hold_us=1000000"],
      ["--design", "zc-shared-ring", "--set", "nic.ring_size=64", "--set", "pool.pages=64"]]),
    ("C13", "Zero-copy TX is easier to make safe than RX: the sender owns the pages (Brouer).",
     [["--design", "tx-zerocopy"], ["--design", "tx-copy"]]),
    ("C14", "...but the pages stay writable to their owner while the device reads them: a header rewritten "
     "after netfilter checked it (the sender's first frame is packet 3 of the trace).",
     [["--design", "tx-zerocopy", "--fault", "user_write:packet=3"],
      ["--design", "tx-zerocopy", "--fault", "user_write:packet=3", "--set", "tx.protect_inflight=true"]]),
    ("C15", "A TX buffer released before the device has read it puts other data on the wire.",
     [["--design", "tx-early-release"], ["--design", "tx-early-release", "--set", "tx.wait_completion=true"],
      ["--design", "tx-early-release", "--fault", "tx_late_read:packet=3,delay_us=2"],
      ["--design", "tx-early-release", "--fault", "tx_late_read:packet=3,delay_us=2", "--set", "iommu.mode=strict"],
      ["--design", "tx-copy", "--fault", "tx_completion_early:packet=3", "--set", "iommu.mode=passthrough"]]),
    ("U1", "AF_XDP zero copy binds a UMEM to one queue; it is safe only with steering and the queue out of RSS.",
     [["--design", "af-xdp-zc-shared"], ["--design", "af-xdp-zc-steered"]]),
    ("U2", "devmem TCP / io_uring zcrx: header split, steering, RSS exclusion.", [["--design", "header-split-zcrx"]]),
    ("U3", "page_pool fragments: a fragment handed to one application exposes its neighbours.",
     [["--design", "frag-pages"]]),
    ("U4", "Lazy IOMMU invalidation leaves stale IOTLB entries for up to 256 unmaps or 10 ms.",
     [["--design", "iommu-lazy-unmap"], ["--design", "iommu-lazy-unmap", "--set", "iommu.mode=strict"],
      ["--design", "iommu-lazy-unmap", "--set", "iommu.mode=strict", "--fault", "late_dma:packet=300,delay_us=100"]]),
    ("U5", "A malicious device writes anywhere in a mapped page and overwrites kernel pointers (Thunderclap).",
     [["--design", "zc-shared-ring-writable", "--fault", "malicious_dma:prob=1"],
      ["--design", "zc-shared-ring-writable"]]),
    ("U6", "MSG_ZEROCOPY (Linux 4.14) pins user pages and signals completion on the socket error queue; AF_XDP "
     "TX reads frames straight from the UMEM. Safe when the sender waits for completions.",
     [["--design", "tx-zerocopy"], ["--design", "tx-zerocopy", "--set", "tx.wait_completion=false"],
      ["--design", "tx-af-xdp"], ["--design", "tx-af-xdp", "--set", "tx.wait_completion=false"]]),
    ("M1", "On a NIC shared by several tenants, a zero-copy queue exposes every tenant whose flows RSS spreads "
     "onto it, and steering each tenant to its own queue closes it.",
     [["--design", "multi-tenant-shared"], ["--design", "multi-tenant-steered"]]),
]


def main():
    out = sys.stdout
    out.write("# Claims catalogue\n\n")
    out.write("Generated by `scripts/claims.py` from real runs of the simulator on `" + TRACE_SHOWN +
              "` (12 flows, 600 frames): each claim of `mission.md`, the runs that test it, and what the "
              "simulator printed. `tests/scenario/claims_doc.sh` regenerates this file and fails when it "
              "differs, so it always matches the current build, and holds each claim's printed evidence to the "
              "outcome `mission.md` expects (`tests/scenario/claims_check.py`). Regenerate with\n\n"
              "    python3 scripts/claims.py build/nicsim > docs/claims.md\n\n")
    for cid, text, runs in CLAIMS:
        out.write(f"## {cid}\n\n{text}\n\n")
        if runs == "costs":
            p = subprocess.run([NICSIM, "costs"], capture_output=True, text=True)
            if p.returncode == 0:
                out.write("```\n$ nicsim costs\n" + p.stdout + "```\n\n")
            else:
                out.write("`nicsim costs` is not available in this build.\n\n")
            continue
        for args in runs:
            shown, r = run(args)
            out.write(f"- `{shown}`: {summary(r)}\n")
        out.write("\n")


main()
