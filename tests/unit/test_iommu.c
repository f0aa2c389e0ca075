/*
 * iommu: DMA remapping (iommu.h).
 *
 * Translation (paddr = pfn << 12 | offset), per-requester domains with IOVAs
 * allocated top-down below 4 GiB, permission and not-present faults with
 * their records (bounded, with a dropped count), IOTLB hits, misses, walk
 * latency and LRU eviction, strict vs lazy invalidation (the stale IOTLB
 * entry of a lazy unmap translates until the flush queue is flushed by
 * count or by age), passthrough/off identity, contiguous mappings and the
 * CPU cycles map and unmap return. The "policy" cases: set-associative
 * IOTLB LRU, the Linux IOVA allocator (size-aligned top-down, rcache
 * magazines, not reused before a lazy flush, DMA mask and forcedac), stale
 * translations reported by iommu_translate2, VT-d fault reason codes,
 * domain-wide lazy flushes and the flush timer as dma-iommu.c arms it.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "iommu.h"
#include "mem.h"
#include "prng.h"

#define RID 0x0100
#define RW (IOMMU_PERM_READ | IOMMU_PERM_WRITE)
#define IOVA_TOP (1ull << 32)

/* Distinct, easily told apart costs and latencies. */
static struct iommu_params params(enum iommu_mode mode) {
  struct iommu_params p;
  iommu_params_default(&p);
  p.mode = (uint8_t)mode;
  p.iotlb_entries = 8;
  p.flush_entries = 4;
  p.flush_ps = 1000000;
  p.hit_ps = 1000;
  p.walk_level_ps = 50000;
  p.walk_levels = 4;
  p.map_cycles = 100;
  p.unmap_cycles = 200;
  p.inval_cycles = 3000;
  p.max_fault_records = 16;
  return p;
}

#define MISS_PS (1000ull + 4 * 50000ull)
#define HIT_PS 1000ull

static struct iommu *mk(enum iommu_mode mode) {
  struct iommu_params p = params(mode);
  struct iommu *io = iommu_new(&p);
  ck_assert_ptr_nonnull(io);
  return io;
}

static uint64_t map1(struct iommu *io, uint16_t rid, uint64_t pfn, unsigned perm, uint64_t now) {
  uint64_t iova = 0;
  int64_t c = iommu_map(io, rid, pfn, perm, now, &iova);
  ck_assert_int_ge(c, 0);
  return iova;
}

/* Translate; returns 0/-1 and the physical address in *pa. */
static int tr(struct iommu *io, uint16_t rid, uint64_t iova, int write, uint64_t now, uint64_t *pa) {
  uint64_t lat;
  *pa = UINT64_MAX;
  return iommu_translate(io, rid, iova, write, now, pa, &lat);
}

START_TEST(test_defaults) {
  struct iommu_params p;
  iommu_params_default(&p);
  ck_assert_uint_eq(p.mode, IOMMU_LAZY);
  ck_assert_uint_eq(p.iotlb_entries, 64);
  ck_assert_uint_eq(p.flush_entries, 256);
  ck_assert_uint_eq(p.flush_ps, 10ull * 1000 * 1000 * 1000); /* 10 ms */
  ck_assert_uint_eq(p.walk_levels, 4);
  /* an IOTLB miss costs 226 ns over a hit */
  ck_assert_uint_eq((uint64_t)p.walk_levels * p.walk_level_ps, 226000);
  /* strict map + unmap + invalidation: 6,909 cycles; invalidation about 2,000 */
  ck_assert_uint_eq(p.map_cycles + p.unmap_cycles + p.inval_cycles, 6909);
  ck_assert_uint_eq(p.inval_cycles, 2000);
  ck_assert_uint_gt(p.max_fault_records, 0);
  struct iommu *io = iommu_new(&p);
  ck_assert_ptr_nonnull(io);
  ck_assert_int_eq(iommu_get_mode(io), IOMMU_LAZY);
  const struct iommu_stats *st = iommu_stats(io);
  ck_assert_uint_eq(st->translations + st->faults + st->maps + st->unmaps + st->mapped_pages, 0);
  ck_assert_uint_eq(iommu_fault_count(io), 0);
  ck_assert_ptr_null(iommu_fault_get(io, 0));
  iommu_free(io);
  p.iotlb_entries = 0;
  ck_assert_ptr_null(iommu_new(&p));
  ck_assert_ptr_null(iommu_new(NULL));
  iommu_free(NULL);
}
END_TEST

START_TEST(test_names) {
  ck_assert_str_eq(iommu_mode_name(IOMMU_STRICT), "strict");
  ck_assert_str_eq(iommu_mode_name(IOMMU_LAZY), "lazy");
  ck_assert_str_eq(iommu_mode_name(IOMMU_PASSTHROUGH), "passthrough");
  ck_assert_str_eq(iommu_mode_name(IOMMU_OFF), "off");
  ck_assert_str_ne(iommu_fault_reason_name(IOMMU_FAULT_NOT_PRESENT),
                   iommu_fault_reason_name(IOMMU_FAULT_NO_WRITE));
  ck_assert_str_ne(iommu_fault_reason_name(IOMMU_FAULT_NO_READ),
                   iommu_fault_reason_name(IOMMU_FAULT_NO_WRITE));
}
END_TEST

