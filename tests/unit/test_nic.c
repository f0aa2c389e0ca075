/*
 * test_nic.c: the NIC's rings, descriptors, header split, chained frames,
 * drops and timing, driven by a minimal driver written here (descriptors
 * posted by the kernel accessor, buffers mapped through a strict IOMMU).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "iommu.h"
#include "mem.h"
#include "nic.h"
#include "pcie.h"
#include "simk.h"

#define RID 0x0100

/* Translations happen at the simulated time, as in the system. */
static uint64_t rig_dma_clock(void *ctx) {
  (void)ctx;
  return simk_now_ps();
}

struct rig {
  struct mem *m;
  struct iommu *io;
  struct iommu_dma *dma; /* the NIC's DMA port over io and m */
  struct nic *n;
  uint64_t ring_pfn, ring_iova;
  uint32_t ring_size;
  uint64_t buf_pfn[64], buf_iova[64];
  uint64_t hdr_pfn, hdr_iova;
  unsigned irqs;
  unsigned last_irq_queue;
  unsigned tx_irqs;
};

static const struct mem_accessor kcpu = {.actor = MEM_ACTOR_KERNEL, .id = 0};

static void on_irq(void *ctx, unsigned q) {
  struct rig *r = ctx;
  r->irqs++;
  r->last_irq_queue = q;
}

static void on_tx_irq(void *ctx, unsigned q) {
  (void)q;
  ((struct rig *)ctx)->tx_irqs++;
}

static void rig_init(struct rig *r, struct nic_params *np, uint32_t ring_size) {
  memset(r, 0, sizeof *r);
  char err[256];
  ck_assert_int_eq(simk_init(err, sizeof err), 0);
  r->m = mem_new(64ull << 20);
  struct iommu_params ip;
  iommu_params_default(&ip);
  ip.mode = IOMMU_STRICT;
  r->io = iommu_new(&ip);
  struct nic_host host = {.ctx = r, .irq = on_irq, .tx_irq = on_tx_irq};
  r->dma = iommu_dma_new(r->io, r->m, rig_dma_clock, NULL);
  r->n = nic_new(np, iommu_dma_port(r->dma), &host, err, sizeof err);
  ck_assert_msg(r->n != NULL, "%s", err);
  r->ring_size = ring_size;
  ck_assert_int_eq(mem_page_alloc_contig(r->m, 1, &r->ring_pfn), 0);
  mem_fill(r->m, kcpu, r->ring_pfn << 12, 0, 4096, NULL);
  ck_assert(iommu_map_contig(r->io, RID, r->ring_pfn, 1, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0,
                             &r->ring_iova) >= 0);
  for (unsigned q = 0; q < np->queues; q++)
    nic_rx_ring_setup(r->n, q, r->ring_iova, ring_size);
  for (unsigned i = 0; i < 64; i++) {
    ck_assert_int_eq(mem_page_alloc(r->m, &r->buf_pfn[i]), 0);
    ck_assert(iommu_map(r->io, RID, r->buf_pfn[i], IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0, &r->buf_iova[i]) >= 0);
  }
  ck_assert_int_eq(mem_page_alloc(r->m, &r->hdr_pfn), 0);
  ck_assert(iommu_map(r->io, RID, r->hdr_pfn, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0, &r->hdr_iova) >= 0);
}

/* Post descriptor slot i with buffer page b (and header buffer slot i when hdr). */
static void post(struct rig *r, uint32_t i, unsigned b, int hdr) {
  struct nic_rx_desc_read rd = {.pkt_addr = r->buf_iova[b] + 256,
                                .hdr_addr = hdr ? r->hdr_iova + 256u * (i % 16) : 0};
  struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(r->m, kcpu, (r->ring_pfn << 12) + i * 16u, &rd, sizeof rd, &pd), 0);
}

static void read_wb(struct rig *r, uint32_t i, struct nic_rx_desc_wb *wb) {
  ck_assert_int_eq(mem_peek(r->m, (r->ring_pfn << 12) + i * 16u, wb, sizeof *wb), 0);
}

