/*
 * iommu.c: domains, I/O page tables, IOTLB, invalidation modes, fault
 * records. See iommu.h and docs/iommu.md.
 *
 * References:
 * - Intel VT-d architecture specification: "Second-Level Translation"
 *   (ch. 3), "Address Translation Caches" and "Invalidation of Translation
 *   Caches" (ch. 6), "Fault Recording" and the fault reasons (ch. 7),
 *   "Second-Level Paging Entries" (ch. 9).
 * - Linux drivers/iommu/intel/iommu.c (pfn_to_dma_pte, __domain_mapping,
 *   dma_pte_clear_range, iommu_flush_iotlb_psi), drivers/iommu/dma-iommu.c
 *   (the lazy flush queue: queue_iova, fq_flush_timeout; IOVA_FQ_SIZE 256,
 *   IOVA_FQ_TIMEOUT 10 ms), drivers/iommu/iova.c (iova.c here).
 * - The walk memo after VT-d's paging-structure caches: spec 6.2.2
 *   ("Paging-Structure Caches": PML4E, PDPE and PDE caches tagged by domain
 *   and the IOVA bits above the level).
 */
#include "iommu.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "iova.h"
#include "mem.h"

#define PTES_PER_TABLE 512u
#define SUPER_PAGES 512u /* 4 KiB pages per 2 MiB entry */

struct tlb_entry {
  uint64_t tag;     /* (rid + 1) << 48 | IOVA >> shift; 0 = invalid */
  uint64_t pfn;     /* first physical page of the 4 KiB or 2 MiB page */
  uint64_t lru;     /* last use stamp */
  uint8_t perm;     /* IOMMU_PERM_* */
  uint8_t shift;    /* 12 or 21 */
  uint8_t maybe_stale; /* a lazy unmap touched a page it covers */
};

/* A walk memo entry: what a walk found in the upper-level (non-leaf) entry
 * of level for the IOVAs sharing vpn. */
struct memo_entry {
  uint64_t vpn;  /* iova >> (12 + 9 * (level - 1)) */
  uint64_t next; /* the table of the level below */
  uint32_t gen;  /* valid when equal to the model's memo_gen */
  uint16_t rid;
  uint8_t eff;   /* R and W of every entry from the top level down to this one, ANDed */
};

#define MEMO_SETS 256u /* entries per level, direct-mapped */

struct fq_entry {
  uint64_t iova_pfn;
  uint8_t frees; /* the unmap released its IOVA range: free it at the flush */
};

struct domain {
  uint16_t rid;
  uint64_t root; /* top-level table */
  struct iova_domain *iovad;
  struct fq_entry *fq; /* the domain's flush queue (dma-iommu.c cookie->fq) */
  size_t fq_len;
  int timer_on;        /* fq_timer armed */
  uint64_t deadline_ps;
};

struct iommu {
  struct iommu_params p;
  struct iommu_stats st;
  uint32_t nsets, ways;
  struct tlb_entry *tlb; /* nsets * ways */
  uint64_t *keys;        /* keys[i] == tlb[i].tag: a dense array to scan */
  /* Each set's entries in increasing lru order (a doubly linked list by
   * index; entries never filled first), and how many have tag 0: the
   * victim is the first entry with tag 0 in way order, else the list's head,
   * without scanning the set's lru stamps. */
  uint32_t *lru_prev, *lru_next; /* per entry; UINT32_MAX: none */
  uint32_t *set_head, *set_tail, *set_zero; /* per set */
  uint32_t nshift21;     /* entries whose shift is 21, valid or not */
  uint32_t recent[4];    /* tlb_find: entries found lately, tried first */
  /* An index of the valid entries by tag (chained hashing): tlb_find goes
   * to the entries with its tag instead of scanning a set's ways. */
  uint32_t *hhead;       /* per bucket: first entry, UINT32_MAX: none */
  uint32_t *hnext;       /* per entry: next in its bucket */
  unsigned hbits;        /* log2 of the number of buckets */
  uint32_t recent_next;
  uint64_t lru_clock;
  struct domain **doms;
  size_t ndoms;
  uint64_t (*hpages)[PTES_PER_TABLE]; /* host-side tables when p.mem is NULL */
  size_t nh, caph;
  struct iommu_fault *faults;
  size_t nfaults;
  uint64_t aw_bits;   /* address width of the tables: 12 + 9 * levels */
  uint64_t limit_pfn; /* highest IOVA page (inclusive) */
  /* The walk memo: levels 2..walk_levels, MEMO_SETS entries each (level 2
   * first); NULL: none. deps: the table pages (paddr >> 12) its entries were
   * read from, as a bit per page and a list; a write into one of them
   * empties it (a new generation). */
  struct memo_entry *memo;
  uint32_t memo_gen;
  uint64_t *dep_bits;
  size_t dep_words;
  uint64_t *deps;
  size_t ndeps, capdeps;
};

static const struct mem_prov pt_prov = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
static const struct mem_accessor kernel_cpu = {.actor = MEM_ACTOR_KERNEL, .id = IOMMU_KERNEL_CPU};
static const struct mem_accessor iommu_hw = {.actor = MEM_ACTOR_DEVICE, .id = IOMMU_WALK_RID};

void iommu_params_default(struct iommu_params *p) {
  memset(p, 0, sizeof *p);
  p->mode = IOMMU_LAZY; /* Linux's default for DMA domains */
  p->iotlb_entries = 64;
  p->iotlb_ways = 0; /* fully associative */
  p->flush_entries = 256;
  p->flush_ps = 10ull * 1000 * 1000 * 1000; /* 10 ms */
  p->hit_ps = 0;
  /* pcie-bench: an IOTLB miss adds 226 ns median to a 64 B read; spread over
   * the 4 levels of the walk. */
  p->walk_level_ps = 56500;
  p->walk_levels = 4;
  /* Amit et al. (vIOMMU, ATC 2011): strict map+unmap of one page 6,909
   * cycles; of which an IOTLB invalidation about 2,000 (unconfirmed). The rest
   * is split evenly between map and unmap. */
  p->inval_cycles = 2000;
  p->map_cycles = 2455;
  p->unmap_cycles = 2454;
  p->max_fault_records = 256;
  p->mem = NULL;
  p->superpages = 1; /* intel-iommu uses 2 MiB pages when the hardware has them */
  p->dma_mask_bits = 64;
  p->forcedac = 0;
  p->iova_mag_size = 127; /* IOVA_MAG_SIZE */
  p->iova_depot_mags = 32; /* MAX_GLOBAL_MAGS */
  p->walk_memo = 1;
}

