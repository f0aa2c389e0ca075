/*
 * nic: receive steering and MAC timing (nic.h).
 *
 * The Toeplitz hash against Microsoft's "Verifying the RSS Hash Calculation"
 * known answers (the same table as the 82599 datasheet's RSS verification
 * suite), the 82599 RSS input (addresses, then ports for TCP/UDP), ntuple
 * rules that win over RSS in both directions of a tuple, an indirection
 * table that spreads over exactly the RSS queues, non-IP to the default
 * queue, and line timing of the MAC (preamble, FCS and inter-frame gap).
 *
 * nic_new creates SystemC events, so every test runs in its own process
 * (Check's default fork mode) and calls simk_init first.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "flow.h"
#include "iommu.h"
#include "mem.h"
#include "nic.h"
#include "simk.h"

static const uint8_t ms_key[NIC_RSS_KEY_BYTES] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

/* Microsoft's IPv4 table: source, destination, ports, IPv4-only hash, with TCP. */
static const struct {
  uint8_t src[4], dst[4];
  uint16_t sport, dport;
  uint32_t h_ip, h_tcp;
} v4[] = {
    {{66, 9, 149, 187}, {161, 142, 100, 80}, 2794, 1766, 0x323e8fc2, 0x51ccc178},
    {{199, 92, 111, 2}, {65, 69, 140, 83}, 14230, 4739, 0xd718262a, 0xc626b0ea},
    {{24, 19, 198, 95}, {12, 22, 207, 184}, 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
    {{38, 27, 205, 30}, {209, 142, 163, 6}, 48228, 2217, 0x82989176, 0xafc7327f},
    {{153, 39, 163, 191}, {202, 188, 127, 2}, 44251, 1303, 0x5d1809c5, 0x10e828a2},
};

/* And its IPv6 table. */
static const struct {
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  uint32_t h_ip, h_tcp;
} v6[] = {
    {/* 3ffe:2501:200:1fff::7 */
     {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07},
     /* 3ffe:2501:200:3::1 */
     {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01},
     2794, 1766, 0x2cc18cd5, 0x40207d3d},
    {/* 3ffe:501:8::260:97ff:fe40:efab */
     {0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40, 0xef, 0xab},
     /* ff02::1 */
     {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01},
     14230, 4739, 0x0f0c461c, 0xdde51bbf},
    {/* 3ffe:1900:4545:3:200:f8ff:fe21:67cf */
     {0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf},
     /* fe80::200:f8ff:fe21:67cf */
     {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf},
     44251, 38024, 0x4b61e985, 0x02d1feef},
};

static size_t pack(uint8_t *out, const uint8_t *src, const uint8_t *dst, size_t alen, int ports,
                   uint16_t sport, uint16_t dport) {
  size_t n = 0;
  memcpy(out, src, alen);
  memcpy(out + alen, dst, alen);
  n = 2 * alen;
  if (ports) {
    out[n++] = (uint8_t)(sport >> 8);
    out[n++] = (uint8_t)sport;
    out[n++] = (uint8_t)(dport >> 8);
    out[n++] = (uint8_t)dport;
  }
  return n;
}

static struct flow_key key4(const uint8_t s[4], const uint8_t d[4], uint8_t proto, uint16_t sport,
                            uint16_t dport) {
  struct flow_key k;
  memset(&k, 0, sizeof k);
  k.af = FLOW_AF_INET;
  k.proto = proto;
  k.ethertype = 0x0800;
  memcpy(k.src, s, 4);
  memcpy(k.dst, d, 4);
  k.sport = sport;
  k.dport = dport;
  return k;
}

static struct flow_key key6(const uint8_t s[16], const uint8_t d[16], uint8_t proto, uint16_t sport,
                            uint16_t dport) {
  struct flow_key k;
  memset(&k, 0, sizeof k);
  k.af = FLOW_AF_INET6;
  k.proto = proto;
  k.ethertype = 0x86dd;
  memcpy(k.src, s, 16);
  memcpy(k.dst, d, 16);
  k.sport = sport;
  k.dport = dport;
  return k;
}

static struct flow_key reversed(const struct flow_key *k) {
  struct flow_key r = *k;
  memcpy(r.src, k->dst, sizeof r.src);
  memcpy(r.dst, k->src, sizeof r.dst);
  r.sport = k->dport;
  r.dport = k->sport;
  return r;
}

/* Translations happen at the simulated time, as in the system. */
static uint64_t rig_dma_clock(void *ctx) {
  (void)ctx;
  return simk_now_ps();
}

/* ---- fixture: a NIC on a small memory and IOMMU ---- */

static char err[256];
static struct mem *m;
static struct iommu *io;
static struct iommu_dma *dm; /* the NIC's DMA port over io and m */

static struct nic *mk_nic(uint32_t queues, uint64_t rss_queues, double gbps) {
  ck_assert_int_eq(simk_init(err, sizeof err), 0);
  if (!m) {
    m = mem_new(1 << 20);
    ck_assert_ptr_nonnull(m);
  }
  if (!io) {
    struct iommu_params ip;
    iommu_params_default(&ip);
    io = iommu_new(&ip);
    ck_assert_ptr_nonnull(io);
    dm = iommu_dma_new(io, m, rig_dma_clock, NULL);
    ck_assert_ptr_nonnull(dm);
  }
  struct nic_params p;
  nic_params_default(&p);
  p.queues = queues;
  p.rss_queues = rss_queues;
  p.line_rate_gbps = gbps;
  err[0] = '\0';
  struct nic *n = nic_new(&p, iommu_dma_port(dm), NULL, err, sizeof err);
  ck_assert_msg(n != NULL, "nic_new: %s", err);
  ck_assert_uint_eq(nic_queues(n), queues);
  return n;
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static struct flow_key random_key(void) {
  uint64_t r = rnd(), s = rnd();
  uint8_t a[4], b[4];
  memcpy(a, &r, 4);
  memcpy(b, (uint8_t *)&r + 4, 4);
  uint8_t proto = (s & 1) ? 6 : 17;
  return key4(a, b, proto, (uint16_t)(s >> 8), (uint16_t)(s >> 24));
}

/* ---- Toeplitz known answers ---- */

/* Every known answer is checked bit by bit and by table. */
static struct nic_toeplitz_table ms_tab;
static int ms_tab_ready;
static uint32_t toeplitz_both(const uint8_t *in, size_t n) {
  if (!ms_tab_ready) {
    nic_toeplitz_table_init(&ms_tab, ms_key);
    ms_tab_ready = 1;
  }
  uint32_t bits = nic_toeplitz(ms_key, in, n), tab = nic_toeplitz_tab(&ms_tab, in, n);
  ck_assert_msg(bits == tab, "bitwise 0x%08x, by table 0x%08x (%zu bytes)", bits, tab, n);
  return bits;
}

START_TEST(test_toeplitz_ipv4) {
  uint8_t in[36];
  for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
    size_t n = pack(in, v4[i].src, v4[i].dst, 4, 0, 0, 0);
    ck_assert_uint_eq(n, 8);
    ck_assert_msg(toeplitz_both(in, n) == v4[i].h_ip, "row %zu: 0x%08x, expected 0x%08x", i,
                  toeplitz_both(in, n), v4[i].h_ip);
    n = pack(in, v4[i].src, v4[i].dst, 4, 1, v4[i].sport, v4[i].dport);
    ck_assert_uint_eq(n, 12);
    ck_assert_msg(toeplitz_both(in, n) == v4[i].h_tcp, "row %zu: 0x%08x, expected 0x%08x", i,
                  toeplitz_both(in, n), v4[i].h_tcp);
  }
}
END_TEST

START_TEST(test_toeplitz_ipv6) {
  uint8_t in[36];
  for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
    size_t n = pack(in, v6[i].src, v6[i].dst, 16, 0, 0, 0);
    ck_assert_msg(toeplitz_both(in, n) == v6[i].h_ip, "row %zu: 0x%08x, expected 0x%08x", i,
                  toeplitz_both(in, n), v6[i].h_ip);
    n = pack(in, v6[i].src, v6[i].dst, 16, 1, v6[i].sport, v6[i].dport);
    ck_assert_uint_eq(n, 36);
    ck_assert_msg(toeplitz_both(in, n) == v6[i].h_tcp, "row %zu: 0x%08x, expected 0x%08x", i,
                  toeplitz_both(in, n), v6[i].h_tcp);
  }
}
END_TEST

