/*
 * iova.c: the per-domain IOVA allocator (see iova.h). Function names in
 * comments are those of Linux 6.6 drivers/iommu/iova.c and dma-iommu.c.
 */
#include "iova.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ANCHOR UINT64_MAX       /* IOVA_ANCHOR: the node above everything */
#define CACHE_ORDERS 6          /* IOVA_RANGE_CACHE_MAX_SIZE */
#define DMA_32BIT_PFN (1ull << (32 - 12))

struct node {
  uint64_t lo, hi; /* pfn_lo, pfn_hi (inclusive) */
  uint64_t live;   /* pages mapped in the range (the IOMMU's count) */
  uint8_t cached;  /* held by the rcache */
};

struct mag {
  uint32_t size;
  uint64_t *pfns;
};

struct rcache {
  struct mag loaded, prev; /* iova_cpu_rcache of the one modelled CPU */
  struct mag *depot;       /* full magazines */
  uint32_t depot_size;
};

struct iova_domain {
  struct iova_params p;
  struct node *n; /* sorted by lo, highest first */
  size_t nn, capn;
  uint64_t cached, cached32; /* lo of cached_node / cached32_node, ANCHOR for the anchor */
  uint64_t max32_alloc_size;
  uint64_t start_pfn;
  int pci_32bit_workaround;
  struct rcache rc[CACHE_ORDERS];
};

static unsigned fls64(uint64_t x) { return x ? 64u - (unsigned)__builtin_clzll(x) : 0u; }
static unsigned order_base_2(uint64_t x) { return x <= 1 ? 0u : fls64(x - 1); }
static uint64_t roundup_pow2(uint64_t x) { return x <= 1 ? 1 : 1ull << fls64(x - 1); }

static int mag_init(struct mag *m, uint32_t cap) {
  m->size = 0;
  m->pfns = malloc((size_t)cap * sizeof *m->pfns);
  return m->pfns ? 0 : -1;
}

struct iova_domain *iova_domain_new(const struct iova_params *p) {
  if (!p || p->mag_size == 0 || p->limit_pfn < 1)
    return NULL;
  struct iova_domain *d = calloc(1, sizeof *d);
  if (!d)
    return NULL;
  d->p = *p;
  /* init_iova_domain: start_pfn = max(1, base) so IOVA 0 is never handed
   * out; both cached nodes at the anchor. */
  d->start_pfn = 1;
  d->cached = d->cached32 = ANCHOR;
  d->max32_alloc_size = DMA_32BIT_PFN;
  d->pci_32bit_workaround = !p->forcedac;
  for (int o = 0; o < CACHE_ORDERS; o++) {
    if (mag_init(&d->rc[o].loaded, p->mag_size) || mag_init(&d->rc[o].prev, p->mag_size)) {
      iova_domain_free(d);
      return NULL;
    }
  }
  return d;
}

void iova_domain_free(struct iova_domain *d) {
  if (!d)
    return;
  for (int o = 0; o < CACHE_ORDERS; o++) {
    free(d->rc[o].loaded.pfns);
    free(d->rc[o].prev.pfns);
    for (uint32_t i = 0; i < d->rc[o].depot_size; i++)
      free(d->rc[o].depot[i].pfns);
    free(d->rc[o].depot);
  }
  free(d->n);
  free(d);
}

uint64_t iova_ranges(const struct iova_domain *d) { return d->nn; }

/* ---- the range tree (a sorted array; index 0 is the highest range) ---- */

/* Index of the node whose range contains pfn, or -1. */
static ptrdiff_t find_containing(const struct iova_domain *d, uint64_t pfn) {
  size_t lo = 0, hi = d->nn; /* first index with n[i].lo <= pfn */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->n[mid].lo <= pfn)
      hi = mid;
    else
      lo = mid + 1;
  }
  if (lo < d->nn && d->n[lo].hi >= pfn)
    return (ptrdiff_t)lo;
  return -1;
}

/* Index of the node starting at lo; -1 for the anchor. */
static ptrdiff_t index_of(const struct iova_domain *d, uint64_t lo) {
  if (lo == ANCHOR)
    return -1;
  return find_containing(d, lo);
}

static uint64_t node_lo(const struct iova_domain *d, ptrdiff_t i) { return i < 0 ? ANCHOR : d->n[i].lo; }
static uint64_t node_hi(const struct iova_domain *d, ptrdiff_t i) { return i < 0 ? ANCHOR : d->n[i].hi; }

/* iova_find_limit: the lowest node reaching limit_pfn or above, from which
 * a retried search starts; the anchor above 4 GiB. */
static ptrdiff_t find_limit(const struct iova_domain *d, uint64_t limit_pfn) {
  if (limit_pfn > DMA_32BIT_PFN)
    return -1;
  ptrdiff_t best = -1;
  for (size_t i = 0; i < d->nn && d->n[i].hi >= limit_pfn; i++)
    best = (ptrdiff_t)i;
  return best;
}

