/*
 * sim/core/check: cross_flow_leak, stale_data_leak and kernel_pointer_leak,
 * decided from labels, mappings and policy (checker.h, contract.md).
 *
 * Two principals: 0 "app" owns flow 0, 1 "other" owns flow 1. Each case sets
 * up memory the way the models would (device DMA, kernel writes, mappings,
 * new allocation epochs) and checks counts, bytes and the first record.
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "checker.h"
#include "checker_rig.h"
#include "mem.h"


static const struct mem_accessor KERNEL = {.actor = MEM_ACTOR_KERNEL, .id = 0};
static const struct mem_accessor DEVICE = {.actor = MEM_ACTOR_DEVICE, .id = 0x0100};

static uint64_t now_ps;
static uint64_t clock_fn(void *ctx) {
  (void)ctx;
  return now_ps;
}

static void flow_name(void *ctx, uint32_t flow, char *buf, size_t n) {
  (void)ctx;
  snprintf(buf, n, "udp 10.0.0.%u:5001 > 10.0.0.1:4000", (unsigned)flow + 2);
}

static struct policy pol;
static struct mem *m;
static struct checker *ck;

static void setup(void) {
  checker_rig_policy(&pol);
  pol.flow_name = flow_name;
  now_ps = 0;
  checker_rig_start(&pol, clock_fn, &m, &ck);
}

/* Every property's pairs sum to its count and bytes (checked after each case). */
static void assert_pairs_sum(void) {
  for (int i = 0; i < PROP_COUNT; i++) {
    const struct checker_result *r = checker_result(ck, (enum checker_property)i);
    uint64_t c = 0, b = 0;
    for (unsigned k = 0; k < r->npairs; k++) {
      c += r->pairs[k].count;
      b += r->pairs[k].bytes;
    }
    ck_assert_msg(c == r->count && b == r->bytes, "%s: pairs sum to %" PRIu64 "/%" PRIu64 ", property %" PRIu64 "/%" PRIu64,
                  checker_property_name((enum checker_property)i), c, b, r->count, r->bytes);
  }
}

/* The (who, owner) pair of property p: its count, or -1 when absent. */
static int64_t pair_count(enum checker_property p, const char *who, const char *owner) {
  const struct checker_result *r = checker_result(ck, p);
  for (unsigned k = 0; k < r->npairs; k++)
    if (strcmp(r->pairs[k].principal, who) == 0 && strcmp(r->pairs[k].owner, owner) == 0)
      return (int64_t)r->pairs[k].count;
  return -1;
}

static void teardown(void) {
  assert_pairs_sum();
  checker_free(ck);
  mem_free(m);
}

static const struct checker_result *res(enum checker_property p) { return checker_result(ck, p); }

/* A page handed out by the allocator and cleared by the kernel. */
static uint64_t clean_page(void) {
  uint64_t pfn;
  ck_assert_int_eq(mem_page_alloc(m, &pfn), 0);
  ck_assert_int_eq(mem_fill(m, KERNEL, pfn * PG, 0, PG, NULL), 0);
  return pfn;
}

/* A device write into a buffer the kernel granted (DMA-mapped page, posted
 * descriptor), as a well-behaved NIC makes it. */
static void dev_write(uint64_t paddr, uint32_t len, uint8_t kind, uint32_t flow, uint64_t packet) {
  static uint8_t buf[PG];
  memset(buf, (int)(0x40 + (packet & 0x3f)), len);
  struct mem_prov p = {.kind = kind, .flow = flow, .packet = packet};
  uint64_t first = paddr / PG, last = (paddr + len - 1) / PG;
  for (uint64_t pfn = first; pfn <= last; pfn++)
    mem_page_dma_ref(m, pfn, DEVICE.id, +1);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, DEVICE.id, paddr, len), 0);
  ck_assert_int_eq(mem_write(m, DEVICE, paddr, buf, len, &p), 0);
  ck_assert_int_eq(mem_mark_remove(m, MEM_MARK_GRANT, DEVICE.id, paddr, len), 0);
  for (uint64_t pfn = first; pfn <= last; pfn++)
    mem_page_dma_ref(m, pfn, DEVICE.id, -1);
}

static void assert_only(enum checker_property p, uint64_t count, uint64_t bytes) {
  for (int i = 0; i < PROP_COUNT; i++) {
    const struct checker_result *r = res((enum checker_property)i);
    if (i == (int)p) {
      ck_assert_msg(r->count == count, "%s: count %" PRIu64 ", expected %" PRIu64,
                    checker_property_name((enum checker_property)i), r->count, count);
      ck_assert_msg(r->bytes == bytes, "%s: bytes %" PRIu64 ", expected %" PRIu64,
                    checker_property_name((enum checker_property)i), r->bytes, bytes);
    } else {
      ck_assert_msg(r->count == 0 && r->bytes == 0, "%s: count %" PRIu64 " bytes %" PRIu64,
                    checker_property_name((enum checker_property)i), r->count, r->bytes);
    }
  }
  ck_assert_uint_eq(checker_total(ck), count);
}