START_TEST(test_toeplitz_table_matches_bitwise) {
  /* Random inputs of every length up to past the key, and a key that is not
   * Microsoft's: the table gives the bit-serial hash. */
  uint8_t key[NIC_RSS_KEY_BYTES], in[48];
  static struct nic_toeplitz_table tab;
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < sizeof key; i++)
      key[i] = k == 0 ? ms_key[i] : (uint8_t)rnd();
    nic_toeplitz_table_init(&tab, key);
    for (size_t len = 0; len <= sizeof in; len++)
      for (int t = 0; t < 50; t++) {
        for (size_t i = 0; i < len; i++)
          in[i] = (uint8_t)rnd();
        ck_assert_uint_eq(nic_toeplitz_tab(&tab, in, len), nic_toeplitz(key, in, len));
      }
  }
}
END_TEST

START_TEST(test_toeplitz_properties) {
  /* Empty input hashes to 0; one bit selects the key window at that bit. */
  ck_assert_uint_eq(nic_toeplitz(ms_key, NULL, 0), 0);
  uint8_t one = 0x80;
  ck_assert_uint_eq(nic_toeplitz(ms_key, &one, 1), 0x6d5a56da);
  one = 0x01; /* bit 7: key bits 7..38 */
  uint32_t want = (uint32_t)((((uint64_t)0x6d5a56da << 8 | 0x25) >> 1) & 0xffffffff);
  ck_assert_uint_eq(nic_toeplitz(ms_key, &one, 1), want);
  /* Linear over XOR. */
  uint8_t a[12], b[12], x[12];
  for (int t = 0; t < 100; t++) {
    for (int i = 0; i < 12; i++) {
      a[i] = (uint8_t)rnd();
      b[i] = (uint8_t)rnd();
      x[i] = a[i] ^ b[i];
    }
    ck_assert_uint_eq(nic_toeplitz(ms_key, x, 12),
                      nic_toeplitz(ms_key, a, 12) ^ nic_toeplitz(ms_key, b, 12));
  }
}
END_TEST

