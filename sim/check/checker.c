/*
 * checker.c: the safety properties, decided from labels and policy.
 */
#include "checker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The last exposure counted for a principal, so that one packet written in
 * several pieces (headers, then payload) counts once. */
struct last_exposure {
  int prop; /* -1: none */
  uint64_t pfn;
  uint32_t end; /* offset just past it */
  struct mem_label lab;
};

struct checker {
  struct mem *m;
  const struct policy *pol;
  uint64_t (*now_ps)(void *ctx);
  void *clock_ctx;
  struct checker_result res[PROP_COUNT];
  struct last_exposure last[MEM_MAX_PRINCIPALS];
  uint64_t total; /* violations so far */
};

static const char *const prop_names[PROP_COUNT] = {
    "cross_flow_leak",       "stale_data_leak",         "kernel_pointer_leak",
    "kernel_data_tamper",    "user_write_after_validation", "device_write_outside_grant",
    "device_write_after_unmap", "pool_exhaustion",
};

const char *checker_property_name(enum checker_property p) {
  return (unsigned)p < PROP_COUNT ? prop_names[p] : "?";
}

const char *checker_kind_name(unsigned kind) {
  switch (kind) {
  case MEM_LABEL_ZERO: return "zero";
  case MEM_LABEL_PKT_HEADER: return "packet header";
  case MEM_LABEL_PKT_PAYLOAD: return "packet payload";
  case MEM_LABEL_PKT_UNKNOWN: return "packet bytes not in the capture";
  case MEM_LABEL_KERNEL_PRESIM: return "kernel data from before the simulation";
  case MEM_LABEL_KERNEL_PTR: return "skb_shared_info (kernel pointers)";
  case MEM_LABEL_KERNEL_META: return "kernel metadata";
  case MEM_LABEL_USER: return "user data";
  }
  return "?";
}

static int is_packet(unsigned kind) {
  return kind == MEM_LABEL_PKT_HEADER || kind == MEM_LABEL_PKT_PAYLOAD ||
         kind == MEM_LABEL_PKT_UNKNOWN;
}

static int is_kernel(unsigned kind) {
  return kind == MEM_LABEL_KERNEL_PRESIM || kind == MEM_LABEL_KERNEL_PTR ||
         kind == MEM_LABEL_KERNEL_META;
}

static unsigned flow_owner(const struct policy *pol, uint32_t flow) {
  return flow < pol->nflows && pol->flow_owner ? pol->flow_owner[flow] : pol->default_owner;
}

/* Is principal p entitled to observe bytes labelled lab? */
static int entitled(const struct policy *pol, unsigned p, const struct mem_label *lab) {
  unsigned k = lab->prov.kind;
  if (k == MEM_LABEL_ZERO)
    return 1;
  if (is_packet(k))
    return flow_owner(pol, lab->prov.flow) == p || (pol->caps[p] & POLICY_CAP_NET_ADMIN);
  if (k == MEM_LABEL_USER)
    return lab->prov.principal == p;
  return 0; /* kernel-private: nobody */
}

/* ---- explanations ---- */

static void fmt_time(uint64_t ps, char *buf, size_t n) {
  snprintf(buf, n, "%" PRIu64 ".%06" PRIu64 " us", ps / 1000000, ps % 1000000);
}

static void fmt_accessor(const struct policy *pol, struct mem_accessor a, char *buf, size_t n) {
  switch (a.actor) {
  case MEM_ACTOR_DEVICE:
    snprintf(buf, n, "the device (requester %02x:%02x.%x) by DMA", (a.id >> 8) & 0xff,
             (a.id >> 3) & 0x1f, a.id & 7);
    break;
  case MEM_ACTOR_KERNEL:
    snprintf(buf, n, "the kernel (CPU %u)", a.id);
    break;
  default:
    snprintf(buf, n, "principal '%s'", a.id < pol->nprincipals ? pol->names[a.id] : "?");
  }
}

static const char *map_name(enum mem_map_mode mm) {
  return mm == MEM_MAP_RW ? "read-write" : mm == MEM_MAP_RO ? "read-only" : "not";
}

struct group {
  int prop; /* -1: none */
  unsigned principal;
  uint64_t pfn;
  uint32_t offset, length;
  uint32_t label_id; /* first label of the group */
  struct mem_label lab; /* copy of it */
  int at_map;        /* exposed by a new mapping (1) or by a write (0) */
};

