#!/usr/bin/env bash
# Installs the Debian packages nicsim needs, if any is missing. Run as root
# (or with sudo available). Nothing is downloaded from anywhere but Debian.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libsystemc-dev libpcap-dev check libjson-c-dev
      libyaml-dev python3 python3-jsonschema tcpdump chromium time
      clang libclang-rt-14-dev valgrind
      dwarves  # pahole, for the BTF layout test tests/btf/btf_layout.py
      help2man  # the manual page, generated from --help at build time
      parallel slurm-wlm munge)  # campaign engines: GNU parallel, a test Slurm (docs/campaigns.md)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
