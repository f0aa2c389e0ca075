/*
 * dma: the kernel's DMA API as the driver and page pool use it
 * (dma_map_page / dma_unmap_page): the IOMMU mapping, plus the fact that the
 * kernel has given the page to the device, recorded in memory for the
 * checker (a device write into a page with no mapping left is a write after
 * unmap, whatever the IOMMU let through).
 */
#ifndef NICSIM_DMA_H
#define NICSIM_DMA_H

#include <stdint.h>

#include "iommu.h"
#include "mem.h"

/* Returns CPU cycles spent, or negative when the IOMMU cannot map. */
int64_t dma_map_page(struct iommu *io, struct mem *m, uint16_t rid, uint64_t pfn, unsigned perm,
                     uint64_t now_ps, uint64_t *iova);
int64_t dma_map_contig(struct iommu *io, struct mem *m, uint16_t rid, uint64_t first_pfn, uint32_t n,
                       unsigned perm, uint64_t now_ps, uint64_t *iova);
int64_t dma_unmap_page(struct iommu *io, struct mem *m, uint16_t rid, uint64_t iova, uint64_t pfn,
                       uint64_t now_ps);

#endif
