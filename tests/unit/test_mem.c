/*
 * sim/core/mem: labelled simulated physical memory (mem.h).
 *
 * Labels are byte-exact and survive copies (same provenance, re-stamped with
 * the destination page's epoch, writer and time); clearing (mem_fill with no
 * provenance) gives label id 0; untouched pages hold pre-simulation kernel
 * data; user accesses go through the principal's mapping; observers see every
 * access and mapping/epoch change; the page allocator is LIFO; the label
 * table reclaims ids no byte refers to; addresses past the end are refused.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#define PG MEM_PAGE_SIZE

static const struct mem_accessor KERNEL = {.actor = MEM_ACTOR_KERNEL, .id = 0};
static const struct mem_accessor DEVICE = {.actor = MEM_ACTOR_DEVICE, .id = 0x0100};

static struct mem_accessor user(unsigned p) {
  struct mem_accessor a = {.actor = MEM_ACTOR_USER, .id = (uint16_t)p};
  return a;
}

static struct mem_prov pkt(uint8_t kind, uint32_t flow, uint64_t packet) {
  struct mem_prov p = {.kind = kind, .flow = flow, .packet = packet};
  return p;
}

static const struct mem_label *lab_at(struct mem *m, uint64_t paddr) {
  return mem_label(m, mem_peek_label_id(m, paddr));
}

static uint64_t clock_now;
static uint64_t test_clock(void *ctx) {
  (void)ctx;
  return clock_now;
}

/* Asserts that every byte of [a, b) carries label id `id`. */
static void assert_ids(struct mem *m, uint64_t a, uint64_t b, uint32_t id) {
  for (uint64_t x = a; x < b; x++)
    ck_assert_msg(mem_peek_label_id(m, x) == id, "paddr 0x%llx: label id %u, expected %u",
                  (unsigned long long)x, mem_peek_label_id(m, x), id);
}

/* Asserts that every byte of [a, b) carries a packet label of (kind, packet). */
static void assert_pkt(struct mem *m, uint64_t a, uint64_t b, uint8_t kind, uint64_t packet) {
  for (uint64_t x = a; x < b; x++) {
    const struct mem_label *l = lab_at(m, x);
    ck_assert_msg(l->prov.kind == kind && l->prov.packet == packet,
                  "paddr 0x%llx: kind %u packet %llu, expected kind %u packet %llu",
                  (unsigned long long)x, l->prov.kind, (unsigned long long)l->prov.packet, kind,
                  (unsigned long long)packet);
  }
}

/* ---- creation ---- */

START_TEST(test_new_sizes) {
  ck_assert_ptr_null(mem_new(0));
  struct mem *m = mem_new(1);
  ck_assert_ptr_nonnull(m);
  ck_assert_uint_eq(mem_pages(m), 1);
  mem_free(m);
  m = mem_new(PG + 1);
  ck_assert_uint_eq(mem_pages(m), 2);
  mem_free(m);
  m = mem_new(16 * PG);
  ck_assert_uint_eq(mem_pages(m), 16);
  ck_assert_uint_eq(mem_pages_touched(m), 0);
  ck_assert_uint_eq(mem_labels_live(m), 1); /* the permanent zero label */
  ck_assert_uint_eq(mem_label_gc_runs(m), 0);
  ck_assert_uint_eq(mem_label(m, MEM_LABEL_ID_ZERO)->prov.kind, MEM_LABEL_ZERO);
  mem_free(m);
  mem_free(NULL);
}
END_TEST

/* ---- untouched pages ---- */

