/*
 * page_pool: the per-queue page recycler of Linux net/core/page_pool.c.
 *
 * The structure follows Linux:
 * - an alloc cache (pool->alloc.cache, PP_ALLOC_CACHE_SIZE = 128 pages): a
 *   stack the allocation fast path pops and direct recycling (from the NAPI
 *   poll of the pool's own queue, allow_direct) pushes;
 * - a recycle ring (pool->ring, a ptr_ring of pool_size = 1024 entries):
 *   FIFO; every other recycle produces into it; when the cache is empty the
 *   allocation refills it from the ring, PP_ALLOC_CACHE_REFILL = 64 pages at
 *   a time, and hands out the last page moved (page_pool_refill_alloc_cache);
 * - the slow path (__page_pool_alloc_pages_slow): when cache and ring are
 *   both empty, pages come from the simulated page allocator in a bulk of up
 *   to PP_ALLOC_CACHE_REFILL (alloc_pages_bulk), each cleared when the policy
 *   says so (on_entry, on_recycle), DMA-mapped for the device when the pool
 *   keeps the mappings (PP_FLAG_DMA_MAP; not when the driver maps each buffer
 *   itself) and mapped into a user principal when the pool is shared with
 *   one for its life (the zero-copy designs of 2016); they go into the cache
 *   and the last one is handed out.
 *
 * Pages leave the pool (page_pool_return_page: DMA unmapped through the
 * IOMMU, user mapping removed, page given back to the page allocator with
 * whatever it holds) when a recycle finds the ring full, and when the pool
 * is destroyed. A page still held by someone else when its last pool
 * reference is put back (Linux: page_ref_count != 1) also leaves, but is not
 * freed (the other holder's reference keeps it); see docs/pool.md for why
 * the driver model never does that.
 *
 * `pages` bounds the pages the pool has at once (in the cache, in the ring
 * and out in flight): the slow path takes no more, and an allocation then
 * fails (counted in `empty`), as a fixed-size region shared with a
 * zero-copy application would.
 *
 * Each alloc starts a new allocation epoch of the page.
 *
 * Fragments (page_pool_alloc_frag, as page_pool_dev_alloc_frag): several
 * buffers are carved one after the other out of the page the pool is
 * currently splitting, each counted in the page's reference count
 * (pp_ref_count); the pool holds one more reference while it is still
 * carving the page (the frag "bias"). A page is recycled only when its last
 * reference is released, so it is reused, and enters a new epoch, only once
 * every fragment of it is done. The page keeps its DMA mapping throughout.
 */
#ifndef NICSIM_PAGE_POOL_H
#define NICSIM_PAGE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "iommu.h"
#include "mem.h"
#include "linux_layout.h"

enum pp_clear { PP_CLEAR_NEVER = 0, PP_CLEAR_ON_ENTRY, PP_CLEAR_ON_RECYCLE };

#define PP_ALLOC_CACHE_SIZE LINUX_PP_ALLOC_CACHE_SIZE     /* include/net/page_pool/types.h */
#define PP_ALLOC_CACHE_REFILL LINUX_PP_ALLOC_CACHE_REFILL /* pages moved per refill, and per slow-path bulk */
#define PP_RING_SIZE_DEFAULT 1024u /* ptr_ring size when pool_size is 0 */

struct page_pool_params {
  uint32_t pages;       /* most pages the pool has at once (cache + ring + in flight); 0: no cap */
  uint32_t cache_size;  /* alloc cache [pages]; 0: PP_ALLOC_CACHE_SIZE */
  uint32_t ring_size;   /* recycle ring [pages]; 0: PP_RING_SIZE_DEFAULT */
  uint8_t clear;        /* enum pp_clear */
  int dma_per_packet;   /* 1: the driver maps each buffer itself */
  uint16_t rid;         /* device the pages are mapped for */
  int user_principal;   /* -1: none; else each page is mapped into it while in the pool */
  uint8_t user_mode;    /* enum mem_map_mode when mapped */
  /* Further principals (bit per principal id) each page is mapped into
   * while in the pool, principal i with mode user_modes[i]: tenants that
   * share the queue zero-copy. */
  uint64_t user_more;
  uint8_t user_modes[MEM_MAX_PRINCIPALS];
};

/* Counters, named after Linux's page_pool_alloc_stats / page_pool_recycle_stats
 * where Linux has them. */