static void memo_on_write(void *ctx, struct mem *m, const struct mem_access *a);

struct iommu *iommu_new(const struct iommu_params *p) {
  if (!p || p->iotlb_entries == 0 || p->walk_levels < 2 || p->walk_levels > 5)
    return NULL;
  uint32_t ways = p->iotlb_ways ? p->iotlb_ways : p->iotlb_entries;
  if (ways > p->iotlb_entries || p->iotlb_entries % ways)
    return NULL;
  unsigned mask_bits = p->dma_mask_bits ? p->dma_mask_bits : 64;
  if (mask_bits < 13 || mask_bits > 64)
    return NULL;
  struct iommu *io = calloc(1, sizeof *io);
  if (!io)
    return NULL;
  io->p = *p;
  io->p.iotlb_ways = ways;
  io->p.dma_mask_bits = (uint8_t)mask_bits;
  if (io->p.flush_entries == 0)
    io->p.flush_entries = 1;
  if (io->p.iova_mag_size == 0)
    io->p.iova_mag_size = 1;
  io->ways = ways;
  io->nsets = p->iotlb_entries / ways;
  io->aw_bits = 12 + 9ull * p->walk_levels;
  /* The domain aperture (2^aw - 1) and the DMA mask, whichever is lower. */
  uint64_t top = io->aw_bits >= 64 ? UINT64_MAX : (1ull << io->aw_bits) - 1;
  uint64_t mask = mask_bits >= 64 ? UINT64_MAX : (1ull << mask_bits) - 1;
  io->limit_pfn = (top < mask ? top : mask) >> IOMMU_PAGE_SHIFT;
  io->tlb = calloc(p->iotlb_entries, sizeof *io->tlb);
  io->keys = calloc(p->iotlb_entries, sizeof *io->keys);
  io->lru_prev = calloc(p->iotlb_entries, sizeof *io->lru_prev);
  io->lru_next = calloc(p->iotlb_entries, sizeof *io->lru_next);
  io->set_head = calloc(io->nsets, sizeof *io->set_head);
  io->set_tail = calloc(io->nsets, sizeof *io->set_tail);
  io->set_zero = calloc(io->nsets, sizeof *io->set_zero);
  io->hbits = 1;
  while ((1u << io->hbits) < 2 * p->iotlb_entries && io->hbits < 24)
    io->hbits++;
  io->hhead = malloc(((size_t)1 << io->hbits) * sizeof *io->hhead);
  io->hnext = calloc(p->iotlb_entries, sizeof *io->hnext);
  io->faults = calloc(p->max_fault_records ? p->max_fault_records : 1, sizeof *io->faults);
  if (!io->tlb || !io->keys || !io->lru_prev || !io->lru_next || !io->set_head || !io->set_tail ||
      !io->set_zero || !io->hhead || !io->hnext || !io->faults) {
    iommu_free(io);
    return NULL;
  }
  memset(io->hhead, 0xff, ((size_t)1 << io->hbits) * sizeof *io->hhead);
  for (uint32_t st = 0; st < io->nsets; st++) {
    uint32_t b = st * ways;
    for (uint32_t i = 0; i < ways; i++) {
      io->lru_prev[b + i] = i ? b + i - 1 : UINT32_MAX;
      io->lru_next[b + i] = i + 1 < ways ? b + i + 1 : UINT32_MAX;
    }
    io->set_head[st] = b;
    io->set_tail[st] = b + ways - 1;
    io->set_zero[st] = ways;
  }
  if (p->walk_memo) {
    /* Without an observer slot in mem (its writes unseen) there is no memo. */
    struct mem_observer obs = {.ctx = io, .before_write = memo_on_write};
    io->memo = calloc((size_t)(p->walk_levels - 1) * MEMO_SETS, sizeof *io->memo);
    if (io->memo && p->mem && mem_add_observer(p->mem, &obs)) {
      free(io->memo);
      io->memo = NULL;
    }
    io->memo_gen = 1;
  }
  return io;
}

void iommu_free(struct iommu *io) {
  if (!io)
    return;
  if (io->memo && io->p.mem)
    mem_remove_observer(io->p.mem, io);
  for (size_t i = 0; i < io->ndoms; i++) {
    iova_domain_free(io->doms[i]->iovad);
    free(io->doms[i]->fq);
    free(io->doms[i]);
  }
  free(io->doms);
  free(io->hpages);
  free(io->tlb);
  free(io->keys);
  free(io->lru_prev);
  free(io->lru_next);
  free(io->set_head);
  free(io->set_tail);
  free(io->set_zero);
  free(io->hhead);
  free(io->hnext);
  free(io->faults);
  free(io->memo);
  free(io->dep_bits);
  free(io->deps);
  free(io);
}

/* ---- the walk memo ---- */

static inline int memo_is_dep(const struct iommu *io, uint64_t page) {
  return (page >> 6) < io->dep_words && (io->dep_bits[page >> 6] >> (page & 63)) & 1;
}

/* Empty the memo: a new generation, no dependencies. */
static void memo_clear(struct iommu *io) {
  if (++io->memo_gen == 0) {
    memset(io->memo, 0, (size_t)(io->p.walk_levels - 1) * MEMO_SETS * sizeof *io->memo);
    io->memo_gen = 1;
  }
  for (size_t i = 0; i < io->ndeps; i++)
    io->dep_bits[io->deps[i] >> 6] &= ~(1ull << (io->deps[i] & 63));
  io->ndeps = 0;
}

/* Table memory at paddr is about to change (a write within one page). */
static inline void memo_note_write(struct iommu *io, uint64_t paddr) {
  if (memo_is_dep(io, paddr >> IOMMU_PAGE_SHIFT))
    memo_clear(io);
}

