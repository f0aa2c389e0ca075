/*
 * traces/flow.c: parsing hand-built frames (every truncation of them, in
 * exactly-sized heap buffers so AddressSanitizer sees any read past caplen),
 * MPLS, PPPoE and tunnels (outer key, inner tuple, offsets), canonical keys,
 * formatting, the flow table, and real captures.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "trace.h"

/* Real captures shipped with the tests (tests/captures/README.md). */
#define CORPUS NICSIM_SOURCE_DIR "/tests/captures/"

/* ---- frame builder ---- */

struct fb {
  uint8_t b[512];
  uint32_t n;
};

static void put(struct fb *f, const void *p, uint32_t n) {
  ck_assert_uint_le(f->n + n, sizeof f->b);
  memcpy(f->b + f->n, p, n);
  f->n += n;
}
static void put8(struct fb *f, uint8_t v) { put(f, &v, 1); }
static void put16(struct fb *f, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put(f, b, 2);
}
static void put32(struct fb *f, uint32_t v) {
  put16(f, (uint16_t)(v >> 16));
  put16(f, (uint16_t)v);
}
static void zeros(struct fb *f, uint32_t n) {
  ck_assert_uint_le(f->n + n, sizeof f->b);
  memset(f->b + f->n, 0, n);
  f->n += n;
}

static const uint8_t MAC_A[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
static const uint8_t MAC_B[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};

static void eth(struct fb *f, uint16_t type) {
  f->n = 0;
  put(f, MAC_B, 6); /* destination */
  put(f, MAC_A, 6); /* source */
  put16(f, type);
}
static void vlan(struct fb *f, uint16_t tci, uint16_t next) {
  put16(f, tci);
  put16(f, next);
}

/* IPv4 header of ihl 32-bit words; total = header + l4len; returns its offset. */
static uint32_t ipv4(struct fb *f, uint8_t ihl, uint8_t proto, uint32_t src, uint32_t dst,
                     uint16_t frag, uint32_t l4len) {
  uint32_t at = f->n;
  put8(f, (uint8_t)(0x40 | ihl));
  put8(f, 0);
  put16(f, (uint16_t)(ihl * 4 + l4len));
  put16(f, 0x1234);
  put16(f, frag);
  put8(f, 64);
  put8(f, proto);
  put16(f, 0);
  put32(f, src);
  put32(f, dst);
  for (int i = 5; i < ihl; i++)
    put32(f, 0x01010101); /* NOP options */
  return at;
}

static void ipv6(struct fb *f, uint8_t next, const char *src, const char *dst, uint16_t plen) {
  put32(f, 0x60000000);
  put16(f, plen);
  put8(f, next);
  put8(f, 64);
  uint8_t a[16];
  ck_assert_int_eq(inet_pton(AF_INET6, src, a), 1);
  put(f, a, 16);
  ck_assert_int_eq(inet_pton(AF_INET6, dst, a), 1);
  put(f, a, 16);
}

static void udp(struct fb *f, uint16_t sp, uint16_t dp, uint16_t paylen) {
  put16(f, sp);
  put16(f, dp);
  put16(f, (uint16_t)(8 + paylen));
  put16(f, 0);
  for (uint16_t i = 0; i < paylen; i++)
    put8(f, (uint8_t)('a' + i % 26));
}

/* TCP with doff words (>= 5; options are NOPs). */
static void tcp(struct fb *f, uint16_t sp, uint16_t dp, uint8_t doff, uint16_t paylen) {
  put16(f, sp);
  put16(f, dp);
  put32(f, 1);
  put32(f, 0);
  put8(f, (uint8_t)(doff << 4));
  put8(f, 0x02);
  put16(f, 65535);
  put16(f, 0);
  put16(f, 0);
  for (int i = 5; i < doff; i++)
    put32(f, 0x01010101);
  for (uint16_t i = 0; i < paylen; i++)
    put8(f, (uint8_t)i);
}

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* Parse a copy of exactly len bytes. */
static int parse_exact(const struct fb *f, uint32_t len, struct flow_parse *out) {
  uint8_t *copy = malloc(len ? len : 1);
  ck_assert_ptr_nonnull(copy);
  memcpy(copy, f->b, len);
  int rc = flow_parse(copy, len, out);
  free(copy);
  return rc;
}

static struct flow_parse parse_full(const struct fb *f) {
  struct flow_parse p;
  ck_assert_int_eq(parse_exact(f, f->n, &p), 0);
  return p;
}

/* Every prefix of the frame: no read past the end (ASan), offsets inside,
 * and the depth reached never goes past what is there. */
static void check_truncations(const struct fb *f) {
  struct flow_parse full = parse_full(f);
  for (uint32_t len = 0; len <= f->n; len++) {
    struct flow_parse p;
    memset(&p, 0xa5, sizeof p);
    int rc = parse_exact(f, len, &p);
    if (len < 14) {
      ck_assert_int_eq(rc, -1);
      continue;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_le(p.l3_offset, len);
    ck_assert_uint_le(p.l4_offset, len);
    ck_assert_uint_le(p.payload_offset, len);
    ck_assert_uint_ge(p.payload_offset, p.l3_offset);
    ck_assert_uint_le(p.outer_payload_offset, p.payload_offset);
    ck_assert_uint_le(p.inner_l3_offset, len);
    ck_assert_uint_le(p.inner_l4_offset, len);
    ck_assert_uint_le(p.tunnels, full.tunnels);
    ck_assert_uint_le(p.mpls_labels, full.mpls_labels);
    if (p.has_inner) {
      ck_assert_uint_ne(p.tunnel, FLOW_TUNNEL_NONE);
      ck_assert_uint_eq(p.tunnel, full.tunnel);
      ck_assert_uint_ge(p.payload_offset, p.inner_l3_offset);
    } else {
      static const struct flow_key zero;
      ck_assert_int_eq(memcmp(&p.inner, &zero, sizeof zero), 0);
    }
    if (p.inner_l4_offset && p.inner_l3_offset == full.inner_l3_offset)
      ck_assert_uint_eq(p.inner_l4_offset, full.inner_l4_offset);
    ck_assert_uint_le(p.vlan_tags, full.vlan_tags);
    if (p.l4_offset) {
      ck_assert_uint_eq(p.l4_offset, full.l4_offset);
      ck_assert_uint_ge(p.payload_offset, p.l4_offset);
    }
    if (p.key.af == FLOW_AF_NONE) {
      ck_assert_uint_eq(p.key.proto, 0);
      ck_assert_int_eq(memcmp(p.key.src, MAC_A, 6), 0);
      ck_assert_int_eq(memcmp(p.key.dst, MAC_B, 6), 0);
      static const uint8_t z[10];
      ck_assert_int_eq(memcmp(p.key.src + 6, z, 10), 0);
      ck_assert_int_eq(memcmp(p.key.dst + 6, z, 10), 0);
    } else {
      ck_assert_uint_eq(p.key.af, full.key.af);
      ck_assert_int_eq(memcmp(p.key.src, full.key.src, 16), 0);
      ck_assert_int_eq(memcmp(p.key.dst, full.key.dst, 16), 0);
    }
    if (p.key.sport || p.key.dport) {
      ck_assert_uint_eq(p.key.sport, full.key.sport);
      ck_assert_uint_eq(p.key.dport, full.key.dport);
    }
  }
}

static void fmt_eq(const struct flow_key *k, const char *want) {
  char buf[256];
  int n = flow_key_format(k, buf, sizeof buf);
  ck_assert_str_eq(buf, want);
  ck_assert_int_eq(n, (int)strlen(want));
}

/* ---- parsing ---- */

START_TEST(ipv4_udp) {
  struct fb f;
  eth(&f, 0x0800);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 2), IP4(10, 0, 0, 1), 0, 8 + 10);
  udp(&f, 5001, 4000, 10);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET);
  ck_assert_uint_eq(p.key.proto, 17);
  ck_assert_uint_eq(p.key.ethertype, 0x0800);
  ck_assert_uint_eq(p.key.sport, 5001);
  ck_assert_uint_eq(p.key.dport, 4000);
  ck_assert_int_eq(memcmp(p.key.src, "\x0a\x00\x00\x02", 4), 0);
  ck_assert_int_eq(memcmp(p.key.dst, "\x0a\x00\x00\x01", 4), 0);
  static const uint8_t z[12];
  ck_assert_int_eq(memcmp(p.key.src + 4, z, 12), 0); /* no MAC left behind */
  ck_assert_int_eq(memcmp(p.key.dst + 4, z, 12), 0);
  ck_assert_uint_eq(p.l3_offset, 14);
  ck_assert_uint_eq(p.l4_offset, 34);
  ck_assert_uint_eq(p.payload_offset, 42);
  ck_assert_uint_eq(p.vlan_tags, 0);
  fmt_eq(&p.key, "udp 10.0.0.2:5001 > 10.0.0.1:4000");
  check_truncations(&f);
}
END_TEST

