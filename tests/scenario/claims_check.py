#!/usr/bin/env python3
"""Check docs/claims.md claim by claim against mission.md's expected outcomes.

Usage: claims_check.py CLAIMS_MD

Each claim's runs are read back from what the simulator printed (verdict,
counts per property, cycles per packet and their breakdown, delivered bytes)
and held to the outcome mission.md says a correct model shows. Prints one
line per claim; exit 1 when any claim's printed evidence does not show its
expected outcome.
"""
import re
import sys

RUN = re.compile(r"^- `nicsim replay \S+ (?P<args>[^`]*)`: (?P<summary>.*)$")


def parse(path):
    claims, cur = {}, None
    costs = {}
    for line in open(path):
        line = line.rstrip("\n")
        m = re.match(r"^## (\w+)", line)
        if m:
            cur = m.group(1)
            claims[cur] = []
            continue
        m = RUN.match(line)
        if m and cur:
            s = m.group("summary")
            run = {"args": m.group("args"), "available": "not available" not in s}
            v = re.match(r"\*\*(\w+)\*\*", s)
            run["verdict"] = v.group(1) if v else None
            run["props"] = {p: int(n) for p, n in re.findall(r"`(\w+)` (\d+)", s)}
            c = re.search(r"([\d.]+) cycles/packet(?: \(([^)]*)\))?", s)
            run["cpp"] = float(c.group(1)) if c else None
            run["cycles"] = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", c.group(2) or "")} if c else {}
            d = re.search(r"(\d+) bytes delivered", s)
            run["delivered"] = int(d.group(1)) if d else None
            h = re.search(r"`pool_exhaustion` \d+ \(by '(\w+)'\)", s)
            run["holder"] = h.group(1) if h else None
            claims[cur].append(run)
            continue
        m = re.match(r"^\s+(\d+):\s+(\d+) \(", line)
        if m and cur == "C2":
            costs.setdefault(int(m.group(1)), int(m.group(2)))
    return claims, costs


def n(run, prop):
    return run["props"].get(prop, 0)


def within(x, ref, pct):
    return abs(x - ref) <= ref * pct / 100.0


def expectations(costs):
    """claim -> (what mission.md says, predicate over the claim's runs)."""
    return {
        "C1": ("stale_data_leak with on_entry; gone with on_recycle, at the clearing cost",
               lambda r: n(r[0], "stale_data_leak") > 0 and n(r[1], "stale_data_leak") == 0
               and r[1]["cycles"].get("clear", 0) > r[0]["cycles"].get("clear", 0)),
        "C2": ("clearing 4096 B within 10% of 143 cycles, 256 B within 10% of 36",
               lambda r: 4096 in costs and 256 in costs and within(costs[4096], 143, 10)
               and within(costs[256], 36, 10)),
        "C3": ("kernel_pointer_leak in writable mode; none in read-only mode",
               lambda r: n(r[0], "kernel_pointer_leak") > 0 and n(r[1], "kernel_pointer_leak") == 0),
        "C4": ("read-only costs more cycles per packet; same delivered bytes",
               lambda r: r[1]["cpp"] > r[0]["cpp"] and r[0]["delivered"] == r[1]["delivered"]
               and r[0]["delivered"] is not None),
        "C5": ("per-packet map/unmap dominates cycles per packet; persistent does not",
               lambda r: r[0]["cycles"].get("map", 0) == max(r[0]["cycles"].values())
               and r[1]["cycles"].get("map", 0) < max(r[1]["cycles"].values())),
        "C6": ("cross_flow_leak even in read-only SKB mode", lambda r: n(r[0], "cross_flow_leak") > 0),
        "C7": ("device writes into read-only user-mapped pages are exposures",
               lambda r: n(r[0], "cross_flow_leak") > 0),
        "C8": ("no cross_flow_leak/stale_data_leak with CAP_NET_ADMIN; kernel_pointer_leak in writable mode",
               lambda r: n(r[0], "cross_flow_leak") == 0 and n(r[0], "stale_data_leak") == 0
               and n(r[1], "kernel_pointer_leak") > 0),
        "C9": ("no violation with the dedicated queue; cross_flow_leak with the queue still in RSS",
               lambda r: r[0]["verdict"] == "safe" and n(r[1], "cross_flow_leak") > 0),
        "C10": ("user_write_after_validation with rw; none with ro",
                lambda r: n(r[0], "user_write_after_validation") > 0 and n(r[1], "user_write_after_validation") == 0),
        "C11": ("every packet on the queue lands in user-visible memory: cross_flow_leak",
                lambda r: n(r[0], "cross_flow_leak") > 0),
        "C12": ("pool_exhaustion attributed to the holder; none when pages come back",
                lambda r: n(r[0], "pool_exhaustion") > 0 and r[0]["holder"] == "app"
                and n(r[1], "pool_exhaustion") == 0),
        "U1": ("leak without steering, none with an ntuple rule and the queue out of RSS",
               lambda r: n(r[0], "cross_flow_leak") > 0 and r[1]["verdict"] == "safe"),
        "U2": ("no violation", lambda r: r[0]["verdict"] == "safe"),
        "U3": ("a fragment exposes its neighbours: cross_flow_leak", lambda r: n(r[0], "cross_flow_leak") > 0),
        "U4": ("device_write_after_unmap in lazy mode; never in strict mode",
               lambda r: n(r[0], "device_write_after_unmap") > 0 and n(r[1], "device_write_after_unmap") == 0),
        "U5": ("device_write_outside_grant and kernel_data_tamper with malicious_dma; neither without",
               lambda r: n(r[0], "device_write_outside_grant") > 0 and n(r[0], "kernel_data_tamper") > 0
               and n(r[1], "device_write_outside_grant") == 0 and n(r[1], "kernel_data_tamper") == 0),
    }


def main():
    claims, costs = parse(sys.argv[1])
    bad = 0
    for cid, (what, pred) in expectations(costs).items():
        runs = claims.get(cid)
        if runs is None:
            print(f"FAIL: {cid}: not in the catalogue")
            bad += 1
            continue
        if cid != "C2" and (not runs or not all(r["available"] for r in runs)):
            print(f"FAIL: {cid}: a run is missing or not available")
            bad += 1
            continue
        try:
            good = pred(runs)
        except (IndexError, KeyError, TypeError, ValueError):
            good = False
        print(f"{'ok' if good else 'FAIL'}: {cid}: {what}")
        bad += 0 if good else 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
