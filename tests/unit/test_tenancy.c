/*
 * test_tenancy: the flow the first pass logs for each record is the one
 * the replay would look up (tenancy_replay_flow against tenancy_lookup),
 * record by record, on captures with frames of no flow among them; and the
 * log is not offered where it would be wrong (evictions) or cost more than
 * looking up (few flows), or when turned off. The stack's socket of each
 * frame is its own tuple's.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "flow.h"
#include "gen.h"
#include "suite_run.h"
#include "system.h"
#include "tenancy.h"
#include "trace.h"

static char path[512];

static void gen(uint64_t packets, uint32_t flows) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/nicsim_test_tenancy_XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  close(fd);
  struct gen_params p;
  gen_params_default(&p);
  p.path = path;
  p.packets = packets;
  p.flows = flows;
  p.size_bytes = 60;
  char err[256];
  ck_assert_msg(gen_write(&p, err, sizeof err) == 0, "%s", err);
}

/* The capture at path again with a runt of 10 bytes (it parses as nothing)
 * after every 7th frame and an ARP request (a frame of no flow) after every
 * 11th: between frames whose flows the first pass adds a few frames late
 * (a table this large is fetched ahead). */
static void interleave_no_flow(void) {
  char ebuf[PCAP_ERRBUF_SIZE], out[sizeof path];
  ck_assert_int_lt(snprintf(out, sizeof out, "%.500s.arp", path), (int)sizeof out);
  pcap_t *in = pcap_open_offline(path, ebuf);
  ck_assert_msg(in != NULL, "%s", ebuf);
  pcap_dumper_t *d = pcap_dump_open(in, out);
  ck_assert_ptr_nonnull(d);
  static const uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06,
                                  0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 1, 10, 0, 0, 1,
                                  0, 0, 0, 0, 0, 0, 10, 0, 0, 2};
  struct pcap_pkthdr *h;
  const u_char *data;
  unsigned n = 0;
  while (pcap_next_ex(in, &h, &data) == 1) {
    pcap_dump((u_char *)d, h, data);
    struct pcap_pkthdr ah = *h;
    if (++n % 7 == 0) {
      ah.caplen = ah.len = 10;
      pcap_dump((u_char *)d, &ah, arp);
    }
    if (n % 11 == 0) {
      ah.caplen = ah.len = sizeof arp;
      pcap_dump((u_char *)d, &ah, arp);
    }
  }
  pcap_dump_close(d);
  pcap_close(in);
  unlink(path);
  snprintf(path, sizeof path, "%s", out);
}

/* Build the tenancy of capture f with trace.max_flows limit (0: the
 * default), then read the capture as the replay does: every record's
 * logged flow must be what a lookup gives. Returns how many records had
 * one (0: the log was not offered). */
static uint64_t logged_flows(const char *f, const char *limit, uint64_t *none_out) {
  struct config c;
  config_default(&c);
  char err[512];
  if (limit)
    ck_assert_msg(config_set(&c, "trace.max_flows", limit, err, sizeof err) == 0, "%s", err);
  struct trace *t = trace_open(f, err, sizeof err);
  ck_assert_msg(t != NULL, "%s: %s", f, err);
  struct replay_result *res = calloc(1, sizeof *res);
  ck_assert_ptr_nonnull(res);
  struct tenancy *tn = tenancy_new(&c, NULL, 0, t, 0, res, err, sizeof err);
  ck_assert_msg(tn != NULL, "%s: %s", f, err);
  uint64_t records = 0, known = 0, none = 0;
  struct trace_record r;
  int rc;
  while ((rc = trace_next(t, &r, err, sizeof err)) == 1) {
    uint32_t logged;
    int have = tenancy_replay_flow(tn, &logged);
    /* All or nothing: the log covers every record or none. */
    ck_assert_msg(records == 0 || have == (known > 0), "record %llu: the log stops in the middle",
                  (unsigned long long)records);
    records++;
    if (!have)
      continue;
    known++;
    struct flow_parse fp;
    int parsed = flow_parse(r.data, r.caplen, &fp) == 0;
    uint32_t want = parsed ? tenancy_lookup(tn, &fp, NULL) : UINT32_MAX;
    none += !parsed || fp.key.af == FLOW_AF_NONE;
    ck_assert_msg(logged == want, "%s record %llu: logged flow %u, looked up %u", f,
                  (unsigned long long)r.index, logged, want);
  }
  ck_assert_int_eq(rc, 0);
  uint32_t again;
  ck_assert_int_eq(tenancy_replay_flow(tn, &again), 0); /* past the end */
  ck_assert_uint_eq(records, res->trace_packets);
  if (none_out)
    *none_out = none;
  tenancy_free(tn);
  trace_close(t);
  free(res);
  return known;
}

