/*
 * system.c: assembles one machine and replays a trace through it.
 *
 * Assembly: the tenancy first (tenancy.h: one pass over the trace for the
 * flows, the principals and who owns what), then memory, the checker (and
 * --observed), the IOMMU, the NIC, the principals' userspace, the driver
 * and its XDP program, each given the interfaces of the parts it talks to:
 * the NIC raises interrupts into the driver, the driver asks the tenancy
 * who a frame belongs to, the checker watches memory. Running: the feeder
 * (feed) hands each frame of a second pass to the NIC's MAC at its arrival
 * time, after the faults due at that frame; the rest happens between the
 * parts. Results: each part's statistics copied whole into the result.
 */
#include "system.h"

#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "cpu.h"
#include "driver.h"
#include "flow.h"
#include "iommu.h"
#include "mem.h"
#include "nic.h"
#include "observed.h"
#include "outfile.h"
#include "simk.h"
#include "tenancy.h"
#include "trace.h"
#include "tx.h"
#include "user.h"
#include "xdp.h"

#define SOCK_PAGES 16u

struct sys {
  const struct replay_opts *o;
  struct outfile *vcd; /* --vcd: SystemC writes its staged file */
  struct trace *t;
  struct tenancy *tn; /* the principals, the flows and their owners; tn->pol the policy */
  struct mem *m;
  struct checker *chk;
  struct iommu *io;
  struct iommu_dma *dma; /* the NIC's DMA port over io and m */
  struct cpu cpu;
  struct nic *nic;
  struct driver *drv;
  struct user *users[SYSTEM_MAX_PRINCIPALS];
  /* feeder */
  struct simk_event *feed_ev;
  struct trace_record rec;
  int have_rec;
  uint64_t frames_fed; /* records taken from the trace for the replay */
  uint64_t frames_replayed, bytes_replayed; /* records fed to the machine (a stop leaves the next one) */
  uint64_t frames_total; /* what the first pass counted (up to limit_frames) */
  uint64_t prev_ts_ps, prev_arrival_ps;
  uint64_t first_arrival_ps, last_arrival_ps;
  int have_first_arrival;
  int stopped; /* interrupted */
  struct observed *obs;
  struct xdp_prog *xdp; /* xdp.rules, or NULL: the driver's default program */
  /* transmit: traffic.tx, or the application's flows in a TX design */
  struct tx *tx;        /* NULL: everything is received */
  struct trace_filter *tx_filter;
  int rec_tx;           /* the current record is sent */
  struct flow_parse next_fp; /* the current record's parse, as read */
  int next_parsed;           /* 1: next_fp is set (it parses) */
  uint32_t next_flow;        /* its flow as the first pass found it, when next_known */
  uint64_t next_hash;        /* its flow table hash, when next_hashed */
  int next_hashed;
  unsigned rec_sender;
  int next_known;
  uint64_t tx_first_ps, tx_last_ps;
  int have_tx;
  uint8_t tx_senders[SYSTEM_MAX_PRINCIPALS]; /* principals seen sending, by id */
  const char *names[SYSTEM_MAX_PRINCIPALS + 1]; /* the principals' names by id (the policy's), NULL after */
  uint16_t rid;
  int feed_error;
  char feed_err[512];
  const uint8_t *fed;   /* the current record's bytes: frame, or the trace's own */
  uint8_t frame[262144]; /* a copy of them that faults may change */
};

static uint64_t clock_now(void *ctx) {
  (void)ctx;
  return simk_now_ps();
}

/* The checker asks how a device write got through: the DMA port knows. */
static int dma_info(void *ctx, uint16_t rid, struct checker_dma_info *out) {
  struct iommu_dma_access a;
  if (iommu_dma_current(ctx, &a) || a.rid != rid || !a.write)
    return -1;
  *out = (struct checker_dma_info){.iova = a.iova, .stale = a.stale, .untranslated = a.untranslated};
  return 0;
}

static void nic_irq(void *ctx, unsigned queue) {
  struct sys *s = ctx;
  driver_irq(s->drv, queue);
}

static void nic_tx_irq(void *ctx, unsigned queue) {
  struct sys *s = ctx;
  tx_irq(s->tx, queue);
}

/* A frame on the wire: the checker weighs its bytes against what the
 * principal whose send posted it may send; --observed keeps it. */
static void nic_tx_frame(void *ctx, unsigned queue, uint32_t first_desc, uint32_t ndesc, const uint8_t *data,
                         uint32_t len) {
  (void)ndesc;
  struct sys *s = ctx;
  unsigned sender;
  uint64_t packet;
  if (!s->tx || tx_sender(s->tx, queue, first_desc, &sender, &packet))
    return;
  checker_wire_frame(s->chk, s->rid, sender, len, packet);
  observed_record_wire(s->obs, data, len, simk_now_ps());
  if (!s->have_tx) {
    s->tx_first_ps = simk_now_ps();
    s->have_tx = 1;
  }
  s->tx_last_ps = simk_now_ps();
}

/* A drop for lack of descriptors is a fact for the checker to weigh. */
static void nic_no_desc(void *ctx, unsigned queue, const struct nic_frame *f) {
  struct sys *s = ctx;
  checker_note_drop(s->chk, queue, f->flow, f->index, f->wire_len, driver_pool_empty(s->drv, queue));
}

/* The configured XDP program (ctx) on one frame, as the driver runs it: the
 * tuple and the owner are the stack's classification (parsed once). */
