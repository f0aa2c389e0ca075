/*
 * tenancy.c: the principals, the trace's flows and their owners (tenancy.h).
 */
#include "tenancy.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spill.h"
#include "system.h"

#define MAX_STEER_RULES 1024u /* ntuple rules per principal */

void tenancy_flow_name(void *ctx, uint32_t flow, char *buf, size_t n) {
  struct tenancy *tn = ctx;
  const struct flow_stats *fs = flow < flow_table_count(tn->ft) ? flow_table_get(tn->ft, flow) : NULL;
  if (fs)
    flow_key_format(&fs->key, buf, n);
  else if (flow == UINT32_MAX) /* the frame parsed as no flow (not IP: ARP, LLDP...) */
    snprintf(buf, n, "none (the frame parses as no flow)");
  else if (flow == tn->evicted_flow)
    snprintf(buf, n, "a flow evicted from the flow table (trace.max_flows)");
  else
    snprintf(buf, n, "flow %u", flow);
}

uint32_t tenancy_lookup(const struct tenancy *tn, const struct flow_parse *fp, const uint64_t *hash) {
  uint32_t id = flow_table_find_hashed(tn->ft, &fp->key, hash);
  if (id == UINT32_MAX && fp->key.af != FLOW_AF_NONE && tn->evicted_flow != UINT32_MAX)
    id = tn->evicted_flow;
  return id;
}

int tenancy_replay_flow(struct tenancy *tn, uint32_t *flow) {
  if (!tn->flows_log)
    return 0;
  if (spill_get(tn->flows_log, flow))
    return 1;
  spill_free(tn->flows_log); /* read to its end: the rest are looked up */
  tn->flows_log = NULL;
  return 0;
}

#define CLS_MEMO_BITS 10
#define CLS_MEMO_BYTES 128u

/* A classified frame (see tenancy_classify). */
struct tenancy_memo {
  uint32_t len; /* 0: empty */
  struct driver_pkt pk;
  uint8_t bytes[CLS_MEMO_BYTES];
};

/* The receiving socket of a 5-tuple: FNV-1a over af, proto, src, dst,
 * sport, dport (as stored: 38 bytes). FNV-1a is a chain of 38 dependent
 * multiplies, computed for every frame fed; a small memo of the tuples
 * hashed lately, found by a cheap mix of their words and checked word for
 * word, answers most frames with the same number. */
#define SOCK_MEMO_BITS 10
#define SOCK_TUPLE_BYTES 38u
struct sock_memo {
  uint64_t w[5];  /* the tuple's bytes, zero-padded to 40; all ones: empty */
  uint32_t sock;
};

static uint32_t sock_of(struct sock_memo *memo, const struct flow_key *k) {
  union {
    uint8_t b[40];
    uint64_t w[5];
  } t;
  t.w[4] = 0;
  t.b[0] = k->af;
  t.b[1] = k->proto;
  memcpy(t.b + 2, k->src, 16);
  memcpy(t.b + 18, k->dst, 16);
  memcpy(t.b + 34, &k->sport, 2);
  memcpy(t.b + 36, &k->dport, 2);
  struct sock_memo *e = NULL;
  if (memo) {
    uint64_t x = (t.w[0] ^ t.w[1] * 0x9e3779b97f4a7c15ull ^ t.w[2] ^ t.w[3] * 0xbf58476d1ce4e5b9ull ^ t.w[4]) *
                 0x94d049bb133111ebull;
    e = &memo[x >> (64 - SOCK_MEMO_BITS)];
    if (e->w[0] == t.w[0] && e->w[1] == t.w[1] && e->w[2] == t.w[2] && e->w[3] == t.w[3] && e->w[4] == t.w[4])
      return e->sock;
  }
  uint32_t h = 2166136261u;
#pragma GCC unroll 38
  for (size_t i = 0; i < SOCK_TUPLE_BYTES; i++)
    h = (h ^ t.b[i]) * 16777619u;
  if (e) {
    memcpy(e->w, t.w, sizeof e->w);
    e->sock = h;
  }
  return h;
}