/* A table that misses its memo: the log covers every record, through its
 * temporary file (more records than its buffer). */
START_TEST(many_flows_logged) {
  gen(150000, 1000000); /* 51,922 flows: more than the table fetches ahead from */
  ck_assert_uint_eq(logged_flows(path, NULL, NULL), 150000);
  setenv("NICSIM_FLOW_SPILL", "0", 1);
  ck_assert_uint_eq(logged_flows(path, NULL, NULL), 0);
  setenv("NICSIM_FLOW_SPILL", "1", 1);
  ck_assert_uint_eq(logged_flows(path, NULL, NULL), 150000);
  unsetenv("NICSIM_FLOW_SPILL");
  /* Flows evicted: an id names different flows over the pass. */
  ck_assert_uint_eq(logged_flows(path, "1024", NULL), 0);
  /* Frames of no flow among them keep their places in the log. */
  interleave_no_flow();
  uint64_t none = 0;
  ck_assert_uint_eq(logged_flows(path, NULL, &none), 150000 + 150000 / 7 + 150000 / 11);
  ck_assert_uint_eq(none, 150000 / 7 + 150000 / 11);
  unlink(path);
}
END_TEST

/* Few flows: the memo answers, the log is dropped before it needs a file. */
START_TEST(few_flows_looked_up) {
  gen(40000, 64);
  ck_assert_uint_eq(logged_flows(path, NULL, NULL), 0);
  unlink(path);
}
END_TEST

/* FNV-1a over a tuple as the stack's socket hash takes it: af, proto, src,
 * dst, sport, dport as stored. */