START_TEST(test_map_translate) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t iova = 0;
  ck_assert_int_eq(iommu_map(io, RID, 0x1234, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0, &iova), 100);
  /* Top-down from the end of the 32-bit space, one page per mapping. */
  ck_assert_uint_eq(iova, IOVA_TOP - 4096);
  uint64_t pa, lat;
  ck_assert_int_eq(iommu_translate(io, RID, iova + 0x123, 1, 0, &pa, &lat), 0);
  ck_assert_uint_eq(pa, (0x1234ull << 12) | 0x123);
  ck_assert_int_eq(iommu_translate(io, RID, iova + 0xfff, 0, 0, &pa, &lat), 0);
  ck_assert_uint_eq(pa, (0x1234ull << 12) | 0xfff);
  uint64_t iova2 = map1(io, RID, 0x55, IOMMU_PERM_READ, 0);
  ck_assert_uint_eq(iova2, IOVA_TOP - 2 * 4096);
  uint64_t iova3 = map1(io, RID, 0x777777, IOMMU_PERM_WRITE, 0);
  ck_assert_uint_eq(iova3, IOVA_TOP - 3 * 4096);
  ck_assert_int_eq(tr(io, RID, iova2 + 8, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, (0x55ull << 12) | 8);
  ck_assert_int_eq(tr(io, RID, iova3, 1, 0, &pa), 0);
  ck_assert_uint_eq(pa, 0x777777ull << 12);
  /* Another requester has its own domain: same IOVA, its own page. */
  uint64_t other = map1(io, 0x0200, 0x99, IOMMU_PERM_READ, 0);
  ck_assert_uint_eq(other, IOVA_TOP - 4096);
  ck_assert_int_eq(tr(io, 0x0200, other + 4, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, (0x99ull << 12) | 4);
  ck_assert_int_eq(tr(io, RID, iova + 4, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, (0x1234ull << 12) | 4);
  /* A requester with no mapping reaches nothing. */
  ck_assert_int_eq(tr(io, 0x0300, iova, 0, 0, &pa), -1);
  /* Nor does an IOVA below the allocated ones. */
  ck_assert_int_eq(tr(io, RID, iova3 - 4096, 0, 0, &pa), -1);
  const struct iommu_stats *st = iommu_stats(io);
  ck_assert_uint_eq(st->maps, 4);
  ck_assert_uint_eq(st->mapped_pages, 4);
  ck_assert_uint_eq(st->faults, 2);
  iommu_free(io);
}
END_TEST

START_TEST(test_permission_faults) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t ro = map1(io, RID, 10, IOMMU_PERM_READ, 0);
  uint64_t wo = map1(io, RID, 11, IOMMU_PERM_WRITE, 0);
  uint64_t pa;
  ck_assert_int_eq(tr(io, RID, ro + 16, 0, 1000, &pa), 0);
  ck_assert_uint_eq(pa, (10ull << 12) | 16);
  /* Write on a read-only mapping (the IOTLB holds it now: still refused). */
  ck_assert_int_eq(tr(io, RID, ro + 0x20, 1, 5000, &pa), -1);
  ck_assert_int_eq(tr(io, RID, wo + 0x40, 0, 6000, &pa), -1);
  ck_assert_int_eq(tr(io, RID, 0x12345000 + 0x7, 1, 7000, &pa), -1);
  ck_assert_int_eq(tr(io, RID, wo + 1, 1, 8000, &pa), 0);
  ck_assert_uint_eq(pa, (11ull << 12) | 1);
  ck_assert_uint_eq(iommu_stats(io)->faults, 3);
  ck_assert_uint_eq(iommu_fault_count(io), 3);
  const struct iommu_fault *f = iommu_fault_get(io, 0);
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(f->reason, IOMMU_FAULT_NO_WRITE);
  ck_assert_uint_eq(f->write, 1);
  ck_assert_uint_eq(f->rid, RID);
  ck_assert_uint_eq(f->iova, ro + 0x20);
  ck_assert_uint_eq(f->time_ps, 5000);
  f = iommu_fault_get(io, 1);
  ck_assert_uint_eq(f->reason, IOMMU_FAULT_NO_READ);
  ck_assert_uint_eq(f->write, 0);
  ck_assert_uint_eq(f->iova, wo + 0x40);
  ck_assert_uint_eq(f->time_ps, 6000);
  f = iommu_fault_get(io, 2);
  ck_assert_uint_eq(f->reason, IOMMU_FAULT_NOT_PRESENT);
  ck_assert_uint_eq(f->write, 1);
  ck_assert_uint_eq(f->iova, 0x12345007);
  ck_assert_uint_eq(f->time_ps, 7000);
  ck_assert_ptr_null(iommu_fault_get(io, 3));
  iommu_free(io);
}
END_TEST

START_TEST(test_fault_records_bounded) {
  struct iommu_params p = params(IOMMU_STRICT);
  p.max_fault_records = 3;
  struct iommu *io = iommu_new(&p);
  uint64_t pa;
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(tr(io, 0x0042, 0x1000ull * (i + 1), i & 1, 100 * (uint64_t)i, &pa), -1);
  ck_assert_uint_eq(iommu_stats(io)->faults, 5);
  ck_assert_uint_eq(iommu_stats(io)->fault_records_dropped, 2);
  ck_assert_uint_eq(iommu_fault_count(io), 3);
  for (size_t i = 0; i < 3; i++) { /* the oldest are kept */
    const struct iommu_fault *f = iommu_fault_get(io, i);
    ck_assert_uint_eq(f->iova, 0x1000ull * (i + 1));
    ck_assert_uint_eq(f->rid, 0x0042);
    ck_assert_uint_eq(f->write, i & 1);
    ck_assert_uint_eq(f->time_ps, 100 * i);
    ck_assert_uint_eq(f->reason, IOMMU_FAULT_NOT_PRESENT);
  }
  ck_assert_ptr_null(iommu_fault_get(io, 3));
  iommu_free(io);
}
END_TEST

START_TEST(test_iotlb_hits_misses_latency) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t a = map1(io, RID, 20, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0);
  uint64_t pa, lat;
  ck_assert_int_eq(iommu_translate(io, RID, a, 0, 0, &pa, &lat), 0);
  ck_assert_uint_eq(lat, MISS_PS);
  ck_assert_int_eq(iommu_translate(io, RID, a + 100, 1, 0, &pa, &lat), 0);
  ck_assert_uint_eq(lat, HIT_PS);
  ck_assert_int_eq(iommu_translate(io, RID, a + 4095, 0, 0, &pa, &lat), 0);
  ck_assert_uint_eq(lat, HIT_PS);
  const struct iommu_stats *st = iommu_stats(io);
  ck_assert_uint_eq(st->translations, 3);
  ck_assert_uint_eq(st->iotlb_misses, 1);
  ck_assert_uint_eq(st->iotlb_hits, 2);
  /* A not-present translation walks the table too, and is not cached. */
  ck_assert_int_eq(iommu_translate(io, RID, a - 4096, 0, 0, &pa, &lat), -1);
  ck_assert_uint_eq(lat, MISS_PS);
  ck_assert_int_eq(iommu_translate(io, RID, a - 4096, 0, 0, &pa, &lat), -1);
  ck_assert_uint_eq(st->translations, 5);
  ck_assert_uint_eq(st->iotlb_misses, 3);
  ck_assert_uint_eq(st->iotlb_hits, 2);
  iommu_free(io);
}
END_TEST

START_TEST(test_iotlb_lru_eviction) {
  struct iommu_params p = params(IOMMU_STRICT);
  p.iotlb_entries = 2;
  struct iommu *io = iommu_new(&p);
  uint64_t A = map1(io, RID, 1, IOMMU_PERM_READ, 0);
  uint64_t B = map1(io, RID, 2, IOMMU_PERM_READ, 0);
  uint64_t C = map1(io, RID, 3, IOMMU_PERM_READ, 0);
  const struct iommu_stats *st = iommu_stats(io);
  uint64_t pa, lat;
  struct {
    uint64_t iova, pfn;
    int hit;
  } seq[] = {
      {A, 1, 0}, {B, 2, 0}, {A, 1, 1}, /* A is now most recent */
      {C, 3, 0},                       /* evicts B, the least recently used */
      {A, 1, 1}, {B, 2, 0},            /* B evicts C */
      {A, 1, 1}, {C, 3, 0},            /* C evicts B */
      {B, 2, 0},                       /* B evicts A (A older than C) */
      {C, 3, 1}, {A, 1, 0},
  };
  uint64_t hits = 0, misses = 0;
  for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
    ck_assert_int_eq(iommu_translate(io, RID, seq[i].iova, 0, 0, &pa, &lat), 0);
    ck_assert_uint_eq(pa, seq[i].pfn << 12);
    ck_assert_msg(lat == (seq[i].hit ? HIT_PS : MISS_PS), "step %zu: latency %llu", i,
                  (unsigned long long)lat);
    if (seq[i].hit)
      hits++;
    else
      misses++;
    ck_assert_uint_eq(st->iotlb_hits, hits);
    ck_assert_uint_eq(st->iotlb_misses, misses);
  }
  iommu_free(io);
}
END_TEST

START_TEST(test_strict_unmap) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t a = map1(io, RID, 30, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0);
  uint64_t pa;
  ck_assert_int_eq(tr(io, RID, a, 1, 0, &pa), 0); /* cached in the IOTLB */
  ck_assert_int_eq(tr(io, RID, a, 1, 0, &pa), 0);
  ck_assert_uint_eq(iommu_stats(io)->iotlb_hits, 1);
  /* Strict: unmap + invalidation, and the very next translation faults. */
  ck_assert_int_eq(iommu_unmap(io, RID, a, 10), 200 + 3000);
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 1);
  ck_assert_uint_eq(iommu_stats(io)->unmaps, 1);
  ck_assert_uint_eq(iommu_stats(io)->mapped_pages, 0);
  ck_assert_int_eq(tr(io, RID, a + 8, 1, 11, &pa), -1);
  ck_assert_uint_eq(iommu_fault_get(io, 0)->reason, IOMMU_FAULT_NOT_PRESENT);
  ck_assert_uint_eq(iommu_fault_get(io, 0)->iova, a + 8);
  /* Unmapping what is not mapped is an error. */
  ck_assert_int_lt(iommu_unmap(io, RID, a, 12), 0);
  ck_assert_int_lt(iommu_unmap(io, 0x0200, a, 12), 0);
  /* A new mapping translates to its own page, never the old one. */
  uint64_t b = map1(io, RID, 31, IOMMU_PERM_READ, 20);
  ck_assert_int_eq(tr(io, RID, b, 0, 21, &pa), 0);
  ck_assert_uint_eq(pa, 31ull << 12);
  if (b != a)
    ck_assert_int_eq(tr(io, RID, a, 0, 22, &pa), -1);
  iommu_free(io);
}
END_TEST

