/*
 * test_pool.c: the host memory model of pool/: page_pool (alloc cache,
 * recycle ring, slow path, pages leaving the pool, the bound, destroy) and
 * fragments, and the driver's RX path (direct recycling from NAPI only) driven by the real NIC model: skb
 * labels in writable and read-only mode, AF_XDP UMEM accounting, zcrx
 * header/data split, per-packet mapping lifetime of fragment pages.
 * (The CPU cost figures are tested in test_cpu.c.)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "cpu.h"
#include "driver.h"
#include "flow.h"
#include "iommu.h"
#include "mem.h"
#include "nic.h"
#include "page_pool.h"
#include "simk.h"
#include "user.h"
#include "driver_rig.h"
#include "checker_rig.h"



static unsigned kind_at(struct mem *m, uint64_t paddr) {
  return mem_label(m, mem_peek_label_id(m, paddr))->prov.kind;
}

/* ---- page_pool ---- */

struct pp_rig {
  struct mem *m;
  struct iommu *io;
  struct cpu cpu;
  struct page_pool *pp;
};

static void pp_rig_init_p(struct pp_rig *r, const struct page_pool_params *p, int iommu_mode) {
  char err[256];
  r->m = mem_new(16ull << 20);
  struct iommu_params ip;
  iommu_params_default(&ip);
  ip.mode = iommu_mode;
  r->io = iommu_new(&ip);
  cpu_init(&r->cpu, 4.0);
  r->pp = page_pool_new(p, r->m, r->io, &r->cpu, err, sizeof err);
  ck_assert_msg(r->pp != NULL, "%s", err);
}

static void pp_rig_init(struct pp_rig *r, uint32_t pages, uint8_t clear) {
  struct page_pool_params p = {.pages = pages, .clear = clear, .rid = RID, .user_principal = -1};
  pp_rig_init_p(r, &p, IOMMU_STRICT);
}

static void pp_rig_free(struct pp_rig *r) {
  page_pool_free(r->pp);
  iommu_free(r->io);
  mem_free(r->m);
}

START_TEST(pool_recycles_lifo_and_starts_epochs) {
  struct pp_rig r;
  pp_rig_init(&r, 4, PP_CLEAR_NEVER);
  uint64_t a, b, c, io;
  ck_assert_int_eq(page_pool_alloc(r.pp, &a, &io), 0);
  ck_assert(io != 0); /* the pool keeps its pages mapped */
  ck_assert_int_eq(page_pool_alloc(r.pp, &b, &io), 0);
  ck_assert(a != b);
  uint64_t ea = mem_page_epoch(r.m, a);
  page_pool_put_page(r.pp, a, 1);
  page_pool_put_page(r.pp, b, 1);
  ck_assert_uint_eq(page_pool_available(r.pp), 4);
  /* Last recycled, first handed out (the alloc cache is a stack). */
  ck_assert_int_eq(page_pool_alloc(r.pp, &c, &io), 0);
  ck_assert_uint_eq(c, b);
  ck_assert_int_eq(page_pool_alloc(r.pp, &c, &io), 0);
  ck_assert_uint_eq(c, a);
  /* Each allocation is a new use of the page. */
  ck_assert(mem_page_epoch(r.m, a) > ea);
  /* A page is not recycled twice. */
  page_pool_put_page(r.pp, a, 1);
  page_pool_put_page(r.pp, a, 1);
  ck_assert_uint_eq(page_pool_available(r.pp), 3);
  pp_rig_free(&r);
}
END_TEST

START_TEST(pool_fragments_share_a_page_until_all_are_released) {
  struct pp_rig r;
  pp_rig_init(&r, 4, PP_CLEAR_NEVER);
  uint64_t p1, p2, p3, io1, io2, io3;
  uint32_t o1, o2, o3;
  /* 256 + 1500 bytes: rounded up to 64 -> 1792, two per page. */
  ck_assert_int_eq(page_pool_alloc_frag(r.pp, 1756, &p1, &o1, &io1), 0);
  uint64_t epoch = mem_page_epoch(r.m, p1);
  ck_assert_int_eq(page_pool_alloc_frag(r.pp, 1756, &p2, &o2, &io2), 0);
  ck_assert_uint_eq(p1, p2);
  ck_assert_uint_eq(io1, io2); /* one DMA mapping for the page */
  ck_assert_uint_eq(o1, 0);
  ck_assert_uint_eq(o2, 1792);
  ck_assert_uint_eq(o2 % PP_FRAG_ALIGN, 0);
  ck_assert_uint_eq(mem_page_epoch(r.m, p1), epoch); /* a fragment is not a new use of the page */
  /* The third does not fit: a new page; the first keeps its two fragments. */
  ck_assert_int_eq(page_pool_alloc_frag(r.pp, 1756, &p3, &o3, &io3), 0);
  ck_assert(p3 != p1);
  ck_assert_uint_eq(o3, 0);
  ck_assert_uint_eq(page_pool_page_refs(r.pp, p1), 2);
  ck_assert_uint_eq(page_pool_available(r.pp), 2);
  page_pool_put_page(r.pp, p1, 1);
  ck_assert_uint_eq(page_pool_available(r.pp), 2); /* one fragment still in use */
  page_pool_put_page(r.pp, p1, 1);
  ck_assert_uint_eq(page_pool_available(r.pp), 3);
  ck_assert_uint_eq(page_pool_page_refs(r.pp, p1), 0);
  /* More than half a page is not a fragment. */
  ck_assert_int_eq(page_pool_alloc_frag(r.pp, 2049, &p1, &o1, &io1), -1);
  /* The page comes back from the free list as a new allocation. */
  ck_assert_int_eq(page_pool_alloc_frag(r.pp, 1756, &p2, &o2, &io2), 0); /* p3's second */
  ck_assert_uint_eq(p2, p3);
  ck_assert_int_eq(page_pool_alloc_frag(r.pp, 1756, &p2, &o2, &io2), 0);
  ck_assert_uint_eq(p2, p1);
  ck_assert(mem_page_epoch(r.m, p1) > epoch);
  ck_assert_uint_eq(page_pool_stats(r.pp)->frag_allocs, 5);
  pp_rig_free(&r);
}
END_TEST

