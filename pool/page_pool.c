/*
 * page_pool.c: see page_pool.h.
 *
 * The pages a pool has are kept in slots (grown on demand up to the bound),
 * found from their frame number through a small open-addressing hash table.
 * The alloc cache and the recycle ring hold slot numbers.
 */
#include "page_pool.h"

#include <stdio.h>
#include <stdlib.h>

#include "dma.h"
#include "simk.h"

enum pp_state { PP_SLOT_UNUSED = 0, PP_IN_CACHE, PP_IN_RING, PP_OUT };

struct pp_page {
  uint64_t pfn;
  uint64_t iova;
  uint32_t refs;  /* pp_ref_count: fragments (or the page) handed out, plus the
                     pool's own while it carves the page */
  uint8_t state;  /* enum pp_state */
  uint8_t dma_unmapped; /* page_pool_scrub unmapped it while in flight */
};

struct page_pool {
  struct page_pool_params p;
  struct mem *m;
  struct iommu *io;
  struct cpu *cpu;
  /* the pages the pool has now, by slot; unused slots on a stack */
  struct pp_page *slot;
  uint32_t nslots, slot_cap;
  uint32_t *free_slots;
  uint32_t nfree_slots;
  /* pfn -> slot + 1 (0: empty), linear probing, power-of-two size */
  uint64_t *hkey;
  uint32_t *hval;
  uint32_t hcap, hcount;
  /* alloc cache: a stack of slots */
  uint32_t *cache;
  uint32_t cache_n;
  /* recycle ring (ptr_ring): FIFO of slots */
  uint32_t *ring;
  uint32_t ring_head, ring_n;
  /* the page being split into fragments (pool->frag_page), and where the
   * next fragment starts in it (pool->frag_offset) */
  int32_t frag_slot; /* -1: none */
  uint32_t frag_offset;
  int destroyed;
  struct page_pool_stats st;
  uint64_t vcd_free;
};

static const struct mem_accessor kcpu = {.actor = MEM_ACTOR_KERNEL, .id = 0};

/* ---- pfn -> slot ---- */

static uint32_t hslot(const struct page_pool *pp, uint64_t pfn) {
  uint64_t h = pfn * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> 32) & (pp->hcap - 1);
}

static int hgrow(struct page_pool *pp) {
  uint32_t ncap = pp->hcap ? pp->hcap * 2 : 64;
  uint64_t *nk = calloc(ncap, sizeof *nk);
  uint32_t *nv = calloc(ncap, sizeof *nv);
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return -1;
  }
  uint64_t *ok = pp->hkey;
  uint32_t *ov = pp->hval;
  uint32_t ocap = pp->hcap;
  pp->hkey = nk;
  pp->hval = nv;
  pp->hcap = ncap;
  for (uint32_t i = 0; i < ocap; i++) {
    if (!ov[i])
      continue;
    uint32_t j = hslot(pp, ok[i]);
    while (nv[j])
      j = (j + 1) & (ncap - 1);
    nk[j] = ok[i];
    nv[j] = ov[i];
  }
  free(ok);
  free(ov);
  return 0;
}

static int hfind(const struct page_pool *pp, uint64_t pfn) {
  if (!pp->hcap)
    return -1;
  for (uint32_t j = hslot(pp, pfn);; j = (j + 1) & (pp->hcap - 1)) {
    if (!pp->hval[j])
      return -1;
    if (pp->hkey[j] == pfn)
      return (int)j;
  }
}

/* Room checked by the caller (hcount * 2 < hcap). */
static void hput(struct page_pool *pp, uint64_t pfn, uint32_t slot) {
  uint32_t j = hslot(pp, pfn);
  while (pp->hval[j])
    j = (j + 1) & (pp->hcap - 1);
  pp->hkey[j] = pfn;
  pp->hval[j] = slot + 1;
  pp->hcount++;
}

/* Backward-shift deletion: no tombstones. */
static void hdel(struct page_pool *pp, uint32_t j) {
  uint32_t mask = pp->hcap - 1;
  pp->hval[j] = 0;
  pp->hcount--;
  for (uint32_t k = (j + 1) & mask; pp->hval[k]; k = (k + 1) & mask) {
    uint32_t home = hslot(pp, pp->hkey[k]);
    /* Move k into the hole at j when its home is not in (j, k]. */
    if (((k - home) & mask) >= ((k - j) & mask)) {
      pp->hkey[j] = pp->hkey[k];
      pp->hval[j] = pp->hval[k];
      pp->hval[k] = 0;
      j = k;
    }
  }
}