START_TEST(test_lazy_unmap_flush_by_count) {
  struct iommu *io = mk(IOMMU_LAZY); /* flush_entries 4 */
  uint64_t a = map1(io, RID, 40, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0);
  uint64_t b = map1(io, RID, 41, IOMMU_PERM_WRITE, 0);
  uint64_t c = map1(io, RID, 42, IOMMU_PERM_WRITE, 0);
  uint64_t d = map1(io, RID, 43, IOMMU_PERM_WRITE, 0);
  uint64_t pa;
  ck_assert_int_eq(tr(io, RID, a + 4, 1, 0, &pa), 0); /* A is in the IOTLB */
  /* Lazy unmap: no invalidation now, only the unmap's own cost. */
  ck_assert_int_eq(iommu_unmap(io, RID, a, 100), 200);
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 0);
  /* The stale IOTLB entry still reaches the old page. */
  ck_assert_int_eq(tr(io, RID, a + 8, 1, 200, &pa), 0);
  ck_assert_uint_eq(pa, (40ull << 12) | 8);
  /* An IOVA waiting in the flush queue is not handed out again. */
  uint64_t e = map1(io, RID, 44, IOMMU_PERM_READ, 300);
  ck_assert_uint_ne(e, a);
  /* B was never in the IOTLB: its unmap takes effect in the table at once. */
  ck_assert_int_eq(iommu_unmap(io, RID, b, 400), 200);
  ck_assert_int_eq(tr(io, RID, b, 1, 410, &pa), -1);
  ck_assert_int_eq(iommu_unmap(io, RID, c, 500), 200);
  ck_assert_int_eq(tr(io, RID, a, 0, 510, &pa), 0); /* still stale */
  ck_assert_uint_eq(pa, 40ull << 12);
  /* The 4th unmap finds the ring full (4 slots, one kept free: Linux
   * dma-iommu.c fq_full): the 3 queued are flushed (one invalidation) and
   * freed, then d is queued (queue_iova: fq_flush_iotlb, fq_ring_free,
   * fq_ring_add). */
  ck_assert_int_eq(iommu_unmap(io, RID, d, 600), 200 + 3000);
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 1);
  ck_assert_int_eq(tr(io, RID, a, 1, 700, &pa), -1);
  /* d's IOVA waits for the next flush: the freed c comes back first (the
   * rcache is last in, first out), never d. */
  uint64_t g = map1(io, RID, 45, IOMMU_PERM_READ, 650);
  ck_assert_uint_eq(g, c);
  ck_assert_int_eq(iommu_flush(io, 660), 3000);
  ck_assert_uint_eq(map1(io, RID, 46, IOMMU_PERM_READ, 670), d);
  const struct iommu_fault *f = iommu_fault_get(io, iommu_fault_count(io) - 1);
  ck_assert_uint_eq(f->reason, IOMMU_FAULT_NOT_PRESENT);
  ck_assert_uint_eq(f->iova, a);
  ck_assert_uint_eq(f->time_ps, 700);
  /* E is unaffected. */
  ck_assert_int_eq(tr(io, RID, e, 0, 800, &pa), 0);
  ck_assert_uint_eq(pa, 44ull << 12);
  iommu_free(io);
}
END_TEST

START_TEST(test_lazy_unmap_flush_by_time) {
  struct iommu_params p = params(IOMMU_LAZY);
  p.flush_entries = 256;
  p.flush_ps = 1000000;
  struct iommu *io = iommu_new(&p);
  uint64_t a = map1(io, RID, 50, IOMMU_PERM_READ, 0);
  uint64_t pa;
  ck_assert_int_eq(tr(io, RID, a, 0, 0, &pa), 0);
  ck_assert_int_eq(iommu_unmap(io, RID, a, 1000), 200);
  ck_assert_int_eq(tr(io, RID, a, 0, 1000 + 999999, &pa), 0); /* not yet due */
  ck_assert_uint_eq(pa, 50ull << 12);
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 0);
  ck_assert_int_eq(tr(io, RID, a, 0, 1000 + 1000000, &pa), -1); /* due: flushed first */
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 1);
  /* A flush that falls due at an unmap is charged to it. */
  uint64_t b = map1(io, RID, 51, IOMMU_PERM_READ, 2000000);
  uint64_t c = map1(io, RID, 52, IOMMU_PERM_READ, 2000000);
  ck_assert_int_eq(tr(io, RID, b, 0, 2000000, &pa), 0);
  ck_assert_int_eq(iommu_unmap(io, RID, b, 2000000), 200);
  ck_assert_int_eq(iommu_unmap(io, RID, c, 3000000), 3000 + 200);
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 2);
  ck_assert_int_eq(tr(io, RID, b, 0, 3000001, &pa), -1);
  /* And one due at a map. */
  uint64_t cyc_iova;
  ck_assert_int_eq(iommu_map(io, RID, 53, IOMMU_PERM_READ, 4000000, &cyc_iova), 3000 + 100);
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 3);
  /* An explicit flush: the invalidation's cost when something is queued. */
  ck_assert_int_eq(iommu_flush(io, 4000001), 0);
  ck_assert_int_eq(iommu_unmap(io, RID, cyc_iova, 4000002), 200);
  ck_assert_int_eq(iommu_flush(io, 4000003), 3000);
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 4);
  iommu_free(io);
}
END_TEST

START_TEST(test_passthrough_and_off) {
  enum iommu_mode modes[] = {IOMMU_PASSTHROUGH, IOMMU_OFF};
  for (int i = 0; i < 2; i++) {
    struct iommu *io = mk(modes[i]);
    uint64_t iova = 1;
    ck_assert_int_eq(iommu_map(io, RID, 0xabcde, IOMMU_PERM_READ, 0, &iova), 0);
    ck_assert_uint_eq(iova, 0xabcdeull << 12);
    uint64_t pa, lat;
    /* Identity for anything, writes to "read-only" pages included. */
    ck_assert_int_eq(iommu_translate(io, RID, iova + 5, 1, 0, &pa, &lat), 0);
    ck_assert_uint_eq(pa, iova + 5);
    ck_assert_int_eq(iommu_translate(io, 0x0777, 0x123456789ull, 1, 0, &pa, &lat), 0);
    ck_assert_uint_eq(pa, 0x123456789ull);
    ck_assert_uint_eq(lat, 0);
    ck_assert_uint_eq(iommu_stats(io)->faults, 0);
    ck_assert_uint_eq(iommu_fault_count(io), 0);
    ck_assert_int_eq(iommu_map_contig(io, RID, 0x100, 4, IOMMU_PERM_READ, 0, &iova), 0);
    ck_assert_uint_eq(iova, 0x100ull << 12);
    ck_assert_int_ge(iommu_unmap(io, RID, iova, 0), 0);
    iommu_free(io);
  }
}
END_TEST

