/*
 * cpu.c: cost model. Sources: calibration.md, summarised in docs/timing.md.
 */
#include "cpu.h"

#include <string.h>

void cpu_costs_default(struct cpu_costs *c) {
  memset(c, 0, sizeof *c);
  /* memcpy: "to calibrate" in calibration.md; modelled like clearing, with a
   * start cost and a rate: 24 cycles + 16 B/cycle (estimate). */
  c->copy_start = 24;
  c->copy_bytes_per_cycle = 16.0;
  c->skb_alloc = 120;    /* estimate: kmem_cache_alloc + sk_buff init */
  c->head_alloc = 100;   /* estimate: kmalloc of a 512 B head */
  c->pool_alloc = 20;    /* "tens of cycles": page_pool alloc cache hit */
  c->pool_recycle = 20;  /* likewise, direct recycle into the cache */
  c->page_alloc = 250;   /* estimate: page allocator per-CPU list */
  c->user_map = 1500;    /* estimate: vm_insert_page + page-table update */
  c->user_unmap = 3000;  /* estimate: zap_page_range + TLB shootdown */
  c->rx_desc = 30;       /* estimate: descriptor read, buffer bookkeeping */
  c->xdp_run = 40;       /* estimate: a small XDP program */
  c->xdp_rule = 10;      /* estimate: one match (a short BPF program or a tuple compare), JITed */
  c->sock_deliver = 300; /* estimate: socket lookup, queue, wakeup */
  c->validate = 60;      /* estimate: IP and L4 header checks */
  c->tx_desc = 40;       /* estimate: ixgbe_tx_map per descriptor, with the tail write amortised */
  c->tx_clean = 30;      /* estimate: ixgbe_clean_tx_irq per descriptor */
  c->pin_page = 200;     /* estimate: get_user_pages_fast of one resident page, refcount and unpin */
  c->zc_notify = 400;    /* estimate: sock_zerocopy_callback + the sender's recvmsg(MSG_ERRQUEUE) */
}

/* Brouer's prototype-kernel memset benchmark, Skylake i7-6700K, rep stos. */
static const struct {
  uint32_t bytes, cycles;
} memset_curve[] = {{0, 0}, {64, 29}, {256, 36}, {1024, 52}, {2048, 84}, {4096, 148}, {8192, 276}};
#define NPOINTS (sizeof memset_curve / sizeof memset_curve[0])

uint64_t cpu_clear_cycles(uint64_t len) {
  if (len == 0)
    return 0;
  for (unsigned i = 1; i < NPOINTS; i++) {
    if (len <= memset_curve[i].bytes) {
      double x0 = memset_curve[i - 1].bytes, y0 = memset_curve[i - 1].cycles;
      double x1 = memset_curve[i].bytes, y1 = memset_curve[i].cycles;
      return (uint64_t)(y0 + (y1 - y0) * ((double)len - x0) / (x1 - x0) + 0.5);
    }
  }
  /* Past 8 KiB: the slope of the last segment (128 cycles per 4 KiB). */
  double slope = (double)(memset_curve[NPOINTS - 1].cycles - memset_curve[NPOINTS - 2].cycles) /
                 (double)(memset_curve[NPOINTS - 1].bytes - memset_curve[NPOINTS - 2].bytes);
  return (uint64_t)(memset_curve[NPOINTS - 1].cycles +
                    slope * (double)(len - memset_curve[NPOINTS - 1].bytes) + 0.5);
}

uint64_t cpu_copy_cycles(const struct cpu_costs *c, uint64_t len) {
  if (len == 0)
    return 0;
  return c->copy_start + (uint64_t)((double)len / c->copy_bytes_per_cycle + 0.5);
}

void cpu_init(struct cpu *c, double ghz) {
  memset(c, 0, sizeof *c);
  c->ghz = ghz;
  c->ncores = 1;
  cpu_costs_default(&c->costs);
}

void cpu_set_cores(struct cpu *c, unsigned n) {
  c->ncores = n < 1 ? 1 : n > CPU_MAX_CORES ? CPU_MAX_CORES : n;
}

uint64_t cpu_core_run(struct cpu *c, unsigned core, uint64_t now_ps, uint64_t cycles) {
  uint64_t ps = cpu_cycles_ps(c, cycles);
  c->busy_ps[core] += ps;
  c->busy_until_ps[core] = now_ps + ps;
  return c->busy_until_ps[core];
}

uint64_t cpu_total(const struct cpu *c) {
  uint64_t t = 0;
  for (int i = 0; i < CPU_NBUCKETS; i++)
    t += c->cycles[i];
  return t;
}

uint64_t cpu_cycles_ps(const struct cpu *c, uint64_t cycles) {
  return (uint64_t)((double)cycles * 1000.0 / c->ghz + 0.5);
}
