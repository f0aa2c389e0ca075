/*
 * traces/trace.c, second part: link-type conversion to Ethernet (Linux
 * cooked SLL/SLL2, raw IP, LINKTYPE_IPV4/IPV6, BSD loopback), records that
 * cannot be converted (refused or skipped), timestamps (backwards, out of
 * range), pcapng sections, interfaces and per-interface resolutions, and
 * libpcap's checks on hostile lengths. Every capture is written here, by
 * libpcap's dumper or byte by byte, into $TMPDIR (or /tmp), and removed.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "trace.h"

static char err[1024];

static const uint8_t SYN_SRC[6] = {0x02, 0x6e, 0x73, 0x00, 0x00, 0x01};
static const uint8_t SYN_DST[6] = {0x02, 0x6e, 0x73, 0x00, 0x00, 0x02};

/* ---- byte buffers ---- */

struct buf {
  uint8_t b[4096];
  size_t n;
};

static void put(struct buf *b, const void *p, size_t n) {
  ck_assert_uint_le(b->n + n, sizeof b->b);
  memcpy(b->b + b->n, p, n);
  b->n += n;
}
static void put8(struct buf *b, uint8_t v) { put(b, &v, 1); }
static void put16be(struct buf *b, uint16_t v) {
  put8(b, (uint8_t)(v >> 8));
  put8(b, (uint8_t)v);
}
static void put32be(struct buf *b, uint32_t v) {
  put16be(b, (uint16_t)(v >> 16));
  put16be(b, (uint16_t)v);
}
static void put16e(struct buf *b, uint16_t v, int be) {
  if (be) {
    put16be(b, v);
  } else {
    put8(b, (uint8_t)v);
    put8(b, (uint8_t)(v >> 8));
  }
}
static void put32e(struct buf *b, uint32_t v, int be) {
  if (be) {
    put32be(b, v);
  } else {
    put16e(b, (uint16_t)v, 0);
    put16e(b, (uint16_t)(v >> 16), 0);
  }
}
static void put64e(struct buf *b, uint64_t v, int be) {
  if (be) {
    put32e(b, (uint32_t)(v >> 32), 1);
    put32e(b, (uint32_t)v, 1);
  } else {
    put32e(b, (uint32_t)v, 0);
    put32e(b, (uint32_t)(v >> 32), 0);
  }
}

/* An IPv4 header (20 bytes) with protocol proto, then l4len bytes. */
static void ip4(struct buf *b, uint8_t proto, const uint8_t src[4], const uint8_t dst[4],
                uint16_t l4len) {
  put8(b, 0x45);
  put8(b, 0);
  put16be(b, (uint16_t)(20 + l4len));
  put32be(b, 0x12344000);
  put8(b, 64);
  put8(b, proto);
  put16be(b, 0);
  put(b, src, 4);
  put(b, dst, 4);
}

static void ip6(struct buf *b, uint8_t next, const uint8_t src[16], const uint8_t dst[16],
                uint16_t plen) {
  put32be(b, 0x60000000);
  put16be(b, plen);
  put8(b, next);
  put8(b, 64);
  put(b, src, 16);
  put(b, dst, 16);
}

static void udp(struct buf *b, uint16_t sp, uint16_t dp, uint16_t paylen) {
  put16be(b, sp);
  put16be(b, dp);
  put16be(b, (uint16_t)(8 + paylen));
  put16be(b, 0);
  for (uint16_t i = 0; i < paylen; i++)
    put8(b, (uint8_t)('A' + i % 26));
}

static const uint8_t A4[4] = {192, 0, 2, 1}, B4[4] = {192, 0, 2, 2};
static const uint8_t MC4[4] = {239, 129, 2, 3}; /* 129: the bit RFC 1112 drops */
static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t MC6[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x00, 0x12, 0x34};
static const uint8_t MAC[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};

/* ---- files ---- */

static void tmp_path(char *buf, size_t n, const char *suffix) {
  const char *dir = getenv("TMPDIR");
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  char tmpl[512];
  snprintf(tmpl, sizeof tmpl, "%s/nicsim_test_conv_XXXXXX", dir);
  int fd = mkstemp(tmpl);
  ck_assert_int_ge(fd, 0);
  close(fd);
  unlink(tmpl);
  snprintf(buf, n, "%s%s", tmpl, suffix);
}

