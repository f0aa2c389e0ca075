/*
 * mem.c: labelled simulated physical memory. See mem.h for the model.
 */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#include "hugemem.h"

/* The label shadow of a page is run-length encoded: runs of bytes with one
 * label id, sorted by offset, the first at offset 0, each lasting until the
 * next one starts (the last until the end of the page), and no two adjacent
 * runs with the same id (runs are maximal). It says exactly what a label id
 * per byte would say, but a write, fill or copy of n bytes costs O(runs)
 * rather than O(n), and a page written whole is one run. Pages hold a few
 * runs (headroom, headers, payload, skb_shared_info, the rest); the first
 * RUNS_INLINE live inside the page, more go to the heap. */
struct run {
  uint32_t id;
  uint32_t start; /* first byte of the run, within the page */
};

#define RUNS_INLINE 8u
#define PAGE_SLAB_BYTES HUGEMEM_MIN

struct mem_page {
  uint8_t data[MEM_PAGE_SIZE];
  struct run *runs; /* small, or a heap array when more are needed */
  uint32_t nruns, caprun;
  uint32_t hint; /* the run found last: a guess, checked before use */
  struct run small[RUNS_INLINE];
};

struct mark {
  uint16_t off, len; /* within the page; len 4096 is stored as 0 with full=1 */
  uint16_t id;
  uint8_t kind;
  uint8_t full;
};

struct mem_page_meta {
  uint64_t epoch;
  uint64_t map_ro;  /* bit per principal */
  uint64_t map_rw;
  uint64_t *since_ps; /* per principal, allocated when first mapped */
  struct mark *marks;
  uint16_t nmarks, capmarks;
  uint32_t dma_refs;
  uint8_t holder1;  /* principal holding the page plus one, 0 none (so that
                     * calloc's zeros are a valid, untouched entry) */
  uint8_t listed;   /* in meta_pfns: since_ps or marks allocated */
};

struct mem {
  uint64_t npages;
  struct mem_page **pages;     /* NULL until touched */
  struct mem_page_meta *meta;  /* per page; zero is its initial state */
  uint64_t *meta_pfns;         /* pages whose meta holds heap blocks */
  uint64_t nmeta_pfns;
  uint64_t touched;
  uint64_t *touched_pfns;      /* the touched pages, in order of first touch */
  uint64_t epoch_counter;

  /* Labels by id. A collection's marks are a bitmap and its free ids a
   * stack of their own, so that it reads and writes neither the labels
   * (48 bytes each) nor anything per label beyond a bit and the ids it
   * frees: the labels' lines are touched only to write and read labels. */
  struct mem_label *labels;
  uint64_t *label_marks; /* bit per id */
  uint32_t *free_ids;    /* ids to hand out, the next on top; room for labels_cap */
  uint32_t nfree_ids;
  uint32_t labels_cap;
  uint32_t labels_top;   /* slots [0, top) have been handed out at least once */
  uint64_t labels_live;
  uint64_t gc_runs;
  uint32_t gc_next;      /* run a collection when live reaches this */

  struct run *scratch;   /* copy_chunk: the source runs of one chunk */

  /* Touched pages are carved from slabs of PAGE_SLAB_BYTES on huge pages
   * (hugemem.h), freed with the memory: filling a page then costs no page
   * fault of the host's own, and the pages a replay cycles through (its
   * rings' buffers, megabytes) take few entries of the host's TLB. */
  uint8_t **slabs;
  size_t nslabs, capslabs;
  size_t slab_used;      /* bytes of the last slab handed out */

  /* The page allocator's stack of free pages is [npages-1, ..., fresh]
   * below free_pfns[0 .. nstack): pages never handed out come in ascending
   * order, freed pages go on top. The never-handed-out part is implicit so
   * that creating a memory of a million pages does not write a million
   * entries (nor touch the pages of the arrays). */
  uint64_t *free_pfns;
  uint64_t nstack;
  uint64_t fresh;
  uint8_t *in_use;       /* 1: handed out (pfn 0 is never free) */

  uint64_t (*now_ps)(void *ctx);
  void *clock_ctx;

  struct mem_observer obs[MEM_MAX_OBSERVERS];
  int nobs;
  /* The observers with a before_write and with an access callback, in the
   * order added: every labelled access calls them, and a loop over all
   * observers testing each for its callback cost more than the calls. */
  struct {
    void *ctx;
    void (*fn)(void *ctx, struct mem *m, const struct mem_access *a);
  } before_obs[MEM_MAX_OBSERVERS], access_obs[MEM_MAX_OBSERVERS];
  int nbefore, naccess;
  uint64_t held[MEM_MAX_PRINCIPALS];
};

static uint64_t zero_clock(void *ctx) { (void)ctx; return 0; }

