/*
 * report.c: JSON (json-c) and human-readable replay reports.
 */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu.h"
#include "outfile.h"
#include "xdp.h"

const char *report_verdict(const struct replay_result *r) {
  for (int p = 0; p < PROP_COUNT; p++)
    if (r->props[p].count)
      return "unsafe";
  return r->inconclusive[0] ? "inconclusive" : "safe";
}

/* Report names of the CPU cost buckets, in enum cpu_bucket order. */
static const char *const cpu_bucket_names[CPU_NBUCKETS] = {"clear", "copy", "iommu", "skb", "map", "other"};

static json_object *u64(uint64_t v) { return json_object_new_uint64(v); }

static json_object *violation_first(const struct replay_result *r, const struct checker_result *cr) {
  if (!cr->has_first)
    return NULL;
  const struct checker_violation *v = &cr->first;
  json_object *o = json_object_new_object();
  json_object_object_add(o, "time_ps", u64(v->time_ps));
  (void)r;
  json_object_object_add(o, "principal", json_object_new_string(v->who));
  json_object_object_add(o, "page", u64(v->pfn));
  json_object_object_add(o, "offset", u64(v->offset));
  json_object_object_add(o, "length", u64(v->length));
  json_object *src = json_object_new_object();
  json_object_object_add(src, "flow", v->flow[0] ? json_object_new_string(v->flow) : NULL);
  json_object_object_add(src, "packet_index",
                         v->packet_index == UINT64_MAX ? NULL : u64(v->packet_index));
  json_object_object_add(src, "kind", json_object_new_string(v->kind));
  json_object_object_add(o, "source", src);
  json_object_object_add(o, "explanation", json_object_new_string(v->explanation));
  return o;
}

/* [{"principal", "owner", "count", "bytes"}...]: who saw, wrote or sent whose bytes. */
static json_object *by_pair(const struct checker_result *cr) {
  json_object *a = json_object_new_array();
  for (unsigned i = 0; i < cr->npairs; i++) {
    json_object *e = json_object_new_object();
    json_object_object_add(e, "principal", json_object_new_string(cr->pairs[i].principal));
    json_object_object_add(e, "owner", json_object_new_string(cr->pairs[i].owner));
    json_object_object_add(e, "count", u64(cr->pairs[i].count));
    json_object_object_add(e, "bytes", u64(cr->pairs[i].bytes));
    json_object_array_add(a, e);
  }
  return a;
}

/* The principals in list order: app first, the scenario's in order, other
 * last (ids: app 0, other 1, the scenario's from 2). */
static unsigned principal_at(const struct replay_result *r, unsigned i) {
  return i == 0 ? 0u : i + 1 < r->nprincipals ? i + 1 : 1u;
}

/* [{"name", "delivery", "flows", "packets", "bytes"}...]: app, the scenario's, other. */
static json_object *principals(const struct replay_result *r) {
  json_object *a = json_object_new_array();
  for (unsigned i = 0; i < r->nprincipals && i < SYSTEM_MAX_PRINCIPALS; i++) {
    const struct replay_principal *rp = &r->principals[principal_at(r, i)];
    json_object *e = json_object_new_object();
    json_object_object_add(e, "name", json_object_new_string(rp->name));
    json_object_object_add(e, "delivery", json_object_new_string(rp->delivery ? rp->delivery : "copy"));
    json_object_object_add(e, "flows", u64(rp->flows));
    json_object_object_add(e, "packets", u64(rp->packets));
    json_object_object_add(e, "bytes", u64(rp->bytes));
    json_object_array_add(a, e);
  }
  return a;
}