static void spit(const char *path, const uint8_t *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

/* Records for libpcap's dumper: bytes, and the wire length (0: the same). */
struct rec_in {
  struct buf b;
  uint32_t wire;
};

/* Write records with libpcap's dumper for link type dlt (microsecond pcap;
 * record i stamped 100+i s). */
static void dump(const char *path, int dlt, const struct rec_in *r, int n) {
  pcap_t *dead = pcap_open_dead(dlt, 65535);
  ck_assert_ptr_nonnull(dead);
  pcap_dumper_t *d = pcap_dump_open(dead, path);
  ck_assert_msg(d != NULL, "%s", pcap_geterr(dead));
  for (int i = 0; i < n; i++) {
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = 100 + i;
    h.caplen = (bpf_u_int32)r[i].b.n;
    h.len = r[i].wire ? r[i].wire : (bpf_u_int32)r[i].b.n;
    pcap_dump((u_char *)d, &h, r[i].b.b);
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

static struct trace *must_open(const char *path) {
  struct trace *t = trace_open(path, err, sizeof err);
  ck_assert_msg(t != NULL, "trace_open(%s): %s", path, err);
  return t;
}

static struct trace *must_open_skip(const char *path) {
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  o.skip_unsupported = 1;
  struct trace *t = trace_open2(path, &o, err, sizeof err);
  ck_assert_msg(t != NULL, "trace_open2(%s): %s", path, err);
  return t;
}

/* The converted frame is dst, src, type, then the record's bytes after its
 * own header of hlen bytes; orig_* describe the record as written. */
static void check_converted(const struct trace_record *r, const struct rec_in *in, int dlt,
                            uint32_t hlen, const uint8_t dst[6], const uint8_t src[6],
                            uint16_t type) {
  ck_assert(r->flags & TRACE_REC_CONVERTED);
  ck_assert_int_eq(r->orig_linktype, dlt);
  ck_assert_uint_eq(r->orig_caplen, in->b.n);
  ck_assert_uint_eq(r->orig_origlen, in->wire ? in->wire : in->b.n);
  ck_assert_int_eq(memcmp(r->orig_data, in->b.b, in->b.n), 0);
  ck_assert_uint_eq(r->caplen, in->b.n - hlen + 14);
  uint32_t wire = in->wire ? in->wire : (uint32_t)in->b.n;
  ck_assert_uint_eq(r->origlen, wire - hlen + 14);
  ck_assert_int_eq(memcmp(r->data, dst, 6), 0);
  ck_assert_int_eq(memcmp(r->data + 6, src, 6), 0);
  ck_assert_uint_eq((uint32_t)(r->data[12] << 8 | r->data[13]), type);
  ck_assert_int_eq(memcmp(r->data + 14, in->b.b + hlen, in->b.n - hlen), 0);
}

/* A Linux cooked (SLL) header. */
static void sll(struct buf *b, uint16_t pkttype, uint16_t hatype, const uint8_t *addr,
                uint16_t halen, uint16_t proto) {
  b->n = 0;
  put16be(b, pkttype);
  put16be(b, hatype);
  put16be(b, halen);
  uint8_t a[8] = {0};
  if (addr)
    memcpy(a, addr, halen < 8 ? halen : 8);
  put(b, a, 8);
  put16be(b, proto);
}

/* ---- Linux cooked captures ---- */

START_TEST(sll_converted) {
  struct rec_in in[8];
  memset(in, 0, sizeof in);
  /* 0: IPv4/UDP to us, from an Ethernet device with a 6-byte address */
  sll(&in[0].b, 0, 1, MAC, 6, 0x0800);
  ip4(&in[0].b, 17, A4, B4, 8 + 12);
  udp(&in[0].b, 1234, 53, 12);
  /* 1: ARP broadcast */
  sll(&in[1].b, 1, 1, MAC, 6, 0x0806);
  for (int i = 0; i < 28; i++)
    put8(&in[1].b, (uint8_t)i);
  /* 2: IPv4 multicast to 239.129.2.3: 01:00:5e and the low 23 bits */
  sll(&in[2].b, 2, 1, MAC, 6, 0x0800);
  ip4(&in[2].b, 17, A4, MC4, 8);
  udp(&in[2].b, 5000, 5000, 0);
  /* 3: IPv6 multicast to ff02::1:ff00:1234 */
  sll(&in[3].b, 2, 1, MAC, 6, 0x86dd);
  ip6(&in[3].b, 17, A6, MC6, 8);
  udp(&in[3].b, 546, 547, 0);
  /* 4: sent by us on a device without addresses (a tun: ARPHRD_NONE) */
  sll(&in[4].b, 4, 0xfffe, NULL, 0, 0x0800);
  ip4(&in[4].b, 17, A4, B4, 8);
  udp(&in[4].b, 1, 2, 0);
  /* 5: an 802.2 LLC frame (STP-like): an 802.3 frame with a length field */
  sll(&in[5].b, 2, 1, MAC, 6, 0x0004);
  put8(&in[5].b, 0x42), put8(&in[5].b, 0x42), put8(&in[5].b, 0x03);
  for (int i = 0; i < 35; i++)
    put8(&in[5].b, 0);
  /* 6: protocol 0x0003: the payload is a whole Ethernet frame */
  sll(&in[6].b, 0, 1, MAC, 6, 0x0003);
  put(&in[6].b, "\x66\x77\x88\x99\xaa\xbb\x00\x11\x22\x33\x44\x55\x08\x00", 14);
  ip4(&in[6].b, 17, A4, B4, 8);
  udp(&in[6].b, 9, 9, 0);
  /* 7: cut by the snapshot: 46 bytes captured of 1016 on the wire */
  sll(&in[7].b, 0, 1, MAC, 6, 0x0800);
  ip4(&in[7].b, 17, A4, B4, 980);
  udp(&in[7].b, 1234, 53, 2);
  in[7].wire = 1016;

  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  dump(path, DLT_LINUX_SLL, in, 8);
  struct trace *t = must_open(path);
  ck_assert_int_eq(trace_linktype(t), DLT_EN10MB);
  ck_assert_str_eq(trace_linktype_name(t), "EN10MB");
  ck_assert_int_eq(trace_file_linktype(t), DLT_LINUX_SLL);
  ck_assert_str_eq(trace_file_linktype_name(t), "LINUX_SLL");
  ck_assert_int_eq(trace_converts(t), 1);
  struct trace_record r;
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t mc4[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};
  static const uint8_t mc6[6] = {0x33, 0x33, 0xff, 0x00, 0x12, 0x34};

  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_uint_eq(r.index, 0);
  check_converted(&r, &in[0], DLT_LINUX_SLL, 16, SYN_DST, MAC, 0x0800);
  ck_assert_uint_eq(r.flags, TRACE_REC_CONVERTED);
  struct flow_parse p;
  ck_assert_int_eq(flow_parse(r.data, r.caplen, &p), 0);
  char name[128];
  flow_key_format(&p.key, name, sizeof name);
  ck_assert_str_eq(name, "udp 192.0.2.1:1234 > 192.0.2.2:53");
  ck_assert_uint_eq(p.payload_offset, 14 + 28);

  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[1], DLT_LINUX_SLL, 16, bcast, MAC, 0x0806);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[2], DLT_LINUX_SLL, 16, mc4, MAC, 0x0800);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[3], DLT_LINUX_SLL, 16, mc6, MAC, 0x86dd);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[4], DLT_LINUX_SLL, 16, SYN_DST, SYN_SRC, 0x0800);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[5], DLT_LINUX_SLL, 16, (const uint8_t[]){0x03, 0x6e, 0x73, 0, 0, 2},
                  MAC, 38); /* multicast without IP: the group bit; 38 bytes of LLC */
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  /* the Ethernet frame inside, as it is */
  ck_assert(r.flags & TRACE_REC_CONVERTED);
  ck_assert_uint_eq(r.caplen, in[6].b.n - 16);
  ck_assert_int_eq(memcmp(r.data, in[6].b.b + 16, r.caplen), 0);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[7], DLT_LINUX_SLL, 16, SYN_DST, MAC, 0x0800);
  ck_assert_uint_eq(r.caplen, 46 - 16 + 14);
  ck_assert_uint_eq(r.origlen, 1016 - 16 + 14);
  ck_assert_uint_eq(r.flags, TRACE_REC_CONVERTED | TRACE_REC_TRUNCATED);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);

  const struct trace_stats *st = trace_stats(t);
  ck_assert_uint_eq(st->records, 8);
  ck_assert_uint_eq(st->packets, 8);
  ck_assert_uint_eq(st->converted, 8);
  ck_assert_uint_eq(st->truncated_packets, 1);
  ck_assert_uint_eq(st->uncaptured_bytes, 1016 - 46);
  uint64_t bytes = 0;
  for (int i = 0; i < 8; i++)
    bytes += (in[i].wire ? in[i].wire : in[i].b.n) - (i == 6 ? 16 : 2);
  ck_assert_uint_eq(st->bytes, bytes);
  ck_assert_uint_eq(st->skipped_unsupported, 0);

  /* a BPF filter for the trace's link type applies to the Ethernet frames */
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  ck_assert_uint_eq(trace_stats(t)->converted, 0);
  struct trace_filter *f = trace_filter_new(
      trace_linktype(t), "ether src 00:11:22:33:44:55 and udp port 53", err, sizeof err);
  ck_assert_msg(f != NULL, "%s", err);
  int matches = 0;
  while (trace_next(t, &r, err, sizeof err) == 1)
    matches += trace_filter_match(f, &r);
  ck_assert_int_eq(matches, 2); /* records 0 and 7 */
  trace_filter_free(f);
  trace_close(t);
  unlink(path);
}
END_TEST