struct mem *mem_new(uint64_t size_bytes) {
  if (size_bytes == 0)
    return NULL;
  struct mem *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->npages = (size_bytes + MEM_PAGE_SIZE - 1) >> MEM_PAGE_SHIFT;
  m->pages = calloc(m->npages, sizeof *m->pages);
  m->meta = calloc(m->npages, sizeof *m->meta);
  m->free_pfns = malloc(m->npages * sizeof *m->free_pfns);
  m->in_use = calloc(m->npages, 1);
  m->meta_pfns = malloc(m->npages * sizeof *m->meta_pfns);
  m->labels_cap = 1u << 16;
  /* Huge pages: ids cycle through the whole table (hugemem.h). */
  m->labels = huge_resize(NULL, 0, (size_t)m->labels_cap * sizeof *m->labels);
  if (m->labels)
    memset(m->labels, 0, (size_t)m->labels_cap * sizeof *m->labels);
  m->label_marks = calloc(m->labels_cap / 64, sizeof *m->label_marks);
  m->free_ids = malloc(m->labels_cap * sizeof *m->free_ids);
  m->scratch = malloc(MEM_PAGE_SIZE * sizeof *m->scratch);
  m->touched_pfns = malloc(m->npages * sizeof *m->touched_pfns);
  if (!m->pages || !m->meta || !m->free_pfns || !m->in_use || !m->meta_pfns || !m->labels ||
      !m->label_marks || !m->free_ids ||
      !m->scratch || !m->touched_pfns) {
    mem_free(m);
    return NULL;
  }
  /* Pfn 0 is never handed out (a zero physical address stays an error), so
   * the stack holds npages-1..1 with 1 on top. */
  m->nstack = 0;
  m->fresh = 1;
  m->in_use[0] = 1;
  /* Label id 0 is the permanent "zero" label. */
  m->labels[0].prov.kind = MEM_LABEL_ZERO;
  m->labels[0].prov.packet = UINT64_MAX;
  m->labels_top = 1;
  m->labels_live = 1;
  m->nfree_ids = 0;
  m->gc_next = m->labels_cap;
  m->now_ps = zero_clock;
  return m;
}

void mem_free(struct mem *m) {
  if (!m)
    return;
  /* Only touched pages have a page, only listed ones meta blocks. */
  if (m->pages && m->touched_pfns)
    for (uint64_t t = 0; t < m->touched; t++) {
      struct mem_page *pg = m->pages[m->touched_pfns[t]];
      if (pg->runs != pg->small)
        free(pg->runs);
    }
  for (size_t i = 0; i < m->nslabs; i++)
    huge_free(m->slabs[i], PAGE_SLAB_BYTES);
  free(m->slabs);
  free(m->scratch);
  free(m->touched_pfns);
  if (m->meta && m->meta_pfns)
    for (uint64_t t = 0; t < m->nmeta_pfns; t++) {
      free(m->meta[m->meta_pfns[t]].since_ps);
      free(m->meta[m->meta_pfns[t]].marks);
    }
  free(m->pages);
  free(m->meta);
  free(m->meta_pfns);
  free(m->free_pfns);
  free(m->in_use);
  huge_free(m->labels, (size_t)m->labels_cap * sizeof *m->labels);
  free(m->label_marks);
  free(m->free_ids);
  free(m);
}

/* Remember that pfn's meta holds heap blocks, for mem_free. */
static void list_meta(struct mem *m, uint64_t pfn) {
  if (!m->meta[pfn].listed) {
    m->meta[pfn].listed = 1;
    m->meta_pfns[m->nmeta_pfns++] = pfn;
  }
}

uint64_t mem_pages(const struct mem *m) { return m->npages; }
uint64_t mem_pages_touched(const struct mem *m) { return m->touched; }

void mem_set_clock(struct mem *m, uint64_t (*now_ps)(void *ctx), void *ctx) {
  m->now_ps = now_ps ? now_ps : zero_clock;
  m->clock_ctx = ctx;
}

/* before_obs and access_obs from obs. */
static void observers_by_kind(struct mem *m) {
  m->nbefore = m->naccess = 0;
  for (int i = 0; i < m->nobs; i++) {
    if (m->obs[i].before_write) {
      m->before_obs[m->nbefore].ctx = m->obs[i].ctx;
      m->before_obs[m->nbefore++].fn = m->obs[i].before_write;
    }
    if (m->obs[i].access) {
      m->access_obs[m->naccess].ctx = m->obs[i].ctx;
      m->access_obs[m->naccess++].fn = m->obs[i].access;
    }
  }
}

int mem_add_observer(struct mem *m, const struct mem_observer *obs) {
  if (m->nobs >= MEM_MAX_OBSERVERS)
    return -1;
  m->obs[m->nobs++] = *obs;
  observers_by_kind(m);
  return 0;
}

void mem_remove_observer(struct mem *m, const void *ctx) {
  int k = 0;
  for (int i = 0; i < m->nobs; i++)
    if (m->obs[i].ctx != ctx)
      m->obs[k++] = m->obs[i];
  m->nobs = k;
  observers_by_kind(m);
}

static int range_ok_const(const struct mem *m, uint64_t paddr, uint64_t len) {
  uint64_t end = paddr + len;
  return end >= paddr && end <= (m->npages << MEM_PAGE_SHIFT);
}

/* ---- label table ---- */

static void label_gc(struct mem *m) {
  uint64_t *mk = m->label_marks;
  memset(mk, 0, ((size_t)m->labels_top + 63) / 64 * sizeof *mk);
  mk[0] = 1;
  /* Only the touched pages (not every frame of RAM): a collection costs the
   * runs of the pages in use. */
  for (uint64_t t = 0; t < m->touched; t++) {
    const struct mem_page *pg = m->pages[m->touched_pfns[t]];
    for (uint32_t i = 0; i < pg->nruns; i++)
      mk[pg->runs[i].id >> 6] |= 1ull << (pg->runs[i].id & 63);
  }
  /* The free ids from the top down, so that low ids are reused first. */
  m->nfree_ids = 0;
  for (uint32_t w = (m->labels_top + 63) / 64; w-- > 0;) {
    uint64_t freebits = ~mk[w];
    if (w == m->labels_top / 64) /* ids from labels_top on were never handed out */
      freebits &= (1ull << (m->labels_top & 63)) - 1;
    while (freebits) {
      unsigned b = 63u - (unsigned)__builtin_clzll(freebits);
      m->free_ids[m->nfree_ids++] = w * 64 + b;
      freebits &= ~(1ull << b);
    }
  }
  m->labels_live = m->labels_top - m->nfree_ids;
  m->gc_runs++;
}

