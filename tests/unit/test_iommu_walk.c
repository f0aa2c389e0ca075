/*
 * iommu: the I/O page tables in simulated memory and the walks (iommu.h).
 *
 * The tables are pages from the simulated page allocator, written by the
 * kernel CPU with kernel-private labels; a walk reads one entry per level as
 * the device IOMMU_WALK_RID, at the physical addresses the VT-d layout
 * gives, and changes no label. Present, absent and permission cases, 2 MiB
 * superpages (mapping, IOTLB reach, splitting on a 4 KiB unmap), 3- and
 * 5-level tables, and the host-side tables behaving the same.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "iommu.h"
#include "mem.h"
#include "prng.h"

#define RID 0x0100
#define LVL_PS 50000ull
#define HIT_PS 1000ull
#define RW (IOMMU_PERM_READ | IOMMU_PERM_WRITE)

static struct iommu_params params(struct mem *m, enum iommu_mode mode) {
  struct iommu_params p;
  iommu_params_default(&p);
  p.mem = m;
  p.mode = (uint8_t)mode;
  p.iotlb_entries = 8;
  p.hit_ps = HIT_PS;
  p.walk_level_ps = LVL_PS;
  p.map_cycles = 100;
  p.unmap_cycles = 200;
  p.inval_cycles = 3000;
  return p;
}

/* ---- an observer that records accesses ---- */

#define MAXREC 256
struct rec {
  size_t n;
  struct mem_access a[MAXREC];
};

static void on_access(void *ctx, struct mem *m, const struct mem_access *a) {
  (void)m;
  struct rec *r = ctx;
  if (r->n < MAXREC)
    r->a[r->n++] = *a;
}

static size_t count_by(const struct rec *r, uint8_t actor, uint16_t id, uint8_t op) {
  size_t k = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->a[i].who.actor == actor && r->a[i].who.id == id && r->a[i].op == op)
      k++;
  return k;
}

static unsigned idx(uint64_t iova, unsigned level) { return (unsigned)(iova >> (12 + 9 * (level - 1))) & 511; }

static uint64_t peek64(struct mem *m, uint64_t pa) {
  uint64_t v = 0;
  ck_assert_int_eq(mem_peek(m, pa, &v, 8), 0);
  return v;
}

/* The entry addresses a 4-level walk of iova reads, from the tables
 * themselves. */
static void walk_addrs(struct mem *m, uint64_t root, uint64_t iova, unsigned levels, uint64_t *out) {
  uint64_t table = root;
  for (unsigned l = levels, k = 0; l >= 1; l--, k++) {
    out[k] = table + 8ull * idx(iova, l);
    table = peek64(m, out[k]) & IOMMU_PTE_ADDR_MASK;
  }
}

START_TEST(tables_live_in_simulated_memory) {
  struct mem *m = mem_new(64ull << 20);
  struct iommu_params p = params(m, IOMMU_STRICT);
  struct iommu *io = iommu_new(&p);
  uint64_t free0 = mem_pages_free(m);
  uint64_t data_pfn;
  ck_assert_int_eq(mem_page_alloc(m, &data_pfn), 0);
  uint64_t iova;
  ck_assert_int_eq(iommu_map(io, RID, data_pfn, RW, 0, &iova), 100);
  /* A domain's first mapping: the root and one table per level below it,
   * from the page allocator. */
  ck_assert_uint_eq(iommu_stats(io)->pt_pages, 4);
  ck_assert_uint_eq(mem_pages_free(m), free0 - 1 - 4);
  uint64_t root = iommu_domain_root(io, RID);
  ck_assert_uint_ne(root, 0);
  ck_assert_uint_eq(root & 0xfff, 0);
  ck_assert_uint_eq(iommu_domain_root(io, 0x0200), 0);
  /* The chain of entries, VT-d layout: non-leaf R|W and the next table,
   * leaf the page with its permissions. */
  uint64_t a[4];
  walk_addrs(m, root, iova, 4, a);
  for (int k = 0; k < 3; k++) {
    uint64_t e = peek64(m, a[k]);
    ck_assert_uint_eq(e & (IOMMU_PTE_R | IOMMU_PTE_W), IOMMU_PTE_R | IOMMU_PTE_W);
    ck_assert_uint_eq(e & IOMMU_PTE_PS, 0);
  }
  ck_assert_uint_eq(peek64(m, a[3]), data_pfn << 12 | IOMMU_PTE_R | IOMMU_PTE_W);
  /* Every table byte is kernel-private, written by the kernel CPU; the
   * table pages are distinct and none is the data page. */
  uint64_t pages[4];
  for (int k = 0; k < 4; k++) {
    pages[k] = a[k] >> 12;
    ck_assert_uint_ne(pages[k], data_pfn);
    for (int j = 0; j < k; j++)
      ck_assert_uint_ne(pages[k], pages[j]);
    uint32_t offs[] = {0, (uint32_t)(a[k] & 0xfff), 4095};
    for (int o = 0; o < 3; o++) {
      const struct mem_label *l = mem_label(m, mem_peek_label_id(m, (pages[k] << 12) + offs[o]));
      ck_assert_uint_eq(l->prov.kind, MEM_LABEL_KERNEL_META);
      ck_assert_uint_eq(l->writer.actor, MEM_ACTOR_KERNEL);
    }
  }
  /* A second mapping in the same 2 MiB needs no new table. */
  uint64_t iova2, pfn2;
  ck_assert_int_eq(mem_page_alloc(m, &pfn2), 0);
  ck_assert_int_ge(iommu_map(io, RID, pfn2, IOMMU_PERM_READ, 0, &iova2), 0);
  ck_assert_uint_eq(iommu_stats(io)->pt_pages, 4);
  uint64_t b[4];
  walk_addrs(m, root, iova2, 4, b);
  ck_assert_uint_eq(b[3] >> 12, a[3] >> 12);
  ck_assert_uint_eq(peek64(m, b[3]), pfn2 << 12 | IOMMU_PTE_R);
  iommu_free(io);
  mem_free(m);
}
END_TEST

