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
  uint32_t tx_desc;             /* build and post one TX descriptor */
  uint32_t tx_clean;            /* clean one completed TX descriptor */
  uint32_t pin_page;            /* pin one user page for the device (get_user_pages_fast) */
  uint32_t zc_notify;           /* a zero-copy completion to the sender (error queue or completion ring) */
};

void cpu_costs_default(struct cpu_costs *c);

/* Cycles to clear len bytes: the measured memset curve (Skylake, rep stos),
 * interpolated linearly between its points and extrapolated past 8 KiB. */
uint64_t cpu_clear_cycles(uint64_t len);
uint64_t cpu_copy_cycles(const struct cpu_costs *c, uint64_t len);

#define CPU_MAX_CORES 64

/* The host's cores, all at one frequency, sharing one set of cost figures
 * and one cycle count per bucket. NAPI polls of queue q run on core
 * q % ncores (interrupt affinity spread over the cores, as irqbalance or
 * set_irq_affinity.sh leave it); each core does one thing at a time. */
struct cpu {
  double ghz;
  struct cpu_costs costs;
  uint64_t cycles[CPU_NBUCKETS];
  unsigned ncores;                            /* 1..CPU_MAX_CORES */
  uint64_t busy_until_ps[CPU_MAX_CORES];      /* each core is busy with earlier work until then */
  uint64_t busy_ps[CPU_MAX_CORES];            /* time each core has spent working */
};

/* One core at ghz. */
void cpu_init(struct cpu *c, double ghz);
/* n cores (clamped to 1..CPU_MAX_CORES). */
void cpu_set_cores(struct cpu *c, unsigned n);
/* The core that serves queue q. */
static inline unsigned cpu_core_of_queue(const struct cpu *c, unsigned q) { return q % c->ncores; }
/* Core core works from now for cycles (spent since before): its busy time
 * grows and it is busy until the returned moment. */
uint64_t cpu_core_run(struct cpu *c, unsigned core, uint64_t now_ps, uint64_t cycles);
static inline void cpu_charge(struct cpu *c, enum cpu_bucket b, uint64_t cycles) {
  c->cycles[b] += cycles;
}
uint64_t cpu_total(const struct cpu *c);
/* Picoseconds that cycles take at the core's frequency. */
uint64_t cpu_cycles_ps(const struct cpu *c, uint64_t cycles);

#endif