/* The stack's view of a parsed frame whose flow is id: whose socket, where
 * the payload starts. */
static void classify_parsed(const struct tenancy *tn, const struct flow_parse *fp, uint32_t id,
                            struct driver_pkt *out) {
  out->flow = id;
  out->key = fp->key;
  out->has_key = 1;
  out->hdr_len = fp->payload_offset;
  out->to_kernel = fp->key.af == FLOW_AF_NONE || id == UINT32_MAX;
  out->owner = id < flow_table_count(tn->ft) ? tn->owner[id] : PRINCIPAL_OTHER;
  out->sock = sock_of(tn->sock_memo, &fp->key); /* one receiving socket per 5-tuple */
}

/* The stack classifies the bytes the NIC placed, which are the fed frame's
 * unless something changed them on the way. A memo of the frames fed
 * lately, found by a hash of their bytes, spares parsing a frame twice: an
 * entry answers only a frame of the same length and the same bytes, so it
 * gives what parsing would. Frames longer than CLS_MEMO_BYTES are left out
 * (the stack parses only a long frame's first bytes: another input). */
static uint32_t cls_memo_slot(const uint8_t *b, uint32_t len) {
  uint64_t h = len;
  uint32_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  }
  uint64_t w = 0;
  memcpy(&w, b + i, len - i);
  h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> (64 - CLS_MEMO_BITS));
}

const struct driver_pkt *tenancy_fed(struct tenancy *tn, const uint8_t *frame, uint32_t len,
                                     const struct flow_parse *fp, uint32_t flow) {
  if (!tn->memo || len > CLS_MEMO_BYTES)
    return NULL;
  struct tenancy_memo *e = &tn->memo[cls_memo_slot(frame, len)];
  e->len = len;
  classify_parsed(tn, fp, flow, &e->pk);
  memcpy(e->bytes, frame, len);
  return &e->pk;
}

/* The stack's view of a frame: which flow, whose socket, where the payload starts. */
int tenancy_classify(void *ctx, const uint8_t *frame, uint32_t len, struct driver_pkt *out) {
  struct tenancy *tn = ctx;
  if (tn->memo && len <= CLS_MEMO_BYTES && len) {
    const struct tenancy_memo *e = &tn->memo[cls_memo_slot(frame, len)];
    if (e->len == len && memcmp(e->bytes, frame, len) == 0) {
      *out = e->pk;
      return 0;
    }
  }
  struct flow_parse fp;
  if (flow_parse(frame, len, &fp))
    return -1;
  classify_parsed(tn, &fp, tenancy_lookup(tn, &fp, NULL), out);
  return 0;
}

unsigned tenancy_principal_id(const struct policy *pol, const char *name) {
  for (unsigned p = 0; p < pol->nprincipals; p++)
    if (strcmp(pol->names[p], name) == 0)
      return p;
  return UINT_MAX;
}

/* The policy's principals by id: app (0), other (1), then the scenario's list, with
 * their capabilities; the report's list of them; every fault that names a
 * principal names one of them. */