START_TEST(test_set_mode) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t a = map1(io, RID, 60, IOMMU_PERM_READ, 0);
  uint64_t pa;
  ck_assert_int_eq(tr(io, RID, 0x5000, 1, 0, &pa), -1);
  iommu_set_mode(io, IOMMU_PASSTHROUGH);
  ck_assert_int_eq(iommu_get_mode(io), IOMMU_PASSTHROUGH);
  ck_assert_int_eq(tr(io, RID, 0x5000, 1, 0, &pa), 0);
  ck_assert_uint_eq(pa, 0x5000);
  ck_assert_int_eq(tr(io, RID, a, 1, 0, &pa), 0); /* no permission check either */
  ck_assert_uint_eq(pa, a);
  iommu_set_mode(io, IOMMU_OFF);
  ck_assert_int_eq(iommu_get_mode(io), IOMMU_OFF);
  ck_assert_int_eq(tr(io, RID, 0x6000, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, 0x6000);
  iommu_set_mode(io, IOMMU_STRICT);
  ck_assert_int_eq(tr(io, RID, 0x5000, 1, 0, &pa), -1);
  ck_assert_int_eq(tr(io, RID, a + 1, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, (60ull << 12) | 1);
  ck_assert_uint_eq(iommu_stats(io)->faults, 2);
  iommu_free(io);
}
END_TEST

START_TEST(test_map_contig) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t single = map1(io, RID, 7, IOMMU_PERM_READ, 0);
  uint64_t base = 0;
  ck_assert_int_eq(iommu_map_contig(io, RID, 100, 8, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0, &base),
                   8 * 100);
  ck_assert_uint_eq(base & 0xfff, 0);
  ck_assert_uint_le(base + 8 * 4096, IOVA_TOP);
  /* Not overlapping the earlier mapping. */
  ck_assert(single >= base + 8 * 4096 || single + 4096 <= base);
  uint64_t pa;
  for (uint64_t i = 0; i < 8; i++) {
    ck_assert_int_eq(tr(io, RID, base + i * 4096 + 5, 1, 0, &pa), 0);
    ck_assert_uint_eq(pa, ((100 + i) << 12) | 5);
  }
  ck_assert_uint_eq(iommu_stats(io)->mapped_pages, 9);
  ck_assert_uint_eq(iommu_stats(io)->maps, 9);
  /* A later mapping does not land inside the range. */
  uint64_t after = map1(io, RID, 8, IOMMU_PERM_READ, 0);
  ck_assert(after >= base + 8 * 4096 || after + 4096 <= base);
  ck_assert_int_eq(tr(io, RID, after, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, 8ull << 12);
  /* Each page of the range unmaps on its own. */
  ck_assert_int_eq(iommu_unmap(io, RID, base + 3 * 4096, 0), 200 + 3000);
  ck_assert_int_eq(tr(io, RID, base + 3 * 4096, 0, 0, &pa), -1);
  ck_assert_int_eq(tr(io, RID, base + 4 * 4096, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, 104ull << 12);
  ck_assert_int_lt(iommu_map_contig(io, RID, 200, 0, IOMMU_PERM_READ, 0, &base), 0);
  iommu_free(io);
}
END_TEST

START_TEST(test_many_mappings) {
  /* Enough mappings to grow the page table several times; all translate. */
  struct iommu *io = mk(IOMMU_STRICT);
  enum { N = 5000 };
  static uint64_t iovas[N];
  for (uint64_t i = 0; i < N; i++) {
    iovas[i] = map1(io, RID, 1000 + i, IOMMU_PERM_READ, 0);
    ck_assert_uint_eq(iovas[i], IOVA_TOP - (i + 1) * 4096);
  }
  for (uint64_t i = 0; i < N; i += 2)
    ck_assert_int_eq(iommu_unmap(io, RID, iovas[i], 0), 3200);
  uint64_t pa;
  for (uint64_t i = 0; i < N; i++) {
    int rc = tr(io, RID, iovas[i] + 1, 0, 0, &pa);
    if (i % 2 == 0) {
      ck_assert_int_eq(rc, -1);
    } else {
      ck_assert_int_eq(rc, 0);
      ck_assert_uint_eq(pa, ((1000 + i) << 12) | 1);
    }
  }
  ck_assert_uint_eq(iommu_stats(io)->mapped_pages, N / 2);
  iommu_free(io);
}
END_TEST


/* ---- IOTLB associativity, IOVA policy, stale translations, VT-d reasons,
 * domain-wide lazy flushes and the flush timer (added with the in-memory
 * tables; docs/iommu.md) ---- */

/* Hit (1) or miss (0) of one read translation, by its latency. */
static int hit(struct iommu *io, uint64_t iova) {
  uint64_t pa, lat;
  ck_assert_int_eq(iommu_translate(io, RID, iova, 0, 0, &pa, &lat), 0);
  ck_assert(lat == HIT_PS || lat == MISS_PS);
  return lat == HIT_PS;
}

START_TEST(test_iotlb_set_associative_lru) {
  /* 4 entries in 2 sets of 2 ways: set = IOVA page number mod 2. */
  struct iommu_params p = params(IOMMU_STRICT);
  p.iotlb_entries = 4;
  p.iotlb_ways = 2;
  struct iommu *io = iommu_new(&p);
  ck_assert_ptr_nonnull(io);
  uint64_t base;
  ck_assert_int_ge(iommu_map_contig(io, RID, 100, 8, IOMMU_PERM_READ, 0, &base), 0);
  uint64_t e0 = base, e1 = base + 2 * 4096, e2 = base + 4 * 4096; /* even pages: set 0 */
  uint64_t o0 = base + 4096, o1 = base + 3 * 4096;                /* odd pages: set 1 */
  ck_assert_uint_eq((e0 >> 12) % 2, 0);
  ck_assert_int_eq(hit(io, e0), 0);
  ck_assert_int_eq(hit(io, o0), 0);
  ck_assert_int_eq(hit(io, e1), 0);
  ck_assert_int_eq(hit(io, o1), 0);
  ck_assert_int_eq(hit(io, e0), 1); /* set 0: e1 is now its LRU */
  ck_assert_int_eq(hit(io, e2), 0); /* evicts e1, not e0, and nothing of set 1 */
  ck_assert_int_eq(hit(io, o0), 1);
  ck_assert_int_eq(hit(io, o1), 1);
  ck_assert_int_eq(hit(io, e0), 1);
  ck_assert_int_eq(hit(io, e1), 0); /* evicts e2 (e0 was used after it) */
  ck_assert_int_eq(hit(io, e0), 1);
  ck_assert_int_eq(hit(io, e2), 0); /* evicts e1 */
  ck_assert_int_eq(hit(io, e1), 0); /* evicts e0 */
  ck_assert_int_eq(hit(io, e0), 0);
  iommu_free(io);
  /* The same sequence fully associative: three even pages fit beside the
   * odd ones only while 4 entries hold them, LRU over all four. */
  p.iotlb_ways = 0;
  io = iommu_new(&p);
  ck_assert_int_ge(iommu_map_contig(io, RID, 100, 8, IOMMU_PERM_READ, 0, &base), 0);
  e0 = base, e1 = base + 2 * 4096, e2 = base + 4 * 4096, o0 = base + 4096, o1 = base + 3 * 4096;
  ck_assert_int_eq(hit(io, e0), 0);
  ck_assert_int_eq(hit(io, o0), 0);
  ck_assert_int_eq(hit(io, e1), 0);
  ck_assert_int_eq(hit(io, o1), 0);
  ck_assert_int_eq(hit(io, e0), 1);
  ck_assert_int_eq(hit(io, e2), 0); /* evicts o0, the LRU of all four */
  ck_assert_int_eq(hit(io, o0), 0); /* evicts e1 */
  ck_assert_int_eq(hit(io, o1), 1);
  ck_assert_int_eq(hit(io, e1), 0);
  iommu_free(io);
  /* Ways must divide the entries. */
  p.iotlb_entries = 6;
  p.iotlb_ways = 4;
  ck_assert_ptr_null(iommu_new(&p));
  p.iotlb_ways = 7;
  ck_assert_ptr_null(iommu_new(&p));
}
END_TEST

/* The IOTLB against a reference model of its replacement rule (the first
 * invalid way of the set, else the least recently used), over random
 * translations and strict unmaps (page-selective invalidation) with
 * remaps, fully and set associative. */
struct ref_tlb {
  unsigned nsets, ways;
  uint64_t vpn[16];
  uint64_t stamp[16];
  int valid[16];
  uint64_t clock;
};

static int ref_access(struct ref_tlb *r, uint64_t vpn) {
  unsigned base = (unsigned)(vpn % r->nsets) * r->ways;
  for (unsigned i = 0; i < r->ways; i++)
    if (r->valid[base + i] && r->vpn[base + i] == vpn) {
      r->stamp[base + i] = ++r->clock;
      return 1;
    }
  unsigned v = base;
  for (unsigned i = 0; i < r->ways; i++) {
    if (!r->valid[base + i]) {
      v = base + i;
      break;
    }
    if (r->stamp[base + i] < r->stamp[v])
      v = base + i;
  }
  r->valid[v] = 1;
  r->vpn[v] = vpn;
  r->stamp[v] = ++r->clock;
  return 0;
}

static void ref_invalidate(struct ref_tlb *r, uint64_t vpn) {
  unsigned base = (unsigned)(vpn % r->nsets) * r->ways;
  for (unsigned i = 0; i < r->ways; i++)
    if (r->valid[base + i] && r->vpn[base + i] == vpn)
      r->valid[base + i] = 0;
}

START_TEST(test_iotlb_matches_reference_lru) {
  static const unsigned ways[] = {0, 1, 2, 4, 8};
  uint64_t rng = 12345;
  for (unsigned w = 0; w < sizeof ways / sizeof ways[0]; w++) {
    struct iommu_params p = params(IOMMU_STRICT);
    p.iotlb_entries = 8;
    p.iotlb_ways = ways[w];
    struct iommu *io = iommu_new(&p);
    ck_assert_ptr_nonnull(io);
    struct ref_tlb r = {.ways = ways[w] ? ways[w] : 8};
    r.nsets = 8 / r.ways;
    enum { NPAGES = 20 };
    uint64_t iova[NPAGES];
    for (unsigned i = 0; i < NPAGES; i++)
      iova[i] = map1(io, RID, 200 + i, IOMMU_PERM_READ, 0);
    for (int op = 0; op < 20000; op++) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      unsigned i = (unsigned)(rng % NPAGES);
      if ((rng >> 32) % 8 == 0) {
        ck_assert_int_ge(iommu_unmap(io, RID, iova[i], 0), 0);
        ref_invalidate(&r, iova[i] >> 12);
        iova[i] = map1(io, RID, 200 + i, IOMMU_PERM_READ, 0);
        continue;
      }
      int want = ref_access(&r, iova[i] >> 12);
      ck_assert_msg(hit(io, iova[i]) == want, "ways %u, op %d: hit %d, reference %d", ways[w], op, !want,
                    want);
    }
    iommu_free(io);
  }
}
END_TEST

START_TEST(test_iova_size_aligned_top_down) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t a = map1(io, RID, 1, IOMMU_PERM_READ, 0);
  ck_assert_uint_eq(a, IOVA_TOP - 4096);
  /* 3 pages: rounded up to 4, aligned to 4 pages, below the first. */
  uint64_t b;
  ck_assert_int_eq(iommu_map_contig(io, RID, 10, 3, IOMMU_PERM_READ, 0, &b), 3 * 100);
  ck_assert_uint_eq(b, IOVA_TOP - 8 * 4096);
  /* The search goes on below the last allocation (cached node): the hole
   * above b is not filled. */
  uint64_t c = map1(io, RID, 2, IOMMU_PERM_READ, 0);
  ck_assert_uint_eq(c, IOVA_TOP - 9 * 4096);
  /* 32 pages: not rounded, aligned to 32. 33 pages: aligned to 64. */
  uint64_t d, e;
  ck_assert_int_ge(iommu_map_contig(io, RID, 100, 32, IOMMU_PERM_READ, 0, &d), 0);
  ck_assert_uint_eq(d, IOVA_TOP - 64 * 4096);
  ck_assert_int_ge(iommu_map_contig(io, RID, 200, 33, IOMMU_PERM_READ, 0, &e), 0);
  ck_assert_uint_eq(e, IOVA_TOP - 128 * 4096);
  uint64_t f = map1(io, RID, 3, IOMMU_PERM_READ, 0);
  ck_assert_uint_eq(f, e - 4096);
  iommu_free(io);
}
END_TEST

