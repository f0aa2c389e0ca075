/*
 * test_dma_port.c: the DMA port (dma_port.h) as iommu_dma implements it:
 * writes land labelled with the device's provenance and requester id, reads
 * are seen as device reads, a refused page stops the request, translate-only
 * moves nothing, stale IOTLB entries are reported, and an unmap watch fires
 * when the kernel's DMA API drops the page.
 */
#include <check.h>
#include <string.h>

#include "dma.h"
#include "dma_port.h"
#include "iommu.h"
#include "mem.h"

#define RID 0x0100

static struct mem *m;
static struct iommu *io;
static struct iommu_dma *d;
static const struct dma_port *port;
static unsigned device_reads, device_writes;
static uint64_t fired_cookie;
static unsigned fired;

static void on_access(void *ctx, struct mem *mm, const struct mem_access *a) {
  (void)ctx;
  (void)mm;
  if (a->who.actor != MEM_ACTOR_DEVICE || a->who.id != RID || a->denied)
    return;
  if (a->op == MEM_OP_READ)
    device_reads++;
  else
    device_writes++;
}

static void setup(uint8_t mode) {
  m = mem_new(16u << 20);
  ck_assert_ptr_nonnull(m);
  struct mem_observer obs = {.access = on_access};
  ck_assert_int_eq(mem_add_observer(m, &obs), 0);
  struct iommu_params ip;
  iommu_params_default(&ip);
  ip.mode = mode;
  io = iommu_new(&ip);
  d = iommu_dma_new(io, m, NULL, NULL);
  ck_assert_ptr_nonnull(d);
  port = iommu_dma_port(d);
  device_reads = device_writes = 0;
  fired = 0;
}

static void teardown(void) {
  iommu_free(io);
  mem_free(m);
  iommu_dma_free(d);
}

static uint64_t mapped_page(uint64_t *pfn) {
  uint64_t iova;
  ck_assert_int_eq(mem_page_alloc(m, pfn), 0);
  ck_assert(dma_map_page(io, m, RID, *pfn, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0, &iova) >= 0);
  return iova;
}

START_TEST(write_read_labels) {
  setup(IOMMU_STRICT);
  uint64_t pfn, iova = mapped_page(&pfn);
  const uint8_t data[8] = "abcdefg";
  struct dma_prov pv = {.kind = DMA_PROV_PKT_PAYLOAD, .flow = 3, .packet = 42};
  struct dma_result res;
  ck_assert_int_eq(dma_port_write(port, RID, iova + 100, data, sizeof data, &pv, &res), DMA_OK);
  ck_assert_uint_eq(res.bytes_done, sizeof data);
  ck_assert_uint_gt(res.latency_ps, 0);
  const struct mem_label *l = mem_label(m, mem_peek_label_id(m, (pfn << 12) + 100));
  ck_assert_uint_eq(l->prov.kind, MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(l->prov.flow, 3);
  ck_assert_uint_eq(l->prov.packet, 42);
  ck_assert_uint_eq(l->writer.actor, MEM_ACTOR_DEVICE);
  ck_assert_uint_eq(l->writer.id, RID);
  uint8_t back[8];
  ck_assert_int_eq(dma_port_read(port, RID, iova + 100, back, sizeof back, &res), DMA_OK);
  ck_assert_mem_eq(back, data, sizeof data);
  ck_assert_uint_eq(device_reads, 1);
  ck_assert_uint_eq(device_writes, 1);
  /* Device status (descriptor write-back) is kernel-private. */
  struct dma_prov meta = {.kind = DMA_PROV_DEVICE_META, .packet = 42};
  ck_assert_int_eq(dma_port_write(port, RID, iova, data, 4, &meta, &res), DMA_OK);
  ck_assert_uint_eq(mem_label(m, mem_peek_label_id(m, pfn << 12))->prov.kind, MEM_LABEL_KERNEL_META);
  teardown();
}
END_TEST

START_TEST(refused_page_stops_the_request) {
  setup(IOMMU_STRICT);
  uint64_t pfn, iova = mapped_page(&pfn);
  /* The page after iova is not mapped: a write across the boundary moves the
   * first page's bytes and stops there. */
  static uint8_t data[200];
  struct dma_prov pv = {.kind = DMA_PROV_PKT_PAYLOAD};
  struct dma_result res;
  uint64_t faults = iommu_stats(io)->faults;
  ck_assert_int_eq(dma_port_write(port, RID, iova + 4000, data, sizeof data, &pv, &res), DMA_REFUSED);
  ck_assert_uint_eq(res.bytes_done, 96);
  ck_assert_uint_eq(res.fault_iova, iova + 4096);
  ck_assert_uint_eq(res.fault_reason, IOMMU_FAULT_NOT_PRESENT);
  ck_assert_uint_eq(iommu_stats(io)->faults, faults + 1);
  ck_assert_uint_eq(device_writes, 1);
  teardown();
}
END_TEST

START_TEST(translate_only_moves_nothing) {
  setup(IOMMU_STRICT);
  uint64_t pfn, iova = mapped_page(&pfn);
  struct dma_req r = {.rid = RID, .iova = iova, .bytes = 1, .dir = DMA_DIR_TRANSLATE};
  struct dma_result res;
  uint64_t tr = iommu_stats(io)->translations;
  ck_assert_int_eq(port->access(port->ctx, &r, NULL, &res), DMA_OK);
  ck_assert_uint_eq(iommu_stats(io)->translations, tr + 1);
  ck_assert_uint_eq(device_reads + device_writes, 0);
  teardown();
}
END_TEST

static void on_unmap(void *arg, uint64_t cookie) {
  (void)arg;
  fired++;
  fired_cookie = cookie;
}

START_TEST(stale_entry_and_unmap_watch) {
  setup(IOMMU_LAZY);
  uint64_t pfn, iova = mapped_page(&pfn);
  uint8_t b[4] = {1, 2, 3, 4};
  struct dma_prov pv = {.kind = DMA_PROV_PKT_PAYLOAD};
  struct dma_result res;
  ck_assert_int_eq(dma_port_write(port, RID, iova, b, 4, &pv, &res), DMA_OK);
  ck_assert_uint_eq(res.stale_pages, 0);
  ck_assert_int_eq(port->watch_unmap(port->ctx, RID, iova + 10, on_unmap, NULL, 77), 0);
  ck_assert(dma_unmap_page(io, m, RID, iova, pfn, 0) >= 0);
  ck_assert_uint_eq(fired, 1);
  ck_assert_uint_eq(fired_cookie, 77);
  /* Lazy: the IOTLB entry outlives the unmap until the flush. */
  ck_assert_int_eq(dma_port_write(port, RID, iova, b, 4, &pv, &res), DMA_OK);
  ck_assert_uint_eq(res.stale_pages, 1);
  /* An IOVA with no translation cannot be watched. */
  ck_assert_int_eq(port->watch_unmap(port->ctx, RID, 0x7000000, on_unmap, NULL, 1), -1);
  teardown();
}
END_TEST

int main(void) {
  Suite *s = suite_create("dma_port");
  TCase *tc = tcase_create("dma_port");
  tcase_add_test(tc, write_read_labels);
  tcase_add_test(tc, refused_page_stops_the_request);
  tcase_add_test(tc, translate_only_moves_nothing);
  tcase_add_test(tc, stale_entry_and_unmap_watch);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
