/*
 * system: the assembly. Builds one simulated machine from a resolved
 * scenario (memory, checker, IOMMU, NIC, driver and page pools, userspace
 * principals), feeds it a trace and runs it to the end. One run per process
 * (SystemC cannot restart).
 */
#ifndef NICSIM_SYSTEM_H
#define NICSIM_SYSTEM_H

#include <stddef.h>
#include <stdint.h>

#include "checker.h"
#include "config.h"
#include "fault.h"
#include "page_pool.h"
#include "trace.h"

enum speed_mode { SPEED_RECORDED = 0, SPEED_LINE, SPEED_SCALED };

struct replay_opts {
  const char *trace_path;
  const char *design;      /* name for the report */
  struct config cfg;       /* resolved */
  uint64_t seed;
  uint8_t speed;           /* enum speed_mode */
  double speed_factor;     /* SPEED_SCALED: recorded gaps divided by this */
  uint64_t ram_bytes;      /* simulated RAM */
  const char *vcd_path;    /* waveform file, or NULL */
  const char *observed_dir; /* --observed DIR, or NULL */
  int skip_unsupported;    /* skip records with no Ethernet form instead of refusing */
  struct fault *faults;     /* injected faults (their records are filled in) */
  unsigned nfaults;
  uint64_t limit_frames;   /* replay only the first N frames of the trace (0: all) */
  /* Called now and then during the replay (every SYSTEM_PROGRESS_FRAMES
   * frames, and once at the end) with the frames replayed so far and the
   * frames to replay; NULL for none. */
  void (*progress)(void *ctx, uint64_t frames_done, uint64_t frames_total);
  void *progress_ctx;
};

#define SYSTEM_PROGRESS_FRAMES 4096u

#define REPORT_MAX_QUEUES 64
#define REPORT_MAX_XDP_RULES 32 /* XDP_MAX_RULES */

struct replay_result {
  /* trace */
  uint64_t trace_packets, trace_bytes;
  char linktype[32];
  uint32_t flows;
  uint64_t flows_evicted;  /* evicted from the bounded flow table (trace.max_flows) */
  char app_flow[96];       /* the application's (first) flow, as text */
  /* sim */
  uint64_t sim_time_ps, events;
  /* nic */
  uint64_t rx_packets, rx_bytes, rx_dropped;
  uint64_t dma_write_faults; /* frames with a refused (posted) write, all queues */
  uint32_t queues;
  struct report_queue {
    uint64_t rx_packets, rx_bytes, rx_dropped, drop_no_desc, drop_buffer_full, drop_oversize,
        drop_rule, drop_dma_fault, desc_fetches, desc_used, header_splits, chained, irqs,
        dma_write_faults;
  } q[REPORT_MAX_QUEUES];
  /* iommu */
  uint64_t translations, iotlb_hits, iotlb_misses, iommu_faults, invalidations;
  /* pool: every queue's counters summed (maxima too: a sum of per-queue maxima) */
  struct page_pool_stats pool;
  /* cpu */
  uint64_t cycles[6];      /* enum cpu_bucket order */
  uint64_t cycles_total;
  double cycles_per_packet;
  unsigned cores;
  uint64_t core_busy_ps[64]; /* time each core spent working (CPU_MAX_CORES) */
  /* throughput */
  double offered_gbps, offered_mpps, delivered_gbps, delivered_mpps;
  int incomplete;          /* stopped early (system_request_stop) */
  /* Why the run did not exercise what it was asked to (the interruption, no
   * frame in host memory, a requested fault that never fired), one line;
   * "" when it did. Without a violation the verdict is then inconclusive. */
  char inconclusive[320];
  struct trace_stats trace_stats; /* what the reader counted over the whole trace */
  /* the driver's side: zero-copy hand-overs, copies, application memory */
  uint64_t zc_packets, stack_packets, kernel_packets, user_writes, user_write_faults;
  uint64_t app_maps, app_unmaps, pages_hoarded;
  uint64_t umem_fill_ring, umem_rx_ring, umem_fill_ring_returns, umem_copy_out_packets;
  uint64_t umem_written[8]; /* by enum mem_label_kind */
  uint64_t delivered_packets, delivered_bytes;
  /* XDP: verdicts of the default program or of xdp.rules */
  int xdp_configured;      /* 1: xdp.rules gave the program */
  uint64_t xdp_runs, xdp_pass, xdp_drop, xdp_redirect, xdp_redirect_in_place, xdp_redirect_copy,
      xdp_redirect_failed, xdp_no_match;
  uint32_t xdp_rules;
  uint64_t xdp_rule_hits[REPORT_MAX_XDP_RULES];
  /* app.hostile_read: what the application's reader got (bytes by label) */
  uint64_t hread_reads, hread_bytes, hread_foreign_flow, hread_kernel_private, hread_stale, hread_faults;
  /* verdicts */
  struct checker_result props[PROP_COUNT];
  char principals[2][32];
  /* each principal's socket (sock.rcvbuf_bytes): frames dropped at its
   * receive buffer, their bytes, the most it held (truesize) */
  uint64_t sock_drops[2], sock_drop_bytes[2], sock_rmem_max[2];
};

/* Ask a running replay to stop at the next frame (async-signal-safe: it
 * only sets a flag). The replay then ends with what it has, marked
 * incomplete. */
void system_request_stop(void);

/* Run one replay. 0 with *res filled; -1 with err filled (one line naming
 * the file and the problem) when the input cannot be used. */
int system_replay(const struct replay_opts *o, struct replay_result *res, char *err, size_t errlen);

#endif