/* __alloc_and_insert_iova_range: size pages, size-aligned, below limit_pfn
 * (exclusive). 0 with *out, or -1. */
static int tree_alloc(struct iova_domain *d, uint64_t size, uint64_t limit_pfn, uint64_t *out) {
  uint64_t align_mask = ~0ull << fls64(size - 1);
  uint64_t high_pfn = limit_pfn, low_pfn = d->start_pfn, new_pfn;
  if (limit_pfn <= DMA_32BIT_PFN && size >= d->max32_alloc_size)
    return -1; /* iova32_full */
  ptrdiff_t curr = index_of(d, limit_pfn <= DMA_32BIT_PFN ? d->cached32 : d->cached);
  uint64_t retry_pfn = node_hi(d, curr);
retry:
  do {
    uint64_t clo = node_lo(d, curr);
    if (clo < high_pfn)
      high_pfn = clo;
    new_pfn = (high_pfn - size) & align_mask;
    curr++; /* rb_prev: the next lower node */
  } while ((size_t)curr < d->nn && new_pfn <= d->n[curr].hi && new_pfn >= low_pfn);
  if (high_pfn < size || new_pfn < low_pfn) {
    if (low_pfn == d->start_pfn && retry_pfn < limit_pfn) {
      high_pfn = limit_pfn;
      low_pfn = retry_pfn + 1;
      curr = find_limit(d, limit_pfn);
      goto retry;
    }
    d->max32_alloc_size = size;
    return -1;
  }
  /* Insert before index curr (the first node below the new range). */
  if (d->nn == d->capn) {
    size_t nc = d->capn ? d->capn * 2 : 64;
    struct node *nn = realloc(d->n, nc * sizeof *nn);
    if (!nn)
      return -1;
    d->n = nn;
    d->capn = nc;
  }
  size_t at = (size_t)curr;
  memmove(d->n + at + 1, d->n + at, (d->nn - at) * sizeof *d->n);
  d->n[at] = (struct node){.lo = new_pfn, .hi = new_pfn + size - 1};
  d->nn++;
  /* __cached_rbnode_insert_update */
  if (new_pfn + size - 1 < DMA_32BIT_PFN)
    d->cached32 = new_pfn;
  else
    d->cached = new_pfn;
  *out = new_pfn;
  return 0;
}

/* remove_iova with __cached_rbnode_delete_update. */
static void tree_remove(struct iova_domain *d, ptrdiff_t i) {
  struct node f = d->n[i];
  uint64_t next_lo = i == 0 ? ANCHOR : d->n[i - 1].lo; /* rb_next: the next higher node */
  if (f.lo == d->cached32 || (f.hi < DMA_32BIT_PFN && f.lo >= d->cached32))
    d->cached32 = next_lo;
  if (f.lo < DMA_32BIT_PFN)
    d->max32_alloc_size = DMA_32BIT_PFN;
  if (f.lo >= d->cached)
    d->cached = next_lo;
  memmove(d->n + i, d->n + i + 1, (d->nn - (size_t)i - 1) * sizeof *d->n);
  d->nn--;
}

static void tree_free_pfn(struct iova_domain *d, uint64_t pfn) {
  ptrdiff_t i = find_containing(d, pfn);
  if (i >= 0)
    tree_remove(d, i);
}

/* ---- the range cache (rcache magazines) ---- */

static void mag_free_pfns(struct iova_domain *d, struct mag *m) {
  for (uint32_t i = 0; i < m->size; i++)
    tree_free_pfn(d, m->pfns[i]);
  m->size = 0;
}

/* iova_rcache_insert / __iova_rcache_insert. 1 when cached. */
static int rcache_insert(struct iova_domain *d, uint64_t pfn, uint64_t size) {
  unsigned log_size = order_base_2(size);
  if (log_size >= CACHE_ORDERS)
    return 0;
  struct rcache *rc = &d->rc[log_size];
  uint32_t cap = d->p.mag_size;
  if (rc->loaded.size < cap) {
    /* room in the loaded magazine */
  } else if (rc->prev.size < cap) {
    struct mag t = rc->prev;
    rc->prev = rc->loaded;
    rc->loaded = t;
  } else {
    struct mag fresh;
    if (mag_init(&fresh, cap))
      return 0;
    if (rc->depot_size < d->p.depot_mags) {
      struct mag *nd = realloc(rc->depot, (rc->depot_size + 1) * sizeof *nd);
      if (!nd) {
        free(fresh.pfns);
        return 0;
      }
      rc->depot = nd;
      rc->depot[rc->depot_size++] = rc->loaded;
    } else {
      /* The depot is full: the loaded magazine's IOVAs go back to the tree. */
      mag_free_pfns(d, &rc->loaded);
      free(rc->loaded.pfns);
    }
    rc->loaded = fresh;
  }
  rc->loaded.pfns[rc->loaded.size++] = pfn;
  return 1;
}