START_TEST(test_iova_reuse_after_free) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t a = map1(io, RID, 1, IOMMU_PERM_READ, 0);
  uint64_t b = map1(io, RID, 2, IOMMU_PERM_READ, 0);
  uint64_t c = map1(io, RID, 3, IOMMU_PERM_READ, 0);
  /* Freed IOVAs come back last in, first out (the loaded magazine). */
  ck_assert_int_ge(iommu_unmap(io, RID, a, 0), 0);
  ck_assert_int_ge(iommu_unmap(io, RID, c, 0), 0);
  ck_assert_uint_eq(map1(io, RID, 4, IOMMU_PERM_READ, 0), c);
  ck_assert_uint_eq(map1(io, RID, 5, IOMMU_PERM_READ, 0), a);
  ck_assert_uint_eq(map1(io, RID, 6, IOMMU_PERM_READ, 0), c - 4096);
  ck_assert_uint_eq(iommu_stats(io)->iova_cache_hits, 2);
  /* A multi-page range is released only when its last page is unmapped,
   * then reused for a request of the same size class. */
  uint64_t r;
  ck_assert_int_ge(iommu_map_contig(io, RID, 50, 3, IOMMU_PERM_READ, 0, &r), 0);
  ck_assert_int_ge(iommu_unmap(io, RID, r, 0), 0);
  ck_assert_int_ge(iommu_unmap(io, RID, r + 4096, 0), 0);
  uint64_t r2;
  ck_assert_int_ge(iommu_map_contig(io, RID, 60, 4, IOMMU_PERM_READ, 0, &r2), 0);
  ck_assert_uint_ne(r2, r);
  ck_assert_int_ge(iommu_unmap(io, RID, r + 2 * 4096, 0), 0);
  uint64_t r3;
  ck_assert_int_ge(iommu_map_contig(io, RID, 70, 3, IOMMU_PERM_READ, 0, &r3), 0);
  ck_assert_uint_eq(r3, r);
  (void)b;
  iommu_free(io);
}
END_TEST

START_TEST(test_iova_rcache_magazines) {
  /* One IOVA per magazine and one magazine in the depot: the fourth free
   * overflows and goes back to the tree. Linux 6.6 __iova_rcache_insert /
   * __iova_rcache_get give this order back: P4, P1 (the previous
   * magazine), P2 (the depot), then the tree refills the hole of P3. */
  struct iommu_params p = params(IOMMU_STRICT);
  p.iova_mag_size = 1;
  p.iova_depot_mags = 1;
  struct iommu *io = iommu_new(&p);
  uint64_t P[5];
  for (int i = 0; i < 5; i++)
    P[i] = map1(io, RID, 10 + (uint64_t)i, IOMMU_PERM_READ, 0);
  for (int i = 0; i < 4; i++)
    ck_assert_int_ge(iommu_unmap(io, RID, P[i], 0), 0);
  ck_assert_uint_eq(map1(io, RID, 20, IOMMU_PERM_READ, 0), P[3]);
  ck_assert_uint_eq(map1(io, RID, 21, IOMMU_PERM_READ, 0), P[0]);
  ck_assert_uint_eq(map1(io, RID, 22, IOMMU_PERM_READ, 0), P[1]);
  ck_assert_uint_eq(map1(io, RID, 23, IOMMU_PERM_READ, 0), P[2]);
  ck_assert_uint_eq(map1(io, RID, 24, IOMMU_PERM_READ, 0), P[4] - 4096);
  ck_assert_uint_eq(iommu_stats(io)->iova_cache_hits, 3);
  iommu_free(io);
}
END_TEST

START_TEST(test_iova_lazy_not_reused_before_flush) {
  struct iommu *io = mk(IOMMU_LAZY); /* flush_entries 4, flush_ps 1e6 */
  uint64_t a = map1(io, RID, 1, IOMMU_PERM_READ, 0);
  ck_assert_int_eq(iommu_unmap(io, RID, a, 10), 200);
  uint64_t seen[3];
  for (int i = 0; i < 3; i++) {
    seen[i] = map1(io, RID, 2 + (uint64_t)i, IOMMU_PERM_READ, 20);
    ck_assert_uint_ne(seen[i], a);
  }
  ck_assert_int_eq(iommu_flush(io, 30), 3000);
  /* After the flush it is the first IOVA handed out. */
  ck_assert_uint_eq(map1(io, RID, 9, IOMMU_PERM_READ, 40), a);
  /* And by the timer. */
  uint64_t b = seen[0];
  ck_assert_int_eq(iommu_unmap(io, RID, b, 100), 200);
  ck_assert_uint_ne(map1(io, RID, 10, IOMMU_PERM_READ, 100 + 999999), b);
  ck_assert_uint_eq(map1(io, RID, 11, IOMMU_PERM_READ, 100 + 1000000), b);
  iommu_free(io);
}
END_TEST

START_TEST(test_iova_dma_mask_and_forcedac) {
  /* 4 GiB in one go cannot fit below 4 GiB: the device then uses its full
   * mask (48-bit tables) for this and every later allocation. */
  struct iommu_params p = params(IOMMU_STRICT);
  struct iommu *io = iommu_new(&p);
  uint64_t big;
  ck_assert_int_ge(iommu_map_contig(io, RID, 0, 1u << 20, IOMMU_PERM_READ, 0, &big), 0);
  ck_assert_uint_eq(big, (1ull << 48) - (1ull << 32));
  ck_assert_uint_eq(iommu_stats(io)->superpage_maps, 2048);
  ck_assert_uint_eq(map1(io, RID, 7, IOMMU_PERM_READ, 0), big - 4096);
  uint64_t pa;
  ck_assert_int_eq(tr(io, RID, big + (5ull << 21) + 9, 0, 0, &pa), 0);
  ck_assert_uint_eq(pa, (5ull << 21) + 9);
  iommu_free(io);
  /* A 32-bit device cannot. */
  p.dma_mask_bits = 32;
  io = iommu_new(&p);
  ck_assert_int_lt(iommu_map_contig(io, RID, 0, 1u << 20, IOMMU_PERM_READ, 0, &big), 0);
  ck_assert_uint_eq(map1(io, RID, 7, IOMMU_PERM_READ, 0), IOVA_TOP - 4096);
  iommu_free(io);
  /* forcedac: no below-4-GiB first try. */
  p.dma_mask_bits = 64;
  p.forcedac = 1;
  io = iommu_new(&p);
  ck_assert_uint_eq(map1(io, RID, 7, IOMMU_PERM_READ, 0), (1ull << 48) - 4096);
  iommu_free(io);
  p.forcedac = 0;
  p.dma_mask_bits = 40;
  io = iommu_new(&p);
  ck_assert_int_ge(iommu_map_contig(io, RID, 0, 1u << 20, IOMMU_PERM_READ, 0, &big), 0);
  ck_assert_uint_eq(big, (1ull << 40) - (1ull << 32));
  iommu_free(io);
}
END_TEST