START_TEST(walk_reads_through_the_accessor) {
  struct mem *m = mem_new(64ull << 20);
  struct rec r = {0};
  struct mem_observer obs = {.ctx = &r, .access = on_access};
  ck_assert_int_eq(mem_add_observer(m, &obs), 0);
  struct iommu_params p = params(m, IOMMU_STRICT);
  p.walk_memo = 0; /* every level read from memory (the memo: test_iommu.c) */
  struct iommu *io = iommu_new(&p);
  uint64_t pfn, iova;
  ck_assert_int_eq(mem_page_alloc(m, &pfn), 0);
  ck_assert_int_ge(iommu_map(io, RID, pfn, RW, 0, &iova), 0);
  /* Mapping: the kernel wrote (tables cleared, entries set); the IOMMU read nothing. */
  ck_assert_uint_gt(count_by(&r, MEM_ACTOR_KERNEL, IOMMU_KERNEL_CPU, MEM_OP_FILL), 0);
  ck_assert_uint_gt(count_by(&r, MEM_ACTOR_KERNEL, IOMMU_KERNEL_CPU, MEM_OP_WRITE), 0);
  ck_assert_uint_eq(count_by(&r, MEM_ACTOR_DEVICE, IOMMU_WALK_RID, MEM_OP_READ), 0);
  uint64_t a[4];
  walk_addrs(m, iommu_domain_root(io, RID), iova, 4, a);
  uint32_t before[4];
  for (int k = 0; k < 4; k++)
    before[k] = mem_peek_label_id(m, a[k]);
  r.n = 0;
  struct iommu_xlate x;
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 0x123, 1, 10, &x), 0);
  ck_assert_uint_eq(x.paddr, pfn << 12 | 0x123);
  ck_assert_uint_eq(x.hit, 0);
  ck_assert_uint_eq(x.levels, 4);
  ck_assert_uint_eq(x.latency_ps, HIT_PS + 4 * LVL_PS);
  /* Exactly one 8-byte read per level, by the IOMMU's requester id, at the
   * entries of the walk, top level first; nothing else touched memory. */
  ck_assert_uint_eq(r.n, 4);
  for (int k = 0; k < 4; k++) {
    ck_assert_uint_eq(r.a[k].who.actor, MEM_ACTOR_DEVICE);
    ck_assert_uint_eq(r.a[k].who.id, IOMMU_WALK_RID);
    ck_assert_uint_eq(r.a[k].op, MEM_OP_READ);
    ck_assert_uint_eq(r.a[k].denied, 0);
    ck_assert_uint_eq(r.a[k].len, 8);
    ck_assert_uint_eq(r.a[k].paddr, a[k]);
    ck_assert_uint_eq(mem_peek_label_id(m, a[k]), before[k]); /* reads change no label */
  }
  ck_assert_uint_eq(iommu_stats(io)->walk_reads, 4);
  /* An IOTLB hit reads nothing. */
  r.n = 0;
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 8, 0, 11, &x), 0);
  ck_assert_uint_eq(x.hit, 1);
  ck_assert_uint_eq(x.levels, 0);
  ck_assert_uint_eq(r.n, 0);
  /* A walk that stops early reads only as far as it got: an IOVA in another
   * 1 GiB region finds the level-3 entry absent after 2 reads. */
  r.n = 0;
  uint64_t far = iova ^ (1ull << 30);
  ck_assert_int_eq(iommu_translate2(io, RID, far, 0, 12, &x), -1);
  ck_assert_uint_eq(x.levels, 2);
  ck_assert_uint_eq(x.latency_ps, HIT_PS + 2 * LVL_PS);
  ck_assert_uint_eq(r.n, 2);
  ck_assert_uint_eq(r.a[0].paddr, a[0]);
  ck_assert_uint_eq(r.a[1].who.id, IOMMU_WALK_RID);
  /* A requester without a domain: no table to read. */
  r.n = 0;
  ck_assert_int_eq(iommu_translate2(io, 0x0300, iova, 0, 13, &x), -1);
  ck_assert_uint_eq(x.levels, 0);
  ck_assert_uint_eq(r.n, 0);
  iommu_free(io);
  mem_free(m);
}
END_TEST