/* An Ethernet/IPv4|IPv6/UDP frame of len bytes, with vlan tags. */
static uint32_t make_frame(uint8_t *f, uint32_t len, int v6, int vlan, struct flow_key *key) {
  memset(f, 0, len);
  memset(key, 0, sizeof *key);
  uint32_t o = 12;
  if (vlan) {
    f[o] = 0x81, f[o + 1] = 0x00, f[o + 3] = 7;
    o += 4;
  }
  f[o] = v6 ? 0x86 : 0x08, f[o + 1] = v6 ? 0xdd : 0x00;
  o += 2;
  key->proto = 17;
  key->sport = 1234;
  key->dport = 80;
  if (v6) {
    f[o] = 0x60;
    f[o + 6] = 17;
    o += 40;
    key->af = FLOW_AF_INET6;
    key->src[15] = 1;
    key->dst[15] = 2;
  } else {
    f[o] = 0x45;
    f[o + 9] = 17;
    o += 20;
    key->af = FLOW_AF_INET;
    key->src[0] = 10, key->src[3] = 1;
    key->dst[0] = 10, key->dst[3] = 2;
  }
  o += 8; /* UDP */
  for (uint32_t i = o; i < len; i++)
    f[i] = (uint8_t)('a' + i % 26);
  return o; /* header length */
}

static void send(struct rig *r, const uint8_t *data, uint32_t len, uint32_t hdr_len, int vlan,
                 const struct flow_key *key, uint64_t index) {
  struct nic_frame f = {.data = data, .caplen = len, .wire_len = len, .hdr_len = hdr_len,
                        .flow = 0, .index = index, .vlan_tags = (uint16_t)vlan, .key = key};
  nic_rx_frame(r->n, &f);
}

START_TEST(ring_wraps_and_writes_back) {
  struct nic_params np;
  nic_params_default(&np);
  struct rig r;
  rig_init(&r, &np, 8);
  uint8_t f[128];
  struct flow_key key;
  uint32_t hl = make_frame(f, 100, 0, 0, &key);
  uint32_t tail = 0;
  /* 20 frames through a ring of 8: post 7, receive, repost, several times. */
  uint32_t ntc = 0;
  for (unsigned pkt = 0; pkt < 20; pkt++) {
    while ((tail + 1) % 8 != ntc) {
      post(&r, tail, tail, 0);
      tail = (tail + 1) % 8;
    }
    nic_rx_tail_write(r.n, 0, tail);
    f[60] = (uint8_t)pkt;
    send(&r, f, 100, hl, 0, &key, pkt);
    ck_assert_uint_eq(nic_rx_head(r.n, 0), (ntc + 1) % 8);
    struct nic_rx_desc_wb wb;
    read_wb(&r, ntc, &wb);
    ck_assert_uint_eq(wb.status_error, NIC_RXD_STAT_DD | NIC_RXD_STAT_EOP);
    ck_assert_uint_eq(wb.length, 100);
    ck_assert_uint_eq(wb.rss_hash, nic_rss_hash(r.n, &key));
    uint8_t back[100];
    ck_assert_int_eq(mem_peek(r.m, (r.buf_pfn[ntc] << 12) + 256, back, 100), 0);
    ck_assert_int_eq(memcmp(back, f, 100), 0);
    /* labels: headers, then payload, of this packet, written by the device */
    const struct mem_label *lh = mem_label(r.m, mem_peek_label_id(r.m, (r.buf_pfn[ntc] << 12) + 256));
    ck_assert_uint_eq(lh->prov.kind, MEM_LABEL_PKT_HEADER);
    ck_assert_uint_eq(lh->prov.packet, pkt);
    ck_assert_uint_eq(lh->writer.actor, MEM_ACTOR_DEVICE);
    const struct mem_label *lp = mem_label(r.m, mem_peek_label_id(r.m, (r.buf_pfn[ntc] << 12) + 256 + hl));
    ck_assert_uint_eq(lp->prov.kind, MEM_LABEL_PKT_PAYLOAD);
    ntc = (ntc + 1) % 8;
  }
  ck_assert_uint_eq(nic_queue_stats(r.n, 0)->rx_packets, 20);
  ck_assert_uint_eq(nic_queue_stats(r.n, 0)->rx_dropped, 0);
}
END_TEST