START_TEST(pool_enters_pages_lazily_through_the_slow_path) {
  struct pp_rig r;
  struct page_pool_params p = {.pages = 100, .clear = PP_CLEAR_ON_ENTRY, .rid = RID,
                               .user_principal = (int)APP, .user_mode = MEM_MAP_RO};
  pp_rig_init_p(&r, &p, IOMMU_STRICT);
  uint64_t ram = mem_pages_free(r.m);
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  /* Created empty: no page taken yet. */
  ck_assert_uint_eq(st->pages_entered, 0);
  ck_assert_uint_eq(page_pool_cached(r.pp) + page_pool_ring_count(r.pp), 0);
  ck_assert_uint_eq(page_pool_available(r.pp), 100);
  uint64_t a, io;
  ck_assert_int_eq(page_pool_alloc(r.pp, &a, &io), 0);
  /* One slow-path call brought a bulk of PP_ALLOC_CACHE_REFILL pages into
   * the cache (alloc_pages_bulk) and handed out the last. */
  ck_assert_uint_eq(st->alloc_slow, 1);
  ck_assert_uint_eq(st->pages_entered, PP_ALLOC_CACHE_REFILL);
  ck_assert_uint_eq(mem_pages_free(r.m), ram - PP_ALLOC_CACHE_REFILL);
  ck_assert_uint_eq(page_pool_cached(r.pp), PP_ALLOC_CACHE_REFILL - 1);
  ck_assert_uint_eq(st->in_pool, PP_ALLOC_CACHE_REFILL);
  /* Cleared on entry, DMA-mapped, mapped into the principal it is shared with. */
  ck_assert(io != 0);
  ck_assert_uint_eq(mem_page_dma_refs(r.m, a), 1);
  ck_assert_int_eq(mem_page_mapping(r.m, a, APP), MEM_MAP_RO);
  ck_assert_uint_eq(kind_at(r.m, (a << MEM_PAGE_SHIFT) + 100), MEM_LABEL_ZERO);
  ck_assert_uint_eq(st->clears, PP_ALLOC_CACHE_REFILL);
  ck_assert(r.cpu.cycles[CPU_IOMMU] > 0 && r.cpu.cycles[CPU_MAP] > 0);
  /* The rest of the bulk is the fast path. */
  ck_assert_int_eq(page_pool_alloc(r.pp, &a, &io), 0);
  ck_assert_uint_eq(st->alloc_fast, 1);
  ck_assert_uint_eq(st->alloc_slow, 1);
  pp_rig_free(&r);
}
END_TEST

START_TEST(pool_cache_is_lifo_ring_is_fifo_and_refills_64) {
  struct pp_rig r;
  pp_rig_init(&r, 256, PP_CLEAR_NEVER);
  uint64_t pg[256], io;
  for (int i = 0; i < 256; i++)
    ck_assert_int_eq(page_pool_alloc(r.pp, &pg[i], &io), 0);
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  ck_assert_uint_eq(st->alloc_slow, 4); /* four bulks of 64 */
  ck_assert_uint_eq(st->alloc_fast, 252);
  ck_assert_uint_eq(page_pool_cached(r.pp), 0);
  /* 100 pages come back outside NAPI: into the ring, in order. */
  for (int i = 0; i < 100; i++)
    page_pool_put_page(r.pp, pg[i], 0);
  ck_assert_uint_eq(page_pool_ring_count(r.pp), 100);
  ck_assert_uint_eq(st->recycle_ring, 100);
  ck_assert_uint_eq(st->recycle_cached, 0);
  /* The cache is empty: the refill moves the 64 oldest of the ring into it
   * and hands out the last moved (page_pool_refill_alloc_cache). */
  uint64_t x;
  ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), 0);
  ck_assert_uint_eq(x, pg[63]);
  ck_assert_uint_eq(st->alloc_refill, 1);
  ck_assert_uint_eq(page_pool_ring_count(r.pp), 36);
  ck_assert_uint_eq(page_pool_cached(r.pp), 63);
  ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), 0);
  ck_assert_uint_eq(x, pg[62]); /* then the cache, last in first out */
  ck_assert_uint_eq(st->alloc_fast, 253);
  /* A direct recycle (NAPI) goes on top of the cache. */
  page_pool_put_page(r.pp, pg[200], 1);
  ck_assert_uint_eq(st->recycle_cached, 1);
  ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), 0);
  ck_assert_uint_eq(x, pg[200]);
  /* Drain the cache: the next refill takes the ring's remaining 36, oldest first. */
  for (int i = 61; i >= 0; i--) {
    ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), 0);
    ck_assert_uint_eq(x, pg[i]);
  }
  ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), 0);
  ck_assert_uint_eq(x, pg[99]);
  ck_assert_uint_eq(st->alloc_refill, 2);
  ck_assert_uint_eq(page_pool_ring_count(r.pp), 0);
  /* Every allocation is a new epoch; nothing entered after the four bulks. */
  ck_assert_uint_eq(st->pages_entered, 256);
  ck_assert_uint_eq(st->allocs, 256 + 2 + 1 + 62 + 1);
  pp_rig_free(&r);
}
END_TEST