static int xdp_run(void *ctx, const uint8_t *frame, uint32_t caplen, uint32_t wire_len,
                   const struct driver_pkt *pk, unsigned *to, uint32_t *rules) {
  struct xdp_frame f = {.data = frame, .caplen = caplen, .wire_len = wire_len, .key = pk->has_key ? &pk->key : NULL,
                        .owner = pk->to_kernel ? -1 : (int)pk->owner};
  switch (xdp_prog_run(ctx, &f, to, rules)) {
  case XDP_ACTION_DROP:
    return DRIVER_XDP_DROP;
  case XDP_ACTION_REDIRECT:
    return DRIVER_XDP_REDIRECT;
  default:
    return DRIVER_XDP_PASS;
  }
}

/* Picoseconds since the first record. ts_ps wraps (2^64 ps is 213 days), so
 * only differences are meaningful; a record from before the first counts as 0. */
static uint64_t since_first(const struct sys *s, const struct trace_record *r) {
  uint64_t d = r->ts_ps - s->tn->first_ts_ps;
  return d > UINT64_MAX / 2 ? 0 : d;
}

/* When the record happens on the host's time line (replay speed applied). */
static uint64_t record_time(struct sys *s, const struct trace_record *r) {
  uint64_t ts;
  switch (s->o->speed) {
  case SPEED_LINE:
    ts = 0; /* back to back: the MAC serialises them */
    break;
  case SPEED_SCALED: {
    /* A slowed replay stretches time: past 2^63 ps (106 days) simulated
     * time would wrap, so the run stops there with a message. */
    double t = (double)since_first(s, r) / s->o->speed_factor;
    if (!(t < 9.2e18)) {
      snprintf(s->feed_err, sizeof s->feed_err, "--speed x%g: frame %" PRIu64 " would arrive after 2^63 ps of "
               "simulated time (106 days); use a larger factor", s->o->speed_factor, r->index);
      s->feed_error = 1;
      t = 0;
    }
    ts = (uint64_t)t;
    break;
  }
  default:
    /* Recorded time, relative to the first frame; a timestamp that goes back
     * in time is taken as "at once after the previous frame". */
    ts = since_first(s, r);
    if (ts < s->prev_ts_ps)
      ts = s->prev_ts_ps;
    s->prev_ts_ps = ts;
  }
  return ts;
}

/* Arrival time of the current record's last bit at the NIC. */
static uint64_t arrival_of(struct sys *s, const struct trace_record *r) {
  uint32_t wire = r->origlen ? r->origlen : r->caplen;
  return nic_mac_arrival_ps(s->nic, record_time(s, r), wire);
}

/* The record's flow: known from the first pass, else looked up (fp: its
 * parse, or NULL; hash: its flow table hash, or NULL). */
static uint32_t flow_of(const struct sys *s, const uint32_t *known, const struct flow_parse *fp,
                        const uint64_t *hash) {
  return known ? *known : fp ? tenancy_lookup(s->tn, fp, hash) : UINT32_MAX;
}

/* Is the record sent by the host, and by whom? traffic.tx's filter, or
 * (a TX design without it) the application's flows. known, fp, hash: as
 * flow_of's. */
static int is_sent(struct sys *s, const struct trace_record *r, const uint32_t *known,
                   const struct flow_parse *fp, const uint64_t *hash, unsigned *sender) {
  if (!s->tx)
    return 0;
  uint32_t flow = flow_of(s, known, fp, hash);
  unsigned owner = flow < flow_table_count(s->tn->ft) ? s->tn->owner[flow] : PRINCIPAL_OTHER;
  if (s->tx_filter ? !trace_filter_match(s->tx_filter, r) : owner != PRINCIPAL_APP)
    return 0;
  *sender = owner;
  s->tx_senders[owner] = 1;
  return 1;
}

static void schedule_next(struct sys *s) {
  if (s->o->limit_frames && s->frames_fed >= s->o->limit_frames) {
    s->have_rec = 0; /* --limit: the rest of the trace is not replayed */
    return;
  }
  int rc = trace_next(s->t, &s->rec, s->feed_err, sizeof s->feed_err);
  if (rc < 0) {
    s->feed_error = 1;
    s->have_rec = 0;
    return;
  }
  s->have_rec = rc == 1;
  if (!s->have_rec)
    return;
  s->frames_fed++;
  if (s->o->progress && s->frames_fed % SYSTEM_PROGRESS_FRAMES == 0)
    s->o->progress(s->o->progress_ctx, s->frames_fed, s->frames_total);
  if (s->rec.caplen > sizeof s->frame)
    s->rec.caplen = sizeof s->frame;
  /* The record's bytes stay valid until the next trace_next, which comes
   * after feed has handed them on: a copy only for faults to change. */
  if (s->o->nfaults) {
    memcpy(s->frame, s->rec.data, s->rec.caplen);
    s->fed = s->frame;
  } else {
    s->fed = s->rec.data;
  }
  /* Parsed now (feed takes the parse unless a fault may change the bytes).
   * Its flow comes from the first pass; failing that, the flow table's
   * slot is fetched into the host's cache while the machine works until
   * the frame arrives. */
  s->next_known = tenancy_replay_flow(s->tn, &s->next_flow);
  s->next_parsed = flow_parse(s->fed, s->rec.caplen, &s->next_fp) == 0;
  s->next_hashed = !s->next_known && s->next_parsed &&
                   flow_table_prefetch(s->tn->ft, &s->next_fp.key, &s->next_hash);
  s->rec_tx = is_sent(s, &s->rec, s->next_known ? &s->next_flow : NULL, s->next_parsed ? &s->next_fp : NULL,
                      s->next_hashed ? &s->next_hash : NULL, &s->rec_sender);
  uint64_t at = s->rec_tx ? record_time(s, &s->rec) : arrival_of(s, &s->rec);
  if (s->feed_error) {
    s->have_rec = 0;
    return;
  }
  uint64_t now = simk_now_ps();
  simk_event_notify(s->feed_ev, at > now ? at - now : 0);
}