START_TEST(no_descriptor_drops) {
  struct nic_params np;
  nic_params_default(&np);
  struct rig r;
  rig_init(&r, &np, 8);
  uint8_t f[128];
  struct flow_key key;
  uint32_t hl = make_frame(f, 100, 0, 0, &key);
  for (uint32_t i = 0; i < 3; i++)
    post(&r, i, i, 0);
  nic_rx_tail_write(r.n, 0, 3);
  for (unsigned pkt = 0; pkt < 10; pkt++)
    send(&r, f, 100, hl, 0, &key, pkt);
  const struct nic_queue_stats *st = nic_queue_stats(r.n, 0);
  ck_assert_uint_eq(st->rx_packets, 3);
  ck_assert_uint_eq(st->drop_no_desc, 7);
  ck_assert_uint_eq(st->rx_dropped, 7);
  ck_assert_uint_eq(st->drop_buffer_full, 0);
}
END_TEST

/* The header buffer gets exactly the parsed headers; the packet buffer the rest. */
static void check_split(int v6, int vlan, uint32_t want_hdr) {
  struct nic_params np;
  nic_params_default(&np);
  np.header_split = 1;
  struct rig r;
  rig_init(&r, &np, 8);
  uint8_t f[600];
  struct flow_key key;
  uint32_t hl = make_frame(f, 600, v6, vlan, &key);
  ck_assert_uint_eq(hl, want_hdr);
  post(&r, 0, 0, 1);
  nic_rx_tail_write(r.n, 0, 1);
  send(&r, f, 600, hl, vlan, &key, 0);
  struct nic_rx_desc_wb wb;
  read_wb(&r, 0, &wb);
  /* SPH is in hdr_info (the first dword's upper half), not in status_error. */
  ck_assert(wb.info & NIC_RXD_INFO_SPH);
  ck_assert_uint_eq(wb.status_error & 0x8000u, 0);
  ck_assert_uint_eq((wb.info >> NIC_RXD_HDR_LEN_SHIFT) & NIC_RXD_HDR_LEN_MASK, hl);
  ck_assert_uint_eq(wb.length, 600 - hl);
  uint8_t h[600], p[600];
  ck_assert_int_eq(mem_peek(r.m, r.hdr_pfn << 12, h, hl), 0);
  ck_assert_int_eq(memcmp(h, f, hl), 0);
  ck_assert_int_eq(mem_peek(r.m, (r.buf_pfn[0] << 12) + 256, p, 600 - hl), 0);
  ck_assert_int_eq(memcmp(p, f + hl, 600 - hl), 0);
  /* the packet buffer holds payload only; the header buffer headers only */
  ck_assert_uint_eq(mem_label(r.m, mem_peek_label_id(r.m, (r.buf_pfn[0] << 12) + 256))->prov.kind,
                    MEM_LABEL_PKT_PAYLOAD);
  ck_assert_uint_eq(mem_label(r.m, mem_peek_label_id(r.m, (r.hdr_pfn << 12) + hl - 1))->prov.kind,
                    MEM_LABEL_PKT_HEADER);
  ck_assert_uint_eq(nic_queue_stats(r.n, 0)->header_splits, 1);
}

START_TEST(split_ipv4) { check_split(0, 0, 42); }
END_TEST
START_TEST(split_ipv4_vlan) { check_split(0, 1, 46); }
END_TEST
START_TEST(split_ipv6) { check_split(1, 0, 62); }
END_TEST
START_TEST(split_ipv6_vlan) { check_split(1, 1, 66); }
END_TEST

/* The driver's view of the descriptors (rx_desc.h): a buffer posted through
 * the 82599 ops is where the device writes, and the ops read back what the
 * device wrote: length, EOP on the last descriptor only, SPH and the header
 * length on a split frame, the RSS hash; an unwritten descriptor is not
 * done. */
static void ops_post(struct rig *r, const struct rx_desc_ops *ops, uint32_t i, unsigned b, int hdr) {
  uint8_t rd[RX_DESC_MAX_BYTES];
  ops->post(rd, r->buf_iova[b] + 256, hdr ? r->hdr_iova : 0);
  struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(r->m, kcpu, (r->ring_pfn << 12) + i * ops->desc_bytes, rd, ops->desc_bytes, &pd), 0);
}

