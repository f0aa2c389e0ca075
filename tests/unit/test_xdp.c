/*
 * test_xdp.c: the configurable XDP program (xdp.rules): the rule parser,
 * good and bad, through xdp.h and through the scenario key; first-match
 * order; and each action run by the driver on the real NIC model, on a copy
 * queue, a zero-copy queue and an AF_XDP queue; the default program.
 * The hostile reader of app.hostile_read (pool/user.c) is tested here too:
 * what it reads when pages are mapped and written.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "config.h"
#include "cpu.h"
#include "driver.h"
#include "flow.h"
#include "iommu.h"
#include "mem.h"
#include "nic.h"
#include "page_pool.h"
#include "simk.h"
#include "user.h"
#include "driver_rig.h"
#include "xdp.h"

#define EN10MB 1

static const char *const names[] = {"app", "other", NULL};

/* ---- frames ---- */

/* An Ethernet/IPv4/UDP frame 10.0.0.1:1234 > 10.0.0.FLOW:dport of len bytes. */
static uint32_t make_frame(uint8_t *f, uint8_t flow, uint16_t dport, uint32_t len) {
  memset(f, 0, len);
  f[12] = 0x08;
  f[14] = 0x45;
  f[16] = (uint8_t)((len - 14) >> 8), f[17] = (uint8_t)(len - 14);
  f[22] = 64;
  f[23] = 17;
  f[26] = 10, f[29] = 1;
  f[30] = 10, f[33] = flow;
  f[34] = 0x04, f[35] = 0xd2;
  f[36] = (uint8_t)(dport >> 8), f[37] = (uint8_t)dport;
  f[38] = (uint8_t)((len - 34) >> 8), f[39] = (uint8_t)(len - 34);
  for (uint32_t i = 42; i < len; i++)
    f[i] = (uint8_t)('a' + i % 26);
  return len;
}

static enum xdp_action run_on(struct xdp_prog *p, uint8_t flow, uint16_t dport, int owner, unsigned *to,
                              uint32_t *tried) {
  uint8_t f[200];
  uint32_t n = make_frame(f, flow, dport, sizeof f);
  struct flow_parse fp;
  ck_assert_int_eq(flow_parse(f, n, &fp), 0);
  struct xdp_frame xf = {.data = f, .caplen = n, .wire_len = n, .key = &fp.key, .owner = owner};
  return xdp_prog_run(p, &xf, to, tried);
}

/* ---- the parser ---- */