START_TEST(ipv4_tcp_options) {
  struct fb f;
  eth(&f, 0x0800);
  ipv4(&f, 7, 6, IP4(192, 168, 1, 1), IP4(192, 168, 1, 200), 0, 32 + 5);
  tcp(&f, 80, 40000, 8, 5);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET);
  ck_assert_uint_eq(p.key.proto, 6);
  ck_assert_uint_eq(p.key.sport, 80);
  ck_assert_uint_eq(p.key.dport, 40000);
  ck_assert_uint_eq(p.l3_offset, 14);
  ck_assert_uint_eq(p.l4_offset, 14 + 28);
  ck_assert_uint_eq(p.payload_offset, 14 + 28 + 32);
  fmt_eq(&p.key, "tcp 192.168.1.1:80 > 192.168.1.200:40000");
  check_truncations(&f);
}
END_TEST

START_TEST(ipv4_padding_not_parsed) {
  /* a 20+8-byte IP packet padded to a 60-byte frame */
  struct fb f;
  eth(&f, 0x0800);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 8);
  udp(&f, 1, 2, 0);
  zeros(&f, 60 - f.n);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.payload_offset, 42);
  /* a TCP header that is only in the padding is not a header */
  eth(&f, 0x0800);
  ipv4(&f, 5, 6, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 0);
  tcp(&f, 7, 9, 5, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET);
  ck_assert_uint_eq(p.key.sport, 0);
  ck_assert_uint_eq(p.l4_offset, 0);
  ck_assert_uint_eq(p.payload_offset, 34);
}
END_TEST

START_TEST(icmp_and_other_proto) {
  struct fb f;
  eth(&f, 0x0800);
  ipv4(&f, 5, 1, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 8);
  put32(&f, 0x08000000);
  put32(&f, 0x00010001);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.proto, 1);
  ck_assert_uint_eq(p.key.sport, 0);
  ck_assert_uint_eq(p.l4_offset, 34);
  ck_assert_uint_eq(p.payload_offset, 42);
  fmt_eq(&p.key, "icmp 10.0.0.1 > 10.0.0.2");
  check_truncations(&f);

  /* a GRE header announcing IPv4, with nothing behind it: the tunnel is
   * entered (payload after its header) but there is no inner tuple */
  eth(&f, 0x0800);
  ipv4(&f, 5, 47, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 4);
  put32(&f, 0x00000800);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.proto, 47);
  ck_assert_uint_eq(p.l4_offset, 0);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_GRE);
  ck_assert_uint_eq(p.has_inner, 0);
  ck_assert_uint_eq(p.outer_payload_offset, 34);
  ck_assert_uint_eq(p.payload_offset, 38);
  fmt_eq(&p.key, "ip proto 47 10.0.0.1 > 10.0.0.2");
  /* another IP protocol: no transport header, the payload starts after IP */
  eth(&f, 0x0800);
  ipv4(&f, 5, 132, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 4);
  put32(&f, 0x00000800);
  p = parse_full(&f);
  ck_assert_uint_eq(p.l4_offset, 0);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  ck_assert_uint_eq(p.payload_offset, 34);
  ck_assert_uint_eq(p.outer_payload_offset, 34);
}
END_TEST

START_TEST(vlan_single) {
  struct fb f;
  eth(&f, 0x8100);
  vlan(&f, 0x2064, 0x0800); /* PCP 1, VID 100 */
  ipv4(&f, 5, 17, IP4(10, 1, 1, 1), IP4(10, 2, 2, 2), 0, 8);
  udp(&f, 53, 1053, 0);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.vlan_tags, 1);
  ck_assert_uint_eq(p.key.ethertype, 0x0800);
  ck_assert_uint_eq(p.l3_offset, 18);
  ck_assert_uint_eq(p.l4_offset, 38);
  ck_assert_uint_eq(p.key.sport, 53);
  fmt_eq(&p.key, "udp 10.1.1.1:53 > 10.2.2.2:1053");
  check_truncations(&f);
}
END_TEST

START_TEST(vlan_qinq) {
  static const uint16_t outer[] = {0x88a8, 0x9100, 0x8100};
  for (int i = 0; i < 3; i++) {
    struct fb f;
    eth(&f, outer[i]);
    vlan(&f, 10, 0x8100);
    vlan(&f, 20, 0x86dd);
    ipv6(&f, 6, "2001:db8::1", "2001:db8::2", 20);
    tcp(&f, 80, 4000, 5, 0);
    struct flow_parse p = parse_full(&f);
    ck_assert_uint_eq(p.vlan_tags, 2);
    ck_assert_uint_eq(p.key.ethertype, 0x86dd);
    ck_assert_uint_eq(p.key.af, FLOW_AF_INET6);
    ck_assert_uint_eq(p.l3_offset, 22);
    ck_assert_uint_eq(p.l4_offset, 62);
    ck_assert_uint_eq(p.payload_offset, 82);
    fmt_eq(&p.key, "tcp [2001:db8::1]:80 > [2001:db8::2]:4000");
    check_truncations(&f);
  }
}
END_TEST

START_TEST(ipv6_extension_headers) {
  /* hop-by-hop (8) > destination options (16) > routing (8) > UDP */
  struct fb f;
  eth(&f, 0x86dd);
  ipv6(&f, 0, "2001:db8::a", "2001:db8::b", 8 + 16 + 8 + 8 + 4);
  put8(&f, 60), put8(&f, 0), zeros(&f, 6);
  put8(&f, 43), put8(&f, 1), zeros(&f, 14);
  put8(&f, 17), put8(&f, 0), zeros(&f, 6);
  udp(&f, 547, 546, 4);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET6);
  ck_assert_uint_eq(p.key.proto, 17);
  ck_assert_uint_eq(p.key.sport, 547);
  ck_assert_uint_eq(p.key.dport, 546);
  ck_assert_uint_eq(p.l3_offset, 14);
  ck_assert_uint_eq(p.l4_offset, 14 + 40 + 32);
  ck_assert_uint_eq(p.payload_offset, 14 + 40 + 32 + 8);
  fmt_eq(&p.key, "udp [2001:db8::a]:547 > [2001:db8::b]:546");
  check_truncations(&f);

  /* cut inside the destination options header: proto names it */
  struct flow_parse q;
  ck_assert_int_eq(parse_exact(&f, 14 + 40 + 8 + 10, &q), 0);
  ck_assert_uint_eq(q.key.af, FLOW_AF_INET6);
  ck_assert_uint_eq(q.key.proto, 60);
  ck_assert_uint_eq(q.l4_offset, 0);

  /* AH ((len+2)*4 = 24 bytes) > TCP */
  eth(&f, 0x86dd);
  ipv6(&f, 51, "2001:db8::1", "2001:db8::2", 24 + 20);
  put8(&f, 6), put8(&f, 4), zeros(&f, 22);
  tcp(&f, 22, 50000, 5, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.proto, 6);
  ck_assert_uint_eq(p.key.sport, 22);
  ck_assert_uint_eq(p.l4_offset, 14 + 40 + 24);
  check_truncations(&f);

  /* ICMPv6 */
  eth(&f, 0x86dd);
  ipv6(&f, 58, "fe80::1", "ff02::1", 8);
  put32(&f, 0x86000000);
  put32(&f, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.proto, 58);
  ck_assert_uint_eq(p.key.sport, 0);
  ck_assert_uint_eq(p.l4_offset, 54);
  fmt_eq(&p.key, "icmp6 fe80::1 > ff02::1");
  check_truncations(&f);
}
END_TEST

START_TEST(ipv6_fragments) {
  /* first fragment (offset 0, M set): ports */
  struct fb f;
  eth(&f, 0x86dd);
  ipv6(&f, 44, "2001:db8::1", "2001:db8::2", 8 + 8 + 8);
  put8(&f, 17), put8(&f, 0), put16(&f, 0x0001), put32(&f, 0xabcd);
  udp(&f, 1111, 2222, 8);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.proto, 17);
  ck_assert_uint_eq(p.key.sport, 1111);
  ck_assert_uint_eq(p.l4_offset, 14 + 48);
  check_truncations(&f);
  /* a later fragment (offset 185 * 8): no ports, the fragment's protocol */
  eth(&f, 0x86dd);
  ipv6(&f, 44, "2001:db8::1", "2001:db8::2", 8 + 16);
  put8(&f, 17), put8(&f, 0), put16(&f, (uint16_t)(185 << 3)), put32(&f, 0xabcd);
  udp(&f, 1111, 2222, 8); /* payload bytes that look like a header */
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET6);
  ck_assert_uint_eq(p.key.proto, 17);
  ck_assert_uint_eq(p.key.sport, 0);
  ck_assert_uint_eq(p.key.dport, 0);
  ck_assert_uint_eq(p.l4_offset, 0);
  ck_assert_uint_eq(p.payload_offset, 14 + 48);
  fmt_eq(&p.key, "udp [2001:db8::1]:0 > [2001:db8::2]:0");
  check_truncations(&f);
}
END_TEST

START_TEST(ipv4_fragments) {
  struct fb f;
  /* first fragment: MF set, offset 0: ports */
  eth(&f, 0x0800);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0x2000, 8 + 16);
  udp(&f, 7000, 8000, 16);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.sport, 7000);
  ck_assert_uint_eq(p.l4_offset, 34);
  /* a later fragment: offset 185 */
  eth(&f, 0x0800);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 185, 8 + 16);
  udp(&f, 7000, 8000, 16);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET);
  ck_assert_uint_eq(p.key.proto, 17);
  ck_assert_uint_eq(p.key.sport, 0);
  ck_assert_uint_eq(p.key.dport, 0);
  ck_assert_uint_eq(p.l4_offset, 0);
  ck_assert_uint_eq(p.payload_offset, 34);
  check_truncations(&f);
}
END_TEST

