#!/usr/bin/env bash
# NIC timing from the parameters: line-rate arrivals, and drops when the
# modelled driver is slower than the line, in the no-descriptor counter and
# growing as the core gets slower.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/s64.pcap" --packets 20000 --size 60 --flows 4 --seed 1 || bad "gen 64"
"$NICSIM" gen -o "$T/s1518.pcap" --packets 5000 --size 1514 --flows 4 --seed 1 || bad "gen 1518"

near() { python3 -c "import sys; a,b,t=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=t*abs(b) else 1)" "$@"; }

"$NICSIM" replay "$T/s64.pcap" --speed line --json "$T/a.json" >/dev/null
got=$(jval "$T/a.json" "d['throughput']['offered_mpps']")
want=$(python3 -c "print(10e3/((60+4+20)*8))")
if near "$got" "$want" 0.001; then ok "64 B frames at 10 Gb/s arrive at $got Mpps ($want)"; else bad "64 B: $got Mpps, wanted $want"; fi

"$NICSIM" replay "$T/s1518.pcap" --speed line --json "$T/b.json" >/dev/null
got=$(jval "$T/b.json" "d['throughput']['offered_mpps']")
want=$(python3 -c "print(10e3/((1514+4+20)*8))")
if near "$got" "$want" 0.001; then ok "1518 B frames at 10 Gb/s arrive at $got Mpps ($want)"; else bad "1518 B: $got Mpps, wanted $want"; fi
check "1518 B at 10 Gb/s: a 4 GHz core keeps up" "d['nic']['rx_dropped']==0" "$T/b.json"

"$NICSIM" replay "$T/s1518.pcap" --speed line --set nic.line_rate_gbps=40 --json "$T/c.json" >/dev/null
got=$(jval "$T/c.json" "d['throughput']['offered_mpps']")
want=$(python3 -c "print(40e3/((1514+4+20)*8))")
if near "$got" "$want" 0.001; then ok "1518 B frames at 40 Gb/s arrive at $got Mpps"; else bad "40G: $got vs $want"; fi

prev=-1
for ghz in 4 2 1; do
  # recvmsg copies inline (recv_delay 0), so all per-packet work is on the NAPI core.
  "$NICSIM" replay "$T/s64.pcap" --speed line --set cpu.ghz=$ghz --set driver.recv_delay_us=0 --json "$T/g$ghz.json" >/dev/null
  drops=$(jval "$T/g$ghz.json" "d['nic']['rx_dropped']")
  check "cpu.ghz=$ghz: the drops are no-descriptor drops" "d['nic']['per_queue'][0]['drop_no_desc']==d['nic']['rx_dropped']>0" "$T/g$ghz.json"
  # What a core of this speed can process while the trace lasts, plus what the ring held.
  python3 - "$T/g$ghz.json" "$ghz" <<'PY' && ok "cpu.ghz=$ghz: received packets match the core's capacity" || bad "cpu.ghz=$ghz: capacity"
import json, sys
d = json.load(open(sys.argv[1])); ghz = float(sys.argv[2])
n = d['trace']['packets']
duration_us = n / d['throughput']['offered_mpps']
capacity_mpps = ghz * 1e3 / d['cpu']['cycles_per_packet']
expected = capacity_mpps * duration_us + d['config']['nic.ring_size']
got = d['nic']['rx_packets']
print(f"  received {got}, expected about {expected:.0f}")
sys.exit(0 if abs(got - expected) <= 0.05 * n else 1)
PY
  if [ "$prev" -ge 0 ] && [ "$drops" -gt "$prev" ]; then ok "slower core, more drops ($prev -> $drops)"; elif [ "$prev" -ge 0 ]; then bad "drops did not grow: $prev -> $drops"; fi
  prev=$drops
done

# A packet buffer smaller than a burst fills, and its counter says so.
"$NICSIM" replay "$T/s1518.pcap" --speed line --set nic.line_rate_gbps=100 --set nic.pcie_gbps=20 --set nic.rx_buffer_kb=64 --json "$T/f.json" >/dev/null
check "a slow PCIe link fills the packet buffer" "d['nic']['per_queue'][0]['drop_buffer_full']>0" "$T/f.json"

finish