/* Linux cooked records with no Ethernet form: an error naming the file and
 * the record, or skipped and counted when asked. */
START_TEST(sll_unsupported_records) {
  struct rec_in in[6];
  memset(in, 0, sizeof in);
  sll(&in[0].b, 0, 1, MAC, 6, 0x0800);
  ip4(&in[0].b, 17, A4, B4, 8);
  udp(&in[0].b, 1, 2, 0);
  /* CAN (ARPHRD_CAN 280, protocol 0x000c) */
  sll(&in[1].b, 4, 280, NULL, 0, 0x000c);
  for (int i = 0; i < 16; i++)
    put8(&in[1].b, 0);
  in[2] = in[0];
  /* netlink (ARPHRD_NETLINK 824): the protocol field is a netlink family */
  sll(&in[3].b, 4, 824, NULL, 0, 0x0800);
  for (int i = 0; i < 20; i++)
    put8(&in[3].b, 0);
  /* shorter than the cooked header */
  put(&in[4].b, "\x00\x00\x00\x01", 4);
  /* an 802.2 frame longer than an 802.3 length allows */
  sll(&in[5].b, 0, 1, MAC, 6, 0x0004);
  put(&in[5].b, "\xaa\xaa\x03", 3);
  in[5].wire = 16 + 1600;
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  dump(path, DLT_LINUX_SLL, in, 6);

  struct trace *t = must_open(path);
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: record 1: Linux cooked record of protocol 0x000c (ARPHRD 280) has no Ethernet form",
           path);
  ck_assert_str_eq(err, want);
  err[0] = '\0';
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1); /* it sticks */
  ck_assert_str_eq(err, want);
  trace_close(t);

  t = must_open_skip(path);
  int n = 0;
  uint64_t idx[6];
  int rc;
  while ((rc = trace_next(t, &r, err, sizeof err)) == 1)
    idx[n++] = r.index;
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(n, 2);
  ck_assert_uint_eq(idx[0], 0);
  ck_assert_uint_eq(idx[1], 2); /* the file's numbering: skipped records count */
  const struct trace_stats *st = trace_stats(t);
  ck_assert_uint_eq(st->records, 6);
  ck_assert_uint_eq(st->packets, 2);
  ck_assert_uint_eq(st->skipped_unsupported, 4);
  ck_assert_uint_eq(st->converted, 2);
  trace_close(t);

  /* each refusal says why */
  static const char *const why[] = {
      "Linux cooked record of a netlink socket (ARPHRD 824) has no Ethernet form",
      "4 captured bytes, fewer than the 16-byte Linux cooked header",
      "Linux cooked 802.2/802.3 record of 1600 bytes is longer than an 802.3 length field "
      "allows (1500)"};
  for (int k = 0; k < 3; k++) {
    struct rec_in one[2] = {in[0], in[3 + k]};
    dump(path, DLT_LINUX_SLL, one, 2);
    t = must_open(path);
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: record 1: %s", path, why[k]);
    ck_assert_str_eq(err, want);
    trace_close(t);
  }
  unlink(path);
}
END_TEST