/* mem's observer: any write, fill or copy into a page, by anyone (called
 * for every write to mem: the test is a bit lookup). */
static void memo_on_write(void *ctx, struct mem *m, const struct mem_access *a) {
  (void)m;
  memo_note_write(ctx, a->paddr);
}

/* Make page a dependency. 0, or -1 when host memory ran out or the page
 * is not table memory the model can read. */
static int memo_dep_add(struct iommu *io, uint64_t page) {
  if (memo_is_dep(io, page))
    return 0;
  uint64_t pages = io->p.mem ? mem_pages(io->p.mem) : (uint64_t)io->nh + 1;
  if (page >= pages)
    return -1;
  size_t w = (size_t)(page >> 6);
  if (w >= io->dep_words) {
    size_t cap = io->dep_words;
    uint64_t *nb = grow_array(io->dep_bits, &cap, w + 1, sizeof *nb);
    if (!nb)
      return -1;
    memset(nb + io->dep_words, 0, (cap - io->dep_words) * sizeof *nb);
    io->dep_bits = nb;
    io->dep_words = cap;
  }
  uint64_t *nd = grow_array(io->deps, &io->capdeps, io->ndeps + 1, sizeof *nd);
  if (!nd)
    return -1;
  io->deps = nd;
  io->dep_bits[w] |= 1ull << (page & 63);
  io->deps[io->ndeps++] = page;
  return 0;
}

static struct memo_entry *memo_slot(const struct iommu *io, uint16_t rid, unsigned level, uint64_t vpn) {
  size_t set = (size_t)((vpn ^ (uint64_t)rid * 0x9e37u) & (MEMO_SETS - 1));
  return &io->memo[(size_t)(level - 2) * MEMO_SETS + set];
}

static uint64_t memo_vpn(uint64_t iova, unsigned level) { return iova >> (IOMMU_PAGE_SHIFT + 9 * (level - 1)); }

/* The memo's entry for rid's level-level entry covering iova, or NULL. */
static const struct memo_entry *memo_find(const struct iommu *io, uint16_t rid, unsigned level, uint64_t iova) {
  uint64_t vpn = memo_vpn(iova, level);
  const struct memo_entry *e = memo_slot(io, rid, level, vpn);
  return e->gen == io->memo_gen && e->vpn == vpn && e->rid == rid ? e : NULL;
}

/* Keep what a walk read at entry_paddr (level >= 2, a table entry): the
 * table below and the R/W bits so far. Every entry above it on the walk is
 * a dependency already (read and kept by this walk, or taken from the
 * memo). 0, or -1 when it could not be kept (deeper levels must not be). */
static int memo_put(struct iommu *io, uint16_t rid, unsigned level, uint64_t iova, uint64_t entry_paddr,
                    uint64_t next, uint64_t eff) {
  if (memo_dep_add(io, entry_paddr >> IOMMU_PAGE_SHIFT))
    return -1;
  uint64_t vpn = memo_vpn(iova, level);
  *memo_slot(io, rid, level, vpn) = (struct memo_entry){
      .vpn = vpn, .next = next, .gen = io->memo_gen, .rid = rid,
      .eff = (uint8_t)(eff & (IOMMU_PTE_R | IOMMU_PTE_W))};
  return 0;
}

/* ---- page-table memory: simulated RAM, or host pages ---- */

/* A zeroed table page, written by the kernel (kernel-private label). */
static int pt_alloc(struct iommu *io, uint64_t *paddr) {
  if (io->p.mem) {
    uint64_t pfn;
    if (mem_page_alloc(io->p.mem, &pfn))
      return -1;
    uint64_t pa = pfn << MEM_PAGE_SHIFT;
    if (mem_fill(io->p.mem, kernel_cpu, pa, 0, MEM_PAGE_SIZE, &pt_prov)) {
      mem_page_free(io->p.mem, pfn);
      return -1;
    }
    /* Live kernel data for as long as the domain exists: the kernel reads
     * its entries again at every map and unmap, the IOMMU at every walk
     * (Linux drivers/iommu/intel/iommu.c: pfn_to_dma_pte allocates a table
     * page and links it into the domain; only domain_exit and
     * domain_unmap's freelist give table pages back). A device write into
     * one tampers with the translation itself. */
    mem_mark_add(io->p.mem, MEM_MARK_LIVE, 0, pa, MEM_PAGE_SIZE);
    *paddr = pa;
  } else {
    if (io->nh == io->caph) {
      size_t nc = io->caph ? io->caph * 2 : 16;
      uint64_t(*n)[PTES_PER_TABLE] = realloc(io->hpages, nc * sizeof *n);
      if (!n)
        return -1;
      io->hpages = n;
      io->caph = nc;
    }
    memset(io->hpages[io->nh], 0, sizeof io->hpages[0]);
    /* Host tables live in their own address space: page i at (i + 1) << 12. */
    *paddr = (uint64_t)(++io->nh) << IOMMU_PAGE_SHIFT;
  }
  io->st.pt_pages++;
  return 0;
}

static uint64_t *host_pte(const struct iommu *io, uint64_t paddr) {
  size_t page = (size_t)(paddr >> IOMMU_PAGE_SHIFT) - 1;
  return &io->hpages[page][(paddr & 0xfff) >> 3];
}

/* A read of one entry: by the IOMMU (a walk) or by the kernel (map/unmap).
 * Both are accesses through the memory accessor. */
static int pt_read(const struct iommu *io, uint64_t paddr, uint64_t *v, const struct mem_accessor *who) {
  if (io->p.mem)
    return mem_read(io->p.mem, *who, paddr, v, sizeof *v) ? -1 : 0;
  *v = *host_pte(io, paddr);
  return 0;
}

/* Inspection without an access (model bookkeeping, iova_to_phys). */
static int pt_peek(const struct iommu *io, uint64_t paddr, uint64_t *v) {
  if (io->p.mem)
    return mem_peek(io->p.mem, paddr, v, sizeof *v) ? -1 : 0;
  *v = *host_pte(io, paddr);
  return 0;
}

/* Writes to host-side tables tell the memo themselves; mem tells it of
 * writes into simulated memory. */