START_TEST(ipv4_malformed) {
  struct fb f;
  /* IHL 4: not IP */
  eth(&f, 0x0800);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 8);
  udp(&f, 1, 2, 0);
  f.b[14] = 0x44;
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_NONE);
  ck_assert_uint_eq(p.key.ethertype, 0x0800);
  ck_assert_uint_eq(p.payload_offset, 14);
  check_truncations(&f);
  /* IHL 15 past the end */
  f.b[14] = 0x4f;
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_NONE);
  check_truncations(&f);
  /* version 6 in an IPv4 EtherType */
  f.b[14] = 0x65;
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_NONE);
  /* TCP data offset too small: the fixed header is still there */
  eth(&f, 0x0800);
  ipv4(&f, 5, 6, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 20);
  tcp(&f, 1, 2, 5, 0);
  f.b[34 + 12] = 0x20;
  p = parse_full(&f);
  ck_assert_uint_eq(p.l4_offset, 34);
  ck_assert_uint_eq(p.payload_offset, 54);
  /* total length bigger than the capture (snaplen): parse what is there */
  eth(&f, 0x0800);
  ipv4(&f, 5, 6, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 1460);
  tcp(&f, 443, 50000, 5, 10);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.sport, 443);
  ck_assert_uint_eq(p.payload_offset, 54);
  check_truncations(&f);
}
END_TEST

START_TEST(non_ip) {
  struct fb f;
  eth(&f, 0x0806);
  zeros(&f, 28);
  memset(f.b, 0xff, 6);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_NONE);
  ck_assert_uint_eq(p.key.proto, 0);
  ck_assert_uint_eq(p.key.ethertype, 0x0806);
  ck_assert_uint_eq(p.l3_offset, 14);
  ck_assert_uint_eq(p.payload_offset, 14);
  ck_assert_uint_eq(p.l4_offset, 0);
  fmt_eq(&p.key, "ether 0x0806 00:11:22:33:44:55 > ff:ff:ff:ff:ff:ff");
  /* a VLAN tag cut short: the tag's EtherType is what is left */
  eth(&f, 0x8100);
  put16(&f, 5);
  p = parse_full(&f);
  ck_assert_uint_eq(p.vlan_tags, 0);
  ck_assert_uint_eq(p.key.ethertype, 0x8100);
  ck_assert_uint_eq(p.l3_offset, 14);
  /* nothing */
  struct flow_parse z;
  ck_assert_int_eq(flow_parse(NULL, 0, &z), -1);
  ck_assert_int_eq(parse_exact(&f, 13, &z), -1);
}
END_TEST

/* ---- MPLS, PPPoE ---- */

static void mpls(struct fb *f, uint32_t label, int bottom) {
  put32(f, label << 12 | (uint32_t)(bottom ? 0x100 : 0) | 64);
}

START_TEST(mpls_stack) {
  struct fb f;
  eth(&f, 0x8847);
  mpls(&f, 16, 0);
  mpls(&f, 17, 1);
  ipv4(&f, 5, 6, IP4(10, 1, 0, 1), IP4(10, 2, 0, 1), 0, 20 + 3);
  tcp(&f, 179, 50000, 5, 3);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.mpls_labels, 2);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET);
  ck_assert_uint_eq(p.key.ethertype, 0x0800); /* what the stack carries */
  ck_assert_uint_eq(p.l3_offset, 22);
  ck_assert_uint_eq(p.l4_offset, 42);
  ck_assert_uint_eq(p.payload_offset, 62);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  fmt_eq(&p.key, "tcp 10.1.0.1:179 > 10.2.0.1:50000");
  check_truncations(&f);
  /* the same flow without labels is the same key */
  struct fb g;
  eth(&g, 0x0800);
  ipv4(&g, 5, 6, IP4(10, 1, 0, 1), IP4(10, 2, 0, 1), 0, 20 + 3);
  tcp(&g, 179, 50000, 5, 3);
  struct flow_parse q = parse_full(&g);
  ck_assert_int_eq(memcmp(&p.key, &q.key, sizeof p.key), 0);

  /* multicast MPLS, one label, IPv6 */
  eth(&f, 0x8848);
  mpls(&f, 100, 1);
  ipv6(&f, 17, "2001:db8::1", "ff05::2", 8);
  udp(&f, 521, 521, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.mpls_labels, 1);
  ck_assert_uint_eq(p.key.ethertype, 0x86dd);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET6);
  ck_assert_uint_eq(p.l4_offset, 18 + 40);
  check_truncations(&f);

  /* a pseudowire control word (first nibble 0): not IP, stops there */
  eth(&f, 0x8847);
  mpls(&f, 20, 1);
  put32(&f, 0);
  zeros(&f, 40);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_NONE);
  ck_assert_uint_eq(p.key.ethertype, 0x8847);
  ck_assert_uint_eq(p.l3_offset, 18);
  ck_assert_uint_eq(p.payload_offset, 18);
  check_truncations(&f);

  /* a stack that never ends: read to the end, not past it */
  eth(&f, 0x8847);
  for (int i = 0; i < 20; i++)
    mpls(&f, (uint32_t)i, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_NONE);
  ck_assert_uint_eq(p.mpls_labels, 0);
  ck_assert_uint_le(p.payload_offset, f.n);
  check_truncations(&f);
}
END_TEST

START_TEST(pppoe_session) {
  struct fb f;
  eth(&f, 0x8864);
  put8(&f, 0x11), put8(&f, 0), put16(&f, 0x1234), put16(&f, 2 + 20 + 8);
  put16(&f, 0x0021);
  ipv4(&f, 5, 17, IP4(100, 64, 0, 1), IP4(8, 8, 8, 8), 0, 8);
  udp(&f, 33000, 53, 0);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_INET);
  ck_assert_uint_eq(p.key.ethertype, 0x0800);
  ck_assert_uint_eq(p.l3_offset, 22);
  ck_assert_uint_eq(p.l4_offset, 42);
  fmt_eq(&p.key, "udp 100.64.0.1:33000 > 8.8.8.8:53");
  check_truncations(&f);
  /* PPP's own control protocol (LCP): not IP */
  eth(&f, 0x8864);
  put8(&f, 0x11), put8(&f, 0), put16(&f, 0x1234), put16(&f, 6);
  put16(&f, 0xc021);
  zeros(&f, 4);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.af, FLOW_AF_NONE);
  ck_assert_uint_eq(p.key.ethertype, 0x8864);
}
END_TEST

/* ---- tunnels ---- */

static const uint8_t MAC_C[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0c};
static const uint8_t MAC_D[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0d};

/* An inner Ethernet header (the builder's eth() starts a frame). */
static void eth_in(struct fb *f, uint16_t type) {
  put(f, MAC_D, 6);
  put(f, MAC_C, 6);
  put16(f, type);
}

/* Outer Ethernet/IPv4/UDP to dport, carrying inner bytes of inner_len. */
static void outer_udp(struct fb *f, uint16_t sport, uint16_t dport, uint16_t inner_len) {
  eth(f, 0x0800);
  ipv4(f, 5, 17, IP4(192, 168, 0, 1), IP4(192, 168, 0, 2), 0, 8 + inner_len);
  put16(f, sport);
  put16(f, dport);
  put16(f, (uint16_t)(8 + inner_len));
  put16(f, 0);
}

START_TEST(tunnel_vxlan) {
  struct fb f;
  outer_udp(&f, 49152, 4789, 8 + 14 + 4 + 20 + 20 + 4);
  put32(&f, 0x08000000); /* I flag */
  put32(&f, 0x00006400); /* VNI 100 */
  eth_in(&f, 0x8100);
  vlan(&f, 7, 0x0800);
  ipv4(&f, 5, 6, IP4(172, 16, 0, 1), IP4(172, 16, 0, 2), 0, 20 + 4);
  tcp(&f, 40000, 443, 5, 4);
  struct flow_parse p = parse_full(&f);
  /* the outer tuple is what RSS hashes */
  fmt_eq(&p.key, "udp 192.168.0.1:49152 > 192.168.0.2:4789");
  ck_assert_uint_eq(p.l3_offset, 14);
  ck_assert_uint_eq(p.l4_offset, 34);
  ck_assert_uint_eq(p.outer_payload_offset, 42);
  ck_assert_uint_eq(p.vlan_tags, 0); /* the inner tag is not the frame's */
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_VXLAN);
  ck_assert_uint_eq(p.tunnels, 1);
  ck_assert_uint_eq(p.has_inner, 1);
  fmt_eq(&p.inner, "tcp 172.16.0.1:40000 > 172.16.0.2:443");
  ck_assert_uint_eq(p.inner.ethertype, 0x0800);
  ck_assert_uint_eq(p.inner_l3_offset, 42 + 8 + 18);
  ck_assert_uint_eq(p.inner_l4_offset, 42 + 8 + 18 + 20);
  ck_assert_uint_eq(p.payload_offset, 42 + 8 + 18 + 40); /* the inner TCP payload */
  ck_assert_ptr_eq(flow_parse_innermost(&p), &p.inner);
  ck_assert_str_eq(flow_tunnel_name(p.tunnel), "vxlan");
  check_truncations(&f);
  /* cut inside the inner Ethernet header: a tunnel, no inner tuple */
  struct flow_parse q;
  ck_assert_int_eq(parse_exact(&f, 42 + 8 + 10, &q), 0);
  ck_assert_uint_eq(q.tunnel, FLOW_TUNNEL_VXLAN);
  ck_assert_uint_eq(q.has_inner, 0);
  ck_assert_ptr_eq(flow_parse_innermost(&q), &q.key);
  ck_assert_uint_eq(q.payload_offset, 50);
  /* without the I flag it is not VXLAN: plain UDP to 4789 */
  f.b[42] = 0;
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  ck_assert_uint_eq(p.has_inner, 0);
  ck_assert_uint_eq(p.payload_offset, 42);
  ck_assert_uint_eq(p.outer_payload_offset, 42);
  /* from port 4789 (a reply would go to 4789 too): not a tunnel */
  outer_udp(&f, 4789, 50000, 8 + 14);
  put32(&f, 0x08000000), put32(&f, 0);
  eth_in(&f, 0x0806);
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
}
END_TEST