START_TEST(pool_direct_recycle_into_a_full_cache_goes_to_the_ring) {
  struct pp_rig r;
  struct page_pool_params p = {.pages = 16, .cache_size = 2, .ring_size = 8, .rid = RID,
                               .user_principal = -1};
  pp_rig_init_p(&r, &p, IOMMU_STRICT);
  uint64_t pg[4], io;
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(page_pool_alloc(r.pp, &pg[i], &io), 0);
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  ck_assert_uint_eq(st->alloc_slow, 2); /* the bulk is capped by the cache size */
  for (int i = 0; i < 3; i++)
    page_pool_put_page(r.pp, pg[i], 1);
  ck_assert_uint_eq(st->recycle_cached, 2);
  ck_assert_uint_eq(st->recycle_cache_full, 1);
  ck_assert_uint_eq(st->recycle_ring, 1);
  ck_assert_uint_eq(page_pool_cached(r.pp), 2);
  ck_assert_uint_eq(page_pool_ring_count(r.pp), 1);
  pp_rig_free(&r);
}
END_TEST

/* The checker, to see what a device write into a page that left the pool is. */
static const uint8_t pp_owners[1] = {OTHER};
static uint64_t pp_clock(void *ctx) {
  (void)ctx;
  return 0;
}
static struct checker *pp_checker(struct mem *m, struct policy *pol) {
  checker_rig_policy(pol);
  pol->flow_owner = pp_owners; /* one flow, other's */
  pol->nflows = 1;
  return checker_new(m, pol, pp_clock, NULL);
}

static void ring_full_leaves(int iommu_mode) {
  struct pp_rig r;
  struct page_pool_params p = {.pages = 8, .cache_size = 4, .ring_size = 2, .rid = RID,
                               .user_principal = (int)APP, .user_mode = MEM_MAP_RO};
  pp_rig_init_p(&r, &p, iommu_mode);
  struct policy pol;
  struct checker *ck = pp_checker(r.m, &pol);
  ck_assert_ptr_nonnull(ck);
  uint64_t pg[4], iova[4];
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(page_pool_alloc(r.pp, &pg[i], &iova[i]), 0);
  /* The device has used the last page: its IOTLB holds the translation. */
  uint64_t pa, lat;
  ck_assert_int_eq(iommu_translate(r.io, RID, iova[3], 1, 0, &pa, &lat), 0);
  ck_assert_uint_eq(pa >> MEM_PAGE_SHIFT, pg[3]);
  uint64_t ram = mem_pages_free(r.m);
  uint64_t iommu_before = r.cpu.cycles[CPU_IOMMU];
  for (int i = 0; i < 4; i++)
    page_pool_put_page(r.pp, pg[i], 0);
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  /* Two fit in the ring; the other two leave the pool. */
  ck_assert_uint_eq(st->recycle_ring, 2);
  ck_assert_uint_eq(st->recycle_ring_full, 2);
  ck_assert_uint_eq(st->released, 2);
  ck_assert_uint_eq(st->in_pool, 2);
  ck_assert(!page_pool_owns(r.pp, pg[3]));
  ck_assert(page_pool_owns(r.pp, pg[1]));
  /* Unmapped for the device and the user, and back in the page allocator
   * with what it held. */
  ck_assert_uint_eq(mem_page_dma_refs(r.m, pg[3]), 0);
  ck_assert_int_eq(mem_page_mapping(r.m, pg[3], APP), MEM_MAP_NONE);
  ck_assert_int_eq(mem_page_mapping(r.m, pg[1], APP), MEM_MAP_RO);
  ck_assert_uint_eq(mem_pages_free(r.m), ram + 2);
  ck_assert(r.cpu.cycles[CPU_IOMMU] > iommu_before); /* the unmaps are charged */
  /* A late device write through the old IOVA. */
  struct iommu_xlate x;
  int rc = iommu_translate2(r.io, RID, iova[3], 1, 0, &x);
  if (iommu_mode == IOMMU_STRICT) {
    ck_assert_int_eq(rc, -1); /* refused: the IOTLB entry was invalidated */
  } else {
    /* Lazy: the stale IOTLB entry still reaches the page, which nobody gave
     * the device any more. */
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(x.paddr >> MEM_PAGE_SHIFT, pg[3]);
    struct mem_accessor dev = {.actor = MEM_ACTOR_DEVICE, .id = RID};
    struct mem_prov pk = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = 0, .packet = 0};
    uint8_t data[64] = {0};
    ck_assert_int_eq(mem_write(r.m, dev, x.paddr, data, sizeof data, &pk), 0);
    ck_assert_uint_eq(checker_result(ck, PROP_DEVICE_WRITE_AFTER_UNMAP)->count, 1);
  }
  pp_rig_free(&r); /* the memory first: its observers (the checker) see the pool's last unmaps */
  checker_free(ck);
}