START_TEST(present_absent_permissions) {
  struct mem *m = mem_new(64ull << 20);
  struct iommu_params p = params(m, IOMMU_STRICT);
  struct iommu *io = iommu_new(&p);
  uint64_t rw, ro, wo;
  ck_assert_int_ge(iommu_map(io, RID, 0x500, RW, 0, &rw), 0);
  ck_assert_int_ge(iommu_map(io, RID, 0x501, IOMMU_PERM_READ, 0, &ro), 0);
  ck_assert_int_ge(iommu_map(io, RID, 0x502, IOMMU_PERM_WRITE, 0, &wo), 0);
  struct iommu_xlate x;
  ck_assert_int_eq(iommu_translate2(io, RID, rw + 7, 1, 0, &x), 0);
  ck_assert_uint_eq(x.paddr, 0x500000 + 7);
  ck_assert_uint_eq(x.page_shift, 12);
  ck_assert_int_eq(iommu_translate2(io, RID, ro + 7, 0, 0, &x), 0);
  ck_assert_uint_eq(x.paddr, 0x501000 + 7);
  /* Permission faults: the walk found the page, the leaf refuses. */
  ck_assert_int_eq(iommu_translate2(io, RID, ro + 8, 1, 5, &x), -1);
  ck_assert_uint_eq(x.fault, IOMMU_FAULT_NO_WRITE);
  ck_assert_int_eq(iommu_translate2(io, RID, wo + 8, 0, 6, &x), -1);
  ck_assert_uint_eq(x.fault, IOMMU_FAULT_NO_READ);
  ck_assert_uint_eq(x.levels, 4);
  ck_assert_int_eq(iommu_translate2(io, RID, wo + 8, 1, 7, &x), 0);
  ck_assert_uint_eq(x.paddr, 0x502000 + 8);
  /* Absent leaf in a present table: 4 levels read. */
  ck_assert_int_eq(iommu_translate2(io, RID, wo - 4096, 1, 8, &x), -1);
  ck_assert_uint_eq(x.fault, IOMMU_FAULT_NOT_PRESENT);
  ck_assert_uint_eq(x.levels, 4);
  /* Beyond the table's 48 bits: nothing read. */
  ck_assert_int_eq(iommu_translate2(io, RID, 1ull << 48, 0, 9, &x), -1);
  ck_assert_uint_eq(x.levels, 0);
  /* Fault records carry the VT-d reason codes. */
  ck_assert_uint_eq(iommu_fault_count(io), 4);
  ck_assert_uint_eq(iommu_fault_get(io, 0)->vtd_reason, IOMMU_VTD_NO_WRITE);
  ck_assert_uint_eq(iommu_fault_get(io, 1)->vtd_reason, IOMMU_VTD_NO_READ);
  ck_assert_uint_eq(iommu_fault_get(io, 2)->vtd_reason, IOMMU_VTD_NO_WRITE);
  ck_assert_uint_eq(iommu_fault_get(io, 3)->vtd_reason, IOMMU_VTD_BEYOND_AGAW);
  /* iova_to_phys reads the table, not the IOTLB, and makes no access. */
  uint64_t pa;
  unsigned perm, shift;
  ck_assert_int_eq(iommu_iova_to_phys(io, RID, ro + 9, &pa, &perm, &shift), 0);
  ck_assert_uint_eq(pa, 0x501009);
  ck_assert_uint_eq(perm, IOMMU_PERM_READ);
  ck_assert_uint_eq(shift, 12);
  ck_assert_int_eq(iommu_iova_to_phys(io, RID, wo - 4096, &pa, NULL, NULL), -1);
  ck_assert_int_eq(iommu_iova_to_phys(io, 0x0777, ro, &pa, NULL, NULL), -1);
  /* After a strict unmap the entry is clear in memory too. */
  ck_assert_int_ge(iommu_unmap(io, RID, ro, 10), 0);
  ck_assert_int_eq(iommu_iova_to_phys(io, RID, ro, &pa, NULL, NULL), -1);
  uint64_t a[4];
  walk_addrs(m, iommu_domain_root(io, RID), rw, 4, a);
  ck_assert_uint_eq(peek64(m, (a[3] & ~0xfffull) + 8ull * idx(ro, 1)), 0);
  ck_assert_uint_ne(peek64(m, (a[3] & ~0xfffull) + 8ull * idx(wo, 1)), 0);
  iommu_free(io);
  mem_free(m);
}
END_TEST