void mem_label_gc(struct mem *m) { label_gc(m); }

/* A new label id for lab; UINT32_MAX when host memory runs out. */
static uint32_t label_new(struct mem *m, const struct mem_label *lab) {
  if (m->nfree_ids == 0 && m->labels_top == m->labels_cap &&
      m->labels_live >= m->gc_next) {
    label_gc(m);
    /* Grow when more than half the table is still live after a pass, so that
     * collections stay rare. */
    if (m->labels_live > m->labels_cap / 2)
      m->gc_next = m->labels_cap * 2;
  }
  uint32_t id;
  if (m->nfree_ids) {
    id = m->free_ids[--m->nfree_ids];
  } else {
    if (m->labels_top == m->labels_cap) {
      if (m->labels_cap >= (1u << 31))
        return UINT32_MAX;
      uint32_t ncap = m->labels_cap * 2;
      struct mem_label *n = huge_resize(m->labels, (size_t)m->labels_cap * sizeof *n, (size_t)ncap * sizeof *n);
      if (!n)
        return UINT32_MAX;
      memset(n + m->labels_cap, 0, (size_t)(ncap - m->labels_cap) * sizeof *n);
      m->labels = n;
      uint64_t *nm = realloc(m->label_marks, (size_t)ncap / 64 * sizeof *nm);
      if (!nm)
        return UINT32_MAX;
      m->label_marks = nm;
      uint32_t *nf = realloc(m->free_ids, (size_t)ncap * sizeof *nf);
      if (!nf)
        return UINT32_MAX;
      m->free_ids = nf;
      m->labels_cap = ncap;
      if (m->gc_next < ncap)
        m->gc_next = ncap;
    }
    id = m->labels_top++;
  }
  m->labels[id] = *lab;
  m->labels_live++;
  return id;
}

const struct mem_label *mem_label(const struct mem *m, uint32_t id) {
  return &m->labels[id];
}
struct mem_label *mem_label_mut(struct mem *m, uint32_t id) { return &m->labels[id]; }
uint64_t mem_labels_live(const struct mem *m) { return m->labels_live; }
uint64_t mem_label_gc_runs(const struct mem *m) { return m->gc_runs; }

/* ---- the run-length label shadow ---- */

static inline uint32_t run_end(const struct mem_page *pg, uint32_t i) {
  return i + 1 < pg->nruns ? pg->runs[i + 1].start : MEM_PAGE_SIZE;
}

/* Index of the run holding byte off of the page. A page with many runs is
 * mostly walked in order (descriptor rings, socket data), so the run found
 * last and the one after it are tried before the binary search; both are
 * checked, so the answer is the search's. */
static inline uint32_t run_find(struct mem_page *pg, uint32_t off) {
  uint32_t h = pg->hint;
  if (h < pg->nruns && pg->runs[h].start <= off) {
    if (off < run_end(pg, h))
      return h;
    if (h + 1 < pg->nruns && off < run_end(pg, h + 1))
      return pg->hint = h + 1;
  }
  uint32_t lo = 0, hi = pg->nruns; /* runs[lo].start <= off < runs[hi].start */
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (pg->runs[mid].start <= off)
      lo = mid;
    else
      hi = mid;
  }
  return pg->hint = lo;
}

/* Label [off, off+n) of the page (n >= 1, within the page) with id. 0 or
 * MEM_ENOMEM (the shadow is unchanged then). */
static int runs_set(struct mem_page *pg, uint32_t off, uint32_t n, uint32_t id) {
  uint32_t end = off + n;
  uint32_t a = run_find(pg, off), aend = run_end(pg, a);
  if (end <= aend && pg->runs[a].start == off && end == aend) {
    /* The usual case on recycled buffers: exactly one run is relabelled
     * (same offsets and lengths as the last frame in the buffer). */
    if ((a == 0 || pg->runs[a - 1].id != id) && (a + 1 == pg->nruns || pg->runs[a + 1].id != id)) {
      pg->runs[a].id = id;
      return 0;
    }
  }
  uint32_t b = end <= aend ? a : end >= MEM_PAGE_SIZE ? pg->nruns - 1 : run_find(pg, end - 1);
  /* Runs a..b are replaced by: what is left of a before off, the new run,
   * what is left of b after end; a piece with the id of the one before it
   * merges into it, so runs stay maximal. */
  struct run out[3];
  uint32_t k = 0;
  uint32_t prev = a > 0 ? pg->runs[a - 1].id : UINT32_MAX;
  if (pg->runs[a].start < off) {
    out[k++] = pg->runs[a];
    prev = pg->runs[a].id;
  }
  if (id != prev) {
    out[k++] = (struct run){.id = id, .start = off};
    prev = id;
  }
  uint32_t bend = run_end(pg, b);
  if (bend > end && pg->runs[b].id != prev) {
    out[k++] = (struct run){.id = pg->runs[b].id, .start = end};
    prev = pg->runs[b].id;
  }
  uint32_t cut_end = b + 1; /* runs [a, cut_end) go */
  if (bend == end && cut_end < pg->nruns && pg->runs[cut_end].id == prev)
    cut_end++; /* the run after the range merges into the last piece */
  uint32_t nn = pg->nruns - (cut_end - a) + k;
  if (nn > pg->caprun) {
    uint32_t nc = pg->caprun * 2;
    while (nc < nn)
      nc *= 2;
    struct run *r;
    if (pg->runs == pg->small) {
      r = malloc((size_t)nc * sizeof *r);
      if (r)
        memcpy(r, pg->small, (size_t)pg->nruns * sizeof *r);
    } else {
      r = realloc(pg->runs, (size_t)nc * sizeof *r);
    }
    if (!r)
      return MEM_ENOMEM;
    pg->runs = r;
    pg->caprun = nc;
  }
  memmove(pg->runs + a + k, pg->runs + cut_end, (size_t)(pg->nruns - cut_end) * sizeof *pg->runs);
  memcpy(pg->runs + a, out, (size_t)k * sizeof *out);
  pg->nruns = nn;
  return 0;
}