/* ---- the RSS hash of a frame's tuple ---- */

START_TEST(test_rss_hash_tuple) {
  struct nic *n = mk_nic(4, 0xf, 10.0);
  for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
    struct flow_key tcp = key4(v4[i].src, v4[i].dst, 6, v4[i].sport, v4[i].dport);
    struct flow_key udp = key4(v4[i].src, v4[i].dst, 17, v4[i].sport, v4[i].dport);
    struct flow_key icmp = key4(v4[i].src, v4[i].dst, 1, 0, 0);
    struct flow_key gre = key4(v4[i].src, v4[i].dst, 47, 0, 0);
    ck_assert_uint_eq(nic_rss_hash(n, &tcp), v4[i].h_tcp);
    ck_assert_uint_eq(nic_rss_hash(n, &udp), v4[i].h_tcp);
    ck_assert_uint_eq(nic_rss_hash(n, &icmp), v4[i].h_ip);
    ck_assert_uint_eq(nic_rss_hash(n, &gre), v4[i].h_ip);
  }
  for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
    struct flow_key tcp = key6(v6[i].src, v6[i].dst, 6, v6[i].sport, v6[i].dport);
    struct flow_key icmp6 = key6(v6[i].src, v6[i].dst, 58, 0, 0);
    ck_assert_uint_eq(nic_rss_hash(n, &tcp), v6[i].h_tcp);
    ck_assert_uint_eq(nic_rss_hash(n, &icmp6), v6[i].h_ip);
  }
  struct flow_key arp;
  memset(&arp, 0, sizeof arp);
  arp.af = FLOW_AF_NONE;
  arp.ethertype = 0x0806;
  memset(arp.src, 0x11, 6);
  memset(arp.dst, 0xff, 6);
  ck_assert_uint_eq(nic_rss_hash(n, &arp), 0);
  nic_free(n);
}
END_TEST

/* ---- steering ---- */

START_TEST(test_rss_uses_indirection_table) {
  /* 128 entries filled round-robin with the RSS queues (ethtool -X equal):
   * entry i holds the (i mod k)-th RSS queue. */
  unsigned list[3] = {0, 1, 2};
  struct nic *n = mk_nic(4, 0x7, 10.0);
  for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
    struct flow_key tcp = key4(v4[i].src, v4[i].dst, 6, v4[i].sport, v4[i].dport);
    unsigned want = list[(v4[i].h_tcp & (NIC_RETA_SIZE - 1)) % 3];
    ck_assert_uint_eq(nic_steer(n, &tcp), want);
  }
  nic_free(n);
  /* RSS over queues {1, 4, 6} of 8. */
  unsigned list2[3] = {1, 4, 6};
  n = mk_nic(8, (1u << 1) | (1u << 4) | (1u << 6), 10.0);
  for (int t = 0; t < 1000; t++) {
    struct flow_key k = random_key();
    uint32_t h = nic_rss_hash(n, &k);
    ck_assert_uint_eq(nic_steer(n, &k), list2[(h & (NIC_RETA_SIZE - 1)) % 3]);
  }
  nic_free(n);
}
END_TEST