static void fault_effect(void *ctx, void *tag, uint64_t packet, const char *effect) {
  (void)ctx;
  if (tag) /* a behaviour that no fault asked for (a design's own) has no record */
    fault_note(tag, simk_now_ps(), packet, effect);
}

/* ---- faults: one handler per kind, dispatched by table ----
 *
 * Each is called from the MAC's feed event (simulated time `now`), when
 * fault f fires at the frame being fed (r, its bytes in s->frame, which a
 * handler may change); it arms the part that carries the fault out or does
 * it itself, and notes what it did on f. Returns 1 when the frame is lost on
 * the wire, else 0. */
typedef int (*fault_apply_fn)(struct sys *s, struct fault *f, const struct trace_record *r, uint64_t now);

static int fault_frame_drop(struct sys *s, struct fault *f, const struct trace_record *r, uint64_t now) {
  (void)s;
  char text[200];
  snprintf(text, sizeof text, "frame %llu lost on the wire", (unsigned long long)r->index);
  fault_note(f, now, r->index, text);
  return 1;
}

static int fault_frame_bitflip(struct sys *s, struct fault *f, const struct trace_record *r, uint64_t now) {
  if (!r->caplen)
    return 0;
  char text[200];
  uint32_t bit = f->bit >= 0 ? (uint32_t)f->bit : (uint32_t)(fault_random(f) % ((uint64_t)r->caplen * 8));
  if (bit / 8 < r->caplen) {
    s->frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    snprintf(text, sizeof text, "flipped bit %u of frame %llu", bit, (unsigned long long)r->index);
  } else {
    snprintf(text, sizeof text, "bit %u is past frame %llu's %u bytes: nothing flipped", bit,
             (unsigned long long)r->index, r->caplen);
  }
  fault_note(f, now, r->index, text);
  return 0;
}

/* The device misbehaves: armed on the NIC for the next frame it writes. */
static int fault_device(struct sys *s, struct fault *f, const struct trace_record *r, uint64_t now) {
  (void)r;
  (void)now;
  struct nic_fault nf = {.tag = f};
  switch (f->kind) {
  case FAULT_MALICIOUS_DMA:
    nf.kind = NIC_FAULT_MALICIOUS;
    break;
  case FAULT_RANDOM_DMA:
    nf.kind = NIC_FAULT_RANDOM_DMA;
    nf.len = f->len;
    /* anywhere in a 4 GiB IOVA space (in passthrough: physical memory) */
    nf.iova = fault_random(f) % (s->o->ram_bytes ? s->o->ram_bytes : (1ull << 30));
    break;
  case FAULT_BAD_DESCRIPTOR:
    nf.kind = f->field_len ? NIC_FAULT_BAD_LEN : NIC_FAULT_BAD_ADDR;
    nf.xor_mask = 1ull << (12 + fault_random(f) % 20); /* one address bit above the page offset */
    break;
  default: /* FAULT_LATE_DMA */
    nf.kind = NIC_FAULT_LATE_DMA;
    nf.delay_ps = f->delay_ps;
  }
  nic_fault_arm(s->nic, &nf);
  return 0;
}

static int fault_iommu(struct sys *s, struct fault *f, const struct trace_record *r, uint64_t now) {
  char text[200];
  iommu_set_mode(s->io, f->kind == FAULT_IOMMU_OFF ? IOMMU_OFF : IOMMU_PASSTHROUGH);
  snprintf(text, sizeof text, "the IOMMU stopped %s at %.3f us",
           f->kind == FAULT_IOMMU_OFF ? "working (off)" : "translating (passthrough)", (double)now / 1e6);
  fault_note(f, now, r->index, text);
  return 0;
}

/* The device misbehaves on the TX path: armed on the NIC for the next frame
 * it sends. */
static int fault_tx_device(struct sys *s, struct fault *f, const struct trace_record *r, uint64_t now) {
  (void)r;
  (void)now;
  static const enum nic_fault_kind kinds[FAULT_KIND_COUNT] = {
      [FAULT_TX_OVERREAD] = NIC_FAULT_TX_OVERREAD,
      [FAULT_TX_COMPLETION_LOST] = NIC_FAULT_TX_NO_COMPLETION,
      [FAULT_TX_COMPLETION_EARLY] = NIC_FAULT_TX_EARLY_COMPLETION,
      [FAULT_TX_LATE_READ] = NIC_FAULT_TX_LATE_READ,
  };
  struct nic_fault nf = {.tag = f, .kind = kinds[f->kind], .delay_ps = f->delay_ps};
  nic_fault_arm(s->nic, &nf);
  return 0;
}

static int tx_sends(const struct sys *s, unsigned principal);

/* A principal misbehaves: its pages in flight when it sends (the TX path),
 * else the packets it receives (armed in the driver, which runs its
 * userspace). */
static int fault_user(struct sys *s, struct fault *f, const struct trace_record *r, uint64_t now) {
  (void)r;
  (void)now;
  unsigned p = tenancy_principal_id(&s->tn->pol, f->principal);
  if (f->kind == FAULT_USER_HOARD)
    driver_set_hoard(s->drv, p, f);
  else if (s->tx && tx_sends(s, p))
    tx_arm_user_write(s->tx, p, f->len, f);
  else
    driver_arm_user_write(s->drv, p, f->len, f);
  return 0;
}