static inline uint32_t runs_id_at(struct mem_page *pg, uint32_t off) {
  return pg->runs[run_find(pg, off)].id;
}

/* ---- pages ---- */

/* What a free page of a real machine holds: old kernel objects, full of
 * pointers into the direct map. A recognisable, deterministic pattern. */
static void presim_pattern(uint8_t *data, uint64_t pfn) {
  for (uint32_t off = 0; off < MEM_PAGE_SIZE; off += 8) {
    uint64_t v = 0xffff888000000000ull | (pfn << 12) | off;
    memcpy(data + off, &v, 8); /* little-endian host, as the modelled x86 */
  }
}

/* Room for one more page: the next in the last slab, or a new slab. */
static struct mem_page *page_carve(struct mem *m) {
  if (m->nslabs == 0 || m->slab_used + sizeof(struct mem_page) > PAGE_SLAB_BYTES) {
    if (m->nslabs == m->capslabs) {
      size_t cap = m->capslabs ? 2 * m->capslabs : 16;
      uint8_t **n = realloc(m->slabs, cap * sizeof *n);
      if (!n)
        return NULL;
      m->slabs = n;
      m->capslabs = cap;
    }
    uint8_t *slab = huge_resize(NULL, 0, PAGE_SLAB_BYTES);
    if (!slab)
      return NULL;
    m->slabs[m->nslabs++] = slab;
    m->slab_used = 0;
  }
  struct mem_page *pg = (struct mem_page *)(m->slabs[m->nslabs - 1] + m->slab_used);
  m->slab_used += sizeof(struct mem_page);
  return pg;
}

/* First touch of pfn: its pre-simulation contents and label. */
static struct mem_page *touch_new(struct mem *m, uint64_t pfn) {
  struct mem_page *pg = page_carve(m);
  if (!pg)
    return NULL;
  struct mem_label lab;
  memset(&lab, 0, sizeof lab);
  lab.prov.kind = MEM_LABEL_KERNEL_PRESIM;
  lab.prov.packet = pfn;
  lab.writer.actor = MEM_ACTOR_KERNEL;
  lab.epoch = 0;
  uint32_t id = label_new(m, &lab);
  if (id == UINT32_MAX) {
    m->slab_used -= sizeof(struct mem_page); /* the room goes back */
    return NULL;
  }
  presim_pattern(pg->data, pfn);
  pg->runs = pg->small;
  pg->caprun = RUNS_INLINE;
  pg->nruns = 1;
  pg->hint = 0;
  pg->runs[0] = (struct run){.id = id, .start = 0};
  m->pages[pfn] = pg;
  m->touched_pfns[m->touched++] = pfn;
  return pg;
}

static inline struct mem_page *touch(struct mem *m, uint64_t pfn) {
  struct mem_page *pg = m->pages[pfn];
  return pg ? pg : touch_new(m, pfn);
}

uint64_t mem_page_new_epoch(struct mem *m, uint64_t pfn) {
  if (pfn >= m->npages)
    return 0;
  uint64_t old = m->meta[pfn].epoch;
  uint64_t e = ++m->epoch_counter;
  m->meta[pfn].epoch = e;
  for (int i = 0; i < m->nobs; i++)
    if (m->obs[i].epoch)
      m->obs[i].epoch(m->obs[i].ctx, m, pfn, old, e);
  return e;
}

uint64_t mem_page_epoch(const struct mem *m, uint64_t pfn) {
  return pfn < m->npages ? m->meta[pfn].epoch : 0;
}

enum mem_map_mode mem_page_mapping(const struct mem *m, uint64_t pfn, unsigned principal) {
  if (pfn >= m->npages || principal >= MEM_MAX_PRINCIPALS)
    return MEM_MAP_NONE;
  uint64_t bit = 1ull << principal;
  if (m->meta[pfn].map_rw & bit)
    return MEM_MAP_RW;
  if (m->meta[pfn].map_ro & bit)
    return MEM_MAP_RO;
  return MEM_MAP_NONE;
}

uint64_t mem_page_mappers(const struct mem *m, uint64_t pfn) {
  return pfn < m->npages ? (m->meta[pfn].map_ro | m->meta[pfn].map_rw) : 0;
}

uint64_t mem_page_mapped_since_ps(const struct mem *m, uint64_t pfn, unsigned principal) {
  if (pfn >= m->npages || principal >= MEM_MAX_PRINCIPALS || !m->meta[pfn].since_ps)
    return 0;
  return m->meta[pfn].since_ps[principal];
}

int mem_page_map(struct mem *m, uint64_t pfn, unsigned principal, enum mem_map_mode mode) {
  if (pfn >= m->npages)
    return MEM_ERANGE;
  if (principal >= MEM_MAX_PRINCIPALS)
    return MEM_ERANGE;
  if (!touch(m, pfn))
    return MEM_ENOMEM;
  struct mem_page_meta *md = &m->meta[pfn];
  enum mem_map_mode old = mem_page_mapping(m, pfn, principal);
  if (old == mode)
    return 0;
  if (!md->since_ps) {
    md->since_ps = calloc(MEM_MAX_PRINCIPALS, sizeof *md->since_ps);
    if (!md->since_ps)
      return MEM_ENOMEM;
    list_meta(m, pfn);
  }
  uint64_t bit = 1ull << principal;
  md->map_ro &= ~bit;
  md->map_rw &= ~bit;
  if (mode == MEM_MAP_RO)
    md->map_ro |= bit;
  else if (mode == MEM_MAP_RW)
    md->map_rw |= bit;
  md->since_ps[principal] = m->now_ps(m->clock_ctx);
  for (int i = 0; i < m->nobs; i++)
    if (m->obs[i].map)
      m->obs[i].map(m->obs[i].ctx, m, pfn, principal, old, mode);
  return 0;
}