START_TEST(test_rss_only_uses_rss_queues) {
  static const struct {
    uint32_t queues;
    uint64_t rss;
  } cases[] = {
      {8, (1u << 1) | (1u << 4) | (1u << 6)},
      {4, 0x7},
      {4, 0x8},
      {64, 0x8000000000000001ull},
      {16, 0xffff},
      {3, 0xff}, /* bits past nic.queues are ignored */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    struct nic *n = mk_nic(cases[c].queues, cases[c].rss, 10.0);
    uint64_t want = cases[c].rss & (cases[c].queues >= 64 ? UINT64_MAX : (1ull << cases[c].queues) - 1);
    uint64_t hit = 0;
    for (int t = 0; t < 20000; t++) {
      struct flow_key k = random_key();
      unsigned q = nic_steer(n, &k);
      ck_assert_msg(q < cases[c].queues && (want >> q & 1), "case %zu: queue %u not in the RSS set", c, q);
      hit |= 1ull << q;
      /* Both directions of a flow need not share a queue under RSS, but the
       * same tuple always goes to the same queue. */
      ck_assert_uint_eq(nic_steer(n, &k), q);
    }
    ck_assert_msg(hit == want, "case %zu: queues hit 0x%llx, RSS set 0x%llx", c,
                  (unsigned long long)hit, (unsigned long long)want);
    nic_free(n);
  }
}
END_TEST

START_TEST(test_rules_win_both_directions) {
  struct nic *n = mk_nic(4, 0x7, 10.0); /* queue 3 out of RSS */
  uint8_t a[4] = {10, 0, 0, 2}, b[4] = {10, 0, 0, 1};
  struct flow_key app = key4(a, b, 17, 5001, 4000);
  struct flow_key back = reversed(&app);
  ck_assert_uint_lt(nic_steer(n, &app), 3);
  ck_assert_uint_lt(nic_steer(n, &back), 3);
  ck_assert_int_eq(nic_add_rule(n, &app, 3), 0);
  ck_assert_uint_eq(nic_steer(n, &app), 3);
  ck_assert_uint_eq(nic_steer(n, &back), 3);
  /* A rule added for the reverse direction matches the forward one too. */
  uint8_t c[4] = {192, 168, 1, 1}, d[4] = {192, 168, 1, 2};
  struct flow_key k2 = key4(c, d, 6, 80, 40000);
  struct flow_key k2r = reversed(&k2);
  ck_assert_int_eq(nic_add_rule(n, &k2r, 3), 0);
  ck_assert_uint_eq(nic_steer(n, &k2), 3);
  ck_assert_uint_eq(nic_steer(n, &k2r), 3);
  /* Other tuples still go by RSS: another port, another protocol. */
  struct flow_key other_port = key4(a, b, 17, 5002, 4000);
  struct flow_key other_proto = key4(a, b, 6, 5001, 4000);
  uint32_t h1 = nic_rss_hash(n, &other_port), h2 = nic_rss_hash(n, &other_proto);
  ck_assert_uint_eq(nic_steer(n, &other_port), (h1 & (NIC_RETA_SIZE - 1)) % 3);
  ck_assert_uint_eq(nic_steer(n, &other_proto), (h2 & (NIC_RETA_SIZE - 1)) % 3);
  /* A rule to a queue RSS would not pick, for a tuple RSS sends elsewhere. */
  for (int t = 0; t < 50; t++) {
    struct flow_key k = random_key();
    unsigned rss_q = nic_steer(n, &k);
    unsigned target = (rss_q + 1 + (unsigned)(rnd() % 3)) % 4;
    ck_assert_uint_ne(target, rss_q);
    ck_assert_int_eq(nic_add_rule(n, &k, target), 0);
    struct flow_key r = reversed(&k);
    ck_assert_uint_eq(nic_steer(n, &k), target);
    ck_assert_uint_eq(nic_steer(n, &r), target);
  }
  /* A rule to a queue that does not exist is refused. */
  ck_assert_int_eq(nic_add_rule(n, &other_port, 4), -1);
  ck_assert_uint_lt(nic_steer(n, &other_port), 3);
  nic_free(n);
}
END_TEST

