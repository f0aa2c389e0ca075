#!/usr/bin/env python3
"""Regenerate the sample outputs in the documentation from real runs.

Usage: scripts/docs-samples.py NICSIM [--check]

Every block of README.md and docs/*.md between a line
`<!-- sample: NAME -->` and a line `<!-- end sample -->` is what the program
prints (or, for `packages`, what scripts/setup.sh installs): this script runs
NICSIM from the top of the source tree, on the bundled trace, and rewrites
the blocks. An error example is the failing command, its standard error and
its exit status, run in a scratch folder on files made here; the scratch
folder's path never reaches a sample (where a path shows, the folder stands
for /). Nothing that depends on the machine (timings) is sampled. With --check it rewrites nothing, prints a diff of every stale
block and exits 1 (tests/scenario/docs_samples.sh), so the samples cannot
drift from the program.
"""
import concurrent.futures
import difflib
import glob
import json
import os
import re
import resource
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import time

NICSIM = os.path.abspath(sys.argv[1])
CHECK = "--check" in sys.argv[2:]
TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TRACE = "traces/samples/mixed.pcap"
TMP = tempfile.mkdtemp(prefix="nicsim-docs-")
WIDTH = 100


def run(args, ok=(0,)):
    p = subprocess.run([NICSIM] + args, cwd=TOP, capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit("docs-samples: nicsim %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p.stdout


def fenced(text, lang=""):
    return "```" + lang + "\n" + text.rstrip("\n") + "\n```\n"


# ---- the samples ----

def packages():
    """The Debian packages scripts/setup.sh installs."""
    out = subprocess.run(["bash", "-c", 'eval "$(sed -n "/^PKGS=(/,/)/p" "$1")"; printf "%s\\n" "${PKGS[@]}"',
                          "_", os.path.join(TOP, "scripts", "setup.sh")], capture_output=True, text=True, check=True)
    pkgs = [p for p in out.stdout.split() if p]
    return textwrap.fill("`" + " ".join(pkgs) + "`", width=78, break_on_hyphens=False) + "\n"


def commands():
    """The commands nicsim --help lists."""
    text = run(["--help"])
    block = text.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return [l.split()[0] for l in block.splitlines() if re.match(r"^  [a-z]+ ", l)
            and l.split()[0] not in ("help", "version")]


def synopsis():
    """The usage lines of every command's --help."""
    out = []
    for c in commands():
        usage = run([c, "--help"]).split("\n\n", 1)[0]
        out.append(re.sub(r"^usage: ", "", usage, flags=re.M))
    out.append("nicsim help [COMMAND] | --help | -V | --version | version")
    return fenced("\n".join(out))


def replay_summary():
    return fenced(run(["replay", TRACE, "--design", "zc-shared-ring"], ok=(1,)))


def review_table():
    return fenced("$ nicsim review " + TRACE + "\n" + run(["review", TRACE]))


def outline(v, key=None):
    """The keys of a JSON value, as the guide lists them."""
    if key == "config":
        return "{every scenario key, resolved}"
    if key in ("violations",) and isinstance(v, dict) and v:
        first = max(v.values(), key=lambda e: len(e) if isinstance(e, dict) else 0)
        if not isinstance(first, dict):
            return "{PROPERTY: COUNT}"
        return "{PROPERTY: " + outline({k: (None if k == "first" else x) for k, x in first.items()}) + "}"
    if isinstance(v, dict):
        parts = []
        for k, x in v.items():
            if isinstance(x, (dict, list)) and (x or isinstance(x, dict)):
                parts.append('"%s": %s' % (k, outline(x, k)))
            else:
                parts.append('"%s"' % k)
        return "{" + ", ".join(parts) + "}"
    if isinstance(v, list):
        return "[" + (outline(v[0]) if v else "") + "]"
    return ""


def wrap_outline(line, width=WIDTH):
    """Break a long line after ", ", continuation lines under the first
    open brace (the key's value)."""
    first = min([i for i in (line.find("{"), line.find("[")) if i >= 0] or [0])
    indent = " " * (first + 1)
    out = []
    while len(line) > width:
        cut = line.rfind(", ", 0, width)
        if cut <= len(indent):
            break
        out.append(line[:cut + 1])
        line = indent + line[cut + 2:]
    out.append(line)
    return "\n".join(out)


def top_outline(d):
    lines, scalars = [], []
    for k, x in d.items():
        if isinstance(x, (dict, list)) and (x or isinstance(x, dict)):
            if scalars:
                lines.append("  " + ", ".join(scalars) + ",")
                scalars = []
            lines.append(wrap_outline('  "%s": %s,' % (k, outline(x, k))))
        else:
            scalars.append('"%s"' % k)
    if scalars:
        lines.append("  " + ", ".join(scalars) + ",")
    lines[-1] = lines[-1].rstrip(",")
    return fenced("{\n" + "\n".join(lines) + "\n}")


def report_keys():
    path = os.path.join(TMP, "r.json")
    run(["replay", TRACE, "--design", "zc-shared-ring", "--fault", "frame_drop:packet=3", "--set",
         "xdp.rules=[pass]", "--json", path, "--quiet"], ok=(1,))
    return top_outline(json.load(open(path)))


def review_keys():
    path = os.path.join(TMP, "v.json")
    run(["review", TRACE, "--designs", "copy,zc-shared-ring", "--set", "pool.clear=on_recycle", "--limit", "300",
         "--json", path, "--quiet"])
    return top_outline(json.load(open(path)))


def review_markdown():
    path = os.path.join(TMP, "v.md")
    run(["review", TRACE, "--designs", "copy,zc-shared-ring,zc-dedicated-queue", "--markdown", path, "--quiet"])
    return fenced(open(path).read(), "markdown")


def cpu_lines():
    out = run(["replay", TRACE, "--design", "copy"])
    return fenced("\n".join(l for l in out.splitlines() if l.startswith("  cpu")))


def merge_table():
    """A small campaign's merged table (docs/campaigns.md)."""
    spec = os.path.join(TMP, "camp.yaml")
    with open(spec, "w") as f:
        f.write("traces: [%s]\ndesigns: [zc-shared-ring, copy]\nfaults: [[], [\"malicious_dma:prob=0.05\"]]\n"
                "seeds: 1..3\n" % os.path.join(TOP, TRACE))
    run(["campaign", spec, "-j", "2", "--out", os.path.join(TMP, "camp"), "--quiet"])
    return fenced("$ nicsim merge camp-out/runs\n" + run(["merge", os.path.join(TMP, "camp", "runs")]))


# ---- error examples: the failing command, its one line and its exit status ----

def in_tmp(sub, files=None):
    """A fresh folder under the scratch folder, holding FILES (name: text or bytes)."""
    d = os.path.join(TMP, sub)
    os.makedirs(d, exist_ok=True)
    for name, data in (files or {}).items():
        with open(os.path.join(d, name), "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    return d


def fail_run(args, cwd, **kw):
    """Run a command that must fail: its standard error and exit status."""
    p = subprocess.run([NICSIM] + args, cwd=cwd, capture_output=True, text=True, **kw)
    if p.returncode == 0 or not p.stderr.strip():
        sys.exit("docs-samples: nicsim %s was meant to fail, exited %d: %s" % (" ".join(args), p.returncode,
                                                                            p.stderr.strip()))
    return p.stderr.rstrip("\n"), p.returncode


def error_lines(runs):
    """The error lines of RUNS [(stderr, status)], then their exit status."""
    lines = [err for err, _ in runs]
    statuses = sorted(set(st for _, st in runs))
    if len(statuses) == 1:
        lines.append("(exit status %d, each)" % statuses[0] if len(runs) > 1 else "(exit status %d)" % statuses[0])
    else:
        lines = ["%s   (exit status %d)" % (err, st) for err, st in runs]
    return fenced("\n".join(lines))


def scenario_errors():
    """A scenario file's errors (docs/user-guide.md), each from a file scen.yaml."""
    files = [
        "nic:\n  ring_size: 500\n",
        "nic:\n  queues: 2\n  queuez: 4\n",
        "app:\n  caps: CAP_NET_ADMIN\n",
        "nic.queues: [1, 2]\n",
        "design: copy\nnic.queues: 2\npool:\n  clear: never\nnic:\n  queues: 4\n",
        "nic:\n  queues: 2\n ring_size: 512\n",
        "nic:\n  queues: &n 4\n",
        "nic.queues: *q\n",
        "nic.queues: !custom 4\n",
        "",
        "- nic.queues: 4\n",
        "nic:\n  queues: 4\n  rss_queues: [0, 5]\n",
        "design: copy\nfaults:\n  - late_dmx\n",
        "xdp:\n  rules:\n    - pass\n    - redirect bob udp\n",
        "principals:\n  - owns: \"udp port 53\"\n    name: kernel\n",
    ]
    runs = []
    for text in files:
        d = in_tmp("scen", {"scen.yaml": text})
        runs.append(fail_run(["replay", os.path.join(TOP, TRACE), "--scenario", "scen.yaml"], d))
    runs.append(fail_run(["replay", os.path.join(TOP, TRACE), "--scenario", "missing.yaml"], d))
    return error_lines(runs)


def xdp_errors():
    """Bad XDP rules, from --set and from a scenario file (docs/user-guide.md)."""
    d = in_tmp("xdp", {"s.yaml": "design: zc-dedicated-queue\nxdp:\n  rules:\n    - pass\n"
                                 "    - redirect app tuple dport=x\n"})
    trace = os.path.join(TOP, TRACE)
    return error_lines([
        fail_run(["replay", trace, "--set", "xdp.rules=[drop udp port 53; frob udp]"], d),
        fail_run(["replay", trace, "--set", "xdp.rules=drop udpp port 53"], d),
        fail_run(["replay", trace, "--scenario", "s.yaml"], d)])


def spec_errors():
    """A campaign spec's errors (docs/campaigns.md), each from a file camp.yaml."""
    ok = "traces: [t.pcap]\ndesigns: [copy]\n"
    specs = [
        "traces: [t.pcap]\ndesigns: [copy, nosuch]\n",
        ok + "seeds: 1..3\nfaults:\n  - []\n  - [\"late_dma:when=soon\"]\n",
        "traces: [nope.pcap]\ndesigns: [copy]\n",
        ok + "seeds: 3..1\n",
        ok + "seed: 3\n",
        "traces: [\"t\\n.pcap\"]\ndesigns: [copy]\n",
    ]
    d = in_tmp("data")
    for name in ("t.pcap", "t\n.pcap"):
        shutil.copy(os.path.join(TOP, TRACE), os.path.join(d, name))
    runs = []
    for text in specs:
        in_tmp("data", {"camp.yaml": text})
        runs.append(fail_run(["campaign", "camp.yaml", "--out", "camp-out", "--quiet"], d))
    return error_lines([(err.replace(TMP, ""), st) for err, st in runs])


def campaign_identity():
    """A campaign started again under another spec (docs/campaigns.md); the
    scratch folder stands for /."""
    d = in_tmp("runs")
    shutil.copy(os.path.join(TOP, TRACE), os.path.join(d, "t.pcap"))
    spec = "traces: [t.pcap]\ndesigns: [copy]\nset: {pool.clear: %s}\n"
    out = os.path.join(d, "camp")
    in_tmp("runs", {"camp.yaml": spec % "never"})
    run(["campaign", os.path.join(d, "camp.yaml"), "--out", out, "--quiet"])
    in_tmp("runs", {"camp.yaml": spec % "on_recycle"})
    err, st = fail_run(["campaign", "camp.yaml", "--out", out], d)
    return fenced("$ nicsim campaign camp.yaml --out /runs/camp\n%s\n(exit status %d)" % (err.replace(TMP, ""), st))


def command_usage(*cmds):
    """The usage lines of some commands' --help."""
    return fenced("\n".join(re.sub(r"^usage: ", "", run([c, "--help"]).split("\n\n", 1)[0], flags=re.M)
                            for c in cmds))


def emitted(sub):
    """`campaign --emit-jobs` on the spec at the top of docs/campaigns.md, out
    folder /shared/camp: the scratch folder stands for /, the program for
    /usr/local/bin/nicsim."""
    d = in_tmp(sub + "/shared/traces/samples")
    shutil.copy(os.path.join(TOP, TRACE), d)
    top = os.path.join(TMP, sub)
    in_tmp(sub + "/shared", {"camp.yaml": CAMPAIGN_SPEC})
    out = run(["campaign", os.path.join(top, "shared", "camp.yaml"), "--emit-jobs", "--out",
               os.path.join(top, "shared", "camp")])
    script = open(os.path.join(top, "shared", "camp", "campaign.sbatch")).read()
    fix = lambda t: t.replace(NICSIM, "/usr/local/bin/nicsim").replace(top, "")
    return fix(out), fix(script)


CAMPAIGN_SPEC = """traces: [traces/samples/mixed.pcap]
designs: [zc-shared-ring, copy]
faults:
  - []
  - ["malicious_dma:prob=0.05"]
  - ["late_dma:packet=10", "iommu_off:packet=50"]
seeds: 1..20
set: {pool.clear: on_recycle}
limit: 100000
"""


def campaign_jobs():
    jobs = emitted("jobs")[0].splitlines()
    return fenced("$ nicsim campaign camp.yaml --emit-jobs --out /shared/camp\n" + "\n".join(jobs[:2]) +
                  "\n... (%d lines in all)" % len(jobs))


def campaign_sbatch():
    """The Slurm script's #SBATCH lines and its settings."""
    script = emitted("sbatch")[1].splitlines()
    keep = [l for l in script if l.startswith("#SBATCH") or re.match(r"^(jobs|per)=", l)]
    return fenced("\n".join(keep), "bash")


def merge_json():
    """The merged JSON of the campaign of merge_table, the first group and
    its first property shown whole."""
    merge_table()
    m = json.load(open(os.path.join(TMP, "camp", "merged.json")))
    g = m["groups"][0]
    props = list(g["properties"].items())
    lines = ["{"]
    lines += ['  "%s": %s,' % (k, json.dumps(v)) for k, v in m.items() if k != "groups"]
    lines.append('  "groups": [')
    head = ", ".join('"%s": %s' % (k, json.dumps(v)) for k, v in g.items() if k != "properties")
    lines.append("    {" + head + ",")
    lines.append('     "properties": {')
    lines.append('       "%s": %s,' % (props[0][0], json.dumps(props[0][1])))
    lines.append("       ... %d more properties ..." % (len(props) - 1))
    lines.append("     }},")
    lines.append("    ... %d more groups ..." % (len(m["groups"]) - 1))
    lines.append("  ]")
    lines.append("}")
    return fenced("\n".join(wrap_outline(l) for l in lines))


def pcap_header(version=(2, 4), linktype=1):
    return struct.pack("<IHHiIII", 0xa1b2c3d4, version[0], version[1], 0, 0, 65535, linktype)


def stopped_in_fifo_open(d):
    """replay of a FIFO no one writes, SIGINT once it waits in open(2)."""
    os.mkfifo(os.path.join(d, "fifo"))
    p = subprocess.Popen([NICSIM, "replay", "fifo"], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    for _ in range(600):
        try:
            if open("/proc/%d/wchan" % p.pid).read() == "wait_for_partner":
                break
        except OSError:
            pass
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    return p.stderr.read().rstrip("\n"), p.wait()


def robustness_errors():
    """Bad input and what the user sees (docs/robustness.md): each command,
    run in a folder holding t.pcap (the bundled trace) and the files named."""
    with open(os.path.join(TOP, TRACE), "rb") as f:
        trace = f.read()
    d = in_tmp("bad", {
        "t.pcap": trace,
        "x.pcap": "hello, not a capture\n",
        "old.pcap": pcap_header((1, 0)) + bytes(32),
        "radiotap.pcap": pcap_header(linktype=127) + struct.pack("<IIII", 0, 0, 14, 14) + bytes(14),
        "torn.pcap": trace[:-7],
        "s.yaml": "design: copy\nnic:\n  queues: 8\npool:\n  pages: 65536\n",
    })
    run(["gen", "-o", os.path.join(d, "flows.pcap"), "--flows", "20", "--packets", "200", "--seed", "1"])
    long_name = "o" * 300
    rule = "drop " + "udp or " * 7000 + "udp"
    one_kb = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
    full = open("/dev/full", "w")
    # (what, the command as a shell runs it, its arguments, keywords for subprocess)
    cases = [
        ("a missing capture", None, ["replay", "missing.pcap"], {}),
        ("not a capture", None, ["replay", "x.pcap"], {}),
        ("an archaic capture version", None, ["replay", "old.pcap"], {}),
        ("a link type with no Ethernet form", None, ["replay", "radiotap.pcap"], {}),
        ("a torn last record", None, ["replay", "torn.pcap"], {}),
        ("endless input", None, ["replay", "/dev/zero"], {}),
        ("an unknown design", None, ["replay", "t.pcap", "--design", "x"], {}),
        ("a value out of range", None, ["replay", "t.pcap", "--set", "nic.ring_size=500"], {}),
        ("an impossible combination", None, ["replay", "t.pcap", "--set", "pool.pages=256"], {}),
        ("pools bigger than the simulated RAM", None, ["replay", "t.pcap", "--scenario", "s.yaml"], {}),
        ("application flows that alone fill the flow table (flows.pcap: 20 flows)", None,
         ["replay", "flows.pcap", "--set", "app.owns=udp", "--set", "trace.max_flows=16"], {}),
        ("a BPF filter that does not compile", None, ["replay", "t.pcap", "--set", "app.owns=udp port nonsense"], {}),
        ("a bad fault specification", None, ["replay", "t.pcap", "--fault", "late_dma:color=blue"], {}),
        ("an unknown option", None, ["replay", "t.pcap", "--frobnicate"], {}),
        ("an output in a folder that does not exist", None,
         ["replay", "t.pcap", "--json", "/nonexistent/r.json"], {}),
        ("an output that is the trace", None, ["replay", "t.pcap", "--json", "t.pcap"], {}),
        ("two outputs on one file", None, ["replay", "t.pcap", "--json", "r.json", "--vcd", "r.json"], {}),
        ("an over-long path", "nicsim replay t.pcap --observed \"$(printf '%0300d' 0 | tr 0 o)\"",
         ["replay", "t.pcap", "--observed", long_name], {}),
        ("a file size limit", "(ulimit -f 1; nicsim replay t.pcap --json r.json)",
         ["replay", "t.pcap", "--json", "r.json"], {"preexec_fn": one_kb}),
        ("standard output that fails", "nicsim replay t.pcap --json - > /dev/full",
         ["replay", "t.pcap", "--json", "-"], {"stdout": full}),
        ("a long value", "nicsim replay t.pcap --set \"nic.rss_queues=[$(seq -s, 0 999)]\"",
         ["replay", "t.pcap", "--set", "nic.rss_queues=[%s]" % ",".join(str(i) for i in range(1000))], {}),
        ("a long XDP rule", "nicsim replay t.pcap --design zc-dedicated-queue "
         "--set \"xdp.rules=drop $(yes 'udp or' | head -7000 | tr '\\n' ' ')udp\"",
         ["replay", "t.pcap", "--design", "zc-dedicated-queue", "--set", "xdp.rules=" + rule], {}),
        ("a speed factor out of range", None, ["replay", "t.pcap", "--speed", "x1e-12"], {}),
        ("a design named twice", None, ["review", "t.pcap", "--designs", "copy,copy"], {}),
        ("too many frames to generate", None, ["gen", "-o", "g.pcap", "--packets", "100000001"], {}),
    ]
    out = []
    for what, shown, args, kw in cases:
        if "stdout" in kw:
            p = subprocess.run([NICSIM] + args, cwd=d, stderr=subprocess.PIPE, text=True, **kw)
            err, st = p.stderr.rstrip("\n"), p.returncode
        else:
            err, st = fail_run(args, d, **kw)
        out += ["# " + what, "$ " + (shown or "nicsim " + shlex.join(args)), err, "(exit status %d)" % st, ""]
    err, st = stopped_in_fifo_open(d)
    out += ["# SIGINT while opening a FIFO no one writes", "$ nicsim replay fifo     # then Ctrl-C", err,
            "(exit status %d)" % st]
    full.close()
    return fenced("\n".join(out))


# pcie-bench's measurements beside the sweep (NFP6000 on Broadwell, IOMMU with
# 4 KiB pages, bw_dma_win_sweep_rd_rnd_64, device-warm): published figures,
# not output of this program.
PCIE_BENCH_GBPS = {"64 KiB": "33.4 (at 16 KiB)", "256 KiB": "33.6", "512 KiB": "22.9", "1 MiB": "15.4",
                   "2 MiB": "12.2", "4 MiB": "10.7", "16 MiB": "9.9", "64 MiB": "9.8"}


def dmabench_sweep():
    """64 B random reads over windows of 64 KiB to 1 GiB, each IOMMU mode
    (docs/iommu.md): Gb/s, p50/p99 latency in ns, IOTLB hit rate."""
    windows = [("64 KiB", "64K"), ("256 KiB", "256K"), ("512 KiB", "512K"), ("1 MiB", "1M"), ("2 MiB", "2M"),
               ("4 MiB", "4M"), ("16 MiB", "16M"), ("64 MiB", "64M"), ("256 MiB", "256M"), ("1 GiB", "1G")]
    modes = ["off", "on", "superpages"]

    def one(arg):
        window, mode = arg
        return json.loads(run(["dmabench", "--window", window, "--iommu", mode, "--size", "64", "--pattern",
                               "random", "--count", "1000000", "--seed", "1", "--json", "-"]))

    jobs = [(w, m) for _, w in windows for m in modes]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        res = dict(zip(jobs, pool.map(one, jobs)))

    def cell(r):
        text = "%.1f, %.0f/%.0f" % (r["gbps"], r["lat_ns"]["p50"], r["lat_ns"]["p99"])
        lookups = r["iotlb_hits"] + r["iotlb_misses"]
        if lookups:
            text += ", %.1f%%" % (100.0 * r["iotlb_hits"] / lookups)
        return text

    rows = ["| window | off | on (4 KiB) | superpages | pcie-bench, 4 KiB pages |", "|---|---|---|---|---|"]
    for name, w in windows:
        rows.append("| %s | %s | %s |" % (name, " | ".join(cell(res[(w, m)]) for m in modes),
                                          PCIE_BENCH_GBPS.get(name, "")))
    return "\n".join(rows) + "\n"


def help_section(cmd, title):
    """The section of `nicsim CMD --help` whose first line starts with TITLE."""
    text = run([cmd, "--help"])
    start = text.index("\n" + title) + 1
    end = text.find("\n\n", start)
    return text[start:end if end >= 0 else len(text)].rstrip("\n")


def pcap_file(linktype, records, snaplen=65535):
    """A pcap file of RECORDS (bytes each, or (caplen, origlen, bytes))."""
    out = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snaplen, linktype)
    for r in records:
        caplen, origlen, data = r if isinstance(r, tuple) else (len(r), len(r), r)
        out += struct.pack("<IIII", 0, 0, caplen, origlen) + data
    return out


def pcapng_file(snaplen, caplen):
    """A pcapng file: one Ethernet interface of SNAPLEN, one packet of CAPLEN bytes."""
    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack("<IIHHII", 1, 20, 1, 0, snaplen, 20)
    data = bytes(caplen + (-caplen % 4))
    epb = struct.pack("<IIIIIII", 6, 32 + len(data), 0, 0, 0, caplen, caplen) + data + struct.pack("<I", 32 + len(data))
    return shb + idb + epb


def capture_runs(files, names):
    """replay of each of NAMES among FILES, in a folder of their own: the
    command, its one line and its exit status."""
    d = in_tmp("captures", files)
    out = []
    for name in names:
        err, st = fail_run(["replay", name], d)
        out += ["$ nicsim replay " + name, err, "(exit status %d)" % st]
    return fenced("\n".join(out))


def linktype_errors():
    """Captures of a link type with no Ethernet form (docs/traces.md)."""
    frame = bytes(60)
    return capture_runs({"radiotap.pcap": pcap_file(127, [frame]), "dlt-3145728.pcap": pcap_file(3145728, [frame])},
                        ["radiotap.pcap", "dlt-3145728.pcap"])


def record_errors():
    """Records with no Ethernet form, and hostile lengths (docs/traces.md);
    each file's first records are good, the last is not."""
    ip4 = bytes([0x45]) + bytes(19)
    sll = lambda arphrd, proto: struct.pack(">HHH8sH", 0, arphrd, 6, bytes(8), proto)
    files = {
        "cooked.pcap": pcap_file(113, [sll(1, 0x0800) + ip4, sll(280, 0x000c) + bytes(20)]),
        "loopback.pcap": pcap_file(0, [struct.pack("<I", 2) + ip4] * 5 + [struct.pack("<I", 7) + ip4]),
        "raw.pcap": pcap_file(101, [ip4, ip4, bytes([0x50]) + bytes(19)]),
        "huge-caplen.pcap": pcap_file(1, [bytes(60), (3925868813, 3925868813, bytes(60))], snaplen=262144),
        "pcapng-snaplen.pcapng": pcapng_file(100, 150),
        "torn.pcap": pcap_file(1, [bytes(100)] * 4 + [(100, 100, bytes(93))]),
    }
    return capture_runs(files, list(files))


SAMPLES = {
    "merge-table": merge_table,
    "packages": packages,
    "synopsis": synopsis,
    "replay-summary": replay_summary,
    "review-table": review_table,
    "review-markdown": review_markdown,
    "report-keys": report_keys,
    "review-keys": review_keys,
    "cpu-lines": cpu_lines,
    "scenario-errors": scenario_errors,
    "xdp-errors": xdp_errors,
    "spec-errors": spec_errors,
    "campaign-identity": campaign_identity,
    "campaign-synopsis": lambda: command_usage("campaign", "merge"),
    "merge-synopsis": lambda: command_usage("merge"),
    "gen-synopsis": lambda: command_usage("gen"),
    "linktype-errors": linktype_errors,
    "record-errors": record_errors,
    "campaign-jobs": campaign_jobs,
    "campaign-sbatch": campaign_sbatch,
    "merge-json": merge_json,
    "robustness-errors": robustness_errors,
    "dmabench-sweep": dmabench_sweep,
    "designs-list": lambda: fenced("$ nicsim designs\n" + run(["designs"])),
    "costs": lambda: fenced("$ nicsim costs\n" + run(["costs"])),
    "faults-help": lambda: fenced("$ nicsim replay --help\n...\n" + help_section("replay", "faults ")),
}

BLOCK = re.compile(r"(<!-- sample: ([a-z-]+) -->\n)(.*?)(<!-- end sample -->)", re.S)


def main():
    cache = {}
    stale = 0
    files = [os.path.join(TOP, "README.md")] + sorted(glob.glob(os.path.join(TOP, "docs", "*.md")))
    for path in files:
        text = open(path).read()

        def fill(m):
            name = m.group(2)
            if name not in SAMPLES:
                sys.exit("docs-samples: %s: unknown sample '%s' (known: %s)" % (path, name, ", ".join(SAMPLES)))
            if name not in cache:
                cache[name] = SAMPLES[name]()
            return m.group(1) + cache[name] + m.group(4)

        new = BLOCK.sub(fill, text)
        rel = os.path.relpath(path, TOP)
        if new == text:
            continue
        stale += 1
        if CHECK:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True), rel,
                                                       rel + " (this build)"))
        else:
            with open(path + ".tmp", "w") as f:
                f.write(new)
            os.replace(path + ".tmp", path)
            print("docs-samples: rewrote %s" % rel)
    if CHECK and stale:
        print("docs-samples: %d file(s) stale: run python3 scripts/docs-samples.py build/nicsim" % stale)
        return 1
    return 0


if __name__ == "__main__":
    try:
        status = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(status)