START_TEST(pool_page_leaves_when_the_ring_is_full_strict) { ring_full_leaves(IOMMU_STRICT); }
END_TEST

START_TEST(pool_page_leaves_when_the_ring_is_full_lazy) { ring_full_leaves(IOMMU_LAZY); }
END_TEST

START_TEST(pool_bound_fails_the_slow_path) {
  struct pp_rig r;
  pp_rig_init(&r, 5, PP_CLEAR_NEVER);
  uint64_t pg[5], x, io;
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(page_pool_alloc(r.pp, &pg[i], &io), 0);
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  ck_assert_uint_eq(st->pages_entered, 5); /* the bulk stops at the bound */
  ck_assert_uint_eq(page_pool_available(r.pp), 0);
  ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), -1);
  ck_assert_uint_eq(st->empty, 1);
  ck_assert_uint_eq(st->pages_entered, 5);
  /* A page back in the ring can be allocated again. */
  page_pool_put_page(r.pp, pg[2], 0);
  ck_assert_uint_eq(page_pool_available(r.pp), 1);
  ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), 0);
  ck_assert_uint_eq(x, pg[2]);
  ck_assert_uint_eq(st->in_pool_max, 5);
  pp_rig_free(&r);
}
END_TEST

START_TEST(pool_destroy_releases_what_it_keeps_and_counts_inflight) {
  struct pp_rig r;
  struct page_pool_params p = {.pages = 8, .rid = RID, .user_principal = (int)APP,
                               .user_mode = MEM_MAP_RO};
  pp_rig_init_p(&r, &p, IOMMU_STRICT);
  uint64_t pg[4], io;
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(page_pool_alloc(r.pp, &pg[i], &io), 0);
  page_pool_put_page(r.pp, pg[0], 0); /* in the ring */
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  ck_assert_uint_eq(st->pages_entered, 8);
  uint64_t ram = mem_pages_free(r.m);
  page_pool_destroy(r.pp);
  /* 4 in the cache and 1 in the ring released; 3 still out. */
  ck_assert_uint_eq(st->destroy_released, 5);
  ck_assert_uint_eq(st->released, 5);
  ck_assert_uint_eq(st->destroy_inflight, 3);
  ck_assert_uint_eq(mem_pages_free(r.m), ram + 5);
  ck_assert_uint_eq(mem_page_dma_refs(r.m, pg[0]), 0);
  ck_assert_int_eq(mem_page_mapping(r.m, pg[0], APP), MEM_MAP_NONE);
  /* in flight: page_pool_scrub unmapped it too (the device loses it now) */
  ck_assert_uint_eq(mem_page_dma_refs(r.m, pg[1]), 0);
  ck_assert_uint_eq(page_pool_available(r.pp), 0);
  uint64_t x;
  ck_assert_int_eq(page_pool_alloc(r.pp, &x, &io), -1);
  /* An in-flight page that comes back is released at once. */
  page_pool_put_page(r.pp, pg[1], 1);
  ck_assert_uint_eq(st->released, 6);
  ck_assert_uint_eq(mem_page_dma_refs(r.m, pg[1]), 0);
  ck_assert_int_eq(mem_page_mapping(r.m, pg[1], APP), MEM_MAP_NONE);
  ck_assert_uint_eq(mem_pages_free(r.m), ram + 6);
  page_pool_destroy(r.pp); /* idempotent */
  ck_assert_uint_eq(st->released, 6);
  pp_rig_free(&r);
}
END_TEST

START_TEST(pool_page_held_elsewhere_leaves_without_being_freed) {
  struct pp_rig r;
  pp_rig_init(&r, 8, PP_CLEAR_NEVER);
  uint64_t a, io;
  ck_assert_int_eq(page_pool_alloc(r.pp, &a, &io), 0);
  mem_page_set_holder(r.m, a, (int)APP);
  uint64_t ram = mem_pages_free(r.m);
  page_pool_put_page(r.pp, a, 1);
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  ck_assert_uint_eq(st->recycle_released_refcnt, 1);
  ck_assert_uint_eq(st->recycles, 0);
  ck_assert_uint_eq(st->released, 1);
  ck_assert(!page_pool_owns(r.pp, a));
  ck_assert_uint_eq(mem_page_dma_refs(r.m, a), 0);
  ck_assert_uint_eq(mem_pages_free(r.m), ram); /* the holder's reference keeps it */
  pp_rig_free(&r);
}
END_TEST