static void assert_none(void) {
  for (int i = 0; i < PROP_COUNT; i++) {
    const struct checker_result *r = res((enum checker_property)i);
    ck_assert_msg(r->count == 0 && r->bytes == 0 && !r->has_first, "%s: count %" PRIu64,
                  checker_property_name((enum checker_property)i), r->count);
  }
  ck_assert_uint_eq(checker_total(ck), 0);
}

/* ---- names ---- */

START_TEST(test_property_names) {
  static const char *const names[PROP_COUNT] = {
      "cross_flow_leak",       "stale_data_leak",           "kernel_pointer_leak",
      "kernel_data_tamper",    "user_write_after_validation", "device_write_outside_grant",
      "device_write_after_unmap", "pool_exhaustion", "cross_flow_tamper", "wire_leak",
      "device_read_outside_grant", "device_read_after_unmap"};
  for (int i = 0; i < PROP_COUNT; i++)
    ck_assert_str_eq(checker_property_name((enum checker_property)i), names[i]);
  ck_assert_str_eq(checker_property_name(PROP_COUNT), "?");
  for (unsigned k = 0; k < MEM_LABEL_KIND_COUNT; k++)
    ck_assert_str_ne(checker_kind_name(k), "?");
}
END_TEST

/* ---- cross_flow_leak ---- */

START_TEST(test_cross_flow_device_write_into_ro_page) {
  uint64_t pfn = clean_page();
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_none(); /* a cleared page exposes nothing */
  now_ps = 5000000;
  dev_write(pfn * PG + 64, 300, MEM_LABEL_PKT_PAYLOAD, 1, 7);
  assert_only(PROP_CROSS_FLOW_LEAK, 1, 300);
  const struct checker_result *r = res(PROP_CROSS_FLOW_LEAK);
  ck_assert_int_eq(r->has_first, 1);
  const struct checker_violation *v = &r->first;
  ck_assert_uint_eq(v->time_ps, 5000000);
  ck_assert_uint_eq(v->principal, APP);
  ck_assert_uint_eq(v->pfn, pfn);
  ck_assert_uint_eq(v->offset, 64);
  ck_assert_uint_eq(v->length, 300);
  ck_assert_uint_eq(v->packet_index, 7);
  ck_assert_str_eq(v->flow, "udp 10.0.0.3:5001 > 10.0.0.1:4000");
  ck_assert_str_eq(v->kind, "payload");
  ck_assert_uint_gt(strlen(v->explanation), 0);
  ck_assert_ptr_nonnull(strstr(v->explanation, "'app'"));
  ck_assert_ptr_nonnull(strstr(v->explanation, "udp 10.0.0.3:5001 > 10.0.0.1:4000"));
  ck_assert_uint_eq(r->first_lab.prov.kind, MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(r->first_lab.prov.flow, 1);
  ck_assert_uint_eq(r->first_lab.prov.packet, 7);
  ck_assert_uint_eq(r->first_lab.writer.actor, MEM_ACTOR_DEVICE);
  /* A second packet of the other flow is a second exposure. */
  now_ps = 6000000;
  dev_write(pfn * PG + 2048, 100, MEM_LABEL_PKT_PAYLOAD, 1, 8);
  assert_only(PROP_CROSS_FLOW_LEAK, 2, 400);
  ck_assert_int_eq(pair_count(PROP_CROSS_FLOW_LEAK, "app", "other"), 2); /* app saw other's bytes */
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->npairs, 1);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.packet_index, 7); /* first stays first */
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.time_ps, 5000000);
}
END_TEST

START_TEST(test_own_flow_is_no_leak) {
  uint64_t pfn = clean_page();
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  dev_write(pfn * PG + 64, 300, MEM_LABEL_PKT_PAYLOAD, 0, 7);
  dev_write(pfn * PG + 400, 40, MEM_LABEL_PKT_HEADER, 0, 9);
  assert_none();
  /* The same bytes are the other principal's business if it maps them. */
  ck_assert_int_eq(mem_page_map(m, pfn, OTHER, MEM_MAP_RO), 0);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->count, 2);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->bytes, 340);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.principal, OTHER);
  ck_assert_ptr_nonnull(strstr(res(PROP_CROSS_FLOW_LEAK)->first.explanation, "'other'"));
}
END_TEST

START_TEST(test_flows_past_table_belong_to_default_owner) {
  uint64_t pfn = clean_page();
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  dev_write(pfn * PG, 100, MEM_LABEL_PKT_PAYLOAD, 5, 1); /* flow 5: default owner "other" */
  assert_only(PROP_CROSS_FLOW_LEAK, 1, 100);
  pol.default_owner = APP;
  dev_write(pfn * PG + 200, 100, MEM_LABEL_PKT_PAYLOAD, 6, 2);
  assert_only(PROP_CROSS_FLOW_LEAK, 1, 100);
}
END_TEST