START_TEST(test_stale_translation_reported) {
  struct iommu *io = mk(IOMMU_LAZY); /* flush_entries 4 */
  uint64_t a = map1(io, RID, 40, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0);
  uint64_t b = map1(io, RID, 41, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0);
  struct iommu_xlate x;
  ck_assert_int_eq(iommu_translate2(io, RID, a, 1, 0, &x), 0);
  ck_assert_uint_eq(x.stale, 0);
  ck_assert_int_eq(iommu_translate2(io, RID, b, 1, 0, &x), 0);
  ck_assert_int_ge(iommu_unmap(io, RID, a, 10), 0);
  /* The page was unmapped; the IOTLB still reaches it, and says so. */
  ck_assert_int_eq(iommu_translate2(io, RID, a + 16, 1, 20, &x), 0);
  ck_assert_uint_eq(x.hit, 1);
  ck_assert_uint_eq(x.stale, 1);
  ck_assert_uint_eq(x.paddr, (40ull << 12) + 16);
  ck_assert_int_eq(iommu_translate2(io, RID, b + 16, 1, 20, &x), 0);
  ck_assert_uint_eq(x.stale, 0);
  ck_assert_uint_eq(iommu_stats(io)->stale_hits, 1);
  /* iommu_translate is the same translation, without the flag. */
  uint64_t pa, lat;
  ck_assert_int_eq(iommu_translate(io, RID, a, 0, 21, &pa, &lat), 0);
  ck_assert_uint_eq(pa, 40ull << 12);
  ck_assert_uint_eq(iommu_stats(io)->stale_hits, 2);
  ck_assert_int_eq(iommu_flush(io, 30), 3000);
  ck_assert_int_eq(iommu_translate2(io, RID, a, 1, 31, &x), -1);
  ck_assert_uint_eq(x.stale, 0);
  ck_assert_uint_eq(x.fault, IOMMU_FAULT_NOT_PRESENT);
  iommu_free(io);
  /* Strict: never stale, refused at once. */
  io = mk(IOMMU_STRICT);
  a = map1(io, RID, 40, IOMMU_PERM_READ, 0);
  ck_assert_int_eq(iommu_translate2(io, RID, a, 0, 0, &x), 0);
  ck_assert_int_ge(iommu_unmap(io, RID, a, 1), 0);
  ck_assert_int_eq(iommu_translate2(io, RID, a, 0, 2, &x), -1);
  ck_assert_uint_eq(iommu_stats(io)->stale_hits, 0);
  iommu_free(io);
  /* A 2 MiB IOTLB entry: only the unmapped page is stale. */
  struct iommu_params p = params(IOMMU_LAZY);
  io = iommu_new(&p);
  uint64_t sp;
  ck_assert_int_ge(iommu_map_contig(io, RID, 1024, 512, IOMMU_PERM_READ, 0, &sp), 0);
  ck_assert_uint_eq(iommu_stats(io)->superpage_maps, 1);
  ck_assert_int_eq(iommu_translate2(io, RID, sp, 0, 0, &x), 0);
  ck_assert_uint_eq(x.page_shift, 21);
  ck_assert_int_ge(iommu_unmap(io, RID, sp + 5 * 4096, 1), 0);
  ck_assert_int_eq(iommu_translate2(io, RID, sp + 5 * 4096, 0, 2, &x), 0);
  ck_assert_uint_eq(x.stale, 1);
  ck_assert_uint_eq(x.paddr, (1024ull + 5) << 12);
  ck_assert_int_eq(iommu_translate2(io, RID, sp + 6 * 4096, 0, 2, &x), 0);
  ck_assert_uint_eq(x.hit, 1);
  ck_assert_uint_eq(x.stale, 0);
  ck_assert_uint_eq(x.paddr, (1024ull + 6) << 12);
  iommu_free(io);
}
END_TEST

START_TEST(test_vtd_fault_reasons) {
  struct iommu *io = mk(IOMMU_STRICT);
  uint64_t a = map1(io, RID, 40, IOMMU_PERM_READ, 0);
  uint64_t pa;
  ck_assert_int_eq(tr(io, 0x0300, a, 0, 1, &pa), -1);       /* no domain: context entry */
  ck_assert_int_eq(tr(io, RID, a - 4096, 0, 2, &pa), -1);   /* R = W = 0, read */
  ck_assert_int_eq(tr(io, RID, a - 4096, 1, 3, &pa), -1);   /* R = W = 0, write */
  ck_assert_int_eq(tr(io, RID, a, 1, 4, &pa), -1);          /* W clear */
  ck_assert_int_eq(tr(io, RID, 1ull << 50, 0, 5, &pa), -1); /* above 48 bits */
  const uint8_t reason[] = {IOMMU_FAULT_NOT_PRESENT, IOMMU_FAULT_NOT_PRESENT, IOMMU_FAULT_NOT_PRESENT,
                            IOMMU_FAULT_NO_WRITE, IOMMU_FAULT_NOT_PRESENT};
  const uint8_t vtd[] = {IOMMU_VTD_CONTEXT_NOT_PRESENT, IOMMU_VTD_NO_READ, IOMMU_VTD_NO_WRITE,
                         IOMMU_VTD_NO_WRITE, IOMMU_VTD_BEYOND_AGAW};
  ck_assert_uint_eq(iommu_fault_count(io), 5);
  for (size_t i = 0; i < 5; i++) {
    ck_assert_uint_eq(iommu_fault_get(io, i)->reason, reason[i]);
    ck_assert_uint_eq(iommu_fault_get(io, i)->vtd_reason, vtd[i]);
    ck_assert_uint_eq(iommu_fault_get(io, i)->time_ps, i + 1);
  }
  iommu_free(io);
}
END_TEST

START_TEST(test_lazy_flush_is_domain_wide) {
  struct iommu_params p = params(IOMMU_LAZY);
  p.flush_entries = 1; /* every unmap flushes */
  struct iommu *io = iommu_new(&p);
  uint64_t a = map1(io, RID, 1, IOMMU_PERM_READ, 0);
  uint64_t b = map1(io, RID, 2, IOMMU_PERM_READ, 0);
  uint64_t o = map1(io, 0x0200, 3, IOMMU_PERM_READ, 0);
  uint64_t pa, lat;
  ck_assert_int_eq(iommu_translate(io, RID, b, 0, 0, &pa, &lat), 0);
  ck_assert_int_eq(iommu_translate(io, 0x0200, o, 0, 0, &pa, &lat), 0);
  ck_assert_int_eq(iommu_translate(io, RID, b, 0, 0, &pa, &lat), 0);
  ck_assert_uint_eq(lat, HIT_PS);
  ck_assert_int_eq(iommu_unmap(io, RID, a, 1), 200 + 3000);
  /* The flush invalidated the whole domain: b misses (and still translates);
   * the other domain keeps its entry. */
  ck_assert_int_eq(iommu_translate(io, RID, b, 0, 2, &pa, &lat), 0);
  ck_assert_uint_eq(lat, MISS_PS);
  ck_assert_int_eq(iommu_translate(io, 0x0200, o, 0, 2, &pa, &lat), 0);
  ck_assert_uint_eq(lat, HIT_PS);
  iommu_free(io);
}
END_TEST