json_object *report_json(const struct replay_opts *o, const struct replay_result *r) {
  json_object *root = json_object_new_object();
  if (!root)
    return NULL;
  json_object_object_add(root, "nicsim_version", json_object_new_string(NICSIM_VERSION_STRING));
  json_object_object_add(root, "design", json_object_new_string(o->design ? o->design : "custom"));
  json_object_object_add(root, "seed", u64(o->seed));

  json_object *t = json_object_new_object();
  json_object_object_add(t, "path", json_object_new_string(o->trace_path));
  json_object_object_add(t, "packets", u64(r->trace_packets));
  if (o->limit_frames) /* --limit N: packets counts the first N frames only */
    json_object_object_add(t, "limit", u64(o->limit_frames));
  json_object_object_add(t, "bytes", u64(r->trace_bytes));
  json_object_object_add(t, "linktype", json_object_new_string(r->linktype));
  json_object_object_add(t, "flows", u64(r->flows));
  json_object_object_add(t, "flows_evicted", u64(r->flows_evicted));
  json_object_object_add(t, "app_flow", json_object_new_string(r->app_flow));
  const struct trace_stats *ts = &r->trace_stats;
  json_object_object_add(t, "records", u64(ts->records));
  json_object_object_add(t, "converted", u64(ts->converted));
  json_object_object_add(t, "skipped_unsupported", u64(ts->skipped_unsupported));
  json_object_object_add(t, "truncated_packets", u64(ts->truncated_packets));
  json_object_object_add(t, "uncaptured_bytes", u64(ts->uncaptured_bytes));
  json_object_object_add(t, "origlen_zero", u64(ts->origlen_zero));
  json_object_object_add(t, "zero_length", u64(ts->zero_length));
  json_object_object_add(t, "origlen_short", u64(ts->origlen_short));
  json_object_object_add(t, "ts_backwards", u64(ts->ts_backwards));
  json_object_object_add(t, "ts_out_of_range", u64(ts->ts_out_of_range));
  json_object_object_add(root, "trace", t);

  json_object *cfg = json_object_new_object();
  for (size_t i = 0; i < config_key_count(); i++) {
    char buf[3 * CFG_XDP_RULES_MAX];
    config_key_json(&o->cfg, i, buf, sizeof buf);
    json_object_object_add(cfg, config_key_name(i), json_tokener_parse(buf));
  }
  json_object_object_add(root, "config", cfg);

  json_object *sim = json_object_new_object();
  json_object_object_add(sim, "sim_time_ps", u64(r->sim_time_ps));
  json_object_object_add(sim, "events", u64(r->events));
  json_object_object_add(root, "sim", sim);

  json_object *nic = json_object_new_object();
  json_object_object_add(nic, "rx_packets", u64(r->rx_packets));
  json_object_object_add(nic, "rx_bytes", u64(r->rx_bytes));
  json_object_object_add(nic, "rx_dropped", u64(r->rx_dropped));
  json_object_object_add(nic, "dma_write_faults", u64(r->dma_write_faults));
  json_object_object_add(nic, "bad_register_writes", u64(r->bad_register_writes));
  json_object *pq = json_object_new_array();
  for (uint32_t q = 0; q < r->queues && q < REPORT_MAX_QUEUES; q++) {
    const struct nic_queue_stats *rq = &r->q[q];
    json_object *e = json_object_new_object();
    json_object_object_add(e, "queue", u64(q));
    json_object_object_add(e, "rx_packets", u64(rq->rx_packets));
    json_object_object_add(e, "rx_dropped", u64(rq->rx_dropped));
    json_object_object_add(e, "rx_bytes", u64(rq->rx_bytes));
    json_object_object_add(e, "drop_no_desc", u64(rq->drop_no_desc));
    json_object_object_add(e, "drop_buffer_full", u64(rq->drop_buffer_full));
    json_object_object_add(e, "drop_oversize", u64(rq->drop_oversize));
    json_object_object_add(e, "drop_rule", u64(rq->drop_rule));
    json_object_object_add(e, "drop_dma_fault", u64(rq->drop_dma_fault));
    json_object_object_add(e, "desc_fetches", u64(rq->desc_fetches));
    json_object_object_add(e, "desc_used", u64(rq->desc_used));
    json_object_object_add(e, "header_splits", u64(rq->header_splits));
    json_object_object_add(e, "chained", u64(rq->chained));
    json_object_object_add(e, "irqs", u64(rq->irqs));
    json_object_object_add(e, "dma_write_faults", u64(rq->dma_write_faults));
    json_object_array_add(pq, e);
  }
  json_object_object_add(nic, "per_queue", pq);
  json_object_object_add(root, "nic", nic);

  json_object *io = json_object_new_object();
  json_object_object_add(io, "translations", u64(r->iommu.translations));
  json_object_object_add(io, "iotlb_hits", u64(r->iommu.iotlb_hits));
  json_object_object_add(io, "iotlb_misses", u64(r->iommu.iotlb_misses));
  json_object_object_add(io, "faults", u64(r->iommu.faults));
  json_object_object_add(io, "invalidations", u64(r->iommu.invalidations));
  json_object_object_add(root, "iommu", io);

  json_object *pool = json_object_new_object();
  /* Report names, in report order, and the summed counter each shows. */
  const struct page_pool_stats *ps = &r->pool;
  const struct {
    const char *name;
    uint64_t v;
  } pool_keys[] = {
      {"allocs", ps->allocs},
      {"recycles", ps->recycles},
      {"clears", ps->clears},
      {"pages_in_use_max", ps->in_use_max},
      {"alloc_fast", ps->alloc_fast},
      {"alloc_refill", ps->alloc_refill},
      {"alloc_slow", ps->alloc_slow},
      {"alloc_failed", ps->empty},
      {"pages_entered", ps->pages_entered},
      {"recycle_cached", ps->recycle_cached},
      {"recycle_cache_full", ps->recycle_cache_full},
      {"recycle_ring", ps->recycle_ring},
      {"recycle_ring_full", ps->recycle_ring_full},
      {"recycle_released_refcnt", ps->recycle_released_refcnt},
      {"released", ps->released},
      {"destroy_released", ps->destroy_released},
      {"destroy_inflight", ps->destroy_inflight},
      {"pages_in_pool_max", ps->in_pool_max},
  };
  for (size_t i = 0; i < sizeof pool_keys / sizeof pool_keys[0]; i++)
    json_object_object_add(pool, pool_keys[i].name, u64(pool_keys[i].v));
  json_object_object_add(root, "pool", pool);

  json_object *cpu = json_object_new_object();
  json_object_object_add(cpu, "cycles_total", u64(r->cycles_total));
  json_object_object_add(cpu, "cycles_per_packet", json_object_new_double(r->cycles_per_packet));
  json_object *bd = json_object_new_object();
  for (int b = 0; b < CPU_NBUCKETS; b++)
    json_object_object_add(bd, cpu_bucket_names[b], u64(r->cycles[b]));
  json_object_object_add(cpu, "breakdown", bd);
  json_object *cores = json_object_new_array();
  for (unsigned i = 0; i < r->cores && i < 64; i++) {
    json_object *co = json_object_new_object();
    json_object_object_add(co, "busy_ps", u64(r->core_busy_ps[i]));
    json_object_object_add(co, "utilisation", json_object_new_double(
        r->sim_time_ps ? (double)r->core_busy_ps[i] / (double)r->sim_time_ps : 0.0));
    json_object_array_add(cores, co);
  }
  json_object_object_add(cpu, "cores", cores);
  json_object_object_add(root, "cpu", cpu);

  json_object *tp = json_object_new_object();
  json_object_object_add(tp, "offered_gbps", json_object_new_double(r->offered_gbps));
  json_object_object_add(tp, "offered_mpps", json_object_new_double(r->offered_mpps));
  json_object_object_add(tp, "delivered_gbps", json_object_new_double(r->delivered_gbps));
  json_object_object_add(tp, "delivered_mpps", json_object_new_double(r->delivered_mpps));
  json_object_object_add(root, "throughput", tp);

  json_object *dl = json_object_new_object();
  json_object_object_add(dl, "packets", u64(r->driver.delivered_packets));
  json_object_object_add(dl, "bytes", u64(r->driver.delivered_bytes));
  json_object_object_add(dl, "zero_copy_packets", u64(r->driver.zc_packets));
  json_object_object_add(dl, "stack_packets", u64(r->driver.stack_packets));
  json_object_object_add(dl, "kernel_packets", u64(r->driver.kernel_packets));
  json_object_object_add(root, "delivered", dl);

  json_object *um = json_object_new_object();
  json_object_object_add(um, "maps", u64(r->driver.app_maps));
  json_object_object_add(um, "unmaps", u64(r->driver.app_unmaps));
  json_object_object_add(um, "pages_hoarded", u64(r->driver.pages_hoarded));
  json_object_object_add(um, "writes", u64(r->driver.user_writes));
  json_object_object_add(um, "write_faults", u64(r->driver.user_write_faults));
  json_object *hr = json_object_new_object();
  json_object_object_add(hr, "enabled", json_object_new_boolean(o->cfg.app_hostile_read));
  json_object_object_add(hr, "reads", u64(r->hread_reads));
  json_object_object_add(hr, "bytes", u64(r->hread_bytes));
  json_object_object_add(hr, "foreign_flow_bytes", u64(r->hread_foreign_flow));
  json_object_object_add(hr, "kernel_private_bytes", u64(r->hread_kernel_private));
  json_object_object_add(hr, "stale_bytes", u64(r->hread_stale));
  json_object_object_add(hr, "faults", u64(r->hread_faults));
  json_object_object_add(um, "hostile_read", hr);
  json_object_object_add(root, "user", um);

  json_object *ux = json_object_new_object();
  json_object_object_add(ux, "fill_ring", u64(r->driver.fill_ring));
  json_object_object_add(ux, "rx_ring", u64(r->driver.rx_ring));
  /* RX chunks come back through the fill ring; the completion ring is
   * for TX (net/xdp/xsk.c: xsk_tx_completed), so RX returns none. */
  json_object_object_add(ux, "completions", u64(0));
  json_object_object_add(ux, "fill_ring_returns", u64(r->driver.fill_ring_returns));
  json_object_object_add(ux, "copy_out_packets", u64(r->driver.copy_out_packets));
  json_object *uw = json_object_new_object();
  for (unsigned k = 0; k < MEM_LABEL_KIND_COUNT; k++)
    json_object_object_add(uw, mem_label_kind_key(k), u64(r->driver.umem_written[k]));
  json_object_object_add(ux, "device_written_bytes", uw);
  json_object_object_add(root, "umem", ux);

  /* The principals' sockets (one per flow): drops at their receive buffers (sk_rcvbuf). */
  json_object *so = json_object_new_object();
  json_object_object_add(so, "rcvbuf_bytes", u64(o->cfg.sock_rcvbuf_bytes));
  json_object *sl = json_object_new_array();
  for (unsigned i = 0; i < r->nprincipals && i < SYSTEM_MAX_PRINCIPALS; i++) {
    unsigned p = principal_at(r, i);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "principal", json_object_new_string(r->principals[p].name));
    json_object_object_add(e, "drops", u64(r->driver.sock_drops[p]));
    json_object_object_add(e, "drop_bytes", u64(r->driver.sock_drop_bytes[p]));
    json_object_object_add(e, "rmem_max_bytes", u64(r->driver.sock_rmem_max[p]));
    json_object_array_add(sl, e);
  }
  json_object_object_add(so, "per_principal", sl);
  json_object_object_add(root, "sockets", so);

  /* XDP verdicts: the default program (the application's frames redirected
   * to it where the design runs XDP) or the rules of xdp.rules. */
  json_object *xo = json_object_new_object();
  json_object_object_add(xo, "program", json_object_new_string(r->xdp_configured ? "rules" : "default"));
  json_object_object_add(xo, "runs", u64(r->driver.xdp_runs));
  json_object_object_add(xo, "pass", u64(r->driver.xdp_pass));
  json_object_object_add(xo, "drop", u64(r->driver.xdp_drop));
  json_object_object_add(xo, "redirect", u64(r->driver.xdp_redirect));
  json_object_object_add(xo, "redirect_in_place", u64(r->driver.xdp_redirect_in_place));
  json_object_object_add(xo, "redirect_copy", u64(r->driver.xdp_redirect_copy));
  json_object_object_add(xo, "redirect_failed", u64(r->driver.xdp_redirect_failed));
  json_object_object_add(xo, "no_match", u64(r->xdp_no_match));
  json_object *xr = json_object_new_array();
  {
    char(*rules)[XDP_RULE_MAX] = calloc(XDP_MAX_RULES, XDP_RULE_MAX);
    size_t n = 0;
    char e[200];
    if (rules && xdp_rules_split(o->cfg.xdp_rules, rules, XDP_MAX_RULES, &n, e, sizeof e) == 0)
      for (size_t i = 0; i < n; i++) {
        json_object *re = json_object_new_object();
        json_object_object_add(re, "rule", json_object_new_string(rules[i]));
        json_object_object_add(re, "hits", u64(i < r->xdp_rules && i < REPORT_MAX_XDP_RULES ? r->xdp_rule_hits[i] : 0));
        json_object_array_add(xr, re);
      }
    free(rules);
  }
  json_object_object_add(xo, "rules", xr);
  json_object_object_add(root, "xdp", xo);

  /* The TX path: the host's side, then the device's per queue (ethtool -S
   * tx_queue_N_*). */
  json_object *txo = json_object_new_object();
  const struct {
    const char *name;
    uint64_t v;
  } tx_keys[] = {
      {"sends", r->tx_sends},          {"packets", r->tx_packets},
      {"bytes", r->tx_bytes},          {"no_buffer", r->tx_no_buffer},
      {"copies", r->tx_copies},        {"copy_bytes", r->tx_copy_bytes},
      {"pins", r->tx_pins},            {"dma_maps", r->tx_dma_maps},
      {"dma_unmaps", r->tx_dma_unmaps}, {"validated", r->tx_validated},
      {"notifications", r->tx_notifications}, {"early_releases", r->tx_early_releases},
      {"user_writes", r->tx_user_writes}, {"user_write_faults", r->tx_user_write_faults},
      {"cycles", r->tx_cycles},
  };
  json_object_object_add(txo, "enabled", json_object_new_boolean(r->tx_enabled));
  for (size_t i = 0; i < sizeof tx_keys / sizeof tx_keys[0]; i++)
    json_object_object_add(txo, tx_keys[i].name, u64(tx_keys[i].v));
  json_object_object_add(txo, "cycles_per_packet", json_object_new_double(r->tx_cycles_per_packet));
  json_object *tq = json_object_new_array();
  for (unsigned q = 0; r->tx_enabled && q < r->queues && q < REPORT_MAX_QUEUES; q++) {
    const struct report_tx_queue *t = &r->txq[q];
    const struct {
      const char *name;
      uint64_t v;
    } qk[] = {{"queue", q},           {"tx_packets", t->tx_packets}, {"tx_bytes", t->tx_bytes},
              {"tx_dma_fault", t->tx_dma_fault}, {"desc_fetches", t->desc_fetches},
              {"desc_used", t->desc_used}, {"irqs", t->irqs}, {"posted", t->posted},
              {"completed", t->completed}, {"ring_full", t->ring_full}};
    json_object *e = json_object_new_object();
    for (size_t i = 0; i < sizeof qk / sizeof qk[0]; i++)
      json_object_object_add(e, qk[i].name, u64(qk[i].v));
    json_object_array_add(tq, e);
  }
  json_object_object_add(txo, "per_queue", tq);
  json_object_object_add(root, "tx", txo);

  json_object *vi = json_object_new_object();
  for (int p = 0; p < PROP_COUNT; p++) {
    json_object *e = json_object_new_object();
    json_object_object_add(e, "count", u64(r->props[p].count));
    json_object_object_add(e, "bytes", u64(r->props[p].bytes));
    json_object_object_add(e, "first", violation_first(r, &r->props[p]));
    json_object_object_add(e, "by_pair", by_pair(&r->props[p]));
    json_object_object_add(vi, checker_property_name((enum checker_property)p), e);
  }
  json_object_object_add(root, "principals", principals(r));
  json_object_object_add(root, "violations", vi);
  json_object *fa = json_object_new_array();
  for (unsigned i = 0; i < o->nfaults; i++) {
    const struct fault *f = &o->faults[i];
    json_object *e = json_object_new_object();
    json_object_object_add(e, "spec", json_object_new_string(f->spec));
    json_object_object_add(e, "fault", json_object_new_string(fault_kind_name((enum fault_kind)f->kind)));
    json_object_object_add(e, "fired", u64(f->fired));
    json_object_object_add(e, "first_time_ps", f->fired ? u64(f->first_ps) : NULL);
    json_object_object_add(e, "first_packet",
                           f->fired && f->first_packet != UINT64_MAX ? u64(f->first_packet) : NULL);
    json_object_object_add(e, "effect", f->fired ? json_object_new_string(f->effect) : NULL);
    json_object_array_add(fa, e);
  }
  json_object_object_add(root, "faults", fa);
  json_object_object_add(root, "incomplete", json_object_new_boolean(r->incomplete));
  json_object_object_add(root, "verdict", json_object_new_string(report_verdict(r)));
  /* Why an inconclusive run tested nothing (null otherwise). */
  json_object_object_add(root, "verdict_reason", strcmp(report_verdict(r), "inconclusive") == 0
                                                    ? json_object_new_string(r->inconclusive) : NULL);
  return root;
}