START_TEST(pool_clears_on_recycle_only_pages_it_keeps) {
  struct pp_rig r;
  struct page_pool_params p = {.pages = 8, .ring_size = 1, .clear = PP_CLEAR_ON_RECYCLE, .rid = RID,
                               .user_principal = -1};
  pp_rig_init_p(&r, &p, IOMMU_STRICT);
  uint64_t a, b, io;
  ck_assert_int_eq(page_pool_alloc(r.pp, &a, &io), 0);
  ck_assert_int_eq(page_pool_alloc(r.pp, &b, &io), 0);
  const struct page_pool_stats *st = page_pool_stats(r.pp);
  uint64_t clears = st->clears; /* on entry */
  struct mem_prov pk = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = 1, .packet = 7};
  uint8_t data[64] = {1};
  struct mem_accessor dev = {.actor = MEM_ACTOR_DEVICE, .id = RID};
  mem_write(r.m, dev, (b << MEM_PAGE_SHIFT) + 256, data, sizeof data, &pk);
  page_pool_put_page(r.pp, a, 0);
  page_pool_put_page(r.pp, b, 0); /* the ring is full: b leaves, with its packet */
  ck_assert_uint_eq(st->clears, clears + 1);
  ck_assert_uint_eq(kind_at(r.m, (b << MEM_PAGE_SHIFT) + 256), MEM_LABEL_PKT_PAYLOAD);
  pp_rig_free(&r);
}
END_TEST

/* ---- the driver on the NIC model ---- */

static void rig_init(struct rig *r, struct driver_params *dp) { rig_setup(r, dp); }

static void rig_free(struct rig *r) { rig_teardown(r); }

static void params(struct driver_params *dp, uint32_t ring) {
  memset(dp, 0, sizeof *dp);
  dp->queues = 1;
  dp->ring_size = ring;
  dp->buffer_size = 2048;
  dp->pool_pages = 64;
  dp->pool_clear = PP_CLEAR_ON_ENTRY;
  dp->hdr_buffer_size = 256;
  dp->app_map_mode = MEM_MAP_RO;
  dp->umem_chunk = 4096;
}

/* One frame of flow `flow`, len bytes, and the simulation run 20 us on;
 * ethertype 0x08XX (0x00: IPv4, 0x06: ARP, which the stack consumes). */
static void send_eth(struct rig *r, uint8_t ethertype_lo, uint8_t flow, uint32_t len) {
  uint8_t f[2048];
  memset(f, 0, sizeof f);
  f[12] = 0x08;
  f[13] = ethertype_lo;
  f[14] = 0x45;
  f[23] = 17;
  f[26] = 10, f[29] = 1;
  f[30] = 10, f[33] = flow;
  f[34] = 0x04, f[35] = 0xd2;
  f[36] = 0x13, f[37] = 0x89;
  for (uint32_t i = 42; i < len; i++)
    f[i] = (uint8_t)('a' + i % 26);
  struct flow_key key = {.af = FLOW_AF_INET, .proto = 17, .ethertype = 0x0800, .sport = 1234, .dport = 5001};
  key.src[0] = 10, key.src[3] = 1;
  key.dst[0] = 10, key.dst[3] = flow;
  struct nic_frame nf = {.data = f, .caplen = len, .wire_len = len, .hdr_len = 42, .flow = flow,
                         .index = r->index++, .key = &key};
  r->seen = 0;
  nic_rx_frame(r->n, &nf);
  simk_run_until(simk_now_ps() + 20000000ull);
}

static void send(struct rig *r, uint8_t flow, uint32_t len) { send_eth(r, 0x00, flow, len); }

struct kinds {
  struct mem *m;
  uint64_t by_kind[MEM_LABEL_KIND_COUNT];
};

static void count_run(void *ctx, uint64_t paddr, uint32_t len, uint32_t id) {
  (void)paddr;
  struct kinds *k = ctx;
  k->by_kind[mem_label(k->m, id)->prov.kind] += len;
}

static void page_kinds(struct mem *m, uint64_t pfn, struct kinds *k) {
  k->m = m;
  mem_label_runs(m, pfn << MEM_PAGE_SHIFT, MEM_PAGE_SIZE, count_run, k);
}