START_TEST(test_flush_timer_as_linux) {
  /* dma-iommu.c arms fq_timer at the first unmap queued while it is off; a
   * flush because the queue filled does not re-arm it. So an unmap queued
   * after a count flush is flushed when the earlier timer fires, sooner
   * than flush_ps after its own unmap. */
  struct iommu_params p = params(IOMMU_LAZY);
  p.flush_entries = 3; /* the ring holds 2 */
  p.flush_ps = 1000;
  struct iommu *io = iommu_new(&p);
  uint64_t a = map1(io, RID, 1, IOMMU_PERM_READ, 0);
  uint64_t b = map1(io, RID, 2, IOMMU_PERM_READ, 0);
  uint64_t c = map1(io, RID, 3, IOMMU_PERM_READ, 0);
  uint64_t x = map1(io, RID, 4, IOMMU_PERM_READ, 0);
  uint64_t pa;
  ck_assert_int_eq(tr(io, RID, c, 0, 0, &pa), 0);
  ck_assert_int_eq(iommu_unmap(io, RID, a, 100), 200);         /* timer: 1100 */
  ck_assert_int_eq(iommu_unmap(io, RID, b, 200), 200);
  ck_assert_int_eq(iommu_unmap(io, RID, x, 250), 200 + 3000);  /* full: count flush, x queued */
  ck_assert_int_eq(tr(io, RID, c, 0, 300, &pa), 0);            /* refill */
  ck_assert_int_eq(iommu_unmap(io, RID, c, 400), 200);
  ck_assert_int_eq(tr(io, RID, c, 0, 1099, &pa), 0);           /* stale, not due */
  ck_assert_int_eq(tr(io, RID, c, 0, 1100, &pa), -1);          /* the first timer */
  ck_assert_uint_eq(iommu_stats(io)->invalidations, 2);
  iommu_free(io);
}
END_TEST

/* ---- the walk memo (iommu.h): upper-level entries kept between walks ---- */

/* Counts the IOMMU's own reads of memory (its walks). */
static void count_walk_read(void *ctx, struct mem *m, const struct mem_access *a) {
  (void)m;
  if (a->who.actor == MEM_ACTOR_DEVICE && a->who.id == IOMMU_WALK_RID && a->op == MEM_OP_READ)
    ++*(uint64_t *)ctx;
}

static uint64_t peek_pte(struct mem *m, uint64_t pa) {
  uint64_t v = 0;
  ck_assert_int_eq(mem_peek(m, pa, &v, 8), 0);
  return v;
}

/* A walk after the first reads only the leaf entry of a 2 MiB region the
 * memo knows, still counting and timing every level; a write into an
 * upper-level table page (a new table's entry, a device's write) empties it. */
START_TEST(test_walk_memo_reads_the_leaf) {
  struct mem *m = mem_new(64ull << 20);
  uint64_t reads = 0;
  struct mem_observer obs = {.ctx = &reads, .access = count_walk_read};
  ck_assert_int_eq(mem_add_observer(m, &obs), 0);
  struct iommu_params p = params(IOMMU_STRICT);
  p.mem = m;
  p.iotlb_entries = 1;
  struct iommu *io = iommu_new(&p);
  uint64_t a = map1(io, RID, 0x500, RW, 0), b = map1(io, RID, 0x501, RW, 0);
  struct iommu_xlate x;
  ck_assert_int_eq(iommu_translate2(io, RID, a, 0, 0, &x), 0);
  ck_assert_uint_eq(reads, 4);
  ck_assert_int_eq(iommu_translate2(io, RID, b, 0, 0, &x), 0); /* the IOTLB holds one entry */
  ck_assert_uint_eq(x.paddr, 0x501000);
  ck_assert_uint_eq(x.levels, 4);
  ck_assert_uint_eq(x.latency_ps, MISS_PS);
  ck_assert_uint_eq(reads, 5);
  ck_assert_uint_eq(iommu_stats(io)->walk_reads, 8);
  /* A 2 MiB superpage in the next region: its entry is written into the
   * level-2 table the memo was read from. */
  uint64_t iova = 0;
  ck_assert_int_ge(iommu_map_contig(io, RID, 0x40000, 512, RW, 0, &iova), 0);
  ck_assert_uint_eq(iommu_stats(io)->superpage_maps, 1);
  ck_assert_int_eq(iommu_translate2(io, RID, a, 0, 0, &x), 0);
  ck_assert_uint_eq(reads, 9);
  ck_assert_int_eq(iommu_translate2(io, RID, b, 0, 0, &x), 0);
  ck_assert_uint_eq(reads, 10);
  /* A device writes the level-2 entry (the value it holds already). */
  uint64_t table = iommu_domain_root(io, RID), e = 0;
  for (unsigned level = 4; level >= 2; level--) {
    e = table + 8 * ((b >> (12 + 9 * (level - 1))) & 511);
    table = peek_pte(m, e) & IOMMU_PTE_ADDR_MASK;
  }
  uint64_t v = peek_pte(m, e);
  ck_assert_int_eq(mem_write(m, (struct mem_accessor){.actor = MEM_ACTOR_DEVICE, .id = 0x0200}, e, &v, 8, NULL), 0);
  ck_assert_int_eq(iommu_translate2(io, RID, a, 0, 0, &x), 0);
  ck_assert_uint_eq(reads, 14);
  /* Writes into a leaf table page leave the memo as it is: b unmapped
   * faults after reading its leaf entry alone. */
  ck_assert_int_ge(iommu_unmap(io, RID, b, 0), 0);
  ck_assert_int_eq(iommu_translate2(io, RID, b, 0, 0, &x), -1);
  ck_assert_uint_eq(x.fault, IOMMU_FAULT_NOT_PRESENT);
  ck_assert_uint_eq(x.levels, 4);
  ck_assert_uint_eq(reads, 15);
  iommu_free(io);
  mem_free(m);
}
END_TEST

/* One model of a pair, on its own memory (or host-side tables). */
struct memo_side {
  struct mem *m;
  struct iommu *io;
  uint64_t walk_reads; /* memory reads its walks made */
};

static void memo_side_new(struct memo_side *s, int in_mem, unsigned levels, enum iommu_mode mode, int memo) {
  memset(s, 0, sizeof *s);
  struct iommu_params p = params(mode);
  p.iotlb_entries = 2;
  p.walk_levels = levels;
  p.walk_memo = (uint8_t)memo;
  if (in_mem) {
    s->m = mem_new(64ull << 20);
    struct mem_observer obs = {.ctx = &s->walk_reads, .access = count_walk_read};
    ck_assert_int_eq(mem_add_observer(s->m, &obs), 0);
    p.mem = s->m;
  }
  s->io = iommu_new(&p);
  ck_assert_ptr_nonnull(s->io);
}

/* The entries (their physical addresses) a walk of iova passes through. */
static unsigned path_entries(struct mem *m, uint64_t root, uint64_t iova, unsigned levels, uint64_t *out) {
  uint64_t table = root;
  unsigned n = 0;
  for (unsigned level = levels; level >= 1; level--) {
    uint64_t e = table + 8 * ((iova >> (12 + 9 * (level - 1))) & 511), v;
    if (e + 8 > mem_pages(m) << 12)
      break;
    out[n++] = e;
    v = peek_pte(m, e);
    if (!(v & (IOMMU_PTE_R | IOMMU_PTE_W)) || level == 1 || (level == 2 && (v & IOMMU_PTE_PS)))
      break;
    table = v & IOMMU_PTE_ADDR_MASK;
  }
  return n;
}

#define MEMO_IOVAS 4096

/* The same random history on a model with the memo and one without: maps
 * of pages, runs and 2 MiB superpages, unmaps (splitting superpages),
 * flushes, the timer, passthrough and back, and (tables in memory) writes
 * and copies into table entries and table pages by the kernel and by a
 * device, mostly upper-level entries on the walks of mapped IOVAs: cleared,
 * R or W flipped, PS set, pointed at another table. Every translation
 * (return, address, latency, levels, hit, stale, fault), every counter and
 * every fault record must agree, and the memo must save reads. */