static struct pp_page *find(const struct page_pool *pp, uint64_t pfn) {
  int j = hfind(pp, pfn);
  return j < 0 ? NULL : &pp->slot[pp->hval[j] - 1];
}

/* ---- bookkeeping ---- */

static uint32_t headroom(const struct page_pool *pp) {
  if (pp->destroyed)
    return 0;
  uint32_t room = pp->p.pages - pp->st.in_pool;
  uint64_t ram = mem_pages_free(pp->m);
  return ram < room ? (uint32_t)ram : room;
}

uint32_t page_pool_available(const struct page_pool *pp) {
  if (pp->destroyed)
    return 0;
  return pp->cache_n + pp->ring_n + headroom(pp);
}

static void update_signal(struct page_pool *pp) { pp->vcd_free = page_pool_available(pp); }

static void clear_page(struct page_pool *pp, uint64_t pfn) {
  mem_fill(pp->m, kcpu, pfn << MEM_PAGE_SHIFT, 0, MEM_PAGE_SIZE, NULL);
  cpu_charge(pp->cpu, CPU_CLEAR, cpu_clear_cycles(MEM_PAGE_SIZE));
  pp->st.clears++;
}

/* A slot for a new page (host memory grows on demand). -1 when host memory
 * runs out. */
static int slot_get(struct page_pool *pp, uint32_t *out) {
  if ((pp->hcount + 1) * 2 > pp->hcap && hgrow(pp))
    return -1;
  if (pp->nfree_slots) {
    *out = pp->free_slots[--pp->nfree_slots];
    return 0;
  }
  if (pp->nslots == pp->slot_cap) {
    uint32_t ncap = pp->slot_cap ? pp->slot_cap * 2 : 64;
    if (ncap > pp->p.pages)
      ncap = pp->p.pages;
    struct pp_page *ns = realloc(pp->slot, ncap * sizeof *ns);
    if (!ns)
      return -1;
    pp->slot = ns;
    uint32_t *nf = realloc(pp->free_slots, ncap * sizeof *nf);
    if (!nf)
      return -1;
    pp->free_slots = nf;
    pp->slot_cap = ncap;
  }
  *out = pp->nslots++;
  return 0;
}

/* Map page pfn into (map 1) or out of (map 0) every principal the pool's
 * pages are mapped into while they are in it. */
static void map_users(struct page_pool *pp, uint64_t pfn, int map) {
  uint64_t who = pp->p.user_more;
  if (pp->p.user_principal >= 0)
    who |= 1ull << pp->p.user_principal;
  while (who) {
    unsigned p = (unsigned)__builtin_ctzll(who);
    who &= who - 1;
    enum mem_map_mode mode = (int)p == pp->p.user_principal ? (enum mem_map_mode)pp->p.user_mode
                                                            : (enum mem_map_mode)pp->p.user_modes[p];
    mem_page_map(pp->m, pfn, p, map ? mode : MEM_MAP_NONE);
    cpu_charge(pp->cpu, CPU_MAP, map ? pp->cpu->costs.user_map : pp->cpu->costs.user_unmap);
  }
}

/* A fresh page from the page allocator enters the pool (slow path): cleared
 * when the policy says so, DMA-mapped when the pool keeps the mappings,
 * mapped into the user principal the pool is shared with. Returns its slot
 * (in no list yet), or -1. */
static int enter_page(struct page_pool *pp, uint32_t *slot) {
  uint32_t s;
  uint64_t pfn, iova = 0;
  if (slot_get(pp, &s))
    return -1;
  if (mem_page_alloc(pp->m, &pfn)) {
    pp->free_slots[pp->nfree_slots++] = s;
    return -1;
  }
  cpu_charge(pp->cpu, CPU_OTHER, pp->cpu->costs.page_alloc);
  if (pp->p.clear != PP_CLEAR_NEVER)
    clear_page(pp, pfn);
  if (!pp->p.dma_per_packet) {
    /* page_pool_dma_map (PP_FLAG_DMA_MAP): kept while the page stays. */
    int64_t c = dma_map_page(pp->io, pp->m, pp->p.rid, pfn, IOMMU_PERM_READ | IOMMU_PERM_WRITE,
                             simk_now_ps(), &iova);
    if (c < 0) {
      mem_page_free(pp->m, pfn);
      pp->free_slots[pp->nfree_slots++] = s;
      return -1;
    }
    cpu_charge(pp->cpu, CPU_IOMMU, (uint64_t)c);
  }
  map_users(pp, pfn, 1);
  pp->slot[s] = (struct pp_page){.pfn = pfn, .iova = iova, .refs = 0, .state = PP_IN_CACHE};
  hput(pp, pfn, s);
  pp->st.pages_entered++;
  if (++pp->st.in_pool > pp->st.in_pool_max)
    pp->st.in_pool_max = pp->st.in_pool;
  *slot = s;
  return 0;
}