static int principals_setup(struct tenancy *tn, struct replay_result *res, char *err, size_t errlen) {
  const struct config *c = tn->c;
  static const char *const deliveries[] = {"copy", "zero_copy", "af_xdp", "zcrx"};
  tn->pol.nprincipals = PRINCIPAL_FIRST_LISTED + c->nprincipals;
  snprintf(tn->pol.names[PRINCIPAL_APP], sizeof tn->pol.names[0], "app");
  snprintf(tn->pol.names[PRINCIPAL_OTHER], sizeof tn->pol.names[0], "other");
  tn->pol.caps[PRINCIPAL_APP] = c->app_caps;
  res->principals[PRINCIPAL_APP].delivery = deliveries[c->app_delivery & 3];
  res->principals[PRINCIPAL_OTHER].delivery = deliveries[CFG_DELIVERY_COPY];
  for (unsigned i = 0; i < c->nprincipals; i++) {
    unsigned p = PRINCIPAL_FIRST_LISTED + i;
    snprintf(tn->pol.names[p], sizeof tn->pol.names[0], "%s", c->principals[i].name);
    tn->pol.caps[p] = c->principals[i].caps;
    res->principals[p].delivery = deliveries[c->principals[i].delivery & 3];
  }
  res->nprincipals = tn->pol.nprincipals;
  for (unsigned p = 0; p < tn->pol.nprincipals; p++)
    snprintf(res->principals[p].name, sizeof res->principals[p].name, "%s", tn->pol.names[p]);
  for (unsigned i = 0; i < tn->nfaults; i++) {
    const struct fault *f = &tn->faults[i];
    if ((f->kind == FAULT_USER_WRITE || f->kind == FAULT_USER_HOARD) &&
        tenancy_principal_id(&tn->pol, f->principal) == UINT_MAX) {
      char names[SYSTEM_MAX_PRINCIPALS * (CFG_PRINCIPAL_NAME_MAX + 2)] = "";
      for (unsigned p = 0; p < tn->pol.nprincipals; p++) {
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", p ? ", " : "", tn->pol.names[p]);
      }
      snprintf(err, errlen, "%s: principal '%s' is not one of the scenario's principals (%s)", f->spec,
               f->principal, names);
      return -1;
    }
  }
  return 0;
}

/* The owners' filters, in the order they claim flows: app.owns (when set),
 * then each listed principal's owns. NULL entries match nothing. */
static int owners_filters(struct tenancy *tn, struct trace_filter **flt, char *err, size_t errlen) {
  const struct config *c = tn->c;
  for (unsigned p = 0; p < tn->pol.nprincipals; p++) {
    const char *expr = p == PRINCIPAL_APP ? c->app_owns : p >= PRINCIPAL_FIRST_LISTED
                                                              ? c->principals[p - PRINCIPAL_FIRST_LISTED].owns : "";
    if (!expr[0])
      continue;
    char ferr[512];
    flt[p] = trace_filter_new(trace_linktype(tn->t), expr, ferr, sizeof ferr);
    if (!flt[p]) {
      /* trace_filter_new's message names app.owns: name the key it came from. */
      if (p != PRINCIPAL_APP && strncmp(ferr, "app.owns: ", 10) == 0)
        snprintf(err, errlen, "principals.%u.owns: %s", p - PRINCIPAL_FIRST_LISTED, ferr + 10);
      else
        snprintf(err, errlen, "%s", ferr);
      return -1;
    }
  }
  return 0;
}

/* First pass: flows and ownership. A flow belongs to the first principal
 * whose filter matches one of its frames, app first, then the listed
 * principals in order; app without app.owns takes the flow with the most
 * bytes; "other" owns the rest. claim[flow] is 0 (nobody yet) or the owner's
 * principal id + 1 where a lower claim wins (app: 1, listed principal i: i + 3). */
static unsigned claim_rank(unsigned principal) { return principal == PRINCIPAL_APP ? 1 : principal + 1; }

/* The flow of the next record in the first pass's log (tenancy_replay_flow).
 * A log that cannot be written is dropped; so is one that would go to a
 * file while the flow table's memo answers nearly every lookup (few flows,
 * or a few carrying most frames): then a lookup costs less than the file. */
static void log_flow(struct tenancy *tn, uint32_t id) {
  if (!tn->flows_log)
    return;
  if ((spill_count(tn->flows_log) == SPILL_MEMORY_NUMBERS - 1 && !flow_table_memo_misses_often(tn->ft)) ||
      spill_put(tn->flows_log, id)) {
    spill_free(tn->flows_log);
    tn->flows_log = NULL;
  }
}

/* One frame of the first pass into the flow table, the claims and the log:
 * key (its hash from flow_table_prefetch, or NULL; wire bytes, trace index)
 * seen in record r, which is given when a principal's filter may have to
 * look at it. 0, or -1 with err set. */