static void explain(struct checker *c, const struct group *g, struct checker_violation *v) {
  const struct policy *pol = c->pol;
  const struct mem_label *lab = &g->lab;
  const char *who = pol->names[g->principal];
  char tw[48], tm[48], tn[48], by[96], flow[96] = "";
  fmt_time(lab->time_ps, tw, sizeof tw);
  fmt_time(mem_page_mapped_since_ps(c->m, g->pfn, g->principal), tm, sizeof tm);
  fmt_time(c->now_ps(c->clock_ctx), tn, sizeof tn);
  fmt_accessor(pol, lab->writer, by, sizeof by);
  enum mem_map_mode mm = mem_page_mapping(c->m, g->pfn, g->principal);
  uint64_t epoch = mem_page_epoch(c->m, g->pfn);
  char what[256], how[320], why[320];
  unsigned k = lab->prov.kind;

  if (is_packet(k)) {
    if (pol->flow_name)
      pol->flow_name(pol->flow_name_ctx, lab->prov.flow, flow, sizeof flow);
    snprintf(what, sizeof what, "%u bytes of packet %" PRIu64 " of flow %s", g->length,
             lab->prov.packet, flow);
  } else if (k == MEM_LABEL_KERNEL_PRESIM) {
    snprintf(what, sizeof what, "%u bytes of kernel data that page 0x%" PRIx64
             " held before the simulation started", g->length, g->pfn);
  } else if (k == MEM_LABEL_USER) {
    snprintf(what, sizeof what, "%u bytes of data of principal '%s'", g->length,
             lab->prov.principal < pol->nprincipals ? pol->names[lab->prov.principal] : "?");
  } else {
    snprintf(what, sizeof what, "%u bytes of %s", g->length, checker_kind_name(k));
  }

  if (k == MEM_LABEL_KERNEL_PRESIM)
    snprintf(how, sizeof how, "were never cleared");
  else if (lab->epoch == epoch)
    snprintf(how, sizeof how, "were written by %s into page 0x%" PRIx64 " at offset %u at %s, "
             "in the page's current allocation (epoch %" PRIu64 ")", by, g->pfn, g->offset, tw, epoch);
  else
    snprintf(how, sizeof how, "were written by %s at %s in an earlier allocation of page 0x%" PRIx64
             " (epoch %" PRIu64 "; it is now in epoch %" PRIu64 ") and were not cleared when the page "
             "was reused", by, tw, g->pfn, lab->epoch, epoch);

  if (g->at_map)
    snprintf(why, sizeof why, "when the page was mapped %s into principal '%s' at %s, they became "
             "readable by it", map_name(mm), who, tn);
  else
    snprintf(why, sizeof why, "principal '%s' has had the page mapped %s since %s, so it can read "
             "them at any time", who, map_name(mm), tm);

  const char *policy_text;
  char ptext[200];
  if (is_kernel(k)) {
    policy_text = "no userspace principal is entitled to kernel-private bytes";
  } else if (k == MEM_LABEL_USER) {
    policy_text = "only the principal that wrote user data is entitled to it";
  } else {
    snprintf(ptext, sizeof ptext, "'%s' does not own flow %s and lacks CAP_NET_ADMIN", who, flow);
    policy_text = ptext;
  }
  snprintf(v->explanation, sizeof v->explanation, "%s %s; %s. Not entitled: %s.", what, how, why,
           policy_text);
  /* Capitalise the first letter for a sentence. */
  if (v->explanation[0] >= 'a' && v->explanation[0] <= 'z')
    v->explanation[0] = (char)(v->explanation[0] - 'a' + 'A');
  snprintf(v->flow, sizeof v->flow, "%s", flow);
  snprintf(v->kind, sizeof v->kind, "%s",
           k == MEM_LABEL_PKT_HEADER ? "header" : k == MEM_LABEL_PKT_PAYLOAD ? "payload"
           : k == MEM_LABEL_PKT_UNKNOWN ? "uncaptured" : k == MEM_LABEL_KERNEL_PRESIM ? "kernel_presim"
           : k == MEM_LABEL_KERNEL_PTR ? "skb_shared_info" : k == MEM_LABEL_KERNEL_META ? "kernel_meta"
           : k == MEM_LABEL_USER ? "user" : "zero");
  v->packet_index = is_packet(k) ? lab->prov.packet : UINT64_MAX;
  v->time_ps = c->now_ps(c->clock_ctx);
  v->principal = g->principal;
  v->pfn = g->pfn;
  v->offset = g->offset;
  v->length = g->length;
}

static int same_source(const struct mem_label *a, const struct mem_label *b);

static void group_flush(struct checker *c, struct group *g) {
  if (g->prop < 0)
    return;
  struct checker_result *r = &c->res[g->prop];
  struct last_exposure *le = &c->last[g->principal];
  int continues = le->prop == g->prop && le->pfn == g->pfn && le->end == g->offset &&
                  same_source(&le->lab, &g->lab);
  *le = (struct last_exposure){.prop = g->prop, .pfn = g->pfn, .end = g->offset + g->length, .lab = g->lab};
  r->bytes += g->length;
  if (continues) {
    if (r->has_first && r->first.pfn == g->pfn && r->first.offset + r->first.length == g->offset &&
        r->first.principal == g->principal) {
      /* The first exposure, still growing: explain it whole. */
      struct group whole = *g;
      whole.offset = r->first.offset;
      whole.length = r->first.length + g->length;
      whole.lab = r->first_lab;
      explain(c, &whole, &r->first);
    }
    g->prop = -1;
    return;
  }
  r->count++;
  c->total++;
  if (!r->has_first) {
    r->has_first = 1;
    r->first_lab = g->lab;
    explain(c, g, &r->first);
  }
  g->prop = -1;
}