START_TEST(split_accepts_brackets_and_semicolons) {
  char r[XDP_MAX_RULES][XDP_RULE_MAX];
  size_t n;
  char err[256];
  ck_assert_int_eq(xdp_rules_split("[drop udp port 53; redirect app tuple proto=udp,dport=4000;pass]", r,
                                   XDP_MAX_RULES, &n, err, sizeof err), 0);
  ck_assert_uint_eq(n, 3);
  ck_assert_str_eq(r[0], "drop udp port 53");
  ck_assert_str_eq(r[1], "redirect app tuple proto=udp,dport=4000");
  ck_assert_str_eq(r[2], "pass");
  /* Brackets of a BPF expression stay in it. */
  ck_assert_int_eq(xdp_rules_split("drop ip[6:2] & 0x1fff != 0", r, XDP_MAX_RULES, &n, err, sizeof err), 0);
  ck_assert_uint_eq(n, 1);
  ck_assert_str_eq(r[0], "drop ip[6:2] & 0x1fff != 0");
  ck_assert_int_eq(xdp_rules_split("[]", r, XDP_MAX_RULES, &n, err, sizeof err), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(xdp_rules_split("  ", r, XDP_MAX_RULES, &n, err, sizeof err), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(xdp_rules_split("drop;;pass", r, XDP_MAX_RULES, &n, err, sizeof err), -1);
  ck_assert_str_eq(err, "rule 2 is empty (rules are separated by ';')");
  ck_assert_int_eq(xdp_rules_split("[drop", r, XDP_MAX_RULES, &n, err, sizeof err), -1);
  ck_assert_int_eq(xdp_rules_split("pass;", r, XDP_MAX_RULES, &n, err, sizeof err), -1);
  ck_assert_int_eq(xdp_rules_split("pass;pass;pass", r, 2, &n, err, sizeof err), -1);
  ck_assert_str_eq(err, "more than 2 rules");
}
END_TEST

static void good(const char *rule) {
  char err[512] = "";
  ck_assert_msg(xdp_rule_check(rule, names, EN10MB, err, sizeof err) == 0, "%s: %s", rule, err);
}

static void bad(const char *rule, const char *want) {
  char err[512] = "";
  ck_assert_msg(xdp_rule_check(rule, names, EN10MB, err, sizeof err) == -1, "%s was accepted", rule);
  ck_assert_msg(strstr(err, want) != NULL, "%s: '%s' does not say '%s'", rule, err, want);
}

START_TEST(rules_good_and_bad) {
  good("pass");
  good("drop");
  good("redirect app");
  good("redirect other udp port 53");
  good("drop tcp[tcpflags] & tcp-syn != 0");
  good("pass tuple proto=udp");
  good("redirect app tuple proto=tcp, src=10.0.0.0/8 ,dport=5001");
  good("drop tuple host=2001:db8::1,port=53,owner=other");
  good("drop tuple proto=132");
  bad("frob udp", "unknown action 'frob' (actions: pass, drop, redirect)");
  bad("PASS", "unknown action 'PASS'");
  bad("redirect", "redirect needs a principal");
  bad("redirect bob udp", "unknown principal 'bob' (principals: app, other)");
  bad("redirect udp port 53", "unknown principal 'udp'");
  bad("drop udpp port 53", "the BPF filter 'udpp port 53' does not compile: ");
  bad("pass tuple", "tuple: no field given");
  bad("pass tuple xport=3", "tuple: unknown field 'xport' (fields: proto, src, dst, host, sport, dport, port, owner)");
  bad("pass tuple port=70000", "tuple: port '70000' is not allowed: a port number 0..65535");
  bad("pass tuple proto=foo", "tuple: proto 'foo' is not allowed");
  bad("pass tuple src=10.0.0.300", "tuple: src '10.0.0.300' is not allowed");
  bad("pass tuple src=10.0.0.0/33", "tuple: src '10.0.0.0/33' is not allowed");
  bad("pass tuple dport", "tuple: 'dport' is not FIELD=VALUE");
  bad("pass tuple port=1,port=2", "tuple: field 'port' is given twice");
  bad("pass tuple owner=bob", "tuple: owner: unknown principal 'bob'");
}
END_TEST

START_TEST(scenario_key_messages_name_key_rule_and_problem) {
  struct config c;
  config_default(&c);
  char err[1200];
  ck_assert_str_eq(c.xdp_rules, "");
  ck_assert_int_eq(config_set(&c, "xdp.rules", "[drop udp port 53 ;pass]", err, sizeof err), 0);
  ck_assert_str_eq(c.xdp_rules, "drop udp port 53; pass");
  size_t ki = 0;
  while (strcmp(config_key_name(ki), "xdp.rules") != 0)
    ki++;
  char json[512];
  config_key_json(&c, ki, json, sizeof json);
  ck_assert_str_eq(json, "[\"drop udp port 53\",\"pass\"]");
  ck_assert_int_eq(config_set(&c, "xdp.rules", "[pass; redirect bob!]", err, sizeof err), -1);
  ck_assert_str_eq(err, "xdp.rules: rule 2 'redirect bob!': unknown principal 'bob!' (principals: app, other or a "
                        "name from principals:)");
  ck_assert_str_eq(c.xdp_rules, "drop udp port 53; pass"); /* unchanged */
  /* A principal's name is known once the scenario is whole: checked then. */
  ck_assert_int_eq(config_set(&c, "xdp.rules", "[pass; redirect bob]", err, sizeof err), 0);
  ck_assert_int_eq(config_validate(&c, err, sizeof err), -1);
  ck_assert_str_eq(err, "xdp.rules: rule 2 'redirect bob': unknown principal 'bob' (principals: app, other)");
  ck_assert_int_eq(config_set(&c, "principals.0.name", "bob", err, sizeof err), 0);
  ck_assert_int_eq(config_validate(&c, err, sizeof err), 0);
  ck_assert_int_eq(config_set(&c, "xdp.rules", "[redirect carol tuple owner=bob]", err, sizeof err), 0);
  ck_assert_int_eq(config_validate(&c, err, sizeof err), -1);
  ck_assert_str_eq(err, "xdp.rules: rule 1 'redirect carol tuple owner=bob': unknown principal 'carol' "
                        "(principals: app, other, bob)");
  ck_assert_int_eq(config_set(&c, "principals", "[]", err, sizeof err), 0);
  ck_assert_int_eq(config_set(&c, "xdp.rules", "[]", err, sizeof err), 0);
  ck_assert_str_eq(c.xdp_rules, "");
  config_key_json(&c, ki, json, sizeof json);
  ck_assert_str_eq(json, "[]");
  /* One check per item, for a scenario file's positions: the same text. */
  ck_assert_int_eq(config_list_item_check("xdp.rules", 1, "redirect bob!", err, sizeof err), -1);
  ck_assert_str_eq(err, "xdp.rules: rule 2 'redirect bob!': unknown principal 'bob!' (principals: app, other or a "
                        "name from principals:)");
  ck_assert_int_eq(config_list_separator("xdp.rules"), ';');
  ck_assert_int_eq(config_list_separator("app.caps"), ',');
  /* zcrx queues run no XDP program. */
  ck_assert_int_eq(config_set(&c, "xdp.rules", "drop", err, sizeof err), 0);
  ck_assert_int_eq(config_set(&c, "app.delivery", "zcrx", err, sizeof err), 0);
  ck_assert_int_eq(config_set(&c, "nic.header_split", "true", err, sizeof err), 0);
  ck_assert_int_eq(config_set(&c, "app.zc_queues", "[0]", err, sizeof err), 0);
  ck_assert_int_eq(config_validate(&c, err, sizeof err), -1);
  ck_assert(strncmp(err, "xdp.rules: ", 11) == 0);
}
END_TEST

/* ---- the program ---- */

START_TEST(first_matching_rule_wins) {
  char err[512];
  struct xdp_prog *p = xdp_prog_new("[drop udp dst port 53; redirect other tuple dst=10.0.0.2; "
                                    "redirect app udp; drop]", names, EN10MB, err, sizeof err);
  ck_assert_msg(p != NULL, "%s", err);
  unsigned to;
  uint32_t tried;
  ck_assert_int_eq(run_on(p, 2, 53, OTHER, &to, &tried), XDP_ACTION_DROP); /* rule 1 before rule 2 */
  ck_assert_uint_eq(tried, 1);
  ck_assert_int_eq(run_on(p, 2, 5001, OTHER, &to, &tried), XDP_ACTION_REDIRECT);
  ck_assert_uint_eq(to, OTHER);
  ck_assert_uint_eq(tried, 2);
  ck_assert_int_eq(run_on(p, 3, 5001, OTHER, &to, &tried), XDP_ACTION_REDIRECT);
  ck_assert_uint_eq(to, APP);
  ck_assert_uint_eq(tried, 3);
  ck_assert_uint_eq(xdp_prog_hits(p, 0), 1);
  ck_assert_uint_eq(xdp_prog_hits(p, 1), 1);
  ck_assert_uint_eq(xdp_prog_hits(p, 2), 1);
  ck_assert_uint_eq(xdp_prog_hits(p, 3), 0);
  ck_assert_uint_eq(xdp_prog_no_match(p), 0);
  xdp_prog_free(p);
  /* The same rules in another order decide otherwise; no match passes. */
  p = xdp_prog_new("redirect app udp; drop udp dst port 53", names, EN10MB, err, sizeof err);
  ck_assert_int_eq(run_on(p, 2, 53, OTHER, &to, &tried), XDP_ACTION_REDIRECT);
  xdp_prog_free(p);
  p = xdp_prog_new("drop tuple owner=other,dport=4000", names, EN10MB, err, sizeof err);
  ck_assert_int_eq(run_on(p, 2, 4000, APP, &to, &tried), XDP_ACTION_PASS);
  ck_assert_int_eq(run_on(p, 2, 4000, -1, &to, &tried), XDP_ACTION_PASS);
  ck_assert_int_eq(run_on(p, 2, 4000, OTHER, &to, &tried), XDP_ACTION_DROP);
  ck_assert_uint_eq(xdp_prog_no_match(p), 2);
  xdp_prog_free(p);
  /* Prefixes and either-end fields. */
  p = xdp_prog_new("drop tuple host=10.0.0.0/30,sport=1234", names, EN10MB, err, sizeof err);
  ck_assert_int_eq(run_on(p, 3, 1, OTHER, &to, &tried), XDP_ACTION_DROP);
  ck_assert_int_eq(run_on(p, 9, 1, OTHER, &to, &tried), XDP_ACTION_DROP); /* src 10.0.0.1 */
  xdp_prog_free(p);
  p = xdp_prog_new("drop tuple dst=10.0.0.0/30", names, EN10MB, err, sizeof err);
  ck_assert_int_eq(run_on(p, 3, 1, OTHER, &to, &tried), XDP_ACTION_DROP);
  ck_assert_int_eq(run_on(p, 4, 1, OTHER, &to, &tried), XDP_ACTION_PASS);
  xdp_prog_free(p);
  ck_assert(xdp_prog_new("pass; frob", names, EN10MB, err, sizeof err) == NULL);
  ck_assert_str_eq(err, "rule 2 'frob': unknown action 'frob' (actions: pass, drop, redirect)");
}
END_TEST

/* ---- the driver on the NIC model ---- */

static int run_prog(void *ctx, const uint8_t *frame, uint32_t caplen, uint32_t wire_len,
                    const struct driver_pkt *pk, unsigned *to, uint32_t *rules) {
  struct rig *r = ctx;
  struct flow_parse fp;
  int parsed = flow_parse(frame, caplen, &fp) == 0;
  struct xdp_frame f = {.data = frame, .caplen = caplen, .wire_len = wire_len, .key = parsed ? &fp.key : NULL,
                        .owner = pk->to_kernel ? -1 : (int)pk->owner};
  switch (xdp_prog_run(r->prog, &f, to, rules)) {
  case XDP_ACTION_DROP:
    return DRIVER_XDP_DROP;
  case XDP_ACTION_REDIRECT:
    return DRIVER_XDP_REDIRECT;
  default:
    return DRIVER_XDP_PASS;
  }
}

/* rules NULL: the default program. */
static void rig_init(struct rig *r, struct driver_params *dp, const char *rules) {
  rig_setup(r, dp);
  if (rules) {
    char err[512];
    r->prog = xdp_prog_new(rules, names, EN10MB, err, sizeof err);
    ck_assert_msg(r->prog != NULL, "%s", err);
    struct driver_xdp_prog x = {.ctx = r, .run = run_prog};
    driver_set_xdp(r->d, &x);
  }
}

static void rig_free(struct rig *r) {
  rig_teardown(r);
  xdp_prog_free(r->prog);
}

static void params(struct driver_params *dp) {
  memset(dp, 0, sizeof *dp);
  dp->queues = 1;
  dp->ring_size = 16;
  dp->buffer_size = 2048;
  dp->pool_pages = 64;
  dp->pool_clear = PP_CLEAR_ON_ENTRY;
  dp->hdr_buffer_size = 256;
  dp->app_map_mode = MEM_MAP_RO;
  dp->umem_chunk = 4096;
  dp->recv_delay_ps = 0;
}

/* One frame of flow `flow` to port dport, and the simulation run 20 us on. */
static void send(struct rig *r, uint8_t flow, uint16_t dport) {
  uint8_t f[600];
  uint32_t len = make_frame(f, flow, dport, sizeof f);
  struct flow_parse fp;
  flow_parse(f, len, &fp);
  struct nic_frame nf = {.data = f, .caplen = len, .wire_len = len, .hdr_len = 42, .flow = flow,
                         .index = r->index++, .key = &fp.key};
  nic_rx_frame(r->n, &nf);
  simk_run_until(simk_now_ps() + 20000000ull);
}

/* Bytes of flow `flow`'s packets in principal p's socket buffer pages (the
 * pages mapped read-write into it that the driver does not own). */
struct flow_bytes {
  struct mem *m;
  uint32_t flow;
  uint64_t n;
};
static void flow_run(void *ctx, uint64_t paddr, uint32_t len, uint32_t id) {
  (void)paddr;
  struct flow_bytes *fb = ctx;
  const struct mem_label *l = mem_label(fb->m, id);
  if ((l->prov.kind == MEM_LABEL_PKT_HEADER || l->prov.kind == MEM_LABEL_PKT_PAYLOAD) && l->prov.flow == fb->flow)
    fb->n += len;
}
static uint64_t mapped_flow_bytes(struct rig *r, unsigned p, uint32_t flow) {
  struct flow_bytes fb = {.m = r->m, .flow = flow};
  for (uint64_t pfn = 0; pfn < mem_pages(r->m); pfn++)
    if (mem_page_mapping(r->m, pfn, p) != MEM_MAP_NONE)
      mem_label_runs(r->m, pfn << MEM_PAGE_SHIFT, MEM_PAGE_SIZE, flow_run, &fb);
  return fb.n;
}

START_TEST(default_program_runs_no_xdp_on_a_copy_queue) {
  struct driver_params dp;
  params(&dp);
  struct rig r;
  rig_init(&r, &dp, NULL);
  send(&r, 0, 5001);
  send(&r, 1, 5001);
  ck_assert_uint_eq(driver_stats(r.d)->xdp_runs, 0);
  ck_assert_uint_eq(driver_stats(r.d)->stack_packets, 2);
  rig_free(&r);
}
END_TEST

START_TEST(default_program_redirects_the_app_on_a_zero_copy_queue) {
  struct driver_params dp;
  params(&dp);
  dp.zero_copy = 1;
  dp.zc_queues = 1;
  struct rig r;
  rig_init(&r, &dp, NULL);
  send(&r, 0, 5001);
  send(&r, 1, 5001);
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->xdp_runs, 2);
  ck_assert_uint_eq(st->xdp_redirect_in_place, 1); /* the application's frame */
  ck_assert_uint_eq(st->xdp_pass, 1);              /* the other one, up the stack */
  ck_assert_uint_eq(st->zc_packets, 1);
  ck_assert_uint_eq(st->stack_packets, 1);
  rig_free(&r);
}
END_TEST

START_TEST(configured_program_runs_on_a_copy_queue_and_costs_per_rule) {
  struct driver_params dp;
  params(&dp);
  struct rig r;
  rig_init(&r, &dp, "pass tuple dport=7; pass");
  send(&r, 1, 5001); /* warm: the same page and IOTLB state for the two below */
  uint64_t c0 = cpu_total(&r.cpu);
  send(&r, 1, 7); /* the first rule: one tried */
  uint64_t c1 = cpu_total(&r.cpu);
  send(&r, 1, 5001); /* the second: two tried */
  uint64_t c2 = cpu_total(&r.cpu);
  ck_assert_uint_eq(driver_stats(r.d)->xdp_runs, 3);
  ck_assert_uint_eq(driver_stats(r.d)->xdp_pass, 3);
  ck_assert_uint_eq(driver_stats(r.d)->stack_packets, 3);
  ck_assert_uint_eq(c2 - c1, c1 - c0 + r.cpu.costs.xdp_rule);
  ck_assert_uint_eq(xdp_prog_hits(r.prog, 0), 1);
  ck_assert_uint_eq(xdp_prog_hits(r.prog, 1), 2);
  rig_free(&r);
}
END_TEST

START_TEST(drop_recycles_at_once_and_delivers_nothing) {
  struct driver_params dp;
  params(&dp);
  struct rig r;
  rig_init(&r, &dp, "drop udp dst port 53");
  uint32_t avail = page_pool_available(driver_pool(r.d, 0));
  send(&r, 1, 53);
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->xdp_drop, 1);
  ck_assert_uint_eq(st->delivered_packets, 0);
  ck_assert_uint_eq(st->stack_packets, 0);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 0);
  ck_assert_uint_eq(page_pool_available(driver_pool(r.d, 0)), avail); /* refilled from the page it gave back */
  send(&r, 1, 54);
  ck_assert_uint_eq(st->xdp_pass, 1);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 1);
  rig_free(&r);
}
END_TEST