static int ops_done(struct rig *r, const struct rx_desc_ops *ops, uint32_t i, struct rx_desc_done *out) {
  uint8_t raw[RX_DESC_MAX_BYTES];
  ck_assert_int_eq(mem_peek(r->m, (r->ring_pfn << 12) + i * ops->desc_bytes, raw, ops->desc_bytes), 0);
  memset(out, 0xee, sizeof *out);
  return ops->done(raw, out);
}

START_TEST(rx_desc_ops_read_what_the_device_wrote) {
  struct nic_params np;
  nic_params_default(&np);
  np.mtu = 9000;
  np.header_split = 1;
  struct rig r;
  rig_init(&r, &np, 16);
  const struct rx_desc_ops *ops = nic_rx_desc_ops(r.n);
  ck_assert_ptr_eq(ops, &nic_82599_rx_desc_ops);
  ck_assert_uint_eq(ops->desc_bytes, 16);
  /* A split frame chained over three buffers: 5000 bytes, 42 of headers. */
  static uint8_t f[5000];
  struct flow_key key;
  uint32_t hl = make_frame(f, 5000, 0, 0, &key);
  for (uint32_t i = 0; i < 8; i++)
    ops_post(&r, ops, i, i, i == 0);
  nic_rx_tail_write(r.n, 0, 8);
  send(&r, f, 5000, hl, 0, &key, 0);
  uint32_t want[3] = {2048, 2048, 5000 - 42 - 4096};
  for (uint32_t i = 0; i < 3; i++) {
    struct rx_desc_done d;
    ck_assert_int_eq(ops_done(&r, ops, i, &d), 1);
    ck_assert_uint_eq(d.length, want[i]);
    ck_assert_uint_eq(d.eop, i == 2);
    ck_assert_uint_eq(d.split, i == 0);
    ck_assert_uint_eq(d.hdr_len, i == 0 ? hl : 0);
    ck_assert_uint_eq(d.rss_hash, nic_rss_hash(r.n, &key));
  }
  /* the device wrote where the ops said: headers in the header buffer,
   * payload at the packet buffer's address */
  uint8_t back[64];
  ck_assert_int_eq(mem_peek(r.m, r.hdr_pfn << 12, back, hl), 0);
  ck_assert_int_eq(memcmp(back, f, hl), 0);
  ck_assert_int_eq(mem_peek(r.m, (r.buf_pfn[0] << 12) + 256, back, 64), 0);
  ck_assert_int_eq(memcmp(back, f + hl, 64), 0);
  /* posted, not used: not done */
  struct rx_desc_done d;
  ck_assert_int_eq(ops_done(&r, ops, 3, &d), 0);
}
END_TEST

START_TEST(chained_frame) {
  struct nic_params np;
  nic_params_default(&np);
  np.mtu = 9000;
  struct rig r;
  rig_init(&r, &np, 16);
  static uint8_t f[5000];
  struct flow_key key;
  uint32_t hl = make_frame(f, 5000, 0, 0, &key);
  for (uint32_t i = 0; i < 8; i++)
    post(&r, i, i, 0);
  nic_rx_tail_write(r.n, 0, 8);
  send(&r, f, 5000, hl, 0, &key, 0);
  uint16_t want[3] = {2048, 2048, 904};
  uint32_t off = 0;
  for (uint32_t i = 0; i < 3; i++) {
    struct nic_rx_desc_wb wb;
    read_wb(&r, i, &wb);
    ck_assert(wb.status_error & NIC_RXD_STAT_DD);
    ck_assert_uint_eq(!!(wb.status_error & NIC_RXD_STAT_EOP), i == 2);
    ck_assert_uint_eq(wb.length, want[i]);
    uint8_t back[2048];
    ck_assert_int_eq(mem_peek(r.m, (r.buf_pfn[i] << 12) + 256, back, want[i]), 0);
    ck_assert_int_eq(memcmp(back, f + off, want[i]), 0);
    off += want[i];
  }
  ck_assert_uint_eq(nic_rx_head(r.n, 0), 3);
  ck_assert_uint_eq(nic_queue_stats(r.n, 0)->chained, 1);
  ck_assert_uint_eq(nic_queue_stats(r.n, 0)->desc_used, 3);
  /* descriptors fetched in one batch of 8 */
  ck_assert_uint_eq(nic_queue_stats(r.n, 0)->desc_fetches, 1);
}
END_TEST