START_TEST(tunnel_geneve) {
  struct fb f;
  /* 8 bytes of options (Opt Len 2), protocol IPv6 directly */
  outer_udp(&f, 12618, 6081, 8 + 8 + 40 + 8);
  put8(&f, 0x02), put8(&f, 0x40), put16(&f, 0x86dd);
  put32(&f, 0x00000a00);
  put32(&f, 0x01020304), put32(&f, 0x05060708);
  ipv6(&f, 17, "2001:db8:1::1", "2001:db8:1::2", 8);
  udp(&f, 1000, 2000, 0);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_GENEVE);
  ck_assert_uint_eq(p.has_inner, 1);
  fmt_eq(&p.inner, "udp [2001:db8:1::1]:1000 > [2001:db8:1::2]:2000");
  ck_assert_uint_eq(p.inner.ethertype, 0x86dd);
  ck_assert_uint_eq(p.inner_l3_offset, 42 + 16);
  ck_assert_uint_eq(p.payload_offset, 42 + 16 + 48);
  check_truncations(&f);
  /* Ethernet inside (0x6558) */
  outer_udp(&f, 12618, 6081, 8 + 14 + 28);
  put8(&f, 0), put8(&f, 0), put16(&f, 0x6558), put32(&f, 0x00000b00);
  eth_in(&f, 0x0806);
  zeros(&f, 28);
  p = parse_full(&f);
  ck_assert_uint_eq(p.has_inner, 1);
  ck_assert_uint_eq(p.inner.af, FLOW_AF_NONE);
  fmt_eq(&p.inner, "ether 0x0806 02:00:00:00:00:0c > 02:00:00:00:00:0d");
  check_truncations(&f);
  /* version 1, or a protocol we do not know: plain UDP */
  f.b[42] = 0x40;
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  f.b[42] = 0;
  f.b[44] = 0x12;
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  /* options longer than the frame */
  outer_udp(&f, 1, 6081, 8);
  put8(&f, 0x3f), put8(&f, 0), put16(&f, 0x6558), put32(&f, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  check_truncations(&f);
}
END_TEST

START_TEST(tunnel_gre) {
  struct fb f;
  /* checksum, key and sequence present: a 16-byte header, then IPv4 */
  eth(&f, 0x0800);
  ipv4(&f, 5, 47, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 16 + 20 + 8);
  put16(&f, 0xb000), put16(&f, 0x0800);
  put32(&f, 0), put32(&f, 42), put32(&f, 7);
  ipv4(&f, 5, 17, IP4(10, 9, 0, 1), IP4(10, 9, 0, 2), 0, 8);
  udp(&f, 5353, 5353, 0);
  struct flow_parse p = parse_full(&f);
  fmt_eq(&p.key, "ip proto 47 10.0.0.1 > 10.0.0.2");
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_GRE);
  ck_assert_uint_eq(p.outer_payload_offset, 34);
  ck_assert_uint_eq(p.inner_l3_offset, 50);
  fmt_eq(&p.inner, "udp 10.9.0.1:5353 > 10.9.0.2:5353");
  ck_assert_uint_eq(p.inner.ethertype, 0x0800);
  ck_assert_uint_eq(p.payload_offset, 78);
  check_truncations(&f);
  /* transparent Ethernet bridging (NVGRE: key present), VLAN, IPv6 */
  eth(&f, 0x86dd);
  ipv6(&f, 47, "2001:db8::a", "2001:db8::b", 8 + 18 + 40 + 20);
  put16(&f, 0x2000), put16(&f, 0x6558), put32(&f, 0x00123400);
  eth_in(&f, 0x8100);
  vlan(&f, 5, 0x86dd);
  ipv6(&f, 6, "fd00::1", "fd00::2", 20);
  tcp(&f, 22, 60000, 5, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_GRE_ETH);
  fmt_eq(&p.inner, "tcp [fd00::1]:22 > [fd00::2]:60000");
  ck_assert_uint_eq(p.payload_offset, f.n);
  ck_assert_str_eq(flow_tunnel_name(p.tunnel), "gre-eth");
  check_truncations(&f);
  /* MPLS over GRE */
  eth(&f, 0x0800);
  ipv4(&f, 5, 47, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 4 + 4 + 20 + 8);
  put16(&f, 0), put16(&f, 0x8847);
  mpls(&f, 30, 1);
  ipv4(&f, 5, 17, IP4(10, 7, 0, 1), IP4(10, 7, 0, 2), 0, 8);
  udp(&f, 1, 2, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_GRE);
  ck_assert_uint_eq(p.has_inner, 1);
  ck_assert_uint_eq(p.mpls_labels, 0); /* counted for the outer layers only */
  fmt_eq(&p.inner, "udp 10.7.0.1:1 > 10.7.0.2:2");
  ck_assert_uint_eq(p.inner.ethertype, 0x0800);
  check_truncations(&f);
  /* version 1 (PPTP) and the routing bit: not looked into */
  eth(&f, 0x0800);
  ipv4(&f, 5, 47, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 8 + 20);
  put16(&f, 0x2001), put16(&f, 0x880b), put32(&f, 0);
  ipv4(&f, 5, 17, IP4(10, 9, 0, 1), IP4(10, 9, 0, 2), 0, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  ck_assert_uint_eq(p.payload_offset, 34);
  f.b[34] = 0x40, f.b[35] = 0x00, f.b[36] = 0x08, f.b[37] = 0x00;
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
}
END_TEST

START_TEST(tunnel_ip_in_ip) {
  struct fb f;
  /* IPv4 in IPv4 */
  eth(&f, 0x0800);
  ipv4(&f, 5, 4, IP4(1, 1, 1, 1), IP4(2, 2, 2, 2), 0, 20 + 8);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 8);
  udp(&f, 7, 8, 0);
  struct flow_parse p = parse_full(&f);
  fmt_eq(&p.key, "ip proto 4 1.1.1.1 > 2.2.2.2");
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_IPIP);
  ck_assert_uint_eq(p.outer_payload_offset, 34);
  fmt_eq(&p.inner, "udp 10.0.0.1:7 > 10.0.0.2:8");
  ck_assert_uint_eq(p.inner_l3_offset, 34);
  ck_assert_uint_eq(p.inner_l4_offset, 54);
  check_truncations(&f);
  /* 6in4 */
  eth(&f, 0x0800);
  ipv4(&f, 5, 41, IP4(1, 1, 1, 1), IP4(2, 2, 2, 2), 0, 40 + 20);
  ipv6(&f, 6, "2001:db8::1", "2001:db8::2", 20);
  tcp(&f, 80, 1234, 5, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_IP6IP);
  fmt_eq(&p.inner, "tcp [2001:db8::1]:80 > [2001:db8::2]:1234");
  ck_assert_uint_eq(p.inner.ethertype, 0x86dd);
  check_truncations(&f);
  /* IPv4 in IPv6, behind a destination options header */
  eth(&f, 0x86dd);
  ipv6(&f, 60, "2001:db8::1", "2001:db8::2", 8 + 20 + 8);
  put8(&f, 4), put8(&f, 0), zeros(&f, 6);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 8);
  udp(&f, 9, 10, 0);
  p = parse_full(&f);
  ck_assert_uint_eq(p.key.proto, 4);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_IPIP);
  fmt_eq(&p.inner, "udp 10.0.0.1:9 > 10.0.0.2:10");
  check_truncations(&f);
  /* a later fragment carries no header to look into */
  eth(&f, 0x0800);
  ipv4(&f, 5, 4, IP4(1, 1, 1, 1), IP4(2, 2, 2, 2), 100, 20 + 8);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 8);
  p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_NONE);
  ck_assert_uint_eq(p.fragment, FLOW_FRAG_LATER);
}
END_TEST

/* VXLAN inside GRE: the innermost tuple is the inner Ethernet's; cut inside
 * it, the tuple of the level above stays. */