START_TEST(redirect_on_a_copy_queue_copies_into_the_principal) {
  struct driver_params dp;
  params(&dp);
  struct rig r;
  /* Another principal's flow to the application: a copy-mode XSK. */
  rig_init(&r, &dp, "redirect app tuple dst=10.0.0.1");
  send(&r, 1, 5001);
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->xdp_redirect, 1);
  ck_assert_uint_eq(st->xdp_redirect_copy, 1);
  ck_assert_uint_eq(st->xdp_redirect_in_place, 0);
  ck_assert_uint_eq(st->stack_packets, 0);
  ck_assert_uint_eq(st->delivered_packets, 1);
  ck_assert_uint_eq(user_stats(r.users[APP])->packets, 1);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 0);
  /* The whole frame, headers too, is in the application's memory. */
  ck_assert_uint_eq(mapped_flow_bytes(&r, APP, 1), 600);
  ck_assert_uint_eq(mapped_flow_bytes(&r, OTHER, 1), 0);
  rig_free(&r);
}
END_TEST

START_TEST(redirect_on_a_zero_copy_queue_hands_over_in_place) {
  struct driver_params dp;
  params(&dp);
  dp.zero_copy = 1;
  dp.zc_queues = 1;
  dp.app_map_per_packet = 1;
  struct rig r;
  rig_init(&r, &dp, "redirect app tuple dst=10.0.0.1; redirect other tuple dst=10.0.0.0");
  send(&r, 1, 5001); /* other's flow, to the app: in place */
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->xdp_redirect_in_place, 1);
  ck_assert_uint_eq(st->zc_packets, 1);
  ck_assert_uint_eq(st->app_maps, 1);
  send(&r, 0, 5001); /* the app's flow, to other: other has no zero-copy memory, so a copy */
  ck_assert_uint_eq(st->xdp_redirect_copy, 1);
  ck_assert_uint_eq(user_stats(r.users[OTHER])->packets, 1);
  ck_assert_uint_eq(mapped_flow_bytes(&r, OTHER, 0), 600);
  rig_free(&r);
}
END_TEST