static int pt_write(struct iommu *io, uint64_t paddr, uint64_t v) {
  if (io->p.mem)
    return mem_write(io->p.mem, kernel_cpu, paddr, &v, sizeof v, &pt_prov) ? -1 : 0;
  memo_note_write(io, paddr);
  *host_pte(io, paddr) = v;
  return 0;
}

static int pt_write_table(struct iommu *io, uint64_t paddr, const uint64_t *v) {
  if (io->p.mem)
    return mem_write(io->p.mem, kernel_cpu, paddr, v, MEM_PAGE_SIZE, &pt_prov) ? -1 : 0;
  memo_note_write(io, paddr);
  memcpy(host_pte(io, paddr), v, MEM_PAGE_SIZE);
  return 0;
}

static unsigned pt_index(uint64_t iova, unsigned level) {
  return (unsigned)(iova >> (IOMMU_PAGE_SHIFT + 9 * (level - 1))) & (PTES_PER_TABLE - 1);
}

static uint64_t perm_bits(unsigned perm) {
  return ((perm & IOMMU_PERM_READ) ? IOMMU_PTE_R : 0) | ((perm & IOMMU_PERM_WRITE) ? IOMMU_PTE_W : 0);
}

/* The kernel's walk to the entry of iova at level target (1: 4 KiB leaf,
 * 2: the 2 MiB level), allocating missing tables as pfn_to_dma_pte does.
 * 0 with *slot; 1 when a 2 MiB leaf sits above target (*slot is that leaf's
 * entry); -1 when host or simulated memory ran out. */
static int pt_slot(struct iommu *io, struct domain *d, uint64_t iova, unsigned target, uint64_t *slot) {
  uint64_t table = d->root;
  for (unsigned level = io->p.walk_levels; level > target; level--) {
    uint64_t s = table + 8ull * pt_index(iova, level), pte;
    if (pt_read(io, s, &pte, &kernel_cpu))
      return -1;
    if (!(pte & (IOMMU_PTE_R | IOMMU_PTE_W))) {
      uint64_t t;
      if (pt_alloc(io, &t))
        return -1;
      /* Non-leaf entries grant both; the leaf decides (Linux does the same). */
      pte = t | IOMMU_PTE_R | IOMMU_PTE_W;
      if (pt_write(io, s, pte))
        return -1;
    } else if (level == 2 && (pte & IOMMU_PTE_PS)) {
      *slot = s;
      return 1;
    }
    table = pte & IOMMU_PTE_ADDR_MASK;
  }
  *slot = table + 8ull * pt_index(iova, target);
  return 0;
}

/* Map one 4 KiB page. 0, or -1 (memory, or iova already mapped). */
static int pt_map_page(struct iommu *io, struct domain *d, uint64_t iova, uint64_t pfn, unsigned perm) {
  uint64_t slot, pte;
  if (pt_slot(io, d, iova, 1, &slot) != 0 || pt_read(io, slot, &pte, &kernel_cpu))
    return -1;
  if (pte & (IOMMU_PTE_R | IOMMU_PTE_W))
    return -1; /* Linux: "dma_pte already set" */
  return pt_write(io, slot, pfn << IOMMU_PAGE_SHIFT | perm_bits(perm));
}

/* Map one 2 MiB page at level 2. 0; 1 when that entry already holds a table
 * (the caller maps 4 KiB pages instead); -1 on error. */
static int pt_map_super(struct iommu *io, struct domain *d, uint64_t iova, uint64_t pfn, unsigned perm) {
  uint64_t slot, pte;
  int rc = pt_slot(io, d, iova, 2, &slot);
  if (rc)
    return -1;
  if (pt_read(io, slot, &pte, &kernel_cpu))
    return -1;
  if (pte & (IOMMU_PTE_R | IOMMU_PTE_W))
    return (pte & IOMMU_PTE_PS) ? -1 : 1;
  return pt_write(io, slot, pfn << IOMMU_PAGE_SHIFT | IOMMU_PTE_PS | perm_bits(perm));
}

/* Clear the leaf mapping iova. A 2 MiB leaf is split into a table of 512
 * 4 KiB entries first when split is set, else cleared whole. 0, or -1 when
 * not mapped (or memory ran out). *was_super: the page was under a 2 MiB
 * entry. */
static int pt_unmap(struct iommu *io, struct domain *d, uint64_t iova, int split, int *was_super) {
  uint64_t table = d->root;
  *was_super = 0;
  for (unsigned level = io->p.walk_levels; level >= 1; level--) {
    uint64_t s = table + 8ull * pt_index(iova, level), pte;
    if (pt_read(io, s, &pte, &kernel_cpu))
      return -1;
    if (!(pte & (IOMMU_PTE_R | IOMMU_PTE_W)))
      return -1;
    if (level == 1)
      return pt_write(io, s, 0);
    if (level == 2 && (pte & IOMMU_PTE_PS)) {
      *was_super = 1;
      if (!split)
        return pt_write(io, s, 0);
      /* Split: the same 512 pages as 4 KiB entries, then clear this one. */
      uint64_t t, v[PTES_PER_TABLE];
      uint64_t base = pte & IOMMU_PTE_ADDR_MASK, bits = pte & (IOMMU_PTE_R | IOMMU_PTE_W);
      for (unsigned i = 0; i < PTES_PER_TABLE; i++)
        v[i] = (base + ((uint64_t)i << IOMMU_PAGE_SHIFT)) | bits;
      v[pt_index(iova, 1)] = 0;
      if (pt_alloc(io, &t) || pt_write_table(io, t, v) || pt_write(io, s, t | IOMMU_PTE_R | IOMMU_PTE_W))
        return -1;
      io->st.superpage_splits++;
      return 0;
    }
    table = pte & IOMMU_PTE_ADDR_MASK;
  }
  return -1;
}

/* The result of a walk. */
struct walk {
  uint64_t pfn;   /* first page of the leaf (4 KiB or 2 MiB) */
  unsigned perm;  /* effective IOMMU_PERM_*: R and W of every level ANDed */
  unsigned shift; /* 12 or 21 */
  unsigned levels; /* entries read */
};

