/*
 * page_pool.c: see page_pool.h.
 */
#include "page_pool.h"

#include <stdio.h>
#include <stdlib.h>

#include "dma.h"
#include "simk.h"

struct pp_page {
  uint64_t pfn;
  uint64_t iova;
  uint32_t refs; /* pp_ref_count: fragments (or the page) handed out, plus the
                    pool's own while it carves the page */
};

struct page_pool {
  struct page_pool_params p;
  struct mem *m;
  struct iommu *io;
  struct cpu *cpu;
  struct pp_page *all;   /* every page of the pool */
  uint64_t *free;        /* stack of pfns ready to hand out */
  uint32_t nfree;
  /* pfn -> index in all[], by binary search over a sorted copy */
  uint64_t *sorted_pfn;
  uint32_t *sorted_idx;
  /* the page being split into fragments (pool->frag_page), and where the
   * next fragment starts in it (pool->frag_offset) */
  struct pp_page *frag_page;
  uint32_t frag_offset;
  struct page_pool_stats st;
  uint64_t vcd_free;
};

static const struct mem_accessor kcpu = {.actor = MEM_ACTOR_KERNEL, .id = 0};

static void clear_page(struct page_pool *pp, uint64_t pfn) {
  mem_fill(pp->m, kcpu, pfn << MEM_PAGE_SHIFT, 0, MEM_PAGE_SIZE, NULL);
  cpu_charge(pp->cpu, CPU_CLEAR, cpu_clear_cycles(MEM_PAGE_SIZE));
  pp->st.clears++;
}

struct pfn_idx {
  uint64_t pfn;
  uint32_t idx;
};

static int cmp_pfn(const void *a, const void *b) {
  uint64_t x = ((const struct pfn_idx *)a)->pfn, y = ((const struct pfn_idx *)b)->pfn;
  return x < y ? -1 : x > y;
}