static void memo_compare(uint64_t seed, int in_mem, unsigned levels, enum iommu_mode mode) {
  struct memo_side s[2];
  memo_side_new(&s[0], in_mem, levels, mode, 1);
  memo_side_new(&s[1], in_mem, levels, mode, 0);
  static uint64_t iovas[MEMO_IOVAS];
  static uint16_t rids[MEMO_IOVAS];
  size_t n = 0;
  uint64_t now = 0, translations = 0;
  const uint16_t rid_of[2] = {RID, 0x0200};
  for (int step = 0; step < 4000; step++) {
    uint64_t r = prng_splitmix64(&seed);
    unsigned op = (unsigned)(r % 100);
    uint16_t rid = rid_of[(r >> 8) & 1];
    now += (r >> 16) % 50000;
    if (op < 20 && n + 1024 <= MEMO_IOVAS) {
      /* Map a page, a run, or a 2 MiB-aligned run holding superpages. */
      unsigned kind = (unsigned)((r >> 24) % 10), perm = 1 + (unsigned)((r >> 28) % 3);
      uint32_t pages = kind < 6 ? 1 : kind < 9 ? 1 + (uint32_t)((r >> 32) % 16) : 1024;
      uint64_t pfn = kind < 9 ? 0x100 + (r >> 40) % 0x10000 : 512 * (1 + (r >> 40) % 64);
      uint64_t iova[2];
      int64_t c[2];
      for (int k = 0; k < 2; k++)
        c[k] = iommu_map_contig(s[k].io, rid, pfn, pages, perm, now, &iova[k]);
      ck_assert_int_eq(c[0], c[1]);
      if (c[0] >= 0) {
        ck_assert_uint_eq(iova[0], iova[1]);
        for (uint32_t i = 0; i < pages; i++, n++) {
          iovas[n] = iova[0] + ((uint64_t)i << 12);
          rids[n] = rid;
        }
      }
    } else if (op < 35 && n) {
      size_t i = (size_t)((r >> 24) % n);
      int64_t c0 = iommu_unmap(s[0].io, rids[i], iovas[i], now);
      ck_assert_int_eq(c0, iommu_unmap(s[1].io, rids[i], iovas[i], now));
      iovas[i] = iovas[--n];
      rids[i] = rids[n];
    } else if (op < 37) {
      ck_assert_int_eq(iommu_flush(s[0].io, now), iommu_flush(s[1].io, now));
    } else if (op < 38) {
      for (int k = 0; k < 2; k++)
        iommu_set_mode(s[k].io, IOMMU_PASSTHROUGH);
    } else if (op < 40) {
      for (int k = 0; k < 2; k++)
        iommu_set_mode(s[k].io, mode);
    } else if (op < 55 && in_mem && n) {
      /* Change an entry on the walk of a mapped IOVA (or any word of its
       * table page), by the kernel or a device, as a write or a copy. */
      size_t i = (size_t)((r >> 24) % n);
      uint64_t path[5];
      unsigned np = path_entries(s[0].m, iommu_domain_root(s[0].io, rids[i]), iovas[i], levels, path);
      if (np == 0)
        continue;
      unsigned at = (unsigned)((r >> 32) % 8) < 6 && np > 1 ? (unsigned)((r >> 35) % (np - 1)) : np - 1;
      uint64_t e = path[at], v = peek_pte(s[0].m, e), src = path[(r >> 38) % np];
      switch ((r >> 41) % 7) {
      case 0: v = 0; break;
      case 1: v ^= IOMMU_PTE_R; break;
      case 2: v ^= IOMMU_PTE_W; break;
      case 3: v |= IOMMU_PTE_PS; break;
      case 4: v = (peek_pte(s[0].m, src) & IOMMU_PTE_ADDR_MASK) | IOMMU_PTE_R | IOMMU_PTE_W; break;
      case 5: e = (e & ~0xfffull) + 8 * ((r >> 44) % 512); v = r; break;
      default: break; /* the same value written again */
      }
      struct mem_accessor who = (r >> 50) & 1 ? (struct mem_accessor){.actor = MEM_ACTOR_DEVICE, .id = 0x0300}
                                              : (struct mem_accessor){.actor = MEM_ACTOR_KERNEL, .id = 1};
      for (int k = 0; k < 2; k++) {
        if ((r >> 51) & 1)
          ck_assert_int_eq(mem_copy(s[k].m, who, e, src, 8), 0);
        else
          ck_assert_int_eq(mem_write(s[k].m, who, e, &v, 8, NULL), 0);
      }
    } else if (n) {
      /* Translate a mapped IOVA, or one near it, or anywhere. */
      size_t i = (size_t)((r >> 24) % n);
      uint64_t iova = iovas[i] + ((r >> 36) & 0xfff);
      uint16_t trid = rids[i];
      if ((r >> 48) % 8 == 0)
        iova += ((r >> 52) % 4096) << 12;
      else if ((r >> 48) % 8 == 1)
        iova = prng_splitmix64(&seed) & ((1ull << (12 + 9 * levels)) - 1);
      int write = (int)((r >> 60) & 1);
      struct iommu_xlate x[2];
      int rc0 = iommu_translate2(s[0].io, trid, iova, write, now, &x[0]);
      ck_assert_int_eq(rc0, iommu_translate2(s[1].io, trid, iova, write, now, &x[1]));
      ck_assert_uint_eq(x[0].paddr, x[1].paddr);
      ck_assert_uint_eq(x[0].latency_ps, x[1].latency_ps);
      ck_assert_uint_eq(x[0].hit, x[1].hit);
      ck_assert_uint_eq(x[0].stale, x[1].stale);
      ck_assert_uint_eq(x[0].levels, x[1].levels);
      ck_assert_uint_eq(x[0].page_shift, x[1].page_shift);
      ck_assert_uint_eq(x[0].fault, x[1].fault);
      translations++;
    }
    ck_assert_int_eq(memcmp(iommu_stats(s[0].io), iommu_stats(s[1].io), sizeof(struct iommu_stats)), 0);
  }
  ck_assert_uint_gt(translations, 1000);
  ck_assert_uint_gt(iommu_stats(s[1].io)->iotlb_misses, 500);
  ck_assert_uint_eq(iommu_fault_count(s[0].io), iommu_fault_count(s[1].io));
  for (size_t i = 0; i < iommu_fault_count(s[0].io); i++)
    ck_assert_int_eq(memcmp(iommu_fault_get(s[0].io, i), iommu_fault_get(s[1].io, i), sizeof(struct iommu_fault)), 0);
  if (in_mem) {
    ck_assert_uint_eq(s[1].walk_reads, iommu_stats(s[1].io)->walk_reads);
    ck_assert_uint_lt(s[0].walk_reads, s[1].walk_reads);
  }
  for (int k = 0; k < 2; k++) {
    iommu_free(s[k].io);
    mem_free(s[k].m);
  }
}

START_TEST(test_walk_memo_changes_nothing) {
  static const unsigned levels[] = {3, 4, 5};
  uint64_t seed = 0x5eed;
  for (int in_mem = 0; in_mem < 2; in_mem++)
    for (int l = 0; l < 3; l++)
      for (int mode = IOMMU_STRICT; mode <= IOMMU_LAZY; mode++)
        for (int rep = 0; rep < 2; rep++)
          memo_compare(prng_splitmix64(&seed), in_mem, levels[l], (enum iommu_mode)mode);
}
END_TEST

static Suite *iommu_suite(void) {
  Suite *s = suite_create("iommu");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_defaults);
  tcase_add_test(tc, test_names);
  tcase_add_test(tc, test_map_translate);
  tcase_add_test(tc, test_permission_faults);
  tcase_add_test(tc, test_fault_records_bounded);
  tcase_add_test(tc, test_iotlb_hits_misses_latency);
  tcase_add_test(tc, test_iotlb_lru_eviction);
  tcase_add_test(tc, test_strict_unmap);
  tcase_add_test(tc, test_lazy_unmap_flush_by_count);
  tcase_add_test(tc, test_lazy_unmap_flush_by_time);
  tcase_add_test(tc, test_passthrough_and_off);
  tcase_add_test(tc, test_set_mode);
  tcase_add_test(tc, test_map_contig);
  tcase_add_test(tc, test_many_mappings);
  suite_add_tcase(s, tc);
  TCase *tp = tcase_create("policy");
  tcase_set_timeout(tp, 60); /* about 4 s under the sanitizers: Check's default is 4 */
  tcase_add_test(tp, test_iotlb_set_associative_lru);
  tcase_add_test(tp, test_iotlb_matches_reference_lru);
  tcase_add_test(tp, test_iova_size_aligned_top_down);
  tcase_add_test(tp, test_iova_reuse_after_free);
  tcase_add_test(tp, test_iova_rcache_magazines);
  tcase_add_test(tp, test_iova_lazy_not_reused_before_flush);
  tcase_add_test(tp, test_iova_dma_mask_and_forcedac);
  tcase_add_test(tp, test_stale_translation_reported);
  tcase_add_test(tp, test_vtd_fault_reasons);
  tcase_add_test(tp, test_lazy_flush_is_domain_wide);
  tcase_add_test(tp, test_flush_timer_as_linux);
  suite_add_tcase(s, tp);
  TCase *tm = tcase_create("memo");
  tcase_set_timeout(tm, 120); /* the random histories: about 1 s alone, longer under sanitizers */
  tcase_add_test(tm, test_walk_memo_reads_the_leaf);
  tcase_add_test(tm, test_walk_memo_changes_nothing);
  suite_add_tcase(s, tm);
  return s;
}

int main(void) {
  Suite *s = iommu_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
