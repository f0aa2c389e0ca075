/*
 * nic.c: the RX side of a multi-queue NIC, modelled on the Intel 82599
 * (datasheet sections cited where they apply).
 */
#include "nic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simk.h"

/* The Microsoft default RSS key, used by most drivers' defaults and by the
 * "Verifying the RSS Hash Calculation" known-answer tests. */
static const uint8_t rss_default_key[NIC_RSS_KEY_BYTES] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

struct rule {
  struct flow_key key; /* canonical */
  unsigned queue;
};

struct nic;

struct rxq {
  struct nic *nic;
  unsigned index;
  uint64_t base_iova;
  uint32_t size;
  uint32_t head; /* next descriptor the device uses */
  uint32_t tail; /* first descriptor the device may not use */
  int irq_enabled;
  uint64_t last_irq_ps;
  int has_last_irq;
  struct simk_event *irq_ev;
  struct nic_queue_stats st;
};

struct nic {
  struct nic_params p;
  struct mem *m;
  struct iommu *io;
  struct nic_host host;
  struct rxq q[NIC_MAX_QUEUES];
  uint8_t reta[NIC_RETA_SIZE];
  uint8_t rss_key[NIC_RSS_KEY_BYTES];
  struct rule *rules;
  size_t nrules;
  uint64_t mac_free_ps;  /* the wire is busy until then */
  uint64_t pcie_free_ps; /* the DMA write path is busy until then */
};

void nic_params_default(struct nic_params *p) {
  memset(p, 0, sizeof *p);
  p->queues = 1;
  p->line_rate_gbps = 10.0;
  p->rss_queues = 1;
  p->buffer_size = 2048;
  p->rid = 0x0100; /* 01:00.0 */
  p->pcie_gbps = 57.9;
  p->rx_fifo_bytes = 512 * 1024;
  p->dma_read_ps = 546000;
  p->itr_ps = 8000000; /* ixgbe's default ITR, about 125k interrupts/s */
}

static void irq_fire(void *arg) {
  struct rxq *q = arg;
  struct nic *n = q->nic;
  if (!q->irq_enabled)
    return;
  q->irq_enabled = 0; /* auto-masked until the driver's NAPI re-enables it */
  q->last_irq_ps = simk_now_ps();
  q->has_last_irq = 1;
  if (n->host.irq)
    n->host.irq(n->host.ctx, q->index);
}

struct nic *nic_new(const struct nic_params *p, struct mem *m, struct iommu *io,
                    const struct nic_host *host, char *err, size_t errlen) {
  if (p->queues == 0 || p->queues > NIC_MAX_QUEUES) {
    snprintf(err, errlen, "nic: %u queues (1..%u allowed)", p->queues, NIC_MAX_QUEUES);
    return NULL;
  }
  uint64_t all = p->queues >= 64 ? UINT64_MAX : (1ull << p->queues) - 1;
  if ((p->rss_queues & all) == 0) {
    snprintf(err, errlen, "nic: the RSS table has no queue");
    return NULL;
  }
  struct nic *n = calloc(1, sizeof *n);
  if (!n) {
    snprintf(err, errlen, "nic: out of memory");
    return NULL;
  }
  n->p = *p;
  n->m = m;
  n->io = io;
  if (host)
    n->host = *host;
  memcpy(n->rss_key, rss_default_key, sizeof n->rss_key);
  /* Indirection table: the RSS queues round-robin, as ethtool -X equal does. */
  unsigned list[NIC_MAX_QUEUES], nl = 0;
  for (unsigned i = 0; i < p->queues; i++)
    if (p->rss_queues & (1ull << i))
      list[nl++] = i;
  for (unsigned i = 0; i < NIC_RETA_SIZE; i++)
    n->reta[i] = (uint8_t)list[i % nl];
  for (unsigned i = 0; i < p->queues; i++) {
    char name[32];
    snprintf(name, sizeof name, "nic.q%u.irq", i);
    n->q[i].nic = n;
    n->q[i].index = i;
    n->q[i].irq_enabled = 1;
    n->q[i].irq_ev = simk_event_new(name, irq_fire, &n->q[i]);
    if (!n->q[i].irq_ev) {
      snprintf(err, errlen, "nic: cannot create events");
      nic_free(n);
      return NULL;
    }
  }
  return n;
}

void nic_free(struct nic *n) {
  if (!n)
    return;
  free(n->rules);
  free(n);
}

uint32_t nic_queues(const struct nic *n) { return n->p.queues; }

const struct nic_queue_stats *nic_queue_stats(const struct nic *n, unsigned queue) {
  return queue < n->p.queues ? &n->q[queue].st : NULL;
}

/* ---- steering ---- */