static const fault_apply_fn fault_apply[FAULT_KIND_COUNT] = {
    [FAULT_RANDOM_DMA] = fault_device,     [FAULT_MALICIOUS_DMA] = fault_device,
    [FAULT_BAD_DESCRIPTOR] = fault_device, [FAULT_LATE_DMA] = fault_device,
    [FAULT_IOMMU_PASSTHROUGH] = fault_iommu, [FAULT_IOMMU_OFF] = fault_iommu,
    [FAULT_FRAME_DROP] = fault_frame_drop, [FAULT_FRAME_BITFLIP] = fault_frame_bitflip,
    [FAULT_USER_WRITE] = fault_user,       [FAULT_USER_HOARD] = fault_user,
    [FAULT_TX_OVERREAD] = fault_tx_device, [FAULT_TX_COMPLETION_LOST] = fault_tx_device,
    [FAULT_TX_COMPLETION_EARLY] = fault_tx_device, [FAULT_TX_LATE_READ] = fault_tx_device,
};

/* Does principal send any frame? (The application in a TX design; with
 * traffic.tx, the owner of a flow it selects.) */
static int tx_sends(const struct sys *s, unsigned principal) {
  return s->tx_filter ? (principal < SYSTEM_MAX_PRINCIPALS && s->tx_senders[principal])
                      : principal == PRINCIPAL_APP;
}

/* Faults that fire at this frame. Returns 1 when the frame is lost on the wire. */
static int apply_faults(struct sys *s, struct trace_record *r) {
  int lost = 0;
  uint64_t now = simk_now_ps();
  for (unsigned i = 0; i < s->o->nfaults; i++) {
    struct fault *f = &s->o->faults[i];
    if (f->kind < FAULT_KIND_COUNT && fault_apply[f->kind] && fault_fires_at_frame(f, r->index, now))
      lost |= fault_apply[f->kind](s, f, r, now);
  }
  return lost;
}

/* The lowest queue of mask within the NIC's queues, or 0. */
static unsigned first_queue(const struct config *c, uint64_t mask) {
  mask &= (1ull << (c->nic_queues - 1) << 1) - 1;
  return mask ? (unsigned)__builtin_ctzll(mask) : 0;
}

/* The TX queue of a frame sender sends: its AF_XDP socket's queue (app: the
 * first of app.zc_queues; a listed principal: its queue, else the first of
 * its zc_queues), the queue its ntuple rule gives it (app:
 * nic.steer_app_to; a listed principal: its queue), else the queue RSS
 * gives the flow (XPS aside, a flow's frames stay on one queue). */
static unsigned tx_queue_of(struct sys *s, unsigned sender, const struct flow_key *key) {
  const struct config *c = &s->o->cfg;
  const struct cfg_principal *cp =
      sender >= PRINCIPAL_FIRST_LISTED ? &c->principals[sender - PRINCIPAL_FIRST_LISTED] : NULL;
  int32_t steered = sender == PRINCIPAL_APP ? c->nic_steer_app_to : cp ? cp->queue : -1;
  if (c->tx_mode == CFG_TX_AF_XDP)
    return steered >= 0 && cp ? (unsigned)steered
           : first_queue(c, cp ? config_principal_zc_queues(c, cp) : c->app_zc_queues);
  if (steered >= 0)
    return (unsigned)steered;
  int q = key ? nic_steer(s->nic, key) : 0;
  return q >= 0 ? (unsigned)q : 0;
}

static volatile sig_atomic_t stop_requested;

void system_request_stop(void) { stop_requested = 1; }

int system_stop_requested(void) { return stop_requested != 0; }

static void feed(void *arg) {
  struct sys *s = arg;
  if (!s->have_rec)
    return;
  if (stop_requested) {
    s->stopped = 1;
    simk_stop();
    return;
  }
  struct trace_record *r = &s->rec;
  s->frames_replayed++;
  s->bytes_replayed += r->origlen > r->caplen ? r->origlen : r->caplen;
  if (s->o->nfaults && apply_faults(s, r)) {
    schedule_next(s);
    return;
  }
  /* A fault may have changed the bytes: then they are parsed again. */
  struct flow_parse refp;
  const struct flow_parse *fp = &s->next_fp;
  const uint64_t *hash = s->next_hashed ? &s->next_hash : NULL;
  const uint32_t *known = s->next_known ? &s->next_flow : NULL;
  int parsed = s->next_parsed;
  if (s->o->nfaults) {
    parsed = flow_parse(s->fed, r->caplen, &refp) == 0;
    fp = &refp;
    hash = NULL;
    known = NULL;
  }
  uint32_t flow = flow_of(s, known, parsed ? fp : NULL, hash);
  if (s->rec_tx) {
    struct tx_frame tf = {.data = s->fed, .caplen = r->caplen,
                          .wire_len = r->origlen > r->caplen ? r->origlen : r->caplen,
                          .hdr_len = parsed ? fp->payload_offset : r->caplen, .flow = flow, .index = r->index};
    tx_send(s->tx, s->rec_sender, tx_queue_of(s, s->rec_sender, parsed ? &fp->key : NULL), &tf);
    schedule_next(s);
    return;
  }
  struct nic_frame f = {
      .data = s->fed,
      .caplen = r->caplen,
      .wire_len = r->origlen > r->caplen ? r->origlen : r->caplen,
      /* A frame that parses as nothing has no known header bytes: all of it
       * is labelled payload, and the NIC does not split it (82599 7.1.10
       * splits only packet types its parser recognises). */
      .hdr_len = parsed ? fp->payload_offset : 0,
      .flow = flow,
      .index = r->index,
      .vlan_tags = parsed ? fp->vlan_tags : 0,
      .key = parsed ? &fp->key : NULL,
  };
  uint64_t now = simk_now_ps();
  if (!s->have_first_arrival) {
    /* The window of the rates starts when the first frame starts on the wire. */
    uint64_t wt = nic_wire_time_ps(s->nic, f.wire_len);
    s->first_arrival_ps = now > wt ? now - wt : 0;
    s->have_first_arrival = 1;
  }
  s->last_arrival_ps = now;
  if (parsed) {
    const struct driver_pkt *pk = tenancy_fed(s->tn, s->fed, r->caplen, fp, flow);
    if (pk)
      driver_sock_prefetch(s->drv, pk->sock);
  }
  nic_rx_frame(s->nic, &f);
  schedule_next(s);
}