START_TEST(writable_skb_puts_shared_info_at_the_end_of_the_page) {
  struct driver_params dp;
  params(&dp, 16);
  struct rig r;
  rig_init(&r, &dp);
  send(&r, 1, 600);
  uint64_t pfn = r.dev_write_pfn;
  ck_assert(pfn != 0);
  ck_assert_uint_eq(kind_at(r.m, (pfn << 12) + MEM_PAGE_SIZE - DRIVER_SHINFO_BYTES), MEM_LABEL_KERNEL_PTR);
  ck_assert_uint_eq(kind_at(r.m, (pfn << 12) + MEM_PAGE_SIZE - 1), MEM_LABEL_KERNEL_PTR);
  /* no XDP program: build_skb headroom is NET_SKB_PAD (64 on x86-64) */
  ck_assert_uint_eq(driver_rx_headroom(&dp), 64);
  ck_assert_uint_eq(kind_at(r.m, (pfn << 12) + 64), MEM_LABEL_PKT_HEADER);
  ck_assert_uint_ne(kind_at(r.m, (pfn << 12) + 63), MEM_LABEL_PKT_HEADER);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 1);
  /* skb_shared_info as Linux lays it out: dataref 1 at 32, destructor_arg at 40 */
  uint8_t si[DRIVER_SHINFO_BYTES];
  ck_assert_int_eq(mem_peek(r.m, (pfn << 12) + MEM_PAGE_SIZE - DRIVER_SHINFO_BYTES, si, sizeof si), 0);
  uint32_t dataref;
  uint64_t darg;
  memcpy(&dataref, si + 32, 4);
  memcpy(&darg, si + 40, 8);
  ck_assert_uint_eq(dataref, 1);
  ck_assert_uint_eq(darg >> 32, 0xffff8881u);
  /* with an XDP program attached the headroom is XDP_PACKET_HEADROOM */
  dp.xdp_attached = 1;
  ck_assert_uint_eq(driver_rx_headroom(&dp), 256);
  dp.xdp_attached = 0;
  dp.zero_copy = 1;
  ck_assert_uint_eq(driver_rx_headroom(&dp), 256);
  rig_free(&r);
}
END_TEST

START_TEST(readonly_skb_leaves_nothing_kernel_in_the_page) {
  struct driver_params dp;
  params(&dp, 16);
  dp.skb_readonly = 1;
  struct rig r;
  rig_init(&r, &dp);
  send(&r, 1, 600);
  struct kinds k = {0};
  page_kinds(r.m, r.dev_write_pfn, &k);
  ck_assert_uint_eq(k.by_kind[MEM_LABEL_KERNEL_PTR] + k.by_kind[MEM_LABEL_KERNEL_META] +
                        k.by_kind[MEM_LABEL_KERNEL_PRESIM], 0);
  ck_assert_uint_eq(k.by_kind[MEM_LABEL_PKT_HEADER], 42);
  ck_assert_uint_eq(k.by_kind[MEM_LABEL_PKT_PAYLOAD], 600 - 42);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 1);
  rig_free(&r);
}
END_TEST

START_TEST(writable_skb_on_fragments_puts_shared_info_at_the_end_of_each) {
  struct driver_params dp;
  params(&dp, 16);
  dp.buffer_size = 1024;
  dp.pool_frag = 1;
  struct rig r;
  rig_init(&r, &dp);
  uint32_t fs = driver_frag_size(1024, 0, driver_rx_headroom(&dp));
  ck_assert_uint_eq(fs, 1408); /* 64 + 1024 + 320, a multiple of 64 */
  ck_assert_uint_eq(driver_frag_size(1024, 0, 256), 1600);
  send(&r, 1, 600);
  uint64_t pfn = r.dev_write_pfn;
  send(&r, 2, 600);
  ck_assert_uint_eq(r.dev_write_pfn, pfn); /* the second fragment of the same page */
  ck_assert_uint_eq(kind_at(r.m, (pfn << 12) + fs - DRIVER_SHINFO_BYTES), MEM_LABEL_KERNEL_PTR);
  ck_assert_uint_eq(kind_at(r.m, (pfn << 12) + 2 * fs - DRIVER_SHINFO_BYTES), MEM_LABEL_KERNEL_PTR);
  ck_assert_uint_eq(kind_at(r.m, (pfn << 12) + fs + 64), MEM_LABEL_PKT_HEADER);
  ck_assert_uint_eq(kind_at(r.m, (pfn << 12) + MEM_PAGE_SIZE - 1), MEM_LABEL_ZERO);
  rig_free(&r);
}
END_TEST

START_TEST(per_packet_mapping_lasts_while_the_app_holds_a_fragment) {
  struct driver_params dp;
  params(&dp, 16);
  dp.buffer_size = 1536;
  dp.skb_readonly = 1;
  dp.pool_frag = 1;
  dp.zero_copy = 1;
  dp.zc_queues = 1;
  dp.app_map_per_packet = 1;
  dp.app_hold_ps = 30000000ull; /* 30 us */
  struct rig r;
  rig_init(&r, &dp);
  send(&r, 0, 600); /* the app's: its page is mapped and held */
  uint64_t pfn = r.dev_write_pfn;
  ck_assert_int_eq(mem_page_mapping(r.m, pfn, APP), MEM_MAP_RO);
  ck_assert_uint_eq(driver_app_refs(r.d, pfn), 1);
  send(&r, 0, 600); /* the page's second fragment, handed over while the first is held */
  ck_assert_uint_eq(r.dev_write_pfn, pfn);
  /* 40 us after the first: the first is back, the second still held, and
   * the page was mapped once for both. */
  ck_assert_int_eq(mem_page_mapping(r.m, pfn, APP), MEM_MAP_RO);
  ck_assert_uint_eq(driver_app_refs(r.d, pfn), 1);
  ck_assert_int_eq(mem_page_holder(r.m, pfn), (int)APP);
  simk_run_until(simk_now_ps() + 40000000ull);
  ck_assert_int_eq(mem_page_mapping(r.m, pfn, APP), MEM_MAP_NONE);
  ck_assert_int_eq(mem_page_holder(r.m, pfn), -1);
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->app_maps, 1);
  ck_assert_uint_eq(st->app_unmaps, 1);
  ck_assert_uint_eq(user_stats(r.users[APP])->packets, 2);
  rig_free(&r);
}
END_TEST

