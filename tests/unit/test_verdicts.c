/*
 * test_verdicts: verdicts reached by running the models together (labelled
 * memory, the IOMMU with its tables in that memory, the DMA port, the
 * checker), on the facts the models record themselves, at the places where a
 * wrong "safe" would hide: the IOMMU's own tables.
 */
#include <check.h>
#include <string.h>

#include "checker_rig.h"
#include "dma.h"
#include "dma_port.h"
#include "iommu.h"
#include "suite_run.h"

#define RID 0x0100
#define RW (IOMMU_PERM_READ | IOMMU_PERM_WRITE)

static uint64_t clock_ps;
static uint64_t rig_clock(void *ctx) {
  (void)ctx;
  return clock_ps;
}

struct machine {
  struct policy pol;
  struct mem *m;
  struct checker *ck;
  struct iommu *io;
  struct iommu_dma *d;
  const struct dma_port *port;
};

/* Memory, checker, an IOMMU whose tables are in that memory, its DMA port. */
static void machine_start(struct machine *x, enum iommu_mode mode) {
  clock_ps = 1000000;
  checker_rig_policy(&x->pol);
  checker_rig_start(&x->pol, rig_clock, &x->m, &x->ck);
  struct iommu_params ip;
  iommu_params_default(&ip);
  ip.mem = x->m;
  ip.mode = (uint8_t)mode;
  x->io = iommu_new(&ip);
  ck_assert_ptr_nonnull(x->io);
  x->d = iommu_dma_new(x->io, x->m, NULL, NULL);
  ck_assert_ptr_nonnull(x->d);
  x->port = iommu_dma_port(x->d);
}

static void machine_stop(struct machine *x) {
  iommu_dma_free(x->d);
  iommu_free(x->io);
  checker_free(x->ck);
  mem_free(x->m);
}

static uint64_t count(const struct machine *x, enum checker_property p) {
  return checker_result(x->ck, p)->count;
}

/* The device writes 64 bytes of a packet at iova through the port. */
static void device_write64(const struct machine *x, uint64_t iova) {
  static const uint8_t junk[64] = {0xee};
  struct dma_prov pv = {.kind = DMA_PROV_PKT_PAYLOAD, .flow = 1, .packet = 7};
  struct dma_result res;
  ck_assert_int_eq(dma_port_write(x->port, RID, iova, junk, sizeof junk, &pv, &res), DMA_OK);
  ck_assert_uint_eq(res.bytes_done, sizeof junk);
}

/* With the IOMMU off (or passing through), the device's IOVAs are physical
 * addresses: a write can reach the IOMMU's own page tables, which the kernel
 * and the IOMMU keep using. That is tampering with live kernel data, not
 * only a write outside the device's grants. */
static void write_into_page_tables(enum iommu_mode later_mode) {
  struct machine x;
  machine_start(&x, IOMMU_STRICT);
  uint64_t pfn, iova;
  ck_assert_int_eq(mem_page_alloc(x.m, &pfn), 0);
  ck_assert(dma_map_page(x.io, x.m, RID, pfn, RW, 0, &iova) >= 0);
  uint64_t root = iommu_domain_root(x.io, RID);
  ck_assert_uint_ne(root, 0);
  iommu_set_mode(x.io, later_mode);
  device_write64(&x, root + 128);
  ck_assert_uint_eq(count(&x, PROP_DEVICE_WRITE_OUTSIDE_GRANT), 1);
  ck_assert_uint_eq(count(&x, PROP_KERNEL_DATA_TAMPER), 1);
  ck_assert_uint_eq(checker_result(x.ck, PROP_KERNEL_DATA_TAMPER)->bytes, 64);
  ck_assert_str_eq(checker_result(x.ck, PROP_KERNEL_DATA_TAMPER)->first.kind, "kernel_meta");
  machine_stop(&x);
}

START_TEST(test_device_write_into_page_tables_iommu_off) { write_into_page_tables(IOMMU_OFF); }
END_TEST

START_TEST(test_device_write_into_page_tables_passthrough) { write_into_page_tables(IOMMU_PASSTHROUGH); }
END_TEST

/* The same device write into a page the kernel does not use (never
 * allocated): outside the grants, but no tampering. */
START_TEST(test_device_write_into_unused_page_is_no_tamper) {
  struct machine x;
  machine_start(&x, IOMMU_OFF);
  device_write64(&x, 40 * PG + 128);
  ck_assert_uint_eq(count(&x, PROP_DEVICE_WRITE_OUTSIDE_GRANT), 1);
  ck_assert_uint_eq(count(&x, PROP_KERNEL_DATA_TAMPER), 0);
  machine_stop(&x);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("verdicts");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_device_write_into_page_tables_iommu_off);
  tcase_add_test(tc, test_device_write_into_page_tables_passthrough);
  tcase_add_test(tc, test_device_write_into_unused_page_is_no_tamper);
  suite_add_tcase(s, tc);
  return s;
}



int main(void) { return suite_run(suite()); }
