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
  checker_exposure_fn expo_fn;
  void *expo_ctx;
  struct {
    int active;
    uint64_t paddr, time_ps;
    uint32_t len;
    uint8_t data[65536];
  } *pend; /* the exposure being built, per principal (when a callback is set) */
  struct {
    uint64_t pfn, time_ps;
    uint32_t end;
    char who[48];
  } last_rec[PROP_COUNT]; /* to count one DMA written in pieces once */
  /* The first violation's text of each recorded property, with "{bytes}"
   * standing for its length: rendered again when a continuing piece of the
   * same transfer makes it longer, so the text and the JSON agree. */
  char first_tmpl[PROP_COUNT][1024];
  checker_dma_info_fn dma_fn;
  void *dma_ctx;
  uint64_t *unmap_ps;   /* per page: 1 + when the kernel dropped its last DMA mapping (0: never) */
  uint64_t unmap_pages; /* entries of unmap_ps */
  struct wire_run *wire;   /* the device's most recent reads (checker_wire_enable) */
  uint32_t wire_first, wire_n;
};

/* One run of bytes the device read, as labelled when it read them. */
struct wire_run {
  uint16_t rid;
  uint32_t len;
  uint64_t pfn;
  uint32_t off;
  uint64_t page_epoch; /* the page's epoch at the read */
  struct mem_label lab;
};
#define WIRE_RUNS 1024u

/* Render a text template: "{bytes}" becomes len. */
static void render_bytes(const char *tmpl, uint32_t len, char *out, size_t n) {
  const char *at = strstr(tmpl, "{bytes}");
  if (!at) {
    snprintf(out, n, "%s", tmpl);
    return;
  }
  snprintf(out, n, "%.*s%u%s", (int)(at - tmpl), tmpl, len, at + 7);
}

/* The source kind of a first occurrence: the label's, or "packet" once it
 * spans bytes of different packet kinds (headers and payload of a packet). */

static const char *const prop_names[PROP_COUNT] = {
    "cross_flow_leak",       "stale_data_leak",         "kernel_pointer_leak",
    "kernel_data_tamper",    "user_write_after_validation", "device_write_outside_grant",
    "device_write_after_unmap", "pool_exhaustion", "cross_flow_tamper", "wire_leak",
    "device_read_outside_grant", "device_read_after_unmap",
};

const char *checker_property_name(enum checker_property p) {
  return (unsigned)p < PROP_COUNT ? prop_names[p] : "?";
}

const char *checker_kind_name(unsigned kind) { return mem_label_kind_text(kind); }

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

int checker_entitled(const struct policy *pol, unsigned principal, const struct mem_label *lab) {
  return entitled(pol, principal, lab);
}

/* ---- by_pair ---- */

/* Whose bytes lab's are, in a page now in allocation epoch `epoch`:
 * "kernel" (kernel-private, or bytes that were never anyone's), "stale"
 * (from an earlier allocation), else the owning principal's name. */
static const char *owner_of(const struct policy *pol, const struct mem_label *lab, uint64_t epoch) {
  unsigned k = lab->prov.kind;
  if (is_kernel(k) || k == MEM_LABEL_ZERO)
    return "kernel";
  if (lab->epoch && lab->epoch != epoch)
    return "stale";
  unsigned p = is_packet(k) ? flow_owner(pol, lab->prov.flow) : lab->prov.principal;
  return p < pol->nprincipals ? pol->names[p] : "?";
}

/* Count bytes (and one violation when `counted`) to the pair (who, owner)
 * of result r. Every count and byte of a property goes through here. */
