/*
 * sim/core/check, the transmit side: device reads against grants and DMA
 * mappings (device_read_outside_grant, device_read_after_unmap) and the
 * bytes of a transmitted frame against what its sender may send
 * (wire_leak), decided from labels and kernel facts (checker.h).
 *
 * Principals: 0 "app" owns flow 0, 1 "other" owns flow 1. Each case lays
 * memory out as the TX path would (the sender's or the kernel's bytes, a
 * DMA mapping, a grant), makes the device read it as the NIC does, then
 * tells the checker a frame of that many bytes left on the wire.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "checker.h"
#include "checker_rig.h"
#include "mem.h"

#define RID 0x0100u

static const struct mem_accessor KERNEL = {.actor = MEM_ACTOR_KERNEL, .id = 0};
static const struct mem_accessor DEVICE = {.actor = MEM_ACTOR_DEVICE, .id = RID};
static struct policy pol;
static struct mem *m;
static struct checker *ck;
static uint64_t now_ps;

static uint64_t clock_fn(void *ctx) {
  (void)ctx;
  return now_ps;
}

static void tx_setup(void) {
  checker_rig_policy(&pol);
  now_ps = 1000;
  checker_rig_start(&pol, clock_fn, &m, &ck);
  checker_wire_enable(ck);
}

static void tx_teardown(void) {
  checker_free(ck);
  mem_free(m);
}

static uint64_t count(enum checker_property p) { return checker_result(ck, p)->count; }
static uint64_t bytes(enum checker_property p) { return checker_result(ck, p)->bytes; }

/* A page holding len bytes of flow's packet at offset 0, DMA-mapped and
 * granted to the device as a posted TX descriptor grants it: to read. */
static uint64_t tx_buffer(uint32_t flow, uint32_t len) {
  uint64_t pfn;
  ck_assert_int_eq(mem_page_alloc(m, &pfn), 0);
  uint8_t buf[PG];
  memset(buf, 0x55, sizeof buf);
  struct mem_prov p = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = flow, .packet = 7};
  ck_assert_int_eq(mem_write(m, KERNEL, pfn * PG, buf, len, &p), 0);
  mem_page_dma_ref(m, pfn, RID, +1);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT_READ, RID, pfn * PG, len), 0);
  return pfn;
}

static void dev_read(uint64_t paddr, uint32_t len) {
  uint8_t buf[PG];
  ck_assert_int_eq(mem_read(m, DEVICE, paddr, buf, len), 0);
}

START_TEST(test_own_frame_is_clean) {
  uint64_t pfn = tx_buffer(0, 600);
  dev_read(pfn * PG, 600);
  ck_assert_uint_eq(checker_wire_frame(ck, RID, APP, 600, 7), 0);
  ck_assert_uint_eq(count(PROP_WIRE_LEAK), 0);
  ck_assert_uint_eq(count(PROP_DEVICE_READ_OUTSIDE_GRANT), 0);
  ck_assert_uint_eq(count(PROP_DEVICE_READ_AFTER_UNMAP), 0);
  ck_assert_uint_eq(checker_total(ck), 0);
}
END_TEST

START_TEST(test_other_principals_frame_leaks) {
  /* The sender's descriptor points at bytes of another principal's flow. */
  uint64_t pfn = tx_buffer(1, 600);
  dev_read(pfn * PG, 600);
  ck_assert_uint_eq(checker_wire_frame(ck, RID, APP, 600, 7), 600);
  ck_assert_uint_eq(count(PROP_WIRE_LEAK), 1);
  ck_assert_uint_eq(bytes(PROP_WIRE_LEAK), 600);
  ck_assert_ptr_nonnull(strstr(checker_result(ck, PROP_WIRE_LEAK)->first.explanation, "another principal"));
  /* The same frame sent by its owner is no leak. */
  dev_read(pfn * PG, 600);
  ck_assert_uint_eq(checker_wire_frame(ck, RID, OTHER, 600, 7), 0);
  ck_assert_uint_eq(count(PROP_WIRE_LEAK), 1);
}
END_TEST