START_TEST(sll2_converted) {
  struct rec_in in[1];
  memset(in, 0, sizeof in);
  struct buf *b = &in[0].b;
  put16be(b, 0x86dd); /* protocol */
  put16be(b, 0);      /* reserved */
  put32be(b, 3);      /* interface index */
  put16be(b, 1);      /* ARPHRD_ETHER */
  put8(b, 0);         /* to us */
  put8(b, 6);         /* address length */
  put(b, MAC, 6);
  put16be(b, 0);
  ip6(b, 17, A6, B6, 8 + 4);
  udp(b, 40000, 443, 4);
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  dump(path, DLT_LINUX_SLL2, in, 1);
  struct trace *t = must_open(path);
  ck_assert_str_eq(trace_file_linktype_name(t), "LINUX_SLL2");
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[0], DLT_LINUX_SLL2, 20, SYN_DST, MAC, 0x86dd);
  struct flow_parse p;
  ck_assert_int_eq(flow_parse(r.data, r.caplen, &p), 0);
  char name[128];
  flow_key_format(&p.key, name, sizeof name);
  ck_assert_str_eq(name, "udp [2001:db8::1]:40000 > [2001:db8::2]:443");
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- raw IP ---- */

START_TEST(raw_ip) {
  struct rec_in in[4];
  memset(in, 0, sizeof in);
  ip4(&in[0].b, 17, A4, B4, 8);
  udp(&in[0].b, 1, 2, 0);
  ip6(&in[1].b, 17, A6, B6, 8);
  udp(&in[1].b, 3, 4, 0);
  put8(&in[2].b, 0x55); /* IP version 5 */
  for (int i = 0; i < 19; i++)
    put8(&in[2].b, 0);
  ip4(&in[3].b, 6, A4, B4, 0);
  in[3].wire = 1500;
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  /* DLT_RAW is written as LINKTYPE_RAW (101), and read back as DLT_RAW */
  dump(path, DLT_RAW, in, 4);
  FILE *fp = fopen(path, "rb");
  uint8_t hdr[24];
  ck_assert_uint_eq(fread(hdr, 1, 24, fp), 24);
  fclose(fp);
  ck_assert_uint_eq(hdr[20], 101);

  struct trace *t = must_open(path);
  ck_assert_int_eq(trace_file_linktype(t), DLT_RAW);
  ck_assert_str_eq(trace_file_linktype_name(t), "RAW");
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[0], DLT_RAW, 0, SYN_DST, SYN_SRC, 0x0800);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[1], DLT_RAW, 0, SYN_DST, SYN_SRC, 0x86dd);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: record 2: raw IP record of IP version 5 (only 4 and 6 have an EtherType)", path);
  ck_assert_str_eq(err, want);
  trace_close(t);

  t = must_open_skip(path);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_uint_eq(r.index, 3);
  check_converted(&r, &in[3], DLT_RAW, 0, SYN_DST, SYN_SRC, 0x0800);
  ck_assert_uint_eq(r.origlen, 1514);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
  ck_assert_uint_eq(trace_stats(t)->skipped_unsupported, 1);
  trace_close(t);

  /* LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229): the type is the link type */
  dump(path, DLT_IPV4, in, 1);
  t = must_open(path);
  ck_assert_str_eq(trace_file_linktype_name(t), "IPV4");
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[0], DLT_IPV4, 0, SYN_DST, SYN_SRC, 0x0800);
  trace_close(t);
  dump(path, DLT_IPV6, in + 1, 1);
  t = must_open(path);
  ck_assert_str_eq(trace_file_linktype_name(t), "IPV6");
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &in[1], DLT_IPV6, 0, SYN_DST, SYN_SRC, 0x86dd);
  trace_close(t);

  /* an empty raw record: nothing captured, so no frame; counted */
  struct rec_in empty[1];
  memset(empty, 0, sizeof empty);
  empty[0].wire = 40;
  dump(path, DLT_RAW, empty, 1);
  t = must_open(path);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
  ck_assert_uint_eq(trace_stats(t)->zero_length, 1);
  ck_assert_uint_eq(trace_stats(t)->packets, 0);
  ck_assert_uint_eq(trace_stats(t)->records, 1);
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- BSD loopback ---- */

static void loop_rec(struct rec_in *r, uint32_t af, int be, int v6) {
  memset(r, 0, sizeof *r);
  put32e(&r->b, af, be);
  if (v6)
    ip6(&r->b, 17, A6, B6, 8);
  else
    ip4(&r->b, 17, A4, B4, 8);
  udp(&r->b, 7, 7, 0);
}

START_TEST(bsd_loopback) {
  /* DLT_NULL: the family in the writer's byte order, either one */
  struct rec_in in[7];
  loop_rec(&in[0], 2, 0, 0);
  loop_rec(&in[1], 2, 1, 0);
  loop_rec(&in[2], 24, 0, 1);
  loop_rec(&in[3], 28, 1, 1);
  loop_rec(&in[4], 30, 0, 1);
  loop_rec(&in[5], 7, 0, 0); /* OSI */
  loop_rec(&in[6], 30, 1, 1);
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  dump(path, DLT_NULL, in, 7);
  struct trace *t = must_open(path);
  ck_assert_str_eq(trace_file_linktype_name(t), "NULL");
  struct trace_record r;
  static const uint16_t type[5] = {0x0800, 0x0800, 0x86dd, 0x86dd, 0x86dd};
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    check_converted(&r, &in[i], DLT_NULL, 4, SYN_DST, SYN_SRC, type[i]);
  }
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: record 5: loopback record of address family 7 (not IPv4 or IPv6)", path);
  ck_assert_str_eq(err, want);
  trace_close(t);
  t = must_open_skip(path);
  int n = 0;
  while (trace_next(t, &r, err, sizeof err) == 1)
    n++;
  ck_assert_int_eq(n, 6);
  ck_assert_uint_eq(trace_stats(t)->skipped_unsupported, 1);
  trace_close(t);

  /* DLT_LOOP: network byte order only */
  struct rec_in lo[3];
  loop_rec(&lo[0], 2, 1, 0);
  loop_rec(&lo[1], 30, 1, 1);
  loop_rec(&lo[2], 2, 0, 0);
  dump(path, DLT_LOOP, lo, 3);
  t = must_open(path);
  ck_assert_str_eq(trace_file_linktype_name(t), "LOOP");
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &lo[0], DLT_LOOP, 4, SYN_DST, SYN_SRC, 0x0800);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  check_converted(&r, &lo[1], DLT_LOOP, 4, SYN_DST, SYN_SRC, 0x86dd);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, ": record 2: loopback record of address family 33554432"));
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- timestamps ---- */

