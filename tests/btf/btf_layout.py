#!/usr/bin/env python3
"""Compare the Linux struct layouts the host model relies on with the running
kernel's BTF.

Usage: tests/btf/btf_layout.py LAYOUT_HEADER [BTF_FILE]

LAYOUT_HEADER is pool/linux_layout.h: every `#define NAME VALUE` whose comment
says `btf: size STRUCT`, `btf: offset STRUCT MEMBER` or `btf: dim STRUCT
MEMBER` (alternative names after `|`, for older kernels) is checked against
`pahole -C STRUCT` over BTF_FILE (default /sys/kernel/btf/vmlinux). Prints one
line per value; exits 0 when all match, 1 on a mismatch (or a header with no
marks), 77 with "skipped: no BTF" when the kernel has no BTF or pahole is not
installed. A struct the kernel does not have is reported and not counted as
a mismatch.
"""
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
DEFINE = re.compile(r"^#define\s+(\w+)\s+(\d+)u?\s*/\*\s*btf:\s*(size|offset|dim)\s+([\w|]+)(?:\s+([\w|]+))?\s*\*/")
MEMBER = re.compile(r"^\s*(?P<decl>.*?)\b(?P<name>\w+)(?:\[(?P<dim>\d+)\])?(?::\d+)?;\s*/\*\s*(?P<off>\d+)(?::\d+)?\s+(?P<size>\d+)\s*\*/")
SIZE = re.compile(r"/\*\s*size:\s*(\d+),")


def marks(header):
    out = []
    with open(header) as f:
        for line in f:
            m = DEFINE.match(line)
            if m:
                out.append((m.group(1), int(m.group(2)), m.group(3), m.group(4).split("|"),
                            m.group(5).split("|") if m.group(5) else []))
    return out


def pahole(btf, struct, cache):
    if struct not in cache:
        p = subprocess.run(["pahole", "-C", struct, btf], capture_output=True, text=True)
        cache[struct] = p.stdout if p.returncode == 0 and p.stdout.strip() else None
    return cache[struct]


def layout(text):
    """(size, {member: (offset, dim)}) of pahole's output for one struct: the
    first occurrence of each member name, and the struct's own size (the
    last "size:" comment at the outer indentation)."""
    size, members = None, {}
    for line in text.splitlines():
        m = MEMBER.match(line)
        if m and m.group("name") not in members:
            members[m.group("name")] = (int(m.group("off")), int(m.group("dim")) if m.group("dim") else None)
        s = SIZE.search(line)
        if s and line.startswith("\t/* size:"):
            size = int(s.group(1))
    return size, members


def main():
    if len(sys.argv) < 2:
        print("usage: btf_layout.py LAYOUT_HEADER [BTF_FILE]", file=sys.stderr)
        return 2
    header = sys.argv[1]
    btf = sys.argv[2] if len(sys.argv) > 2 else "/sys/kernel/btf/vmlinux"
    if not os.path.exists(btf):
        print(f"skipped: no BTF ({btf} does not exist)")
        return SKIP
    if not shutil.which("pahole"):
        print("skipped: no BTF reader (pahole, Debian package dwarves, is not installed)")
        return SKIP
    want = marks(header)
    if not want:
        print(f"FAIL: {header} has no 'btf:' marks")
        return 1
    cache, bad, checked = {}, 0, 0
    for name, value, what, structs, members in want:
        text = next((t for t in (pahole(btf, s, cache) for s in structs) if t), None)
        if text is None:
            print(f"absent: {name}: this kernel's BTF has no struct {'|'.join(structs)}")
            continue
        size, mem = layout(text)
        if what == "size":
            got = size
        else:
            hit = next((mem[x] for x in members if x in mem), None)
            got = None if hit is None else (hit[0] if what == "offset" else hit[1])
        checked += 1
        label = f"{what} {'|'.join(structs)}" + (f" {'|'.join(members)}" if members else "")
        if got == value:
            print(f"ok: {name} = {value} ({label})")
        else:
            bad += 1
            print(f"FAIL: {name} = {value} in the model, {got} in the kernel's BTF ({label})")
    print(f"{checked - bad} of {checked} layout values match the running kernel")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