START_TEST(driver_recycles_directly_only_from_napi) {
  struct driver_params dp;
  params(&dp, 16);
  dp.recv_delay_ps = 5000000ull; /* 5 us to the recipient's recvmsg */
  struct rig r;
  rig_init(&r, &dp);
  const struct page_pool_stats *st = driver_pool_stats(r.d, 0);
  ck_assert_uint_eq(st->pages_entered, 64); /* the ring's 15 buffers came from one bulk */
  /* A frame the kernel consumes within the poll (ARP): direct, into the cache. */
  send_eth(&r, 0x06, 1, 60);
  ck_assert_uint_eq(driver_stats(r.d)->kernel_packets, 1);
  ck_assert_uint_eq(st->recycle_cached, 1);
  ck_assert_uint_eq(st->recycle_ring, 0);
  /* A frame for a socket: its page comes back from recvmsg, later, through the ring. */
  send(&r, 1, 600);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 1);
  ck_assert_uint_eq(st->recycle_cached, 1);
  ck_assert_uint_eq(st->recycle_ring, 1);
  rig_free(&r);
}
END_TEST

START_TEST(driver_zero_copy_returns_go_through_the_ring) {
  struct driver_params dp;
  params(&dp, 16);
  dp.zero_copy = 1;
  dp.zc_queues = 1;
  dp.app_hold_ps = 10000000ull; /* 10 us */
  struct rig r;
  rig_init(&r, &dp);
  const struct page_pool_stats *st = driver_pool_stats(r.d, 0);
  send(&r, 0, 600);
  ck_assert_uint_eq(driver_stats(r.d)->zc_packets, 1);
  ck_assert_uint_eq(st->recycle_ring, 1);
  ck_assert_uint_eq(st->recycle_cached, 0);
  /* Mapped into the application while in the pool (persistent). */
  ck_assert_int_eq(mem_page_mapping(r.m, r.dev_write_pfn, APP), MEM_MAP_RO);
  driver_destroy_pools(r.d);
  ck_assert_int_eq(mem_page_mapping(r.m, r.dev_write_pfn, APP), MEM_MAP_NONE);
  ck_assert_uint_eq(st->destroy_inflight, 15); /* the posted buffers */
  ck_assert_uint_eq(st->destroy_released + st->destroy_inflight, st->pages_entered);
  rig_free(&r);
}
END_TEST

static void check_chunks(struct rig *r) {
  struct driver_umem_state u;
  ck_assert_int_eq(driver_umem_state(r->d, &u), 0);
  ck_assert_uint_eq(u.fill + u.free_list + u.posted + u.held, u.chunks);
}

START_TEST(af_xdp_rings_balance_and_lose_no_chunk) {
  struct driver_params dp;
  params(&dp, 16);
  dp.xsk_mode = DRIVER_XSK_AF_XDP;
  dp.xsk_queue = 0;
  dp.umem_chunk = 2048;
  dp.buffer_size = 1792;
  dp.app_hold_ps = 50000000ull; /* 50 us */
  struct rig r;
  rig_init(&r, &dp);
  struct driver_umem_state u;
  ck_assert_int_eq(driver_umem_state(r.d, &u), 0);
  ck_assert_uint_eq(u.chunks, 24); /* 16 descriptors + 50%, two chunks a page */
  ck_assert_uint_eq(u.posted, 15);
  uint32_t npages;
  const uint64_t *pages = driver_umem_pages(r.d, &npages);
  ck_assert_uint_eq(npages, 12);
  ck_assert_int_eq(mem_page_mapping(r.m, pages[0], APP), MEM_MAP_RW);
  ck_assert_uint_eq(mem_page_dma_refs(r.m, pages[0]), 1);
  check_chunks(&r);
  for (unsigned i = 0; i < 40; i++) {
    send(&r, i % 2 ? 1 : 0, 300 + 20 * i);
    check_chunks(&r);
  }
  simk_run_until(simk_now_ps() + 200000000ull);
  check_chunks(&r);
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->rx_ring, 20);       /* the app's frames, redirected in place */
  ck_assert_uint_eq(st->fill_ring_returns, 20); /* all given back through the fill ring */
  ck_assert_uint_eq(st->copy_out_packets, 20); /* XDP_PASS: copied out */
  ck_assert_uint_eq(st->xsk_buff_free, 20);
  ck_assert_uint_eq(st->fill_ring + st->free_list_reuse, st->rx_descriptors + 15);
  ck_assert_uint_eq(user_stats(r.users[APP])->packets, 20);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 20);
  /* Every frame landed in the UMEM first, headers and all. */
  ck_assert(st->umem_written[MEM_LABEL_PKT_HEADER] == 40 * 42);
  ck_assert_int_eq(driver_umem_state(r.d, &u), 0);
  ck_assert_uint_eq(u.held, 0);
  rig_free(&r);
}
END_TEST

