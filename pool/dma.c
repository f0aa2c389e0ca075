/*
 * dma.c: see dma.h.
 */
#include "dma.h"

int64_t dma_map_page(struct iommu *io, struct mem *m, uint16_t rid, uint64_t pfn, unsigned perm,
                     uint64_t now_ps, uint64_t *iova) {
  int64_t c = iommu_map(io, rid, pfn, perm, now_ps, iova);
  if (c >= 0)
    mem_page_dma_ref(m, pfn, rid, +1);
  return c;
}

int64_t dma_map_contig(struct iommu *io, struct mem *m, uint16_t rid, uint64_t first_pfn, uint32_t n,
                       unsigned perm, uint64_t now_ps, uint64_t *iova) {
  int64_t c = iommu_map_contig(io, rid, first_pfn, n, perm, now_ps, iova);
  if (c >= 0)
    for (uint32_t i = 0; i < n; i++)
      mem_page_dma_ref(m, first_pfn + i, rid, +1);
  return c;
}

int64_t dma_unmap_page(struct iommu *io, struct mem *m, uint16_t rid, uint64_t iova, uint64_t pfn,
                       uint64_t now_ps) {
  int64_t c = iommu_unmap(io, rid, iova, now_ps);
  if (c >= 0)
    mem_page_dma_ref(m, pfn, rid, -1);
  return c;
}