struct page_pool_stats {
  uint64_t allocs;       /* pages (or first fragments of a page) handed out */
  uint64_t recycles;     /* pages put back into the pool (cache or ring) */
  uint64_t clears;       /* pages cleared (4 KiB memset each) */
  uint64_t empty;        /* allocations that failed: nothing in the pool and the bound reached */
  uint64_t frag_allocs;  /* fragments handed out (page_pool_alloc_frag) */
  uint64_t alloc_fast;   /* allocations from the alloc cache */
  uint64_t alloc_refill; /* allocations served by refilling the cache from the ring */
  uint64_t alloc_slow;   /* allocations served by the slow path (page allocator) */
  uint64_t pages_entered; /* pages taken from the page allocator (pages_state_hold_cnt) */
  uint64_t recycle_cached;     /* direct recycles into the cache */
  uint64_t recycle_cache_full; /* direct recycles that found the cache full (went to the ring) */
  uint64_t recycle_ring;       /* recycles into the ring */
  uint64_t recycle_ring_full;  /* recycles that found the ring full: the page left the pool */
  uint64_t recycle_released_refcnt; /* last pool reference put while someone else held the page */
  uint64_t released;     /* pages that left the pool, DMA-unmapped (pages_state_release_cnt) */
  uint64_t destroy_released; /* of which released when the pool was destroyed (cache, ring) */
  uint64_t destroy_inflight; /* pages out in flight when the pool was destroyed */
  uint32_t in_use, in_use_max;             /* pages out of the pool (handed out) */
  uint32_t in_pool, in_pool_max;           /* pages the pool has: entered - released */
};

/* dst += src, field by field (maxima included: a sum of maxima). */
void page_pool_stats_add(struct page_pool_stats *dst, const struct page_pool_stats *src);

struct page_pool;

/* An empty pool (no page is taken before the first allocation). NULL with err
 * filled when the parameters are bad or host memory runs out. */
struct page_pool *page_pool_new(const struct page_pool_params *p, struct mem *m, struct iommu *io,
                                struct cpu *cpu, char *err, size_t errlen);
/* page_pool_destroy: release every page in the cache and the ring (and the
 * pool's reference on the page being split into fragments), DMA-unmap the
 * pages still in flight and count them (page_pool_scrub, page_pool_inflight);
 * those are freed when they come back. Charges the unmaps to cpu.
 * Idempotent. */
void page_pool_destroy(struct page_pool *pp);
/* Destroy (when not done yet) and free the pool's host memory. Pages still in
 * flight are forgotten. */
void page_pool_free(struct page_pool *pp);

/* Take a page: 0 with *pfn and, when the pool keeps the DMA mapping, *iova;
 * -1 when the pool is empty (nothing in the cache or the ring, and the
 * bound reached or no free page left in simulated RAM). */
int page_pool_alloc(struct page_pool *pp, uint64_t *pfn, uint64_t *iova);
/* The IOVA the pool keeps for pfn (pool mapping lifetime), else 0. */
uint64_t page_pool_iova(const struct page_pool *pp, uint64_t pfn);
/* A fragment of size bytes (a multiple of PP_FRAG_ALIGN, at most half a
 * page): 0 with *pfn, *offset (bytes into the page, aligned) and *iova (the
 * page's IOVA when the pool keeps the mapping), or -1 when the pool is empty. */
#define PP_FRAG_ALIGN 64u /* the DMA cache alignment (x86-64: L1_CACHE_BYTES) */
int page_pool_alloc_frag(struct page_pool *pp, uint32_t size, uint64_t *pfn, uint32_t *offset,
                         uint64_t *iova);
/* page_pool_put_page: release one reference to pfn (a page, or one fragment
 * of it). When it was the last one the page is recycled (cleared when the
 * policy says so): into the alloc cache when allow_direct (the caller is the
 * NAPI poll of the pool's own queue) and the cache has room, else into the
 * ring; when the ring is full the page leaves the pool. */
void page_pool_put_page(struct page_pool *pp, uint64_t pfn, int allow_direct);
/* References held on pfn now (0 when it is in the pool's cache or ring, or
 * not the pool's). */
uint32_t page_pool_page_refs(const struct page_pool *pp, uint64_t pfn);
/* 1 when pfn belongs to the pool now (in the cache, the ring or in flight). */
int page_pool_owns(const struct page_pool *pp, uint64_t pfn);

const struct page_pool_stats *page_pool_stats(const struct page_pool *pp);
/* Pages an allocation could get now: cache + ring + what the slow path may
 * still take (the bound, and free pages in simulated RAM). */
uint32_t page_pool_available(const struct page_pool *pp);
/* Pages in the alloc cache and in the ring now. */
uint32_t page_pool_cached(const struct page_pool *pp);
uint32_t page_pool_ring_count(const struct page_pool *pp);
/* Pages available (page_pool_available) as a 64-bit signal for waveforms. */
const uint64_t *page_pool_free_signal(const struct page_pool *pp);

#endif