START_TEST(test_kernel_data_after_free_leaks) {
  /* The page was freed and the kernel put its own objects there before the
   * device read it: the frame carries kernel data. */
  uint64_t pfn = tx_buffer(0, 600);
  mem_page_new_epoch(m, pfn);
  uint8_t objs[600];
  memset(objs, 0x88, sizeof objs);
  struct mem_prov km = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(m, KERNEL, pfn * PG + 100, objs, 200, &km), 0);
  dev_read(pfn * PG, 600);
  /* Bytes 100..299 are the kernel's; the rest are the sender's own packet,
   * now from an earlier allocation of the page (stale, but its own). */
  ck_assert_uint_eq(checker_wire_frame(ck, RID, APP, 600, 7), 200);
  ck_assert_uint_eq(count(PROP_WIRE_LEAK), 1);
  ck_assert_uint_eq(checker_result(ck, PROP_WIRE_LEAK)->first.length, 200);
  ck_assert_str_eq(checker_result(ck, PROP_WIRE_LEAK)->first.kind, "kernel_meta");
}
END_TEST

START_TEST(test_only_the_frames_last_bytes_count) {
  /* Descriptor fetches (kernel metadata in the ring) come before the frame's
   * buffers: only the last len bytes read are the frame. */
  uint64_t ring;
  ck_assert_int_eq(mem_page_alloc(m, &ring), 0);
  uint8_t d[64] = {0};
  struct mem_prov km = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(m, KERNEL, ring * PG, d, sizeof d, &km), 0);
  mem_page_dma_ref(m, ring, RID, +1);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, RID, ring * PG, PG), 0);
  uint64_t pfn = tx_buffer(0, 300);
  dev_read(ring * PG, 64);
  dev_read(pfn * PG, 300);
  ck_assert_uint_eq(checker_wire_frame(ck, RID, APP, 300, 7), 0);
  ck_assert_uint_eq(checker_total(ck), 0);
}
END_TEST

START_TEST(test_read_outside_grant) {
  uint64_t pfn = tx_buffer(0, 600);
  dev_read(pfn * PG, 1000); /* 400 bytes past the granted buffer */
  ck_assert_uint_eq(count(PROP_DEVICE_READ_OUTSIDE_GRANT), 1);
  ck_assert_uint_eq(bytes(PROP_DEVICE_READ_OUTSIDE_GRANT), 400);
  ck_assert_uint_eq(count(PROP_DEVICE_READ_AFTER_UNMAP), 0);
  /* What lay past it (what the page held before) went out too. */
  ck_assert_uint_eq(checker_wire_frame(ck, RID, APP, 1000, 7), 400);
}
END_TEST

START_TEST(test_read_after_unmap) {
  uint64_t pfn = tx_buffer(0, 600);
  mem_page_dma_ref(m, pfn, RID, -1);
  dev_read(pfn * PG, 600);
  ck_assert_uint_eq(count(PROP_DEVICE_READ_AFTER_UNMAP), 1);
  ck_assert_uint_eq(bytes(PROP_DEVICE_READ_AFTER_UNMAP), 600);
  ck_assert_uint_eq(count(PROP_DEVICE_READ_OUTSIDE_GRANT), 0);
}
END_TEST

/* A transmit buffer is the device's to read, not to write (DMA_TO_DEVICE):
 * a device write into it is outside what it was given, with the IOMMU off
 * or passing through as much as anywhere. A receive buffer's grant
 * (MEM_MARK_GRANT) allows both. */
