#!/usr/bin/env bash
# kernel_data_tamper counts only live kernel data (bytes the kernel will read
# again). A malicious device overflowing its buffer to the end of the page
# hits the skb_shared_info of an skb freed earlier (dead: no tamper); with
# page_pool's lasting DMA mappings it can come back to a page whose skb is up
# the stack or queued on a socket and overwrite a live skb_shared_info
# (Thunderclap); a driver that unmaps each buffer, under a strict IOMMU,
# leaves it nothing live to reach.
source "$(dirname "$0")/lib.bash"
TR="$NICSIM_SOURCE_DIR/traces/samples/mixed.pcap"
"$NICSIM" replay "$TR" --design copy --fault malicious_dma:prob=1 --json "$T/pool.json" --quiet
"$NICSIM" replay "$TR" --design copy --set driver.dma_mapping=per_packet --set iommu.mode=strict \
  --fault malicious_dma:prob=1 --json "$T/strict.json" --quiet
check "the overflow is outside the grant on every frame" \
  "d['violations']['device_write_outside_grant']['count'] >= d['trace']['packets']" "$T/pool.json"
check "page_pool: a live skb_shared_info is overwritten (Thunderclap)" \
  "d['violations']['kernel_data_tamper']['count'] > 0" "$T/pool.json"
check "page_pool: only live shared infos count, not one per frame" \
  "d['violations']['kernel_data_tamper']['count'] < d['trace']['packets'] // 4" "$T/pool.json"
check "the tamper is of skb_shared_info, which the kernel still uses" \
  "d['violations']['kernel_data_tamper']['first']['source']['kind'] == 'skb_shared_info' and 'still uses' in d['violations']['kernel_data_tamper']['first']['explanation']" "$T/pool.json"
check "per-packet unmapping, strict IOMMU: still outside the grant" \
  "d['violations']['device_write_outside_grant']['count'] > 0" "$T/strict.json"
check "per-packet unmapping, strict IOMMU: only dead kernel data is reached, no tamper" \
  "d['violations']['kernel_data_tamper']['count'] == 0" "$T/strict.json"
finish