START_TEST(test_write_while_mapped_rw_and_by_kernel_copy) {
  /* Any write into a mapped page is an exposure: a kernel copy too. */
  uint64_t src = clean_page(), dst = clean_page();
  dev_write(src * PG, 200, MEM_LABEL_PKT_PAYLOAD, 1, 3); /* src not mapped: fine */
  assert_none();
  ck_assert_int_eq(mem_page_map(m, dst, APP, MEM_MAP_RW), 0);
  ck_assert_int_eq(mem_copy(m, KERNEL, dst * PG + 100, src * PG, 200), 0);
  assert_only(PROP_CROSS_FLOW_LEAK, 1, 200);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.offset, 100);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.pfn, dst);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.packet_index, 3);
}
END_TEST

/* ---- CAP_NET_ADMIN ---- */

START_TEST(test_cap_net_admin) {
  pol.caps[APP] = POLICY_CAP_NET_ADMIN;
  uint64_t pfn = clean_page();
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  dev_write(pfn * PG + 256, 1000, MEM_LABEL_PKT_PAYLOAD, 1, 4);
  assert_none();
  /* Stale packet bytes of another flow: entitled as well. */
  uint64_t p2 = clean_page();
  dev_write(p2 * PG, 500, MEM_LABEL_PKT_PAYLOAD, 1, 5);
  mem_page_new_epoch(m, p2);
  ck_assert_int_eq(mem_page_map(m, p2, APP, MEM_MAP_RO), 0);
  assert_none();
  /* Kernel-private bytes are never an entitlement: skb_shared_info. */
  now_ps = 777;
  struct mem_prov shinfo = {.kind = MEM_LABEL_KERNEL_PTR, .packet = 4};
  ck_assert_int_eq(mem_fill(m, KERNEL, pfn * PG + PG - 320, 0xcc, 320, &shinfo), 0);
  assert_only(PROP_KERNEL_POINTER_LEAK, 1, 320);
  const struct checker_violation *v = &res(PROP_KERNEL_POINTER_LEAK)->first;
  ck_assert_uint_eq(v->principal, APP);
  ck_assert_uint_eq(v->pfn, pfn);
  ck_assert_uint_eq(v->offset, PG - 320);
  ck_assert_uint_eq(v->length, 320);
  ck_assert_str_eq(v->kind, "skb_shared_info");
  ck_assert_uint_eq(v->packet_index, UINT64_MAX);
  ck_assert_str_eq(v->flow, "");
  ck_assert_uint_eq(v->time_ps, 777);
  ck_assert_ptr_nonnull(strstr(v->explanation, "'app'"));
}
END_TEST

/* ---- stale_data_leak ---- */

START_TEST(test_stale_data) {
  uint64_t pfn = clean_page();
  dev_write(pfn * PG + 128, 600, MEM_LABEL_PKT_PAYLOAD, 1, 11); /* unmapped: nothing */
  assert_none();
  uint64_t old = mem_page_epoch(m, pfn);
  ck_assert_uint_gt(mem_page_new_epoch(m, pfn), old); /* reused without clearing */
  now_ps = 42000000;
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_only(PROP_STALE_DATA_LEAK, 1, 600);
  const struct checker_violation *v = &res(PROP_STALE_DATA_LEAK)->first;
  ck_assert_uint_eq(v->principal, APP);
  ck_assert_uint_eq(v->pfn, pfn);
  ck_assert_uint_eq(v->offset, 128);
  ck_assert_uint_eq(v->length, 600);
  ck_assert_uint_eq(v->packet_index, 11);
  ck_assert_str_eq(v->kind, "payload");
  ck_assert_str_eq(v->flow, "udp 10.0.0.3:5001 > 10.0.0.1:4000");
  ck_assert_uint_eq(v->time_ps, 42000000);
  ck_assert_ptr_nonnull(strstr(v->explanation, "'app'"));
  ck_assert_uint_eq(res(PROP_STALE_DATA_LEAK)->first_lab.epoch, old);
  ck_assert_int_eq(pair_count(PROP_STALE_DATA_LEAK, "app", "stale"), 1);
}
END_TEST

START_TEST(test_stale_via_page_allocator) {
  /* The allocator hands the freed page out again, without clearing it. */
  uint64_t pfn = clean_page();
  dev_write(pfn * PG, 1500, MEM_LABEL_PKT_PAYLOAD, 1, 1);
  mem_page_free(m, pfn);
  uint64_t again;
  ck_assert_int_eq(mem_page_alloc(m, &again), 0);
  ck_assert_uint_eq(again, pfn);
  ck_assert_int_eq(mem_page_map(m, again, APP, MEM_MAP_RW), 0);
  assert_only(PROP_STALE_DATA_LEAK, 1, 1500);
}
END_TEST