START_TEST(test_untouched_presim) {
  struct mem *m = mem_new(8 * PG);
  const struct mem_label *l = lab_at(m, 3 * PG + 100);
  ck_assert_uint_eq(l->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(l->epoch, 0);
  ck_assert_uint_eq(l->writer.actor, MEM_ACTOR_KERNEL);
  /* The whole page is one run of one label. */
  uint32_t id = mem_peek_label_id(m, 3 * PG);
  ck_assert_uint_ne(id, MEM_LABEL_ID_ZERO);
  assert_ids(m, 3 * PG, 4 * PG, id);
  /* The recognisable pattern: every 8-byte word is a direct-map pointer
   * (0xffff888000000000 + physical address), little-endian. */
  uint8_t buf[PG];
  ck_assert_int_eq(mem_peek(m, 5 * PG, buf, PG), 0);
  for (uint32_t off = 0; off < PG; off += 8) {
    uint64_t v;
    memcpy(&v, buf + off, 8);
    ck_assert_uint_eq(v, 0xffff888000000000ull + 5 * PG + off);
  }
  /* A kernel read sees the same bytes, and it stays untouched-looking data. */
  uint8_t rd[16];
  ck_assert_int_eq(mem_read(m, KERNEL, 6 * PG + 8, rd, sizeof rd), 0);
  uint64_t w0, w1;
  memcpy(&w0, rd, 8);
  memcpy(&w1, rd + 8, 8);
  ck_assert_uint_eq(w0, 0xffff888000000000ull + 6 * PG + 8);
  ck_assert_uint_eq(w1, 0xffff888000000000ull + 6 * PG + 16);
  ck_assert_uint_eq(lab_at(m, 6 * PG + 8)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  /* Different pages, different pre-simulation data. */
  ck_assert_int_eq(mem_peek(m, 4 * PG, buf, 8), 0);
  memcpy(&w0, buf, 8);
  ck_assert_uint_eq(w0, 0xffff888000000000ull + 4 * PG);
  mem_free(m);
}
END_TEST

/* ---- writes, byte-exact labels ---- */

START_TEST(test_write_labels) {
  struct mem *m = mem_new(8 * PG);
  mem_set_clock(m, test_clock, NULL);
  clock_now = 123456;
  uint64_t e = mem_page_new_epoch(m, 1);
  uint8_t data[100];
  for (int i = 0; i < 100; i++)
    data[i] = (uint8_t)(i * 7 + 1);
  struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 3, 9);
  ck_assert_int_eq(mem_write(m, DEVICE, PG + 10, data, 100, &p), 0);
  uint8_t back[100];
  ck_assert_int_eq(mem_peek(m, PG + 10, back, 100), 0);
  ck_assert_mem_eq(back, data, 100);
  const struct mem_label *l = lab_at(m, PG + 10);
  ck_assert_uint_eq(l->prov.kind, MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(l->prov.flow, 3);
  ck_assert_uint_eq(l->prov.packet, 9);
  ck_assert_uint_eq(l->writer.actor, MEM_ACTOR_DEVICE);
  ck_assert_uint_eq(l->writer.id, 0x0100);
  ck_assert_uint_eq(l->epoch, e);
  ck_assert_uint_eq(l->time_ps, 123456);
  ck_assert_uint_eq(l->exposed, 0);
  uint32_t id = mem_peek_label_id(m, PG + 10);
  assert_ids(m, PG + 10, PG + 110, id);
  ck_assert_uint_eq(lab_at(m, PG + 9)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(lab_at(m, PG + 110)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(mem_pages_touched(m), 1);
  mem_free(m);
}
END_TEST

struct runs {
  int n;
  uint64_t paddr[16];
  uint32_t len[16];
  uint32_t id[16];
};
static void run_cb(void *ctx, uint64_t paddr, uint32_t len, uint32_t id) {
  struct runs *r = ctx;
  ck_assert_int_lt(r->n, 16);
  r->paddr[r->n] = paddr;
  r->len[r->n] = len;
  r->id[r->n] = id;
  r->n++;
}

START_TEST(test_partial_overwrite_mid_page) {
  struct mem *m = mem_new(8 * PG);
  uint64_t base = 2 * PG;
  uint8_t a[300], b[50];
  memset(a, 0xAA, sizeof a);
  memset(b, 0xBB, sizeof b);
  struct mem_prov pa = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 100);
  struct mem_prov pb = pkt(MEM_LABEL_PKT_HEADER, 2, 200);
  ck_assert_int_eq(mem_write(m, DEVICE, base + 100, a, 300, &pa), 0);
  uint32_t ida = mem_peek_label_id(m, base + 100);
  ck_assert_int_eq(mem_write(m, DEVICE, base + 200, b, 50, &pb), 0);
  uint32_t idb = mem_peek_label_id(m, base + 200);
  ck_assert_uint_ne(ida, idb);
  /* Outer labels intact, on both sides, with the same id; exact boundaries. */
  assert_ids(m, base + 100, base + 200, ida);
  assert_ids(m, base + 200, base + 250, idb);
  assert_ids(m, base + 250, base + 400, ida);
  ck_assert_uint_eq(lab_at(m, base + 99)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(lab_at(m, base + 400)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  assert_pkt(m, base + 100, base + 200, MEM_LABEL_PKT_PAYLOAD, 100);
  assert_pkt(m, base + 200, base + 250, MEM_LABEL_PKT_HEADER, 200);
  /* Data follows the same boundaries. */
  uint8_t d[302];
  ck_assert_int_eq(mem_peek(m, base + 99, d, 302), 0);
  ck_assert_uint_ne(d[0], 0xAA);
  for (int i = 1; i <= 100; i++)
    ck_assert_uint_eq(d[i], 0xAA);
  for (int i = 101; i <= 150; i++)
    ck_assert_uint_eq(d[i], 0xBB);
  for (int i = 151; i <= 300; i++)
    ck_assert_uint_eq(d[i], 0xAA);
  /* The runs of the page, as mem_label_runs reports them. */
  struct runs r = {0};
  mem_label_runs(m, base, PG, run_cb, &r);
  ck_assert_int_eq(r.n, 5);
  uint32_t lens[5] = {100, 100, 50, 150, PG - 400};
  uint32_t ids[5] = {r.id[0], ida, idb, ida, r.id[0]};
  uint64_t at = base;
  for (int i = 0; i < 5; i++) {
    ck_assert_uint_eq(r.paddr[i], at);
    ck_assert_uint_eq(r.len[i], lens[i]);
    ck_assert_uint_eq(r.id[i], ids[i]);
    at += lens[i];
  }
  /* A sub-range that starts and ends inside runs. */
  struct runs r2 = {0};
  mem_label_runs(m, base + 150, 120, run_cb, &r2);
  ck_assert_int_eq(r2.n, 3);
  ck_assert_uint_eq(r2.paddr[0], base + 150);
  ck_assert_uint_eq(r2.len[0], 50);
  ck_assert_uint_eq(r2.len[1], 50);
  ck_assert_uint_eq(r2.len[2], 20);
  ck_assert_uint_eq(r2.id[2], ida);
  mem_free(m);
}
END_TEST

START_TEST(test_partial_overwrite_across_pages) {
  struct mem *m = mem_new(8 * PG);
  uint64_t edge = 4 * PG; /* boundary between pages 3 and 4 */
  uint8_t c[100], d[20];
  memset(c, 0xC1, sizeof c);
  memset(d, 0xD2, sizeof d);
  struct mem_prov pc = pkt(MEM_LABEL_PKT_PAYLOAD, 5, 1);
  struct mem_prov pd = pkt(MEM_LABEL_PKT_PAYLOAD, 6, 2);
  ck_assert_int_eq(mem_write(m, DEVICE, edge - 50, c, 100, &pc), 0);
  ck_assert_int_eq(mem_write(m, DEVICE, edge - 10, d, 20, &pd), 0);
  assert_pkt(m, edge - 50, edge - 10, MEM_LABEL_PKT_PAYLOAD, 1);
  assert_pkt(m, edge - 10, edge + 10, MEM_LABEL_PKT_PAYLOAD, 2);
  assert_pkt(m, edge + 10, edge + 50, MEM_LABEL_PKT_PAYLOAD, 1);
  ck_assert_uint_eq(lab_at(m, edge - 51)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(lab_at(m, edge + 50)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  /* Each page has its own label record (epochs are per page). */
  ck_assert_uint_ne(mem_peek_label_id(m, edge - 1), mem_peek_label_id(m, edge));
  ck_assert_uint_eq(lab_at(m, edge - 1)->epoch, mem_page_epoch(m, 3));
  ck_assert_uint_eq(lab_at(m, edge)->epoch, mem_page_epoch(m, 4));
  uint8_t buf[102];
  ck_assert_int_eq(mem_peek(m, edge - 51, buf, 102), 0);
  ck_assert_uint_ne(buf[0], 0xC1);
  for (int i = 1; i <= 40; i++)
    ck_assert_uint_eq(buf[i], 0xC1);
  for (int i = 41; i <= 60; i++)
    ck_assert_uint_eq(buf[i], 0xD2);
  for (int i = 61; i <= 100; i++)
    ck_assert_uint_eq(buf[i], 0xC1);
  ck_assert_uint_ne(buf[101], 0xC1);
  mem_free(m);
}
END_TEST

/* ---- fill ---- */

START_TEST(test_fill) {
  struct mem *m = mem_new(8 * PG);
  ck_assert_int_eq(mem_fill(m, KERNEL, PG + 64, 0, 1000, NULL), 0);
  assert_ids(m, PG + 64, PG + 1064, MEM_LABEL_ID_ZERO);
  ck_assert_uint_eq(lab_at(m, PG + 64)->prov.kind, MEM_LABEL_ZERO);
  ck_assert_uint_eq(lab_at(m, PG + 63)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(lab_at(m, PG + 1064)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  uint8_t buf[1000];
  ck_assert_int_eq(mem_peek(m, PG + 64, buf, 1000), 0);
  for (int i = 0; i < 1000; i++)
    ck_assert_uint_eq(buf[i], 0);
  /* A whole page, then over a page boundary. */
  ck_assert_int_eq(mem_fill(m, KERNEL, 2 * PG - 8, 0, PG + 16, NULL), 0);
  assert_ids(m, 2 * PG - 8, 3 * PG + 8, MEM_LABEL_ID_ZERO);
  /* A fill with provenance: the byte and a fresh label. */
  struct mem_prov meta = {.kind = MEM_LABEL_KERNEL_META, .packet = 77};
  ck_assert_int_eq(mem_fill(m, KERNEL, 5 * PG + 16, 0xAB, 32, &meta), 0);
  const struct mem_label *l = lab_at(m, 5 * PG + 16);
  ck_assert_uint_eq(l->prov.kind, MEM_LABEL_KERNEL_META);
  ck_assert_uint_eq(l->prov.packet, 77);
  ck_assert_int_eq(mem_peek(m, 5 * PG + 16, buf, 32), 0);
  for (int i = 0; i < 32; i++)
    ck_assert_uint_eq(buf[i], 0xAB);
  /* Clearing over labelled bytes replaces them. */
  ck_assert_int_eq(mem_fill(m, KERNEL, 5 * PG + 20, 0, 4, NULL), 0);
  assert_ids(m, 5 * PG + 20, 5 * PG + 24, MEM_LABEL_ID_ZERO);
  ck_assert_uint_eq(lab_at(m, 5 * PG + 19)->prov.kind, MEM_LABEL_KERNEL_META);
  ck_assert_uint_eq(lab_at(m, 5 * PG + 24)->prov.kind, MEM_LABEL_KERNEL_META);
  /* A write without provenance is labelled "zero" too. */
  uint8_t z[8] = {0};
  ck_assert_int_eq(mem_write(m, KERNEL, 6 * PG, z, 8, NULL), 0);
  ck_assert_uint_eq(lab_at(m, 6 * PG)->prov.kind, MEM_LABEL_ZERO);
  mem_free(m);
}
END_TEST

/* ---- copy ---- */

START_TEST(test_copy_labels) {
  struct mem *m = mem_new(16 * PG);
  mem_set_clock(m, test_clock, NULL);
  uint64_t src_pfn, dst_pfn;
  ck_assert_int_eq(mem_page_alloc(m, &src_pfn), 0);
  ck_assert_int_eq(mem_page_alloc(m, &dst_pfn), 0);
  uint64_t es = mem_page_epoch(m, src_pfn), ed = mem_page_epoch(m, dst_pfn);
  ck_assert_uint_ne(es, ed);
  uint64_t s = src_pfn * PG, d = dst_pfn * PG;
  ck_assert_int_eq(mem_fill(m, KERNEL, s, 0, PG, NULL), 0);
  clock_now = 1000;
  uint8_t hdr[14], pay[86];
  memset(hdr, 0x11, sizeof hdr);
  memset(pay, 0x22, sizeof pay);
  struct mem_prov ph = pkt(MEM_LABEL_PKT_HEADER, 2, 5), pp = pkt(MEM_LABEL_PKT_PAYLOAD, 2, 5);
  ck_assert_int_eq(mem_write(m, DEVICE, s, hdr, 14, &ph), 0);
  ck_assert_int_eq(mem_write(m, DEVICE, s + 14, pay, 86, &pp), 0);
  struct mem_prov pu = {.kind = MEM_LABEL_USER, .principal = 4, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_fill(m, KERNEL, s + 110, 0x33, 10, &pu), 0);

  clock_now = 5000;
  struct mem_accessor cpu3 = {.actor = MEM_ACTOR_KERNEL, .id = 3};
  /* [0,100) packet, [100,110) cleared, [110,120) user data */
  ck_assert_int_eq(mem_copy(m, cpu3, d + 200, s, 120), 0);
  uint8_t a[120], b[120];
  ck_assert_int_eq(mem_peek(m, s, a, 120), 0);
  ck_assert_int_eq(mem_peek(m, d + 200, b, 120), 0);
  ck_assert_mem_eq(a, b, 120);
  for (uint64_t i = 0; i < 120; i++) {
    const struct mem_label *sl = lab_at(m, s + i);
    const struct mem_label *dl = lab_at(m, d + 200 + i);
    if (i >= 100 && i < 110) {
      ck_assert_uint_eq(mem_peek_label_id(m, d + 200 + i), MEM_LABEL_ID_ZERO);
      continue;
    }
    /* Same provenance ... */
    ck_assert_uint_eq(dl->prov.kind, sl->prov.kind);
    ck_assert_uint_eq(dl->prov.flow, sl->prov.flow);
    ck_assert_uint_eq(dl->prov.packet, sl->prov.packet);
    ck_assert_uint_eq(dl->prov.principal, sl->prov.principal);
    /* ... re-stamped with the destination's epoch, the copier and the time. */
    ck_assert_uint_eq(dl->epoch, ed);
    ck_assert_uint_eq(dl->writer.actor, MEM_ACTOR_KERNEL);
    ck_assert_uint_eq(dl->writer.id, 3);
    ck_assert_uint_eq(dl->time_ps, 5000);
    /* The source is unchanged. */
    ck_assert_uint_eq(sl->epoch, es);
    ck_assert_uint_eq(sl->writer.actor, i < 100 ? MEM_ACTOR_DEVICE : MEM_ACTOR_KERNEL);
    ck_assert_uint_eq(sl->time_ps, 1000);
  }
  ck_assert_uint_eq(lab_at(m, d + 200)->prov.kind, MEM_LABEL_PKT_HEADER);
  ck_assert_uint_eq(lab_at(m, d + 213)->prov.kind, MEM_LABEL_PKT_HEADER);
  ck_assert_uint_eq(lab_at(m, d + 214)->prov.kind, MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(lab_at(m, d + 310)->prov.kind, MEM_LABEL_USER);
  ck_assert_uint_eq(lab_at(m, d + 310)->prov.principal, 4);
  /* Around the copy the destination is untouched (pre-simulation data). */
  ck_assert_uint_eq(lab_at(m, d + 199)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(lab_at(m, d + 320)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  mem_free(m);
}
END_TEST

START_TEST(test_copy_across_pages) {
  struct mem *m = mem_new(16 * PG);
  uint64_t sp, dp;
  ck_assert_int_eq(mem_page_alloc_contig(m, 2, &sp), 0);
  ck_assert_int_eq(mem_page_alloc_contig(m, 2, &dp), 0);
  /* Source: 300 bytes from 96 before its page boundary, three packets. */
  uint64_t s = sp * PG + PG - 96, d = dp * PG + PG - 200;
  uint8_t buf[300];
  for (int i = 0; i < 300; i++)
    buf[i] = (uint8_t)i;
  struct mem_prov p1 = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 1), p2 = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 2),
                  p3 = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 3);
  ck_assert_int_eq(mem_write(m, DEVICE, s, buf, 50, &p1), 0);
  ck_assert_int_eq(mem_write(m, DEVICE, s + 50, buf + 50, 100, &p2), 0); /* crosses */
  ck_assert_int_eq(mem_write(m, DEVICE, s + 150, buf + 150, 150, &p3), 0);
  ck_assert_int_eq(mem_copy(m, KERNEL, d, s, 300), 0);
  uint8_t back[300];
  ck_assert_int_eq(mem_peek(m, d, back, 300), 0);
  ck_assert_mem_eq(back, buf, 300);
  assert_pkt(m, d, d + 50, MEM_LABEL_PKT_PAYLOAD, 1);
  assert_pkt(m, d + 50, d + 150, MEM_LABEL_PKT_PAYLOAD, 2);
  assert_pkt(m, d + 150, d + 300, MEM_LABEL_PKT_PAYLOAD, 3);
  for (uint64_t i = 0; i < 300; i++) {
    uint64_t pfn = (d + i) / PG;
    ck_assert_uint_eq(lab_at(m, d + i)->epoch, mem_page_epoch(m, pfn));
  }
  ck_assert_uint_ne(mem_page_epoch(m, dp), mem_page_epoch(m, dp + 1));
  mem_free(m);
}
END_TEST

/* ---- epochs ---- */

START_TEST(test_epochs) {
  struct mem *m = mem_new(8 * PG);
  ck_assert_uint_eq(mem_page_epoch(m, 2), 0);
  uint64_t e1 = mem_page_new_epoch(m, 2);
  ck_assert_uint_gt(e1, 0);
  ck_assert_uint_eq(mem_page_epoch(m, 2), e1);
  struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 1);
  uint8_t x[10] = {0};
  ck_assert_int_eq(mem_write(m, DEVICE, 2 * PG, x, 10, &p), 0);
  ck_assert_uint_eq(lab_at(m, 2 * PG)->epoch, e1);
  uint64_t e2 = mem_page_new_epoch(m, 2);
  ck_assert_uint_gt(e2, e1);
  ck_assert_uint_eq(mem_page_epoch(m, 2), e2);
  /* Labels written before keep the old epoch; new writes get the new one. */
  ck_assert_uint_eq(lab_at(m, 2 * PG)->epoch, e1);
  ck_assert_int_eq(mem_write(m, DEVICE, 2 * PG + 100, x, 10, &p), 0);
  ck_assert_uint_eq(lab_at(m, 2 * PG + 100)->epoch, e2);
  ck_assert_uint_eq(lab_at(m, 2 * PG)->epoch, e1);
  /* One global counter: another page's next epoch is later still. */
  uint64_t e3 = mem_page_new_epoch(m, 5);
  ck_assert_uint_gt(e3, e2);
  ck_assert_uint_eq(mem_page_epoch(m, 2), e2);
  ck_assert_uint_eq(mem_page_epoch(m, 6), 0);
  /* Out of range. */
  ck_assert_uint_eq(mem_page_new_epoch(m, 8), 0);
  ck_assert_uint_eq(mem_page_epoch(m, 8), 0);
  mem_free(m);
}
END_TEST

/* ---- observers ---- */

#define MAXEV 64
struct obs_log {
  int nbefore, naccess, nmap, nepoch;
  struct {
    struct mem_access a;
    uint8_t kind; /* label kind at a.paddr when called */
    uint64_t packet;
  } before[MAXEV], access[MAXEV];
  struct {
    uint64_t pfn;
    unsigned principal;
    int old_mode, new_mode;
  } map[MAXEV];
  struct {
    uint64_t pfn, old_epoch, new_epoch;
  } epoch[MAXEV];
};

static void ob_before(void *ctx, struct mem *m, const struct mem_access *a) {
  struct obs_log *o = ctx;
  ck_assert_int_lt(o->nbefore, MAXEV);
  o->before[o->nbefore].a = *a;
  const struct mem_label *l = mem_label(m, mem_peek_label_id(m, a->paddr));
  o->before[o->nbefore].kind = l->prov.kind;
  o->before[o->nbefore].packet = l->prov.packet;
  o->nbefore++;
}
static void ob_access(void *ctx, struct mem *m, const struct mem_access *a) {
  struct obs_log *o = ctx;
  ck_assert_int_lt(o->naccess, MAXEV);
  o->access[o->naccess].a = *a;
  const struct mem_label *l = mem_label(m, mem_peek_label_id(m, a->paddr));
  o->access[o->naccess].kind = l->prov.kind;
  o->access[o->naccess].packet = l->prov.packet;
  o->naccess++;
}
static void ob_map(void *ctx, struct mem *m, uint64_t pfn, unsigned principal,
                   enum mem_map_mode old_mode, enum mem_map_mode new_mode) {
  struct obs_log *o = ctx;
  ck_assert_int_lt(o->nmap, MAXEV);
  /* Called after the change took effect. */
  ck_assert_int_eq(mem_page_mapping(m, pfn, principal), new_mode);
  o->map[o->nmap].pfn = pfn;
  o->map[o->nmap].principal = principal;
  o->map[o->nmap].old_mode = old_mode;
  o->map[o->nmap].new_mode = new_mode;
  o->nmap++;
}
static void ob_epoch(void *ctx, struct mem *m, uint64_t pfn, uint64_t old_epoch, uint64_t new_epoch) {
  struct obs_log *o = ctx;
  ck_assert_int_lt(o->nepoch, MAXEV);
  ck_assert_uint_eq(mem_page_epoch(m, pfn), new_epoch);
  o->epoch[o->nepoch].pfn = pfn;
  o->epoch[o->nepoch].old_epoch = old_epoch;
  o->epoch[o->nepoch].new_epoch = new_epoch;
  o->nepoch++;
}

static struct mem *observed(struct obs_log *o, uint64_t pages) {
  memset(o, 0, sizeof *o);
  struct mem *m = mem_new(pages * PG);
  struct mem_observer ob = {.ctx = o, .before_write = ob_before, .access = ob_access,
                            .map = ob_map, .epoch = ob_epoch};
  ck_assert_int_eq(mem_add_observer(m, &ob), 0);
  return m;
}

START_TEST(test_observer_write_sees_old_then_new) {
  struct obs_log o;
  struct mem *m = observed(&o, 8);
  struct mem_prov p1 = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 11), p2 = pkt(MEM_LABEL_PKT_HEADER, 2, 22);
  uint8_t x[64] = {0};
  ck_assert_int_eq(mem_write(m, DEVICE, PG, x, 64, &p1), 0);
  ck_assert_int_eq(o.nbefore, 1);
  ck_assert_int_eq(o.naccess, 1);
  ck_assert_uint_eq(o.before[0].kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(o.access[0].kind, MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(o.access[0].a.op, MEM_OP_WRITE);
  ck_assert_uint_eq(o.access[0].a.denied, 0);
  ck_assert_uint_eq(o.access[0].a.paddr, PG);
  ck_assert_uint_eq(o.access[0].a.len, 64);
  ck_assert_uint_eq(o.access[0].a.who.actor, MEM_ACTOR_DEVICE);
  ck_assert_uint_eq(o.access[0].a.who.id, 0x0100);
  ck_assert_int_eq(mem_write(m, DEVICE, PG, x, 64, &p2), 0);
  ck_assert_uint_eq(o.before[1].kind, MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(o.before[1].packet, 11);
  ck_assert_uint_eq(o.access[1].kind, MEM_LABEL_PKT_HEADER);
  ck_assert_uint_eq(o.access[1].packet, 22);
  /* A fill: op FILL; the clear is visible after, not before. */
  ck_assert_int_eq(mem_fill(m, KERNEL, PG, 0, 64, NULL), 0);
  ck_assert_uint_eq(o.before[2].a.op, MEM_OP_FILL);
  ck_assert_uint_eq(o.before[2].kind, MEM_LABEL_PKT_HEADER);
  ck_assert_uint_eq(o.access[2].a.op, MEM_OP_FILL);
  ck_assert_uint_eq(o.access[2].kind, MEM_LABEL_ZERO);
  /* A write across a page boundary: one access per page, none crossing. */
  uint8_t y[100] = {0};
  ck_assert_int_eq(mem_write(m, KERNEL, 3 * PG - 30, y, 100, &p1), 0);
  ck_assert_int_eq(o.naccess, 5);
  ck_assert_uint_eq(o.access[3].a.paddr, 3 * PG - 30);
  ck_assert_uint_eq(o.access[3].a.len, 30);
  ck_assert_uint_eq(o.access[4].a.paddr, 3 * PG);
  ck_assert_uint_eq(o.access[4].a.len, 70);
  /* A copy: before sees the destination's old labels, access the new. */
  ck_assert_int_eq(mem_copy(m, KERNEL, 5 * PG, PG + 100, 10), 0); /* presim -> presim */
  ck_assert_int_eq(mem_copy(m, KERNEL, 5 * PG + 500, 3 * PG, 10), 0);
  ck_assert_int_eq(o.nbefore, 7);
  ck_assert_uint_eq(o.before[6].a.op, MEM_OP_COPY);
  ck_assert_uint_eq(o.before[6].a.paddr, 5 * PG + 500);
  ck_assert_uint_eq(o.before[6].a.src_paddr, 3 * PG);
  ck_assert_uint_eq(o.before[6].kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(o.access[6].kind, MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(o.access[6].packet, 11);
  /* A read: access only, op READ. */
  uint8_t r[4];
  ck_assert_int_eq(mem_read(m, KERNEL, 5 * PG, r, 4), 0);
  ck_assert_int_eq(o.nbefore, 7);
  ck_assert_int_eq(o.naccess, 8);
  ck_assert_uint_eq(o.access[7].a.op, MEM_OP_READ);
  ck_assert_uint_eq(o.access[7].a.len, 4);
  /* mem_peek is not an access. */
  ck_assert_int_eq(mem_peek(m, 5 * PG, r, 4), 0);
  ck_assert_int_eq(o.naccess, 8);
  mem_free(m);
}
END_TEST

START_TEST(test_observer_map_and_epoch) {
  struct obs_log o;
  struct mem *m = observed(&o, 8);
  ck_assert_int_eq(mem_page_map(m, 3, 7, MEM_MAP_RO), 0);
  ck_assert_int_eq(mem_page_map(m, 3, 7, MEM_MAP_RO), 0); /* no change: no callback */
  ck_assert_int_eq(mem_page_map(m, 3, 7, MEM_MAP_RW), 0);
  ck_assert_int_eq(mem_page_map(m, 3, 7, MEM_MAP_NONE), 0);
  ck_assert_int_eq(mem_page_map(m, 4, 63, MEM_MAP_RW), 0);
  ck_assert_int_eq(o.nmap, 4);
  int exp[4][4] = {{3, 7, MEM_MAP_NONE, MEM_MAP_RO},
                   {3, 7, MEM_MAP_RO, MEM_MAP_RW},
                   {3, 7, MEM_MAP_RW, MEM_MAP_NONE},
                   {4, 63, MEM_MAP_NONE, MEM_MAP_RW}};
  for (int i = 0; i < 4; i++) {
    ck_assert_uint_eq(o.map[i].pfn, (uint64_t)exp[i][0]);
    ck_assert_uint_eq(o.map[i].principal, (unsigned)exp[i][1]);
    ck_assert_int_eq(o.map[i].old_mode, exp[i][2]);
    ck_assert_int_eq(o.map[i].new_mode, exp[i][3]);
  }
  uint64_t e1 = mem_page_new_epoch(m, 3);
  uint64_t e2 = mem_page_new_epoch(m, 3);
  ck_assert_int_eq(o.nepoch, 2);
  ck_assert_uint_eq(o.epoch[0].pfn, 3);
  ck_assert_uint_eq(o.epoch[0].old_epoch, 0);
  ck_assert_uint_eq(o.epoch[0].new_epoch, e1);
  ck_assert_uint_eq(o.epoch[1].old_epoch, e1);
  ck_assert_uint_eq(o.epoch[1].new_epoch, e2);
  /* Page allocation advances the epoch, and says so. */
  uint64_t pfn;
  ck_assert_int_eq(mem_page_alloc(m, &pfn), 0);
  ck_assert_int_eq(o.nepoch, 3);
  ck_assert_uint_eq(o.epoch[2].pfn, pfn);
  ck_assert_uint_eq(o.epoch[2].new_epoch, mem_page_epoch(m, pfn));
  ck_assert_uint_gt(o.epoch[2].new_epoch, e2);
  mem_free(m);
}
END_TEST

static int nobs_calls[MEM_MAX_OBSERVERS + 1];
static void count_access(void *ctx, struct mem *m, const struct mem_access *a) {
  (void)m;
  (void)a;
  nobs_calls[(intptr_t)ctx]++;
}

START_TEST(test_observer_limit) {
  struct mem *m = mem_new(4 * PG);
  for (int i = 0; i < MEM_MAX_OBSERVERS; i++) {
    struct mem_observer ob = {.ctx = (void *)(intptr_t)i, .access = count_access};
    ck_assert_int_eq(mem_add_observer(m, &ob), 0);
  }
  struct mem_observer extra = {.ctx = (void *)(intptr_t)MEM_MAX_OBSERVERS, .access = count_access};
  ck_assert_int_eq(mem_add_observer(m, &extra), -1);
  /* Observers with only some callbacks are fine; all of them are called. */
  ck_assert_int_eq(mem_fill(m, KERNEL, PG, 0, 8, NULL), 0);
  ck_assert_int_eq(mem_page_map(m, 1, 0, MEM_MAP_RO), 0);
  mem_page_new_epoch(m, 1);
  for (int i = 0; i < MEM_MAX_OBSERVERS; i++)
    ck_assert_int_eq(nobs_calls[i], 1);
  ck_assert_int_eq(nobs_calls[MEM_MAX_OBSERVERS], 0);
  /* A removed observer is no longer called and frees its slot; the others
   * still are. */
  mem_remove_observer(m, (void *)(intptr_t)1);
  ck_assert_int_eq(mem_add_observer(m, &extra), 0);
  ck_assert_int_eq(mem_read(m, KERNEL, PG, NULL, 8), 0);
  ck_assert_int_eq(nobs_calls[1], 1);
  ck_assert_int_eq(nobs_calls[0], 2);
  ck_assert_int_eq(nobs_calls[MEM_MAX_OBSERVERS], 1);
  mem_free(m);
}
END_TEST

/* ---- user accesses ---- */

START_TEST(test_user_permissions) {
  struct obs_log o;
  struct mem *m = observed(&o, 8);
  uint64_t pg = 3 * PG;
  struct mem_prov pp = pkt(MEM_LABEL_PKT_PAYLOAD, 9, 99);
  uint8_t orig[64];
  memset(orig, 0x5C, sizeof orig);
  ck_assert_int_eq(mem_write(m, DEVICE, pg, orig, 64, &pp), 0);
  uint32_t id0 = mem_peek_label_id(m, pg);
  struct mem_prov pu = {.kind = MEM_LABEL_USER, .principal = 5, .packet = UINT64_MAX};
  uint8_t w[16];
  memset(w, 0xEE, sizeof w);
  uint8_t r[16];

  /* Unmapped: no read, no write. */
  int na = o.naccess, nb = o.nbefore;
  memset(r, 0x77, sizeof r);
  ck_assert_int_eq(mem_read(m, user(5), pg, r, 16), MEM_EFAULT);
  for (int i = 0; i < 16; i++)
    ck_assert_uint_eq(r[i], 0x77); /* nothing read */
  ck_assert_int_eq(mem_write(m, user(5), pg, w, 16, &pu), MEM_EFAULT);
  ck_assert_int_eq(o.naccess, na + 2);
  ck_assert_int_eq(o.nbefore, nb); /* a denied write never lands */
  ck_assert_uint_eq(o.access[na].a.denied, 1);
  ck_assert_uint_eq(o.access[na].a.op, MEM_OP_READ);
  ck_assert_uint_eq(o.access[na].a.who.actor, MEM_ACTOR_USER);
  ck_assert_uint_eq(o.access[na].a.who.id, 5);
  ck_assert_uint_eq(o.access[na].a.paddr, pg);
  ck_assert_uint_eq(o.access[na + 1].a.denied, 1);
  ck_assert_uint_eq(o.access[na + 1].a.op, MEM_OP_WRITE);
  ck_assert_uint_eq(o.access[na + 1].kind, MEM_LABEL_PKT_PAYLOAD); /* unchanged */

  /* Read-only: read yes, write/fill/copy-into no, and nothing changes. */
  ck_assert_int_eq(mem_page_map(m, 3, 5, MEM_MAP_RO), 0);
  ck_assert_int_eq(mem_read(m, user(5), pg, r, 16), 0);
  ck_assert_mem_eq(r, orig, 16);
  na = o.naccess;
  ck_assert_int_eq(mem_write(m, user(5), pg, w, 16, &pu), MEM_EFAULT);
  ck_assert_int_eq(mem_fill(m, user(5), pg, 0, 16, NULL), MEM_EFAULT);
  ck_assert_int_eq(mem_copy(m, user(5), pg + 100, pg, 16), MEM_EFAULT);
  ck_assert_int_eq(o.naccess, na + 3);
  for (int i = 0; i < 3; i++)
    ck_assert_uint_eq(o.access[na + i].a.denied, 1);
  ck_assert_uint_eq(o.access[na + 1].a.op, MEM_OP_FILL);
  ck_assert_uint_eq(o.access[na + 2].a.op, MEM_OP_COPY);
  uint8_t now[64];
  ck_assert_int_eq(mem_peek(m, pg, now, 64), 0);
  ck_assert_mem_eq(now, orig, 64);
  assert_ids(m, pg, pg + 64, id0);
  ck_assert_uint_eq(lab_at(m, pg + 100)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  /* Another principal still has no access. */
  ck_assert_int_eq(mem_read(m, user(6), pg, r, 16), MEM_EFAULT);

  /* Read-write: the write lands, labelled as the principal's. */
  ck_assert_int_eq(mem_page_map(m, 3, 5, MEM_MAP_RW), 0);
  ck_assert_int_eq(mem_write(m, user(5), pg + 8, w, 16, &pu), 0);
  const struct mem_label *l = lab_at(m, pg + 8);
  ck_assert_uint_eq(l->prov.kind, MEM_LABEL_USER);
  ck_assert_uint_eq(l->writer.actor, MEM_ACTOR_USER);
  ck_assert_uint_eq(l->writer.id, 5);
  assert_ids(m, pg, pg + 8, id0);
  assert_ids(m, pg + 24, pg + 64, id0);
  ck_assert_int_eq(mem_read(m, user(5), pg + 8, r, 16), 0);
  ck_assert_mem_eq(r, w, 16);
  /* A user copy needs read on the source and write on the destination. */
  ck_assert_int_eq(mem_copy(m, user(5), pg + 1000, pg + 8, 16), 0);
  ck_assert_uint_eq(lab_at(m, pg + 1000)->prov.kind, MEM_LABEL_USER);
  ck_assert_int_eq(mem_copy(m, user(5), pg + 2000, 4 * PG, 16), MEM_EFAULT); /* src unmapped */
  ck_assert_uint_eq(lab_at(m, pg + 2000)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_int_eq(mem_page_map(m, 4, 5, MEM_MAP_RO), 0);
  ck_assert_int_eq(mem_copy(m, user(5), pg + 2000, 4 * PG, 16), 0);
  ck_assert_int_eq(mem_copy(m, user(5), 4 * PG + 64, pg, 16), MEM_EFAULT); /* dst RO */

  /* Unmapped again: refused again. */
  ck_assert_int_eq(mem_page_map(m, 3, 5, MEM_MAP_NONE), 0);
  ck_assert_int_eq(mem_read(m, user(5), pg, r, 1), MEM_EFAULT);
  /* The kernel and the device are not checked against user mappings. */
  ck_assert_int_eq(mem_read(m, KERNEL, pg, r, 16), 0);
  ck_assert_int_eq(mem_write(m, DEVICE, pg, w, 16, &pp), 0);
  mem_free(m);
}
END_TEST

START_TEST(test_user_access_stops_at_refusing_page) {
  struct mem *m = mem_new(8 * PG);
  ck_assert_int_eq(mem_page_map(m, 2, 1, MEM_MAP_RW), 0);
  uint8_t before3[32], w[64];
  ck_assert_int_eq(mem_peek(m, 3 * PG, before3, 32), 0);
  memset(w, 0x42, sizeof w);
  struct mem_prov pu = {.kind = MEM_LABEL_USER, .principal = 1, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(m, user(1), 3 * PG - 32, w, 64, &pu), MEM_EFAULT);
  /* The mapped page took its part; the next page is untouched. */
  uint8_t a[32], b[32];
  ck_assert_int_eq(mem_peek(m, 3 * PG - 32, a, 32), 0);
  ck_assert_int_eq(mem_peek(m, 3 * PG, b, 32), 0);
  ck_assert_mem_eq(a, w, 32);
  ck_assert_mem_eq(b, before3, 32);
  ck_assert_uint_eq(lab_at(m, 3 * PG - 1)->prov.kind, MEM_LABEL_USER);
  ck_assert_uint_eq(lab_at(m, 3 * PG)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  mem_free(m);
}
END_TEST

START_TEST(test_mapping_queries) {
  struct mem *m = mem_new(8 * PG);
  mem_set_clock(m, test_clock, NULL);
  ck_assert_int_eq(mem_page_mapping(m, 2, 0), MEM_MAP_NONE);
  ck_assert_uint_eq(mem_page_mappers(m, 2), 0);
  clock_now = 700;
  ck_assert_int_eq(mem_page_map(m, 2, 0, MEM_MAP_RO), 0);
  clock_now = 900;
  ck_assert_int_eq(mem_page_map(m, 2, 5, MEM_MAP_RW), 0);
  ck_assert_int_eq(mem_page_mapping(m, 2, 0), MEM_MAP_RO);
  ck_assert_int_eq(mem_page_mapping(m, 2, 5), MEM_MAP_RW);
  ck_assert_int_eq(mem_page_mapping(m, 2, 1), MEM_MAP_NONE);
  ck_assert_uint_eq(mem_page_mappers(m, 2), (1ull << 0) | (1ull << 5));
  ck_assert_uint_eq(mem_page_mapped_since_ps(m, 2, 0), 700);
  ck_assert_uint_eq(mem_page_mapped_since_ps(m, 2, 5), 900);
  clock_now = 1500;
  ck_assert_int_eq(mem_page_map(m, 2, 0, MEM_MAP_RO), 0); /* unchanged: since stays */
  ck_assert_uint_eq(mem_page_mapped_since_ps(m, 2, 0), 700);
  ck_assert_int_eq(mem_page_map(m, 2, 0, MEM_MAP_RW), 0);
  ck_assert_uint_eq(mem_page_mapped_since_ps(m, 2, 0), 1500);
  ck_assert_int_eq(mem_page_map(m, 2, 5, MEM_MAP_NONE), 0);
  ck_assert_uint_eq(mem_page_mappers(m, 2), 1ull);
  ck_assert_int_eq(mem_page_map(m, 2, 63, MEM_MAP_RO), 0);
  ck_assert_uint_eq(mem_page_mappers(m, 2), 1ull | (1ull << 63));
  /* Out of range. */
  ck_assert_int_eq(mem_page_map(m, 8, 0, MEM_MAP_RO), MEM_ERANGE);
  ck_assert_int_eq(mem_page_map(m, 2, MEM_MAX_PRINCIPALS, MEM_MAP_RO), MEM_ERANGE);
  ck_assert_int_eq(mem_page_mapping(m, 8, 0), MEM_MAP_NONE);
  ck_assert_uint_eq(mem_page_mappers(m, 8), 0);
  mem_free(m);
}
END_TEST

/* ---- page allocator ---- */

START_TEST(test_page_alloc_lifo) {
  struct mem *m = mem_new(16 * PG);
  uint64_t nfree0 = mem_pages_free(m);
  ck_assert_uint_ge(nfree0, 15); /* all of RAM (pfn 0 may be held back) */
  ck_assert_uint_le(nfree0, 16);
  uint64_t a, b, c, d;
  ck_assert_int_eq(mem_page_alloc(m, &a), 0);
  ck_assert_int_eq(mem_page_alloc(m, &b), 0);
  ck_assert_int_eq(mem_page_alloc(m, &c), 0);
  ck_assert_uint_ne(a, b);
  ck_assert_uint_ne(b, c);
  ck_assert_uint_ne(a, c);
  ck_assert_uint_eq(mem_pages_free(m), nfree0 - 3);
  /* Each allocation is a new epoch, later than any before. */
  ck_assert_uint_gt(mem_page_epoch(m, a), 0);
  ck_assert_uint_gt(mem_page_epoch(m, b), mem_page_epoch(m, a));
  ck_assert_uint_gt(mem_page_epoch(m, c), mem_page_epoch(m, b));
  /* Last freed, first allocated. */
  mem_page_free(m, b);
  mem_page_free(m, a);
  ck_assert_uint_eq(mem_pages_free(m), nfree0 - 1);
  uint64_t eb = mem_page_epoch(m, b);
  ck_assert_int_eq(mem_page_alloc(m, &d), 0);
  ck_assert_uint_eq(d, a);
  ck_assert_int_eq(mem_page_alloc(m, &d), 0);
  ck_assert_uint_eq(d, b);
  ck_assert_uint_gt(mem_page_epoch(m, b), eb);
  /* Freed pages keep what they held: the allocator does not clear. */
  struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 5);
  uint8_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ck_assert_int_eq(mem_write(m, DEVICE, c * PG, x, 8, &p), 0);
  uint64_t ec = mem_page_epoch(m, c);
  mem_page_free(m, c);
  ck_assert_int_eq(mem_page_alloc(m, &d), 0);
  ck_assert_uint_eq(d, c);
  uint8_t y[8];
  ck_assert_int_eq(mem_peek(m, c * PG, y, 8), 0);
  ck_assert_mem_eq(x, y, 8);
  ck_assert_uint_eq(lab_at(m, c * PG)->epoch, ec);
  ck_assert_uint_gt(mem_page_epoch(m, c), ec);
  /* Freeing a free page twice is ignored. */
  mem_page_free(m, c);
  mem_page_free(m, c);
  ck_assert_uint_eq(mem_pages_free(m), nfree0 - 2);
  ck_assert_int_eq(mem_page_alloc(m, &d), 0);
  ck_assert_uint_eq(d, c);
  /* Exhaustion. */
  uint64_t seen = 0;
  while (mem_page_alloc(m, &d) == 0) {
    ck_assert_uint_lt(d, 16);
    seen++;
  }
  ck_assert_uint_eq(seen, nfree0 - 3);
  ck_assert_uint_eq(mem_pages_free(m), 0);
  ck_assert_int_eq(mem_page_alloc(m, &d), MEM_ENOMEM);
  mem_free(m);
}
END_TEST

START_TEST(test_page_alloc_contig) {
  struct mem *m = mem_new(32 * PG);
  /* Take everything, then free a scattered set with exactly one run of 4. */
  uint64_t pf;
  int n = 0;
  while (mem_page_alloc(m, &pf) == 0)
    n++;
  ck_assert_int_ge(n, 31);
  uint64_t frees[] = {3, 5, 7, 9, 20, 21, 22, 23, 25, 26, 28};
  for (size_t i = 0; i < sizeof frees / sizeof frees[0]; i++)
    mem_page_free(m, frees[i]);
  ck_assert_uint_eq(mem_pages_free(m), 11);
  uint64_t e22 = mem_page_epoch(m, 22);
  uint64_t first;
  ck_assert_int_eq(mem_page_alloc_contig(m, 5, &first), MEM_ENOMEM);
  ck_assert_int_eq(mem_page_alloc_contig(m, 4, &first), 0);
  ck_assert_uint_eq(first, 20);
  ck_assert_uint_eq(mem_pages_free(m), 7);
  ck_assert_uint_gt(mem_page_epoch(m, 22), e22);
  /* The run is no longer free: single allocations return the others only. */
  int got = 0;
  while (mem_page_alloc(m, &pf) == 0) {
    ck_assert_msg(pf < 20 || pf > 23, "pfn %llu of the contiguous run handed out again",
                  (unsigned long long)pf);
    got++;
  }
  ck_assert_int_eq(got, 7);
  /* On a fresh memory, a run is contiguous and each page gets an epoch. */
  mem_free(m);
  m = mem_new(32 * PG);
  ck_assert_int_eq(mem_page_alloc_contig(m, 8, &first), 0);
  ck_assert_uint_ge(first, 1);
  ck_assert_uint_le(first + 8, 32);
  for (uint64_t q = first; q < first + 8; q++)
    ck_assert_uint_gt(mem_page_epoch(m, q), 0);
  uint64_t second;
  ck_assert_int_eq(mem_page_alloc_contig(m, 8, &second), 0);
  ck_assert(second + 8 <= first || second >= first + 8);
  while (mem_page_alloc(m, &pf) == 0) {
    ck_assert(pf < first || pf >= first + 8);
    ck_assert(pf < second || pf >= second + 8);
  }
  ck_assert_int_eq(mem_page_alloc_contig(m, 1, &first), MEM_ENOMEM);
  mem_free(m);
}
END_TEST

/* The allocator against the explicit stack it stands for (npages-1..1 with
 * 1 on top, freed pages pushed, a contiguous run the first long enough,
 * taken out keeping the order): the same pfn from every call of a random
 * mix of allocations, frees and contiguous allocations. */
START_TEST(test_page_alloc_matches_stack_model) {
  enum { NP = 48 };
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (int round = 0; round < 200; round++) {
    struct mem *m = mem_new(NP * PG);
    uint64_t stack[NP];
    int used[NP] = {1};
    uint64_t n = 0;
    for (uint64_t i = NP; i-- > 1;)
      stack[n++] = i;
    for (int step = 0; step < 300; step++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      unsigned r = (unsigned)(seed >> 33);
      uint64_t got = 0, want = 0;
      if (r % 8 < 4) {
        int rc = mem_page_alloc(m, &got);
        ck_assert_int_eq(rc, n ? 0 : MEM_ENOMEM);
        if (n) {
          want = stack[--n];
          used[want] = 1;
          ck_assert_uint_eq(got, want);
        }
      } else if (r % 8 < 7) {
        uint64_t pfn = (r >> 3) % NP;
        mem_page_free(m, pfn);
        if (pfn && used[pfn]) {
          used[pfn] = 0;
          stack[n++] = pfn;
        }
      } else {
        uint64_t len = 1 + (r >> 3) % 4, run = 0, first = 0;
        int found = 0;
        for (uint64_t p = 1; p < NP && !found; p++) {
          run = used[p] ? 0 : run + 1;
          if (run == len) {
            first = p + 1 - len;
            found = 1;
          }
        }
        int rc = mem_page_alloc_contig(m, len, &got);
        ck_assert_int_eq(rc, found ? 0 : MEM_ENOMEM);
        if (found) {
          ck_assert_uint_eq(got, first);
          uint64_t k = 0;
          for (uint64_t i = 0; i < n; i++)
            if (stack[i] < first || stack[i] >= first + len)
              stack[k++] = stack[i];
          n = k;
          for (uint64_t q = first; q < first + len; q++)
            used[q] = 1;
        }
      }
      ck_assert_uint_eq(mem_pages_free(m), n);
    }
    mem_free(m);
  }
}
END_TEST

/* Page metadata starts as "no holder" without being written; marks on a
 * page that was never touched are freed with the memory (the sanitizer
 * build checks that nothing leaks). */
START_TEST(test_meta_initial_state) {
  struct mem *m = mem_new(64 * PG);
  for (uint64_t pfn = 0; pfn < 64; pfn++)
    ck_assert_int_eq(mem_page_holder(m, pfn), -1);
  mem_page_set_holder(m, 9, 0);
  ck_assert_int_eq(mem_page_holder(m, 9), 0);
  ck_assert_uint_eq(mem_pages_held(m, 0), 1);
  mem_page_set_holder(m, 9, -1);
  ck_assert_int_eq(mem_page_holder(m, 9), -1);
  ck_assert_uint_eq(mem_pages_held(m, 0), 0);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, 3, 40 * PG + 8, 64), 0);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, 4, 41 * PG, 2 * PG), 0);
  mem_free(m);
}
END_TEST

/* ---- label GC ---- */

START_TEST(test_label_gc_explicit) {
  struct mem *m = mem_new(4 * PG);
  uint8_t x[100] = {0};
  struct mem_prov a = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 1), b = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 2);
  ck_assert_int_eq(mem_write(m, DEVICE, PG, x, 100, &a), 0);
  /* zero + page 1's pre-simulation label + a */
  ck_assert_uint_eq(mem_labels_live(m), 3);
  ck_assert_int_eq(mem_write(m, DEVICE, PG, x, 100, &b), 0);
  ck_assert_uint_eq(mem_labels_live(m), 4); /* a is dead but not yet reclaimed */
  mem_label_gc(m);
  ck_assert_uint_eq(mem_label_gc_runs(m), 1);
  ck_assert_uint_eq(mem_labels_live(m), 3);
  assert_pkt(m, PG, PG + 100, MEM_LABEL_PKT_PAYLOAD, 2);
  ck_assert_uint_eq(lab_at(m, PG + 100)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  /* Clearing everything leaves only the zero label (and nothing else). */
  ck_assert_int_eq(mem_fill(m, KERNEL, PG, 0, PG, NULL), 0);
  mem_label_gc(m);
  ck_assert_uint_eq(mem_labels_live(m), 1);
  ck_assert_uint_eq(mem_label_gc_runs(m), 2);
  mem_free(m);
}
END_TEST

START_TEST(test_label_gc_reclaims_ids) {
  struct mem *m = mem_new(8 * PG);
  /* Labels that must survive: 64 distinct packets on page 2, 8 bytes each,
   * and one on each side of a page boundary. */
  uint8_t x[16] = {0};
  for (uint64_t i = 0; i < 64; i++) {
    struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 7, 1000 + i);
    ck_assert_int_eq(mem_write(m, DEVICE, 2 * PG + i * 8, x, 8, &p), 0);
  }
  struct mem_prov pb = pkt(MEM_LABEL_PKT_HEADER, 8, 5000);
  ck_assert_int_eq(mem_write(m, DEVICE, 4 * PG - 4, x, 8, &pb), 0);
  /* Churn: 200,000 distinct labels over the same 16 bytes of page 5. */
  const uint64_t N = 200000;
  uint64_t max_live = 0;
  for (uint64_t i = 0; i < N; i++) {
    struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 9, i);
    ck_assert_int_eq(mem_write(m, DEVICE, 5 * PG + 100, x, 16, &p), 0);
    if (mem_labels_live(m) > max_live)
      max_live = mem_labels_live(m);
  }
  /* More labels were created than the first table holds (65,536), and
   * passes reclaimed the dead ones: the table stayed at that size. */
  ck_assert_uint_ge(mem_label_gc_runs(m), 2);
  ck_assert_uint_le(max_live, 65536);
  /* Every label still referenced is intact. */
  for (uint64_t i = 0; i < 64; i++)
    assert_pkt(m, 2 * PG + i * 8, 2 * PG + i * 8 + 8, MEM_LABEL_PKT_PAYLOAD, 1000 + i);
  assert_pkt(m, 4 * PG - 4, 4 * PG + 4, MEM_LABEL_PKT_HEADER, 5000);
  assert_pkt(m, 5 * PG + 100, 5 * PG + 116, MEM_LABEL_PKT_PAYLOAD, N - 1);
  ck_assert_uint_eq(lab_at(m, 5 * PG + 100)->prov.flow, 9);
  ck_assert_uint_eq(lab_at(m, 5 * PG + 99)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(lab_at(m, 5 * PG + 116)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  ck_assert_uint_eq(lab_at(m, 2 * PG + 512)->prov.kind, MEM_LABEL_KERNEL_PRESIM);
  /* A final pass leaves exactly the referenced labels: zero, four
   * pre-simulation labels (pages 2, 3, 4, 5), 64 + 2 + 1. */
  mem_label_gc(m);
  ck_assert_uint_eq(mem_labels_live(m), 1 + 4 + 64 + 2 + 1);
  mem_free(m);
}
END_TEST

/* ---- the run-length shadow against a label per byte ---- */

/* A reference model: the provenance tag (prov.packet) of every byte of two
 * pages, updated as a per-byte shadow would be, checked against what mem
 * reports after each of many random writes, fills and copies (within a page,
 * across the two pages, one byte to a whole page). mem_label_runs must give
 * maximal runs (adjacent runs differ in id) that tile the range. */
struct tile {
  uint64_t next;
  uint32_t last_id;
  int nruns;
};
static void tile_cb(void *ctx, uint64_t paddr, uint32_t len, uint32_t id) {
  struct tile *t = ctx;
  ck_assert_uint_eq(paddr, t->next);
  ck_assert_uint_gt(len, 0);
  ck_assert_msg(t->nruns == 0 || id != t->last_id, "adjacent runs with id %u at 0x%llx", id,
                (unsigned long long)paddr);
  t->next = paddr + len;
  t->last_id = id;
  t->nruns++;
}

static uint64_t xs = 88172645463325252ull;
static uint64_t xrand(void) {
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return xs;
}

START_TEST(test_runs_match_per_byte_model) {
  struct mem *m = mem_new(4 * PG);
  const uint64_t base = PG; /* pages 1 and 2 */
  static uint64_t tag[2 * PG];
  /* untouched: pre-simulation labels carry the page's frame number */
  for (uint32_t i = 0; i < 2 * PG; i++)
    tag[i] = 1 + i / PG;
  static uint8_t buf[2 * PG];
  memset(buf, 0xab, sizeof buf);
  uint64_t next_tag = 1000;
  for (int op = 0; op < 4000; op++) {
    uint32_t kind = (uint32_t)(xrand() % 4);
    /* lengths from 1 byte to a page and a half, mostly short */
    uint32_t len = (uint32_t)(xrand() % 4 == 0 ? 1 + xrand() % (PG + PG / 2) : 1 + xrand() % 64);
    uint32_t off = (uint32_t)(xrand() % (2 * PG - len + 1));
    if (kind == 0 || kind == 1) {
      struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 1, next_tag);
      if (kind == 0)
        ck_assert_int_eq(mem_write(m, DEVICE, base + off, buf, len, &p), 0);
      else
        ck_assert_int_eq(mem_fill(m, KERNEL, base + off, 0x11, len, &p), 0);
      for (uint32_t i = 0; i < len; i++)
        tag[off + i] = next_tag;
      next_tag++;
    } else if (kind == 2) {
      ck_assert_int_eq(mem_fill(m, KERNEL, base + off, 0, len, NULL), 0);
      for (uint32_t i = 0; i < len; i++)
        tag[off + i] = UINT64_MAX; /* the zero label's packet */
    } else {
      /* a copy between non-overlapping ranges of the two pages */
      if (len > PG)
        len = PG;
      uint32_t src = (uint32_t)(xrand() % (2 * PG - len + 1));
      uint32_t dst = (uint32_t)(xrand() % (2 * PG - len + 1));
      if (src < dst + len && dst < src + len)
        continue;
      ck_assert_int_eq(mem_copy(m, KERNEL, base + dst, base + src, len), 0);
      memmove(tag + dst, tag + src, len * sizeof *tag);
    }
    if (op % 50 != 0 && op < 3990)
      continue;
    for (uint32_t i = 0; i < 2 * PG; i++) {
      const struct mem_label *l = lab_at(m, base + i);
      ck_assert_msg(l->prov.packet == tag[i], "op %d byte %u: packet %llu, model %llu", op, i,
                    (unsigned long long)l->prov.packet, (unsigned long long)tag[i]);
    }
    for (uint32_t pg = 0; pg < 2; pg++) {
      struct tile t = {.next = base + pg * PG};
      mem_label_runs(m, base + pg * PG, PG, tile_cb, &t);
      ck_assert_uint_eq(t.next, base + (pg + 1) * PG);
      /* a sub-range starting and ending anywhere */
      uint32_t a = (uint32_t)(xrand() % PG), n = 1 + (uint32_t)(xrand() % (PG - a));
      struct tile u = {.next = base + pg * PG + a};
      mem_label_runs(m, base + pg * PG + a, n, tile_cb, &u);
      ck_assert_uint_eq(u.next, base + pg * PG + a + n);
    }
  }
  mem_free(m);
}
END_TEST

START_TEST(test_runs_byte_granular_page) {
  /* Every byte of a page its own label (4096 runs, far past the inline
   * ones), then one write over all of it: one run again. */
  struct mem *m = mem_new(4 * PG);
  uint8_t x = 0;
  for (uint32_t i = 0; i < PG; i++) {
    struct mem_prov p = pkt(MEM_LABEL_PKT_HEADER, 2, i);
    ck_assert_int_eq(mem_write(m, DEVICE, PG + (i * 7 % PG), &x, 1, &p), 0);
  }
  struct tile t = {.next = PG};
  mem_label_runs(m, PG, PG, tile_cb, &t);
  ck_assert_int_eq(t.nruns, PG);
  for (uint32_t i = 0; i < PG; i++)
    ck_assert_uint_eq(lab_at(m, PG + (i * 7 % PG))->prov.packet, i);
  struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 3, 77);
  static uint8_t page[PG];
  ck_assert_int_eq(mem_write(m, DEVICE, PG, page, PG, &p), 0);
  struct tile u = {.next = PG};
  mem_label_runs(m, PG, PG, tile_cb, &u);
  ck_assert_int_eq(u.nruns, 1);
  mem_label_gc(m);
  ck_assert_uint_eq(mem_labels_live(m), 2); /* zero and the last write */
  mem_free(m);
}
END_TEST

/* ---- range errors ---- */

START_TEST(test_mark_covered_but) {
  struct mem *m = mem_new(4 * PG);
  ck_assert_ptr_nonnull(m);
  /* live [3776, 4096), granted [256, 2304) and [4000, 4096) */
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_LIVE, 0, PG + 3776, 320), 0);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, 7, PG + 256, 2048), 0);
  ck_assert_uint_eq(mem_mark_covered_but(m, MEM_MARK_LIVE, 0, MEM_MARK_GRANT, 7, PG + 256, PG - 256), 320);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, 7, PG + 4000, 96), 0);
  ck_assert_uint_eq(mem_mark_covered_but(m, MEM_MARK_LIVE, 0, MEM_MARK_GRANT, 7, PG + 256, PG - 256), 224);
  /* another requester's grant does not count */
  ck_assert_uint_eq(mem_mark_covered_but(m, MEM_MARK_LIVE, 0, MEM_MARK_GRANT, 8, PG + 256, PG - 256), 320);
  ck_assert_uint_eq(mem_mark_covered_but(m, MEM_MARK_LIVE, 0, MEM_MARK_GRANT, 7, PG + 4000, 96), 0);
  ck_assert_uint_eq(mem_mark_covered_but(m, MEM_MARK_LIVE, 0, MEM_MARK_GRANT, 7, PG, 256), 0);
  ck_assert_int_eq(mem_mark_remove(m, MEM_MARK_LIVE, 0, PG + 3776, 320), 0);
  ck_assert_uint_eq(mem_mark_covered(m, MEM_MARK_LIVE, 0, PG + 3776, 320), 0);
  mem_free(m);
}
END_TEST

START_TEST(test_range_errors) {
  struct mem *m = mem_new(2 * PG);
  uint8_t x[16] = {0}, r[16];
  struct mem_prov p = pkt(MEM_LABEL_PKT_PAYLOAD, 1, 1);
  ck_assert_int_eq(mem_write(m, KERNEL, 2 * PG, x, 1, &p), MEM_ERANGE);
  ck_assert_int_eq(mem_write(m, KERNEL, 2 * PG - 1, x, 2, &p), MEM_ERANGE);
  ck_assert_uint_eq(lab_at(m, 2 * PG - 1)->prov.kind, MEM_LABEL_KERNEL_PRESIM); /* nothing written */
  ck_assert_int_eq(mem_write(m, KERNEL, UINT64_MAX, x, 2, &p), MEM_ERANGE);
  ck_assert_int_eq(mem_fill(m, KERNEL, 2 * PG - 4, 0, 5, NULL), MEM_ERANGE);
  ck_assert_int_eq(mem_read(m, KERNEL, 2 * PG - 4, r, 5), MEM_ERANGE);
  ck_assert_int_eq(mem_read(m, KERNEL, 5 * PG, r, 1), MEM_ERANGE);
  ck_assert_int_eq(mem_copy(m, KERNEL, 2 * PG - 4, 0, 8), MEM_ERANGE);
  ck_assert_int_eq(mem_copy(m, KERNEL, 0, 2 * PG - 4, 8), MEM_ERANGE);
  ck_assert_int_eq(mem_peek(m, 2 * PG - 4, r, 8), MEM_ERANGE);
  /* Up to the last byte is fine. */
  ck_assert_int_eq(mem_write(m, KERNEL, 2 * PG - 1, x, 1, &p), 0);
  ck_assert_int_eq(mem_read(m, KERNEL, 2 * PG - 16, r, 16), 0);
  ck_assert_int_eq(mem_peek(m, 2 * PG - 16, r, 16), 0);
  mem_free(m);
}
END_TEST

static Suite *mem_suite(void) {
  Suite *s = suite_create("mem");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_new_sizes);
  tcase_add_test(tc, test_untouched_presim);
  tcase_add_test(tc, test_write_labels);
  tcase_add_test(tc, test_partial_overwrite_mid_page);
  tcase_add_test(tc, test_partial_overwrite_across_pages);
  tcase_add_test(tc, test_fill);
  tcase_add_test(tc, test_copy_labels);
  tcase_add_test(tc, test_copy_across_pages);
  tcase_add_test(tc, test_epochs);
  tcase_add_test(tc, test_observer_write_sees_old_then_new);
  tcase_add_test(tc, test_observer_map_and_epoch);
  tcase_add_test(tc, test_observer_limit);
  tcase_add_test(tc, test_user_permissions);
  tcase_add_test(tc, test_user_access_stops_at_refusing_page);
  tcase_add_test(tc, test_mapping_queries);
  tcase_add_test(tc, test_page_alloc_lifo);
  tcase_add_test(tc, test_page_alloc_contig);
  tcase_add_test(tc, test_page_alloc_matches_stack_model);
  tcase_add_test(tc, test_meta_initial_state);
  tcase_add_test(tc, test_label_gc_explicit);
  tcase_add_test(tc, test_label_gc_reclaims_ids);
  tcase_add_test(tc, test_range_errors);
  tcase_add_test(tc, test_mark_covered_but);
  tcase_add_test(tc, test_runs_match_per_byte_model);
  tcase_add_test(tc, test_runs_byte_granular_page);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  Suite *s = mem_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