START_TEST(actions_on_the_af_xdp_queue) {
  struct driver_params dp;
  params(&dp);
  dp.xsk_mode = DRIVER_XSK_AF_XDP;
  dp.xsk_queue = 0;
  struct rig r;
  rig_init(&r, &dp, "drop tuple dport=53; redirect app tuple dst=10.0.0.2; pass");
  send(&r, 1, 53);   /* XDP_DROP: xsk_buff_free */
  const struct driver_stats *st = driver_stats(r.d);
  ck_assert_uint_eq(st->xdp_drop, 1);
  ck_assert_uint_eq(st->xsk_buff_free, 1);
  ck_assert_uint_eq(st->copy_out_packets, 0);
  send(&r, 2, 5001); /* another flow redirected to the socket's RX ring, in place */
  ck_assert_uint_eq(st->xdp_redirect_in_place, 1);
  ck_assert_uint_eq(st->rx_ring, 1);
  send(&r, 0, 5001); /* the application's own flow, no rule: XDP_PASS copies it out */
  ck_assert_uint_eq(st->xdp_pass, 1);
  ck_assert_uint_eq(st->copy_out_packets, 1);
  ck_assert_uint_eq(st->stack_packets, 1);
  struct driver_umem_state u;
  ck_assert_int_eq(driver_umem_state(r.d, &u), 0);
  ck_assert_uint_eq(u.fill + u.free_list + u.posted + u.held, u.chunks);
  rig_free(&r);
}
END_TEST