/* ---- DMA references, marks, holders ---- */

void mem_page_dma_ref(struct mem *m, uint64_t pfn, uint16_t rid, int delta) {
  if (pfn >= m->npages)
    return;
  struct mem_page_meta *md = &m->meta[pfn];
  if (delta < 0 && md->dma_refs < (uint32_t)-delta)
    md->dma_refs = 0;
  else
    md->dma_refs = (uint32_t)((int64_t)md->dma_refs + delta);
  for (int i = 0; i < m->nobs; i++)
    if (m->obs[i].dma)
      m->obs[i].dma(m->obs[i].ctx, m, pfn, rid, md->dma_refs);
}

uint32_t mem_page_dma_refs(const struct mem *m, uint64_t pfn) {
  return pfn < m->npages ? m->meta[pfn].dma_refs : 0;
}

static int mark_one(struct mem *m, int add, uint8_t kind, uint16_t id, uint64_t pfn, uint32_t off,
                    uint32_t len) {
  struct mem_page_meta *md = &m->meta[pfn];
  struct mark mk = {.off = (uint16_t)off, .len = (uint16_t)(len & 0xffff), .id = id, .kind = kind,
                    .full = len == MEM_PAGE_SIZE};
  if (!add) {
    for (uint16_t i = 0; i < md->nmarks; i++) {
      struct mark *e = &md->marks[i];
      if (e->kind == mk.kind && e->id == mk.id && e->off == mk.off && e->len == mk.len &&
          e->full == mk.full) {
        md->marks[i] = md->marks[--md->nmarks];
        return 0;
      }
    }
    return -1;
  }
  if (md->nmarks == md->capmarks) {
    uint16_t nc = md->capmarks ? (uint16_t)(md->capmarks * 2) : 4;
    if (nc <= md->capmarks)
      return MEM_ENOMEM;
    struct mark *n = realloc(md->marks, nc * sizeof *n);
    if (!n)
      return MEM_ENOMEM;
    md->marks = n;
    md->capmarks = nc;
    list_meta(m, pfn);
  }
  md->marks[md->nmarks++] = mk;
  return 0;
}

static int mark_range(struct mem *m, int add, enum mem_mark_kind kind, uint16_t id, uint64_t paddr,
                      uint64_t len) {
  if (!range_ok_const(m, paddr, len))
    return MEM_ERANGE;
  uint64_t done = 0;
  int rc = 0;
  while (done < len) {
    uint64_t a = paddr + done;
    uint32_t off = (uint32_t)(a & (MEM_PAGE_SIZE - 1));
    uint32_t n = MEM_PAGE_SIZE - off;
    if (n > len - done)
      n = (uint32_t)(len - done);
    int r = mark_one(m, add, (uint8_t)kind, id, a >> MEM_PAGE_SHIFT, off, n);
    if (r)
      rc = r;
    done += n;
  }
  return rc;
}

int mem_mark_add(struct mem *m, enum mem_mark_kind kind, uint16_t id, uint64_t paddr, uint64_t len) {
  return mark_range(m, 1, kind, id, paddr, len);
}

int mem_mark_remove(struct mem *m, enum mem_mark_kind kind, uint16_t id, uint64_t paddr, uint64_t len) {
  return mark_range(m, 0, kind, id, paddr, len);
}

#define KIND_BIT(k) (1u << (k))
#define GRANT_KINDS (KIND_BIT(MEM_MARK_GRANT) | KIND_BIT(MEM_MARK_GRANT_READ))

/* Sets in seen (bit per byte offset of the page) the bytes of [pos, end)
 * covered by marks of the kinds in the set kinds (KIND_BIT; and id, for
 * grants). Returns the bytes of the range covered, or len at once when one
 * mark covers it all (seen is then not filled). */
static uint32_t mark_bitmap(const struct mem_page_meta *md, unsigned kinds, uint16_t id, uint32_t pos,
                            uint32_t end, uint8_t *seen, int *any) {
  for (uint16_t i = 0; i < md->nmarks; i++) {
    const struct mark *e = &md->marks[i];
    if (!(kinds & KIND_BIT(e->kind)) || ((GRANT_KINDS & KIND_BIT(e->kind)) && e->id != id))
      continue;
    uint32_t eo = e->off, el = e->full ? MEM_PAGE_SIZE : e->len;
    if (eo <= pos && eo + el >= end)
      return end - pos; /* the usual case: one mark covers it all */
    uint32_t a = eo > pos ? eo : pos, b = eo + el < end ? eo + el : end;
    if (a >= b)
      continue;
    if (!*any) {
      memset(seen, 0, MEM_PAGE_SIZE / 8);
      *any = 1;
    }
    for (uint32_t x = a; x < b; x++)
      seen[x >> 3] |= (uint8_t)(1u << (x & 7));
  }
  if (!*any)
    return 0;
  uint32_t covered = 0;
  for (uint32_t x = pos; x < end; x++)
    covered += (seen[x >> 3] >> (x & 7)) & 1u;
  return covered;
}

static const struct mem_page_meta *mark_meta(const struct mem *m, uint64_t paddr, uint32_t *len) {
  uint64_t pfn = paddr >> MEM_PAGE_SHIFT;
  if (pfn >= m->npages || *len == 0)
    return NULL;
  uint32_t off = (uint32_t)(paddr & (MEM_PAGE_SIZE - 1));
  if (*len > MEM_PAGE_SIZE - off)
    *len = MEM_PAGE_SIZE - off;
  return &m->meta[pfn];
}