START_TEST(test_stale_own_flow_is_no_leak) {
  uint64_t pfn = clean_page();
  dev_write(pfn * PG, 600, MEM_LABEL_PKT_PAYLOAD, 0, 11);
  mem_page_new_epoch(m, pfn);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_none();
}
END_TEST

START_TEST(test_cleared_before_mapping) {
  uint64_t pfn = clean_page();
  dev_write(pfn * PG + 128, 600, MEM_LABEL_PKT_PAYLOAD, 1, 11);
  mem_page_new_epoch(m, pfn);
  ck_assert_int_eq(mem_fill(m, KERNEL, pfn * PG, 0, PG, NULL), 0);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_none();
  /* Clearing only part of it leaves the rest exposed, byte-exact. */
  uint64_t p2 = clean_page();
  dev_write(p2 * PG + 128, 600, MEM_LABEL_PKT_PAYLOAD, 1, 12);
  mem_page_new_epoch(m, p2);
  ck_assert_int_eq(mem_fill(m, KERNEL, p2 * PG, 0, 500, NULL), 0);
  ck_assert_int_eq(mem_page_map(m, p2, APP, MEM_MAP_RO), 0);
  assert_only(PROP_STALE_DATA_LEAK, 1, 228);
  ck_assert_uint_eq(res(PROP_STALE_DATA_LEAK)->first.offset, 500);
  ck_assert_uint_eq(res(PROP_STALE_DATA_LEAK)->first.length, 228);
}
END_TEST

START_TEST(test_stale_user_data) {
  /* User data of another principal left in a reused page. */
  uint64_t pfn = clean_page();
  struct mem_prov u = {.kind = MEM_LABEL_USER, .principal = OTHER, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_fill(m, KERNEL, pfn * PG + 10, 0x55, 90, &u), 0);
  struct mem_prov mine = {.kind = MEM_LABEL_USER, .principal = APP, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_fill(m, KERNEL, pfn * PG + 200, 0x66, 50, &mine), 0);
  mem_page_new_epoch(m, pfn);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_only(PROP_STALE_DATA_LEAK, 1, 90);
  ck_assert_str_eq(res(PROP_STALE_DATA_LEAK)->first.kind, "user");
  ck_assert_uint_eq(res(PROP_STALE_DATA_LEAK)->first.packet_index, UINT64_MAX);
}
END_TEST

/* ---- kernel_pointer_leak ---- */

START_TEST(test_untouched_page_mapped) {
  uint64_t pfn;
  ck_assert_int_eq(mem_page_alloc(m, &pfn), 0);
  now_ps = 99;
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_only(PROP_KERNEL_POINTER_LEAK, 1, PG);
  const struct checker_violation *v = &res(PROP_KERNEL_POINTER_LEAK)->first;
  ck_assert_uint_eq(v->pfn, pfn);
  ck_assert_uint_eq(v->offset, 0);
  ck_assert_uint_eq(v->length, PG);
  ck_assert_str_eq(v->kind, "kernel_presim");
  ck_assert_uint_eq(v->packet_index, UINT64_MAX);
  ck_assert_str_eq(v->flow, "");
  ck_assert_uint_eq(v->time_ps, 99);
  ck_assert_ptr_nonnull(strstr(v->explanation, "'app'"));
  /* Even when CAP_NET_ADMIN is held. */
  pol.caps[APP] = POLICY_CAP_NET_ADMIN;
  uint64_t p2;
  ck_assert_int_eq(mem_page_alloc(m, &p2), 0);
  ck_assert_int_eq(mem_page_map(m, p2, APP, MEM_MAP_RO), 0);
  assert_only(PROP_KERNEL_POINTER_LEAK, 2, 2 * PG);
  ck_assert_int_eq(pair_count(PROP_KERNEL_POINTER_LEAK, "app", "kernel"), 2);
}
END_TEST

START_TEST(test_kernel_meta_whatever_its_age) {
  uint64_t pfn = clean_page();
  struct mem_prov meta = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_fill(m, KERNEL, pfn * PG, 0xdd, 16, &meta), 0);
  mem_page_new_epoch(m, pfn);
  mem_page_new_epoch(m, pfn);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_only(PROP_KERNEL_POINTER_LEAK, 1, 16);
  ck_assert_str_eq(res(PROP_KERNEL_POINTER_LEAK)->first.kind, "kernel_meta");
}
END_TEST

/* ---- counting once ---- */