START_TEST(superpages) {
  struct mem *m = mem_new(64ull << 20);
  struct iommu_params p = params(m, IOMMU_STRICT);
  struct iommu *io = iommu_new(&p);
  uint64_t first;
  /* 1024 + 511 contiguous pages; take the 2 MiB-aligned 1024 inside. */
  ck_assert_int_eq(mem_page_alloc_contig(m, 1024 + 511, &first), 0);
  uint64_t base = (first + 511) & ~511ull;
  uint64_t iova;
  /* Two 2 MiB entries: two entries' worth of map cycles. */
  ck_assert_int_eq(iommu_map_contig(io, RID, base, 1024, RW, 0, &iova), 2 * 100);
  ck_assert_uint_eq(iova % (2u << 20), 0);
  ck_assert_uint_eq(iommu_stats(io)->superpage_maps, 2);
  ck_assert_uint_eq(iommu_stats(io)->mapped_pages, 1024);
  ck_assert_uint_eq(iommu_stats(io)->pt_pages, 3); /* no leaf tables */
  /* The level-2 entry is a leaf with PS. */
  uint64_t root = iommu_domain_root(io, RID);
  uint64_t l3 = peek64(m, root + 8ull * idx(iova, 4)) & IOMMU_PTE_ADDR_MASK;
  uint64_t l2 = peek64(m, l3 + 8ull * idx(iova, 3)) & IOMMU_PTE_ADDR_MASK;
  uint64_t pde = peek64(m, l2 + 8ull * idx(iova, 2));
  ck_assert_uint_eq(pde, base << 12 | IOMMU_PTE_PS | IOMMU_PTE_R | IOMMU_PTE_W);
  /* A walk through it reads 3 levels; one IOTLB entry covers 512 pages. */
  struct iommu_xlate x;
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 5 * 4096 + 3, 0, 0, &x), 0);
  ck_assert_uint_eq(x.levels, 3);
  ck_assert_uint_eq(x.latency_ps, HIT_PS + 3 * LVL_PS);
  ck_assert_uint_eq(x.page_shift, 21);
  ck_assert_uint_eq(x.paddr, ((base + 5) << 12) + 3);
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 511 * 4096 + 4095, 1, 0, &x), 0);
  ck_assert_uint_eq(x.hit, 1);
  ck_assert_uint_eq(x.paddr, ((base + 511) << 12) + 4095);
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 512 * 4096, 1, 0, &x), 0);
  ck_assert_uint_eq(x.hit, 0); /* the second 2 MiB page */
  ck_assert_uint_eq(x.paddr, (base + 512) << 12);
  ck_assert_uint_eq(iommu_stats(io)->iotlb_misses, 2);
  /* A 4 KiB unmap inside splits the 2 MiB entry (strict: that page faults
   * at once, its neighbours keep their translations through 4 KiB entries). */
  uint64_t pt0 = iommu_stats(io)->pt_pages;
  ck_assert_int_eq(iommu_unmap(io, RID, iova + 7 * 4096, 1), 200 + 3000);
  ck_assert_uint_eq(iommu_stats(io)->superpage_splits, 1);
  ck_assert_uint_eq(iommu_stats(io)->pt_pages, pt0 + 1);
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 7 * 4096, 0, 2, &x), -1);
  ck_assert_uint_eq(x.levels, 4);
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 6 * 4096 + 1, 0, 2, &x), 0);
  ck_assert_uint_eq(x.page_shift, 12);
  ck_assert_uint_eq(x.levels, 4);
  ck_assert_uint_eq(x.paddr, ((base + 6) << 12) + 1);
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 8 * 4096, 1, 2, &x), 0);
  ck_assert_uint_eq(x.paddr, (base + 8) << 12);
  /* The second 2 MiB page is untouched. */
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 600 * 4096, 0, 3, &x), 0);
  ck_assert_uint_eq(x.page_shift, 21);
  struct iommu *earlier[2] = {io, NULL}; /* freed before m (they remove their observers from it) */

  /* Superpages off, or a physical range not 2 MiB-aligned: 4 KiB entries. */
  p.superpages = 0;
  io = iommu_new(&p);
  ck_assert_int_eq(iommu_map_contig(io, RID, base, 1024, RW, 0, &iova), 1024 * 100);
  ck_assert_uint_eq(iommu_stats(io)->superpage_maps, 0);
  ck_assert_int_eq(iommu_translate2(io, RID, iova + 4096, 0, 0, &x), 0);
  ck_assert_uint_eq(x.page_shift, 12);
  ck_assert_uint_eq(x.levels, 4);
  earlier[1] = io;
  p.superpages = 1;
  io = iommu_new(&p);
  ck_assert_int_ge(iommu_map_contig(io, RID, base + 1, 1023, RW, 0, &iova), 0);
  ck_assert_uint_eq(iommu_stats(io)->superpage_maps, 0);
  /* A read-only superpage refuses writes. */
  ck_assert_int_eq(iommu_map_contig(io, 0x0200, base, 512, IOMMU_PERM_READ, 0, &iova), 100);
  ck_assert_int_eq(iommu_translate2(io, 0x0200, iova + 100, 1, 0, &x), -1);
  ck_assert_uint_eq(x.fault, IOMMU_FAULT_NO_WRITE);
  ck_assert_int_eq(iommu_translate2(io, 0x0200, iova + 100, 0, 0, &x), 0);
  ck_assert_uint_eq(x.paddr, (base << 12) + 100);
  iommu_free(io);
  iommu_free(earlier[0]);
  iommu_free(earlier[1]);
  mem_free(m); /* last: each model removes its observer from it */
}
END_TEST