uint32_t nic_toeplitz(const uint8_t *key, const uint8_t *data, size_t len) {
  /* For each set bit of the input, XOR in the 32-bit window of the key that
   * starts at that bit (82599 datasheet 7.1.2.8.1). */
  uint32_t result = 0;
  uint32_t window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
  size_t next = 4;
  for (size_t i = 0; i < len; i++) {
    for (int b = 7; b >= 0; b--) {
      if (data[i] & (1u << b))
        result ^= window;
      uint8_t kb = next < NIC_RSS_KEY_BYTES ? key[next] : 0;
      window = window << 1 | ((kb >> b) & 1u);
    }
    next++;
  }
  return result;
}

uint32_t nic_rss_hash(const struct nic *n, const struct flow_key *k) {
  uint8_t in[36];
  size_t len = 0;
  size_t alen = k->af == FLOW_AF_INET ? 4 : k->af == FLOW_AF_INET6 ? 16 : 0;
  if (!alen)
    return 0;
  memcpy(in, k->src, alen);
  memcpy(in + alen, k->dst, alen);
  len = 2 * alen;
  if (k->proto == 6 || k->proto == 17) {
    in[len++] = (uint8_t)(k->sport >> 8);
    in[len++] = (uint8_t)k->sport;
    in[len++] = (uint8_t)(k->dport >> 8);
    in[len++] = (uint8_t)k->dport;
  }
  return nic_toeplitz(n->rss_key, in, len);
}

int nic_add_rule(struct nic *n, const struct flow_key *key, unsigned queue) {
  if (queue >= n->p.queues)
    return -1;
  struct rule *r = realloc(n->rules, (n->nrules + 1) * sizeof *r);
  if (!r)
    return -1;
  n->rules = r;
  flow_key_canonical(key, &r[n->nrules].key);
  r[n->nrules].queue = queue;
  n->nrules++;
  return 0;
}

unsigned nic_steer(const struct nic *n, const struct flow_key *key) {
  if (key && n->nrules) {
    struct flow_key c;
    flow_key_canonical(key, &c);
    for (size_t i = 0; i < n->nrules; i++)
      if (memcmp(&c, &n->rules[i].key, sizeof c) == 0)
        return n->rules[i].queue;
  }
  if (!key || key->af == FLOW_AF_NONE)
    return n->reta[0]; /* not hashable: the default (first RSS) queue */
  return n->reta[nic_rss_hash(n, key) & (NIC_RETA_SIZE - 1)];
}

/* ---- rings ---- */

void nic_rx_ring_setup(struct nic *n, unsigned queue, uint64_t base_iova, uint32_t size) {
  if (queue >= n->p.queues)
    return;
  struct rxq *q = &n->q[queue];
  q->base_iova = base_iova;
  q->size = size;
  q->head = q->tail = 0;
}

void nic_rx_tail_write(struct nic *n, unsigned queue, uint32_t tail) {
  if (queue < n->p.queues && n->q[queue].size)
    n->q[queue].tail = tail % n->q[queue].size;
}

uint32_t nic_rx_head(const struct nic *n, unsigned queue) {
  return queue < n->p.queues ? n->q[queue].head : 0;
}

void nic_irq_enable(struct nic *n, unsigned queue) {
  if (queue >= n->p.queues)
    return;
  /* The driver re-enables only after a poll found no completed descriptor
   * (NAPI complete), so the next completion raises the interrupt. */
  n->q[queue].irq_enabled = 1;
}

/* ---- MAC and DMA ---- */

uint64_t nic_mac_arrival_ps(struct nic *n, uint64_t ts_ps, uint32_t wire_len) {
  /* Preamble + SFD 8 B, FCS 4 B, inter-frame gap 12 B around the frame. */
  uint64_t bits = (uint64_t)(wire_len + 24) * 8;
  uint64_t dur = (uint64_t)((double)bits * 1000.0 / n->p.line_rate_gbps + 0.5);
  uint64_t start = ts_ps > n->mac_free_ps ? ts_ps : n->mac_free_ps;
  n->mac_free_ps = start + dur;
  /* The frame is in the NIC when its FCS has arrived, before the gap. */
  return start + dur - (uint64_t)((double)(12 * 8) * 1000.0 / n->p.line_rate_gbps + 0.5);
}

/* Translate and access one DMA range, page by page. write: data from src.
 * Returns 0, or -1 at the first refused page (nothing more is written). */
static int dma(struct nic *n, uint64_t iova, void *buf, uint32_t len, int write,
               const struct mem_prov *prov, uint64_t *lat_ps) {
  struct mem_accessor dev = {.actor = MEM_ACTOR_DEVICE, .id = n->p.rid};
  uint32_t done = 0;
  while (done < len) {
    uint64_t a = iova + done;
    uint32_t chunk = 4096u - (uint32_t)(a & 4095u);
    if (chunk > len - done)
      chunk = len - done;
    uint64_t pa, lat;
    if (iommu_translate(n->io, n->p.rid, a, write, simk_now_ps(), &pa, &lat))
      return -1;
    *lat_ps += lat;
    int rc = write ? mem_write(n->m, dev, pa, (uint8_t *)buf + done, chunk, prov)
                   : mem_read(n->m, dev, pa, (uint8_t *)buf + done, chunk);
    if (rc)
      return -1;
    done += chunk;
  }
  return 0;
}