START_TEST(tunnel_nested) {
  struct fb f;
  eth(&f, 0x0800);
  ipv4(&f, 5, 47, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0, 4 + 20 + 8 + 8 + 14 + 20 + 20);
  put16(&f, 0), put16(&f, 0x0800);
  ipv4(&f, 5, 17, IP4(10, 5, 0, 1), IP4(10, 5, 0, 2), 0, 8 + 8 + 14 + 20 + 20);
  udp(&f, 33333, 4789, 0);
  f.b[f.n - 4] = 0, f.b[f.n - 3] = 8 + 8 + 14 + 20 + 20; /* the UDP length */
  put32(&f, 0x08000000), put32(&f, 0x00000100);
  eth_in(&f, 0x0800);
  ipv4(&f, 5, 6, IP4(172, 16, 1, 1), IP4(172, 16, 1, 2), 0, 20);
  tcp(&f, 1111, 2222, 5, 0);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_GRE); /* the outermost */
  ck_assert_uint_eq(p.tunnels, 2);
  fmt_eq(&p.inner, "tcp 172.16.1.1:1111 > 172.16.1.2:2222");
  ck_assert_uint_eq(p.payload_offset, f.n);
  check_truncations(&f);
  struct flow_parse q;
  uint32_t cut = 14 + 20 + 4 + 20 + 8 + 8 + 6; /* inside the inner MACs */
  ck_assert_int_eq(parse_exact(&f, cut, &q), 0);
  ck_assert_uint_eq(q.tunnels, 2);
  ck_assert_uint_eq(q.has_inner, 1);
  fmt_eq(&q.inner, "udp 10.5.0.1:33333 > 10.5.0.2:4789");
  ck_assert_uint_eq(q.inner_l3_offset, 38);
}
END_TEST

/* At most FLOW_MAX_TUNNELS encapsulations are entered. */
START_TEST(tunnel_depth_limit) {
  struct fb f;
  eth(&f, 0x0800);
  const int depth = FLOW_MAX_TUNNELS + 2;
  for (int i = 0; i < depth; i++)
    ipv4(&f, 5, 4, IP4(10, 0, 0, i), IP4(10, 0, 1, i), 0, (uint32_t)(depth - i) * 20 + 8);
  ipv4(&f, 5, 17, IP4(10, 9, 9, 1), IP4(10, 9, 9, 2), 0, 8);
  udp(&f, 1, 2, 0);
  struct flow_parse p = parse_full(&f);
  ck_assert_uint_eq(p.tunnels, FLOW_MAX_TUNNELS);
  ck_assert_uint_eq(p.inner.proto, 4);
  ck_assert_uint_eq(p.inner.src[3], FLOW_MAX_TUNNELS);
  ck_assert_uint_eq(p.payload_offset, 14 + 20 * (FLOW_MAX_TUNNELS + 1));
  check_truncations(&f);
}
END_TEST

START_TEST(fragment_flags) {
  struct fb f;
  eth(&f, 0x0800);
  ipv4(&f, 5, 17, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 0x4000, 8); /* DF only */
  udp(&f, 1, 2, 0);
  ck_assert_uint_eq(parse_full(&f).fragment, FLOW_FRAG_NONE);
  f.b[20] = 0x20, f.b[21] = 0; /* MF, offset 0 */
  ck_assert_uint_eq(parse_full(&f).fragment, FLOW_FRAG_FIRST);
  f.b[20] = 0x00, f.b[21] = 3; /* last fragment, offset 24 */
  ck_assert_uint_eq(parse_full(&f).fragment, FLOW_FRAG_LATER);
  eth(&f, 0x86dd);
  ipv6(&f, 44, "2001:db8::1", "2001:db8::2", 8 + 8);
  put8(&f, 17), put8(&f, 0), put16(&f, 0x0001), put32(&f, 1);
  udp(&f, 1, 2, 0);
  ck_assert_uint_eq(parse_full(&f).fragment, FLOW_FRAG_FIRST);
  f.b[14 + 40 + 3] = 0x09; /* offset 8 bytes, M */
  ck_assert_uint_eq(parse_full(&f).fragment, FLOW_FRAG_LATER);
}
END_TEST

/* ---- canonical keys and format ---- */

static struct flow_key key4(uint8_t proto, uint32_t s, uint16_t sp, uint32_t d, uint16_t dp) {
  struct flow_key k;
  memset(&k, 0, sizeof k);
  k.af = FLOW_AF_INET;
  k.proto = proto;
  k.ethertype = 0x0800;
  uint32_t sn = htonl(s), dn = htonl(d);
  memcpy(k.src, &sn, 4);
  memcpy(k.dst, &dn, 4);
  k.sport = sp;
  k.dport = dp;
  return k;
}

static struct flow_key reversed(const struct flow_key *k) {
  struct flow_key r = *k;
  memcpy(r.src, k->dst, 16);
  memcpy(r.dst, k->src, 16);
  r.sport = k->dport;
  r.dport = k->sport;
  return r;
}

static void check_canonical_pair(const struct flow_key *k) {
  struct flow_key r = reversed(k), a, b, aa;
  flow_key_canonical(k, &a);
  flow_key_canonical(&r, &b);
  ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);
  flow_key_canonical(&a, &aa);
  ck_assert_int_eq(memcmp(&a, &aa, sizeof a), 0);
  /* in place */
  struct flow_key c = r;
  flow_key_canonical(&c, &c);
  ck_assert_int_eq(memcmp(&c, &a, sizeof a), 0);
  /* the smaller (addr, port) end first */
  int cmp = memcmp(a.src, a.dst, 16);
  ck_assert(cmp < 0 || (cmp == 0 && a.sport <= a.dport));
}

START_TEST(canonical_both_directions) {
  struct flow_key k = key4(17, IP4(10, 0, 0, 2), 5001, IP4(10, 0, 0, 1), 4000);
  check_canonical_pair(&k);
  struct flow_key c;
  flow_key_canonical(&k, &c);
  fmt_eq(&c, "udp 10.0.0.1:4000 > 10.0.0.2:5001");
  /* same address both ends: ports decide */
  k = key4(6, IP4(127, 0, 0, 1), 9000, IP4(127, 0, 0, 1), 80);
  check_canonical_pair(&k);
  flow_key_canonical(&k, &c);
  ck_assert_uint_eq(c.sport, 80);
  /* address order is bytewise, not by the port */
  k = key4(6, IP4(10, 0, 0, 1), 65000, IP4(9, 0, 0, 1), 1);
  flow_key_canonical(&k, &c);
  fmt_eq(&c, "tcp 9.0.0.1:1 > 10.0.0.1:65000");
  check_canonical_pair(&k);
  /* IPv6 and non-IP from parsed frames */
  struct fb f;
  eth(&f, 0x86dd);
  ipv6(&f, 6, "2001:db8::2", "2001:db8::1", 20);
  tcp(&f, 4000, 80, 5, 0);
  struct flow_parse p = parse_full(&f);
  check_canonical_pair(&p.key);
  flow_key_canonical(&p.key, &c);
  fmt_eq(&c, "tcp [2001:db8::1]:80 > [2001:db8::2]:4000");
  eth(&f, 0x88cc);
  zeros(&f, 40);
  p = parse_full(&f);
  check_canonical_pair(&p.key);
  flow_key_canonical(&p.key, &c);
  fmt_eq(&c, "ether 0x88cc 00:11:22:33:44:55 > 66:77:88:99:aa:bb");
  fmt_eq(&p.key, "ether 0x88cc 00:11:22:33:44:55 > 66:77:88:99:aa:bb");
  struct flow_key r = reversed(&p.key);
  fmt_eq(&r, "ether 0x88cc 66:77:88:99:aa:bb > 00:11:22:33:44:55");
}
END_TEST

START_TEST(format_lengths) {
  struct flow_key k = key4(17, IP4(10, 0, 0, 2), 5001, IP4(10, 0, 0, 1), 4000);
  const char *want = "udp 10.0.0.2:5001 > 10.0.0.1:4000";
  ck_assert_int_eq(flow_key_format(&k, NULL, 0), (int)strlen(want));
  char small[8];
  memset(small, 'x', sizeof small);
  ck_assert_int_eq(flow_key_format(&k, small, sizeof small), (int)strlen(want));
  ck_assert_str_eq(small, "udp 10.");
  k.proto = 132;
  fmt_eq(&k, "ip proto 132 10.0.0.2 > 10.0.0.1");
  k.proto = 0;
  fmt_eq(&k, "ip proto 0 10.0.0.2 > 10.0.0.1");
  /* the longest form fits a 128-byte buffer */
  struct flow_key l;
  memset(&l, 0, sizeof l);
  l.af = FLOW_AF_INET6;
  l.proto = 17;
  ck_assert_int_eq(inet_pton(AF_INET6, "1111:2222:3333:4444:5555:6666:7777:8888", l.src), 1);
  ck_assert_int_eq(inet_pton(AF_INET6, "ffff:eeee:dddd:cccc:bbbb:aaaa:9999:8888", l.dst), 1);
  l.sport = l.dport = 65535;
  fmt_eq(&l, "udp [1111:2222:3333:4444:5555:6666:7777:8888]:65535 > "
             "[ffff:eeee:dddd:cccc:bbbb:aaaa:9999:8888]:65535");
}
END_TEST

/* ---- flow table ---- */