START_TEST(test_non_ip_to_default_queue) {
  /* Frames RSS cannot hash (not IP, or not parsed) get RSS output index 0
   * on the 82599: the default queue (nic_params.default_queue, 0), whatever
   * the indirection table holds. */
  struct nic *n = mk_nic(8, (1u << 2) | (1u << 5) | (1u << 7), 10.0);
  struct flow_key arp;
  memset(&arp, 0, sizeof arp);
  arp.af = FLOW_AF_NONE;
  arp.ethertype = 0x0806;
  for (int t = 0; t < 20; t++) {
    uint64_t r = rnd();
    memcpy(arp.src, &r, 6);
    ck_assert_int_eq(nic_steer(n, &arp), 0);
  }
  ck_assert_int_eq(nic_steer(n, NULL), 0); /* unparsed frame */
  nic_free(n);
  /* With the default queue set, there; rules for IP tuples do not apply. */
  struct nic_params p;
  nic_params_default(&p);
  ck_assert_uint_eq(p.default_queue, 0);
  p.queues = 4;
  p.rss_queues = 0x8;
  p.default_queue = 2;
  n = nic_new(&p, iommu_dma_port(dm), NULL, err, sizeof err);
  ck_assert_msg(n != NULL, "nic_new: %s", err);
  uint8_t a[4] = {10, 0, 0, 2}, b[4] = {10, 0, 0, 1};
  struct flow_key k = key4(a, b, 17, 5001, 4000);
  ck_assert_int_eq(nic_add_rule(n, &k, 1), 0);
  ck_assert_int_eq(nic_steer(n, &arp), 2);
  ck_assert_int_eq(nic_steer(n, NULL), 2);
  ck_assert_int_eq(nic_steer(n, &k), 1);
  struct flow_key other = key4(a, b, 17, 5002, 4000);
  ck_assert_int_eq(nic_steer(n, &other), 3); /* IP: the RSS table, queue 3 only */
  nic_free(n);
  /* A default queue that does not exist is refused. */
  p.default_queue = 4;
  ck_assert_ptr_null(nic_new(&p, iommu_dma_port(dm), NULL, err, sizeof err));
}
END_TEST

START_TEST(test_nic_new_errors) {
  ck_assert_int_eq(simk_init(err, sizeof err), 0);
  struct mem *mm = mem_new(1 << 16);
  struct iommu_params ip;
  iommu_params_default(&ip);
  struct iommu *ii = iommu_new(&ip);
  struct iommu_dma *dd = iommu_dma_new(ii, mm, rig_dma_clock, NULL);
  const struct dma_port *port = iommu_dma_port(dd);
  struct nic_params p;
  nic_params_default(&p);
  /* No port: refused with a reason. */
  err[0] = '\0';
  ck_assert_ptr_null(nic_new(&p, NULL, NULL, err, sizeof err));
  ck_assert_str_eq(err, "nic: no DMA port");
  p.queues = 0;
  err[0] = '\0';
  ck_assert_ptr_null(nic_new(&p, port, NULL, err, sizeof err));
  ck_assert_uint_gt(strlen(err), 0);
  p.queues = NIC_MAX_QUEUES + 1;
  err[0] = '\0';
  ck_assert_ptr_null(nic_new(&p, port, NULL, err, sizeof err));
  ck_assert_uint_gt(strlen(err), 0);
  p.queues = 4;
  p.rss_queues = 0x30; /* queues 4 and 5 do not exist */
  err[0] = '\0';
  ck_assert_ptr_null(nic_new(&p, port, NULL, err, sizeof err));
  ck_assert_uint_gt(strlen(err), 0);
  p.rss_queues = 0x31;
  struct nic *n = nic_new(&p, port, NULL, err, sizeof err);
  ck_assert_ptr_nonnull(n);
  for (int t = 0; t < 100; t++) {
    struct flow_key k = random_key();
    ck_assert_uint_eq(nic_steer(n, &k), 0);
  }
  nic_free(n);
  iommu_free(ii);
  mem_free(mm);
  iommu_dma_free(dd);
}
END_TEST

/* ---- MAC timing ---- */