START_TEST(test_remap_counts_once) {
  uint64_t pfn = clean_page();
  dev_write(pfn * PG + 1000, 700, MEM_LABEL_PKT_PAYLOAD, 1, 21);
  mem_page_new_epoch(m, pfn);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_only(PROP_STALE_DATA_LEAK, 1, 700);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_NONE), 0);
    ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  }
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RW), 0);
  assert_only(PROP_STALE_DATA_LEAK, 1, 700);
  /* Bytes written while mapped, then unmapped and mapped again: once. */
  dev_write(pfn * PG + 3000, 50, MEM_LABEL_PKT_HEADER, 1, 22);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->count, 1);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_NONE), 0);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->count, 1);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->bytes, 50);
  ck_assert_uint_eq(res(PROP_STALE_DATA_LEAK)->count, 1);
  ck_assert_uint_eq(res(PROP_STALE_DATA_LEAK)->bytes, 700);
  /* Already seen while current, no new stale exposure once the page moves
   * on to a new allocation either. */
  mem_page_new_epoch(m, pfn);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_NONE), 0);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  ck_assert_uint_eq(checker_total(ck), 2);
}
END_TEST

static int stale_info(void *ctx, uint16_t rid, struct checker_dma_info *out) {
  (void)ctx;
  (void)rid;
  *out = (struct checker_dma_info){.iova = 0xfff99100, .stale = 1};
  return 0;
}

/* A write after unmap in two pieces of one transfer: one occurrence whose
 * text counts all its bytes and tells the chain: IOVA, unmap time, stale
 * IOTLB entry. */
START_TEST(test_write_after_unmap_chain_and_bytes) {
  uint64_t pfn = clean_page();
  checker_set_dma_info(ck, stale_info, NULL);
  now_ps = 5000000;
  mem_page_dma_ref(m, pfn, DEVICE.id, +1);
  mem_page_dma_ref(m, pfn, DEVICE.id, -1); /* the kernel unmaps at 5 us */
  now_ps = 8000000;
  static uint8_t buf[600];
  struct mem_prov p = {.kind = MEM_LABEL_PKT_HEADER, .flow = 1, .packet = 9};
  ck_assert_int_eq(mem_write(m, DEVICE, pfn * PG + 256, buf, 42, &p), 0);
  p.kind = MEM_LABEL_PKT_PAYLOAD;
  ck_assert_int_eq(mem_write(m, DEVICE, pfn * PG + 298, buf, 548, &p), 0);
  const struct checker_result *r = res(PROP_DEVICE_WRITE_AFTER_UNMAP);
  ck_assert_uint_eq(r->count, 1);
  ck_assert_uint_eq(r->first.length, 590);
  const char *e = r->first.explanation;
  ck_assert_msg(strstr(e, "wrote 590 bytes to IOVA 0xfff99100") != NULL, "%s", e);
  ck_assert_msg(strstr(e, "unmapped it for DMA at 5.000000 us") != NULL, "%s", e);
  ck_assert_msg(strstr(e, "stale IOTLB entry") != NULL, "%s", e);
  ck_assert_msg(strstr(e, "42 bytes") == NULL, "%s", e);
  checker_set_dma_info(ck, NULL, NULL);
}
END_TEST

START_TEST(test_header_then_payload_one_exposure) {
  uint64_t pfn = clean_page();
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  now_ps = 1000;
  dev_write(pfn * PG + 256, 42, MEM_LABEL_PKT_HEADER, 1, 30);
  now_ps = 1100;
  dev_write(pfn * PG + 298, 958, MEM_LABEL_PKT_PAYLOAD, 1, 30);
  assert_only(PROP_CROSS_FLOW_LEAK, 1, 1000);
  const struct checker_violation *v = &res(PROP_CROSS_FLOW_LEAK)->first;
  ck_assert_uint_eq(v->offset, 256);
  ck_assert_uint_eq(v->length, 1000); /* the first exposure, explained whole */
  ck_assert_uint_eq(v->packet_index, 30);
  /* Headers and payload: "header" is only for header bytes. */
  ck_assert_str_eq(v->kind, "packet");
  /* The next packet, right after it: a new exposure. */
  dev_write(pfn * PG + 1256, 100, MEM_LABEL_PKT_HEADER, 1, 31);
  assert_only(PROP_CROSS_FLOW_LEAK, 2, 1100);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.length, 1000);
  /* The same packet again, but not adjacent: a new exposure. */
  dev_write(pfn * PG + 2048, 10, MEM_LABEL_PKT_PAYLOAD, 1, 31);
  assert_only(PROP_CROSS_FLOW_LEAK, 3, 1110);
}
END_TEST

START_TEST(test_packet_pieces_written_before_map) {
  /* Header and payload written before mapping: one exposure at map time. */
  uint64_t pfn = clean_page();
  dev_write(pfn * PG + 100, 14, MEM_LABEL_PKT_HEADER, 1, 40);
  dev_write(pfn * PG + 114, 86, MEM_LABEL_PKT_PAYLOAD, 1, 40);
  dev_write(pfn * PG + 200, 60, MEM_LABEL_PKT_PAYLOAD, 1, 41);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  assert_only(PROP_CROSS_FLOW_LEAK, 2, 160);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.offset, 100);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.length, 100);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->first.packet_index, 40);
}
END_TEST