START_TEST(oversize_without_chaining_or_over_mtu) {
  struct nic_params np;
  nic_params_default(&np);
  np.mtu = 9000;
  np.multi_buffer = 0;
  struct rig r;
  rig_init(&r, &np, 16);
  static uint8_t f[9100];
  struct flow_key key;
  uint32_t hl = make_frame(f, 5000, 0, 0, &key);
  for (uint32_t i = 0; i < 8; i++)
    post(&r, i, i, 0);
  nic_rx_tail_write(r.n, 0, 8);
  send(&r, f, 5000, hl, 0, &key, 0); /* longer than one buffer, no chaining */
  send(&r, f, 9015, hl, 0, &key, 1); /* longer than MTU + 14 */
  send(&r, f, 2000, hl, 0, &key, 3); /* fits */
  const struct nic_queue_stats *st = nic_queue_stats(r.n, 0);
  ck_assert_uint_eq(st->drop_oversize, 2);
  ck_assert_uint_eq(st->rx_packets, 1);
  ck_assert_uint_eq(nic_rx_head(r.n, 0), 1);
}
END_TEST

START_TEST(mtu_counts_vlan_tags) {
  struct nic_params np;
  nic_params_default(&np); /* MTU 1500, 2 KiB buffers */
  struct rig r;
  rig_init(&r, &np, 16);
  static uint8_t f[2000];
  struct flow_key key;
  uint32_t hl = make_frame(f, 1518, 0, 1, &key);
  for (uint32_t i = 0; i < 8; i++)
    post(&r, i, i, 0);
  nic_rx_tail_write(r.n, 0, 8);
  send(&r, f, 1514, hl, 0, &key, 0); /* 1500 + 14: fits */
  send(&r, f, 1515, hl, 0, &key, 1); /* one byte too long */
  send(&r, f, 1518, hl, 1, &key, 2); /* a tagged frame may be 4 bytes longer */
  send(&r, f, 1519, hl, 1, &key, 3); /* but not 5 */
  const struct nic_queue_stats *st = nic_queue_stats(r.n, 0);
  ck_assert_uint_eq(st->rx_packets, 2);
  ck_assert_uint_eq(st->drop_oversize, 2);
}
END_TEST

START_TEST(refused_dma_is_a_fault_not_a_write) {
  struct nic_params np;
  nic_params_default(&np);
  struct rig r;
  rig_init(&r, &np, 8);
  uint8_t f[128];
  struct flow_key key;
  uint32_t hl = make_frame(f, 100, 0, 0, &key);
  post(&r, 0, 0, 0);
  post(&r, 1, 1, 0);
  nic_rx_tail_write(r.n, 0, 2);
  /* the driver unmaps the buffer behind the device's back (strict mode) */
  ck_assert(iommu_unmap(r.io, RID, r.buf_iova[0], 0) >= 0);
  uint32_t before = mem_peek_label_id(r.m, (r.buf_pfn[0] << 12) + 256);
  send(&r, f, 100, hl, 0, &key, 0);
  ck_assert_uint_eq(iommu_stats(r.io)->faults, 1);
  ck_assert_uint_eq(mem_peek_label_id(r.m, (r.buf_pfn[0] << 12) + 256), before);
  /* The write was posted: the device wrote the descriptor back as usual
   * (DD, EOP, the frame's length) and counted the fault; nothing dropped. */
  const struct nic_queue_stats *st = nic_queue_stats(r.n, 0);
  ck_assert_uint_eq(st->dma_write_faults, 1);
  ck_assert_uint_eq(st->drop_dma_fault, 0);
  ck_assert_uint_eq(st->rx_packets, 1);
  struct nic_rx_desc_wb wb;
  read_wb(&r, 0, &wb);
  ck_assert_uint_eq(wb.status_error & (NIC_RXD_STAT_DD | NIC_RXD_STAT_EOP), NIC_RXD_STAT_DD | NIC_RXD_STAT_EOP);
  ck_assert_uint_eq(wb.length, 100);
  /* The queue goes on: the next frame lands in the next buffer. */
  send(&r, f, 100, hl, 0, &key, 1);
  ck_assert_uint_eq(st->rx_packets, 2);
  ck_assert_uint_eq(st->dma_write_faults, 1);
  read_wb(&r, 1, &wb);
  ck_assert(wb.status_error & NIC_RXD_STAT_DD);
  ck_assert_uint_ne(mem_peek_label_id(r.m, (r.buf_pfn[1] << 12) + 256), MEM_LABEL_ID_ZERO);
}
END_TEST