/* Bytes of [paddr, paddr+len) (within one page) covered by marks of the
 * kinds in the set kinds (and id, for grants). */
static uint32_t covered_kinds(const struct mem *m, unsigned kinds, uint16_t id, uint64_t paddr, uint32_t len) {
  const struct mem_page_meta *md = mark_meta(m, paddr, &len);
  if (!md)
    return 0;
  uint32_t pos = (uint32_t)(paddr & (MEM_PAGE_SIZE - 1));
  uint8_t seen[MEM_PAGE_SIZE / 8];
  int any = 0;
  return mark_bitmap(md, kinds, id, pos, pos + len, seen, &any);
}

uint32_t mem_mark_covered(const struct mem *m, enum mem_mark_kind kind, uint16_t id, uint64_t paddr,
                          uint32_t len) {
  return covered_kinds(m, KIND_BIT(kind), id, paddr, len);
}

uint32_t mem_mark_covered_readable(const struct mem *m, uint16_t id, uint64_t paddr, uint32_t len) {
  return covered_kinds(m, GRANT_KINDS, id, paddr, len);
}

uint32_t mem_mark_covered_but(const struct mem *m, enum mem_mark_kind kind, uint16_t id,
                              enum mem_mark_kind but_kind, uint16_t but_id, uint64_t paddr, uint32_t len) {
  const struct mem_page_meta *md = mark_meta(m, paddr, &len);
  if (!md)
    return 0;
  uint32_t pos = (uint32_t)(paddr & (MEM_PAGE_SIZE - 1)), end = pos + len;
  uint8_t in[MEM_PAGE_SIZE / 8], out[MEM_PAGE_SIZE / 8];
  int any_in = 0, any_out = 0;
  uint32_t n = mark_bitmap(md, KIND_BIT(kind), id, pos, end, in, &any_in);
  if (n == 0)
    return 0;
  uint32_t excluded = mark_bitmap(md, KIND_BIT(but_kind), but_id, pos, end, out, &any_out);
  if (excluded == 0)
    return n;
  if (excluded == len)
    return 0;
  if (n == len) /* covered whole (the bitmap may not be filled) */
    memset(in, 0xff, sizeof in);
  uint32_t c = 0;
  for (uint32_t x = pos; x < end; x++)
    c += (in[x >> 3] >> (x & 7)) & 1u & ~((unsigned)out[x >> 3] >> (x & 7));
  return c;
}

void mem_page_set_holder(struct mem *m, uint64_t pfn, int principal) {
  if (pfn >= m->npages || principal >= MEM_MAX_PRINCIPALS)
    return;
  struct mem_page_meta *md = &m->meta[pfn];
  if (md->holder1)
    m->held[md->holder1 - 1]--;
  md->holder1 = (uint8_t)(principal < 0 ? 0 : principal + 1);
  if (md->holder1)
    m->held[md->holder1 - 1]++;
}

int mem_page_holder(const struct mem *m, uint64_t pfn) {
  return pfn < m->npages ? (int)m->meta[pfn].holder1 - 1 : -1;
}

uint64_t mem_pages_held(const struct mem *m, unsigned principal) {
  return principal < MEM_MAX_PRINCIPALS ? m->held[principal] : 0;
}

int mem_page_alloc(struct mem *m, uint64_t *pfn) {
  uint64_t p;
  if (m->nstack)
    p = m->free_pfns[--m->nstack];
  else if (m->fresh < m->npages)
    p = m->fresh++;
  else
    return MEM_ENOMEM;
  m->in_use[p] = 1;
  mem_page_new_epoch(m, p);
  *pfn = p;
  return 0;
}

void mem_page_free(struct mem *m, uint64_t pfn) {
  if (pfn >= m->npages || m->in_use[pfn] == 0 || pfn == 0)
    return;
  m->in_use[pfn] = 0;
  m->free_pfns[m->nstack++] = pfn;
}

uint64_t mem_pages_free(const struct mem *m) { return m->nstack + (m->npages - m->fresh); }

int mem_page_alloc_contig(struct mem *m, uint64_t n, uint64_t *first_pfn) {
  if (n == 0)
    return MEM_ENOMEM;
  uint64_t run = 0;
  for (uint64_t p = 1; p < m->npages; p++) {
    run = m->in_use[p] ? 0 : run + 1;
    if (run < n)
      continue;
    uint64_t first = p + 1 - n;
    /* Take them out of the free stack, keeping its order. */
    uint64_t k = 0;
    for (uint64_t i = 0; i < m->nstack; i++) {
      uint64_t q = m->free_pfns[i];
      if (q >= first && q <= p)
        continue;
      m->free_pfns[k++] = q;
    }
    m->nstack = k;
    /* The run is the first one long enough, so where it reaches the pages
     * never handed out it starts at or below fresh (pages fresh.. are all
     * free): those taken are the top of the implicit part. */
    if (p >= m->fresh)
      m->fresh = p + 1;
    for (uint64_t q = first; q <= p; q++) {
      m->in_use[q] = 1;
      mem_page_new_epoch(m, q);
    }
    *first_pfn = first;
    return 0;
  }
  return MEM_ENOMEM;
}

/* ---- accesses ---- */

static void notify_before(struct mem *m, const struct mem_access *a) {
  for (int i = 0; i < m->nbefore; i++)
    m->before_obs[i].fn(m->before_obs[i].ctx, m, a);
}

static void notify_access(struct mem *m, const struct mem_access *a) {
  for (int i = 0; i < m->naccess; i++)
    m->access_obs[i].fn(m->access_obs[i].ctx, m, a);
}

