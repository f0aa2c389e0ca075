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
#include "driver.h"
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
  int read_ahead;          /* the trace read on a second thread: TRACE_READ_AHEAD_* (0: off) */
  /* Called now and then during the replay (every SYSTEM_PROGRESS_FRAMES
   * frames, and once at the end) with the frames replayed so far and the
   * frames to replay; NULL for none. */
  void (*progress)(void *ctx, uint64_t frames_done, uint64_t frames_total);
  void *progress_ctx;
};

#define SYSTEM_PROGRESS_FRAMES 4096u

#define REPORT_MAX_QUEUES 64
/* app (id 0), other (id 1) and the scenario's principals (ids 2..). */
#define SYSTEM_MAX_PRINCIPALS (CFG_MAX_PRINCIPALS + 2)

/* A principal as the report lists it: what the trace gave it. */
struct replay_principal {
  char name[CFG_PRINCIPAL_NAME_MAX + 1];
  const char *delivery;    /* "copy", "zero_copy", "af_xdp", "zcrx" */
  uint32_t flows;          /* flows it owns (other: with the evicted ones) */
  uint64_t packets, bytes; /* their frames and wire bytes in the trace */
};
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
  uint64_t bad_register_writes; /* driver register writes the device refused */
  uint32_t queues;
  struct nic_queue_stats q[REPORT_MAX_QUEUES]; /* each queue's counters (nic.h) */
  /* iommu (iommu.h) */
  struct iommu_stats iommu;
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
  /* the driver's side (driver.h): zero-copy hand-overs, copies, application
   * memory, XDP verdicts (of the default program or of xdp.rules) */
  struct driver_stats driver;
  int xdp_configured;      /* 1: xdp.rules gave the program */
  uint64_t xdp_no_match;
  uint32_t xdp_rules;
  uint64_t xdp_rule_hits[REPORT_MAX_XDP_RULES];
  /* app.hostile_read: what the application's reader got (bytes by label) */
  uint64_t hread_reads, hread_bytes, hread_foreign_flow, hread_kernel_private, hread_stale, hread_faults;
  /* transmit (the TX path; zeros when nothing is sent) */
  int tx_enabled;
  uint64_t tx_sends, tx_packets, tx_bytes, tx_no_buffer, tx_copies, tx_copy_bytes, tx_pins, tx_dma_maps,
      tx_dma_unmaps, tx_validated, tx_notifications, tx_early_releases, tx_user_writes, tx_user_write_faults,
      tx_cycles;
  double tx_cycles_per_packet;
  struct report_tx_queue {
    uint64_t tx_packets, tx_bytes, tx_dma_fault, desc_fetches, desc_used, irqs, posted, completed, ring_full;
  } txq[REPORT_MAX_QUEUES];
  /* verdicts */
  struct checker_result props[PROP_COUNT];
  unsigned nprincipals;
  struct replay_principal principals[SYSTEM_MAX_PRINCIPALS];
};

/* Ask a running replay to stop at the next frame (async-signal-safe: it
 * only sets a flag). The replay then ends with what it has, marked
 * incomplete. */
void system_request_stop(void);
/* Was a stop asked for? (The passes over the trace end at once.) */
int system_stop_requested(void);

/* Run one replay. 0 with *res filled; -1 with err filled (one line naming
 * the file and the problem) when the input cannot be used. */
int system_replay(const struct replay_opts *o, struct replay_result *res, char *err, size_t errlen);

#endif