/* Same source: the same packet (or object) in the same allocation. */
static int same_source(const struct mem_label *a, const struct mem_label *b) {
  int pa = is_packet(a->prov.kind), pb = is_packet(b->prov.kind);
  if (pa != pb)
    return 0;
  if (pa)
    return a->prov.flow == b->prov.flow && a->prov.packet == b->prov.packet && a->epoch == b->epoch;
  return a->prov.kind == b->prov.kind && a->prov.packet == b->prov.packet &&
         a->prov.principal == b->prov.principal && a->epoch == b->epoch;
}

struct expose_ctx {
  struct checker *c;
  unsigned principal;
  uint64_t bit;
  uint64_t epoch;
  struct group g;
};

static void expose_run(void *vctx, uint64_t paddr, uint32_t len, uint32_t id) {
  struct expose_ctx *x = vctx;
  if (id == MEM_LABEL_ID_ZERO)
    return;
  struct mem_label *lab = mem_label_mut(x->c->m, id);
  if (lab->exposed & x->bit)
    return;
  lab->exposed |= x->bit;
  if (entitled(x->c->pol, x->principal, lab))
    return;
  int prop;
  if (is_kernel(lab->prov.kind))
    prop = PROP_KERNEL_POINTER_LEAK;
  else if (lab->epoch == x->epoch)
    prop = PROP_CROSS_FLOW_LEAK;
  else
    prop = PROP_STALE_DATA_LEAK;
  uint32_t off = (uint32_t)(paddr & (MEM_PAGE_SIZE - 1));
  struct group *g = &x->g;
  if (g->prop == prop && g->offset + g->length == off && same_source(&g->lab, lab)) {
    g->length += len;
    return;
  }
  group_flush(x->c, g);
  g->prop = prop;
  g->principal = x->principal;
  g->pfn = paddr >> MEM_PAGE_SHIFT;
  g->offset = off;
  g->length = len;
  g->label_id = id;
  g->lab = *lab;
}

static void expose(struct checker *c, unsigned principal, uint64_t paddr, uint32_t len, int at_map) {
  struct expose_ctx x = {.c = c, .principal = principal, .bit = 1ull << principal,
                         .epoch = mem_page_epoch(c->m, paddr >> MEM_PAGE_SHIFT)};
  x.g.prop = -1;
  x.g.at_map = at_map;
  mem_label_runs(c->m, paddr, len, expose_run, &x);
  group_flush(c, &x.g);
}

static void on_access(void *ctx, struct mem *m, const struct mem_access *a) {
  struct checker *c = ctx;
  if (a->denied || a->op == MEM_OP_READ)
    return;
  uint64_t mappers = mem_page_mappers(m, a->paddr >> MEM_PAGE_SHIFT);
  while (mappers) {
    unsigned p = (unsigned)__builtin_ctzll(mappers);
    mappers &= mappers - 1;
    if (p < c->pol->nprincipals)
      expose(c, p, a->paddr, a->len, 0);
  }
}

static void on_map(void *ctx, struct mem *m, uint64_t pfn, unsigned principal,
                   enum mem_map_mode old_mode, enum mem_map_mode new_mode) {
  (void)m;
  (void)old_mode;
  struct checker *c = ctx;
  if (new_mode == MEM_MAP_NONE || principal >= c->pol->nprincipals)
    return;
  expose(c, principal, pfn << MEM_PAGE_SHIFT, MEM_PAGE_SIZE, 1);
}

struct checker *checker_new(struct mem *m, const struct policy *pol, uint64_t (*now_ps)(void *ctx),
                            void *clock_ctx) {
  struct checker *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->m = m;
  c->pol = pol;
  c->now_ps = now_ps;
  c->clock_ctx = clock_ctx;
  for (unsigned i = 0; i < MEM_MAX_PRINCIPALS; i++)
    c->last[i].prop = -1;
  struct mem_observer obs = {.ctx = c, .access = on_access, .map = on_map};
  if (mem_add_observer(m, &obs)) {
    free(c);
    return NULL;
  }
  return c;
}

void checker_free(struct checker *c) { free(c); }

const struct checker_result *checker_result(const struct checker *c, enum checker_property p) {
  return &c->res[p];
}

uint64_t checker_total(const struct checker *c) { return c->total; }
const uint64_t *checker_total_signal(const struct checker *c) { return &c->total; }