/* page_pool_return_page: the page leaves the pool. Its DMA mapping is
 * removed (through the IOMMU: a later device write through the old IOVA
 * faults, or, while a lazy IOTLB entry lingers, lands in a page nobody gave
 * the device), so is the pool's user mapping, and the page goes back to the
 * page allocator with whatever it holds, unless someone else still holds it
 * (then only the pool lets go of it). */
static void release(struct page_pool *pp, uint32_t s, int still_held) {
  struct pp_page *e = &pp->slot[s];
  if (!pp->p.dma_per_packet && !e->dma_unmapped) {
    int64_t c = dma_unmap_page(pp->io, pp->m, pp->p.rid, e->iova, e->pfn, simk_now_ps());
    if (c > 0)
      cpu_charge(pp->cpu, CPU_IOMMU, (uint64_t)c);
  }
  if (!still_held) {
    map_users(pp, e->pfn, 0);
    mem_page_free(pp->m, e->pfn);
  }
  int j = hfind(pp, e->pfn);
  if (j >= 0)
    hdel(pp, (uint32_t)j);
  e->state = PP_SLOT_UNUSED;
  e->refs = 0;
  e->dma_unmapped = 0;
  pp->free_slots[pp->nfree_slots++] = s;
  pp->st.in_pool--;
  pp->st.released++;
}

/* ---- creation and destruction ---- */

struct page_pool *page_pool_new(const struct page_pool_params *p, struct mem *m, struct iommu *io,
                                struct cpu *cpu, char *err, size_t errlen) {
  struct page_pool_params q = *p;
  if (q.cache_size == 0)
    q.cache_size = PP_ALLOC_CACHE_SIZE;
  if (q.ring_size == 0)
    q.ring_size = PP_RING_SIZE_DEFAULT;
  if (q.pages == 0)
    q.pages = UINT32_MAX; /* no cap: the page allocator is the limit, as in Linux */
  struct page_pool *pp = calloc(1, sizeof *pp);
  if (!pp) {
    snprintf(err, errlen, "page_pool: out of memory");
    return NULL;
  }
  pp->p = q;
  pp->m = m;
  pp->io = io;
  pp->cpu = cpu;
  pp->frag_slot = -1;
  pp->cache = calloc(q.cache_size, sizeof *pp->cache);
  pp->ring = calloc(q.ring_size, sizeof *pp->ring);
  if (!pp->cache || !pp->ring) {
    page_pool_free(pp);
    snprintf(err, errlen, "page_pool: out of memory");
    return NULL;
  }
  update_signal(pp);
  return pp;
}

static void put_page(struct page_pool *pp, struct pp_page *e, int allow_direct);

void page_pool_destroy(struct page_pool *pp) {
  if (!pp || pp->destroyed)
    return;
  pp->destroyed = 1;
  /* page_pool_free_frag: the pool's own reference on the page it carves. */
  if (pp->frag_slot >= 0) {
    struct pp_page *e = &pp->slot[pp->frag_slot];
    pp->frag_slot = -1;
    put_page(pp, e, 0);
  }
  /* page_pool_scrub / page_pool_empty_ring: everything the pool keeps. */
  while (pp->cache_n) {
    release(pp, pp->cache[--pp->cache_n], 0);
    pp->st.destroy_released++;
  }
  while (pp->ring_n) {
    uint32_t s = pp->ring[pp->ring_head];
    pp->ring_head = (pp->ring_head + 1) % pp->p.ring_size;
    pp->ring_n--;
    release(pp, s, 0);
    pp->st.destroy_released++;
  }
  /* Pages still in flight (net/core/page_pool.c, page_pool_release):
   * page_pool_scrub dma-unmaps every page the pool ever mapped that is
   * still mapped, in flight too (the pool tracks them in its dma_mapped
   * xarray; __page_pool_unmap_netmem_dma, no page reference taken), so the
   * device loses them at once; page_pool_inflight counts them, and
   * page_pool_release_retry (every DEFER_TIME, 1 s) frees the ones that
   * came back into the ring until none is left in flight. Here a page that
   * comes back after the destroy is released at once (put_page). */
  for (uint32_t s = 0; s < pp->nslots; s++) {
    struct pp_page *e = &pp->slot[s];
    if (e->state != PP_OUT || pp->p.dma_per_packet || e->dma_unmapped)
      continue;
    int64_t c = dma_unmap_page(pp->io, pp->m, pp->p.rid, e->iova, e->pfn, simk_now_ps());
    if (c > 0)
      cpu_charge(pp->cpu, CPU_IOMMU, (uint64_t)c);
    e->dma_unmapped = 1;
  }
  pp->st.destroy_inflight = pp->st.in_use;
  update_signal(pp);
}

