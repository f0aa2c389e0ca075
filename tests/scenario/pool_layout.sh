#!/usr/bin/env bash
# The driver's shape (docs/design.md, "The driver by job"): the RX path reads and writes
# descriptors only through the device's descriptor ops (nic/rx_desc.h), never
# the 82599 layout; the driver's private state (pool/driver_priv.h) and the
# narrow headers of its files are included by pool/ files only; each of
# those files exists and names the Linux functions it models.
source "$(dirname "$0")/lib.bash"
S=$NICSIM_SOURCE_DIR
LAYOUT='nic_rx_desc_(wb|read)|NIC_RXD_|NIC_DESC_BYTES'
# The RX path's files (the TX side, pool/tx.c, has its own descriptors).
RX=$(ls "$S"/pool/*.[ch] | grep -v '/tx\.[ch]$')
hits=$(grep -nE "$LAYOUT" $RX 2>/dev/null)
if [ -z "$hits" ]; then ok "the RX path in pool/ names no field of the 82599 RX descriptor"; else
  bad "pool/ reads the device's descriptor layout directly:"; echo "$hits" | sed 's/^/  | /'; fi
PRIV='driver_priv|rx_ring|skb|rx_xdp|umem|sock'
hits=$(grep -rnE "#include[[:space:]]*\"($PRIV)\.h\"" "$S"/sim "$S"/nic "$S"/iommu "$S"/tests "$S"/traces \
  --include='*.c' --include='*.h' --include='*.cpp' 2>/dev/null)
if [ -z "$hits" ]; then ok "the driver's private headers are included by pool/ files only"; else
  bad "a file outside pool/ includes the driver's private state:"; echo "$hits" | sed 's/^/  | /'; fi
for f in driver.c rx_ring.c skb.c rx_xdp.c umem.c sock.c user.c; do
  [ -f "$S/pool/$f" ] || { bad "pool/$f is missing"; continue; }
  n=$(wc -l <"$S/pool/$f")
  [ "$n" -le 500 ] && ok "pool/$f has $n lines" || bad "pool/$f has $n lines: more than one job?"
done
for pair in 'rx_ring.c:ixgbe_clean_rx_irq' 'rx_ring.c:ixgbe_alloc_rx_buffers' 'skb.c:build_skb' \
  'rx_xdp.c:ixgbe_run_xdp' 'umem.c:xsk_buff_free' 'sock.c:__udp_enqueue_schedule_skb' 'user.c:xsk_ring_prod__submit'; do
  grep -q "${pair#*:}" "$S/pool/${pair%%:*}" && ok "pool/${pair%%:*} cites ${pair#*:}" \
    || bad "pool/${pair%%:*} does not cite ${pair#*:}"
done
# The checks catch what they look for.
printf 'struct nic_rx_desc_wb wb;\n#include "driver_priv.h"\n' >"$T/probe.c"
[ "$(grep -cE "$LAYOUT" "$T/probe.c")" -eq 1 ] && [ "$(grep -cE "#include[[:space:]]*\"($PRIV)\.h\"" "$T/probe.c")" -eq 1 ] \
  && ok "the patterns find a descriptor field and a private include" || bad "the probe was not matched"
finish