void nic_rx_frame(struct nic *n, const struct nic_frame *f) {
  unsigned qi = nic_steer(n, f->key);
  struct rxq *q = &n->q[qi];
  uint64_t now = simk_now_ps();

  /* Packet buffer: frames wait there for the PCIe link. */
  double bytes_per_ps = n->p.pcie_gbps / 8000.0;
  uint64_t backlog = n->pcie_free_ps > now ? (uint64_t)((double)(n->pcie_free_ps - now) * bytes_per_ps) : 0;
  if (backlog + f->wire_len > n->p.rx_fifo_bytes) {
    q->st.rx_dropped++;
    q->st.drop_fifo++;
    return;
  }
  if (!q->size || q->head == q->tail) {
    /* No descriptor posted: the 82599 drops (RNBC, "receive no buffers"). */
    q->st.rx_dropped++;
    q->st.drop_no_desc++;
    return;
  }
  if (f->wire_len > n->p.buffer_size) {
    /* One buffer per frame in this model; larger frames are dropped and counted. */
    q->st.rx_dropped++;
    q->st.drop_oversize++;
    return;
  }

  uint64_t lat = 0;
  uint64_t desc_iova = q->base_iova + (uint64_t)q->head * NIC_DESC_BYTES;
  struct nic_rx_desc_read rd;
  if (dma(n, desc_iova, &rd, sizeof rd, 0, NULL, &lat)) {
    q->st.rx_dropped++;
    q->st.drop_dma_fault++;
    return;
  }
  lat += n->p.dma_read_ps;

  /* The frame: headers, payload, and the bytes the capture did not keep. */
  uint32_t hdr = f->hdr_len < f->caplen ? f->hdr_len : f->caplen;
  struct mem_prov ph = {.kind = MEM_LABEL_PKT_HEADER, .flow = f->flow, .packet = f->index};
  struct mem_prov pp = ph, pu = ph;
  pp.kind = MEM_LABEL_PKT_PAYLOAD;
  pu.kind = MEM_LABEL_PKT_UNKNOWN;
  int bad = 0;
  if (hdr)
    bad |= dma(n, rd.pkt_addr, (void *)f->data, hdr, 1, &ph, &lat);
  if (!bad && f->caplen > hdr)
    bad |= dma(n, rd.pkt_addr + hdr, (void *)(f->data + hdr), f->caplen - hdr, 1, &pp, &lat);
  if (!bad && f->wire_len > f->caplen) {
    static const uint8_t zeros[4096];
    uint32_t left = f->wire_len - f->caplen, off = f->caplen;
    while (!bad && left) {
      uint32_t c = left < sizeof zeros ? left : (uint32_t)sizeof zeros;
      bad |= dma(n, rd.pkt_addr + off, (void *)zeros, c, 1, &pu, &lat);
      off += c;
      left -= c;
    }
  }
  if (bad) {
    q->st.rx_dropped++;
    q->st.drop_dma_fault++;
    return;
  }

  /* Write-back (82599 7.1.6.2): DD and EOP, the length, the RSS hash. */
  struct nic_rx_desc_wb wb = {0};
  wb.rss_hash = f->key ? nic_rss_hash(n, f->key) : 0;
  wb.status_error = NIC_RXD_STAT_DD | NIC_RXD_STAT_EOP;
  wb.length = (uint16_t)f->wire_len;
  struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = f->index};
  if (dma(n, desc_iova, &wb, sizeof wb, 1, &pd, &lat)) {
    q->st.rx_dropped++;
    q->st.drop_dma_fault++;
    return;
  }
  q->head = (q->head + 1) % q->size;
  q->st.rx_packets++;
  q->st.rx_bytes += f->wire_len;

  /* PCIe: the frame's TLPs (256 B payload, 24 B overhead each) occupy the link. */
  uint32_t tlps = (f->wire_len + 255) / 256 + 1;
  double wire_bytes = (double)f->wire_len + 24.0 * tlps + NIC_DESC_BYTES;
  uint64_t start = n->pcie_free_ps > now ? n->pcie_free_ps : now;
  n->pcie_free_ps = start + (uint64_t)(wire_bytes / bytes_per_ps);
  uint64_t done = n->pcie_free_ps + lat;

  if (q->irq_enabled && !simk_event_pending(q->irq_ev)) {
    uint64_t at = done;
    if (q->has_last_irq && at < q->last_irq_ps + n->p.itr_ps)
      at = q->last_irq_ps + n->p.itr_ps;
    simk_event_notify(q->irq_ev, at - now);
  }
}