void page_pool_free(struct page_pool *pp) {
  if (!pp)
    return;
  if (pp->cache && pp->ring)
    page_pool_destroy(pp);
  free(pp->slot);
  free(pp->free_slots);
  free(pp->hkey);
  free(pp->hval);
  free(pp->cache);
  free(pp->ring);
  free(pp);
}

/* ---- allocation ---- */

/* The slot of the next page to hand out, from the cache, a refill from the
 * ring, or the slow path. -1 when there is none. */
static int take(struct page_pool *pp, uint32_t *out) {
  if (pp->destroyed)
    return -1;
  if (pp->cache_n) {
    pp->st.alloc_fast++;
  } else if (pp->ring_n) {
    /* page_pool_refill_alloc_cache: consume from the ring (oldest first)
     * until the cache holds PP_ALLOC_CACHE_REFILL pages, hand out the last. */
    uint32_t want = PP_ALLOC_CACHE_REFILL < pp->p.cache_size ? PP_ALLOC_CACHE_REFILL : pp->p.cache_size;
    while (pp->ring_n && pp->cache_n < want) {
      uint32_t s = pp->ring[pp->ring_head];
      pp->ring_head = (pp->ring_head + 1) % pp->p.ring_size;
      pp->ring_n--;
      pp->slot[s].state = PP_IN_CACHE;
      pp->cache[pp->cache_n++] = s;
    }
    pp->st.alloc_refill++;
  } else {
    /* __page_pool_alloc_pages_slow: a bulk of fresh pages into the cache,
     * within the bound. */
    uint32_t want = PP_ALLOC_CACHE_REFILL < pp->p.cache_size ? PP_ALLOC_CACHE_REFILL : pp->p.cache_size;
    uint32_t room = pp->p.pages - pp->st.in_pool;
    if (want > room)
      want = room;
    for (uint32_t i = 0; i < want; i++) {
      uint32_t s;
      if (enter_page(pp, &s))
        break;
      pp->cache[pp->cache_n++] = s;
    }
    if (!pp->cache_n) {
      pp->st.empty++;
      update_signal(pp);
      return -1;
    }
    pp->st.alloc_slow++;
  }
  *out = pp->cache[--pp->cache_n];
  return 0;
}

int page_pool_alloc(struct page_pool *pp, uint64_t *pfn, uint64_t *iova) {
  uint32_t s;
  if (take(pp, &s))
    return -1;
  struct pp_page *e = &pp->slot[s];
  e->state = PP_OUT;
  e->refs = 1;
  /* A new use of the page: what it held belongs to an earlier allocation. */
  mem_page_new_epoch(pp->m, e->pfn);
  cpu_charge(pp->cpu, CPU_OTHER, pp->cpu->costs.pool_alloc);
  pp->st.allocs++;
  if (++pp->st.in_use > pp->st.in_use_max)
    pp->st.in_use_max = pp->st.in_use;
  update_signal(pp);
  *pfn = e->pfn;
  *iova = e->iova;
  return 0;
}

/* page_pool_alloc_frag (net/core/page_pool.c): carve the next fragment from
 * the current page; when it does not fit, drop the pool's reference on that
 * page (it is recycled once its last fragment is released) and start on a
 * fresh page. */
int page_pool_alloc_frag(struct page_pool *pp, uint32_t size, uint64_t *pfn, uint32_t *offset,
                         uint64_t *iova) {
  size = (size + PP_FRAG_ALIGN - 1) & ~(PP_FRAG_ALIGN - 1);
  if (size == 0 || size > MEM_PAGE_SIZE / 2)
    return -1;
  if (pp->frag_slot >= 0 && pp->frag_offset + size > MEM_PAGE_SIZE) {
    struct pp_page *done = &pp->slot[pp->frag_slot];
    pp->frag_slot = -1;
    put_page(pp, done, 1); /* the pool's own reference, from the allocation path */
  }
  if (pp->frag_slot < 0) {
    uint64_t p, io;
    if (page_pool_alloc(pp, &p, &io))
      return -1;
    pp->frag_slot = (int32_t)(find(pp, p) - pp->slot);
    pp->frag_offset = 0;
  } else {
    cpu_charge(pp->cpu, CPU_OTHER, pp->cpu->costs.pool_alloc);
  }
  struct pp_page *e = &pp->slot[pp->frag_slot];
  e->refs++;
  *pfn = e->pfn;
  *offset = pp->frag_offset;
  *iova = e->iova;
  pp->frag_offset += size;
  pp->st.frag_allocs++;
  return 0;
}