START_TEST(table_ids_and_counts) {
  struct flow_table *ft = flow_table_new();
  ck_assert_ptr_nonnull(ft);
  ck_assert_uint_eq(flow_table_count(ft), 0);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), UINT32_MAX);
  ck_assert_ptr_null(flow_table_get(ft, 0));

  struct flow_key a = key4(17, IP4(10, 0, 0, 2), 5001, IP4(10, 0, 0, 1), 4000);
  struct flow_key b = key4(6, IP4(10, 0, 0, 3), 80, IP4(10, 0, 0, 1), 4000);
  struct flow_key ar = reversed(&a);
  struct flow_key a_tcp = a;
  a_tcp.proto = 6;

  ck_assert_uint_eq(flow_table_find(ft, &a), UINT32_MAX);
  ck_assert_uint_eq(flow_table_add(ft, &a, 100), 0);  /* frame 0 */
  ck_assert_uint_eq(flow_table_add(ft, &b, 200), 1);  /* frame 1 */
  ck_assert_uint_eq(flow_table_add(ft, &ar, 50), 0);  /* frame 2: reply */
  ck_assert_uint_eq(flow_table_add(ft, &a_tcp, 1), 2); /* frame 3: other proto */
  ck_assert_uint_eq(flow_table_add(ft, &a, 100), 0);  /* frame 4 */
  ck_assert_uint_eq(flow_table_count(ft), 3);
  ck_assert_uint_eq(flow_table_find(ft, &ar), 0);
  ck_assert_uint_eq(flow_table_find(ft, &b), 1);
  struct flow_key br = reversed(&b);
  ck_assert_uint_eq(flow_table_find(ft, &br), 1);

  const struct flow_stats *s = flow_table_get(ft, 0);
  ck_assert_uint_eq(s->packets, 3);
  ck_assert_uint_eq(s->bytes, 250);
  ck_assert_uint_eq(s->first_index, 0);
  ck_assert_int_eq(memcmp(&s->key, &a, sizeof a), 0); /* as first seen */
  s = flow_table_get(ft, 1);
  ck_assert_uint_eq(s->packets, 1);
  ck_assert_uint_eq(s->bytes, 200);
  ck_assert_uint_eq(s->first_index, 1);
  s = flow_table_get(ft, 2);
  ck_assert_uint_eq(s->first_index, 3);
  ck_assert_ptr_null(flow_table_get(ft, 3));

  /* the first frame of a flow may be the "reverse" one: kept as seen */
  struct flow_key c = key4(17, IP4(10, 9, 9, 9), 53, IP4(10, 0, 0, 1), 1000);
  ck_assert_uint_eq(flow_table_add_frame(ft, &c, 70, 42), 3);
  s = flow_table_get(ft, 3);
  ck_assert_int_eq(memcmp(&s->key, &c, sizeof c), 0);
  ck_assert_uint_eq(s->first_index, 42);
  char buf[128];
  flow_key_format(&s->key, buf, sizeof buf);
  ck_assert_str_eq(buf, "udp 10.9.9.9:53 > 10.0.0.1:1000");
  flow_table_free(ft);
  flow_table_free(NULL);
}
END_TEST

/* Many flows whose frames alternate in both directions, so that the
 * table's memo of recent keys is hit, missed and overwritten: every frame
 * gets its flow's id (the one its first frame got), and the counts add up. */
START_TEST(table_memo_many_flows) {
  struct flow_table *ft = flow_table_new();
  enum { NF = 700 };
  static uint32_t ids[NF];
  static uint64_t frames[NF];
  uint64_t x = 99;
  for (int i = 0; i < NF; i++)
    ids[i] = UINT32_MAX;
  for (int n = 0; n < 50000; n++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    /* bursts: mostly the last few flows, sometimes any */
    int f = (int)((x >> 8) % 4 == 0 ? x % NF : (x >> 20) % 8);
    struct flow_key k = key4(f % 3 == 0 ? 6 : 17, 0x0a000000u + (uint32_t)(f / 7), (uint16_t)(1000 + f),
                             0x0a000100u + (uint32_t)(f % 7), 80);
    if ((x >> 40) & 1)
      k = reversed(&k);
    uint32_t id = flow_table_add(ft, &k, 100);
    if (ids[f] == UINT32_MAX)
      ids[f] = id;
    ck_assert_uint_eq(id, ids[f]);
    frames[f]++;
    ck_assert_uint_eq(flow_table_find(ft, &k), id);
    struct flow_key r = reversed(&k);
    ck_assert_uint_eq(flow_table_find(ft, &r), id);
  }
  for (int f = 0; f < NF; f++)
    if (ids[f] != UINT32_MAX) {
      ck_assert_uint_eq(flow_table_get(ft, ids[f])->packets, frames[f]);
      ck_assert_uint_eq(flow_table_get(ft, ids[f])->bytes, frames[f] * 100);
    }
  struct flow_key none = key4(17, 0x01020304u, 1, 0x05060708u, 2);
  ck_assert_uint_eq(flow_table_find(ft, &none), UINT32_MAX);
  flow_table_free(ft);
}
END_TEST

START_TEST(table_top_by_bytes) {
  struct flow_table *ft = flow_table_new();
  struct flow_key arp;
  memset(&arp, 0, sizeof arp);
  arp.ethertype = 0x0806;
  memcpy(arp.src, MAC_A, 6);
  memset(arp.dst, 0xff, 6);
  struct flow_key icmp = key4(1, IP4(10, 0, 0, 1), 0, IP4(10, 0, 0, 2), 0);
  /* only flows without ports: the biggest of them */
  ck_assert_uint_eq(flow_table_add(ft, &arp, 100), 0);
  ck_assert_uint_eq(flow_table_add(ft, &icmp, 300), 1);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), 1);
  /* a flow with ports wins even when smaller */
  struct flow_key u1 = key4(17, IP4(10, 0, 0, 1), 1, IP4(10, 0, 0, 2), 2);
  struct flow_key u2 = key4(17, IP4(10, 0, 0, 1), 3, IP4(10, 0, 0, 2), 4);
  struct flow_key frag = key4(17, IP4(10, 0, 0, 5), 0, IP4(10, 0, 0, 6), 0);
  ck_assert_uint_eq(flow_table_add(ft, &frag, 5000), 2); /* UDP without ports */
  ck_assert_uint_eq(flow_table_add(ft, &u1, 10), 3);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), 3);
  ck_assert_uint_eq(flow_table_add(ft, &u2, 10), 4);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), 3); /* tie: the first */
  ck_assert_uint_eq(flow_table_add(ft, &u2, 1), 4);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), 4);
  struct flow_key u1r = reversed(&u1);
  ck_assert_uint_eq(flow_table_add(ft, &u1r, 1), 3); /* tie again */
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), 3);
  flow_table_free(ft);
}
END_TEST

/* Keys that differ in one field only are different flows. */
START_TEST(table_every_field_counts) {
  struct flow_table *ft = flow_table_new();
  struct flow_key base = key4(17, IP4(10, 0, 0, 1), 1000, IP4(10, 0, 0, 2), 53);
  struct flow_key v[8];
  for (int i = 0; i < 8; i++)
    v[i] = base;
  v[1].dport = 54;
  v[2].sport = 1001;
  v[3].proto = 6;
  v[4].ethertype = 0x86dd;
  v[5].af = FLOW_AF_INET6;
  v[6].src[15] = 1;
  v[7].dst[15] = 1;
  for (uint32_t i = 0; i < 8; i++)
    ck_assert_uint_eq(flow_table_add(ft, &v[i], 1), i);
  for (uint32_t i = 0; i < 8; i++) {
    ck_assert_uint_eq(flow_table_find(ft, &v[i]), i);
    struct flow_key r = reversed(&v[i]);
    ck_assert_uint_eq(flow_table_find(ft, &r), i);
  }
  ck_assert_uint_eq(flow_table_count(ft), 8);
  flow_table_free(ft);
}
END_TEST

START_TEST(table_many) {
  struct flow_table *ft = flow_table_new();
  enum { N = 100000 };
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = key4(17, IP4(10, 0, 0, 1), (uint16_t)(i & 0xffff), IP4(10, 1, 0, 0) + (i >> 16), 80);
    ck_assert_uint_eq(flow_table_add(ft, &k, i), i);
  }
  ck_assert_uint_eq(flow_table_count(ft), N);
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = key4(17, IP4(10, 0, 0, 1), (uint16_t)(i & 0xffff), IP4(10, 1, 0, 0) + (i >> 16), 80);
    struct flow_key r = reversed(&k);
    ck_assert_uint_eq(flow_table_find(ft, &r), i);
    ck_assert_uint_eq(flow_table_add(ft, &r, 1), i);
    ck_assert_uint_eq(flow_table_get(ft, i)->packets, 2);
    ck_assert_uint_eq(flow_table_get(ft, i)->first_index, i);
  }
  ck_assert_uint_eq(flow_table_count(ft), N);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), N - 1);
  struct flow_key miss = key4(17, IP4(10, 0, 0, 1), 1, IP4(10, 0, 0, 1), 81);
  ck_assert_uint_eq(flow_table_find(ft, &miss), UINT32_MAX);
  flow_table_free(ft);
}
END_TEST


/* With many flows and a memo that misses, flow_table_prefetch gives each
 * key's hash, and adds and finds given that hash find the same flows as
 * without it; with few flows it does nothing. */