static int prepass_add(struct tenancy *tn, struct trace_filter *const *flt, uint8_t **claim, size_t *cap,
                       const struct flow_key *key, const uint64_t *hash, uint32_t wire, uint64_t index,
                       const struct trace_record *r, char *err, size_t errlen) {
  uint32_t id = flow_table_add_hashed(tn->ft, key, wire, index, hash);
  log_flow(tn, id);
  if (id == UINT32_MAX) {
    if (flow_table_untracked(tn->ft))
      snprintf(err, errlen, "trace.max_flows: the application owns all %u flows the flow table keeps "
               "(app.owns) and record %llu starts another; allowed: 16..16777216, raise it",
               tn->c->trace_max_flows, (unsigned long long)index);
    else
      snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (id >= *cap) {
    size_t ncap = *cap * 2;
    while (id >= ncap)
      ncap *= 2;
    uint8_t *n = realloc(*claim, ncap);
    if (!n) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    memset(n + *cap, 0, ncap - *cap);
    *claim = n;
    *cap = ncap;
  }
  for (unsigned p = 0; r && p < tn->pol.nprincipals; p++) {
    unsigned rank = claim_rank(p);
    if (!flt[p] || ((*claim)[id] && (*claim)[id] <= rank) || !trace_filter_match(flt[p], r))
      continue;
    (*claim)[id] = (uint8_t)rank;
    flow_table_pin(tn->ft, id); /* a principal's flow is never evicted */
  }
  return 0;
}

/* Frames of the first pass go into the flow table PREPASS_AHEAD frames after
 * they are read, so that the table's slot and entry for each are fetched
 * into the host's cache meanwhile (flow_table_prefetch: with many flows each
 * lookup is otherwise two cache misses). The order of the adds is the
 * trace's, so the table comes out the same. When a principal has a filter,
 * which must see the record itself, each frame goes in at once. */
#define PREPASS_AHEAD 8u

struct prepass_frame {
  struct flow_key key;
  uint64_t index, hash;
  uint32_t wire;
  int parsed; /* 0: the record parses as no flow (only logged, in its turn) */
  int hinted; /* 1: hash is set (the memo did not know the key) */
};

static int prepass(struct tenancy *tn, struct replay_result *res, char *err, size_t errlen) {
  const struct config *c = tn->c;
  struct trace_filter *flt[SYSTEM_MAX_PRINCIPALS] = {NULL};
  size_t cap = 1024;
  uint8_t *claim = calloc(cap, 1);
  int rc = -1;
  if (!claim) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (owners_filters(tn, flt, err, errlen))
    goto out;
  unsigned ahead = PREPASS_AHEAD;
  for (unsigned p = 0; p < SYSTEM_MAX_PRINCIPALS; p++)
    if (flt[p])
      ahead = 0;
  struct prepass_frame ring[PREPASS_AHEAD];
  unsigned head = 0, queued = 0;
  struct trace_record r;
  int have_first = 0;
  uint64_t flow_packets = 0, flow_bytes = 0;
  for (;;) {
    rc = 0;
    int more = (!tn->limit_frames || res->trace_packets < tn->limit_frames) &&
               (rc = trace_next(tn->t, &r, err, errlen)) == 1;
    /* A stop request ends the pass at once: the run then stops at its
     * first frame, and the report (marked incomplete) counts the frames
     * read so far. */
    if (more && system_stop_requested())
      more = 0;
    if (more) {
      if (!have_first) {
        tn->first_ts_ps = r.ts_ps;
        have_first = 1;
      }
      res->trace_packets++;
      uint32_t wire = r.origlen > r.caplen ? r.origlen : r.caplen;
      res->trace_bytes += wire;
      struct flow_parse fp;
      int parsed = flow_parse(r.data, r.caplen, &fp) == 0;
      if (!parsed && !queued) {
        log_flow(tn, UINT32_MAX);
        continue;
      }
      if (parsed) {
        flow_packets++;
        flow_bytes += wire;
      }
      /* At once when nothing is fetched ahead (a filter needs the record,
       * or few flows: the table's memo answers) and none is waiting. */
      uint64_t hash = 0;
      int hinted = ahead && parsed ? flow_table_prefetch(tn->ft, &fp.key, &hash) : 0;
      if (parsed && !hinted && !queued) {
        if (prepass_add(tn, flt, &claim, &cap, &fp.key, NULL, wire, r.index, &r, err, errlen)) {
          rc = -1;
          goto out;
        }
        continue;
      }
      struct prepass_frame *pf = &ring[(head + queued++) % PREPASS_AHEAD];
      if (parsed)
        pf->key = fp.key;
      pf->index = r.index;
      pf->wire = wire;
      pf->hash = hash;
      pf->parsed = parsed;
      pf->hinted = hinted;
      /* Halfway along, the slot has come: fetch the entry it names. */
      if (queued > PREPASS_AHEAD / 2) {
        const struct prepass_frame *mid = &ring[(head + queued - 1 - PREPASS_AHEAD / 2) % PREPASS_AHEAD];
        if (mid->hinted)
          flow_table_prefetch_entry(tn->ft, mid->hash);
      }
    }
    /* The oldest goes in when the ring is full, and all of them at the end
     * (also after a stop or an error, so that every frame read is counted,
     * as when each went in at once). */
    while (queued && (queued == PREPASS_AHEAD || !more)) {
      const struct prepass_frame *pf = &ring[head];
      if (!pf->parsed)
        log_flow(tn, UINT32_MAX);
      else if (prepass_add(tn, flt, &claim, &cap, &pf->key, pf->hinted ? &pf->hash : NULL, pf->wire, pf->index,
                           NULL, err, errlen)) {
        rc = -1;
        goto out;
      }
      head = (head + 1) % PREPASS_AHEAD;
      queued--;
    }
    if (!more)
      break;
  }
  if (rc < 0)
    goto out;
  uint32_t nflows = flow_table_count(tn->ft);
  tn->owner = calloc(nflows ? nflows : 1, 1);
  if (!tn->owner) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
    goto out;
  }
  uint32_t first_app = UINT32_MAX;
  if (!c->app_owns[0]) {
    first_app = flow_table_top_by_bytes(tn->ft);
    if (first_app != UINT32_MAX)
      claim[first_app] = (uint8_t)claim_rank(PRINCIPAL_APP);
  }
  struct replay_principal *rp = res->principals;
  for (uint32_t i = 0; i < nflows; i++) {
    unsigned owner = claim[i] == 0 ? PRINCIPAL_OTHER : claim[i] == 1 ? PRINCIPAL_APP : claim[i] - 1u;
    tn->owner[i] = (uint8_t)owner;
    if (owner == PRINCIPAL_APP && first_app == UINT32_MAX)
      first_app = i;
    const struct flow_stats *fs = flow_table_get(tn->ft, i);
    rp[owner].flows++;
    rp[owner].packets += fs->packets;
    rp[owner].bytes += fs->bytes;
  }
  /* Frames of evicted flows belong to other too. */
  uint64_t named_packets = 0, named_bytes = 0;
  for (unsigned p = 0; p < tn->pol.nprincipals; p++)
    if (p != PRINCIPAL_OTHER) {
      named_packets += rp[p].packets;
      named_bytes += rp[p].bytes;
    }
  rp[PRINCIPAL_OTHER].packets = flow_packets - named_packets;
  rp[PRINCIPAL_OTHER].bytes = flow_bytes - named_bytes;
  res->flows = nflows;
  res->flows_evicted = flow_table_evicted(tn->ft);
  rp[PRINCIPAL_OTHER].flows += (uint32_t)res->flows_evicted;
  tn->evicted_flow = res->flows_evicted ? nflows : UINT32_MAX;
  if (first_app != UINT32_MAX)
    tenancy_flow_name(tn, first_app, res->app_flow, sizeof res->app_flow);
  else
    snprintf(res->app_flow, sizeof res->app_flow, "none");
  res->trace_stats = *trace_stats(tn->t); /* this pass reads the whole trace (up to limit_frames) */
  rc = trace_rewind(tn->t, err, errlen);
  /* After an eviction an id named one flow, then another: the replay looks
   * every frame up in the final table instead. */
  if (tn->flows_log && (res->flows_evicted || spill_rewind(tn->flows_log))) {
    spill_free(tn->flows_log);
    tn->flows_log = NULL;
  }
out:
  for (unsigned p = 0; p < SYSTEM_MAX_PRINCIPALS; p++)
    trace_filter_free(flt[p]);
  free(claim);
  return rc;
}


