/*
 * cpu: the modelled core and its cost model. Every CPU operation the host
 * side performs is charged here in cycles, in one of the report's buckets;
 * the figures and their sources are in docs/timing.md (calibration.md).
 */
#ifndef NICSIM_CPU_H
#define NICSIM_CPU_H

#include <stdint.h>

enum cpu_bucket { CPU_CLEAR = 0, CPU_COPY, CPU_IOMMU, CPU_SKB, CPU_MAP, CPU_OTHER, CPU_NBUCKETS };

struct cpu_costs {
  uint32_t copy_start;          /* memcpy fixed cost [cycles] */
  double copy_bytes_per_cycle;  /* memcpy rate */
  uint32_t skb_alloc;           /* sk_buff from its slab, initialised */
  uint32_t head_alloc;          /* kmalloc of a separate skb head (read-only mode) */
  uint32_t pool_alloc;          /* page_pool fast-path alloc */
  uint32_t pool_recycle;        /* page_pool fast-path recycle */
  uint32_t page_alloc;          /* page from the page allocator */
  uint32_t user_map;            /* insert one page into a user address space */
  uint32_t user_unmap;          /* remove it, with the TLB shootdown */
  uint32_t rx_desc;             /* read one completed descriptor, refill one */
  uint32_t xdp_run;             /* run the XDP program on one frame */
  uint32_t xdp_rule;            /* each rule of a configured program (xdp.rules) tried on it */
  uint32_t sock_deliver;        /* socket lookup, queueing, wakeup */
  uint32_t validate;            /* IP/L4 header checks of the stack */
};

void cpu_costs_default(struct cpu_costs *c);

/* Cycles to clear len bytes: the measured memset curve (Skylake, rep stos),
 * interpolated linearly between its points and extrapolated past 8 KiB. */
uint64_t cpu_clear_cycles(uint64_t len);
uint64_t cpu_copy_cycles(const struct cpu_costs *c, uint64_t len);

struct cpu {
  double ghz;
  struct cpu_costs costs;
  uint64_t cycles[CPU_NBUCKETS];
  uint64_t busy_until_ps; /* the core is busy with earlier work until then */
};

void cpu_init(struct cpu *c, double ghz);
static inline void cpu_charge(struct cpu *c, enum cpu_bucket b, uint64_t cycles) {
  c->cycles[b] += cycles;
}
uint64_t cpu_total(const struct cpu *c);
/* Picoseconds that cycles take at the core's frequency. */
uint64_t cpu_cycles_ps(const struct cpu *c, uint64_t cycles);

#endif