/* The waveform: queue fill, ring heads and tails, packet buffer, IOTLB hits
 * and misses, free pool pages, violations so far. */
static int register_vcd(struct sys *s, const char *path, char *err, size_t errlen) {
  char e[400];
  s->vcd = outfile_open_staged(path, ".vcd", err, errlen);
  if (!s->vcd)
    return -1;
  if (simk_vcd_open(outfile_staged_path(s->vcd), e, sizeof e)) {
    /* simk's message names the file already */
    snprintf(err, errlen, "%s", strncmp(e, "simk: ", 6) == 0 ? e + 6 : e);
    return -1;
  }
  if (nic_vcd_register(s->nic, e, sizeof e) ||
      simk_vcd_add_u64("iommu.iotlb_hits", &iommu_stats(s->io)->iotlb_hits, 64, e, sizeof e) ||
      simk_vcd_add_u64("iommu.iotlb_misses", &iommu_stats(s->io)->iotlb_misses, 64, e, sizeof e) ||
      simk_vcd_add_u64("check.violations", checker_total_signal(s->chk), 32, e, sizeof e)) {
    snprintf(err, errlen, "%s: %s", path, e);
    return -1;
  }
  for (unsigned q = 0; q < s->o->cfg.nic_queues; q++) {
    char name[48];
    const struct page_pool *pp = driver_pool(s->drv, q);
    if (!pp)
      continue; /* driver.page_recycle=free: this queue has no page pool */
    snprintf(name, sizeof name, "pool.q%u.free_pages", q);
    if (simk_vcd_add_u64(name, page_pool_free_signal(pp), 32, e, sizeof e)) {
      snprintf(err, errlen, "%s: %s", path, e);
      return -1;
    }
  }
  return 0;
}

/* app.hostile_read: the policy's entitlement, and what it read to --observed. */
static int hostile_entitled(void *ctx, unsigned principal, const struct mem_label *lab) {
  struct sys *s = ctx;
  return checker_entitled(&s->tn->pol, principal, lab);
}

static void hostile_sink(void *ctx, unsigned principal, const uint8_t *data, uint32_t len) {
  struct sys *s = ctx;
  observed_record_read(s->obs, principal, data, len, simk_now_ps());
}

static void on_exposure(void *ctx, unsigned principal, uint64_t paddr, const uint8_t *data, uint32_t len,
                        uint64_t time_ps) {
  (void)paddr;
  observed_record(ctx, principal, data, len, time_ps);
}

static void teardown(struct sys *s) {
  observed_abort(s->obs);
  tx_free(s->tx);
  trace_filter_free(s->tx_filter);
  outfile_abort(s->vcd);
  s->vcd = NULL;
  driver_free(s->drv);
  for (unsigned p = 0; p < SYSTEM_MAX_PRINCIPALS; p++)
    user_free(s->users[p]);
  nic_free(s->nic);
  iommu_free(s->io);
  checker_free(s->chk);
  mem_free(s->m);
  tenancy_free(s->tn);
  iommu_dma_free(s->dma); /* after the last unmap the port may watch */
  xdp_prog_free(s->xdp);
  if (s->t)
    trace_close(s->t);
  free(s);
}

/* What the run failed to exercise, if anything (contract: the inconclusive
 * verdict): it was interrupted, no frame reached host memory, or a
 * requested fault never fired. The first reason found is kept. */
static void note_inconclusive(const struct replay_opts *o, struct replay_result *res) {
  char *w = res->inconclusive;
  size_t n = sizeof res->inconclusive;
  w[0] = 0;
  if (res->incomplete) {
    snprintf(w, n, "the run was interrupted after %" PRIu64 " frames of the trace", res->trace_packets);
    return;
  }
  if (res->rx_packets == 0) {
    snprintf(w, n, "no frame reached host memory (%" PRIu64 " read from the trace, %" PRIu64 " dropped by the NIC, %"
             PRIu64 " skipped)", res->trace_packets, res->rx_dropped, res->trace_stats.skipped_unsupported);
    return;
  }
  for (unsigned i = 0; i < o->nfaults; i++)
    if (!o->faults[i].fired) {
      snprintf(w, n, "the fault %s never fired", o->faults[i].spec);
      return;
    }
}