START_TEST(table_prefetch_hashes) {
  struct flow_table *ft = flow_table_new();
  enum { N = 50000 };
  uint64_t h;
  struct flow_key k0 = key4(17, IP4(10, 0, 0, 1), 0, IP4(10, 1, 0, 0), 80);
  ck_assert_int_eq(flow_table_prefetch(ft, &k0, &h), 0); /* an empty table */
  uint32_t hinted = 0;
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = key4(17, IP4(10, 0, 0, 1), (uint16_t)(i & 0xffff), IP4(10, 1, 0, 0) + (i >> 16), 80);
    if (flow_table_prefetch(ft, &k, &h)) {
      hinted++;
      flow_table_prefetch_entry(ft, h);
      ck_assert_uint_eq(flow_table_add_hashed(ft, &k, 1, i, &h), i);
    } else {
      ck_assert_uint_eq(flow_table_add_frame(ft, &k, 1, i), i);
    }
  }
  ck_assert_uint_gt(hinted, N / 4); /* on past 32,768 flows */
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = key4(17, IP4(10, 0, 0, 1), (uint16_t)(i & 0xffff), IP4(10, 1, 0, 0) + (i >> 16), 80);
    struct flow_key r = reversed(&k);
    ck_assert_int_eq(flow_table_prefetch(ft, &r, &h), 1);
    ck_assert_uint_eq(flow_table_find_hashed(ft, &r, &h), i);
    ck_assert_uint_eq(flow_table_find(ft, &r), i);
    ck_assert_uint_eq(flow_table_add_hashed(ft, &r, 1, N + i, &h), i);
    ck_assert_uint_eq(flow_table_get(ft, i)->packets, 2);
    ck_assert_uint_eq(flow_table_get(ft, i)->first_index, i);
  }
  ck_assert_uint_eq(flow_table_count(ft), N);
  struct flow_key miss = key4(17, IP4(10, 0, 0, 1), 1, IP4(10, 0, 0, 1), 81);
  ck_assert_int_eq(flow_table_prefetch(ft, &miss, &h), 1);
  ck_assert_uint_eq(flow_table_find_hashed(ft, &miss, &h), UINT32_MAX);
  flow_table_free(ft);
}
END_TEST


/* ---- the bounded table ---- */

static struct flow_key nth_key(uint32_t i) {
  return key4(17, IP4(10, 0, 0, 1), (uint16_t)(i & 0xffff), IP4(10, 1, 0, 0) + (i >> 16), 80);
}

START_TEST(bounded_limit_only_before_adds) {
  struct flow_table *ft = flow_table_new();
  struct flow_key k = nth_key(0);
  ck_assert_int_eq(flow_table_set_limit(ft, 4), 0);
  flow_table_add(ft, &k, 1);
  ck_assert_int_eq(flow_table_set_limit(ft, 8), -1);
  flow_table_free(ft);
}
END_TEST

/* Many one-frame flows past a small bound: the count never passes it,
 * every flow kept is found and every evicted one is not, and the number
 * evicted is exactly the overflow. */
START_TEST(bounded_evicts_and_stays_consistent) {
  enum { LIMIT = 64, N = 5000 };
  struct flow_table *ft = flow_table_new();
  ck_assert_int_eq(flow_table_set_limit(ft, LIMIT), 0);
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = nth_key(i);
    uint32_t id = flow_table_add(ft, &k, 100 + i % 7);
    ck_assert_uint_lt(id, LIMIT);
    ck_assert_uint_le(flow_table_count(ft), LIMIT);
    ck_assert_uint_eq(flow_table_find(ft, &k), id);
  }
  ck_assert_uint_eq(flow_table_count(ft), LIMIT);
  ck_assert_uint_eq(flow_table_evicted(ft), N - LIMIT);
  ck_assert_uint_eq(flow_table_untracked(ft), 0);
  /* exactly LIMIT keys are found, each under its own id */
  uint8_t seen[LIMIT] = {0};
  uint32_t found = 0;
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = nth_key(i);
    uint32_t id = flow_table_find(ft, &k);
    if (id == UINT32_MAX)
      continue;
    ck_assert_uint_lt(id, LIMIT);
    ck_assert_uint_eq(seen[id], 0);
    seen[id] = 1;
    found++;
    const struct flow_stats *st = flow_table_get(ft, id);
    ck_assert_uint_eq(st->first_index, i); /* the frame that (re)admitted it */
    ck_assert_int_eq(memcmp(&st->key, &k, sizeof k), 0);
  }
  ck_assert_uint_eq(found, LIMIT);
  flow_table_free(ft);
}
END_TEST

/* The same flows seen from the other end (server > client, not the
 * canonical direction): an evicted flow is forgotten whichever direction
 * it was seen in, so its id, now a newcomer's, is never found for it. */
START_TEST(bounded_evicts_either_direction) {
  enum { LIMIT = 64, N = 5000 };
  struct flow_table *ft = flow_table_new();
  ck_assert_int_eq(flow_table_set_limit(ft, LIMIT), 0);
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = nth_key(i);
    if (i % 2)
      k = reversed(&k);
    uint32_t id = flow_table_add(ft, &k, 100 + i % 7);
    ck_assert_uint_lt(id, LIMIT);
    ck_assert_uint_eq(flow_table_find(ft, &k), id);
  }
  uint32_t found = 0;
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = nth_key(i);
    for (int dir = 0; dir < 2; dir++) {
      struct flow_key q = dir ? reversed(&k) : k;
      uint32_t id = flow_table_find(ft, &q);
      if (id == UINT32_MAX)
        continue;
      ck_assert_uint_eq(flow_table_get(ft, id)->first_index, i);
      found += dir == 0;
    }
  }
  ck_assert_uint_eq(found, LIMIT);
  flow_table_free(ft);
}
END_TEST

/* Space-Saving: a flow with more than 1/limit of the bytes survives a flood
 * of one-frame flows and is the top flow, with its exact count when it was
 * admitted before the table filled. */
START_TEST(bounded_heavy_flow_survives) {
  enum { LIMIT = 32, N = 20000 };
  struct flow_table *ft = flow_table_new();
  ck_assert_int_eq(flow_table_set_limit(ft, LIMIT), 0);
  struct flow_key heavy = key4(6, IP4(192, 168, 1, 1), 443, IP4(192, 168, 1, 2), 50000);
  for (uint32_t i = 0; i < N; i++) {
    struct flow_key k = nth_key(i);
    flow_table_add(ft, &k, 64);
    if (i % 4 == 0)
      flow_table_add(ft, &heavy, 1500);
  }
  uint32_t id = flow_table_find(ft, &heavy);
  ck_assert_uint_ne(id, UINT32_MAX);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), id);
  const struct flow_stats *st = flow_table_get(ft, id);
  ck_assert_uint_eq(st->packets, N / 4);
  ck_assert_uint_eq(st->bytes, (uint64_t)N / 4 * 1500);
  ck_assert_uint_eq(st->bytes_error, 0);
  ck_assert_uint_gt(flow_table_evicted(ft), N - 2 * LIMIT);
  flow_table_free(ft);
}
END_TEST

/* A heavy flow that starts after the table is full still gets in and stays:
 * it inherits the evicted flow's estimate, so it is not the next victim. */
START_TEST(bounded_late_heavy_flow) {
  enum { LIMIT = 16 };
  struct flow_table *ft = flow_table_new();
  ck_assert_int_eq(flow_table_set_limit(ft, LIMIT), 0);
  for (uint32_t i = 0; i < 1000; i++) {
    struct flow_key k = nth_key(i);
    flow_table_add(ft, &k, 64);
  }
  struct flow_key heavy = key4(17, IP4(172, 16, 0, 1), 5001, IP4(172, 16, 0, 2), 5001);
  for (uint32_t i = 1000; i < 5000; i++) {
    struct flow_key k = nth_key(i);
    flow_table_add(ft, &k, 64);
    if (i % 2 == 0)
      flow_table_add(ft, &heavy, 1000);
  }
  uint32_t id = flow_table_find(ft, &heavy);
  ck_assert_uint_ne(id, UINT32_MAX);
  ck_assert_uint_eq(flow_table_top_by_bytes(ft), id);
  const struct flow_stats *st = flow_table_get(ft, id);
  ck_assert_uint_eq(st->packets, 2000);
  ck_assert_uint_gt(st->bytes_error, 0); /* admitted into a full table */
  flow_table_free(ft);
}
END_TEST

/* Pinned flows are never evicted; a table full of them leaves new flows
 * out, counted. */
START_TEST(bounded_pinned) {
  enum { LIMIT = 8 };
  struct flow_table *ft = flow_table_new();
  ck_assert_int_eq(flow_table_set_limit(ft, LIMIT), 0);
  struct flow_key k0 = nth_key(0);
  uint32_t id0 = flow_table_add(ft, &k0, 1);
  flow_table_pin(ft, id0);
  for (uint32_t i = 1; i < 500; i++) {
    struct flow_key k = nth_key(i);
    flow_table_add(ft, &k, 1000); /* all bigger than the pinned one */
  }
  ck_assert_uint_eq(flow_table_find(ft, &k0), id0);
  ck_assert_uint_eq(flow_table_get(ft, id0)->bytes, 1);
  /* pin everything kept: nothing can be evicted any more */
  for (uint32_t id = 0; id < LIMIT; id++)
    flow_table_pin(ft, id);
  uint64_t ev = flow_table_evicted(ft);
  struct flow_key n = nth_key(100000);
  ck_assert_uint_eq(flow_table_add(ft, &n, 5), UINT32_MAX);
  ck_assert_uint_eq(flow_table_untracked(ft), 1);
  ck_assert_uint_eq(flow_table_evicted(ft), ev);
  ck_assert_uint_eq(flow_table_find(ft, &n), UINT32_MAX);
  ck_assert_uint_eq(flow_table_count(ft), LIMIT);
  flow_table_free(ft);
}
END_TEST

