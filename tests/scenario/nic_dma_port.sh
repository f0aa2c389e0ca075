#!/usr/bin/env bash
# The device reaches host memory only through its DMA port (iommu/port/dma_port.h):
# no file under nic/ includes the memory or IOMMU module, names a physical
# address or page frame, or calls the memory or IOMMU API, and the nic
# library does not link them (so an include of mem.h does not compile).
source "$(dirname "$0")/lib.bash"
NIC=$NICSIM_SOURCE_DIR/nic
hits=$(grep -nE '#include[[:space:]]*"(mem|iommu|iova)\.h"|\bpaddr\b|\b[a-z_]*pfn\b|\bphys\b|\biommu_[a-z_]+[[:space:]]*\(|\bmem_(read|write|fill|copy|peek|page_[a-z_]+|mark_[a-z_]+)[[:space:]]*\(|\bstruct (mem|iommu)\b|MEM_(LABEL|ACTOR)_' \
  "$NIC"/*.c "$NIC"/*.h 2>/dev/null)
if [ -z "$hits" ]; then ok "nic/ names no physical address, memory or IOMMU call"; else
  bad "nic/ reaches past its DMA port:"; echo "$hits" | sed 's/^/  | /'; fi
if grep -qE 'nicsim_(mem|iommu)\b' "$NIC/CMakeLists.txt"; then bad "nic/CMakeLists.txt links the memory or IOMMU library"
else ok "the nic library links only the DMA port's header"; fi
grep -q '#include "dma_port.h"' "$NIC/nic.h" && ok "nic.h uses the DMA port" || bad "nic.h does not include dma_port.h"
# The check itself catches what it looks for.
printf '#include "mem.h"\nuint64_t paddr = pfn << 12;\n' >"$T/probe.c"
n=$(grep -cE '#include[[:space:]]*"(mem|iommu|iova)\.h"|\bpaddr\b|\b[a-z_]*pfn\b' "$T/probe.c")
[ "$n" -eq 2 ] && ok "the pattern finds an include of mem.h and a physical address" || bad "probe matched $n lines"
finish