START_TEST(steering_precedence) {
  struct nic_params np;
  nic_params_default(&np);
  np.queues = 4;
  np.rss_queues = 0x7; /* 0, 1, 2 */
  np.default_queue = 0;
  struct rig r;
  rig_init(&r, &np, 8);
  uint8_t f[128];
  struct flow_key key;
  make_frame(f, 100, 0, 0, &key);
  int rss = nic_steer(r.n, &key);
  ck_assert_int_ge(rss, 0);
  ck_assert_int_le(rss, 2);
  ck_assert_int_eq(nic_add_rule(r.n, &key, 3), 0);
  ck_assert_int_eq(nic_steer(r.n, &key), 3);
  struct flow_key rev = key;
  memcpy(rev.src, key.dst, 16);
  memcpy(rev.dst, key.src, 16);
  rev.sport = key.dport;
  rev.dport = key.sport;
  ck_assert_int_eq(nic_steer(r.n, &rev), 3);
  /* a masked drop rule for another port */
  struct nic_rule dr;
  memset(&dr, 0, sizeof dr);
  dr.proto = 17;
  dr.dport = 53;
  dr.dport_mask = 0xffff;
  dr.action = NIC_RULE_DROP;
  ck_assert_int_eq(nic_add_ntuple(r.n, &dr), 0);
  struct flow_key dns = key;
  dns.dport = 53;
  ck_assert_int_eq(nic_steer(r.n, &dns), -1);
  /* non-IP: the default queue */
  struct flow_key arp;
  memset(&arp, 0, sizeof arp);
  arp.ethertype = 0x0806;
  ck_assert_int_eq(nic_steer(r.n, &arp), 0);
}
END_TEST

/* Back-to-back frames at line rate: the MAC serialises them at
 * (len + 24) * 8 bits per frame: 64 B at 10 Gb/s = 67.2 ns = 14.88 Mpps;
 * 1518 B (1514 without FCS) = 1.2304 us = 0.8127 Mpps. */
static double mpps_back_to_back(double gbps, uint32_t len_without_fcs) {
  struct nic_params np;
  nic_params_default(&np);
  np.line_rate_gbps = gbps;
  struct rig r;
  rig_init(&r, &np, 8);
  uint64_t first = 0, last = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t t = nic_mac_arrival_ps(r.n, 0, len_without_fcs);
    if (i == 0)
      first = t;
    last = t;
  }
  return 999.0 / ((double)(last - first) / 1e6);
}

START_TEST(line_rate_timing) {
  double bits64 = (60 + 4 + 20) * 8.0; /* 64 B frame incl. FCS, + preamble and gap */
  ck_assert_double_eq_tol(mpps_back_to_back(10, 60), 10e3 / bits64, 0.001);
  ck_assert_double_eq_tol(mpps_back_to_back(10, 60), 14.88, 0.01);
  ck_assert_double_eq_tol(mpps_back_to_back(10, 1514), 0.8127, 0.001);
  ck_assert_double_eq_tol(mpps_back_to_back(100, 60), 148.8, 0.1);
  ck_assert_double_eq_tol(mpps_back_to_back(25, 1514), 2.03, 0.01);
}
END_TEST

