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
  PROP_WIRE_LEAK,
  PROP_DEVICE_READ_OUTSIDE_GRANT,
  PROP_DEVICE_READ_AFTER_UNMAP,
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

/* One line of a property's by_pair: who saw, wrote or sent bytes (a
 * principal's name, or the device as "device 01:00.0") and whose bytes they
 * were (a principal's name, "kernel" for kernel-private bytes, "stale" for
 * bytes left over from an earlier allocation of the page). count and bytes
 * count as the property's own do, so the pairs sum to them. */
#define CHECKER_MAX_PAIRS 64
struct checker_pair {
  char principal[48];
  char owner[40];
  uint64_t count;
  uint64_t bytes;
};

struct checker_result {
  uint64_t count;
  uint64_t bytes;
  /* by (principal, owner), in order of first occurrence; past
   * CHECKER_MAX_PAIRS pairs the rest are summed into the last one, named
   * "(more)" and "(more)" */
  unsigned npairs;
  struct checker_pair pairs[CHECKER_MAX_PAIRS];
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
/* fn is called from inside a memory operation (the checker is a memory
 * observer) or from checker_flush: it may record data (a copy of the bytes
 * as exposed, len at most 64 KiB), never touch memory. */
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

/* The wire (transmit path). Device reads are always checked against the
 * kernel's grants and DMA mappings (device_read_outside_grant,
 * device_read_after_unmap). With the wire enabled, the checker also keeps the
 * labels of the device's most recent reads, as they were when read; when the
 * device puts a frame of len bytes on the wire (its last len bytes read: the
 * frame's buffers, read after its descriptors), checker_wire_frame weighs
 * them against what sender (the principal whose send posted the frame, a
 * kernel fact) is entitled to: kernel data, another principal's data and
 * bytes left over from an earlier use of their page are wire_leak. Returns
 * the bytes of the frame that leaked. */
void checker_wire_enable(struct checker *c);
uint32_t checker_wire_frame(struct checker *c, uint16_t rid, unsigned sender, uint32_t len, uint64_t packet);

/* Is principal entitled to observe bytes labelled lab under pol? (The
 * checker's own rule, for cross-checks such as app.hostile_read.) */
int checker_entitled(const struct policy *pol, unsigned principal, const struct mem_label *lab);

/* Text for a label kind, as used in reports. */
const char *checker_kind_name(unsigned kind);

#endif