/* One entry of a walk at level, with eff the R/W bits ANDed so far: 0, go
 * on to the table it points to; 1, a leaf (*w filled); -1, not present. */
static int walk_step(uint64_t pte, unsigned level, uint64_t *eff, struct walk *w) {
  *eff &= pte;
  if (!(pte & (IOMMU_PTE_R | IOMMU_PTE_W)))
    return -1;
  if (level != 1 && !(level == 2 && (pte & IOMMU_PTE_PS)))
    return 0;
  w->pfn = (pte & IOMMU_PTE_ADDR_MASK) >> IOMMU_PAGE_SHIFT;
  w->shift = level == 1 ? IOMMU_PAGE_SHIFT : IOMMU_SUPERPAGE_SHIFT;
  w->perm = ((*eff & IOMMU_PTE_R) ? IOMMU_PERM_READ : 0) | ((*eff & IOMMU_PTE_W) ? IOMMU_PERM_WRITE : 0);
  return 1;
}

/* Walk the table for iova. hw NULL: a peek; else hw is io walking as the
 * IOMMU: accesses through the memory accessor, starting below the deepest
 * upper-level entry the memo holds (those above count as read, as a walk
 * of every level reads them) and keeping the upper-level entries it reads.
 * 0 with *w, or -1 when not present (w->levels says how many entries were
 * read). */
static int pt_walk(const struct iommu *io, struct iommu *hw, const struct domain *d, uint64_t iova,
                   struct walk *w) {
  unsigned top = io->p.walk_levels, level = top;
  uint64_t table = d->root, eff = IOMMU_PTE_R | IOMMU_PTE_W;
  int keep = hw && hw->memo;
  for (unsigned l = 2; keep && l <= top; l++) {
    const struct memo_entry *e = memo_find(io, d->rid, l, iova);
    if (e) {
      table = e->next;
      eff = e->eff;
      level = l - 1;
      break;
    }
  }
  w->levels = top - level;
  for (; level >= 1; level--) {
    uint64_t s = table + 8ull * pt_index(iova, level), pte;
    int rc = hw ? pt_read(io, s, &pte, &iommu_hw) : pt_peek(io, s, &pte);
    if (rc)
      return -1;
    w->levels++;
    rc = walk_step(pte, level, &eff, w);
    if (rc)
      return rc > 0 ? 0 : -1;
    table = pte & IOMMU_PTE_ADDR_MASK;
    if (keep)
      keep = memo_put(hw, d->rid, level, iova, s, table, eff) == 0;
  }
  return -1;
}

/* ---- IOTLB (VT-d "IOTLB": tagged by domain, 4 KiB and 2 MiB entries) ---- */

static uint64_t tlb_tag(uint16_t rid, uint64_t vpn) {
  return ((uint64_t)rid + 1) << 48 | (vpn & ((1ull << 48) - 1));
}

/* At most one entry matches a (tag, shift): an entry is only filled after a
 * lookup of it missed. So an entry found lately that still matches is the
 * answer, and trying the last few first (a frame's DMA pieces and the ring
 * share pages) spares most scans of a large associative set; this changes no
 * result, the LRU stamps included. */
static uint32_t tlb_bucket(const struct iommu *io, uint64_t tag) {
  return (uint32_t)((tag * 0x9e3779b97f4a7c15ull) >> (64 - io->hbits));
}

static struct tlb_entry *tlb_find(struct iommu *io, uint16_t rid, uint64_t iova, unsigned shift) {
  uint64_t vpn = iova >> shift, tag = tlb_tag(rid, vpn);
  for (unsigned r = 0; r < 4; r++) {
    struct tlb_entry *e = &io->tlb[io->recent[r]];
    if (e->tag == tag && e->shift == shift)
      return e;
  }
  if (shift == IOMMU_SUPERPAGE_SHIFT && io->nshift21 == 0)
    return NULL; /* no entry could match */
  size_t base = io->nsets == 1 ? 0 : (size_t)(vpn % io->nsets) * io->ways;
  if (tag != 0) {
    /* The index holds every entry with a nonzero tag; only the set's ways
     * are candidates, as in the scan below. */
    for (uint32_t i = io->hhead[tlb_bucket(io, tag)]; i != UINT32_MAX; i = io->hnext[i])
      if (io->keys[i] == tag && io->tlb[i].shift == shift && i - base < io->ways) {
        io->recent[io->recent_next++ & 3] = i;
        return &io->tlb[i];
      }
    return NULL;
  }
  struct tlb_entry *set = &io->tlb[base];
  const uint64_t *keys = &io->keys[base];
  for (uint32_t i = 0; i < io->ways; i++)
    if (keys[i] == tag && set[i].shift == shift) {
      io->recent[io->recent_next++ & 3] = (uint32_t)(base + i);
      return &set[i];
    }
  return NULL;
}

static struct tlb_entry *tlb_lookup(struct iommu *io, uint16_t rid, uint64_t iova) {
  struct tlb_entry *e = tlb_find(io, rid, iova, IOMMU_PAGE_SHIFT);
  return e ? e : tlb_find(io, rid, iova, IOMMU_SUPERPAGE_SHIFT);
}

/* Entry i was just used (its lru stamp is now the newest): the end of its
 * set's list. */
static void tlb_touch(struct iommu *io, uint32_t i) {
  uint32_t st = i / io->ways;
  if (io->set_tail[st] == i)
    return;
  uint32_t p = io->lru_prev[i], n = io->lru_next[i]; /* n exists: i is not the tail */
  if (p == UINT32_MAX)
    io->set_head[st] = n;
  else
    io->lru_next[p] = n;
  io->lru_prev[n] = p;
  uint32_t t = io->set_tail[st];
  io->lru_next[t] = i;
  io->lru_prev[i] = t;
  io->lru_next[i] = UINT32_MAX;
  io->set_tail[st] = i;
}

/* Set entry i's tag (keeping keys[], the index and the per-set count of
 * zero tags). */