START_TEST(interrupt_moderation) {
  struct nic_params np;
  nic_params_default(&np);
  np.itr_ps = 10000000; /* 10 us */
  struct rig r;
  rig_init(&r, &np, 64);
  uint8_t f[128];
  struct flow_key key;
  uint32_t hl = make_frame(f, 100, 0, 0, &key);
  for (uint32_t i = 0; i < 63; i++)
    post(&r, i, i, 0);
  nic_rx_tail_write(r.n, 0, 63);
  send(&r, f, 100, hl, 0, &key, 0);
  simk_run_until(5000000);
  ck_assert_uint_eq(r.irqs, 1);
  /* re-enabled at once; the next frame may not interrupt before 10 us */
  nic_irq_enable(r.n, 0);
  send(&r, f, 100, hl, 0, &key, 1);
  simk_run_until(9000000);
  ck_assert_uint_eq(r.irqs, 1);
  simk_run_until(30000000);
  ck_assert_uint_eq(r.irqs, 2);
  ck_assert_uint_eq(nic_queue_stats(r.n, 0)->irqs, 2);
}
END_TEST

/* TX: the ring shares the rig's ring page (RX unused here). */
static void post_tx(struct rig *r, uint32_t i, unsigned b, uint32_t len, uint32_t cmd) {
  struct nic_tx_desc_read td = {.buffer_addr = r->buf_iova[b], .cmd_type_len = NIC_TXD_DTYP_DATA | cmd | len,
                                .olinfo_status = 0};
  struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  ck_assert_int_eq(mem_write(r->m, kcpu, (r->ring_pfn << 12) + i * 16u, &td, sizeof td, &pd), 0);
}

START_TEST(tx_frames_leave_at_line_rate) {
  struct nic_params np;
  nic_params_default(&np);
  struct rig r;
  rig_init(&r, &np, 16);
  nic_tx_ring_setup(r.n, 0, r.ring_iova, 16);
  post_tx(&r, 0, 0, 100, NIC_TXD_CMD_EOP | NIC_TXD_CMD_RS);
  post_tx(&r, 1, 1, 1000, 0);
  post_tx(&r, 2, 2, 500, NIC_TXD_CMD_EOP | NIC_TXD_CMD_RS);
  post_tx(&r, 3, 3, 60, NIC_TXD_CMD_EOP);
  nic_tx_tail_write(r.n, 0, 4);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  const struct nic_tx_stats *st = nic_tx_stats(r.n, 0);
  ck_assert_uint_eq(st->tx_packets, 3);
  ck_assert_uint_eq(st->tx_bytes, 100 + 1500 + 60);
  ck_assert_uint_eq(st->desc_used, 4);
  ck_assert_uint_eq(nic_tx_head(r.n, 0), 4);
  /* DD only where RS asked for it */
  uint32_t dd[4];
  for (uint32_t i = 0; i < 4; i++) {
    struct nic_tx_desc_wb wb;
    ck_assert_int_eq(mem_peek(r.m, (r.ring_pfn << 12) + i * 16u, &wb, sizeof wb), 0);
    dd[i] = wb.status & NIC_TXD_STAT_DD;
  }
  ck_assert_uint_eq(dd[0], 1);
  ck_assert_uint_eq(dd[2], 1);
  ck_assert_uint_eq(r.tx_irqs, 2);
  /* the wire carried three frames back to back, after the first reads */
  uint64_t wire = nic_wire_time_ps(r.n, 100) + nic_wire_time_ps(r.n, 1500) + nic_wire_time_ps(r.n, 60);
  ck_assert_uint_ge(st->last_tx_ps, wire + np.dma_read_ps);
  /* at most: the descriptor prefetch and each buffer's read waited for in
   * turn (pcie.h latencies; the default 64 B read is dma_read_ps). */
  struct pcie_params pp;
  pcie_params_default(&pp);
  uint64_t reads = pcie_read_latency_ps(&pp, 64) + pcie_read_latency_ps(&pp, 100) +
                   pcie_read_latency_ps(&pp, 1000) + pcie_read_latency_ps(&pp, 500) +
                   pcie_read_latency_ps(&pp, 60);
  /* and each of those five reads may miss the IOTLB (a page walk) */
  struct iommu_params ip;
  iommu_params_default(&ip);
  uint64_t walks = 5 * (uint64_t)ip.walk_levels * ip.walk_level_ps;
  ck_assert_uint_le(st->last_tx_ps, wire + reads + walks + 100000);
}
END_TEST

