/*
 * iova: the per-domain IOVA allocator, modelled on Linux's
 * drivers/iommu/iova.c and its use by drivers/iommu/dma-iommu.c
 * (iommu_dma_alloc_iova / iommu_dma_free_iova), as of Linux 6.6 for one CPU.
 * Internal to iommu/; docs/iommu.md describes the policy.
 *
 * - A range tree of allocated IOVA ranges (page frame numbers), searched
 *   top-down from a cached node (cached32_node below 4 GiB, cached_node
 *   above), as __alloc_and_insert_iova_range does: size-aligned (aligned to
 *   the size rounded up to a power of two), retried once from the limit when
 *   the search from the cached node runs out.
 * - alloc_iova_fast: sizes under 32 pages are rounded up to a power of two;
 *   the range cache (rcache, per size order 0..5: a loaded and a previous
 *   magazine of mag_size IOVAs and a depot of depot_mags full magazines) is
 *   tried first; a failed tree search flushes the rcache and retries.
 * - iommu_dma_alloc_iova: a PCI device first tries below 4 GiB (the
 *   pci_32bit_workaround, unless forcedac), and after one failure there
 *   always uses its full DMA limit.
 * - free_iova_fast: into the rcache, else back to the tree.
 * Ranges held by the rcache stay in the tree (as in Linux), so the tree
 * never hands them out.
 */
#ifndef NICSIM_IOVA_H
#define NICSIM_IOVA_H

#include <stdint.h>

struct iova_domain;

struct iova_params {
  uint64_t limit_pfn;  /* highest usable IOVA page (inclusive): DMA mask and table width */
  int forcedac;        /* 1: no below-4-GiB first try */
  uint32_t mag_size;   /* IOVAs per magazine (>= 1) */
  uint32_t depot_mags; /* full magazines in the depot per size order */
};

struct iova_domain *iova_domain_new(const struct iova_params *p);
void iova_domain_free(struct iova_domain *d);

/* Allocate npages (>= 1). 0 with *pfn (first page), *size (pages reserved,
 * npages rounded up when under 32) and *from_cache (1: served by the
 * rcache); -1 when the space is exhausted or host memory runs out. */
int iova_alloc(struct iova_domain *d, uint64_t npages, uint64_t *pfn, uint64_t *size,
               int *from_cache);

/* Give back the range starting at pfn (free_iova_fast). */
void iova_free(struct iova_domain *d, uint64_t pfn);

/* The allocated range containing pfn (not one held by the rcache): 0 with
 * *lo and *size, or -1. */
int iova_find(const struct iova_domain *d, uint64_t pfn, uint64_t *lo, uint64_t *size);

/* Per-range count of mapped pages, kept for the IOMMU: add delta to the
 * range containing pfn and return the new count (UINT64_MAX: no range). */
uint64_t iova_live_add(struct iova_domain *d, uint64_t pfn, int64_t delta);

/* Ranges in the tree (allocated or cached), for tests. */
uint64_t iova_ranges(const struct iova_domain *d);

#endif