static void tlb_set_tag(struct iommu *io, uint32_t i, uint64_t tag) {
  uint32_t st = i / io->ways;
  uint64_t old = io->tlb[i].tag;
  if (old == tag)
    return;
  if (old != 0) {
    uint32_t *p = &io->hhead[tlb_bucket(io, old)];
    while (*p != i)
      p = &io->hnext[*p];
    *p = io->hnext[i];
  }
  if (tag != 0) {
    uint32_t b = tlb_bucket(io, tag);
    io->hnext[i] = io->hhead[b];
    io->hhead[b] = i;
  }
  io->set_zero[st] += (tag == 0) - (old == 0);
  io->tlb[i].tag = io->keys[i] = tag;
}

/* Fill: an invalid way of the set (the first), else its least recently
 * used (the head of its list: stamps only grow, and every entry of a set
 * with no invalid way has been filled, so the list is in stamp order). */
static void tlb_fill(struct iommu *io, uint16_t rid, uint64_t iova, const struct walk *w) {
  uint64_t vpn = iova >> w->shift;
  uint32_t st = io->nsets == 1 ? 0 : (uint32_t)(vpn % io->nsets), base = st * io->ways;
  uint32_t v = io->set_head[st];
  if (io->set_zero[st]) {
    const uint64_t *keys = &io->keys[base];
    for (uint32_t i = 0; i < io->ways; i++)
      if (keys[i] == 0) {
        v = base + i;
        break;
      }
  }
  struct tlb_entry *victim = &io->tlb[v];
  io->nshift21 -= victim->shift == IOMMU_SUPERPAGE_SHIFT;
  tlb_set_tag(io, v, tlb_tag(rid, vpn));
  *victim = (struct tlb_entry){.tag = victim->tag, .pfn = w->pfn, .lru = ++io->lru_clock,
                               .perm = (uint8_t)w->perm, .shift = (uint8_t)w->shift};
  io->nshift21 += victim->shift == IOMMU_SUPERPAGE_SHIFT;
  tlb_touch(io, v);
  io->recent[io->recent_next++ & 3] = v;
}

/* Page-selective invalidation: the 4 KiB entry and a 2 MiB entry covering. */
static void tlb_invalidate_page(struct iommu *io, uint16_t rid, uint64_t iova) {
  struct tlb_entry *e = tlb_find(io, rid, iova, IOMMU_PAGE_SHIFT);
  if (e)
    tlb_set_tag(io, (uint32_t)(e - io->tlb), 0);
  e = tlb_find(io, rid, iova, IOMMU_SUPERPAGE_SHIFT);
  if (e)
    tlb_set_tag(io, (uint32_t)(e - io->tlb), 0);
}

/* Domain-selective invalidation (flush_iotlb_all). */
static void tlb_invalidate_domain(struct iommu *io, uint16_t rid) {
  uint64_t hi = ((uint64_t)rid + 1) << 48;
  for (uint32_t i = 0; i < io->p.iotlb_entries; i++)
    if (io->tlb[i].tag && (io->tlb[i].tag & ~((1ull << 48) - 1)) == hi)
      tlb_set_tag(io, i, 0);
}

static void tlb_mark_stale(struct iommu *io, uint16_t rid, uint64_t iova) {
  struct tlb_entry *e = tlb_find(io, rid, iova, IOMMU_PAGE_SHIFT);
  if (e)
    e->maybe_stale = 1;
  e = tlb_find(io, rid, iova, IOMMU_SUPERPAGE_SHIFT);
  if (e)
    e->maybe_stale = 1;
}

/* ---- domains ---- */

static struct domain *domain_find(const struct iommu *io, uint16_t rid) {
  for (size_t i = 0; i < io->ndoms; i++)
    if (io->doms[i]->rid == rid)
      return io->doms[i];
  return NULL;
}

static struct domain *domain_get(struct iommu *io, uint16_t rid) {
  struct domain *d = domain_find(io, rid);
  if (d)
    return d;
  struct domain **nd = realloc(io->doms, (io->ndoms + 1) * sizeof *nd);
  if (!nd)
    return NULL;
  io->doms = nd;
  d = calloc(1, sizeof *d);
  if (!d)
    return NULL;
  d->rid = rid;
  struct iova_params ip = {.limit_pfn = io->limit_pfn, .forcedac = io->p.forcedac,
                           .mag_size = io->p.iova_mag_size, .depot_mags = io->p.iova_depot_mags};
  d->iovad = iova_domain_new(&ip);
  d->fq = calloc(io->p.flush_entries, sizeof *d->fq);
  if (!d->iovad || !d->fq || pt_alloc(io, &d->root)) {
    iova_domain_free(d->iovad);
    free(d->fq);
    free(d);
    return NULL;
  }
  io->doms[io->ndoms++] = d;
  return d;
}

uint64_t iommu_domain_root(const struct iommu *io, uint16_t rid) {
  const struct domain *d = domain_find(io, rid);
  return d ? d->root : 0;
}

/* ---- the lazy flush queue (dma-iommu.c) ---- */

/* fq_flush_iotlb + fq_ring_free: one domain-wide invalidation, then the
 * queued IOVAs are free for reuse. Nothing to do for an empty queue, unless
 * forced (a full queue_iova flushes unconditionally: with one slot the ring
 * is full while empty). */
static int64_t fq_flush_if(struct iommu *io, struct domain *d, int force) {
  if (d->fq_len == 0 && !force)
    return 0;
  tlb_invalidate_domain(io, d->rid);
  for (size_t i = 0; i < d->fq_len; i++)
    if (d->fq[i].frees)
      iova_free(d->iovad, d->fq[i].iova_pfn);
  d->fq_len = 0;
  io->st.invalidations++;
  return io->p.inval_cycles;
}

static int64_t fq_flush(struct iommu *io, struct domain *d) { return fq_flush_if(io, d, 0); }

/* fq_flush_timeout: the timer armed by the first unmap queued since it last
 * fired. Checked whenever the IOMMU is used, which is when it can matter. */
static int64_t fq_maybe_flush(struct iommu *io, uint64_t now_ps) {
  int64_t cycles = 0;
  for (size_t i = 0; i < io->ndoms; i++) {
    struct domain *d = io->doms[i];
    if (d->timer_on && now_ps >= d->deadline_ps) {
      d->timer_on = 0;
      cycles += fq_flush(io, d);
    }
  }
  return cycles;
}

