#!/usr/bin/env bash
# cmake --install into a temporary prefix: the program, its documentation
# (share/doc/nicsim, which --help names), the manual page generated from
# --help by help2man (share/man/man1/nicsim.1: every command and option in
# it) and the bash completion (share/bash-completion/completions/nicsim),
# which completes commands, options, design names and scenario keys.
source "$(dirname "$0")/lib.bash"
: "${NICSIM_BINARY_DIR:?}"
P=$T/prefix
if cmake --install "$NICSIM_BINARY_DIR" --prefix "$P" > "$T/install.log" 2>&1; then ok "cmake --install to a temporary prefix"; else bad "cmake --install failed: $(tail -3 "$T/install.log")"; fi
N=$P/bin/nicsim
[ -x "$N" ] && ok "bin/nicsim installed" || bad "no bin/nicsim"
for d in user-guide.md reports.md report.schema.json campaigns.md; do
  [ -f "$P/share/doc/nicsim/$d" ] && ok "share/doc/nicsim/$d installed" || bad "share/doc/nicsim/$d missing"
done
# Every document the help names is installed under share/doc/nicsim.
refs=$( ("$N" --help; for c in replay review campaign merge gen designs costs dmabench; do "$N" "$c" --help; done) | grep -oE 'share/doc/nicsim/[a-z.-]+\.(md|json)' | sort -u)
for r in $refs; do [ -f "$P/$r" ] && ok "the help's $r is installed" || bad "the help names $r, not installed"; done
[ -n "$refs" ] && ok "the help names installed docs ($(echo $refs | wc -w))" || bad "the help names no installed document"

# The manual page.
M=$P/share/man/man1/nicsim.1
if [ -f "$M" ]; then ok "share/man/man1/nicsim.1 installed"; else bad "no manual page (help2man: scripts/setup.sh installs it)"; fi
if [ -f "$M" ] && command -v man >/dev/null; then
  MANWIDTH=120 man -l "$M" 2>/dev/null > "$T/man.txt"
  grep -q "NICSIM(1)" "$T/man.txt" && ok "man renders the page" || bad "man does not render the page"
  # every command and every option of every command's help is in the page
  missing=""
  for c in $("$N" --help | awk '/^commands:/{f=1;next} f&&/^$/{f=0} f&&/^  [a-z]+ /{print $1}' | grep -vxE 'help|version'); do
    grep -q "nicsim $c" "$T/man.txt" || missing="$missing $c"
    for o in $("$N" "$c" --help | grep -oE '(^| |\[)--[a-z][a-z0-9-]+' | tr -d ' [' | sort -u); do
      grep -q -- "$o" "$T/man.txt" || missing="$missing $c:$o"
    done
  done
  [ -z "$missing" ] && ok "the page has every command and every option of their help" || bad "the page lacks:$missing"
  syn=$(sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' "$T/man.txt")
  missing=""
  for c in $("$N" --help | awk '/^commands:/{f=1;next} f&&/^$/{f=0} f&&/^  [a-z]+ /{print $1}'); do
    echo "$syn" | grep -qE "nicsim +$c" || missing="$missing $c"
  done
  [ -z "$missing" ] && ok "the SYNOPSIS has every command" || bad "the SYNOPSIS lacks:$missing"
  for c in costs dmabench; do grep -qE "^ +nicsim $c$" "$T/man.txt" && ok "the page has a section for $c" || bad "no section for $c"; done
  grep -q -- "--limit N" "$T/man.txt" && grep -q "nicsim dmabench" "$T/man.txt" && ok "the page documents replay --limit and dmabench" || bad "man page incomplete"
fi

# The bash completion.
B=$P/share/bash-completion/completions/nicsim
[ -f "$B" ] && ok "share/bash-completion/completions/nicsim installed" || bad "no bash completion installed"
# complete WORDS...: what the completion offers for the last word.
complete_words() {
  PATH="$P/bin:$PATH" bash -c 'source "$1"; shift
    complete -p nicsim >/dev/null || { echo "no complete spec"; exit 1; }
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _nicsim; printf "%s\n" "${COMPREPLY[@]}"' _ "$B" "$@"
}
if [ -f "$B" ]; then
  PATH="$P/bin:$PATH" bash -c "source '$B'; complete -p nicsim" | grep -q -- "-F _nicsim nicsim" && ok "complete -p nicsim: -F _nicsim" || bad "the completion is not registered"
  want=$("$N" designs | awk '{print $1}' | sort)
  got=$(complete_words nicsim replay t.pcap --design "" | sort)
  [ -n "$want" ] && [ "$got" = "$want" ] && ok "--design completes every design name ($(echo "$want" | wc -l))" || bad "--design completes: $got"
  got=$(complete_words nicsim replay t.pcap --design zc-sh | sort)
  [ "$got" = "$(echo "$want" | grep '^zc-sh')" ] && ok "--design zc-sh completes to the zc-sh... designs" || bad "--design zc-sh: $got"
  got=$(complete_words nicsim review t.pcap --designs copy,zc-dedicated-queue-r)
  [ "$got" = "copy,zc-dedicated-queue-rss-leak" ] && ok "--designs completes the last element of a list" || bad "--designs list: $got"
  got=$(complete_words nicsim "")
  for c in replay review campaign merge gen designs costs dmabench; do echo "$got" | grep -qx "$c" || bad "commands: $c not completed"; done
  ok "the first word completes to the commands: $(echo $got | tr '\n' ' ')"
  got=$(complete_words nicsim replay t.pcap --set iommu.m)
  [ "$got" = "iommu.mode=" ] && ok "--set completes scenario keys (iommu.m -> iommu.mode=)" || bad "--set completes: $got"
  nkeys=$(complete_words nicsim replay t.pcap --set "" | wc -l)
  [ "$nkeys" -ge 20 ] && ok "--set offers every scenario key ($nkeys)" || bad "--set offers $nkeys keys"
  got=$(complete_words nicsim replay t.pcap --li)
  [ "$got" = "--limit" ] && ok "replay --li completes to --limit" || bad "replay --li: $got"
  got=$(complete_words nicsim review t.pcap --ht)
  [ "$got" = "--html" ] && ok "review --ht completes to --html" || bad "review --ht: $got"
  got=$(complete_words nicsim replay t.pcap --fault malicious)
  [ "$got" = "malicious_dma" ] && ok "--fault completes fault names" || bad "--fault: $got"
fi
finish