static void pair_add(struct checker_result *r, const char *who, const char *owner, int counted, uint64_t bytes) {
  struct checker_pair *pr = NULL;
  for (unsigned i = 0; i < r->npairs && !pr; i++)
    if (strcmp(r->pairs[i].principal, who) == 0 && strcmp(r->pairs[i].owner, owner) == 0)
      pr = &r->pairs[i];
  if (!pr) {
    if (r->npairs < CHECKER_MAX_PAIRS) {
      pr = &r->pairs[r->npairs++];
    } else {
      pr = &r->pairs[CHECKER_MAX_PAIRS - 1];
      who = owner = "(more)";
    }
    snprintf(pr->principal, sizeof pr->principal, "%s", who);
    snprintf(pr->owner, sizeof pr->owner, "%s", owner);
  }
  pr->count += counted ? 1 : 0;
  pr->bytes += bytes;
  r->count += counted ? 1 : 0;
  r->bytes += bytes;
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

/* Does a continuing piece of label kind k make the first occurrence v span
 * packet bytes of more than one kind? */
static int spans_kinds(const struct checker_violation *v, const struct mem_label *first, unsigned k) {
  return strcmp(v->kind, "packet") == 0 || (is_packet(k) && is_packet(first->prov.kind) && k != first->prov.kind);
}

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
    snprintf(what, sizeof what, "%u bytes of pre-simulation page contents (what page 0x%" PRIx64
             " held before the simulation started: old kernel objects of a real machine's free page, not a "
             "live kernel pointer of this run)", g->length, g->pfn);
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
  } else if (k == MEM_LABEL_USER && lab->epoch == epoch) {
    policy_text = "bytes one principal wrote reach another as if they were packet data (integrity)";
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
  snprintf(v->kind, sizeof v->kind, "%s", mem_label_kind_key(k));
  v->packet_index = is_packet(k) ? lab->prov.packet : UINT64_MAX;
  v->time_ps = c->now_ps(c->clock_ctx);
  v->principal = g->principal;
  snprintf(v->who, sizeof v->who, "%s", who);
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
  pair_add(r, c->pol->names[g->principal], owner_of(c->pol, &g->lab, mem_page_epoch(c->m, g->pfn)), !continues,
           g->length);
  if (c->expo_fn && c->pend) {
    unsigned p = g->principal;
    uint64_t pa = (g->pfn << MEM_PAGE_SHIFT) + g->offset;
    int extend = continues && c->pend[p].active && c->pend[p].paddr + c->pend[p].len == pa &&
                 c->pend[p].len + g->length <= sizeof c->pend[p].data;
    if (!extend) {
      if (c->pend[p].active)
        c->expo_fn(c->expo_ctx, p, c->pend[p].paddr, c->pend[p].data, c->pend[p].len, c->pend[p].time_ps);
      c->pend[p].active = 1;
      c->pend[p].paddr = pa;
      c->pend[p].len = 0;
      c->pend[p].time_ps = c->now_ps(c->clock_ctx);
    }
    /* The bytes as they are now: a later write must not change what was seen. */
    if (mem_peek(c->m, pa, c->pend[p].data + c->pend[p].len, g->length) == 0)
      c->pend[p].len += g->length;
  }
  if (continues) {
    if (r->has_first && r->first.pfn == g->pfn && r->first.offset + r->first.length == g->offset &&
        r->first.principal == g->principal) {
      /* The first exposure, still growing: explain it whole. */
      struct group whole = *g;
      whole.offset = r->first.offset;
      whole.length = r->first.length + g->length;
      whole.lab = r->first_lab;
      int mixed = spans_kinds(&r->first, &r->first_lab, g->lab.prov.kind);
      explain(c, &whole, &r->first);
      if (mixed)
        snprintf(r->first.kind, sizeof r->first.kind, "%s", "packet");
    }
    g->prop = -1;
    return;
  }
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
  else if (lab->epoch != x->epoch)
    prop = PROP_STALE_DATA_LEAK;
  else if (lab->prov.kind == MEM_LABEL_USER)
    prop = PROP_CROSS_FLOW_TAMPER; /* another principal's writes reach it: integrity, not a leak */
  else
    prop = PROP_CROSS_FLOW_LEAK;
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

/* The bytes [paddr, paddr + len) (within one page) become readable by
 * principal. label_id: the one label they all carry (a write's), or
 * UINT32_MAX to walk their runs. */
static void expose_range(struct checker *c, unsigned principal, uint64_t paddr, uint32_t len, int at_map,
                         uint32_t label_id) {
  if (label_id == MEM_LABEL_ID_ZERO)
    return; /* zeroes: nothing to expose (expose_run skips them) */
  struct expose_ctx x; /* the group's other fields are set with its prop */
  x.c = c;
  x.principal = principal;
  x.bit = 1ull << principal;
  x.epoch = mem_page_epoch(c->m, paddr >> MEM_PAGE_SHIFT);
  x.g.prop = -1;
  x.g.at_map = at_map;
  if (label_id != UINT32_MAX)
    expose_run(&x, paddr, len, label_id); /* the single run mem_label_runs would visit */
  else
    mem_label_runs(c->m, paddr, len, expose_run, &x);
  if (x.g.prop >= 0)
    group_flush(c, &x.g);
}

static void expose(struct checker *c, unsigned principal, uint64_t paddr, uint32_t len, int at_map) {
  expose_range(c, principal, paddr, len, at_map, UINT32_MAX);
}

static void device_read(struct checker *c, struct mem *m, const struct mem_access *a);

/* The IOMMU's own page-table walks (IOMMU_WALK_RID, iommu.h) read memory as
 * the hardware they are, not as a DMA requester: no grant applies. */
#define WALK_RID 0xffffu

static void on_access(void *ctx, struct mem *m, const struct mem_access *a) {
  struct checker *c = ctx;
  if (!a->denied && a->op == MEM_OP_READ && a->who.actor == MEM_ACTOR_DEVICE && a->who.id != WALK_RID)
    device_read(c, m, a);
  if (a->denied || a->op == MEM_OP_READ)
    return;
  uint64_t mappers = mem_page_mappers(m, a->paddr >> MEM_PAGE_SHIFT);
  while (mappers) {
    unsigned p = (unsigned)__builtin_ctzll(mappers);
    mappers &= mappers - 1;
    if (p < c->pol->nprincipals)
      expose_range(c, p, a->paddr, a->len, 0, a->one_label && a->len ? a->label_id : UINT32_MAX);
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

/* ---- writes: device grants, unmapped pages, kernel data, validated bytes ---- */

/* Record one violation that is not an exposure: count, bytes, and the first
 * occurrence with its explanation. */
static void record_owned(struct checker *c, int prop, const char *who, unsigned principal, uint64_t pfn,
                         uint32_t off, uint32_t len, const struct mem_label *src, const struct mem_label *whose,
                         const char *text);

/* Record one violation: its pair's owner is the source's, or (no source)
 * that of the bytes at the recorded offset. */
static void record(struct checker *c, int prop, const char *who, unsigned principal, uint64_t pfn,
                   uint32_t off, uint32_t len, const struct mem_label *src, const char *text) {
  record_owned(c, prop, who, principal, pfn, off, len, src, NULL, text);
}

/* The same with the bytes whose owner the pair names given (NULL: as record). */
static void record_owned(struct checker *c, int prop, const char *who, unsigned principal, uint64_t pfn,
                         uint32_t off, uint32_t len, const struct mem_label *src, const struct mem_label *whose,
                         const char *text) {
  struct checker_result *r = &c->res[prop];
  uint64_t now = c->now_ps(c->clock_ctx);
  /* The next piece of the same transfer (same actor, page, instant,
   * adjacent bytes) continues the violation already counted. */
  int continues = r->count && c->last_rec[prop].pfn == pfn && c->last_rec[prop].end == off &&
                  c->last_rec[prop].time_ps == now && strcmp(c->last_rec[prop].who, who) == 0;
  c->last_rec[prop].pfn = pfn;
  c->last_rec[prop].end = off + len;
  c->last_rec[prop].time_ps = now;
  snprintf(c->last_rec[prop].who, sizeof c->last_rec[prop].who, "%s", who);
  /* Whose bytes: as given, the source's, or those the access lands on. */
  if (!whose)
    whose = src ? src : mem_label(c->m, mem_peek_label_id(c->m, (pfn << MEM_PAGE_SHIFT) + off));
  pair_add(r, who, owner_of(c->pol, whose, mem_page_epoch(c->m, pfn)), !continues, len);
  if (continues) {
    if (r->first.pfn == pfn && r->first.offset + r->first.length == off && r->first.time_ps == now) {
      r->first.length += len;
      render_bytes(c->first_tmpl[prop], r->first.length, r->first.explanation, sizeof r->first.explanation);
      if (src && spans_kinds(&r->first, &r->first_lab, src->prov.kind))
        snprintf(r->first.kind, sizeof r->first.kind, "%s", "packet");
    }
    return;
  }
  c->total++;
  if (r->has_first)
    return;
  r->has_first = 1;
  struct checker_violation *v = &r->first;
  memset(v, 0, sizeof *v);
  v->time_ps = c->now_ps(c->clock_ctx);
  v->principal = principal;
  snprintf(v->who, sizeof v->who, "%s", who);
  v->pfn = pfn;
  v->offset = off;
  v->length = len;
  v->packet_index = UINT64_MAX;
  snprintf(v->kind, sizeof v->kind, "%s", "none");
  if (src) {
    r->first_lab = *src;
    unsigned k = src->prov.kind;
    snprintf(v->kind, sizeof v->kind, "%s", mem_label_kind_key(k));
    if (is_packet(k)) {
      v->packet_index = src->prov.packet;
      if (c->pol->flow_name)
        c->pol->flow_name(c->pol->flow_name_ctx, src->prov.flow, v->flow, sizeof v->flow);
    }
  }
  snprintf(c->first_tmpl[prop], sizeof c->first_tmpl[prop], "%s", text);
  render_bytes(text, len, v->explanation, sizeof v->explanation);
}

struct kernel_scan {
  const struct mem *m;
  uint16_t rid;
  int device;       /* 1: count only bytes outside the device's grants */
  uint32_t bytes;   /* live kernel-private bytes that would be overwritten */
  uint64_t first_paddr;
  uint32_t first_id;
  struct mem_label first_lab;
};

static void kernel_run(void *vctx, uint64_t paddr, uint32_t len, uint32_t id) {
  struct kernel_scan *k = vctx;
  if (id == MEM_LABEL_ID_ZERO)
    return;
  struct mem *mm = (struct mem *)k->m;
  const struct mem_label *lab = mem_label(mm, id);
  if (!is_kernel(lab->prov.kind))
    return;
  /* Only live kernel data counts (the kernel will read it again); a device
   * write inside its grants is its own to make. */
  uint32_t n = k->device ? mem_mark_covered_but(k->m, MEM_MARK_LIVE, 0, MEM_MARK_GRANT, k->rid, paddr, len)
                         : mem_mark_covered(k->m, MEM_MARK_LIVE, 0, paddr, len);
  if (n && !k->bytes) {
    k->first_paddr = paddr;
    k->first_id = id;
    k->first_lab = *lab;
  }
  k->bytes += n;
}

static void fmt_device(uint16_t rid, char *buf, size_t n) {
  snprintf(buf, n, "device %02x:%02x.%x", (rid >> 8) & 0xff, (rid >> 3) & 0x1f, rid & 7);
}

/* The explanation of a violation is only kept for its first occurrence
 * (record() ignores the text otherwise), and a device or kernel write that is
 * no violation needs no text at all: format only what will be kept. */
static int wants_text(const struct checker *c, int prop) { return !c->res[prop].has_first; }

/* A write after unmap, as a chain of events: the IOVA the device used, when
 * the kernel dropped the page's last DMA mapping, and what let the write
 * through (a stale IOTLB entry, or no translation at all). */
static void unmap_text(struct checker *c, uint16_t rid, uint64_t pfn, uint32_t off, const char *tn,
                       const char *who, char *text, size_t n) {
  struct checker_dma_info di;
  int known = c->dma_fn && c->dma_fn(c->dma_ctx, rid, &di) == 0;
  char iova[48] = "", when[160];
  if (known)
    snprintf(iova, sizeof iova, " to IOVA 0x%" PRIx64 ",", di.iova);
  if (pfn < c->unmap_pages && c->unmap_ps[pfn]) {
    char tu[48];
    fmt_time(c->unmap_ps[pfn] - 1, tu, sizeof tu);
    snprintf(when, sizeof when, "the kernel had unmapped it for DMA at %s (its DMA API dropped the "
             "page's last mapping)", tu);
  } else {
    snprintf(when, sizeof when, "the kernel had not mapped it for DMA");
  }
  const char *through = !known ? "the write got through the IOMMU"
                        : di.untranslated ? "no translation stopped it: the IOMMU was in passthrough or off, "
                                            "so the IOVA was used as the physical address"
                        : di.stale ? "a stale IOTLB entry let it through: the unmap's IOTLB invalidation was "
                                     "still waiting in the flush queue (lazy mode)"
                                   : "the IOMMU translated it through a current mapping";
  snprintf(text, n, "At %s the %s wrote {bytes} bytes%s into page 0x%" PRIx64 " at offset %u, but %s; %s.",
           tn, who, iova, pfn, off, when, through);
}

static void on_dma(void *ctx, struct mem *m, uint64_t pfn, uint16_t rid, uint32_t refs) {
  (void)rid;
  struct checker *c = ctx;
  if (refs)
    return;
  if (!c->unmap_ps) {
    c->unmap_pages = mem_pages(m);
    c->unmap_ps = calloc(c->unmap_pages ? c->unmap_pages : 1, sizeof *c->unmap_ps);
    if (!c->unmap_ps) {
      c->unmap_pages = 0;
      return; /* the texts then say less, the counts are the same */
    }
  }
  if (pfn < c->unmap_pages)
    c->unmap_ps[pfn] = c->now_ps(c->clock_ctx) + 1; /* time + 1: 0 stays "never" */
}

static void on_before_write(void *ctx, struct mem *m, const struct mem_access *a) {
  struct checker *c = ctx;
  uint64_t pfn = a->paddr >> MEM_PAGE_SHIFT;
  uint32_t off = (uint32_t)(a->paddr & (MEM_PAGE_SIZE - 1));
  char tn[48], text[1024], who[48]; /* text: only formatted when kept */
  tn[0] = text[0] = 0;
  if (a->who.actor == MEM_ACTOR_DEVICE) {
    uint16_t rid = a->who.id;
    uint32_t granted = mem_mark_covered(m, MEM_MARK_GRANT, rid, a->paddr, a->len);
    int unmapped = mem_page_dma_refs(m, pfn) == 0;
    if (granted == a->len && !unmapped)
      return; /* the usual case: a write into a granted, mapped buffer */
    fmt_time(c->now_ps(c->clock_ctx), tn, sizeof tn);
    fmt_device(rid, who, sizeof who);
    if (granted < a->len) {
      if (wants_text(c, PROP_DEVICE_WRITE_OUTSIDE_GRANT))
        snprintf(text, sizeof text,
                 "At %s the %s wrote into page 0x%" PRIx64 " from offset %u {bytes} bytes outside every "
                 "buffer a posted descriptor or ring grants it.", tn, who, pfn, off);
      /* Whose bytes: those of the first byte outside every grant, found by
       * halving: the first lo bytes are covered, the first hi are not. */
      uint32_t lo = 0, hi = a->len;
      while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (mem_mark_covered(m, MEM_MARK_GRANT, rid, a->paddr, mid) == mid)
          lo = mid;
        else
          hi = mid;
      }
      uint64_t outside = a->paddr + lo;
      record_owned(c, PROP_DEVICE_WRITE_OUTSIDE_GRANT, who, 0, pfn, off, a->len - granted, NULL,
                   mem_label(m, mem_peek_label_id(m, outside)), text);
    }
    if (unmapped) {
      if (wants_text(c, PROP_DEVICE_WRITE_AFTER_UNMAP))
        unmap_text(c, rid, pfn, off, tn, who, text, sizeof text);
      const struct mem_label *old = mem_label(m, mem_peek_label_id(m, a->paddr));
      record(c, PROP_DEVICE_WRITE_AFTER_UNMAP, who, 0, pfn, off, a->len, old, text);
    }
    if (granted < a->len) {
      struct kernel_scan k = {.m = m, .rid = rid, .device = 1};
      mem_label_runs(m, a->paddr, a->len, kernel_run, &k);
      if (k.bytes) {
        if (wants_text(c, PROP_KERNEL_DATA_TAMPER))
          snprintf(text, sizeof text,
                   "At %s the %s overwrote {bytes} bytes of %s in page 0x%" PRIx64 " at offset %u, which the "
                   "kernel had written at %.3f us, never granted to the device, and still uses.", tn, who,
                   checker_kind_name(k.first_lab.prov.kind), pfn,
                   (uint32_t)(k.first_paddr & (MEM_PAGE_SIZE - 1)), (double)k.first_lab.time_ps / 1e6);
        record(c, PROP_KERNEL_DATA_TAMPER, who, 0, pfn, (uint32_t)(k.first_paddr & (MEM_PAGE_SIZE - 1)),
               k.bytes, &k.first_lab, text);
      }
    }
    return;
  }
  if (a->who.actor != MEM_ACTOR_USER)
    return;
  unsigned p = a->who.id;
  const char *pname = p < c->pol->nprincipals ? c->pol->names[p] : "?";
  snprintf(who, sizeof who, "%s", pname);
  fmt_time(c->now_ps(c->clock_ctx), tn, sizeof tn);
  struct kernel_scan k = {.m = m, .device = 0};
  mem_label_runs(m, a->paddr, a->len, kernel_run, &k);
  if (k.bytes) {
    if (wants_text(c, PROP_KERNEL_DATA_TAMPER))
      snprintf(text, sizeof text,
               "At %s principal '%s' wrote over {bytes} bytes of %s in page 0x%" PRIx64 " at offset %u through "
               "its read-write mapping, while the kernel still uses them; kernel-private data is no userspace "
               "principal's to change.", tn,
               pname, checker_kind_name(k.first_lab.prov.kind), pfn,
               (uint32_t)(k.first_paddr & (MEM_PAGE_SIZE - 1)));
    record(c, PROP_KERNEL_DATA_TAMPER, who, p, pfn, (uint32_t)(k.first_paddr & (MEM_PAGE_SIZE - 1)),
           k.bytes, &k.first_lab, text);
  }
  uint32_t v = mem_mark_covered(m, MEM_MARK_VALIDATED, 0, a->paddr, a->len);
  if (v) {
    const struct mem_label *old = mem_label(m, mem_peek_label_id(m, a->paddr));
    if (wants_text(c, PROP_USER_WRITE_AFTER_VALIDATION)) {
      char flow[96] = "";
      if (is_packet(old->prov.kind) && c->pol->flow_name)
        c->pol->flow_name(c->pol->flow_name_ctx, old->prov.flow, flow, sizeof flow);
      snprintf(text, sizeof text,
               "At %s principal '%s' changed {bytes} bytes of packet %" PRIu64 " (flow %s) in page 0x%" PRIx64
               " at offset %u through its read-write mapping, after the kernel had validated them and "
               "while it still used them: what the stack checked is not what it will consume.", tn, pname,
               old->prov.packet, flow, pfn, off);
    }
    record(c, PROP_USER_WRITE_AFTER_VALIDATION, who, p, pfn, off, v, old, text);
  }
}

/* ---- device reads and the wire ---- */

static void wire_record(void *vctx, uint64_t paddr, uint32_t len, uint32_t id) {
  struct checker *c = ((void **)vctx)[0];
  const struct mem_access *a = ((void **)vctx)[1];
  uint32_t slot;
  if (c->wire_n == WIRE_RUNS) {
    slot = c->wire_first;
    c->wire_first = (c->wire_first + 1) % WIRE_RUNS;
  } else {
    slot = (c->wire_first + c->wire_n++) % WIRE_RUNS;
  }
  struct wire_run *w = &c->wire[slot];
  w->rid = a->who.id;
  w->len = len;
  w->pfn = paddr >> MEM_PAGE_SHIFT;
  w->off = (uint32_t)(paddr & (MEM_PAGE_SIZE - 1));
  w->page_epoch = mem_page_epoch(c->m, w->pfn);
  w->lab = *mem_label(c->m, id);
}

/* A device read: inside what the kernel granted, from a page still mapped?
 * (Linux: the DMA API's contract, Documentation/core-api/dma-api-howto.rst:
 * the device may touch a buffer only between dma_map_* and dma_unmap_*.) */
static void device_read(struct checker *c, struct mem *m, const struct mem_access *a) {
  uint64_t pfn = a->paddr >> MEM_PAGE_SHIFT;
  uint32_t off = (uint32_t)(a->paddr & (MEM_PAGE_SIZE - 1));
  uint16_t rid = a->who.id;
  if (c->wire) {
    void *ctx[2] = {c, (void *)a};
    mem_label_runs(m, a->paddr, a->len, wire_record, ctx);
  }
  uint32_t granted = mem_mark_covered_readable(m, rid, a->paddr, a->len);
  int unmapped = mem_page_dma_refs(m, pfn) == 0;
  if (granted == a->len && !unmapped)
    return;
  char tn[48], who[48], text[1024];
  text[0] = 0;
  fmt_time(c->now_ps(c->clock_ctx), tn, sizeof tn);
  fmt_device(rid, who, sizeof who);
  const struct mem_label *lab = mem_label(m, mem_peek_label_id(m, a->paddr));
  if (granted < a->len) {
    if (wants_text(c, PROP_DEVICE_READ_OUTSIDE_GRANT))
      snprintf(text, sizeof text,
               "At %s the %s read %u bytes from page 0x%" PRIx64 " at offset %u, %u of them outside every "
               "buffer a posted descriptor or ring grants it; the first of them are %s.", tn, who, a->len,
               pfn, off, a->len - granted, checker_kind_name(lab->prov.kind));
    record(c, PROP_DEVICE_READ_OUTSIDE_GRANT, who, 0, pfn, off, a->len - granted, lab, text);
  }
  if (unmapped) {
    if (wants_text(c, PROP_DEVICE_READ_AFTER_UNMAP))
      snprintf(text, sizeof text,
               "At %s the %s read %u bytes from page 0x%" PRIx64 " at offset %u, but the kernel had already "
               "unmapped or freed that page for DMA (no DMA mapping of it is left); the read got through the "
               "IOMMU (%s). The page now holds %s.", tn, who, a->len, pfn, off,
               "a stale IOTLB entry, or no translation enforced", checker_kind_name(lab->prov.kind));
    record(c, PROP_DEVICE_READ_AFTER_UNMAP, who, 0, pfn, off, a->len, lab, text);
  }
}

void checker_wire_enable(struct checker *c) {
  if (!c->wire)
    c->wire = calloc(WIRE_RUNS, sizeof *c->wire);
}

/* Whose bytes a run holds, for a sender: "" when it is entitled to them. */
static void wire_owner(const struct checker *c, const struct wire_run *w, char *buf, size_t n) {
  unsigned k = w->lab.prov.kind;
  if (is_kernel(k))
    snprintf(buf, n, "kernel");
  else if (w->lab.epoch != w->page_epoch)
    snprintf(buf, n, "stale");
  else if (k == MEM_LABEL_USER)
    snprintf(buf, n, "%s", w->lab.prov.principal < c->pol->nprincipals ? c->pol->names[w->lab.prov.principal] : "?");
  else
    snprintf(buf, n, "%s", c->pol->names[flow_owner(c->pol, w->lab.prov.flow)]);
}

uint32_t checker_wire_frame(struct checker *c, uint16_t rid, unsigned sender, uint32_t len, uint64_t packet) {
  if (!c->wire || sender >= c->pol->nprincipals)
    return 0;
  /* The frame is the device's last len bytes read (after its descriptors). */
  uint32_t start = c->wire_n, have = 0;
  while (start > 0 && have < len) {
    const struct wire_run *w = &c->wire[(c->wire_first + start - 1) % WIRE_RUNS];
    if (w->rid != rid)
      break;
    have += w->len;
    start--;
  }
  uint32_t skip = have > len ? have - len : 0, leaked = 0, pos = 0;
  int first = -1;
  struct checker_result *r = &c->res[PROP_WIRE_LEAK];
  uint32_t first_pos = 0, first_len = 0;
  for (uint32_t i = start; i < c->wire_n; i++) {
    const struct wire_run *w = &c->wire[(c->wire_first + i) % WIRE_RUNS];
    uint32_t l = w->len;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    l -= skip;
    skip = 0;
    if (w->lab.prov.kind != MEM_LABEL_ZERO && !entitled(c->pol, sender, &w->lab)) {
      /* The frame counts once, to the pair of its first bytes not the
       * sender's; each run's bytes to the pair of whose they are. */
      char owner[48];
      wire_owner(c, w, owner, sizeof owner);
      pair_add(r, c->pol->names[sender], owner, first < 0, l);
      if (first < 0) {
        first = (int)i;
        first_pos = pos;
      }
      if (first_pos + first_len == pos)
        first_len += l;
      leaked += l;
    }
    pos += l;
  }
  const struct wire_run *w = first >= 0 ? &c->wire[(c->wire_first + (uint32_t)first) % WIRE_RUNS] : NULL;
  c->wire_n = 0; /* everything before belongs to earlier frames or descriptors */
  if (!w)
    return 0;
  c->total++;
  if (!r->has_first) {
    char who[48], owner[48], tn[48], tw[48], by[96], what[256];
    fmt_device(rid, who, sizeof who);
    wire_owner(c, w, owner, sizeof owner);
    fmt_time(c->now_ps(c->clock_ctx), tn, sizeof tn);
    fmt_time(w->lab.time_ps, tw, sizeof tw);
    fmt_accessor(c->pol, w->lab.writer, by, sizeof by);
    struct checker_violation *v = &r->first;
    memset(v, 0, sizeof *v);
    r->has_first = 1;
    r->first_lab = w->lab;
    unsigned k = w->lab.prov.kind;
    if (is_packet(k)) {
      if (c->pol->flow_name)
        c->pol->flow_name(c->pol->flow_name_ctx, w->lab.prov.flow, v->flow, sizeof v->flow);
      snprintf(what, sizeof what, "bytes of packet %" PRIu64 " of flow %s", w->lab.prov.packet, v->flow);
    } else {
      snprintf(what, sizeof what, "%s", checker_kind_name(k));
    }
    const char *why = strcmp(owner, "kernel") == 0 ? "kernel-private bytes are no principal's to send"
                      : strcmp(owner, "stale") == 0 ? "they are left over from an earlier use of the page"
                                                     : "they are another principal's data";
    snprintf(v->explanation, sizeof v->explanation,
             "At %s the %s transmitted packet %" PRIu64 " sent by principal '%s': %u of its %u bytes are not "
             "the sender's to send, the first %u at frame offset %u: %s, written by %s at %s into page 0x%" PRIx64
             " at offset %u (epoch %" PRIu64 "; the page was in epoch %" PRIu64 " when the device read it). "
             "Not entitled (%s): %s.", tn, who, packet, c->pol->names[sender], leaked, len, first_len, first_pos,
             what, by, tw, w->pfn, w->off, w->lab.epoch, w->page_epoch, owner, why);
    v->time_ps = c->now_ps(c->clock_ctx);
    v->principal = sender;
    snprintf(v->who, sizeof v->who, "%s", c->pol->names[sender]);
    v->pfn = w->pfn;
    v->offset = w->off;
    v->length = first_len;
    v->packet_index = packet;
    snprintf(v->kind, sizeof v->kind, "%s", mem_label_kind_key(k));
  }
  return leaked;
}

void checker_note_drop(struct checker *c, unsigned queue, uint32_t flow, uint64_t packet,
                       uint32_t bytes, int pool_empty) {
  if (!pool_empty)
    return; /* the ring ran dry for another reason (a slow core) */
  unsigned owner = flow_owner(c->pol, flow);
  /* The principal holding the most pages is the one starving the queue. */
  unsigned worst = 0;
  uint64_t most = 0;
  for (unsigned p = 0; p < c->pol->nprincipals; p++)
    if (mem_pages_held(c->m, p) > most) {
      most = mem_pages_held(c->m, p);
      worst = p;
    }
  if (most == 0 || worst == owner)
    return;
  char tn[48], flowname[96] = "", text[1024];
  fmt_time(c->now_ps(c->clock_ctx), tn, sizeof tn);
  if (c->pol->flow_name)
    c->pol->flow_name(c->pol->flow_name_ctx, flow, flowname, sizeof flowname);
  snprintf(text, sizeof text,
           "At %s packet %" PRIu64 " of flow %s (owned by '%s') was dropped on queue %u: no descriptor "
           "was posted because the queue's page pool was empty, while principal '%s' held %" PRIu64
           " pages it had not returned.", tn, packet, flowname, c->pol->names[owner], queue,
           c->pol->names[worst], most);
  struct mem_label src;
  memset(&src, 0, sizeof src);
  src.prov.kind = MEM_LABEL_PKT_PAYLOAD;
  src.prov.flow = flow;
  src.prov.packet = packet;
  record(c, PROP_POOL_EXHAUSTION, c->pol->names[worst], worst, 0, 0, bytes, &src, text);
  snprintf(c->res[PROP_POOL_EXHAUSTION].first.kind, sizeof c->res[0].first.kind, "%s", "dropped_frame");
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
  struct mem_observer obs = {.ctx = c, .before_write = on_before_write, .access = on_access, .map = on_map,
                             .dma = on_dma};
  if (mem_add_observer(m, &obs)) {
    free(c);
    return NULL;
  }
  return c;
}

void checker_set_exposure_cb(struct checker *c, checker_exposure_fn fn, void *ctx) {
  if (!c->pend)
    c->pend = calloc(c->pol->nprincipals ? c->pol->nprincipals : 1, sizeof *c->pend);
  c->expo_fn = c->pend ? fn : NULL;
  c->expo_ctx = ctx;
}

void checker_flush(struct checker *c) {
  for (unsigned p = 0; c->pend && p < c->pol->nprincipals; p++)
    if (c->pend[p].active) {
      c->pend[p].active = 0;
      if (c->expo_fn)
        c->expo_fn(c->expo_ctx, p, c->pend[p].paddr, c->pend[p].data, c->pend[p].len, c->pend[p].time_ps);
    }
}

void checker_set_dma_info(struct checker *c, checker_dma_info_fn fn, void *ctx) {
  c->dma_fn = fn;
  c->dma_ctx = ctx;
}

void checker_free(struct checker *c) {
  if (c) {
    free(c->pend);
    free(c->unmap_ps);
    free(c->wire);
  }
  free(c);
}

const struct checker_result *checker_result(const struct checker *c, enum checker_property p) {
  return &c->res[p];
}

uint64_t checker_total(const struct checker *c) { return c->total; }
const uint64_t *checker_total_signal(const struct checker *c) { return &c->total; }