/* An explicit flush leaves the timer nothing to do: it is disarmed, and the
 * next queued unmap arms it again. */
int64_t iommu_flush(struct iommu *io, uint64_t now_ps) {
  (void)now_ps;
  int64_t cycles = 0;
  for (size_t i = 0; i < io->ndoms; i++) {
    io->doms[i]->timer_on = 0;
    cycles += fq_flush(io, io->doms[i]);
  }
  return cycles;
}

/* ---- map and unmap ---- */

static int64_t map_range(struct iommu *io, uint16_t rid, uint64_t first_pfn, uint64_t n, unsigned perm,
                         uint64_t now_ps, uint64_t *iova_out) {
  int64_t cycles = fq_maybe_flush(io, now_ps);
  if (n == 0)
    return -1;
  if (io->p.mode == IOMMU_PASSTHROUGH || io->p.mode == IOMMU_OFF) {
    *iova_out = first_pfn << IOMMU_PAGE_SHIFT;
    io->st.maps += n;
    return cycles;
  }
  struct domain *d = domain_get(io, rid);
  uint64_t ipfn, size;
  int cached;
  if (!d || iova_alloc(d->iovad, n, &ipfn, &size, &cached))
    return -1;
  if (cached)
    io->st.iova_cache_hits++;
  uint64_t i = 0, entries = 0, supers = 0;
  while (i < n) {
    uint64_t iova = (ipfn + i) << IOMMU_PAGE_SHIFT;
    /* __domain_mapping: a 2 MiB entry where IOVA and physical address are
     * both 2 MiB-aligned and 512 pages remain (hardware_largepage_caps). */
    if (io->p.superpages && (ipfn + i) % SUPER_PAGES == 0 && (first_pfn + i) % SUPER_PAGES == 0 &&
        n - i >= SUPER_PAGES) {
      int rc = pt_map_super(io, d, iova, first_pfn + i, perm);
      if (rc < 0)
        goto unwind;
      if (rc == 0) {
        i += SUPER_PAGES;
        entries++;
        supers++;
        continue;
      }
    }
    if (pt_map_page(io, d, iova, first_pfn + i, perm))
      goto unwind;
    i++;
    entries++;
  }
  iova_live_add(d->iovad, ipfn, (int64_t)n);
  io->st.maps += n;
  io->st.mapped_pages += n;
  io->st.superpage_maps += supers;
  *iova_out = ipfn << IOMMU_PAGE_SHIFT;
  return cycles + (int64_t)entries * io->p.map_cycles;
unwind:
  /* Take back what was mapped, then the IOVA range. */
  for (uint64_t j = 0; j < i;) {
    int sup;
    if (pt_unmap(io, d, (ipfn + j) << IOMMU_PAGE_SHIFT, 0, &sup))
      break;
    j += sup ? SUPER_PAGES : 1;
  }
  iova_free(d->iovad, ipfn);
  return -1;
}

int64_t iommu_map(struct iommu *io, uint16_t rid, uint64_t pfn, unsigned perm, uint64_t now_ps,
                  uint64_t *iova_out) {
  return map_range(io, rid, pfn, 1, perm, now_ps, iova_out);
}

int64_t iommu_map_contig(struct iommu *io, uint16_t rid, uint64_t first_pfn, uint32_t n,
                         unsigned perm, uint64_t now_ps, uint64_t *iova_out) {
  return map_range(io, rid, first_pfn, n, perm, now_ps, iova_out);
}

int64_t iommu_unmap(struct iommu *io, uint16_t rid, uint64_t iova, uint64_t now_ps) {
  int64_t cycles = fq_maybe_flush(io, now_ps);
  if (io->p.mode == IOMMU_PASSTHROUGH || io->p.mode == IOMMU_OFF) {
    io->st.unmaps++;
    return cycles;
  }
  struct domain *d = domain_find(io, rid);
  int sup;
  if (!d || iova >> io->aw_bits || pt_unmap(io, d, iova, 1, &sup))
    return -1;
  io->st.unmaps++;
  io->st.mapped_pages--;
  cycles += io->p.unmap_cycles;
  uint64_t ipfn = iova >> IOMMU_PAGE_SHIFT;
  int frees = iova_live_add(d->iovad, ipfn, -1) == 0;
  if (io->p.mode == IOMMU_STRICT) {
    /* iommu_flush_iotlb_psi, then free_iova_fast. */
    tlb_invalidate_page(io, rid, iova);
    io->st.invalidations++;
    cycles += io->p.inval_cycles;
    if (frees)
      iova_free(d->iovad, ipfn);
  } else {
    /* Lazy (queue_iova): the IOTLB keeps the entry until the flush, so the
     * device can still reach the old page; the IOVA waits for the flush.
     * Linux drivers/iommu/dma-iommu.c queue_iova: when the ring is full
     * (fq_full: IOVA_FQ_SIZE slots, one kept free, so flush_entries - 1
     * entries), fq_flush_iotlb flushes the domain and fq_ring_free frees the
     * entries already queued, and only then is the new one added
     * (fq_ring_add); it waits for the next flush, though the domain-wide
     * invalidation has already removed its IOTLB entry. The timer is armed
     * after the add when it is not already on. */
    tlb_mark_stale(io, rid, iova);
    if (d->fq_len + 1 >= io->p.flush_entries)
      cycles += fq_flush_if(io, d, 1);
    d->fq[d->fq_len++] = (struct fq_entry){.iova_pfn = ipfn, .frees = (uint8_t)frees};
    if (!d->timer_on) {
      d->timer_on = 1;
      d->deadline_ps = now_ps + io->p.flush_ps;
    }
  }
  return cycles;
}

/* ---- translation ---- */

static void record_fault(struct iommu *io, uint8_t reason, uint8_t vtd, uint16_t rid, uint64_t iova,
                         int write, uint64_t now_ps) {
  io->st.faults++;
  if (io->nfaults < io->p.max_fault_records)
    io->faults[io->nfaults++] = (struct iommu_fault){.reason = reason, .write = (uint8_t)(write != 0),
                                                     .rid = rid, .iova = iova, .time_ps = now_ps,
                                                     .vtd_reason = vtd};
  else
    io->st.fault_records_dropped++;
}