START_TEST(test_unmapped_writes_and_reads_are_not_exposures) {
  uint64_t pfn = clean_page();
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RO), 0);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_NONE), 0);
  dev_write(pfn * PG, 100, MEM_LABEL_PKT_PAYLOAD, 1, 50);
  uint8_t buf[100];
  ck_assert_int_eq(mem_read(m, KERNEL, pfn * PG, buf, 100), 0);
  assert_none();
  /* A refused user write does not happen, so it exposes nothing. */
  struct mem_accessor u = {.actor = MEM_ACTOR_USER, .id = APP};
  ck_assert_int_eq(mem_write(m, u, pfn * PG, buf, 10, NULL), MEM_EFAULT);
  assert_none();
  /* Principals outside the policy are ignored. */
  ck_assert_int_eq(mem_page_map(m, pfn, 5, MEM_MAP_RO), 0);
  assert_none();
}
END_TEST

START_TEST(test_no_observer_slot) {
  struct mem *m2 = mem_new(4 * PG);
  int n = 0;
  struct mem_observer dummy = {0};
  while (mem_add_observer(m2, &dummy) == 0)
    n++;
  ck_assert_int_eq(n, MEM_MAX_OBSERVERS);
  ck_assert_ptr_null(checker_new(m2, &pol, clock_fn, NULL));
  mem_free(m2);
}
END_TEST

/* ---- device grants, unmapped pages, kernel data, validated bytes ---- */

START_TEST(test_device_write_outside_grant_and_tamper) {
  uint64_t pfn = clean_page();
  mem_page_dma_ref(m, pfn, DEVICE.id, +1);
  /* the kernel writes skb_shared_info at the end of the page */
  uint8_t si[320] = {0};
  struct mem_prov kp = {.kind = MEM_LABEL_KERNEL_PTR, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(m, KERNEL, pfn * PG + PG - 320, si, 320, &kp), 0);
  /* a descriptor grants [256, 256+2048) */
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, DEVICE.id, pfn * PG + 256, 2048), 0);
  static uint8_t buf[PG];
  struct mem_prov pp = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = 0, .packet = 1};
  ck_assert_int_eq(mem_write(m, DEVICE, pfn * PG + 256, buf, 2048, &pp), 0);
  assert_none(); /* within the grant: fine */
  /* past the buffer to the end of the page, over a dead shared info (its
   * skb was freed): outside the grant, but no tamper */
  ck_assert_int_eq(mem_write(m, DEVICE, pfn * PG + 256, buf, PG - 256, &pp), 0);
  ck_assert_uint_eq(res(PROP_DEVICE_WRITE_OUTSIDE_GRANT)->count, 1);
  ck_assert_uint_eq(res(PROP_DEVICE_WRITE_OUTSIDE_GRANT)->bytes, PG - 256 - 2048);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->count, 0);
  /* the kernel builds a new skb there: its shared info is live */
  now_ps = 1000000;
  ck_assert_int_eq(mem_write(m, KERNEL, pfn * PG + PG - 320, si, 320, &kp), 0);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_LIVE, 0, pfn * PG + PG - 320, 320), 0);
  ck_assert_int_eq(mem_write(m, DEVICE, pfn * PG + 256, buf, PG - 256, &pp), 0);
  ck_assert_uint_eq(res(PROP_DEVICE_WRITE_OUTSIDE_GRANT)->count, 2);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->count, 1);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->bytes, 320);
  ck_assert_str_eq(res(PROP_KERNEL_DATA_TAMPER)->first.kind, "skb_shared_info");
  ck_assert_str_eq(res(PROP_KERNEL_DATA_TAMPER)->first.who, "device 01:00.0");
  ck_assert_uint_eq(res(PROP_DEVICE_WRITE_AFTER_UNMAP)->count, 0);
  /* the device overwrote kernel bytes; outside the grant it wrote over what
   * the bytes there were (app's packet before, zeroes past it) */
  ck_assert_int_eq(pair_count(PROP_KERNEL_DATA_TAMPER, "device 01:00.0", "kernel"), 1);
  ck_assert_int_eq(pair_count(PROP_DEVICE_WRITE_OUTSIDE_GRANT, "device 01:00.0", "kernel"), 1);
}
END_TEST