/* May who make this access to pfn? Devices and the kernel may touch any page
 * here: the device was checked by the IOMMU, the kernel is trusted. */
static int allowed(const struct mem *m, struct mem_accessor who, uint64_t pfn, int write) {
  if (who.actor != MEM_ACTOR_USER)
    return 1;
  enum mem_map_mode mm = mem_page_mapping(m, pfn, who.id);
  return write ? mm == MEM_MAP_RW : mm != MEM_MAP_NONE;
}

static int range_ok(const struct mem *m, uint64_t paddr, uint64_t len) {
  uint64_t end = paddr + len;
  return end >= paddr && end <= (m->npages << MEM_PAGE_SHIFT);
}

/* Common loop of write and fill: src NULL means fill with byte. */
static int store(struct mem *m, struct mem_accessor who, uint64_t paddr, const uint8_t *src,
                 uint8_t byte, uint64_t len, const struct mem_prov *prov, uint8_t op) {
  if (!range_ok(m, paddr, len))
    return MEM_ERANGE;
  uint64_t done = 0;
  while (done < len) {
    uint64_t a = paddr + done;
    uint64_t pfn = a >> MEM_PAGE_SHIFT;
    uint32_t off = (uint32_t)(a & (MEM_PAGE_SIZE - 1));
    uint32_t n = MEM_PAGE_SIZE - off;
    if (n > len - done)
      n = (uint32_t)(len - done);
    struct mem_access acc = {.who = who, .op = op, .paddr = a, .len = n};
    if (!allowed(m, who, pfn, 1)) {
      acc.denied = 1;
      notify_access(m, &acc);
      return MEM_EFAULT;
    }
    struct mem_page *pg = touch(m, pfn);
    if (!pg)
      return MEM_ENOMEM;
    notify_before(m, &acc);
    uint32_t id = MEM_LABEL_ID_ZERO;
    if (prov) {
      struct mem_label lab = {.prov = *prov, .writer = who, .epoch = m->meta[pfn].epoch,
                              .time_ps = m->now_ps(m->clock_ctx), .exposed = 0};
      id = label_new(m, &lab);
      if (id == UINT32_MAX)
        return MEM_ENOMEM;
    }
    if (runs_set(pg, off, n, id))
      return MEM_ENOMEM;
    if (src)
      memcpy(pg->data + off, src + done, n);
    else
      memset(pg->data + off, byte, n);
    acc.one_label = 1;
    acc.label_id = id;
    notify_access(m, &acc);
    done += n;
  }
  return 0;
}

int mem_write(struct mem *m, struct mem_accessor who, uint64_t paddr, const void *src,
              uint64_t len, const struct mem_prov *prov) {
  static const struct mem_prov zero = {.kind = MEM_LABEL_ZERO, .packet = UINT64_MAX};
  return store(m, who, paddr, src, 0, len, prov ? prov : &zero, MEM_OP_WRITE);
}

int mem_fill(struct mem *m, struct mem_accessor who, uint64_t paddr, uint8_t byte, uint64_t len,
             const struct mem_prov *prov) {
  return store(m, who, paddr, NULL, byte, len, prov, MEM_OP_FILL);
}

int mem_read(struct mem *m, struct mem_accessor who, uint64_t paddr, void *dst, uint64_t len) {
  if (!range_ok(m, paddr, len))
    return MEM_ERANGE;
  uint64_t done = 0;
  while (done < len) {
    uint64_t a = paddr + done;
    uint64_t pfn = a >> MEM_PAGE_SHIFT;
    uint32_t off = (uint32_t)(a & (MEM_PAGE_SIZE - 1));
    uint32_t n = MEM_PAGE_SIZE - off;
    if (n > len - done)
      n = (uint32_t)(len - done);
    struct mem_access acc = {.who = who, .op = MEM_OP_READ, .paddr = a, .len = n};
    if (!allowed(m, who, pfn, 0)) {
      acc.denied = 1;
      notify_access(m, &acc);
      return MEM_EFAULT;
    }
    struct mem_page *pg = touch(m, pfn);
    if (!pg)
      return MEM_ENOMEM;
    if (dst) {
      if (n == 8) /* a page-table entry, a descriptor word: one load */
        memcpy((uint8_t *)dst + done, pg->data + off, 8);
      else
        memcpy((uint8_t *)dst + done, pg->data + off, n);
    }
    notify_access(m, &acc);
    done += n;
  }
  return 0;
}

/* Copy within one source page and one destination page. Each run of equal
 * source labels becomes one new label stamped with the destination's epoch. */