int report_write_json(json_object *obj, const char *path, char *err, size_t errlen) {
  const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
  struct outfile *f = text ? outfile_open(path, 0666, err, errlen) : NULL;
  if (!f) {
    if (!text)
      snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  fputs(text, outfile_stream(f));
  fputc('\n', outfile_stream(f));
  return outfile_commit(f, err, errlen);
}

/* The by_pair arrays of a report's properties with more than one pair, as
 * (property name, array); fn is called for each. */
static unsigned pairs_each(struct json_object *report, void (*fn)(void *ctx, const char *prop, json_object *pairs),
                           void *ctx) {
  json_object *viol = NULL;
  unsigned n = 0;
  if (!report || !json_object_object_get_ex(report, "violations", &viol) || !json_object_is_type(viol, json_type_object))
    return 0;
  json_object_object_foreach(viol, prop, v) {
    json_object *pairs = NULL;
    if (!json_object_object_get_ex(v, "by_pair", &pairs) || !json_object_is_type(pairs, json_type_array) ||
        json_object_array_length(pairs) < 2)
      continue;
    n++;
    if (fn)
      fn(ctx, prop, pairs);
  }
  return n;
}

int report_has_pairs(struct json_object *report) { return pairs_each(report, NULL, NULL) > 0; }

struct pairs_out {
  FILE *f;
  const char *row;
  int markdown;
};

static void pairs_line(void *ctx, const char *prop, json_object *pairs) {
  struct pairs_out *po = ctx;
  fprintf(po->f, po->markdown ? "| %s | %s | " : "  %s %s:", po->row, prop);
  for (size_t i = 0; i < json_object_array_length(pairs); i++) {
    json_object *e = json_object_array_get_idx(pairs, i), *w = NULL, *o = NULL, *c = NULL, *b = NULL;
    json_object_object_get_ex(e, "principal", &w);
    json_object_object_get_ex(e, "owner", &o);
    json_object_object_get_ex(e, "count", &c);
    json_object_object_get_ex(e, "bytes", &b);
    fprintf(po->f, "%s%s <- %s: %" PRId64 " (%" PRId64 " bytes)", i ? "; " : (po->markdown ? "" : " "),
            json_object_get_string(w), json_object_get_string(o), json_object_get_int64(c), json_object_get_int64(b));
  }
  fprintf(po->f, po->markdown ? " |\n" : "\n");
}

unsigned report_print_pairs(FILE *out, const char *row, struct json_object *report, int markdown) {
  struct pairs_out po = {.f = out, .row = row, .markdown = markdown};
  return pairs_each(report, pairs_line, &po);
}

void report_print_human(FILE *out, const struct replay_opts *o, const struct replay_result *r) {
  fprintf(out, "nicsim %s: design %s, trace %s\n", NICSIM_VERSION_STRING, o->design ? o->design : "custom",
          o->trace_path);
  fprintf(out, "  trace: %" PRIu64 " packets, %" PRIu64 " bytes, %u flows, link type %s; "
          "application flow: %s\n", r->trace_packets, r->trace_bytes, r->flows, r->linktype, r->app_flow);
  if (o->limit_frames)
    fprintf(out, "  --limit %" PRIu64 ": the replay %s after the first %" PRIu64 " frames\n", o->limit_frames,
            r->trace_packets < o->limit_frames ? "would have stopped (the trace ended first)" : "stopped",
            o->limit_frames);
  if (r->nprincipals > 2) {
    fprintf(out, "  principals:");
    for (unsigned i = 0; i < r->nprincipals && i < SYSTEM_MAX_PRINCIPALS; i++) {
      const struct replay_principal *rp = &r->principals[principal_at(r, i)];
      fprintf(out, "%s %s (%s, %u flows, %" PRIu64 " packets)", i ? ";" : "", rp->name,
              rp->delivery ? rp->delivery : "copy", rp->flows, rp->packets);
    }
    fprintf(out, "\n");
  }
  if (r->flows_evicted)
    fprintf(out, "  flow table full (trace.max_flows %u): %" PRIu64 " flows evicted, their frames "
            "counted as one flow of other principals\n", o->cfg.trace_max_flows, r->flows_evicted);
  const struct trace_stats *ts = &r->trace_stats;
  if (ts->skipped_unsupported || ts->converted || ts->truncated_packets || ts->ts_backwards ||
      ts->ts_out_of_range || ts->origlen_zero || ts->zero_length)
    fprintf(out, "  trace records: %" PRIu64 " converted to Ethernet, %" PRIu64 " skipped (no Ethernet form), %"
            PRIu64 " truncated (%" PRIu64 " bytes not captured), %" PRIu64 " with origlen 0, %" PRIu64
            " timestamps backwards, %" PRIu64 " out of range, %" PRIu64 " zero-length (skipped)\n", ts->converted,
            ts->skipped_unsupported, ts->truncated_packets, ts->uncaptured_bytes, ts->origlen_zero, ts->ts_backwards,
            ts->ts_out_of_range, ts->zero_length);
  fprintf(out, "  nic: %" PRIu64 " received, %" PRIu64 " dropped; iommu: %" PRIu64 " translations, %"
          PRIu64 " IOTLB misses, %" PRIu64 " faults\n", r->rx_packets, r->rx_dropped, r->iommu.translations,
          r->iommu.iotlb_misses, r->iommu.faults);
  if (r->dma_write_faults)
    fprintf(out, "  nic: %" PRIu64 " frames with a DMA write the IOMMU refused (written back as usual: the "
            "driver took whatever the buffer held)\n", r->dma_write_faults);
  /* The same breakdown per packet (cycles_per_packet's denominator: the
   * packets the driver processed) and as totals over the run. */
  double per_cycle = r->cycles_total ? r->cycles_per_packet / (double)r->cycles_total : 0.0;
  fprintf(out, "  cpu per packet: %.1f cycles (", r->cycles_per_packet);
  for (int b = 0; b < CPU_NBUCKETS; b++)
    fprintf(out, "%s%s %.1f", b ? ", " : "", cpu_bucket_names[b], (double)r->cycles[b] * per_cycle);
  fprintf(out, ")\n  cpu, whole run: %" PRIu64 " cycles (", r->cycles_total);
  for (int b = 0; b < CPU_NBUCKETS; b++)
    fprintf(out, "%s%s %" PRIu64, b ? ", " : "", cpu_bucket_names[b], r->cycles[b]);
  fprintf(out, ")\n");
  fprintf(out, "  throughput: offered %.4g Gb/s, delivered %.4g Gb/s (%.4g Mpps)\n", r->offered_gbps,
          r->delivered_gbps, r->delivered_mpps);
  if (r->tx_enabled)
    fprintf(out, "  tx: %" PRIu64 " sends, %" PRIu64 " frames (%" PRIu64 " bytes) on the wire, %" PRIu64
            " refused; %.1f cycles per frame sent (%" PRIu64 " copies, %" PRIu64 " pages pinned, %" PRIu64
            " mappings)\n", r->tx_sends, r->tx_packets, r->tx_bytes, r->tx_no_buffer, r->tx_cycles_per_packet,
            r->tx_copies, r->tx_pins, r->tx_dma_maps);
  if (r->xdp_configured)
    fprintf(out, "  xdp (xdp.rules): %" PRIu64 " frames: %" PRIu64 " passed (%" PRIu64 " matched no rule), %" PRIu64
            " dropped, %" PRIu64 " redirected (%" PRIu64 " in place, %" PRIu64 " by copy)\n", r->driver.xdp_runs, r->driver.xdp_pass,
            r->xdp_no_match, r->driver.xdp_drop, r->driver.xdp_redirect, r->driver.xdp_redirect_in_place, r->driver.xdp_redirect_copy);
  if (o->cfg.app_hostile_read)
    fprintf(out, "  hostile reader (app): %" PRIu64 " bytes read in %" PRIu64 " reads: %" PRIu64 " of other flows, %"
            PRIu64 " kernel-private, %" PRIu64 " stale\n", r->hread_bytes, r->hread_reads, r->hread_foreign_flow,
            r->hread_kernel_private, r->hread_stale);
  for (unsigned i = 0; i < r->nprincipals && i < SYSTEM_MAX_PRINCIPALS; i++) {
    unsigned p = principal_at(r, i);
    if (r->driver.sock_drops[p])
      fprintf(out, "  sockets of '%s': %" PRIu64 " frames (%" PRIu64 " bytes) dropped at their receive buffers "
              "(sock.rcvbuf_bytes %u)\n", r->principals[p].name, r->driver.sock_drops[p],
              r->driver.sock_drop_bytes[p], o->cfg.sock_rcvbuf_bytes);
  }
  for (unsigned i = 0; i < o->nfaults; i++) {
    const struct fault *f = &o->faults[i];
    if (f->fired)
      fprintf(out, "  fault %s: fired %" PRIu64 " time%s; first: %s\n", f->spec, f->fired, f->fired == 1 ? "" : "s",
              f->effect);
    else
      fprintf(out, "  fault %s: never fired\n", f->spec);
  }
  if (r->incomplete)
    fprintf(out, "interrupted: the report covers the frames replayed until then\n");
  if (strcmp(report_verdict(r), "inconclusive") == 0)
    fprintf(out, "verdict: inconclusive: %s\n", r->inconclusive);
  else
    fprintf(out, "verdict: %s\n", report_verdict(r));
  for (int p = 0; p < PROP_COUNT; p++) {
    const struct checker_result *cr = &r->props[p];
    if (!cr->count)
      continue;
    fprintf(out, "  %s: %" PRIu64 " (%" PRIu64 " bytes)\n", checker_property_name((enum checker_property)p),
            cr->count, cr->bytes);
    if (cr->npairs > 1) {
      fprintf(out, "    by pair (who <- whose bytes):");
      for (unsigned i = 0; i < cr->npairs; i++)
        fprintf(out, "%s %s <- %s %" PRIu64 " (%" PRIu64 " bytes)", i ? ";" : "", cr->pairs[i].principal,
                cr->pairs[i].owner, cr->pairs[i].count, cr->pairs[i].bytes);
      fprintf(out, "\n");
    }
    if (cr->has_first)
      fprintf(out, "    first: %s\n", cr->first.explanation);
  }
}