START_TEST(test_device_write_after_unmap) {
  uint64_t pfn = clean_page();
  mem_page_dma_ref(m, pfn, DEVICE.id, +1);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, DEVICE.id, pfn * PG, 1500), 0);
  static uint8_t buf[PG];
  struct mem_prov pp = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = 0, .packet = 1};
  ck_assert_int_eq(mem_write(m, DEVICE, pfn * PG, buf, 1500, &pp), 0);
  assert_none();
  /* unmapped and freed; the kernel reuses it for its own data */
  mem_mark_remove(m, MEM_MARK_GRANT, DEVICE.id, pfn * PG, 1500);
  mem_page_dma_ref(m, pfn, DEVICE.id, -1);
  struct mem_prov km = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(m, KERNEL, pfn * PG, buf, 512, &km), 0);
  mem_mark_add(m, MEM_MARK_LIVE, 0, pfn * PG, 512); /* objects in use */
  /* a late write of the old buffer */
  ck_assert_int_eq(mem_write(m, DEVICE, pfn * PG, buf, 1500, &pp), 0);
  ck_assert_uint_eq(res(PROP_DEVICE_WRITE_AFTER_UNMAP)->count, 1);
  ck_assert_uint_eq(res(PROP_DEVICE_WRITE_AFTER_UNMAP)->bytes, 1500);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->bytes, 512);
  ck_assert_uint_eq(res(PROP_DEVICE_WRITE_OUTSIDE_GRANT)->bytes, 1500);
}
END_TEST

START_TEST(test_user_write_after_validation) {
  uint64_t pfn = clean_page();
  dev_write(pfn * PG + 256, 600, MEM_LABEL_PKT_PAYLOAD, 1, 7);
  ck_assert_int_eq(mem_page_map(m, pfn, 0, MEM_MAP_RW), 0);
  uint64_t before_leaks = res(PROP_CROSS_FLOW_LEAK)->count;
  struct mem_accessor app = {.actor = MEM_ACTOR_USER, .id = 0};
  uint8_t x = 0x5a;
  struct mem_prov up = {.kind = MEM_LABEL_USER, .principal = 0, .packet = UINT64_MAX};
  /* not validated yet: a write is the app's business */
  ck_assert_int_eq(mem_write(m, app, pfn * PG + 300, &x, 1, &up), 0);
  ck_assert_uint_eq(res(PROP_USER_WRITE_AFTER_VALIDATION)->count, 0);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_VALIDATED, 0, pfn * PG + 256, 600), 0);
  ck_assert_int_eq(mem_write(m, app, pfn * PG + 400, &x, 1, &up), 0);
  ck_assert_uint_eq(res(PROP_USER_WRITE_AFTER_VALIDATION)->count, 1);
  ck_assert_uint_eq(res(PROP_USER_WRITE_AFTER_VALIDATION)->first.packet_index, 7);
  ck_assert_str_eq(res(PROP_USER_WRITE_AFTER_VALIDATION)->first.who, "app");
  /* consumed: the kernel no longer uses them */
  ck_assert_int_eq(mem_mark_remove(m, MEM_MARK_VALIDATED, 0, pfn * PG + 256, 600), 0);
  ck_assert_int_eq(mem_write(m, app, pfn * PG + 500, &x, 1, &up), 0);
  ck_assert_uint_eq(res(PROP_USER_WRITE_AFTER_VALIDATION)->count, 1);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->count, 0);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->count, before_leaks);
}
END_TEST

START_TEST(test_user_tamper_kernel_bytes) {
  uint64_t pfn = clean_page();
  uint8_t si[64] = {0};
  struct mem_prov kp = {.kind = MEM_LABEL_KERNEL_PTR, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(m, KERNEL, pfn * PG + 1000, si, 64, &kp), 0);
  ck_assert_int_eq(mem_page_map(m, pfn, 0, MEM_MAP_RW), 0); /* exposes them too */
  struct mem_accessor app = {.actor = MEM_ACTOR_USER, .id = 0};
  struct mem_prov up = {.kind = MEM_LABEL_USER, .principal = 0, .packet = UINT64_MAX};
  uint8_t buf[100] = {0};
  /* dead kernel bytes (nothing will read them again): no tamper */
  ck_assert_int_eq(mem_write(m, app, pfn * PG + 980, buf, 100, &up), 0);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->count, 0);
  ck_assert_int_eq(mem_write(m, KERNEL, pfn * PG + 1000, si, 64, &kp), 0);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_LIVE, 0, pfn * PG + 1000, 64), 0);
  ck_assert_int_eq(mem_write(m, app, pfn * PG + 980, buf, 100, &up), 0);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->count, 1);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->bytes, 64);
  /* the same write elsewhere in the page touches no kernel bytes */
  ck_assert_int_eq(mem_write(m, app, pfn * PG + 2000, buf, 100, &up), 0);
  ck_assert_uint_eq(res(PROP_KERNEL_DATA_TAMPER)->count, 1);
}
END_TEST

