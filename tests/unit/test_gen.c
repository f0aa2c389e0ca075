/*
 * traces/gen.c: the generated trace reads back as asked (count, sizes,
 * timestamps at the rate, markers, flow weights, checksums), is
 * deterministic per seed, and bad parameters are refused.
 */
#include <check.h>
#include <sys/resource.h>
#include <signal.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow.h"
#include "gen.h"
#include "trace.h"

#define SAMPLE NICSIM_SOURCE_DIR "/traces/samples/mixed.pcap"
/* traces/samples/README.md: the application's flow (generator flow 0) */
#define SAMPLE_FLOW0 "udp 10.103.128.7:49437 > 10.0.1.1:4000"
#define SAMPLE_FLOW0_BYTES 64542u

static char err[1024];

static void tmp_path(char *buf, size_t n) {
  const char *dir = getenv("TMPDIR");
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  snprintf(buf, n, "%s/nicsim_test_gen_XXXXXX", dir);
  int fd = mkstemp(buf);
  ck_assert_int_ge(fd, 0);
  close(fd);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "%s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static int same_file(const char *a, const char *b) {
  size_t na, nb;
  uint8_t *x = slurp(a, &na), *y = slurp(b, &nb);
  int same = na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

static uint32_t csum_add(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2)
    acc += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1)
    acc += (uint32_t)p[n - 1] << 8;
  return acc;
}
static uint16_t csum_fold(uint32_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/* The tuples gen_write uses, from gen_flow_key (NULL for many flows: the
 * frames are then told apart by their markers). */
static struct flow_key *expected_keys(const struct gen_params *p) {
  if (p->flows > 64)
    return NULL;
  struct flow_key *k = calloc(p->flows, sizeof *k);
  ck_assert_ptr_nonnull(k);
  for (uint32_t i = 0; i < p->flows; i++)
    ck_assert_msg(gen_flow_key(p, i, &k[i], err, sizeof err) == 0, "%s", err);
  return k;
}

/* The flow id in a marker at the start of the payload, or -1 when too few
 * bytes of it are there ("<flow " and at least 4 digits). */
static long marker_flow(const uint8_t *pay, uint32_t plen) {
  if (plen < 10 || memcmp(pay, "<flow ", 6) != 0)
    return -1;
  long v = 0;
  uint32_t i = 6;
  while (i < plen && pay[i] >= '0' && pay[i] <= '9')
    v = v * 10 + (pay[i++] - '0');
  return i >= 10 ? v : -1;
}

/* What a generated frame must look like; returns the generator's flow id. */
static uint32_t check_frame(const struct trace_record *r, uint32_t flows,
                            const struct flow_key *keys) {
  struct flow_parse p;
  ck_assert_int_eq(flow_parse(r->data, r->caplen, &p), 0);
  ck_assert_uint_eq(r->caplen, r->origlen);
  ck_assert_uint_eq(p.vlan_tags, 0);
  ck_assert_uint_eq(p.key.proto, 17);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  /* client port from Linux's ephemeral range, to the service port */
  ck_assert_uint_ge(p.key.sport, 32768);
  ck_assert_uint_le(p.key.sport, 60999);
  ck_assert_uint_eq(p.key.dport, 4000);
  ck_assert_int_eq(memcmp(r->data, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12), 0);
  const uint8_t *ip = r->data + p.l3_offset;
  const uint8_t *udp = r->data + p.l4_offset;
  uint32_t udp_len = r->caplen - p.l4_offset;
  ck_assert_uint_eq((uint32_t)(udp[4] << 8 | udp[5]), udp_len);
  uint32_t acc;
  if (p.key.af == FLOW_AF_INET) {
    ck_assert_uint_eq(p.l4_offset, 34);
    ck_assert_uint_eq(csum_fold(csum_add(0, ip, 20)), 0xffff); /* header checksum */
    ck_assert_uint_eq((uint32_t)(ip[2] << 8 | ip[3]), r->caplen - 14);
    ck_assert_int_eq(memcmp(p.key.dst, "\x0a\x00\x01\x01", 4), 0);
    /* a client in 10/8, not in the server's /24, not .0 or .255 */
    ck_assert_uint_eq(p.key.src[0], 10);
    ck_assert(!(p.key.src[1] == 0 && p.key.src[2] == 1));
    ck_assert(p.key.src[3] != 0 && p.key.src[3] != 255);
    acc = csum_add(0, ip + 12, 8) + 17 + udp_len;
  } else {
    ck_assert_uint_eq(p.key.af, FLOW_AF_INET6);
    ck_assert_uint_eq(p.l4_offset, 54);
    ck_assert_uint_eq((uint32_t)(ip[4] << 8 | ip[5]), udp_len);
    static const uint8_t server[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t zero8[8] = {0};
    ck_assert_int_eq(memcmp(p.key.dst, server, 16), 0);
    ck_assert_int_eq(memcmp(p.key.src, server, 4), 0); /* 2001:db8::/32 */
    ck_assert_int_ne(memcmp(p.key.src, server, 8), 0); /* not the server's /64 */
    ck_assert_int_ne(memcmp(p.key.src + 8, zero8, 8), 0);
    acc = csum_add(0, ip + 8, 32) + 17 + udp_len;
  }
  ck_assert_uint_eq(csum_fold(csum_add(acc, udp, udp_len)), 0xffff); /* UDP checksum */
  const uint8_t *pay = r->data + p.payload_offset;
  uint32_t plen = r->caplen - p.payload_offset;
  long m = marker_flow(pay, plen);
  uint32_t flow = 0;
  if (m >= 0) {
    flow = (uint32_t)m;
  } else {
    ck_assert_msg(keys != NULL, "packet %llu: no marker and no tuples to compare",
                  (unsigned long long)r->index);
    while (flow < flows && memcmp(&keys[flow], &p.key, sizeof p.key) != 0)
      flow++;
  }
  ck_assert_uint_lt(flow, flows);
  if (keys != NULL) {
    char a[128], b[128];
    flow_key_format(&p.key, a, sizeof a);
    flow_key_format(&keys[flow], b, sizeof b);
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(p.key.ethertype, keys[flow].ethertype);
  }
  /* the payload: the marker over and over */
  char marker[64];
  int ml = snprintf(marker, sizeof marker, "<flow %04u pkt %010llu> ", (unsigned)flow,
                    (unsigned long long)r->index);
  ck_assert_int_eq(ml, flow < 10000 ? 27 : 27 + (flow >= 100000) + (flow >= 10000));
  uint32_t bad = 0;
  while (bad < plen && pay[bad] == (uint8_t)marker[bad % (uint32_t)ml])
    bad++;
  ck_assert_msg(bad == plen, "packet %llu: payload byte %u is not the marker",
                (unsigned long long)r->index, bad);
  return flow;
}

/* Wire bits of a frame of len bytes: FCS, preamble/SFD and gap added. */
static uint64_t wire_bits(uint32_t len) { return (uint64_t)(len + 4 + 20) * 8; }

struct readback {
  uint64_t packets;
  uint64_t bytes[64], pkts[64];
  uint64_t size_hist[3]; /* 60, 590, 1514 */
  uint64_t v6_packets;
};

/* Read the trace back and check every frame and every timestamp. */
static struct readback read_back(const struct gen_params *gp) {
  struct readback rb;
  memset(&rb, 0, sizeof rb);
  struct trace *t = trace_open(gp->path, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  struct flow_key *keys = expected_keys(gp);
  struct trace_record r;
  int rc;
  uint64_t bits = 0, prev_ps = 0;
  int64_t prev_sec = 0;
  uint32_t prev_nsec = 0;
  while ((rc = trace_next(t, &r, err, sizeof err)) == 1) {
    uint32_t flow = check_frame(&r, gp->flows, keys);
    if (flow < 64) {
      rb.bytes[flow] += r.origlen;
      rb.pkts[flow]++;
    }
    if (gp->imix) {
      ck_assert(r.caplen == 60 || r.caplen == 62 || r.caplen == 590 || r.caplen == 1514);
      rb.size_hist[r.caplen <= 62 ? 0 : r.caplen == 590 ? 1 : 2]++;
    } else if (r.data[12] == 0x08) {
      ck_assert_uint_eq(r.caplen, gp->size_bytes);
    } else {
      ck_assert_uint_eq(r.caplen, gp->size_bytes < 62 ? 62 : gp->size_bytes);
    }
    rb.v6_packets += r.data[12] == 0x86;
    /* the timestamp: 1700000000 s + round(bits / rate) ns */
    uint64_t ns = (uint64_t)((double)bits / gp->rate_gbps + 0.5);
    ck_assert_int_eq(r.ts_sec, 1700000000 + (int64_t)(ns / 1000000000u));
    ck_assert_uint_eq(r.ts_nsec, ns % 1000000000u);
    if (r.index > 0) { /* never backwards */
      ck_assert(r.ts_sec > prev_sec || (r.ts_sec == prev_sec && r.ts_nsec >= prev_nsec));
      ck_assert_uint_eq(r.ts_ps - prev_ps,
                        (uint64_t)((r.ts_sec - prev_sec) * 1000000000 +
                                   ((int64_t)r.ts_nsec - (int64_t)prev_nsec)) * 1000u);
    }
    prev_ps = r.ts_ps;
    prev_sec = r.ts_sec;
    prev_nsec = r.ts_nsec;
    bits += wire_bits(r.caplen);
    rb.packets++;
  }
  ck_assert_msg(rc == 0, "%s", err);
  trace_close(t);
  free(keys);
  return rb;
}

static struct gen_params params(const char *path) {
  struct gen_params p;
  gen_params_default(&p);
  p.path = path;
  return p;
}

START_TEST(defaults) {
  struct gen_params p;
  memset(&p, 0x5a, sizeof p);
  gen_params_default(&p);
  ck_assert_uint_eq(p.flows, 8);
  ck_assert_uint_eq(p.packets, 1000);
  ck_assert_uint_eq(p.size_bytes, 512);
  ck_assert_int_eq(p.imix, 0);
  ck_assert(p.rate_gbps == 10.0);
  ck_assert_uint_eq(p.seed, 1);
  ck_assert(p.ipv6_fraction == 0.0);
}
END_TEST

START_TEST(fixed_size_reads_back) {
  char path[512];
  tmp_path(path, sizeof path);
  struct gen_params p = params(path);
  p.flows = 5;
  p.packets = 2000;
  p.size_bytes = 300;
  p.rate_gbps = 7.5;
  p.seed = 99;
  ck_assert_msg(gen_write(&p, err, sizeof err) == 0, "%s", err);
  struct readback rb = read_back(&p);
  ck_assert_uint_eq(rb.packets, 2000);
  ck_assert_uint_eq(rb.v6_packets, 0);
  /* weights 1/(i+1): every flow present, flow 0 the most bytes, and more
   * than flow 4 by a wide margin */
  for (int i = 0; i < 5; i++)
    ck_assert_uint_gt(rb.pkts[i], 0);
  for (int i = 1; i < 5; i++)
    ck_assert_uint_gt(rb.bytes[0], rb.bytes[i]);
  ck_assert_uint_gt(rb.pkts[0], 3 * rb.pkts[4]);
  /* flow 0 is the flow table's top flow too */
  struct trace *t = trace_open(path, err, sizeof err);
  struct flow_table *ft = flow_table_new();
  struct trace_record r;
  while (trace_next(t, &r, err, sizeof err) == 1) {
    struct flow_parse fp;
    flow_parse(r.data, r.caplen, &fp);
    flow_table_add(ft, &fp.key, r.origlen);
  }
  ck_assert_uint_eq(flow_table_count(ft), 5);
  struct flow_key k0;
  ck_assert_int_eq(gen_flow_key(&p, 0, &k0, err, sizeof err), 0);
  ck_assert_int_eq(memcmp(&flow_table_get(ft, flow_table_top_by_bytes(ft))->key, &k0, sizeof k0),
                   0);
  flow_table_free(ft);
  trace_close(t);
  unlink(path);
}
END_TEST

/* Rates where the spacing is a whole number of nanoseconds: check it. */
START_TEST(spacing_exact) {
  char path[512];
  tmp_path(path, sizeof path);
  static const struct {
    uint32_t size;
    double rate;
    uint64_t gap_ns;
  } cases[] = {
      {1226, 10.0, 1000}, /* (1226+24)*8 = 10000 bits at 10 Gb/s */
      {60, 1.0, 672},     /* 84 B on the wire at 1 Gb/s */
      {1476, 100.0, 120}, /* 1500 B at 100 Gb/s */
      {9000, 25.0, 2887}, /* 72192 bits / 25 = 2887.68: rounded per frame */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    struct gen_params p = params(path);
    p.flows = 3;
    p.packets = 500;
    p.size_bytes = cases[c].size;
    p.rate_gbps = cases[c].rate;
    ck_assert_msg(gen_write(&p, err, sizeof err) == 0, "%s", err);
    struct trace *t = trace_open(path, err, sizeof err);
    ck_assert_ptr_nonnull(t);
    struct trace_record r, prev;
    uint64_t n = 0, total_ns = 0;
    while (trace_next(t, &r, err, sizeof err) == 1) {
      if (n == 0) {
        ck_assert_int_eq(r.ts_sec, 1700000000);
        ck_assert_uint_eq(r.ts_nsec, 0);
      } else {
        uint64_t gap_ps = r.ts_ps - prev.ts_ps;
        int64_t gap_ns = (r.ts_sec - prev.ts_sec) * 1000000000 + (int64_t)r.ts_nsec - (int64_t)prev.ts_nsec;
        ck_assert_uint_eq(gap_ps, (uint64_t)gap_ns * 1000);
        if (c < 3)
          ck_assert_uint_eq(gap_ns, cases[c].gap_ns);
        else
          ck_assert(gap_ns == 2887 || gap_ns == 2888);
        total_ns += (uint64_t)gap_ns;
      }
      prev = r;
      n++;
    }
    ck_assert_uint_eq(n, 500);
    if (c == 3) /* 499 gaps of 2887.68 ns, rounded once at the end */
      ck_assert_uint_eq(total_ns, (uint64_t)(499 * 72192 / 25.0 + 0.5));
    trace_close(t);
  }
  unlink(path);
}
END_TEST

/* Many flows: each its own client address and port (tuples are drawn
 * again on a repeat), scattered over 10/8 and the ephemeral ports. */
START_TEST(many_flows) {
  char path[512];
  tmp_path(path, sizeof path);
  struct gen_params p = params(path);
  p.flows = 200000;
  p.packets = 20000;
  p.size_bytes = 60;
  p.seed = 5;
  ck_assert_msg(gen_write(&p, err, sizeof err) == 0, "%s", err);
  struct readback rb = read_back(&p); /* checks every frame's tuple and marker */
  ck_assert_uint_eq(rb.packets, 20000);
  struct trace *t = trace_open(path, err, sizeof err);
  struct trace_record r;
  uint8_t *seen = calloc(p.flows, 1);
  uint8_t nets[256] = {0}, ports[64] = {0};
  uint32_t distinct = 0, high = 0, nnets = 0, nports = 0;
  struct flow_table *ft = flow_table_new();
  while (trace_next(t, &r, err, sizeof err) == 1) {
    struct flow_parse fp;
    flow_parse(r.data, r.caplen, &fp);
    long f = marker_flow(r.data + fp.payload_offset, r.caplen - fp.payload_offset);
    ck_assert_int_ge(f, 0);
    high += f >= 100000;
    distinct += !seen[f];
    seen[f] = 1;
    nnets += !nets[fp.key.src[1]];
    nets[fp.key.src[1]] = 1;
    nports += !ports[(fp.key.sport - 32768) / 512];
    ports[(fp.key.sport - 32768) / 512] = 1;
    flow_table_add(ft, &fp.key, r.origlen);
  }
  ck_assert_uint_gt(high, 0);
  ck_assert_uint_eq(flow_table_count(ft), distinct); /* one 5-tuple per flow */
  ck_assert_uint_ge(nnets, 250);                     /* the second byte: all over 10/8 */
  ck_assert_uint_eq(nports, (60999 - 32768) / 512 + 1); /* every 512-port stretch */
  /* the tuples of the first frames are gen_flow_key's for their flows */
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    struct flow_parse fp;
    flow_parse(r.data, r.caplen, &fp);
    long f = marker_flow(r.data + fp.payload_offset, r.caplen - fp.payload_offset);
    struct flow_key k;
    ck_assert_int_eq(gen_flow_key(&p, (uint32_t)f, &k, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(&k, &fp.key, sizeof k), 0);
  }
  flow_table_free(ft);
  free(seen);
  trace_close(t);
  unlink(path);
}
END_TEST

START_TEST(imix_and_ipv6) {
  char path[512];
  tmp_path(path, sizeof path);
  struct gen_params p = params(path);
  p.flows = 4;
  p.packets = 12000;
  p.imix = 1;
  p.size_bytes = 0;
  p.rate_gbps = 40;
  p.seed = 3;
  p.ipv6_fraction = 0.5; /* flows 1 and 3 */
  ck_assert_msg(gen_write(&p, err, sizeof err) == 0, "%s", err);
  struct readback rb = read_back(&p);
  ck_assert_uint_eq(rb.packets, 12000);
  /* 7:4:1 of 12000 is 7000:4000:1000; allow sampling noise */
  ck_assert_uint_lt(rb.size_hist[0] > 7000 ? rb.size_hist[0] - 7000 : 7000 - rb.size_hist[0], 300);
  ck_assert_uint_lt(rb.size_hist[1] > 4000 ? rb.size_hist[1] - 4000 : 4000 - rb.size_hist[1], 300);
  ck_assert_uint_lt(rb.size_hist[2] > 1000 ? rb.size_hist[2] - 1000 : 1000 - rb.size_hist[2], 200);
  ck_assert_uint_eq(rb.v6_packets, rb.pkts[1] + rb.pkts[3]);
  /* which flows are IPv6 does not depend on the seed (read_back matched
   * every frame with gen_flow_key's tuple) */
  for (uint64_t seed = 3; seed < 6; seed++) {
    p.seed = seed;
    for (uint32_t f = 0; f < 4; f++) {
      struct flow_key k;
      ck_assert_int_eq(gen_flow_key(&p, f, &k, err, sizeof err), 0);
      ck_assert_uint_eq(k.af, (f % 2) ? FLOW_AF_INET6 : FLOW_AF_INET);
    }
  }
  p.seed = 3;
  /* all IPv6: sizes of at least 62 */
  p.ipv6_fraction = 1.0;
  p.packets = 300;
  ck_assert_msg(gen_write(&p, err, sizeof err) == 0, "%s", err);
  rb = read_back(&p);
  ck_assert_uint_eq(rb.v6_packets, 300);
  unlink(path);
}
END_TEST

START_TEST(deterministic) {
  char a[512], b[512];
  tmp_path(a, sizeof a);
  tmp_path(b, sizeof b);
  struct gen_params p = params(a);
  p.imix = 1;
  p.flows = 7;
  p.packets = 3000;
  p.seed = 12345;
  p.ipv6_fraction = 0.3;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  p.path = b;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  ck_assert(same_file(a, b));
  p.seed = 12346;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  ck_assert(!same_file(a, b));
  /* fixed size too: the flow sequence depends on the seed */
  p.imix = 0;
  p.size_bytes = 100;
  p.seed = 1;
  p.path = a;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  p.seed = 2;
  p.path = b;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  ck_assert(!same_file(a, b));
  unlink(a);
  unlink(b);
}
END_TEST

/* ---- RSS: the tuples spread over the queues as real traffic does ---- */

/* Microsoft's RSS key (the 82599's and Linux's default before 2014) and the
 * Toeplitz hash, checked against Microsoft's "Verifying the RSS Hash
 * Calculation" example below, so the test cannot drift from real RSS. */
static const uint8_t rss_key[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

static uint32_t toeplitz(const uint8_t *in, size_t len) {
  uint32_t h = 0;
  for (size_t i = 0; i < len * 8; i++) {
    if (!(in[i / 8] & (0x80u >> (i % 8))))
      continue;
    uint32_t w = 0; /* the 32 key bits starting at bit i */
    for (int j = 0; j < 32; j++) {
      size_t b = i + (size_t)j;
      w = w << 1 | (b < 320 ? (rss_key[b / 8] >> (7 - b % 8)) & 1u : 0u);
    }
    h ^= w;
  }
  return h;
}

/* The queue of a 5-tuple: 128-entry indirection table filled round-robin
 * over nqueues queues, as the NIC model and Linux's default do. */
static unsigned rss_queue(const struct flow_key *k, unsigned nqueues) {
  uint8_t in[36];
  size_t a = k->af == FLOW_AF_INET ? 4 : 16, n = 0;
  memcpy(in, k->src, a);
  memcpy(in + a, k->dst, a);
  n = 2 * a;
  in[n++] = (uint8_t)(k->sport >> 8), in[n++] = (uint8_t)k->sport;
  in[n++] = (uint8_t)(k->dport >> 8), in[n++] = (uint8_t)k->dport;
  return (toeplitz(in, n) & 127) % nqueues;
}

START_TEST(rss_spread) {
  /* Microsoft's example: 66.9.149.187:2794 -> 161.142.100.80:1766 */
  static const uint8_t ms[12] = {66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
  ck_assert_uint_eq(toeplitz(ms, 12), 0x51ccc178);
  ck_assert_uint_eq(toeplitz(ms, 8), 0x323e8fc2);

  /* 64 flows of one seed over 4 queues: every queue gets a fair share */
  struct gen_params p;
  gen_params_default(&p);
  p.flows = 64;
  for (uint64_t seed = 1; seed <= 3; seed++) {
    p.seed = seed;
    for (int v6 = 0; v6 <= 1; v6++) {
      p.ipv6_fraction = v6;
      unsigned per[4] = {0, 0, 0, 0};
      for (uint32_t i = 0; i < p.flows; i++) {
        struct flow_key k;
        ck_assert_int_eq(gen_flow_key(&p, i, &k, err, sizeof err), 0);
        per[rss_queue(&k, 4)]++;
      }
      for (int q = 0; q < 4; q++)
        ck_assert_msg(per[q] >= 8, "seed %llu v6 %d: queue %d has %u of 64 flows",
                      (unsigned long long)seed, v6, q, per[q]);
    }
  }

  /* Why: lockstep tuples (the generator's old 10.0.0.(2+i):(5001+i) >
   * 10.0.1.1:4000) land on two of the four queues. */
  unsigned used = 0;
  for (uint32_t i = 0; i < 12; i++) {
    struct flow_key k;
    memset(&k, 0, sizeof k);
    k.af = FLOW_AF_INET;
    k.proto = 17;
    memcpy(k.src, (uint8_t[]){10, 0, 0, (uint8_t)(2 + i)}, 4);
    memcpy(k.dst, (uint8_t[]){10, 0, 1, 1}, 4);
    k.sport = (uint16_t)(5001 + i);
    k.dport = 4000;
    used |= 1u << rss_queue(&k, 4);
  }
  ck_assert_uint_eq(__builtin_popcount(used), 2);
}
END_TEST

/* zc-dedicated-queue-rss-leak (mission.md C9) steers the application's flow
 * (flow 0, the most bytes) to queue 3 but leaves queue 3 in the RSS table
 * over queues 0..3: it can only show a leak when another flow hashes to
 * queue 3. True for the bundled sample and for replay_outcomes.sh's trace. */
START_TEST(rss_leak_traces_share_queue_3) {
  static const struct {
    uint32_t flows;
    uint64_t seed;
  } traces[] = {{12, 1}, {16, 3}};
  for (size_t t = 0; t < 2; t++) {
    struct gen_params p;
    gen_params_default(&p);
    p.flows = traces[t].flows;
    p.seed = traces[t].seed;
    unsigned others_on_3 = 0;
    for (uint32_t i = 1; i < p.flows; i++) {
      struct flow_key k;
      ck_assert_int_eq(gen_flow_key(&p, i, &k, err, sizeof err), 0);
      others_on_3 += rss_queue(&k, 4) == 3;
    }
    ck_assert_msg(others_on_3 > 0, "%u flows, seed %llu: no other flow on queue 3",
                  (unsigned)p.flows, (unsigned long long)p.seed);
  }
}
END_TEST

/* The tuples depend on the flow count, seed and IPv6 share only; the frames'
 * flows and sizes depend on the seed only, not on the tuples. */
START_TEST(tuples_deterministic) {
  struct gen_params a, b;
  gen_params_default(&a);
  a.flows = 20;
  a.seed = 77;
  b = a;
  b.packets = 5;
  b.imix = 1;
  b.rate_gbps = 1;
  for (uint32_t i = 0; i < a.flows; i++) {
    struct flow_key ka, kb;
    ck_assert_int_eq(gen_flow_key(&a, i, &ka, err, sizeof err), 0);
    ck_assert_int_eq(gen_flow_key(&b, i, &kb, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(&ka, &kb, sizeof ka), 0);
    /* a flow's tuple does not change when flows are added after it */
    struct gen_params c = a;
    c.flows = 1000;
    ck_assert_int_eq(gen_flow_key(&c, i, &kb, err, sizeof err), 0);
    ck_assert_int_eq(memcmp(&ka, &kb, sizeof ka), 0);
  }
  struct flow_key k1, k2;
  b.seed = 78;
  ck_assert_int_eq(gen_flow_key(&a, 0, &k1, err, sizeof err), 0);
  ck_assert_int_eq(gen_flow_key(&b, 0, &k2, err, sizeof err), 0);
  ck_assert_int_ne(memcmp(&k1, &k2, sizeof k1), 0);
  /* errors */
  ck_assert_int_eq(gen_flow_key(&a, 20, &k1, err, sizeof err), -1);
  ck_assert_str_eq(err, "gen: flow 20 does not exist (20 flows)");
  a.flows = 0;
  ck_assert_int_eq(gen_flow_key(&a, 0, &k1, err, sizeof err), -1);
  ck_assert_str_eq(err, "gen: --flows 0 is out of range (1..1000000)");
  a.flows = 2;
  a.ipv6_fraction = 2;
  ck_assert_int_eq(gen_flow_key(&a, 0, &k1, err, sizeof err), -1);
  ck_assert_str_eq(err, "gen: --ipv6-share 2 is out of range (0..1)");

  /* the same seed with other tuples (an IPv6 share) keeps every frame's
   * flow: the markers' flow ids come out in the same order */
  char pa[512], pb[512];
  tmp_path(pa, sizeof pa);
  tmp_path(pb, sizeof pb);
  struct gen_params x = params(pa);
  x.flows = 6;
  x.packets = 400;
  x.size_bytes = 200;
  struct gen_params y = x;
  y.path = pb;
  y.ipv6_fraction = 0.5;
  ck_assert_int_eq(gen_write(&x, err, sizeof err), 0);
  ck_assert_int_eq(gen_write(&y, err, sizeof err), 0);
  struct trace *tx = trace_open(pa, err, sizeof err), *ty = trace_open(pb, err, sizeof err);
  struct trace_record rx, ry;
  int n = 0;
  while (trace_next(tx, &rx, err, sizeof err) == 1) {
    ck_assert_int_eq(trace_next(ty, &ry, err, sizeof err), 1);
    struct flow_parse fx, fy;
    flow_parse(rx.data, rx.caplen, &fx);
    flow_parse(ry.data, ry.caplen, &fy);
    ck_assert_int_eq(marker_flow(rx.data + fx.payload_offset, rx.caplen - fx.payload_offset),
                     marker_flow(ry.data + fy.payload_offset, ry.caplen - fy.payload_offset));
    n++;
  }
  ck_assert_int_eq(n, 400);
  trace_close(tx);
  trace_close(ty);
  unlink(pa);
  unlink(pb);
}
END_TEST

/* The bundled sample is what the generator writes with the parameters in
 * traces/samples/README.md (if this fails after a generator change,
 * regenerate the sample). */
START_TEST(bundled_sample) {
  char path[512];
  tmp_path(path, sizeof path);
  struct gen_params p = params(path);
  p.packets = 600;
  p.flows = 12;
  p.imix = 1;
  p.size_bytes = 0;
  p.rate_gbps = 10;
  p.seed = 1;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  ck_assert(same_file(path, SAMPLE));
  struct readback rb = read_back(&p);
  ck_assert_uint_eq(rb.packets, 600);
  for (int i = 1; i < 12; i++)
    ck_assert_uint_gt(rb.bytes[0], rb.bytes[i]);
  /* what traces/samples/README.md says of it */
  ck_assert_uint_eq(rb.bytes[0], SAMPLE_FLOW0_BYTES);
  struct flow_key k;
  ck_assert_int_eq(gen_flow_key(&p, 0, &k, err, sizeof err), 0);
  char buf[128];
  flow_key_format(&k, buf, sizeof buf);
  ck_assert_str_eq(buf, SAMPLE_FLOW0);
  unlink(path);
}
END_TEST

START_TEST(to_stdout) {
  char a[512], b[512];
  tmp_path(a, sizeof a);
  tmp_path(b, sizeof b);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    FILE *f = freopen(a, "wb", stdout);
    struct gen_params p = params("-");
    p.packets = 50;
    int rc = f != NULL ? gen_write(&p, err, sizeof err) : -1;
    fflush(stdout);
    _exit(rc == 0 ? 0 : 1);
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  struct gen_params p = params(b);
  p.packets = 50;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  ck_assert(same_file(a, b));
  unlink(a);
  unlink(b);
}
END_TEST

static void refused(struct gen_params p, const char *want) {
  char path[512];
  tmp_path(path, sizeof path);
  unlink(path);
  if (p.path != NULL)
    p.path = path;
  err[0] = '\0';
  ck_assert_int_eq(gen_write(&p, err, sizeof err), -1);
  ck_assert_str_eq(err, want);
  struct stat st;
  ck_assert_int_ne(stat(path, &st), 0); /* nothing written */
}

START_TEST(invalid_params) {
  struct gen_params p = params("x");
  p.size_bytes = 20;
  refused(p, "gen: --size 20 is out of range (60..9000 bytes)");
  p.size_bytes = 59;
  refused(p, "gen: --size 59 is out of range (60..9000 bytes)");
  p.size_bytes = 9001;
  refused(p, "gen: --size 9001 is out of range (60..9000 bytes)");
  p = params("x");
  p.flows = 0;
  refused(p, "gen: --flows 0 is out of range (1..1000000)");
  p.flows = 1000001;
  refused(p, "gen: --flows 1000001 is out of range (1..1000000)");
  p = params("x");
  p.packets = 0;
  refused(p, "gen: --packets 0 is out of range (at least 1)");
  p = params("x");
  p.rate_gbps = 0;
  refused(p, "gen: --rate-gbps 0 is out of range (more than 0, at most 1e6)");
  p.rate_gbps = -3;
  refused(p, "gen: --rate-gbps -3 is out of range (more than 0, at most 1e6)");
  p.rate_gbps = 2e6;
  refused(p, "gen: --rate-gbps 2e+06 is out of range (more than 0, at most 1e6)");
  p.rate_gbps = NAN;
  err[0] = '\0';
  p.path = "x";
  ck_assert_int_eq(gen_write(&p, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "gen: --rate-gbps "));
  p = params("x");
  p.ipv6_fraction = 1.5;
  refused(p, "gen: --ipv6-share 1.5 is out of range (0..1)");
  p.ipv6_fraction = -0.1;
  refused(p, "gen: --ipv6-share -0.1 is out of range (0..1)");
  p = params(NULL);
  refused(p, "gen: no output file given");
  /* imix ignores size_bytes; the edges of the range are fine */
  char path[512];
  tmp_path(path, sizeof path);
  p = params(path);
  p.packets = 1;
  p.imix = 1;
  p.size_bytes = 0;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  p.imix = 0;
  p.size_bytes = 60;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  p.size_bytes = 9000;
  ck_assert_int_eq(gen_write(&p, err, sizeof err), 0);
  struct readback rb = read_back(&p);
  ck_assert_uint_eq(rb.packets, 1);
  unlink(path);
}
END_TEST

/* A rate so slow that a frame would be stamped after 2106 (the end of
 * pcap's seconds) is refused with the frame's number, however slow:
 * 1e-300 Gb/s puts frame 1 some 10^302 ns later, past what 64 bits hold,
 * and must not wrap to a time at the start. */
START_TEST(slow_rates) {
  char path[512];
  tmp_path(path, sizeof path);
  unlink(path);
  struct gen_params p = params(path);
  p.packets = 5;
  p.flows = 1;
  p.size_bytes = 60; /* 672 bits a frame with preamble, gap and FCS */
  const double rates[] = {1e-15, 1e-300}; /* 1e-15: 6.72e8 s apart, frame 4 in 2109 */
  for (size_t i = 0; i < 2; i++) {
    p.rate_gbps = rates[i];
    err[0] = '\0';
    ck_assert_int_eq(gen_write(&p, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: packet %d would be stamped after 2106", path, i == 0 ? 4 : 1);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
    ck_assert_int_ne(access(path, F_OK), 0); /* nothing written */
  }
}
END_TEST

START_TEST(output_errors) {
  struct gen_params p = params("/nonexistent-dir/x.pcap");
  ck_assert_int_eq(gen_write(&p, err, sizeof err), -1);
  ck_assert_str_eq(err, "/nonexistent-dir/x.pcap: cannot write in its folder: No such file or directory");
  /* A write that fails half-way (a file size limit) leaves the file that
   * was there, whole, and no temporary beside it. */
  char path[600];
  snprintf(path, sizeof path, "%s/test-tmp/gen-keep-%ld.pcap", NICSIM_BINARY_DIR, (long)getpid());
  mkdir(NICSIM_BINARY_DIR "/test-tmp", 0777);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("old", f);
  fclose(f);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    struct rlimit rl = {8192, 8192};
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &rl);
    struct gen_params q = params(path);
    q.packets = 100000;
    _exit(gen_write(&q, err, sizeof err) == -1 && strstr(err, "File too large") ? 0 : 1);
  }
  int st;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char back[8] = "";
  f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(fgets(back, sizeof back, f));
  fclose(f);
  ck_assert_str_eq(back, "old");
  unlink(path);
  if (access("/dev/full", W_OK) == 0) {
    p = params("/dev/full");
    p.packets = 100000;
    ck_assert_int_eq(gen_write(&p, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "/dev/full: cannot write: ", 25) == 0, "got: %s", err);
  }
}
END_TEST

static Suite *gen_suite(void) {
  Suite *s = suite_create("gen");
  TCase *tc = tcase_create("gen");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, defaults);
  tcase_add_test(tc, fixed_size_reads_back);
  tcase_add_test(tc, spacing_exact);
  tcase_add_test(tc, many_flows);
  tcase_add_test(tc, imix_and_ipv6);
  tcase_add_test(tc, deterministic);
  tcase_add_test(tc, rss_spread);
  tcase_add_test(tc, rss_leak_traces_share_queue_3);
  tcase_add_test(tc, tuples_deterministic);
  tcase_add_test(tc, bundled_sample);
  tcase_add_test(tc, to_stdout);
  tcase_add_test(tc, invalid_params);
  tcase_add_test(tc, output_errors);
  tcase_add_test(tc, slow_rates);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(gen_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