static int copy_chunk(struct mem *m, struct mem_accessor who, uint64_t dst, uint64_t src, uint32_t n) {
  uint64_t dpfn = dst >> MEM_PAGE_SHIFT, spfn = src >> MEM_PAGE_SHIFT;
  uint32_t doff = (uint32_t)(dst & (MEM_PAGE_SIZE - 1)), soff = (uint32_t)(src & (MEM_PAGE_SIZE - 1));
  struct mem_access acc = {.who = who, .op = MEM_OP_COPY, .paddr = dst, .len = n, .src_paddr = src};
  if (!allowed(m, who, spfn, 0) || !allowed(m, who, dpfn, 1)) {
    acc.denied = 1;
    notify_access(m, &acc);
    return MEM_EFAULT;
  }
  struct mem_page *sp = touch(m, spfn);
  struct mem_page *dp = touch(m, dpfn);
  if (!sp || !dp)
    return MEM_ENOMEM;
  notify_before(m, &acc);
  memmove(dp->data + doff, sp->data + soff, n);
  uint64_t now = m->now_ps(m->clock_ctx);
  /* The source's runs over the chunk first (source and destination may be
   * the same page), as (id, offset in the chunk). */
  uint32_t nsrc = 0;
  for (uint32_t r = run_find(sp, soff); r < sp->nruns && sp->runs[r].start < soff + n; r++) {
    uint32_t st = sp->runs[r].start > soff ? sp->runs[r].start - soff : 0;
    m->scratch[nsrc++] = (struct run){.id = sp->runs[r].id, .start = st};
  }
  for (uint32_t r = 0; r < nsrc; r++) {
    uint32_t sid = m->scratch[r].id;
    uint32_t i = m->scratch[r].start, j = r + 1 < nsrc ? m->scratch[r + 1].start : n;
    uint32_t id = MEM_LABEL_ID_ZERO;
    if (sid != MEM_LABEL_ID_ZERO) {
      struct mem_label lab = m->labels[sid];
      lab.writer = who;
      lab.epoch = m->meta[dpfn].epoch;
      lab.time_ps = now;
      lab.exposed = 0;
      id = label_new(m, &lab);
      if (id == UINT32_MAX)
        return MEM_ENOMEM;
    }
    if (runs_set(dp, doff + i, j - i, id))
      return MEM_ENOMEM;
  }
  notify_access(m, &acc);
  return 0;
}

int mem_copy(struct mem *m, struct mem_accessor who, uint64_t dst_paddr, uint64_t src_paddr,
             uint64_t len) {
  if (!range_ok(m, dst_paddr, len) || !range_ok(m, src_paddr, len))
    return MEM_ERANGE;
  uint64_t done = 0;
  while (done < len) {
    uint64_t d = dst_paddr + done, s = src_paddr + done;
    uint32_t n = MEM_PAGE_SIZE - (uint32_t)(d & (MEM_PAGE_SIZE - 1));
    uint32_t ns = MEM_PAGE_SIZE - (uint32_t)(s & (MEM_PAGE_SIZE - 1));
    if (ns < n)
      n = ns;
    if (n > len - done)
      n = (uint32_t)(len - done);
    int rc = copy_chunk(m, who, d, s, n);
    if (rc)
      return rc;
    done += n;
  }
  return 0;
}

/* ---- inspection ---- */

uint32_t mem_peek_label_id(struct mem *m, uint64_t paddr) {
  uint64_t pfn = paddr >> MEM_PAGE_SHIFT;
  if (pfn >= m->npages)
    return MEM_LABEL_ID_ZERO;
  struct mem_page *pg = touch(m, pfn);
  return pg ? runs_id_at(pg, (uint32_t)(paddr & (MEM_PAGE_SIZE - 1))) : MEM_LABEL_ID_ZERO;
}

int mem_peek(struct mem *m, uint64_t paddr, void *dst, uint64_t len) {
  if (!range_ok(m, paddr, len))
    return MEM_ERANGE;
  uint64_t done = 0;
  while (done < len) {
    uint64_t a = paddr + done;
    uint32_t off = (uint32_t)(a & (MEM_PAGE_SIZE - 1));
    uint32_t n = MEM_PAGE_SIZE - off;
    if (n > len - done)
      n = (uint32_t)(len - done);
    struct mem_page *pg = touch(m, a >> MEM_PAGE_SHIFT);
    if (!pg)
      return MEM_ENOMEM;
    memcpy((uint8_t *)dst + done, pg->data + off, n);
    done += n;
  }
  return 0;
}

void mem_label_runs(struct mem *m, uint64_t paddr, uint32_t len, mem_run_fn fn, void *ctx) {
  uint64_t pfn = paddr >> MEM_PAGE_SHIFT;
  uint32_t off = (uint32_t)(paddr & (MEM_PAGE_SIZE - 1));
  if (pfn >= m->npages || len == 0)
    return;
  if (len > MEM_PAGE_SIZE - off)
    len = MEM_PAGE_SIZE - off;
  struct mem_page *pg = touch(m, pfn);
  if (!pg)
    return;
  /* Runs are maximal, so each one clipped to the range is a maximal run of
   * the range. The callback must not write memory. */
  uint64_t base = paddr - off;
  uint32_t end = off + len;
  for (uint32_t r = run_find(pg, off); r < pg->nruns && pg->runs[r].start < end; r++) {
    uint32_t a = pg->runs[r].start > off ? pg->runs[r].start : off;
    uint32_t e = run_end(pg, r);
    if (e > end)
      e = end;
    fn(ctx, base + a, e - a, pg->runs[r].id);
  }
}

static const struct {
  const char *key, *text;
} label_kinds[MEM_LABEL_KIND_COUNT] = {
    [MEM_LABEL_ZERO] = {"zero", "zero"},
    [MEM_LABEL_PKT_HEADER] = {"header", "packet header"},
    [MEM_LABEL_PKT_PAYLOAD] = {"payload", "packet payload"},
    [MEM_LABEL_PKT_UNKNOWN] = {"uncaptured", "packet bytes not in the capture"},
    [MEM_LABEL_KERNEL_PRESIM] = {"kernel_presim", "pre-simulation page contents"},
    [MEM_LABEL_KERNEL_PTR] = {"skb_shared_info", "skb_shared_info (kernel pointers)"},
    [MEM_LABEL_KERNEL_META] = {"kernel_meta", "kernel metadata"},
    [MEM_LABEL_USER] = {"user", "user data"},
};

const char *mem_label_kind_key(unsigned kind) { return kind < MEM_LABEL_KIND_COUNT ? label_kinds[kind].key : "?"; }
const char *mem_label_kind_text(unsigned kind) { return kind < MEM_LABEL_KIND_COUNT ? label_kinds[kind].text : "?"; }