struct page_pool *page_pool_new(const struct page_pool_params *p, struct mem *m, struct iommu *io,
                                struct cpu *cpu, char *err, size_t errlen) {
  struct page_pool *pp = calloc(1, sizeof *pp);
  if (!pp || p->pages == 0) {
    free(pp);
    snprintf(err, errlen, "page_pool: cannot create a pool of %u pages", p->pages);
    return NULL;
  }
  pp->p = *p;
  pp->m = m;
  pp->io = io;
  pp->cpu = cpu;
  pp->all = calloc(p->pages, sizeof *pp->all);
  pp->free = calloc(p->pages, sizeof *pp->free);
  pp->sorted_pfn = calloc(p->pages, sizeof *pp->sorted_pfn);
  pp->sorted_idx = calloc(p->pages, sizeof *pp->sorted_idx);
  if (!pp->all || !pp->free || !pp->sorted_pfn || !pp->sorted_idx) {
    page_pool_free(pp);
    snprintf(err, errlen, "page_pool: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < p->pages; i++) {
    uint64_t pfn;
    if (mem_page_alloc(m, &pfn)) {
      page_pool_free(pp);
      snprintf(err, errlen, "page_pool: simulated RAM has no free page for a pool of %u pages",
               p->pages);
      return NULL;
    }
    cpu_charge(cpu, CPU_OTHER, cpu->costs.page_alloc);
    pp->all[i].pfn = pfn;
    if (p->clear != PP_CLEAR_NEVER)
      clear_page(pp, pfn);
    if (!p->dma_per_packet) {
      int64_t c = dma_map_page(io, m, p->rid, pfn, IOMMU_PERM_READ | IOMMU_PERM_WRITE, simk_now_ps(),
                            &pp->all[i].iova);
      if (c < 0) {
        page_pool_free(pp);
        snprintf(err, errlen, "page_pool: the IOMMU cannot map page %u of the pool", i);
        return NULL;
      }
      cpu_charge(cpu, CPU_IOMMU, (uint64_t)c);
    }
    if (p->user_principal >= 0) {
      mem_page_map(m, pfn, (unsigned)p->user_principal, (enum mem_map_mode)p->user_mode);
      cpu_charge(cpu, CPU_MAP, cpu->costs.user_map);
    }
  }
  /* Hand out the lowest pages first: push in reverse. */
  for (uint32_t i = p->pages; i-- > 0;)
    pp->free[pp->nfree++] = pp->all[i].pfn;
  pp->vcd_free = pp->nfree;
  struct pfn_idx *tmp = malloc(p->pages * sizeof *tmp);
  if (!tmp) {
    page_pool_free(pp);
    snprintf(err, errlen, "page_pool: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < p->pages; i++)
    tmp[i] = (struct pfn_idx){.pfn = pp->all[i].pfn, .idx = i};
  qsort(tmp, p->pages, sizeof *tmp, cmp_pfn);
  for (uint32_t i = 0; i < p->pages; i++) {
    pp->sorted_pfn[i] = tmp[i].pfn;
    pp->sorted_idx[i] = tmp[i].idx;
  }
  free(tmp);
  return pp;
}

void page_pool_free(struct page_pool *pp) {
  if (!pp)
    return;
  free(pp->all);
  free(pp->free);
  free(pp->sorted_pfn);
  free(pp->sorted_idx);
  free(pp);
}

static struct pp_page *find(const struct page_pool *pp, uint64_t pfn) {
  uint32_t lo = 0, hi = pp->p.pages;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (pp->sorted_pfn[mid] < pfn)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < pp->p.pages && pp->sorted_pfn[lo] == pfn)
    return &pp->all[pp->sorted_idx[lo]];
  return NULL;
}

int page_pool_alloc(struct page_pool *pp, uint64_t *pfn, uint64_t *iova) {
  if (pp->nfree == 0) {
    pp->st.empty++;
    return -1;
  }
  uint64_t p = pp->free[--pp->nfree];
  pp->vcd_free = pp->nfree;
  /* A new use of the page: what it held belongs to an earlier allocation. */
  mem_page_new_epoch(pp->m, p);
  cpu_charge(pp->cpu, CPU_OTHER, pp->cpu->costs.pool_alloc);
  pp->st.allocs++;
  pp->st.in_use++;
  if (pp->st.in_use > pp->st.in_use_max)
    pp->st.in_use_max = pp->st.in_use;
  struct pp_page *e = find(pp, p);
  e->refs = 1;
  *pfn = p;
  *iova = e->iova;
  return 0;
}

/* page_pool_alloc_frag (net/core/page_pool.c): carve the next fragment from
 * the current page; when it does not fit, drop the pool's reference on that
 * page (it is recycled once its last fragment is released) and start on a
 * fresh page from the free list. */
int page_pool_alloc_frag(struct page_pool *pp, uint32_t size, uint64_t *pfn, uint32_t *offset,
                         uint64_t *iova) {
  size = (size + PP_FRAG_ALIGN - 1) & ~(PP_FRAG_ALIGN - 1);
  if (size == 0 || size > MEM_PAGE_SIZE / 2)
    return -1;
  if (pp->frag_page && pp->frag_offset + size > MEM_PAGE_SIZE) {
    uint64_t done = pp->frag_page->pfn;
    pp->frag_page = NULL;
    page_pool_recycle(pp, done); /* the pool's own reference */
  }
  if (!pp->frag_page) {
    uint64_t p, io;
    if (page_pool_alloc(pp, &p, &io))
      return -1;
    pp->frag_page = find(pp, p);
    pp->frag_offset = 0;
  } else {
    cpu_charge(pp->cpu, CPU_OTHER, pp->cpu->costs.pool_alloc);
  }
  pp->frag_page->refs++;
  *pfn = pp->frag_page->pfn;
  *offset = pp->frag_offset;
  *iova = pp->frag_page->iova;
  pp->frag_offset += size;
  pp->st.frag_allocs++;
  return 0;
}

uint32_t page_pool_page_refs(const struct page_pool *pp, uint64_t pfn) {
  const struct pp_page *e = find(pp, pfn);
  return e ? e->refs : 0;
}

uint64_t page_pool_iova(const struct page_pool *pp, uint64_t pfn) {
  const struct pp_page *e = find(pp, pfn);
  return e ? e->iova : 0;
}

void page_pool_recycle(struct page_pool *pp, uint64_t pfn) {
  struct pp_page *e = find(pp, pfn);
  if (!e || e->refs == 0 || pp->nfree >= pp->p.pages)
    return;
  if (--e->refs)
    return; /* other fragments of the page are still in use */
  if (pp->p.clear == PP_CLEAR_ON_RECYCLE)
    clear_page(pp, pfn);
  cpu_charge(pp->cpu, CPU_OTHER, pp->cpu->costs.pool_recycle);
  pp->free[pp->nfree++] = pfn;
  pp->vcd_free = pp->nfree;
  pp->st.recycles++;
  pp->st.in_use--;
}

const struct page_pool_stats *page_pool_stats(const struct page_pool *pp) { return &pp->st; }
uint32_t page_pool_available(const struct page_pool *pp) { return pp->nfree; }
const uint64_t *page_pool_free_signal(const struct page_pool *pp) { return &pp->vcd_free; }