/* ---- the hostile reader ---- */

static int entitled_flow0(void *ctx, unsigned p, const struct mem_label *l) {
  (void)ctx;
  if (l->prov.kind == MEM_LABEL_USER)
    return l->prov.principal == p;
  return l->prov.flow == 0; /* packet kinds: flow 0 is the reader's */
}

START_TEST(hostile_reader_reads_what_is_mapped_and_written) {
  char err[256];
  struct mem *m = mem_new(1ull << 20);
  struct cpu cpu;
  cpu_init(&cpu, 4.0);
  struct user *u = user_new(m, &cpu, APP, 1, err, sizeof err);
  ck_assert(u != NULL);
  ck_assert_int_eq(user_hostile_read_start(u, entitled_flow0, NULL, NULL, NULL), 0);
  /* Its own zero-filled socket page, read at once: nothing foreign. */
  const struct user_read_stats *rs = user_read_stats(u);
  ck_assert_uint_eq(rs->reads, 1);
  ck_assert_uint_eq(rs->bytes, MEM_PAGE_SIZE);
  ck_assert_uint_eq(rs->foreign_flow_bytes + rs->kernel_private_bytes + rs->stale_bytes, 0);
  /* A page holding another flow's packet and pre-simulation data, then mapped. */
  uint64_t pfn;
  ck_assert_int_eq(mem_page_alloc(m, &pfn), 0);
  struct mem_accessor dev = {.actor = MEM_ACTOR_DEVICE, .id = RID};
  struct mem_prov p1 = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = 1, .packet = 7};
  uint8_t data[100];
  memset(data, 'x', sizeof data);
  mem_write(m, dev, pfn << MEM_PAGE_SHIFT, data, 100, &p1);
  mem_page_map(m, pfn, APP, MEM_MAP_RO);
  ck_assert_uint_eq(rs->reads, 2);
  ck_assert_uint_eq(rs->foreign_flow_bytes, 100);
  ck_assert_uint_eq(rs->kernel_private_bytes, MEM_PAGE_SIZE - 100);
  /* Written while mapped: those bytes read right after. Its own flow's are not foreign. */
  struct mem_prov p0 = {.kind = MEM_LABEL_PKT_PAYLOAD, .flow = 0, .packet = 8};
  mem_write(m, dev, (pfn << MEM_PAGE_SHIFT) + 200, data, 50, &p0);
  ck_assert_uint_eq(rs->reads, 3);
  ck_assert_uint_eq(rs->bytes, 2 * MEM_PAGE_SIZE + 50);
  ck_assert_uint_eq(rs->foreign_flow_bytes, 100);
  /* A new use of the page: what it held is stale when mapped again. */
  mem_page_map(m, pfn, APP, MEM_MAP_NONE);
  mem_page_new_epoch(m, pfn);
  mem_write(m, dev, pfn << MEM_PAGE_SHIFT, data, 10, &p1); /* not mapped: not read */
  ck_assert_uint_eq(rs->reads, 3);
  mem_page_map(m, pfn, APP, MEM_MAP_RO);
  ck_assert_uint_eq(rs->foreign_flow_bytes, 110);
  ck_assert_uint_eq(rs->stale_bytes, 90);
  ck_assert_uint_eq(rs->faults, 0);
  user_free(u);
  mem_free(m);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("xdp");
  TCase *tc = tcase_create("rules");
  tcase_add_test(tc, split_accepts_brackets_and_semicolons);
  tcase_add_test(tc, rules_good_and_bad);
  tcase_add_test(tc, scenario_key_messages_name_key_rule_and_problem);
  tcase_add_test(tc, first_matching_rule_wins);
  suite_add_tcase(s, tc);
  tc = tcase_create("driver");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, default_program_runs_no_xdp_on_a_copy_queue);
  tcase_add_test(tc, default_program_redirects_the_app_on_a_zero_copy_queue);
  tcase_add_test(tc, configured_program_runs_on_a_copy_queue_and_costs_per_rule);
  tcase_add_test(tc, drop_recycles_at_once_and_delivers_nothing);
  tcase_add_test(tc, redirect_on_a_copy_queue_copies_into_the_principal);
  tcase_add_test(tc, redirect_on_a_zero_copy_queue_hands_over_in_place);
  tcase_add_test(tc, actions_on_the_af_xdp_queue);
  tcase_add_test(tc, hostile_reader_reads_what_is_mapped_and_written);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