START_TEST(af_xdp_empty_fill_ring_starves_the_queue) {
  struct driver_params dp;
  params(&dp, 16);
  dp.xsk_mode = DRIVER_XSK_AF_XDP;
  dp.umem_pages = 18;
  dp.app_hold_ps = 1000000000000ull; /* holds everything */
  struct rig r;
  rig_init(&r, &dp);
  for (unsigned i = 0; i < 20; i++)
    send(&r, 0, 200);
  check_chunks(&r);
  ck_assert_int_eq(driver_pool_empty(r.d, 0), 1);
  ck_assert_uint_eq(mem_pages_held(r.m, APP), 18);
  ck_assert(nic_queue_stats(r.n, 0)->drop_no_desc > 0);
  rig_free(&r);
}
END_TEST

START_TEST(zcrx_keeps_headers_out_of_app_pages) {
  struct driver_params dp;
  params(&dp, 16);
  dp.header_split = 1;
  dp.xsk_mode = DRIVER_XSK_ZCRX;
  struct rig r;
  rig_init(&r, &dp);
  for (unsigned i = 0; i < 10; i++)
    send(&r, 0, 1000);
  simk_run_until(simk_now_ps() + 100000000ull);
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->split_frames, 10);
  ck_assert_uint_eq(st->zc_packets, 10);
  ck_assert_uint_eq(st->copy_out_packets, 0);
  ck_assert_uint_eq(st->umem_written[MEM_LABEL_PKT_HEADER], 0);
  ck_assert_uint_eq(st->umem_written[MEM_LABEL_PKT_PAYLOAD], 10 * (1000 - 42));
  uint32_t npages;
  const uint64_t *pages = driver_umem_pages(r.d, &npages);
  struct kinds k = {0};
  for (uint32_t i = 0; i < npages; i++)
    page_kinds(r.m, pages[i], &k);
  ck_assert_uint_eq(k.by_kind[MEM_LABEL_PKT_HEADER], 0);
  ck_assert_uint_eq(k.by_kind[MEM_LABEL_KERNEL_PTR] + k.by_kind[MEM_LABEL_KERNEL_META], 0);
  ck_assert(k.by_kind[MEM_LABEL_PKT_PAYLOAD] > 0);
  ck_assert_uint_eq(user_stats(r.users[APP])->packets, 10);
  /* Another flow on the queue: its payload is copied out to the kernel. */
  send(&r, 3, 1000);
  simk_run_until(simk_now_ps() + 100000000ull);
  ck_assert_uint_eq(st->copy_out_packets, 1);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 1);
  check_chunks(&r);
  rig_free(&r);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("pool");
  TCase *tc = tcase_create("page_pool");
  tcase_add_test(tc, pool_recycles_lifo_and_starts_epochs);
  tcase_add_test(tc, pool_fragments_share_a_page_until_all_are_released);
  tcase_add_test(tc, pool_enters_pages_lazily_through_the_slow_path);
  tcase_add_test(tc, pool_cache_is_lifo_ring_is_fifo_and_refills_64);
  tcase_add_test(tc, pool_direct_recycle_into_a_full_cache_goes_to_the_ring);
  tcase_add_test(tc, pool_page_leaves_when_the_ring_is_full_strict);
  tcase_add_test(tc, pool_page_leaves_when_the_ring_is_full_lazy);
  tcase_add_test(tc, pool_bound_fails_the_slow_path);
  tcase_add_test(tc, pool_destroy_releases_what_it_keeps_and_counts_inflight);
  tcase_add_test(tc, pool_page_held_elsewhere_leaves_without_being_freed);
  tcase_add_test(tc, pool_clears_on_recycle_only_pages_it_keeps);
  suite_add_tcase(s, tc);
  tc = tcase_create("driver");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, writable_skb_puts_shared_info_at_the_end_of_the_page);
  tcase_add_test(tc, readonly_skb_leaves_nothing_kernel_in_the_page);
  tcase_add_test(tc, writable_skb_on_fragments_puts_shared_info_at_the_end_of_each);
  tcase_add_test(tc, per_packet_mapping_lasts_while_the_app_holds_a_fragment);
  tcase_add_test(tc, driver_recycles_directly_only_from_napi);
  tcase_add_test(tc, driver_zero_copy_returns_go_through_the_ring);
  tcase_add_test(tc, af_xdp_rings_balance_and_lose_no_chunk);
  tcase_add_test(tc, af_xdp_empty_fill_ring_starves_the_queue);
  tcase_add_test(tc, zcrx_keeps_headers_out_of_app_pages);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
