/*
 * pool/cpu: the CPU cost model (cpu.h, calibration.md).
 *
 * Clearing follows Brouer's memset curve (Skylake i7-6700K, rep stos):
 * 64 B: 29, 256 B: 36, 1 KiB: 52, 2 KiB: 84, 4 KiB: 148, 8 KiB: 276 cycles,
 * linear between the points and past 8 KiB along the last segment; the
 * thread's figures (4096 B: 143, 256 B: 36) are reproduced within 10%.
 * Copies cost a start plus a rate; cycles become picoseconds at the core's
 * frequency.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"

static int within(double v, double target, double frac) {
  return fabs(v - target) <= target * frac;
}

START_TEST(test_clear_thread_figures) {
  /* C2: 143 cycles for 4096 B (Brouer, 2016), 148 on the 2017 curve. */
  ck_assert_msg(within((double)cpu_clear_cycles(4096), 143, 0.10), "4096 B: %llu cycles",
                (unsigned long long)cpu_clear_cycles(4096));
  ck_assert_msg(within((double)cpu_clear_cycles(4096), 148, 0.10), "4096 B: %llu cycles",
                (unsigned long long)cpu_clear_cycles(4096));
  ck_assert_uint_eq(cpu_clear_cycles(256), 36);
  /* About 28 B/cycle for a page, 7 B/cycle for 256 B. */
  ck_assert(within(4096.0 / (double)cpu_clear_cycles(4096), 28, 0.10));
  ck_assert(within(256.0 / (double)cpu_clear_cycles(256), 7, 0.10));
}
END_TEST

START_TEST(test_clear_curve_points) {
  static const struct {
    uint64_t bytes, cycles;
  } curve[] = {{64, 29}, {256, 36}, {1024, 52}, {2048, 84}, {4096, 148}, {8192, 276}};
  for (size_t i = 0; i < sizeof curve / sizeof curve[0]; i++)
    ck_assert_msg(cpu_clear_cycles(curve[i].bytes) == curve[i].cycles, "%llu B: %llu, expected %llu",
                  (unsigned long long)curve[i].bytes,
                  (unsigned long long)cpu_clear_cycles(curve[i].bytes),
                  (unsigned long long)curve[i].cycles);
  ck_assert_uint_eq(cpu_clear_cycles(0), 0);
}
END_TEST

START_TEST(test_clear_interpolation) {
  /* Midpoints of the segments. */
  ck_assert_uint_eq(cpu_clear_cycles(640), 44);   /* (36 + 52) / 2 */
  ck_assert_uint_eq(cpu_clear_cycles(1536), 68);  /* (52 + 84) / 2 */
  ck_assert_uint_eq(cpu_clear_cycles(3072), 116); /* (84 + 148) / 2 */
  ck_assert_uint_eq(cpu_clear_cycles(6144), 212); /* (148 + 276) / 2 */
  /* Quarter points. */
  ck_assert_uint_eq(cpu_clear_cycles(2560), 100); /* 84 + 64/4 */
  ck_assert_uint_eq(cpu_clear_cycles(7168), 244); /* 148 + 3*128/4 */
  /* Past 8 KiB: the last segment's slope, 128 cycles per 4 KiB. */
  ck_assert_uint_eq(cpu_clear_cycles(12288), 404);
  ck_assert_uint_eq(cpu_clear_cycles(16384), 532);
  ck_assert_uint_eq(cpu_clear_cycles(65536), 276 + 14 * 128);
}
END_TEST

START_TEST(test_clear_monotonic) {
  uint64_t prev = 0;
  for (uint64_t len = 0; len <= 20000; len++) {
    uint64_t c = cpu_clear_cycles(len);
    ck_assert_msg(c >= prev, "%llu B: %llu cycles < %llu for one byte less", (unsigned long long)len,
                  (unsigned long long)c, (unsigned long long)prev);
    prev = c;
  }
  ck_assert_uint_gt(cpu_clear_cycles(20000), cpu_clear_cycles(8192));
}
END_TEST

START_TEST(test_copy_cycles) {
  struct cpu_costs c;
  cpu_costs_default(&c);
  ck_assert_uint_gt(c.copy_start, 0);
  ck_assert(c.copy_bytes_per_cycle > 0);
  /* start + bytes / rate */
  uint64_t len = (uint64_t)(c.copy_bytes_per_cycle * 100);
  ck_assert_uint_eq(cpu_copy_cycles(&c, len), c.copy_start + 100);
  memset(&c, 0, sizeof c);
  c.copy_start = 10;
  c.copy_bytes_per_cycle = 8.0;
  ck_assert_uint_eq(cpu_copy_cycles(&c, 800), 110);
  ck_assert_uint_eq(cpu_copy_cycles(&c, 8), 11);
  ck_assert_uint_eq(cpu_copy_cycles(&c, 1514 * 8), 10 + 1514);
  c.copy_start = 24;
  c.copy_bytes_per_cycle = 16.0;
  ck_assert_uint_eq(cpu_copy_cycles(&c, 4096), 24 + 256);
  ck_assert_uint_eq(cpu_copy_cycles(&c, 1600), 24 + 100);
  /* More bytes never cost less. */
  uint64_t prev = 0;
  for (uint64_t l = 1; l <= 9000; l++) {
    uint64_t v = cpu_copy_cycles(&c, l);
    ck_assert_uint_ge(v, prev);
    prev = v;
  }
}
END_TEST

