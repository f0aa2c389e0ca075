/*
 * checker: decides the safety properties from labels, accessor identity,
 * mapping state and policy alone. It hangs on the memory's observer
 * interface; no model reports its own violations.
 *
 * Exposure ("can observe", contract.md): bytes are exposed to a userspace
 * principal when they are in a page mapped into its address space (at the
 * moment of mapping, or when written while the mapping lasts), which covers
 * data delivered into its own buffers. Each exposure of a label's bytes to a
 * principal counts once (the label records who has seen it), adjacent bytes
 * from the same packet or object count as one exposure, and `bytes` counts
 * each leaked byte once.
 */
#ifndef NICSIM_CHECKER_H
#define NICSIM_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

enum checker_property {
  PROP_CROSS_FLOW_LEAK = 0,
  PROP_STALE_DATA_LEAK,
  PROP_KERNEL_POINTER_LEAK,
  PROP_KERNEL_DATA_TAMPER,
  PROP_USER_WRITE_AFTER_VALIDATION,
  PROP_DEVICE_WRITE_OUTSIDE_GRANT,
  PROP_DEVICE_WRITE_AFTER_UNMAP,
  PROP_POOL_EXHAUSTION,
  PROP_CROSS_FLOW_TAMPER, /* integrity: one principal's bytes reach another as packet data */
  PROP_COUNT
};

const char *checker_property_name(enum checker_property p);

#define POLICY_CAP_NET_ADMIN 1ull

/* Who is entitled to what. Principals are user principals 0..n-1. */
struct policy {
  unsigned nprincipals;
  char names[MEM_MAX_PRINCIPALS][32];
  uint64_t caps[MEM_MAX_PRINCIPALS];
  /* flow id -> owning principal; flows past nflows belong to default_owner */
  const uint8_t *flow_owner;
  uint32_t nflows;
  uint8_t default_owner;
  /* Text of a flow for explanations ("udp 10.0.0.2:5001 > 10.0.0.1:4000"). */
  void (*flow_name)(void *ctx, uint32_t flow, char *buf, size_t n);
  void *flow_name_ctx;
};

struct checker_violation {
  uint64_t time_ps;
  unsigned principal;   /* the userspace principal involved (see `who`) */
  char who[48];         /* its name, or the device ("device 01:00.0") */
  uint64_t pfn;
  uint32_t offset;
  uint32_t length;
  char flow[96];        /* source flow as text, "" when not packet data */
  uint64_t packet_index; /* UINT64_MAX when not packet data */
  char kind[32];        /* label kind: "packet payload", "skb_shared_info"... */
  char explanation[2048];
};

struct checker_result {
  uint64_t count;
  uint64_t bytes;
  int has_first;
  struct checker_violation first;
  struct mem_label first_lab; /* label of the first exposure's first byte */
};

struct checker;

/* The checker observes m under pol (both must outlive it). now_ps gives
 * simulated time. NULL when out of memory or m has no observer slot left. */
struct checker *checker_new(struct mem *m, const struct policy *pol,
                            uint64_t (*now_ps)(void *ctx), void *clock_ctx);
void checker_free(struct checker *c);

const struct checker_result *checker_result(const struct checker *c, enum checker_property p);
/* Total violations over all properties. */
uint64_t checker_total(const struct checker *c);
/* The same as a signal for waveforms (updated as violations are found). */
const uint64_t *checker_total_signal(const struct checker *c);

/* Facts the models report (they are not verdicts: the checker decides).
 *
 * A frame was dropped on queue because no descriptor was posted there;
 * pool_empty says whether the queue's page pool had no page left to post.
 * The checker decides whether pages held by a principal starved a queue
 * that serves others (pool_exhaustion). */
void checker_note_drop(struct checker *c, unsigned queue, uint32_t flow, uint64_t packet,
                       uint32_t bytes, int pool_empty);

/* Exposures that are violations (cross_flow, stale, kernel pointer), as
 * byte ranges: fn is called once per exposure (a packet written in pieces
 * is one range) with the principal, the physical address, the bytes it could
 * observe (as they were when exposed) and the simulated time. Call checker_flush at the
 * end of the run so the last one is delivered. */
typedef void (*checker_exposure_fn)(void *ctx, unsigned principal, uint64_t paddr, const uint8_t *data,
                                    uint32_t len, uint64_t time_ps);
void checker_set_exposure_cb(struct checker *c, checker_exposure_fn fn, void *ctx);

/* How a device write got where it did, as the DMA port knows it while the
 * write happens (for the explanation of a write after unmap). */
struct checker_dma_info {
  uint64_t iova;        /* the IOVA the device used */
  uint8_t stale;        /* through a stale IOTLB entry (unmapped, invalidation still queued) */
  uint8_t untranslated; /* no translation (IOMMU passthrough or off): the IOVA was the address */
};
/* fn fills *out for the device write under way with requester rid and
 * returns 0, or -1 when it knows nothing of it. */
typedef int (*checker_dma_info_fn)(void *ctx, uint16_t rid, struct checker_dma_info *out);
void checker_set_dma_info(struct checker *c, checker_dma_info_fn fn, void *ctx);
void checker_flush(struct checker *c);

/* Is principal entitled to observe bytes labelled lab under pol? (The
 * checker's own rule, for cross-checks such as app.hostile_read.) */
int checker_entitled(const struct policy *pol, unsigned principal, const struct mem_label *lab);

/* Text for a label kind, as used in reports. */
const char *checker_kind_name(unsigned kind);

#endif