static uint64_t leaf_paddr(uint64_t pfn, unsigned shift, uint64_t iova) {
  return (pfn << IOMMU_PAGE_SHIFT) + (iova & ((1ull << shift) - 1));
}

/* Is the translation of iova by entry e still what the page table says?
 * Model bookkeeping (a peek, not an access). */
static int entry_is_stale(const struct iommu *io, const struct domain *d, const struct tlb_entry *e,
                          uint64_t iova) {
  struct walk w;
  if (!d || pt_walk(io, NULL, d, iova, &w))
    return 1;
  uint64_t page = iova & ~0xfffull;
  return leaf_paddr(w.pfn, w.shift, page) != leaf_paddr(e->pfn, e->shift, page) ||
         (w.perm & e->perm) != e->perm;
}

int iommu_translate2(struct iommu *io, uint16_t rid, uint64_t iova, int write, uint64_t now_ps,
                     struct iommu_xlate *out) {
  memset(out, 0, sizeof *out);
  if (io->p.mode == IOMMU_PASSTHROUGH || io->p.mode == IOMMU_OFF) {
    out->paddr = iova;
    out->page_shift = IOMMU_PAGE_SHIFT;
    return 0;
  }
  fq_maybe_flush(io, now_ps);
  io->st.translations++;
  uint8_t vtd_perm = write ? IOMMU_VTD_NO_WRITE : IOMMU_VTD_NO_READ;
  uint64_t pfn;
  unsigned perm, shift;
  struct tlb_entry *t = tlb_lookup(io, rid, iova);
  if (t) {
    io->st.iotlb_hits++;
    t->lru = ++io->lru_clock;
    tlb_touch(io, (uint32_t)(t - io->tlb));
    pfn = t->pfn;
    perm = t->perm;
    shift = t->shift;
    out->hit = 1;
    out->latency_ps = io->p.hit_ps;
    if (t->maybe_stale && entry_is_stale(io, domain_find(io, rid), t, iova)) {
      out->stale = 1;
      io->st.stale_hits++;
    }
  } else {
    io->st.iotlb_misses++;
    out->latency_ps = io->p.hit_ps;
    struct domain *d = domain_find(io, rid);
    if (!d) {
      out->fault = IOMMU_FAULT_NOT_PRESENT;
      record_fault(io, IOMMU_FAULT_NOT_PRESENT, IOMMU_VTD_CONTEXT_NOT_PRESENT, rid, iova, write, now_ps);
      return -1;
    }
    if (iova >> io->aw_bits) {
      out->fault = IOMMU_FAULT_NOT_PRESENT;
      record_fault(io, IOMMU_FAULT_NOT_PRESENT, IOMMU_VTD_BEYOND_AGAW, rid, iova, write, now_ps);
      return -1;
    }
    struct walk w;
    int rc = pt_walk(io, io, d, iova, &w);
    io->st.walk_reads += w.levels;
    out->levels = (uint8_t)w.levels;
    out->latency_ps += (uint64_t)w.levels * io->p.walk_level_ps;
    if (rc) {
      out->fault = IOMMU_FAULT_NOT_PRESENT;
      record_fault(io, IOMMU_FAULT_NOT_PRESENT, vtd_perm, rid, iova, write, now_ps);
      return -1;
    }
    tlb_fill(io, rid, iova, &w);
    pfn = w.pfn;
    perm = w.perm;
    shift = w.shift;
  }
  if (!(perm & (write ? IOMMU_PERM_WRITE : IOMMU_PERM_READ))) {
    out->fault = write ? IOMMU_FAULT_NO_WRITE : IOMMU_FAULT_NO_READ;
    record_fault(io, out->fault, vtd_perm, rid, iova, write, now_ps);
    return -1;
  }
  out->paddr = leaf_paddr(pfn, shift, iova);
  out->page_shift = (uint8_t)shift;
  return 0;
}

int iommu_translate(struct iommu *io, uint16_t rid, uint64_t iova, int write, uint64_t now_ps,
                    uint64_t *paddr, uint64_t *latency_ps) {
  struct iommu_xlate x;
  int rc = iommu_translate2(io, rid, iova, write, now_ps, &x);
  *latency_ps = x.latency_ps;
  if (rc == 0)
    *paddr = x.paddr;
  return rc;
}

int iommu_iova_to_phys(const struct iommu *io, uint16_t rid, uint64_t iova, uint64_t *paddr,
                       unsigned *perm, unsigned *page_shift) {
  const struct domain *d = domain_find(io, rid);
  struct walk w;
  if (!d || iova >> io->aw_bits || pt_walk(io, NULL, d, iova, &w))
    return -1;
  if (paddr)
    *paddr = leaf_paddr(w.pfn, w.shift, iova);
  if (perm)
    *perm = w.perm;
  if (page_shift)
    *page_shift = w.shift;
  return 0;
}

void iommu_set_mode(struct iommu *io, enum iommu_mode mode) { io->p.mode = (uint8_t)mode; }
enum iommu_mode iommu_get_mode(const struct iommu *io) { return (enum iommu_mode)io->p.mode; }
const struct iommu_stats *iommu_stats(const struct iommu *io) { return &io->st; }
size_t iommu_fault_count(const struct iommu *io) { return io->nfaults; }
const struct iommu_fault *iommu_fault_get(const struct iommu *io, size_t i) {
  return i < io->nfaults ? &io->faults[i] : NULL;
}

const char *iommu_mode_name(enum iommu_mode m) {
  switch (m) {
  case IOMMU_STRICT: return "strict";
  case IOMMU_LAZY: return "lazy";
  case IOMMU_PASSTHROUGH: return "passthrough";
  case IOMMU_OFF: return "off";
  }
  return "?";
}

const char *iommu_fault_reason_name(enum iommu_fault_reason r) {
  switch (r) {
  case IOMMU_FAULT_NOT_PRESENT: return "not-present";
  case IOMMU_FAULT_NO_READ: return "no-read";
  case IOMMU_FAULT_NO_WRITE: return "no-write";
  }
  return "?";
}