START_TEST(test_cross_flow_tamper) {
  /* app's packet in a page "other" has mapped read-only; app overwrites it
   * through its read-write mapping: other sees bytes app wrote */
  uint64_t pfn = clean_page();
  dev_write(pfn * PG + 256, 300, MEM_LABEL_PKT_PAYLOAD, 0, 3);
  ck_assert_int_eq(mem_page_map(m, pfn, APP, MEM_MAP_RW), 0);
  ck_assert_int_eq(mem_page_map(m, pfn, OTHER, MEM_MAP_RO), 0);
  uint64_t leaks = res(PROP_CROSS_FLOW_LEAK)->count; /* other sees app's packet: a leak */
  ck_assert_uint_eq(leaks, 1);
  struct mem_accessor app = {.actor = MEM_ACTOR_USER, .id = APP};
  struct mem_prov up = {.kind = MEM_LABEL_USER, .principal = APP, .packet = UINT64_MAX};
  uint8_t buf[16];
  memset(buf, 0x58, sizeof buf);
  ck_assert_int_eq(mem_write(m, app, pfn * PG + 256, buf, sizeof buf, &up), 0);
  /* an integrity event, counted once and not as a leak */
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_TAMPER)->count, 1);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_TAMPER)->bytes, 16);
  ck_assert_uint_eq(res(PROP_CROSS_FLOW_LEAK)->count, leaks);
  ck_assert_str_eq(res(PROP_CROSS_FLOW_TAMPER)->first.who, "other");
  ck_assert_str_eq(res(PROP_CROSS_FLOW_TAMPER)->first.kind, "user");
  ck_assert_ptr_nonnull(strstr(res(PROP_CROSS_FLOW_TAMPER)->first.explanation, "principal 'app'"));
}
END_TEST

START_TEST(test_pool_exhaustion) {
  uint64_t pfn = clean_page();
  /* flow 1 belongs to "other"; no page held: a drop is not exhaustion */
  checker_note_drop(ck, 0, 1, 5, 100, 1);
  ck_assert_uint_eq(res(PROP_POOL_EXHAUSTION)->count, 0);
  mem_page_set_holder(m, pfn, 0); /* app holds a page */
  checker_note_drop(ck, 0, 1, 6, 100, 0); /* ring empty but pool was not */
  ck_assert_uint_eq(res(PROP_POOL_EXHAUSTION)->count, 0);
  checker_note_drop(ck, 0, 0, 7, 100, 1); /* the holder's own flow */
  ck_assert_uint_eq(res(PROP_POOL_EXHAUSTION)->count, 0);
  checker_note_drop(ck, 0, 1, 8, 100, 1);
  ck_assert_uint_eq(res(PROP_POOL_EXHAUSTION)->count, 1);
  ck_assert_uint_eq(res(PROP_POOL_EXHAUSTION)->bytes, 100);
  ck_assert_str_eq(res(PROP_POOL_EXHAUSTION)->first.who, "app");
  ck_assert_uint_eq(res(PROP_POOL_EXHAUSTION)->first.packet_index, 8);
  ck_assert_int_eq(pair_count(PROP_POOL_EXHAUSTION, "app", "other"), 1); /* app starved other's packet */
  mem_page_set_holder(m, pfn, -1);
  checker_note_drop(ck, 0, 1, 9, 100, 1);
  ck_assert_uint_eq(res(PROP_POOL_EXHAUSTION)->count, 1);
}
END_TEST

static Suite *checker_suite(void) {
  Suite *s = suite_create("checker");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_property_names);
  tcase_add_test(tc, test_cross_flow_device_write_into_ro_page);
  tcase_add_test(tc, test_own_flow_is_no_leak);
  tcase_add_test(tc, test_flows_past_table_belong_to_default_owner);
  tcase_add_test(tc, test_write_while_mapped_rw_and_by_kernel_copy);
  tcase_add_test(tc, test_cap_net_admin);
  tcase_add_test(tc, test_stale_data);
  tcase_add_test(tc, test_stale_via_page_allocator);
  tcase_add_test(tc, test_stale_own_flow_is_no_leak);
  tcase_add_test(tc, test_cleared_before_mapping);
  tcase_add_test(tc, test_stale_user_data);
  tcase_add_test(tc, test_untouched_page_mapped);
  tcase_add_test(tc, test_kernel_meta_whatever_its_age);
  tcase_add_test(tc, test_remap_counts_once);
  tcase_add_test(tc, test_header_then_payload_one_exposure);
  tcase_add_test(tc, test_write_after_unmap_chain_and_bytes);
  tcase_add_test(tc, test_packet_pieces_written_before_map);
  tcase_add_test(tc, test_unmapped_writes_and_reads_are_not_exposures);
  tcase_add_test(tc, test_no_observer_slot);
  tcase_add_test(tc, test_device_write_outside_grant_and_tamper);
  tcase_add_test(tc, test_device_write_after_unmap);
  tcase_add_test(tc, test_user_write_after_validation);
  tcase_add_test(tc, test_user_tamper_kernel_bytes);
  tcase_add_test(tc, test_pool_exhaustion);
  tcase_add_test(tc, test_cross_flow_tamper);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  Suite *s = checker_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