/* ---- recycling ---- */

static void put_page(struct page_pool *pp, struct pp_page *e, int allow_direct) {
  if (e->state != PP_OUT || e->refs == 0)
    return;
  if (--e->refs)
    return; /* other fragments of the page are still in use */
  uint32_t s = (uint32_t)(e - pp->slot);
  pp->st.in_use--;
  if (pp->destroyed) {
    /* Back after page_pool_destroy: released (page_pool_release_retry). */
    release(pp, s, 0);
    update_signal(pp);
    return;
  }
  if (mem_page_holder(pp->m, e->pfn) >= 0) {
    /* __page_pool_page_can_be_recycled fails: someone else still holds the
     * page; the pool lets go of it (page_pool_return_page) and that holder's
     * reference keeps it. */
    pp->st.recycle_released_refcnt++;
    release(pp, s, 1);
    update_signal(pp);
    return;
  }
  int to_cache = allow_direct && pp->cache_n < pp->p.cache_size;
  if (allow_direct && !to_cache)
    pp->st.recycle_cache_full++;
  if (!to_cache && pp->ring_n == pp->p.ring_size) {
    /* ptr_ring_produce fails: the page leaves the pool. */
    pp->st.recycle_ring_full++;
    release(pp, s, 0);
    update_signal(pp);
    return;
  }
  if (pp->p.clear == PP_CLEAR_ON_RECYCLE)
    clear_page(pp, e->pfn);
  cpu_charge(pp->cpu, CPU_OTHER, pp->cpu->costs.pool_recycle);
  if (to_cache) {
    e->state = PP_IN_CACHE;
    pp->cache[pp->cache_n++] = s;
    pp->st.recycle_cached++;
  } else {
    e->state = PP_IN_RING;
    pp->ring[(pp->ring_head + pp->ring_n++) % pp->p.ring_size] = s;
    pp->st.recycle_ring++;
  }
  pp->st.recycles++;
  update_signal(pp);
}

void page_pool_put_page(struct page_pool *pp, uint64_t pfn, int allow_direct) {
  struct pp_page *e = find(pp, pfn);
  if (e)
    put_page(pp, e, allow_direct);
}

uint32_t page_pool_page_refs(const struct page_pool *pp, uint64_t pfn) {
  const struct pp_page *e = find(pp, pfn);
  return e ? e->refs : 0;
}

int page_pool_owns(const struct page_pool *pp, uint64_t pfn) { return find(pp, pfn) != NULL; }

uint64_t page_pool_iova(const struct page_pool *pp, uint64_t pfn) {
  const struct pp_page *e = find(pp, pfn);
  return e ? e->iova : 0;
}

const struct page_pool_stats *page_pool_stats(const struct page_pool *pp) { return &pp->st; }

void page_pool_stats_add(struct page_pool_stats *dst, const struct page_pool_stats *src) {
  dst->allocs += src->allocs;
  dst->recycles += src->recycles;
  dst->clears += src->clears;
  dst->empty += src->empty;
  dst->frag_allocs += src->frag_allocs;
  dst->alloc_fast += src->alloc_fast;
  dst->alloc_refill += src->alloc_refill;
  dst->alloc_slow += src->alloc_slow;
  dst->pages_entered += src->pages_entered;
  dst->recycle_cached += src->recycle_cached;
  dst->recycle_cache_full += src->recycle_cache_full;
  dst->recycle_ring += src->recycle_ring;
  dst->recycle_ring_full += src->recycle_ring_full;
  dst->recycle_released_refcnt += src->recycle_released_refcnt;
  dst->released += src->released;
  dst->destroy_released += src->destroy_released;
  dst->destroy_inflight += src->destroy_inflight;
  dst->in_use += src->in_use;
  dst->in_use_max += src->in_use_max;
  dst->in_pool += src->in_pool;
  dst->in_pool_max += src->in_pool_max;
}
uint32_t page_pool_cached(const struct page_pool *pp) { return pp->cache_n; }
uint32_t page_pool_ring_count(const struct page_pool *pp) { return pp->ring_n; }
const uint64_t *page_pool_free_signal(const struct page_pool *pp) { return &pp->vcd_free; }