START_TEST(test_mac_min_frames_10g) {
  struct nic *n = mk_nic(1, 1, 10.0);
  /* A 64-byte frame (60 bytes without FCS) takes 84 bytes of wire with
   * preamble+SFD (8), FCS (4) and the inter-frame gap (12): 67.2 ns at
   * 10 Gb/s. Its last bit (the FCS) is in after 8 + 60 + 4 = 72 bytes. */
  uint64_t t = nic_mac_arrival_ps(n, 0, 60);
  ck_assert_uint_eq(t, 57600);
  /* Back to back: one every 67,200 ps (14.88 Mpps). */
  for (int i = 1; i < 1000; i++) {
    uint64_t u = nic_mac_arrival_ps(n, 0, 60);
    ck_assert_uint_eq(u - t, 67200);
    t = u;
  }
  ck_assert_uint_eq(t, 57600 + 999ull * 67200);
  /* After the wire went idle, a frame arrives 57.6 ns after it starts. */
  uint64_t later = 1000000000ull;
  ck_assert_uint_eq(nic_mac_arrival_ps(n, later, 60), later + 57600);
  nic_free(n);
}
END_TEST

START_TEST(test_mac_rates_and_sizes) {
  static const struct {
    double gbps;
    uint32_t len;
    uint64_t gap_ps; /* spacing of back-to-back frames */
  } cases[] = {
      {10.0, 60, 67200},     {25.0, 60, 26880},     {40.0, 60, 16800}, {100.0, 60, 6720},
      {10.0, 1514, 1230400}, {100.0, 1514, 123040}, {1.0, 60, 672000},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    struct nic *n = mk_nic(1, 1, cases[c].gbps);
    uint64_t a = nic_mac_arrival_ps(n, 0, cases[c].len);
    uint64_t b = nic_mac_arrival_ps(n, 0, cases[c].len);
    ck_assert_msg(b - a == cases[c].gap_ps, "%g Gb/s, %u B: %llu ps apart, expected %llu", cases[c].gbps,
                  cases[c].len, (unsigned long long)(b - a), (unsigned long long)cases[c].gap_ps);
    /* Last bit in: the whole wire time minus the gap (12 B). */
    uint64_t gap12 = (uint64_t)(96 * 1000.0 / cases[c].gbps + 0.5);
    ck_assert_uint_eq(a, cases[c].gap_ps - gap12);
    nic_free(n);
  }
}
END_TEST

START_TEST(test_mac_never_backwards) {
  struct nic *n = mk_nic(1, 1, 10.0);
  uint64_t prev = 0, ts = 0;
  for (int i = 0; i < 20000; i++) {
    uint32_t len = 60 + (uint32_t)(rnd() % 1455);
    /* Timestamps mostly forward, sometimes jumping back (as traces do). */
    uint64_t r = rnd() % 100;
    if (r < 10 && ts > 500000)
      ts -= rnd() % 500000;
    else
      ts += rnd() % 2000000;
    uint64_t t = nic_mac_arrival_ps(n, ts, len);
    ck_assert_uint_ge(t, prev);
    /* Never before the frame could have crossed the wire from ts. */
    ck_assert_uint_ge(t, ts + (uint64_t)(len + 12) * 800);
    /* Consecutive frames are at least this frame's wire time apart. */
    if (i)
      ck_assert_uint_ge(t - prev, (uint64_t)(len + 24) * 800);
    prev = t;
  }
  nic_free(n);
}
END_TEST

static Suite *nic_suite(void) {
  Suite *s = suite_create("nic_steer");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_toeplitz_ipv4);
  tcase_add_test(tc, test_toeplitz_ipv6);
  tcase_add_test(tc, test_toeplitz_properties);
  tcase_add_test(tc, test_toeplitz_table_matches_bitwise);
  tcase_add_test(tc, test_rss_hash_tuple);
  tcase_add_test(tc, test_rss_uses_indirection_table);
  tcase_add_test(tc, test_rss_only_uses_rss_queues);
  tcase_add_test(tc, test_rules_win_both_directions);
  tcase_add_test(tc, test_non_ip_to_default_queue);
  tcase_add_test(tc, test_nic_new_errors);
  tcase_add_test(tc, test_mac_min_frames_10g);
  tcase_add_test(tc, test_mac_rates_and_sizes);
  tcase_add_test(tc, test_mac_never_backwards);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  Suite *s = nic_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