START_TEST(test_write_into_read_grant) {
  static const struct mem_prov junk = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = 1, .packet = 9};
  uint8_t b[64] = {0};
  uint64_t tx = tx_buffer(0, 600);
  ck_assert_uint_eq(mem_mark_covered_readable(m, RID, tx * PG, 600), 600);
  ck_assert_uint_eq(mem_mark_covered(m, MEM_MARK_GRANT, RID, tx * PG, 600), 0);
  dev_read(tx * PG, 600);
  ck_assert_uint_eq(count(PROP_DEVICE_READ_OUTSIDE_GRANT), 0);
  ck_assert_int_eq(mem_write(m, DEVICE, tx * PG + 100, b, sizeof b, &junk), 0);
  ck_assert_uint_eq(count(PROP_DEVICE_WRITE_OUTSIDE_GRANT), 1);
  ck_assert_uint_eq(bytes(PROP_DEVICE_WRITE_OUTSIDE_GRANT), 64);
  /* Another device's read grant is not this one's. */
  ck_assert_uint_eq(mem_mark_covered_readable(m, RID + 1, tx * PG, 600), 0);
  /* Half the range under a read-and-write grant, half under a read grant:
   * all of it readable, half writable. */
  uint64_t rx;
  ck_assert_int_eq(mem_page_alloc(m, &rx), 0);
  mem_page_dma_ref(m, rx, RID, +1);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT, RID, rx * PG, 300), 0);
  ck_assert_int_eq(mem_mark_add(m, MEM_MARK_GRANT_READ, RID, rx * PG + 300, 300), 0);
  ck_assert_uint_eq(mem_mark_covered_readable(m, RID, rx * PG, 600), 600);
  ck_assert_uint_eq(mem_mark_covered(m, MEM_MARK_GRANT, RID, rx * PG, 600), 300);
  ck_assert_int_eq(mem_write(m, DEVICE, rx * PG, b, sizeof b, &junk), 0);
  ck_assert_uint_eq(count(PROP_DEVICE_WRITE_OUTSIDE_GRANT), 1);
  ck_assert_int_eq(mem_write(m, DEVICE, rx * PG + 280, b, sizeof b, &junk), 0);
  ck_assert_uint_eq(count(PROP_DEVICE_WRITE_OUTSIDE_GRANT), 2);
  ck_assert_uint_eq(bytes(PROP_DEVICE_WRITE_OUTSIDE_GRANT), 64 + 44);
  /* Taking the read grant away takes away exactly it. */
  ck_assert_int_eq(mem_mark_remove(m, MEM_MARK_GRANT_READ, RID, rx * PG + 300, 300), 0);
  ck_assert_uint_eq(mem_mark_covered_readable(m, RID, rx * PG, 600), 300);
}
END_TEST

START_TEST(test_wire_needs_enabling) {
  /* Without the wire the reads are still checked, frames are not. */
  tx_teardown();
  m = mem_new(64 * PG);
  ck_assert_ptr_nonnull(m);
  mem_set_clock(m, clock_fn, NULL);
  ck = checker_new(m, &pol, clock_fn, NULL);
  ck_assert_ptr_nonnull(ck);
  uint64_t pfn = tx_buffer(1, 100);
  mem_page_dma_ref(m, pfn, RID, -1);
  dev_read(pfn * PG, 100);
  ck_assert_uint_eq(checker_wire_frame(ck, RID, APP, 100, 7), 0);
  ck_assert_uint_eq(count(PROP_WIRE_LEAK), 0);
  ck_assert_uint_eq(count(PROP_DEVICE_READ_AFTER_UNMAP), 1);
}
END_TEST

START_TEST(test_property_names) {
  ck_assert_str_eq(checker_property_name(PROP_WIRE_LEAK), "wire_leak");
  ck_assert_str_eq(checker_property_name(PROP_DEVICE_READ_OUTSIDE_GRANT), "device_read_outside_grant");
  ck_assert_str_eq(checker_property_name(PROP_DEVICE_READ_AFTER_UNMAP), "device_read_after_unmap");
}
END_TEST

static Suite *checker_tx_suite(void) {
  Suite *s = suite_create("checker_tx");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, tx_setup, tx_teardown);
  tcase_add_test(tc, test_own_frame_is_clean);
  tcase_add_test(tc, test_other_principals_frame_leaks);
  tcase_add_test(tc, test_kernel_data_after_free_leaks);
  tcase_add_test(tc, test_only_the_frames_last_bytes_count);
  tcase_add_test(tc, test_read_outside_grant);
  tcase_add_test(tc, test_read_after_unmap);
  tcase_add_test(tc, test_write_into_read_grant);
  tcase_add_test(tc, test_wire_needs_enabling);
  tcase_add_test(tc, test_property_names);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(checker_tx_suite());
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