START_TEST(table_depths) {
  for (unsigned levels = 2; levels <= 5; levels++) {
    struct mem *m = mem_new(16ull << 20);
    struct iommu_params p = params(m, IOMMU_STRICT);
    p.walk_levels = levels;
    p.superpages = 0;
    struct iommu *io = iommu_new(&p);
    ck_assert_ptr_nonnull(io);
    uint64_t iova;
    ck_assert_int_ge(iommu_map(io, RID, 0x321, RW, 0, &iova), 0);
    ck_assert_uint_eq(iommu_stats(io)->pt_pages, levels);
    struct iommu_xlate x;
    ck_assert_int_eq(iommu_translate2(io, RID, iova + 1, 0, 0, &x), 0);
    ck_assert_uint_eq(x.levels, levels);
    ck_assert_uint_eq(x.latency_ps, HIT_PS + levels * LVL_PS);
    ck_assert_uint_eq(x.paddr, 0x321001);
    /* 2 levels cover 30 bits: the IOVA allocator stays below 1 GiB. */
    if (levels == 2)
      ck_assert_uint_lt(iova, 1ull << 30);
    else
      ck_assert_uint_eq(iova, (1ull << 32) - 4096);
    iommu_free(io);
    mem_free(m);
  }
  struct iommu_params p = params(NULL, IOMMU_STRICT);
  p.walk_levels = 1;
  ck_assert_ptr_null(iommu_new(&p));
  p.walk_levels = 6;
  ck_assert_ptr_null(iommu_new(&p));
}
END_TEST

/* The host-side tables (no mem) give the same translations, latencies and
 * IOVAs as the tables in simulated memory. */
