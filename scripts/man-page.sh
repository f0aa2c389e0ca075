#!/usr/bin/env bash
# man-page.sh NICSIM OUT: write the manual page nicsim(1) from the program's
# own help (Debian's help2man): nicsim --help for the synopsis and commands,
# then one section per command with its --help, so the page says what the
# program says. Run by the build (CMake target man); installed to
# share/man/man1.
set -euo pipefail
nicsim=$1 out=$2
inc=$(mktemp)
trap 'rm -f "$inc"' EXIT
# roff: escape backslashes, and keep lines starting with . or ' literal.
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
# One synopsis line: ".B nicsim CMD" then the rest as plain text.
roff_args() { sed -e 's/\\/\\e/g' -E -e 's/^\.B (nicsim [a-z]+) (.*)$/.B \1\n\\\&\2/'; }
commands=$("$nicsim" --help | awk '/^commands:/{f=1;next} f&&/^$/{f=0} f&&/^  [a-z]+ /{print $1}' | grep -vxE 'help|version')
{
  echo "[SYNOPSIS]"
  for c in $commands; do
    "$nicsim" "$c" --help | sed -n '1,/^$/p' | sed -e 's/^usage: //' -e 's/^ *//' | grep -v '^$' | tr '\n' ' ' |
      sed -e 's/ $//' -e 's/^/.B /' | roff_args
    echo
    echo ".br"
  done
  echo ".B nicsim help"
  echo '\&[COMMAND] | --help | -V | --version'
  echo '.br'
  echo '.B nicsim version'
  echo "[COMMANDS]"
  for c in $commands; do
    echo ".SS nicsim $c"
    echo ".nf"
    "$nicsim" "$c" --help | roff
    echo ".fi"
  done
  echo "[EXIT STATUS]"
  echo "replay: 0 when no violation was found, 1 when at least one was, 2 for input it"
  echo "cannot use (one line on standard error naming the file and the problem), and"
  echo "128+N when stopped by signal N (the report covers the frames replayed until then)."
  echo "The other commands: 0 when they completed, 2 otherwise."
  echo "[FILES]"
  echo ".TP"
  echo ".I PREFIX/share/doc/nicsim/"
  echo "the user guide (user-guide.md), the models, the report's meaning and schema"
  echo ".TP"
  echo ".I PREFIX/share/nicsim/designs/"
  echo "the built-in designs as scenario files, to copy and edit"
  echo "[SEE ALSO]"
  echo ".BR tcpdump (1),"
  echo ".BR tcpreplay (1),"
  echo ".BR pcap (3PCAP)"
} > "$inc"
help2man --no-info --no-discard-stderr --section=1 \
  --name="simulate a NIC with DMA and an IOMMU to settle memory-safety claims of zero-copy designs" \
  --include="$inc" --output="$out.tmp" "$nicsim"
mv "$out.tmp" "$out"
