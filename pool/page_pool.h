/*
 * page_pool: the per-queue page recycler of Linux net/core/page_pool.c.
 *
 * Pages come from the simulated page allocator when the pool is created (all
 * `pages` of them, so a zero-copy design can map the whole pool up front).
 * A page entering the pool is cleared when the policy says so (never,
 * on_entry, on_recycle: on_recycle clears on entry too), DMA-mapped for the
 * device when the mapping lifetime is `pool` (and kept while the page stays),
 * and mapped into a user principal when the pool is shared persistently.
 * Each alloc starts a new allocation epoch of the page; frees from the pool
 * are LIFO, like the alloc cache.
 *
 * Fragments (page_pool_alloc_frag, as page_pool_dev_alloc_frag in
 * net/core/page_pool.c): several buffers are carved one after the other out
 * of the page the pool is currently splitting, each counted in the page's
 * reference count (pp_ref_count); the pool holds one more reference while it
 * is still carving the page (the frag "bias"). A page goes back to the free
 * list only when its last reference is released (page_pool_recycle releases
 * one), so a page is reused, and enters a new epoch, only once every
 * fragment of it is done. The page keeps its DMA mapping throughout.
 */
#ifndef NICSIM_PAGE_POOL_H
#define NICSIM_PAGE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "iommu.h"
#include "mem.h"

enum pp_clear { PP_CLEAR_NEVER = 0, PP_CLEAR_ON_ENTRY, PP_CLEAR_ON_RECYCLE };

struct page_pool_params {
  uint32_t pages;
  uint8_t clear;        /* enum pp_clear */
  int dma_per_packet;   /* 1: the driver maps each buffer itself */
  uint16_t rid;         /* device the pages are mapped for */
  int user_principal;   /* -1: none; else mapped into it for the pool's life */
  uint8_t user_mode;    /* enum mem_map_mode when mapped */
};

struct page_pool_stats {
  uint64_t allocs, recycles, clears, empty;
  uint64_t frag_allocs;  /* fragments handed out (page_pool_alloc_frag) */
  uint32_t in_use, in_use_max;
};

struct page_pool;

/* NULL with err filled when memory runs out. Charges its setup to cpu. */
struct page_pool *page_pool_new(const struct page_pool_params *p, struct mem *m, struct iommu *io,
                                struct cpu *cpu, char *err, size_t errlen);
void page_pool_free(struct page_pool *pp);

/* Take a page: 0 with *pfn and, when the pool keeps the DMA mapping, *iova;
 * -1 when the pool is empty. */
int page_pool_alloc(struct page_pool *pp, uint64_t *pfn, uint64_t *iova);
/* The IOVA the pool keeps for pfn (pool mapping lifetime), else 0. */
uint64_t page_pool_iova(const struct page_pool *pp, uint64_t pfn);
/* A fragment of size bytes (a multiple of PP_FRAG_ALIGN, at most half a
 * page): 0 with *pfn, *offset (bytes into the page, aligned) and *iova (the
 * page's IOVA when the pool keeps the mapping), or -1 when the pool is empty. */
#define PP_FRAG_ALIGN 64u /* the DMA cache alignment (x86-64: L1_CACHE_BYTES) */
int page_pool_alloc_frag(struct page_pool *pp, uint32_t size, uint64_t *pfn, uint32_t *offset,
                         uint64_t *iova);
/* Release one reference to pfn (a page, or one fragment of it). When it was
 * the last one the page goes back to the pool (cleared when the policy says
 * so). */
void page_pool_recycle(struct page_pool *pp, uint64_t pfn);
/* References held on pfn now (0 when it is free in the pool or not the
 * pool's). */
uint32_t page_pool_page_refs(const struct page_pool *pp, uint64_t pfn);

const struct page_pool_stats *page_pool_stats(const struct page_pool *pp);
uint32_t page_pool_available(const struct page_pool *pp);
/* The number of free pages as a 64-bit signal for waveforms. */
const uint64_t *page_pool_free_signal(const struct page_pool *pp);

#endif