START_TEST(tx_refused_buffer_read) {
  struct nic_params np;
  nic_params_default(&np);
  struct rig r;
  rig_init(&r, &np, 16);
  nic_tx_ring_setup(r.n, 0, r.ring_iova, 16);
  ck_assert(iommu_unmap(r.io, RID, r.buf_iova[5], 0) >= 0);
  post_tx(&r, 0, 5, 100, NIC_TXD_CMD_EOP | NIC_TXD_CMD_RS);
  post_tx(&r, 1, 6, 100, NIC_TXD_CMD_EOP | NIC_TXD_CMD_RS);
  nic_tx_tail_write(r.n, 0, 2);
  simk_run();
  ck_assert_uint_eq(nic_tx_stats(r.n, 0)->dma_fault, 1);
  ck_assert_uint_eq(nic_tx_stats(r.n, 0)->tx_packets, 1);
  ck_assert_uint_eq(iommu_stats(r.io)->faults, 1);
}
END_TEST

/* Register writes the device would not take change nothing and are counted. */
START_TEST(bad_register_writes_counted) {
  struct nic_params np;
  nic_params_default(&np);
  struct rig r;
  rig_init(&r, &np, 8);
  ck_assert_uint_eq(nic_bad_register_writes(r.n), 0);
  nic_rx_tail_write(r.n, 0, 3);
  ck_assert_uint_eq(nic_rx_ring_fill(r.n, 0), 3);
  nic_rx_tail_write(r.n, 0, 8); /* past a ring of 8 */
  nic_rx_tail_write(r.n, 7, 1); /* no such queue */
  nic_irq_enable(r.n, 9);
  ck_assert_uint_eq(nic_bad_register_writes(r.n), 3);
  ck_assert_uint_eq(nic_rx_ring_fill(r.n, 0), 3); /* unchanged */
}
END_TEST

/* A parameter out of range is named with its value and the allowed range. */
START_TEST(parameters_named_in_errors) {
  char err[256];
  struct nic_params np;
  nic_params_default(&np);
  struct rig r;
  rig_init(&r, &np, 8);
  np.wb_threshold = 0;
  ck_assert_ptr_null(nic_new(&np, iommu_dma_port(r.dma), NULL, err, sizeof err));
  ck_assert_str_eq(err, "nic: wb_threshold 0: allowed 1..64");
  nic_params_default(&np);
  np.desc_fetch_batch = 65;
  ck_assert_ptr_null(nic_new(&np, iommu_dma_port(r.dma), NULL, err, sizeof err));
  ck_assert_str_eq(err, "nic: desc_fetch_batch 65: allowed 1..64");
}
END_TEST

int main(void) {
  Suite *s = suite_create("nic");
  TCase *tc = tcase_create("nic");
  tcase_add_test(tc, ring_wraps_and_writes_back);
  tcase_add_test(tc, no_descriptor_drops);
  tcase_add_test(tc, split_ipv4);
  tcase_add_test(tc, split_ipv4_vlan);
  tcase_add_test(tc, split_ipv6);
  tcase_add_test(tc, split_ipv6_vlan);
  tcase_add_test(tc, chained_frame);
  tcase_add_test(tc, rx_desc_ops_read_what_the_device_wrote);
  tcase_add_test(tc, oversize_without_chaining_or_over_mtu);
  tcase_add_test(tc, mtu_counts_vlan_tags);
  tcase_add_test(tc, refused_dma_is_a_fault_not_a_write);
  tcase_add_test(tc, steering_precedence);
  tcase_add_test(tc, line_rate_timing);
  tcase_add_test(tc, interrupt_moderation);
  tcase_add_test(tc, tx_frames_leave_at_line_rate);
  tcase_add_test(tc, tx_refused_buffer_read);
  tcase_add_test(tc, bad_register_writes_counted);
  tcase_add_test(tc, parameters_named_in_errors);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
