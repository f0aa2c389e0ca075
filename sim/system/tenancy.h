/*
 * tenancy: the flows of the trace and the principals that own them.
 *
 * Built once, before the simulation starts, from the resolved scenario and
 * one pass over the trace: the principals (ids: app 0, other 1, the scenario's
 * `principals:`, with their capabilities: the checker's policy), the flow
 * table, and each flow's owner (the first principal whose filter matches
 * one of its frames, app first; app without app.owns takes the flow with
 * the most bytes; other owns the rest). During the run the stack asks it,
 * through the driver's classifier interface, which flow and whose socket a
 * frame is, and the checker asks it for a flow's name.
 */
#ifndef NICSIM_TENANCY_H
#define NICSIM_TENANCY_H

#include <stddef.h>
#include <stdint.h>

#include "checker.h"
#include "config.h"
#include "driver.h"
#include "fault.h"
#include "flow.h"
#include "nic.h"
#include "trace.h"

struct replay_result;

#define PRINCIPAL_APP 0u
#define PRINCIPAL_OTHER 1u
#define PRINCIPAL_FIRST_LISTED 2u /* the scenario's principals[0] */

struct tenancy {
  const struct config *c;
  const struct fault *faults;
  unsigned nfaults;
  struct trace *t;
  uint64_t first_ts_ps;    /* timestamp of the trace's first record */
  uint64_t limit_frames;   /* records the pass reads (0: all) */
  struct flow_table *ft;
  uint8_t *owner;          /* per flow id: the owning principal */
  uint32_t evicted_flow;   /* the id every evicted flow's frames carry, or UINT32_MAX */
  struct policy pol;       /* who is entitled to what (the checker's) */
  struct tenancy_memo *memo; /* frames fed lately, classified (tenancy_fed), or NULL */
  struct spill *flows_log;   /* each record's flow as the first pass found it, or NULL */
  struct sock_memo *sock_memo; /* tuples hashed to their sockets lately, or NULL */
};

/* Build it: the principals (every fault naming one must name one of them),
 * then a pass over trace t (its first limit_frames records, 0: all; rewound
 * after it) for the flows and their owners; fills res's trace counters,
 * flows, app_flow, principals. c, faults and t must outlive it. NULL with
 * err filled (one line). */
struct tenancy *tenancy_new(const struct config *c, const struct fault *faults, unsigned nfaults,
                            struct trace *t, uint64_t limit_frames, struct replay_result *res, char *err,
                            size_t errlen);
void tenancy_free(struct tenancy *tn);

/* The id of principal `name`, or UINT_MAX. */
unsigned tenancy_principal_id(const struct policy *pol, const char *name);

/* ntuple rules on nic: app's flows to nic.steer_app_to, each listed
 * principal's flows to its queue (at most 1024 flows each). */
void tenancy_steer(const struct tenancy *tn, struct nic *nic);

/* The driver's classifier (struct driver_classifier, ctx the tenancy):
 * called from NAPI; parses the headers once and fills out (flow, owner,
 * tuple, header length). */
int tenancy_classify(void *ctx, const uint8_t *frame, uint32_t len, struct driver_pkt *out);

/* The feeder hands the NIC frame (len bytes, parsed as fp, of flow id
 * flow): remembered, so that tenancy_classify, asked about the same bytes,
 * need not parse them again (called from the MAC's feed event). Returns the
 * classification kept, or NULL when the frame is not kept. */
const struct driver_pkt *tenancy_fed(struct tenancy *tn, const uint8_t *frame, uint32_t len,
                                     const struct flow_parse *fp, uint32_t flow);

/* A flow as text for explanations (struct policy's flow_name, ctx the tenancy). */
void tenancy_flow_name(void *ctx, uint32_t flow, char *buf, size_t n);

/* The flow of a parsed frame: its id, the id of the evicted flows, or
 * UINT32_MAX. hash: flow_table_prefetch's hash of fp's key, or NULL. */
uint32_t tenancy_lookup(const struct tenancy *tn, const struct flow_parse *fp, const uint64_t *hash);

/* The flow of the next record the replay reads, as the first pass found
 * it, so that the replay need not look it up again (with many flows the
 * table is far larger than the host's caches): called once for each record
 * read, in order. 1 with *flow (what tenancy_lookup would answer for the
 * record's own bytes, UINT32_MAX when they parse as nothing), or 0 when it
 * is not known: then look it up. The log covers every record or none: none
 * when flows were evicted (an id then names different flows over the
 * pass), when the table's memo answered nearly every lookup by the time
 * the log outgrew memory (SPILL_MEMORY_NUMBERS records: a lookup then costs
 * less than the file), when its temporary file could not be made or
 * written ($TMPDIR, 4 bytes a record), or with NICSIM_FLOW_SPILL=0 in the
 * environment (1: the default; another value fails tenancy_new). Past
 * where the first pass stopped (a stop request), 0. */
int tenancy_replay_flow(struct tenancy *tn, uint32_t *flow);

#endif
