#!/usr/bin/env python3
"""Regenerate the sample outputs in the documentation from real runs.

Usage: scripts/docs-samples.py NICSIM [--check]

Every block of README.md and docs/*.md between a line
`<!-- sample: NAME -->` and a line `<!-- end sample -->` is what the program
prints (or, for `packages`, what scripts/setup.sh installs): this script runs
NICSIM from the top of the source tree, on the bundled trace, and rewrites
the blocks. With --check it rewrites nothing, prints a diff of every stale
block and exits 1 (tests/scenario/docs_samples.sh), so the samples cannot
drift from the program.
"""
import difflib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

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
    run(["review", TRACE, "--designs", "copy,zc-shared-ring", "--set", "pool.clear=on_recycle", "--json", path,
         "--quiet"])
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