/* Below its bound a bounded table behaves exactly as an unbounded one. */
START_TEST(bounded_below_limit_same) {
  struct flow_table *a = flow_table_new(), *b = flow_table_new();
  ck_assert_int_eq(flow_table_set_limit(b, 1000), 0);
  for (uint32_t i = 0; i < 5000; i++) {
    struct flow_key k = nth_key((i * 7919u) % 1000);
    ck_assert_uint_eq(flow_table_add(a, &k, i % 1500), flow_table_add(b, &k, i % 1500));
  }
  ck_assert_uint_eq(flow_table_evicted(b), 0);
  ck_assert_uint_eq(flow_table_top_by_bytes(a), flow_table_top_by_bytes(b));
  for (uint32_t id = 0; id < 1000; id++)
    ck_assert_uint_eq(flow_table_get(a, id)->bytes, flow_table_get(b, id)->bytes);
  flow_table_free(a);
  flow_table_free(b);
}
END_TEST

/* ---- a real capture ---- */

START_TEST(corpus_tcpreplay_flows) {
  char err[1024];
  struct trace *t = trace_open(CORPUS "tcpreplay/test/test.pcap", err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  struct flow_table *ft = flow_table_new();
  struct trace_record r;
  int rc;
  uint64_t n = 0, v4 = 0, v6 = 0;
  while ((rc = trace_next(t, &r, err, sizeof err)) == 1) {
    struct flow_parse p;
    ck_assert_int_eq(flow_parse(r.data, r.caplen, &p), 0);
    ck_assert_uint_le(p.payload_offset, r.caplen);
    v4 += p.key.af == FLOW_AF_INET;
    v6 += p.key.af == FLOW_AF_INET6;
    ck_assert_uint_ne(flow_table_add_frame(ft, &p.key, r.origlen, r.index), UINT32_MAX);
    n++;
  }
  ck_assert_int_eq(rc, 0);
  ck_assert_uint_eq(n, 179);
  /* MANIFEST: flows=19 (TCP/UDP 5-tuples, both directions one flow), v4=150,
   * v6=10 (frames parsed as IPv4/IPv6; MPLS-labelled frames are not). */
  uint32_t with_ports = 0;
  for (uint32_t id = 0; id < flow_table_count(ft); id++) {
    const struct flow_key *k = &flow_table_get(ft, id)->key;
    with_ports += k->af != FLOW_AF_NONE && (k->proto == 6 || k->proto == 17) &&
                  (k->sport || k->dport);
  }
  ck_assert_uint_eq(with_ports, 19);
  ck_assert_uint_eq(v6, 10);
  /* 150 untagged IPv4 frames, and 6 ICMP echo requests behind MPLS labels
   * (tcpdump -e shows them; the MANIFEST's v4 does not look past MPLS) */
  ck_assert_uint_eq(v4, 156);
  /* all keys: + ARP, MPLS without IP, STP-like, loopback, ICMP, IGMP,
   * EIGRP. 28, not 30: the labelled echo requests and their unlabelled
   * replies are one flow each (both have EtherType 0x0800 in the key) */
  ck_assert_uint_eq(flow_table_count(ft), 28);
  /* the HTTP download to 216.34.181.45 is the biggest */
  const struct flow_stats *top = flow_table_get(ft, flow_table_top_by_bytes(ft));
  char buf[128];
  flow_key_format(&top->key, buf, sizeof buf);
  ck_assert_str_eq(buf, "tcp 172.16.11.12:64581 > 216.34.181.45:80");
  ck_assert_uint_eq(top->packets, 54);
  ck_assert_uint_eq(top->bytes, 47021);
  flow_table_free(ft);
  trace_close(t);
}
END_TEST

/* Geneve from libpcap's tests: four outer UDP flows (each direction picks
 * its own source port), but two inner flows (an ICMP echo and an SSH
 * connection): the outer key is what RSS sees, the inner what an
 * application owns. */
START_TEST(corpus_geneve) {
  char err[1024];
  struct trace *t = trace_open(CORPUS "libpcap/tests/filter/geneve.pcap", err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  struct flow_table *outer = flow_table_new(), *inner = flow_table_new();
  struct trace_record r;
  int n = 0;
  while (trace_next(t, &r, err, sizeof err) == 1) {
    struct flow_parse p;
    ck_assert_int_eq(flow_parse(r.data, r.caplen, &p), 0);
    ck_assert_uint_eq(p.tunnel, FLOW_TUNNEL_GENEVE);
    ck_assert_uint_eq(p.has_inner, 1);
    ck_assert_uint_eq(p.key.proto, 17);
    ck_assert(p.key.dport == 6081);
    ck_assert_uint_eq(p.inner.af, FLOW_AF_INET);
    ck_assert_uint_eq(p.inner.src[0], 30);
    flow_table_add(outer, &p.key, r.origlen);
    flow_table_add(inner, flow_parse_innermost(&p), r.origlen);
    n++;
  }
  ck_assert_int_eq(n, 10);
  ck_assert_uint_eq(flow_table_count(outer), 4);
  ck_assert_uint_eq(flow_table_count(inner), 2);
  char buf[128];
  flow_key_format(&flow_table_get(inner, flow_table_top_by_bytes(inner))->key, buf, sizeof buf);
  ck_assert_str_eq(buf, "tcp 30.0.0.2:51225 > 30.0.0.1:22");
  flow_table_free(outer);
  flow_table_free(inner);
  trace_close(t);
}
END_TEST

/* Zeek's mixed VLAN and MPLS capture: every frame is IPv4 once the labels
 * are looked past (the MANIFEST's v4=36 counts the untagged ones). */
START_TEST(corpus_vlan_mpls) {
  char err[1024];
  struct trace *t =
      trace_open(CORPUS "zeek/testing/btest/Traces/mixed-vlan-mpls.pcap", err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  struct trace_record r;
  int n = 0, v4 = 0, labelled = 0, tagged = 0;
  while (trace_next(t, &r, err, sizeof err) == 1) {
    struct flow_parse p;
    ck_assert_int_eq(flow_parse(r.data, r.caplen, &p), 0);
    v4 += p.key.af == FLOW_AF_INET;
    labelled += p.mpls_labels > 0;
    tagged += p.vlan_tags > 0;
    n++;
  }
  ck_assert_int_eq(n, 47);
  ck_assert_int_eq(v4, 47);
  ck_assert_int_eq(labelled, 11); /* tcpdump -e: 11 MPLS, 14 802.1Q, 22 IPv4 */
  ck_assert_int_eq(tagged, 14);
  trace_close(t);
}
END_TEST

static Suite *flow_suite(void) {
  Suite *s = suite_create("flow");
  TCase *tc = tcase_create("parse");
  tcase_add_test(tc, ipv4_udp);
  tcase_add_test(tc, table_memo_many_flows);
  tcase_add_test(tc, ipv4_tcp_options);
  tcase_add_test(tc, ipv4_padding_not_parsed);
  tcase_add_test(tc, icmp_and_other_proto);
  tcase_add_test(tc, vlan_single);
  tcase_add_test(tc, vlan_qinq);
  tcase_add_test(tc, ipv6_extension_headers);
  tcase_add_test(tc, ipv6_fragments);
  tcase_add_test(tc, ipv4_fragments);
  tcase_add_test(tc, ipv4_malformed);
  tcase_add_test(tc, non_ip);
  tcase_add_test(tc, mpls_stack);
  tcase_add_test(tc, pppoe_session);
  tcase_add_test(tc, fragment_flags);
  suite_add_tcase(s, tc);
  tc = tcase_create("tunnel");
  tcase_add_test(tc, tunnel_vxlan);
  tcase_add_test(tc, tunnel_geneve);
  tcase_add_test(tc, tunnel_gre);
  tcase_add_test(tc, tunnel_ip_in_ip);
  tcase_add_test(tc, tunnel_nested);
  tcase_add_test(tc, tunnel_depth_limit);
  suite_add_tcase(s, tc);
  tc = tcase_create("key");
  tcase_add_test(tc, canonical_both_directions);
  tcase_add_test(tc, format_lengths);
  suite_add_tcase(s, tc);
  tc = tcase_create("table");
  tcase_add_test(tc, table_ids_and_counts);
  tcase_add_test(tc, table_top_by_bytes);
  tcase_add_test(tc, table_every_field_counts);
  tcase_add_test(tc, table_many);
  tcase_add_test(tc, table_prefetch_hashes);
  tcase_add_test(tc, bounded_limit_only_before_adds);
  tcase_add_test(tc, bounded_evicts_and_stays_consistent);
  tcase_add_test(tc, bounded_evicts_either_direction);
  tcase_add_test(tc, bounded_heavy_flow_survives);
  tcase_add_test(tc, bounded_late_heavy_flow);
  tcase_add_test(tc, bounded_pinned);
  tcase_add_test(tc, bounded_below_limit_same);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, corpus_tcpreplay_flows);
  tcase_add_test(tc, corpus_geneve);
  tcase_add_test(tc, corpus_vlan_mpls);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(flow_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