/* A pcap written byte by byte, little-endian, with magic (nanosecond
 * 0xa1b23c4d or microsecond 0xa1b2c3d4): records of 60 bytes with the given
 * (sec, fraction) fields, which may be anything. */
static void ts_pcap(const char *path, uint32_t magic, const uint32_t (*ts)[2], int n) {
  struct buf b;
  b.n = 0;
  put32e(&b, magic, 0);
  put16e(&b, 2, 0);
  put16e(&b, 4, 0);
  put32e(&b, 0, 0);
  put32e(&b, 0, 0);
  put32e(&b, 65535, 0);
  put32e(&b, 1, 0);
  for (int i = 0; i < n; i++) {
    put32e(&b, ts[i][0], 0);
    put32e(&b, ts[i][1], 0);
    put32e(&b, 60, 0);
    put32e(&b, 60, 0);
    for (int j = 0; j < 60; j++)
      put8(&b, j == 12 ? 0x08 : 0);
  }
  spit(path, b.b, b.n);
}

static void nano_pcap(const char *path, const uint32_t (*ts)[2], int n) { ts_pcap(path, 0xa1b23c4d, ts, n); }

START_TEST(timestamps_backwards_and_out_of_range) {
  const uint32_t far = 1000u + 200u * 86400u; /* 200 days later: past 2^63 ps */
  const uint32_t ts[6][2] = {{1000, 5}, {999, 0},  {1000, 2000000000u},
                             {far, 0},  {1001, 7}, {1001, 6}};
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  nano_pcap(path, ts, 6);
  struct trace *t = must_open(path);
  struct trace_record r[6], end;
  for (int i = 0; i < 6; i++)
    ck_assert_int_eq(trace_next(t, &r[i], err, sizeof err), 1);
  ck_assert_int_eq(trace_next(t, &end, err, sizeof err), 0);
  /* 0: as it is */
  ck_assert_int_eq(r[0].ts_sec, 1000);
  ck_assert_uint_eq(r[0].ts_nsec, 5);
  ck_assert_uint_eq(r[0].flags, 0);
  /* 1: backwards, passed on */
  ck_assert_uint_eq(r[1].flags, TRACE_REC_TS_BACKWARDS);
  ck_assert_int_eq(r[1].ts_sec, 999);
  /* 2: 2e9 ns is no fraction of a second: the previous record's time */
  ck_assert_uint_eq(r[2].flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_int_eq(r[2].orig_ts_sec, 1000);
  ck_assert_uint_eq(r[2].orig_ts_nsec, 2000000000u);
  ck_assert_int_eq(r[2].ts_sec, 999);
  ck_assert_uint_eq(r[2].ts_nsec, 0);
  ck_assert_uint_eq(r[2].ts_ps, UINT64_C(999) * 1000000000000u);
  /* 3: too far from the first record for ts_ps differences */
  ck_assert_uint_eq(r[3].flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_int_eq(r[3].orig_ts_sec, far);
  ck_assert_int_eq(r[3].ts_sec, 999);
  /* 4: forward again; 5: 1 ns back */
  ck_assert_uint_eq(r[4].flags, 0);
  ck_assert_int_eq(r[4].ts_sec, 1001);
  ck_assert_uint_eq(r[4].ts_ps - r[0].ts_ps, UINT64_C(1000000002) * 1000u);
  ck_assert_uint_eq(r[5].flags, TRACE_REC_TS_BACKWARDS);
  const struct trace_stats *st = trace_stats(t);
  ck_assert_uint_eq(st->ts_backwards, 2);
  ck_assert_uint_eq(st->ts_out_of_range, 2);
  /* just inside the span: 106 days is fine */
  trace_close(t);
  const uint32_t near[2][2] = {{1000, 0}, {1000u + 106u * 86400u, 0}};
  nano_pcap(path, near, 2);
  t = must_open(path);
  ck_assert_int_eq(trace_next(t, &r[0], err, sizeof err), 1);
  ck_assert_int_eq(trace_next(t, &r[1], err, sizeof err), 1);
  ck_assert_uint_eq(r[1].flags, 0);
  ck_assert_uint_eq(r[1].ts_ps - r[0].ts_ps, UINT64_C(106) * 86400u * 1000000000000u);
  trace_close(t);

  /* a first record out of range: the nanoseconds are dropped */
  const uint32_t first[2][2] = {{1500, 1500000000u}, {1500, 10}};
  nano_pcap(path, first, 2);
  t = must_open(path);
  ck_assert_int_eq(trace_next(t, &r[0], err, sizeof err), 1);
  ck_assert_uint_eq(r[0].flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_int_eq(r[0].ts_sec, 1500);
  ck_assert_uint_eq(r[0].ts_nsec, 0);
  ck_assert_int_eq(trace_next(t, &r[1], err, sizeof err), 1);
  ck_assert_uint_eq(r[1].flags, 0);
  ck_assert_uint_eq(r[1].ts_ps - r[0].ts_ps, 10000u);
  /* the counts start again on rewind */
  ck_assert_uint_eq(trace_stats(t)->ts_out_of_range, 1);
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  ck_assert_uint_eq(trace_stats(t)->ts_out_of_range, 0);
  ck_assert_int_eq(trace_next(t, &r[0], err, sizeof err), 1);
  ck_assert_uint_eq(r[0].flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_uint_eq(trace_stats(t)->ts_out_of_range, 1);
  trace_close(t);
  unlink(path);
}
END_TEST

/* path read by libpcap (libpcap 1) or the direct reader (0). */
static struct trace *must_open_reader(const char *path, int libpcap) {
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  o.libpcap_records = libpcap;
  struct trace *t = trace_open2(path, &o, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  ck_assert_int_eq(trace_direct(t), !libpcap);
  return t;
}

/* A microsecond field of 10^6 or more is out of range whatever it becomes
 * in nanoseconds: 4294968 us is 4294968000 ns, which is 704 ns modulo 2^32
 * and must not be taken for it. Read by libpcap and by the direct reader. */
START_TEST(microsecond_fraction_out_of_range) {
  const uint32_t ts[6][2] = {{1000, 999999}, {1000, 1000000}, {1000, 4294968},
                             {1000, 4294967295u}, {1000, 2147483648u}, {1001, 0}};
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  ts_pcap(path, 0xa1b2c3d4, ts, 6);
  for (int libpcap = 0; libpcap < 2; libpcap++) {
    struct trace *t = must_open_reader(path, libpcap);
    struct trace_record r[6];
    for (int i = 0; i < 6; i++)
      ck_assert_int_eq(trace_next(t, &r[i], err, sizeof err), 1);
    ck_assert_uint_eq(r[0].flags, 0);
    ck_assert_uint_eq(r[0].ts_nsec, 999999000u);
    for (int i = 1; i < 5; i++) {
      ck_assert_msg(r[i].flags == TRACE_REC_TS_OUT_OF_RANGE, "record %d: flags %u", i, r[i].flags);
      ck_assert_int_eq(r[i].ts_sec, 1000);
      ck_assert_uint_eq(r[i].ts_nsec, 999999000u); /* the previous record's */
    }
    ck_assert_uint_eq(r[2].orig_ts_nsec, UINT32_MAX); /* 4294968000 does not fit */
    ck_assert_uint_eq(r[5].flags, 0);
    ck_assert_uint_eq(trace_stats(t)->ts_out_of_range, 4);
    ck_assert_uint_eq(trace_stats(t)->ts_backwards, 0);
    trace_close(t);
  }
  unlink(path);
}
END_TEST

/* pcap's seconds are unsigned: 2^31 s (2038-01-19) and later, to 2^32 - 1
 * (2106-02-07), are times like any other, whichever reader. */
START_TEST(pcap_seconds_past_2038) {
  const uint32_t ts[4][2] = {{2147483647u, 999999000u}, {2147483648u, 0}, {4294967295u, 5},
                             {2147483648u, 7}};
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  nano_pcap(path, ts, 2);
  for (int libpcap = 0; libpcap < 2; libpcap++) {
    struct trace *t = must_open_reader(path, libpcap);
    struct trace_record r[2];
    for (int i = 0; i < 2; i++)
      ck_assert_int_eq(trace_next(t, &r[i], err, sizeof err), 1);
    ck_assert_uint_eq(r[1].flags, 0);
    ck_assert_int_eq(r[1].ts_sec, INT64_C(2147483648));
    ck_assert_int_eq(r[1].orig_ts_sec, INT64_C(2147483648));
    ck_assert_uint_eq(r[1].ts_ps - r[0].ts_ps, 1000000u); /* 1 us later */
    ck_assert_uint_eq(trace_stats(t)->ts_out_of_range, 0);
    trace_close(t);
  }
  /* the last second of the field; then 2^31 s back: out of range (past
   * 2^63 ps from the first), not a time before 1970 */
  nano_pcap(path, ts + 2, 2);
  struct trace *t = must_open(path);
  struct trace_record r[2];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(trace_next(t, &r[i], err, sizeof err), 1);
  ck_assert_uint_eq(r[0].flags, 0);
  ck_assert_int_eq(r[0].ts_sec, INT64_C(4294967295));
  ck_assert_uint_eq(r[1].flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_int_eq(r[1].orig_ts_sec, INT64_C(2147483648));
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- frames that end with their FCS ---- */

/* A nanosecond pcap whose link-type field is linktype (with the FCS bits
 * as a writer sets them), byte order be, records of the given (caplen,
 * wire length); record bytes count up from the record's number. */
static void fcs_pcap(const char *path, uint32_t linktype, int be, const uint32_t (*len)[2], int n) {
  struct buf b;
  b.n = 0;
  put32e(&b, 0xa1b23c4d, be);
  put16e(&b, 2, be);
  put16e(&b, 4, be);
  put32e(&b, 0, be);
  put32e(&b, 0, be);
  put32e(&b, 65535, be);
  put32e(&b, linktype, be);
  for (int i = 0; i < n; i++) {
    put32e(&b, 1000, be);
    put32e(&b, (uint32_t)i, be);
    put32e(&b, len[i][0], be);
    put32e(&b, len[i][1], be);
    for (uint32_t j = 0; j < len[i][0]; j++)
      put8(&b, j == 12 ? 0x08 : (uint8_t)(i + j));
  }
  spit(path, b.b, b.n);
}

/* LINKTYPE_ETHERNET with a 4-byte FCS (the FCS length bits 0x24000000,
 * pcap.h LT_FCS_DATALINK_EXT(2)): the NIC gets each frame without its FCS,
 * as from a capture without one, both byte orders, both readers. */
START_TEST(fcs_dropped) {
  const uint32_t len[5][2] = {{64, 64},  /* a whole frame and its FCS */
                              {30, 64},  /* cut short before the FCS */
                              {62, 64},  /* half of the FCS captured */
                              {4, 4},    /* nothing but an FCS */
                              {1518, 1518}};
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  for (int be = 0; be < 2; be++) {
    fcs_pcap(path, 0x24000001u, be, len, 5);
    for (int libpcap = 0; libpcap < 2; libpcap++) {
      struct trace *t = must_open_reader(path, libpcap);
      ck_assert_str_eq(trace_file_linktype_name(t), "EN10MB");
      struct trace_record r[4];
      for (int i = 0; i < 4; i++)
        ck_assert_int_eq(trace_next(t, &r[i], err, sizeof err), 1);
      ck_assert_int_eq(trace_next(t, &r[3], err, sizeof err), 0);
      trace_close(t);
      /* records 0, 1, 2, 4 (3 is skipped, its number kept) */
      const uint32_t want[4][3] = {{0, 60, 60}, {1, 30, 60}, {2, 60, 60}, {4, 1514, 1514}};
      for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(r[i].index, want[i][0]);
        ck_assert_uint_eq(r[i].caplen, want[i][1]);
        ck_assert_uint_eq(r[i].origlen, want[i][2]);
        ck_assert_uint_eq(r[i].orig_caplen, len[want[i][0]][0]); /* the record as in the file */
        ck_assert_uint_eq(r[i].flags, i == 1 ? TRACE_REC_TRUNCATED : 0);
      }
    }
    struct trace *t = must_open(path);
    struct trace_record rec;
    while (trace_next(t, &rec, err, sizeof err) == 1)
      ;
    const struct trace_stats *st = trace_stats(t);
    ck_assert_uint_eq(st->packets, 4);
    ck_assert_uint_eq(st->zero_length, 1);
    ck_assert_uint_eq(st->bytes, 60 + 60 + 60 + 1514);
    ck_assert_uint_eq(st->captured_bytes, 60 + 30 + 60 + 1514);
    trace_close(t);
  }
  unlink(path);
}
END_TEST

/* ---- pcapng ---- */

static size_t block_start(struct buf *b, uint32_t type, int be) {
  size_t at = b->n;
  put32e(b, type, be);
  put32e(b, 0, be); /* length, patched by block_end */
  return at;
}

static void block_end(struct buf *b, size_t at, int be) {
  while (b->n % 4)
    put8(b, 0);
  uint32_t len = (uint32_t)(b->n - at + 4);
  put32e(b, len, be);
  struct buf l;
  l.n = 0;
  put32e(&l, len, be);
  memcpy(b->b + at + 4, l.b, 4);
}

static void shb(struct buf *b, int be) {
  size_t at = block_start(b, 0x0A0D0D0A, be);
  put32e(b, 0x1A2B3C4D, be);
  put16e(b, 1, be);
  put16e(b, 0, be);
  put64e(b, UINT64_MAX, be); /* section length not given */
  block_end(b, at, be);
}

/* An interface: link type, snaplen, if_tsresol (-1: none), if_tsoffset. */
static void idb(struct buf *b, uint16_t lt, uint32_t snap, int tsresol, int64_t tsoffset, int be) {
  size_t at = block_start(b, 1, be);
  put16e(b, lt, be);
  put16e(b, 0, be);
  put32e(b, snap, be);
  if (tsresol >= 0) {
    put16e(b, 9, be); /* if_tsresol */
    put16e(b, 1, be);
    put8(b, (uint8_t)tsresol);
    put8(b, 0), put8(b, 0), put8(b, 0);
  }
  if (tsoffset != 0) {
    put16e(b, 14, be); /* if_tsoffset, seconds */
    put16e(b, 8, be);
    put64e(b, (uint64_t)tsoffset, be);
  }
  put16e(b, 0, be); /* opt_endofopt */
  put16e(b, 0, be);
  block_end(b, at, be);
}

static void epb(struct buf *b, uint32_t ifid, uint64_t ts, uint32_t caplen, uint32_t len,
                uint8_t fill, int be) {
  size_t at = block_start(b, 6, be);
  put32e(b, ifid, be);
  put32e(b, (uint32_t)(ts >> 32), be);
  put32e(b, (uint32_t)ts, be);
  put32e(b, caplen, be);
  put32e(b, len, be);
  for (uint32_t i = 0; i < caplen; i++)
    put8(b, i == 12 ? 0x08 : fill);
  block_end(b, at, be);
}

/* Two sections; the first with three interfaces of different timestamp
 * resolutions (microseconds, nanoseconds, 2^-10 s with a 100 s offset),
 * the second with its own interface in milliseconds; both byte orders. */
START_TEST(pcapng_sections_interfaces_resolutions) {
  for (int be = 0; be <= 1; be++) {
    struct buf b;
    b.n = 0;
    shb(&b, be);
    idb(&b, 1, 65535, -1, 0, be);        /* default: 10^-6 */
    idb(&b, 1, 65535, 9, 0, be);         /* 10^-9 */
    idb(&b, 1, 65535, 0x80 | 10, 100, be); /* 2^-10, +100 s */
    epb(&b, 0, 1500000, 60, 60, 0xa0, be);     /* 1.5 s */
    epb(&b, 1, 2500000001, 60, 64, 0xa1, be);  /* 2.500000001 s */
    epb(&b, 2, 1536, 60, 60, 0xa2, be);        /* 100 + 1.5 s */
    shb(&b, be);
    idb(&b, 1, 65535, 3, 0, be);         /* 10^-3 */
    epb(&b, 0, 3500, 60, 60, 0xa3, be);  /* 3.5 s */
    char path[600];
    tmp_path(path, sizeof path, ".pcapng");
    spit(path, b.b, b.n);
    struct trace *t = must_open(path);
    struct trace_record r;
    static const int64_t sec[4] = {1, 2, 101, 3};
    static const uint32_t nsec[4] = {500000000, 500000001, 500000000, 500000000};
    for (int i = 0; i < 4; i++) {
      ck_assert_msg(trace_next(t, &r, err, sizeof err) == 1, "%s", err);
      ck_assert_int_eq(r.ts_sec, sec[i]);
      ck_assert_uint_eq(r.ts_nsec, nsec[i]);
      ck_assert_uint_eq(r.data[0], 0xa0 + i);
    }
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
    const struct trace_stats *st = trace_stats(t);
    ck_assert_uint_eq(st->packets, 4);
    ck_assert_uint_eq(st->truncated_packets, 1);
    ck_assert_uint_eq(st->uncaptured_bytes, 4);
    ck_assert_uint_eq(st->ts_backwards, 1); /* 101.5 s then 3.5 s */
    trace_close(t);
    unlink(path);
  }
}
END_TEST

/* libpcap 1.10 gives one link type per capture: a second interface of
 * another type fails when its block is read, after the records before it. */
START_TEST(pcapng_interfaces_of_different_link_types) {
  struct buf b;
  b.n = 0;
  shb(&b, 0);
  idb(&b, 1, 65535, -1, 0, 0);
  epb(&b, 0, 1, 60, 60, 0, 0);
  idb(&b, 228, 65535, -1, 0, 0);
  epb(&b, 1, 2, 40, 40, 0x45, 0);
  char path[600];
  tmp_path(path, sizeof path, ".pcapng");
  spit(path, b.b, b.n);
  struct trace *t = must_open(path);
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: record 1: an interface has a type 228 different from the type of the first "
           "interface",
           path);
  ck_assert_str_eq(err, want);
  trace_close(t);
  unlink(path);
}
END_TEST

/* Timestamps libpcap hands over outside the pcap range (pcapng only): past
 * 2^32 s, and negative through a negative if_tsoffset. */
START_TEST(pcapng_timestamps_out_of_range) {
  struct buf b;
  b.n = 0;
  shb(&b, 0);
  idb(&b, 1, 65535, 0, 0, 0);                  /* whole seconds */
  idb(&b, 1, 65535, 0, -100, 0);               /* whole seconds, -100 s */
  epb(&b, 0, UINT64_C(5000000000), 60, 60, 0, 0); /* 5e9 s: year 2128 */
  epb(&b, 0, 1000, 60, 60, 0, 0);
  epb(&b, 1, 10, 60, 60, 0, 0);                /* -90 s */
  char path[600];
  tmp_path(path, sizeof path, ".pcapng");
  spit(path, b.b, b.n);
  struct trace *t = must_open(path);
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_uint_eq(r.flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_int_eq(r.orig_ts_sec, INT64_C(5000000000));
  ck_assert_int_eq(r.ts_sec, INT64_C(4294967295)); /* clamped: the first record */
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  /* 1000 s is far from the first record's time: out of range too */
  ck_assert_uint_eq(r.flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_int_eq(r.ts_sec, INT64_C(4294967295));
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_int_eq(r.orig_ts_sec, -90);
  ck_assert_uint_eq(r.flags, TRACE_REC_TS_OUT_OF_RANGE);
  ck_assert_uint_eq(trace_stats(t)->ts_out_of_range, 3);
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- hostile lengths: libpcap's checks, surfaced ---- */

START_TEST(hostile_caplen) {
  /* pcap: caplen above the snaplen but within the link type's maximum
   * (262144 for Ethernet) is cut to the snaplen by libpcap; above the
   * maximum it is an error (libpcap names the snaplen when the caplen is
   * above both). */
  struct buf b;
  b.n = 0;
  put32e(&b, 0xa1b2c3d4, 0);
  put16e(&b, 2, 0);
  put16e(&b, 4, 0);
  put32e(&b, 0, 0);
  put32e(&b, 0, 0);
  put32e(&b, 100, 0); /* snaplen */
  put32e(&b, 1, 0);
  put32e(&b, 1, 0), put32e(&b, 0, 0), put32e(&b, 150, 0), put32e(&b, 150, 0);
  for (int i = 0; i < 150; i++)
    put8(&b, (uint8_t)i);
  put32e(&b, 2, 0), put32e(&b, 0, 0), put32e(&b, 300000, 0), put32e(&b, 300000, 0);
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  spit(path, b.b, b.n);
  struct trace *t = must_open(path);
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_uint_eq(r.caplen, 100);
  ck_assert_uint_eq(r.origlen, 150);
  ck_assert_uint_eq(r.flags, TRACE_REC_TRUNCATED);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: record 1: invalid packet capture length 300000, bigger than snaplen of 100",
           path);
  ck_assert_str_eq(err, want);
  trace_close(t);

  /* pcapng: above the interface's snaplen is an error */
  b.n = 0;
  shb(&b, 0);
  idb(&b, 1, 100, -1, 0, 0);
  epb(&b, 0, 1, 150, 150, 0, 0);
  spit(path, b.b, b.n);
  t = must_open(path);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  snprintf(want, sizeof want,
           "%s: record 0: invalid packet capture length 150, bigger than snaplen of 100", path);
  ck_assert_str_eq(err, want);
  trace_close(t);
  unlink(path);
}
END_TEST

static Suite *convert_suite(void) {
  Suite *s = suite_create("trace_convert");
  TCase *tc = tcase_create("linktypes");
  tcase_add_test(tc, sll_converted);
  tcase_add_test(tc, sll_unsupported_records);
  tcase_add_test(tc, sll2_converted);
  tcase_add_test(tc, raw_ip);
  tcase_add_test(tc, bsd_loopback);
  suite_add_tcase(s, tc);
  tc = tcase_create("records");
  tcase_add_test(tc, timestamps_backwards_and_out_of_range);
  tcase_add_test(tc, microsecond_fraction_out_of_range);
  tcase_add_test(tc, pcap_seconds_past_2038);
  tcase_add_test(tc, fcs_dropped);
  tcase_add_test(tc, pcapng_sections_interfaces_resolutions);
  tcase_add_test(tc, pcapng_interfaces_of_different_link_types);
  tcase_add_test(tc, pcapng_timestamps_out_of_range);
  tcase_add_test(tc, hostile_caplen);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(convert_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
