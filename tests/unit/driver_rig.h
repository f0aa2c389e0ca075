/*
 * driver_rig.h: the small system the driver's unit suites run on (memory,
 * a strict IOMMU, the NIC, one core, two principals, the driver), and the
 * classification they share: IPv4/UDP frames whose flow is the last byte of
 * the destination address; flow 0 is the application's, any other another
 * principal's. Included by one test file each (static functions).
 */
#ifndef NICSIM_TEST_DRIVER_RIG_H
#define NICSIM_TEST_DRIVER_RIG_H

#include <check.h>
#include <string.h>

#include "cpu.h"
#include "driver.h"
#include "iommu.h"
#include "mem.h"
#include "nic.h"
#include "simk.h"
#include "user.h"

#define RID 0x0100
#define APP 0u
#define OTHER 1u

struct xdp_prog;

/* Translations happen at the simulated time, as in the system. */
static uint64_t rig_dma_clock(void *ctx) {
  (void)ctx;
  return simk_now_ps();
}

struct rig {
  struct mem *m;
  struct iommu *io;
  struct iommu_dma *dma; /* the NIC's DMA port over io and m */
  struct nic *n;
  struct cpu cpu;
  struct user *users[2];
  struct driver *d;
  struct xdp_prog *prog;  /* a configured XDP program, or NULL (the suite frees it) */
  uint64_t dev_write_pfn; /* page of the device's first write since `seen` was cleared */
  int seen;
  uint64_t index;         /* frames sent */
};

static void rig_on_irq(void *ctx, unsigned q) {
  struct rig *r = ctx;
  driver_irq(r->d, q);
}

static void rig_on_access(void *ctx, struct mem *m, const struct mem_access *a) {
  (void)m;
  struct rig *r = ctx;
  if (a->who.actor == MEM_ACTOR_DEVICE && a->op == MEM_OP_WRITE && !a->denied && !r->seen) {
    r->dev_write_pfn = a->paddr >> MEM_PAGE_SHIFT;
    r->seen = 1;
  }
}

static int rig_classify(void *ctx, const uint8_t *f, uint32_t len, struct driver_pkt *out) {
  (void)ctx;
  if (len < 42 || f[12] != 0x08 || f[13] != 0x00)
    return -1;
  out->flow = f[33];
  out->owner = f[33] == 0 ? APP : OTHER;
  out->hdr_len = 42;
  out->to_kernel = 0;
  return 0;
}

/* Build the rig for dp (its rid, budget and application are set here). */
static void rig_setup(struct rig *r, struct driver_params *dp) {
  memset(r, 0, sizeof *r);
  char err[512];
  ck_assert_int_eq(simk_init(err, sizeof err), 0);
  r->m = mem_new(64ull << 20);
  struct mem_observer obs = {.ctx = r, .access = rig_on_access};
  mem_add_observer(r->m, &obs);
  struct iommu_params ip;
  iommu_params_default(&ip);
  ip.mode = IOMMU_STRICT;
  r->io = iommu_new(&ip);
  cpu_init(&r->cpu, 4.0);
  struct nic_params np;
  nic_params_default(&np);
  np.queues = dp->queues;
  np.header_split = dp->header_split;
  np.hdr_buffer_size = dp->hdr_buffer_size;
  np.buffer_size = dp->buffer_size;
  np.rid = RID;
  struct nic_host host = {.ctx = r, .irq = rig_on_irq};
  r->dma = iommu_dma_new(r->io, r->m, rig_dma_clock, NULL);
  r->n = nic_new(&np, iommu_dma_port(r->dma), &host, err, sizeof err);
  ck_assert_msg(r->n != NULL, "%s", err);
  for (unsigned p = 0; p < 2; p++) {
    r->users[p] = user_new(r->m, &r->cpu, p, 4, err, sizeof err);
    ck_assert_msg(r->users[p] != NULL, "%s", err);
  }
  dp->rid = RID;
  dp->napi_budget = 64;
  dp->app = APP;
  struct driver_classifier cls = {.ctx = r, .classify = rig_classify};
  r->d = driver_new(dp, r->m, r->io, r->n, &r->cpu, r->users, 2, &cls, err, sizeof err);
  ck_assert_msg(r->d != NULL, "%s", err);
}

static void rig_teardown(struct rig *r) {
  driver_free(r->d);
  user_free(r->users[0]);
  user_free(r->users[1]);
  nic_free(r->n);
  iommu_free(r->io);
  mem_free(r->m);
  iommu_dma_free(r->dma);
  simk_finish();
}

#endif
