#!/usr/bin/env bash
# Each property of the contract: a scenario that produces it and a
# near-identical one (one knob flipped) that does not, both run through the
# model on the same generated trace.
source "$(dirname "$0")/lib.bash"

"$NICSIM" gen -o "$T/g.pcap" --flows 8 --packets 800 --size imix --seed 21 || bad "gen"
G=$T/g.pcap

# pair PROPERTY DESCRIPTION "ARGS that produce it" "ARGS that do not"
pair() {
  local prop=$1 what=$2 yes=$3 no=$4
  # shellcheck disable=SC2086
  "$NICSIM" replay "$G" $yes --json "$T/yes.json" --quiet
  # shellcheck disable=SC2086
  "$NICSIM" replay "$G" $no --json "$T/no.json" --quiet
  local a b
  a=$(jval "$T/yes.json" "d['violations']['$prop']['count']")
  b=$(jval "$T/no.json" "d['violations']['$prop']['count']")
  if [ "${a:-0}" -gt 0 ] && [ "${b:-1}" -eq 0 ]; then
    ok "$prop: $what ($a with [$yes], 0 with [$no])"
  else
    bad "$prop: $what: $a with [$yes], $b with [$no]"
  fi
  check "$prop: the first occurrence is explained" \
    "d['violations']['$prop']['first'] is not None and len(d['violations']['$prop']['first']['explanation'])>40" "$T/yes.json"
}

pair cross_flow_leak "the shared ring leaks other flows; CAP_NET_ADMIN entitles them" \
  "--design zc-shared-ring" "--design zc-shared-ring --set app.caps=[CAP_NET_ADMIN]"
pair stale_data_leak "per-packet mappings of recycled pages; clearing on recycle" \
  "--design zc-shared-ring --set app.mapping_lifetime=per_packet --set pool.clear=on_entry" \
  "--design zc-shared-ring --set app.mapping_lifetime=per_packet --set pool.clear=on_recycle"
pair kernel_pointer_leak "writable SKBs in user-mapped pages; read-only SKBs" \
  "--design zc-shared-ring-writable --set app.caps=[CAP_NET_ADMIN]" \
  "--design zc-shared-ring --set app.caps=[CAP_NET_ADMIN]"
pair kernel_data_tamper "a malicious device over skb_shared_info; read-only SKBs leave none in the page" \
  "--design zc-shared-ring-writable --fault malicious_dma:prob=1" \
  "--design zc-shared-ring --fault malicious_dma:prob=1"
pair user_write_after_validation "a hostile writer with read-write mappings; read-only mappings" \
  "--design zc-shared-ring --set app.mapping=rw --set app.hostile_write=true" \
  "--design zc-shared-ring --set app.mapping=ro --set app.hostile_write=true"
pair device_write_outside_grant "a device writing past its buffers; the same device behaving" \
  "--design copy --fault malicious_dma:packet=300" "--design copy"
pair device_write_after_unmap "a late write in the lazy IOMMU's stale window; strict invalidation" \
  "--set driver.dma_mapping=per_packet --set driver.page_recycle=free --set iommu.mode=lazy --fault late_dma:packet=100,delay_us=1" \
  "--set driver.dma_mapping=per_packet --set driver.page_recycle=free --set iommu.mode=strict --fault late_dma:packet=100,delay_us=1"
check "strict mode refused the late write (an IOMMU fault)" "d['iommu']['faults']>=1" "$T/no.json"
pair pool_exhaustion "an application hoarding its pages starves the queue; one that returns them" \
  "--design zc-shared-ring --set nic.ring_size=256 --set pool.pages=256 --fault user_hoard" \
  "--design zc-shared-ring --set nic.ring_size=256 --set pool.pages=256"

finish