START_TEST(test_cycles_ps) {
  struct cpu c;
  cpu_init(&c, 4.0);
  ck_assert_uint_eq(cpu_cycles_ps(&c, 4000), 1000000);
  ck_assert_uint_eq(cpu_cycles_ps(&c, 1), 250);
  ck_assert_uint_eq(cpu_cycles_ps(&c, 0), 0);
  ck_assert_uint_eq(cpu_cycles_ps(&c, 4000000000ull), 1000000000000ull); /* 1 s */
  cpu_init(&c, 2.5);
  ck_assert_uint_eq(cpu_cycles_ps(&c, 1000), 400000);
  cpu_init(&c, 3.0);
  ck_assert_uint_eq(cpu_cycles_ps(&c, 3), 1000);
  ck_assert_uint_eq(cpu_cycles_ps(&c, 3000000), 1000000000);
}
END_TEST

START_TEST(test_init_charge_total) {
  struct cpu c;
  memset(&c, 0xff, sizeof c);
  cpu_init(&c, 4.0);
  ck_assert(c.ghz == 4.0);
  ck_assert_uint_eq(c.busy_until_ps[0], 0);
  ck_assert_uint_eq(c.ncores, 1);
  for (int b = 0; b < CPU_NBUCKETS; b++)
    ck_assert_uint_eq(c.cycles[b], 0);
  struct cpu_costs d;
  cpu_costs_default(&d);
  ck_assert_mem_eq(&c.costs, &d, sizeof d);
  ck_assert_uint_eq(cpu_total(&c), 0);
  cpu_charge(&c, CPU_CLEAR, cpu_clear_cycles(4096));
  cpu_charge(&c, CPU_COPY, 100);
  cpu_charge(&c, CPU_IOMMU, 6909);
  cpu_charge(&c, CPU_COPY, 5);
  cpu_charge(&c, CPU_OTHER, 1);
  ck_assert_uint_eq(c.cycles[CPU_CLEAR], 148);
  ck_assert_uint_eq(c.cycles[CPU_COPY], 105);
  ck_assert_uint_eq(c.cycles[CPU_IOMMU], 6909);
  ck_assert_uint_eq(c.cycles[CPU_SKB], 0);
  ck_assert_uint_eq(cpu_total(&c), 148 + 105 + 6909 + 1);
}
END_TEST

START_TEST(test_default_costs) {
  struct cpu_costs c;
  cpu_costs_default(&c);
  /* page_pool fast path: "tens of cycles" */
  ck_assert_uint_ge(c.pool_alloc, 10);
  ck_assert_uint_lt(c.pool_alloc, 100);
  ck_assert_uint_ge(c.pool_recycle, 10);
  ck_assert_uint_lt(c.pool_recycle, 100);
  /* Everything the host does costs something. */
  uint32_t all[] = {c.copy_start, c.skb_alloc, c.head_alloc, c.page_alloc, c.user_map,
                    c.user_unmap, c.rx_desc,   c.xdp_run,    c.xdp_rule, c.sock_deliver, c.validate};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    ck_assert_uint_gt(all[i], 0);
  /* The page_pool exists because its fast path beats the page allocator. */
  ck_assert_uint_lt(c.pool_alloc, c.page_alloc);
}
END_TEST


/* Several cores: queues map onto them round robin, each core keeps its own
 * busy time. */
START_TEST(test_cores) {
  struct cpu c;
  cpu_init(&c, 4.0);
  cpu_set_cores(&c, 0);
  ck_assert_uint_eq(c.ncores, 1);
  cpu_set_cores(&c, 1000);
  ck_assert_uint_eq(c.ncores, CPU_MAX_CORES);
  cpu_set_cores(&c, 3);
  ck_assert_uint_eq(cpu_core_of_queue(&c, 0), 0);
  ck_assert_uint_eq(cpu_core_of_queue(&c, 4), 1);
  ck_assert_uint_eq(cpu_core_of_queue(&c, 5), 2);
  /* 4000 cycles at 4 GHz: 1 us */
  ck_assert_uint_eq(cpu_core_run(&c, 1, 5000000, 4000), 6000000);
  ck_assert_uint_eq(c.busy_until_ps[1], 6000000);
  ck_assert_uint_eq(c.busy_ps[1], 1000000);
  ck_assert_uint_eq(cpu_core_run(&c, 1, 7000000, 8000), 9000000);
  ck_assert_uint_eq(c.busy_ps[1], 3000000);
  ck_assert_uint_eq(c.busy_ps[0], 0);
  ck_assert_uint_eq(c.busy_until_ps[2], 0);
}
END_TEST

static Suite *cpu_suite(void) {
  Suite *s = suite_create("cpu");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_clear_thread_figures);
  tcase_add_test(tc, test_clear_curve_points);
  tcase_add_test(tc, test_clear_interpolation);
  tcase_add_test(tc, test_clear_monotonic);
  tcase_add_test(tc, test_copy_cycles);
  tcase_add_test(tc, test_cycles_ps);
  tcase_add_test(tc, test_init_charge_total);
  tcase_add_test(tc, test_cores);
  tcase_add_test(tc, test_default_costs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  Suite *s = cpu_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