int system_replay(const struct replay_opts *o, struct replay_result *res, char *err, size_t errlen) {
  memset(res, 0, sizeof *res);
  const struct config *c = &o->cfg;
  if (config_validate(c, err, errlen))
    return -1;
  if (simk_init(err, errlen))
    return -1;
  struct sys *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->o = o;
  struct trace_open_opts to;
  trace_open_opts_default(&to);
  to.skip_unsupported = o->skip_unsupported;
  to.read_ahead = o->read_ahead;
  s->t = trace_open2(o->trace_path, &to, err, errlen);
  if (!s->t)
    goto fail;
  snprintf(res->linktype, sizeof res->linktype, "%s", trace_file_linktype_name(s->t));
  /* Principals, flows, owners and who is entitled to what. */
  s->tn = tenancy_new(c, o->faults, o->nfaults, s->t, o->limit_frames, res, err, errlen);
  if (!s->tn)
    goto fail;
  s->frames_total = res->trace_packets;
  for (unsigned p = 0; p < s->tn->pol.nprincipals && p < SYSTEM_MAX_PRINCIPALS; p++)
    s->names[p] = s->tn->pol.names[p];

  s->m = mem_new(o->ram_bytes ? o->ram_bytes : (uint64_t)c->host_ram_mb << 20);
  if (!s->m) {
    snprintf(err, errlen, "cannot allocate the simulated RAM");
    goto fail;
  }
  mem_set_clock(s->m, clock_now, NULL);
  s->chk = checker_new(s->m, &s->tn->pol, clock_now, NULL);
  if (o->observed_dir && s->chk) {
    s->obs = observed_open(o->observed_dir, &s->tn->pol, err, errlen);
    if (!s->obs)
      goto fail;
    checker_set_exposure_cb(s->chk, on_exposure, s->obs);
  }
  struct iommu_params ip;
  iommu_params_default(&ip);
  ip.mode = c->iommu_mode;
  ip.iotlb_entries = c->iommu_iotlb_entries;
  ip.mem = s->m; /* I/O page tables in simulated memory, kernel-private */
  s->io = iommu_new(&ip);
  s->dma = s->io ? iommu_dma_new(s->io, s->m, clock_now, NULL) : NULL;
  if (!s->chk || !s->io || !s->dma) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  checker_set_dma_info(s->chk, dma_info, s->dma);
  cpu_init(&s->cpu, c->cpu_ghz);
  cpu_set_cores(&s->cpu, c->cpu_cores);

  struct nic_params np;
  nic_params_default(&np);
  np.queues = c->nic_queues;
  np.line_rate_gbps = c->nic_line_rate_gbps;
  np.rss_queues = config_rss_queues(c);
  np.buffer_size = c->nic_buffer_size;
  np.mtu = c->nic_mtu;
  np.multi_buffer = c->nic_multi_buffer;
  np.header_split = c->nic_header_split;
  np.hdr_buffer_size = c->nic_hdr_buffer_size;
  np.rx_fifo_bytes = c->nic_rx_buffer_kb * 1024u;
  np.itr_ps = (uint64_t)(c->nic_itr_us * 1e6 + 0.5);
  np.desc_fetch_batch = c->nic_desc_fetch_batch;
  np.wb_threshold = c->nic_wb_threshold;
  np.pcie_gbps = c->nic_pcie_gbps;
  struct nic_host host = {.ctx = s, .irq = nic_irq, .rx_no_desc = nic_no_desc, .fault_effect = fault_effect,
                          .tx_irq = nic_tx_irq, .tx_frame = nic_tx_frame};
  s->rid = np.rid;
  s->nic = nic_new(&np, iommu_dma_port(s->dma), &host, err, errlen);
  if (!s->nic)
    goto fail;
  /* ntuple rules: app's flows to nic.steer_app_to, each listed principal's
   * flows to its queue (taken out of the RSS table: config_rss_queues). */
  tenancy_steer(s->tn, s->nic);

  for (unsigned p = 0; p < s->tn->pol.nprincipals; p++) {
    s->users[p] = user_new(s->m, &s->cpu, p, SOCK_PAGES, err, errlen);
    if (!s->users[p])
      goto fail;
  }
  if (c->app_hostile_read) {
    /* Before the driver exists, so that it sees every page the driver maps
     * into the application (a persistent pool's pages at creation). */
    if (s->obs && observed_open_reads(s->obs, PRINCIPAL_APP, err, errlen))
      goto fail;
    if (user_hostile_read_start(s->users[PRINCIPAL_APP], hostile_entitled, s, s->obs ? hostile_sink : NULL, s)) {
      snprintf(err, errlen, "app.hostile_read: the memory model has no observer slot left");
      goto fail;
    }
  }
  struct driver_params dp = {
      .queues = c->nic_queues,
      .ring_size = c->nic_ring_size,
      .buffer_size = c->nic_buffer_size,
      .skb_readonly = c->driver_skb_mode == CFG_SKB_READONLY,
      .dma_per_packet = c->driver_dma_mapping == CFG_DMA_PER_PACKET,
      .pool_pages = c->pool_pages,
      .pool_cache_size = c->pool_cache_size,
      .pool_ring_size = c->pool_ring_size,
      .pool_clear = c->pool_clear,
      .napi_budget = c->driver_napi_budget,
      .header_split = c->nic_header_split,
      .hdr_buffer_size = c->nic_hdr_buffer_size,
      .rid = np.rid,
      .zero_copy = c->app_delivery == CFG_DELIVERY_ZERO_COPY,
      .zc_queues = c->app_zc_queues,
      .app = PRINCIPAL_APP,
      .app_map_mode = c->app_mapping == CFG_MAP_RW ? MEM_MAP_RW : MEM_MAP_RO,
      .app_map_per_packet = c->app_mapping_lifetime == CFG_LIFETIME_PER_PACKET,
      .app_hold_ps = (uint64_t)(c->app_hold_us * 1e6),
      .app_hostile_write = c->app_hostile_write,
      .recv_delay_ps = (uint64_t)(c->driver_recv_delay_us * 1e6 + 0.5),
      .free_pages = c->driver_page_recycle == CFG_RECYCLE_FREE,
      .kernel_reuse_pages = 64,
      .pool_frag = c->pool_frag,
      .xsk_mode = c->app_delivery == CFG_DELIVERY_AF_XDP ? DRIVER_XSK_AF_XDP
                  : c->app_delivery == CFG_DELIVERY_ZCRX ? DRIVER_XSK_ZCRX
                                                         : DRIVER_XSK_NONE,
      .xsk_queue = first_queue(c, c->app_zc_queues),
      .umem_chunk = c->app_umem_chunk,
      .umem_pages = c->app_umem_pages,
      .xdp_attached = c->xdp_rules[0] != 0,
      .sock_rcvbuf_bytes = c->sock_rcvbuf_bytes,
      .names = s->names,
  };
  struct driver_classifier cls = {.ctx = s->tn, .classify = tenancy_classify};
  struct driver_tenant tenants[CFG_MAX_PRINCIPALS];
  dp.tenants = tenants;
  for (unsigned i = 0; i < c->nprincipals; i++) {
    const struct cfg_principal *cp = &c->principals[i];
    uint64_t zq = config_principal_zc_queues(c, cp);
    if (!zq)
      continue;
    tenants[dp.ntenants++] = (struct driver_tenant){
        .principal = PRINCIPAL_FIRST_LISTED + i,
        .zc_queues = zq,
        .map_mode = cp->mapping == CFG_MAP_RW ? MEM_MAP_RW : MEM_MAP_RO,
        .map_per_packet = cp->mapping_lifetime == CFG_LIFETIME_PER_PACKET,
    };
  }
  s->drv = driver_new(&dp, s->m, s->io, s->nic, &s->cpu, s->users, s->tn->pol.nprincipals, &cls, err, errlen);
  if (!s->drv)
    goto fail;
  driver_set_effect_cb(s->drv, fault_effect, s);
  if (c->xdp_rules[0]) {
    /* The program attached to the device: its rules name the policy's
     * principals and match frames of the trace's link type. */
    char xerr[1200];
    s->xdp = xdp_prog_new(c->xdp_rules, s->names, trace_linktype(s->t), xerr, sizeof xerr);
    if (!s->xdp) {
      snprintf(err, errlen, "xdp.rules: %s", xerr);
      goto fail;
    }
    struct driver_xdp_prog xp = {.ctx = s->xdp, .run = xdp_run};
    driver_set_xdp(s->drv, &xp);
  }
  if (c->tx_mode != CFG_TX_NONE || c->traffic_tx[0]) {
    if (c->traffic_tx[0]) {
      char ferr[512];
      s->tx_filter = trace_filter_new(trace_linktype(s->t), c->traffic_tx, ferr, sizeof ferr);
      if (!s->tx_filter) {
        snprintf(err, errlen, "traffic.tx: %s", ferr);
        goto fail;
      }
    }
    struct tx_params tp = {
        .queues = c->nic_queues,
        .ring_size = c->nic_ring_size,
        .rid = np.rid,
        .mode = c->tx_mode == CFG_TX_ZEROCOPY ? TX_MODE_ZEROCOPY
                : c->tx_mode == CFG_TX_AF_XDP ? TX_MODE_AF_XDP
                : c->tx_mode == CFG_TX_PAGE_POOL ? TX_MODE_PAGE_POOL : TX_MODE_COPY,
        .wait_completion = c->tx_wait_completion,
        .protect_inflight = c->tx_protect_inflight,
        .head_writeback = c->tx_head_writeback,
        .buffers = c->tx_buffers,
        .nprincipals = s->tn->pol.nprincipals,
        .names = s->names,
        .kernel_reuse_pages = 64,
    };
    s->tx = tx_new(&tp, s->m, s->io, s->nic, &s->cpu, err, errlen);
    if (!s->tx)
      goto fail;
    tx_set_effect_cb(s->tx, fault_effect, s);
    checker_wire_enable(s->chk);
    if (s->obs && observed_open_wire(s->obs, o->observed_dir, err, errlen))
      goto fail;
  }
  for (unsigned i = 0; i < o->nfaults; i++)
    fault_seed(&o->faults[i], o->seed, i);
  /* Setup costs (pool creation, mappings) are not per-packet work. */
  memset(s->cpu.cycles, 0, sizeof s->cpu.cycles);

  if (o->vcd_path && register_vcd(s, o->vcd_path, err, errlen))
    goto fail;

  s->feed_ev = simk_event_new("mac.rx", feed, s);
  if (!s->feed_ev) {
    snprintf(err, errlen, "cannot create events");
    goto fail;
  }
  schedule_next(s);
  if (!s->feed_error) {
    enum simk_run_result rr = simk_run();
    if (rr == SIMK_RUN_ERROR) {
      snprintf(err, errlen, "the SystemC kernel failed");
      goto fail;
    }
  }
  if (s->feed_error) {
    snprintf(err, errlen, "%s", s->feed_err);
    goto fail;
  }
  /* The replay must have read what the first pass read: a file changed in
   * between would give counts and owners of one file and verdicts of
   * another. The trace notices most changes itself (at the end of each
   * pass); this asks again after a --limit, and compares the two passes'
   * counts for a change the file system did not show. */
  if (!s->stopped) {
    const struct trace_stats *now = trace_stats(s->t);
    if (trace_unchanged(s->t, err, errlen))
      goto fail;
    if (memcmp(now, &res->trace_stats, sizeof *now) != 0) {
      snprintf(err, errlen, "%s: the replay read other records than its first pass (%" PRIu64 " records, %" PRIu64
               " bytes, then %" PRIu64 " and %" PRIu64 "): the file changed while it was read; replay a copy that "
               "nothing writes to", strcmp(o->trace_path, "-") == 0 ? "<stdin>" : o->trace_path,
               res->trace_stats.records, res->trace_stats.bytes, now->records, now->bytes);
      goto fail;
    }
  }

  if (o->progress)
    o->progress(o->progress_ctx, s->frames_fed, s->frames_total);

  /* ---- results ---- */
  res->incomplete = s->stopped;
  if (s->stopped) {
    /* The report covers what was replayed: the first pass may have read
     * the whole trace before the stop came. */
    res->trace_packets = s->frames_replayed;
    res->trace_bytes = s->bytes_replayed;
  }
  if (s->obs)
    checker_flush(s->chk);
  res->sim_time_ps = simk_now_ps();
  res->events = simk_events_dispatched();
  res->queues = nic_queues(s->nic);
  res->bad_register_writes = nic_bad_register_writes(s->nic);
  for (unsigned q = 0; q < res->queues && q < REPORT_MAX_QUEUES; q++) {
    const struct nic_queue_stats *qs = nic_queue_stats(s->nic, q);
    res->q[q] = *qs;
    res->dma_write_faults += qs->dma_write_faults;
    res->rx_packets += qs->rx_packets;
    res->rx_bytes += qs->rx_bytes;
    res->rx_dropped += qs->rx_dropped;
  }
  res->iommu = *iommu_stats(s->io);
  for (int b = 0; b < CPU_NBUCKETS; b++)
    res->cycles[b] = s->cpu.cycles[b];
  res->cycles_total = cpu_total(&s->cpu);
  res->cores = s->cpu.ncores;
  memcpy(res->core_busy_ps, s->cpu.busy_ps, sizeof res->core_busy_ps);
  const struct driver_stats *ds = driver_stats(s->drv);
  /* Per received packet: the TX path's cycles are counted on their own. */
  uint64_t tx_cycles = s->tx ? tx_stats(s->tx)->cycles : 0;
  res->cycles_per_packet =
      ds->rx_processed ? (double)(res->cycles_total - tx_cycles) / (double)ds->rx_processed : 0.0;
  if (s->tx) {
    const struct tx_stats *ts = tx_stats(s->tx);
    res->tx_enabled = 1;
    res->tx_sends = ts->sends;
    res->tx_no_buffer = ts->no_buffer;
    res->tx_copies = ts->copies;
    res->tx_copy_bytes = ts->copy_bytes;
    res->tx_pins = ts->pins;
    res->tx_dma_maps = ts->dma_maps;
    res->tx_dma_unmaps = ts->dma_unmaps;
    res->tx_validated = ts->validated;
    res->tx_notifications = ts->notifications;
    res->tx_early_releases = ts->early_releases;
    res->tx_user_writes = ts->user_writes;
    res->tx_user_write_faults = ts->user_write_faults;
    res->tx_cycles = ts->cycles;
    for (unsigned q = 0; q < res->queues && q < REPORT_MAX_QUEUES; q++) {
      const struct nic_tx_stats *ns = nic_tx_stats(s->nic, q);
      const struct tx_queue_stats *hq = tx_queue_stats(s->tx, q);
      res->txq[q] = (struct report_tx_queue){
          .tx_packets = ns->tx_packets, .tx_bytes = ns->tx_bytes, .tx_dma_fault = ns->dma_fault,
          .desc_fetches = ns->desc_fetches, .desc_used = ns->desc_used, .irqs = ns->irqs,
          .posted = hq->posted, .completed = hq->completed, .ring_full = hq->ring_full};
      res->tx_packets += ns->tx_packets;
      res->tx_bytes += ns->tx_bytes;
    }
    res->tx_cycles_per_packet = res->tx_packets ? (double)ts->cycles / (double)res->tx_packets : 0.0;
  }
  res->driver = *ds;
  const struct user_read_stats *rs = user_read_stats(s->users[PRINCIPAL_APP]);
  res->hread_reads = rs->reads;
  res->hread_bytes = rs->bytes;
  res->hread_foreign_flow = rs->foreign_flow_bytes;
  res->hread_kernel_private = rs->kernel_private_bytes;
  res->hread_stale = rs->stale_bytes;
  res->hread_faults = rs->faults;
  res->xdp_configured = s->xdp != NULL;
  res->xdp_no_match = xdp_prog_no_match(s->xdp);
  res->xdp_rules = (uint32_t)xdp_prog_rule_count(s->xdp);
  for (uint32_t i = 0; i < res->xdp_rules && i < REPORT_MAX_XDP_RULES; i++)
    res->xdp_rule_hits[i] = xdp_prog_hits(s->xdp, i);
  /* Rates over the span of arrivals (offered) and until the last delivery. */
  uint64_t span_in = s->last_arrival_ps > s->first_arrival_ps ? s->last_arrival_ps - s->first_arrival_ps : 0;
  uint64_t end_out = ds->last_delivery_ps > s->last_arrival_ps ? ds->last_delivery_ps : s->last_arrival_ps;
  uint64_t span_out = end_out > s->first_arrival_ps ? end_out - s->first_arrival_ps : 0;
  if (span_in) {
    res->offered_gbps = (double)res->trace_bytes * 8.0 / ((double)span_in / 1000.0);
    res->offered_mpps = (double)res->trace_packets / ((double)span_in / 1e6);
  }
  if (span_out) {
    res->delivered_gbps = (double)ds->delivered_bytes * 8.0 / ((double)span_out / 1000.0);
    res->delivered_mpps = (double)ds->delivered_packets / ((double)span_out / 1e6);
  }
  for (int p = 0; p < PROP_COUNT; p++)
    res->props[p] = *checker_result(s->chk, (enum checker_property)p);
  note_inconclusive(o, res);
  /* The pools are destroyed at the end of the run (after the costs and
   * verdicts were taken: teardown is not per-packet work). */
  driver_destroy_pools(s->drv);
  for (unsigned q = 0; q < res->queues; q++) {
    const struct page_pool_stats *ps = driver_pool_stats(s->drv, q);
    if (!ps)
      continue;
    page_pool_stats_add(&res->pool, ps);
  }
  simk_finish(); /* closes the waveform's staged file */
  /* The waveform and the captures are put in place as a set, once every
   * one of them was written whole. */
  if (s->obs) {
    struct observed *ob = s->obs;
    s->obs = NULL;
    if (observed_close(ob, err, errlen)) {
      teardown(s);
      return -1;
    }
  }
  if (s->vcd) {
    struct outfile *v = s->vcd;
    s->vcd = NULL;
    if (outfile_commit(v, err, errlen)) {
      teardown(s);
      return -1;
    }
  }
  teardown(s);
  return 0;

fail:
  simk_finish(); /* closes a waveform file that was opened */
  teardown(s);
  return -1;
}