/* __iova_rcache_get with iova_magazine_pop: an IOVA whose range ends at or
 * below limit_pfn (inclusive). 0 when none. */
static uint64_t rcache_get(struct iova_domain *d, uint64_t size, uint64_t limit_pfn) {
  unsigned log_size = order_base_2(size);
  if (log_size >= CACHE_ORDERS || limit_pfn + 1 < size)
    return 0;
  struct rcache *rc = &d->rc[log_size];
  if (rc->loaded.size == 0) {
    if (rc->prev.size) {
      struct mag t = rc->prev;
      rc->prev = rc->loaded;
      rc->loaded = t;
    } else if (rc->depot_size) {
      free(rc->loaded.pfns);
      rc->loaded = rc->depot[--rc->depot_size];
    } else {
      return 0;
    }
  }
  uint64_t pfn_limit = limit_pfn + 1 - size; /* the first page may not exceed this */
  struct mag *m = &rc->loaded;
  uint32_t i = m->size - 1;
  while (m->pfns[i] > pfn_limit) {
    if (i == 0)
      return 0;
    i--;
  }
  uint64_t pfn = m->pfns[i];
  m->pfns[i] = m->pfns[--m->size]; /* swap it to pop it */
  return pfn;
}

/* free_cpu_cached_iovas + free_global_cached_iovas */
static void rcache_flush(struct iova_domain *d) {
  for (int o = 0; o < CACHE_ORDERS; o++) {
    struct rcache *rc = &d->rc[o];
    mag_free_pfns(d, &rc->loaded);
    mag_free_pfns(d, &rc->prev);
    for (uint32_t i = 0; i < rc->depot_size; i++) {
      mag_free_pfns(d, &rc->depot[i]);
      free(rc->depot[i].pfns);
    }
    rc->depot_size = 0;
  }
}

/* alloc_iova_fast: limit_pfn inclusive. */
static int alloc_fast(struct iova_domain *d, uint64_t size, uint64_t limit_pfn, int flush_rcache,
                      uint64_t *pfn, int *from_cache) {
  uint64_t p = rcache_get(d, size, limit_pfn);
  if (p) {
    ptrdiff_t i = find_containing(d, p);
    if (i >= 0) {
      d->n[i].cached = 0;
      d->n[i].live = 0;
    }
    *pfn = p;
    *from_cache = 1;
    return 0;
  }
  for (;;) {
    if (tree_alloc(d, size, limit_pfn + 1, pfn) == 0) {
      *from_cache = 0;
      return 0;
    }
    if (!flush_rcache)
      return -1;
    flush_rcache = 0; /* try replenishing IOVAs by flushing the rcache */
    rcache_flush(d);
  }
}

int iova_alloc(struct iova_domain *d, uint64_t npages, uint64_t *pfn, uint64_t *size,
               int *from_cache) {
  if (npages == 0 || npages > d->p.limit_pfn)
    return -1;
  /* alloc_iova_fast: "rounding up anything cacheable" */
  uint64_t sz = npages < (1u << (CACHE_ORDERS - 1)) ? roundup_pow2(npages) : npages;
  *size = sz;
  /* iommu_dma_alloc_iova: below 4 GiB first for PCI devices. */
  if (d->p.limit_pfn > DMA_32BIT_PFN - 1 && d->pci_32bit_workaround) {
    if (alloc_fast(d, sz, DMA_32BIT_PFN - 1, 0, pfn, from_cache) == 0)
      return 0;
    d->pci_32bit_workaround = 0; /* "Using %d-bit DMA addresses" */
  }
  return alloc_fast(d, sz, d->p.limit_pfn, 1, pfn, from_cache);
}

void iova_free(struct iova_domain *d, uint64_t pfn) {
  ptrdiff_t i = find_containing(d, pfn);
  if (i < 0 || d->n[i].cached)
    return;
  uint64_t lo = d->n[i].lo, size = d->n[i].hi - d->n[i].lo + 1;
  d->n[i].live = 0;
  d->n[i].cached = 1;
  if (rcache_insert(d, lo, size))
    return;
  /* find again: rcache_insert may have freed other ranges from the tree */
  tree_free_pfn(d, lo);
}

int iova_find(const struct iova_domain *d, uint64_t pfn, uint64_t *lo, uint64_t *size) {
  ptrdiff_t i = find_containing(d, pfn);
  if (i < 0 || d->n[i].cached)
    return -1;
  *lo = d->n[i].lo;
  *size = d->n[i].hi - d->n[i].lo + 1;
  return 0;
}

uint64_t iova_live_add(struct iova_domain *d, uint64_t pfn, int64_t delta) {
  ptrdiff_t i = find_containing(d, pfn);
  if (i < 0 || d->n[i].cached)
    return UINT64_MAX;
  d->n[i].live = (uint64_t)((int64_t)d->n[i].live + delta);
  return d->n[i].live;
}