START_TEST(host_tables_behave_the_same) {
  struct mem *m = mem_new(64ull << 20);
  struct iommu_params pm = params(m, IOMMU_LAZY), ph = params(NULL, IOMMU_LAZY);
  pm.flush_entries = ph.flush_entries = 3;
  struct iommu *a = iommu_new(&pm), *b = iommu_new(&ph);
  uint64_t first;
  ck_assert_int_eq(mem_page_alloc_contig(m, 2048, &first), 0);
  uint64_t ia[64], ib[64];
  uint64_t s = 12345;
  for (int i = 0; i < 64; i++) {
    unsigned perm = 1 + (unsigned)(i % 3);
    uint32_t n = (uint32_t)(i % 5 == 0 ? 3 : 1);
    uint64_t pfn = first + (uint64_t)i * 8;
    int64_t ca = n > 1 ? iommu_map_contig(a, RID, pfn, n, perm, (uint64_t)i, &ia[i])
                       : iommu_map(a, RID, pfn, perm, (uint64_t)i, &ia[i]);
    int64_t cb = n > 1 ? iommu_map_contig(b, RID, pfn, n, perm, (uint64_t)i, &ib[i])
                       : iommu_map(b, RID, pfn, perm, (uint64_t)i, &ib[i]);
    ck_assert_int_eq(ca, cb);
    ck_assert_uint_eq(ia[i], ib[i]);
    if (i % 4 == 3) {
      ck_assert_int_eq(iommu_unmap(a, RID, ia[i - 1], (uint64_t)i), iommu_unmap(b, RID, ib[i - 1], (uint64_t)i));
    }
    for (int k = 0; k < 4; k++) {
      uint64_t x = prng_splitmix64(&s);
      int j = (int)((x >> 33) % (uint64_t)(i + 1));
      int w = (int)((x >> 20) & 1);
      struct iommu_xlate xa, xb;
      int ra = iommu_translate2(a, RID, ia[j] + 40, w, (uint64_t)i, &xa);
      int rb = iommu_translate2(b, RID, ib[j] + 40, w, (uint64_t)i, &xb);
      ck_assert_int_eq(ra, rb);
      ck_assert_mem_eq(&xa, &xb, sizeof xa);
    }
  }
  ck_assert_mem_eq(iommu_stats(a), iommu_stats(b), sizeof(struct iommu_stats));
  iommu_free(a);
  iommu_free(b);
  mem_free(m);
}
END_TEST

START_TEST(simulated_memory_runs_out) {
  /* 8 pages of RAM: page 0 is never handed out; 7 left. */
  struct mem *m = mem_new(8 * 4096);
  struct iommu_params p = params(m, IOMMU_STRICT);
  struct iommu *io = iommu_new(&p);
  uint64_t iova;
  /* The first mapping takes 4 table pages; the next in the same 2 MiB none. */
  ck_assert_int_ge(iommu_map(io, RID, 0x10, RW, 0, &iova), 0);
  ck_assert_uint_eq(mem_pages_free(m), 3);
  uint64_t b;
  ck_assert_int_ge(iommu_map_contig(io, RID, 0x20, 1, RW, 0, &b), 0);
  ck_assert_uint_eq(mem_pages_free(m), 3);
  ck_assert_uint_eq(iommu_stats(io)->mapped_pages, 2);
  while (mem_pages_free(m) > 1) {
    uint64_t pfn;
    ck_assert_int_eq(mem_page_alloc(m, &pfn), 0);
  }
  /* 2 GiB of IOVA do not fit below 4 GiB beside the first mappings: the
   * range goes to the top of the 48-bit space, whose tables need 2 pages
   * (level 3 and 2; 2 MiB entries below) and 1 is left: refused, nothing
   * half-mapped. */
  uint64_t big;
  ck_assert_int_lt(iommu_map_contig(io, RID, 0x1000, 1u << 19, RW, 0, &big), 0);
  ck_assert_uint_eq(iommu_stats(io)->mapped_pages, 2);
  /* The earlier mappings still translate. */
  uint64_t pa, lat;
  ck_assert_int_eq(iommu_translate(io, RID, iova, 0, 0, &pa, &lat), 0);
  ck_assert_uint_eq(pa, 0x10000);
  iommu_free(io);
  mem_free(m);
}
END_TEST

static Suite *walk_suite(void) {
  Suite *s = suite_create("iommu_walk");
  TCase *tc = tcase_create("walk");
  tcase_add_test(tc, tables_live_in_simulated_memory);
  tcase_add_test(tc, walk_reads_through_the_accessor);
  tcase_add_test(tc, present_absent_permissions);
  tcase_add_test(tc, superpages);
  tcase_add_test(tc, table_depths);
  tcase_add_test(tc, host_tables_behave_the_same);
  tcase_add_test(tc, simulated_memory_runs_out);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(walk_suite());
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