static uint32_t fnv_tuple(const struct flow_key *k) {
  uint8_t b[38];
  b[0] = k->af;
  b[1] = k->proto;
  memcpy(b + 2, k->src, 16);
  memcpy(b + 18, k->dst, 16);
  memcpy(b + 34, &k->sport, 2);
  memcpy(b + 36, &k->dport, 2);
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < sizeof b; i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

/* The stack's classification gives each frame the socket of its own tuple,
 * through the memo of tuples hashed lately: 52,000 flows over a memo of
 * 1,024 tuples repeat and collide in it. */
START_TEST(socket_of_each_tuple) {
  gen(150000, 1000000);
  struct config c;
  config_default(&c);
  char err[512];
  struct trace *t = trace_open(path, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  struct replay_result *res = calloc(1, sizeof *res);
  ck_assert_ptr_nonnull(res);
  struct tenancy *tn = tenancy_new(&c, NULL, 0, t, 0, res, err, sizeof err);
  ck_assert_msg(tn != NULL, "%s", err);
  struct trace_record r;
  uint64_t n = 0;
  while (trace_next(t, &r, err, sizeof err) == 1) {
    struct driver_pkt pk;
    struct flow_parse fp;
    ck_assert_int_eq(tenancy_classify(tn, r.data, r.caplen, &pk), 0);
    ck_assert_int_eq(flow_parse(r.data, r.caplen, &fp), 0);
    ck_assert_msg(pk.sock == fnv_tuple(&fp.key), "record %llu: socket %08x, its tuple's %08x",
                  (unsigned long long)r.index, pk.sock, fnv_tuple(&fp.key));
    n++;
  }
  ck_assert_uint_eq(n, 150000);
  /* Tuples that differ in one field only, each field in turn: IPv4 source
   * or destination, ports, protocol; IPv6 addresses in their first, middle
   * and last bytes. */
  for (unsigned field = 0; field < 8; field++)
    for (unsigned i = 0; i < 3000; i++) {
      uint8_t f[96] = {0}; /* IPv6 + UDP: 82 bytes */
      memset(f, 0x02, 12);                     /* MACs */
      int v6 = field >= 5;
      f[12] = v6 ? 0x86 : 0x08;
      f[13] = v6 ? 0xdd : 0x00;
      uint8_t *ip = f + 14, *l4, proto = field == 4 ? (i & 1 ? 6 : 17) : 17;
      uint32_t len;
      if (!v6) {
        ip[0] = 0x45;
        ip[3] = 48;
        ip[8] = 64;
        ip[9] = proto;
        uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 1, 0, 1};
        if (field == 0) { src[2] = (uint8_t)(i >> 8); src[3] = (uint8_t)i; }
        if (field == 1) { dst[2] = (uint8_t)(i >> 8); dst[3] = (uint8_t)i; }
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        l4 = ip + 20;
        len = 14 + 48;
      } else {
        ip[0] = 0x60;
        ip[5] = 28;
        ip[6] = proto;
        ip[7] = 64;
        ip[8] = 0x20;
        ip[24] = 0x20;
        unsigned at = field == 5 ? 1 : field == 6 ? 7 : 15; /* byte of the address that varies */
        ip[8 + at] ^= (uint8_t)i;
        ip[24 + at] ^= (uint8_t)(i >> 8);
        if (field == 7)
          ip[8 + 14] = (uint8_t)(i >> 8); /* the last bytes of the source */
        l4 = ip + 40;
        len = 14 + 40 + 28;
      }
      uint16_t sport = 1000, dport = 2000;
      if (field == 2) sport = (uint16_t)(1000 + i);
      if (field == 3) dport = (uint16_t)(2000 + i);
      l4[0] = (uint8_t)(sport >> 8); l4[1] = (uint8_t)sport;
      l4[2] = (uint8_t)(dport >> 8); l4[3] = (uint8_t)dport;
      if (proto == 6)
        l4[12] = 0x50;
      else
        l4[5] = 28;
      struct driver_pkt pk;
      struct flow_parse fp;
      ck_assert_int_eq(flow_parse(f, len, &fp), 0);
      ck_assert_int_eq(tenancy_classify(tn, f, len, &pk), 0);
      ck_assert_msg(pk.sock == fnv_tuple(&fp.key), "field %u, tuple %u: socket %08x, its tuple's %08x", field,
                    i, pk.sock, fnv_tuple(&fp.key));
    }
  tenancy_free(tn);
  trace_close(t);
  free(res);
  unlink(path);
}
END_TEST

/* Captures of the tests: short ones stay in memory, whatever their flows;
 * frames that parse as no flow (ARP, 802.11...) are among them. */
START_TEST(test_captures) {
  const char *caps[] = {"traces/samples/mixed.pcap", "tests/captures/tcpreplay/test/test.pcap",
                        "tests/captures/zeek/testing/btest/Traces/var-services-std-ports.pcap",
                        "tests/captures/zeek/testing/btest/Traces/mixed-vlan-mpls.pcap"};
  uint64_t none_all = 0;
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    char f[1024];
    snprintf(f, sizeof f, "%s/%s", NICSIM_SOURCE_DIR, caps[i]);
    uint64_t none = 0;
    ck_assert_uint_gt(logged_flows(f, NULL, &none), 0);
    none_all += none;
  }
  ck_assert_uint_gt(none_all, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tenancy");
  TCase *tc = tcase_create("flow log");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, many_flows_logged);
  tcase_add_test(tc, few_flows_looked_up);
  tcase_add_test(tc, test_captures);
  tcase_add_test(tc, socket_of_each_tuple);
  suite_add_tcase(s, tc);
  return suite_run_forked(s);
}