void tenancy_steer(const struct tenancy *tn, struct nic *nic) {
  const struct config *c = tn->c;
  for (unsigned p = 0; p < tn->pol.nprincipals; p++) {
    int32_t to = p == PRINCIPAL_APP ? c->nic_steer_app_to
                 : p >= PRINCIPAL_FIRST_LISTED ? c->principals[p - PRINCIPAL_FIRST_LISTED].queue : -1;
    if (to < 0)
      continue;
    unsigned rules = 0;
    for (uint32_t i = 0; i < flow_table_count(tn->ft) && rules < MAX_STEER_RULES; i++)
      if (tn->owner[i] == p) {
        const struct flow_stats *fs = flow_table_get(tn->ft, i);
        if (fs->key.af != FLOW_AF_NONE && !nic_add_rule(nic, &fs->key, (unsigned)to))
          rules++;
      }
  }
}

struct tenancy *tenancy_new(const struct config *c, const struct fault *faults, unsigned nfaults,
                            struct trace *t, uint64_t limit_frames, struct replay_result *res, char *err,
                            size_t errlen) {
  struct tenancy *tn = calloc(1, sizeof *tn);
  if (!tn) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  tn->c = c;
  tn->faults = faults;
  tn->nfaults = nfaults;
  tn->t = t;
  tn->limit_frames = limit_frames;
  tn->evicted_flow = UINT32_MAX;
  tn->memo = calloc(1u << CLS_MEMO_BITS, sizeof *tn->memo); /* NULL: every frame is parsed */
  tn->sock_memo = malloc(sizeof *tn->sock_memo << SOCK_MEMO_BITS); /* NULL: every socket is hashed */
  if (tn->sock_memo) /* all ones: no tuple (its zero padding never is) */
    memset(tn->sock_memo, 0xff, sizeof *tn->sock_memo << SOCK_MEMO_BITS);
  const char *spill = getenv("NICSIM_FLOW_SPILL");
  if (spill && strcmp(spill, "0") != 0 && strcmp(spill, "1") != 0) {
    snprintf(err, errlen, "NICSIM_FLOW_SPILL '%.64s': expected 0 or 1", spill);
    tenancy_free(tn);
    return NULL;
  }
  if (!spill || spill[0] == '1')
    tn->flows_log = spill_new(); /* NULL (out of memory): the replay looks flows up */
  tn->ft = flow_table_new();
  if (!tn->ft) {
    snprintf(err, errlen, "out of memory");
    tenancy_free(tn);
    return NULL;
  }
  flow_table_set_limit(tn->ft, c->trace_max_flows);
  if (principals_setup(tn, res, err, errlen) || prepass(tn, res, err, errlen)) {
    tenancy_free(tn);
    return NULL;
  }
  tn->pol.flow_owner = tn->owner;
  tn->pol.nflows = flow_table_count(tn->ft);
  tn->pol.default_owner = PRINCIPAL_OTHER;
  tn->pol.flow_name = tenancy_flow_name;
  tn->pol.flow_name_ctx = tn;
  return tn;
}

void tenancy_free(struct tenancy *tn) {
  if (!tn)
    return;
  flow_table_free(tn->ft);
  spill_free(tn->flows_log);
  free(tn->sock_memo);
  free(tn->memo);
  free(tn->owner);
  free(tn);
}
