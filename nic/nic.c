/*
 * nic.c: the RX side of a multi-queue NIC, modelled on the Intel 82599
 * (datasheet sections cited where they apply).
 */
#include "nic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcie.h"
#include "simk.h"

/* The Microsoft default RSS key, used by most drivers' defaults and by the
 * "Verifying the RSS Hash Calculation" known-answer tests. */
static const uint8_t rss_default_key[NIC_RSS_KEY_BYTES] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

#define DESC_CACHE 128u /* on-chip descriptor cache per queue (>= NIC_MAX_DESC_PER_FRAME) */

struct nic;

struct pending_wb {
  uint32_t index;
  struct nic_rx_desc_wb wb;
  uint64_t packet;
};

struct rxq {
  struct nic *nic;
  unsigned index;
  uint64_t base_iova;
  uint32_t size;
  uint32_t head; /* next descriptor the device uses */
  uint32_t tail; /* first descriptor the device may not use */
  struct nic_rx_desc_read cache[DESC_CACHE]; /* fetched descriptors from head on */
  uint32_t cached;
  struct pending_wb pend[DESC_CACHE]; /* completed, not yet written back */
  uint32_t npend;
  int irq_enabled;
  int cause;             /* an RX completion since the last interrupt (EICR latched) */
  uint64_t cause_ps;     /* when its write reaches host memory */
  uint64_t last_irq_ps;
  int has_last_irq;
  struct simk_event *irq_ev;
  struct simk_event *wb_ev;
  struct nic_queue_stats st;
  uint64_t vcd_fill; /* posted descriptors, for the waveform */
  uint64_t vcd_head, vcd_tail;
};

struct txq {
  struct nic *nic;
  unsigned index;
  uint64_t base_iova;
  uint32_t size, head, tail;
  struct nic_tx_desc_read cache[NIC_TX_PREFETCH];
  uint32_t cached;
  struct simk_event *ev;
  struct nic_tx_stats st;
  uint64_t head_wb_iova; /* 0: DD write-back */
  /* A late read (fault): the buffers of one frame, read again later. */
  struct simk_event *late_ev;
  struct nic_tx_desc_read late[NIC_MAX_DESC_PER_FRAME];
  uint32_t nlate, late_first;
  struct nic_fault late_fault;
  uint64_t vcd_fill;     /* posted, not yet sent, for the waveform */
};

#define MAX_ARMED 8
#define MAX_LATE 32

struct late_write {
  uint64_t id;          /* cookie of its unmap watch */
  uint64_t due_ps;
  uint64_t delay_ps;
  int waiting_unmap;    /* due delay_ps after the kernel unmaps the buffer (or at due_ps) */
  uint64_t unmapped_ps; /* when the kernel unmapped it (valid once waiting_unmap is 0) */
  uint64_t iova[NIC_MAX_DESC_PER_FRAME];
  uint32_t len[NIC_MAX_DESC_PER_FRAME];
  uint32_t from[NIC_MAX_DESC_PER_FRAME];
  uint32_t k;
  uint8_t data[16384];
  uint32_t caplen, wire_len, hdr_len, flow;
  uint64_t index;
  void *tag;
};

struct nic {
  struct nic_params p;
  struct pcie_params pcie; /* the link model behind read latencies (pcie.h) */
  struct nic_fault armed[MAX_ARMED];
  unsigned narmed;
  struct late_write *late[MAX_LATE];
  unsigned nlate;
  struct simk_event *late_ev;
  /* A malicious device keeps every IOVA it was given: the end of the last
   * frame it overflowed (0: none), to write over that page's tail again. */
  uint64_t mal_prev_iova;
  struct txq tq[NIC_MAX_QUEUES];
  uint64_t tx_wire_free_ps; /* the TX wire is busy until then */
  struct dma_port port; /* the only way to host memory */
  struct nic_host host;
  uint64_t bad_reg_writes; /* register writes refused: no such queue, no ring, a value past the ring */
  struct rxq q[NIC_MAX_QUEUES];
  uint8_t reta[NIC_RETA_SIZE];
  uint8_t rss_key[NIC_RSS_KEY_BYTES];
  struct nic_toeplitz_table rss_tab; /* built from rss_key */
  struct nic_rule *rules;
  size_t nrules;
  uint64_t mac_free_ps;  /* the wire is busy until then */
  uint64_t pcie_free_ps; /* the DMA write path is busy until then */
  uint64_t vcd_buffer;   /* packet-buffer fill, for the waveform */
  uint64_t late_ids;     /* late writes created so far (their watch cookies) */
};

void nic_params_default(struct nic_params *p) {
  memset(p, 0, sizeof *p);
  p->queues = 1;
  p->line_rate_gbps = 10.0;
  p->rss_queues = 1;
  p->default_queue = 0;
  p->buffer_size = 2048;
  p->mtu = 1500;
  p->multi_buffer = 1;
  p->header_split = 0;
  p->hdr_buffer_size = 256;
  p->rid = 0x0100; /* 01:00.0 */
  p->pcie_gbps = 63.0; /* Gen3 x8 raw; TLP overhead is counted per TLP */
  p->pcie_mps = 256;
  p->tlp_overhead = 24;
  p->rx_fifo_bytes = 512 * 1024;
  p->dma_read_ps = 546000;
  p->desc_fetch_batch = 8;
  p->wb_threshold = 1;
  p->itr_ps = 8000000; /* ixgbe's default ITR, about 125k interrupts/s */
}

/* One DMA through the port with the device's requester id: a write of
 * buf labelled prov (prov != NULL), or a read into buf (prov NULL). Returns 0,
 * or negative when a page was refused (nothing from it on moved). *lat_ps
 * accumulates the translation time; res (may be NULL) receives the outcome. */
static int dma_res(struct nic *n, uint64_t iova, void *buf, uint32_t len, const struct dma_prov *prov,
                   uint64_t *lat_ps, struct dma_result *res) {
  struct dma_req r = {.rid = n->p.rid, .iova = iova, .bytes = len, .dir = prov ? DMA_DIR_WRITE : DMA_DIR_READ,
                      .prov = prov};
  struct dma_result own;
  if (!res)
    res = &own;
  int rc = n->port.access(n->port.ctx, &r, buf, res);
  *lat_ps += res->latency_ps;
  return rc;
}

static int dma(struct nic *n, uint64_t iova, void *buf, uint32_t len, const struct dma_prov *prov,
               uint64_t *lat_ps) {
  return dma_res(n, iova, buf, len, prov, lat_ps, NULL);
}

/* Write back every pending descriptor (82599 7.1.6.2: DD set last, so the
 * driver never sees a half-written descriptor). */
static void wb_flush(struct rxq *q) {
  struct nic *n = q->nic;
  for (uint32_t i = 0; i < q->npend; i++) {
    uint64_t lat = 0;
    struct dma_prov pd = {.kind = DMA_PROV_DEVICE_META, .packet = q->pend[i].packet};
    uint64_t iova = q->base_iova + (uint64_t)q->pend[i].index * NIC_DESC_BYTES;
    if (dma(n, iova, &q->pend[i].wb, sizeof q->pend[i].wb, &pd, &lat))
      q->st.drop_dma_fault++; /* the driver never sees this descriptor complete */
  }
  q->npend = 0;
}

static void wb_timer(void *arg) { wb_flush(arg); }

static void irq_fire(void *arg) {
  struct rxq *q = arg;
  struct nic *n = q->nic;
  /* An interrupt also writes back what is pending (WTHRESH with EITR). */
  wb_flush(q);
  if (!q->irq_enabled)
    return;
  q->irq_enabled = 0; /* auto-masked until the driver's NAPI re-enables it */
  q->cause = 0;       /* read and cleared by the handler */
  q->last_irq_ps = simk_now_ps();
  q->has_last_irq = 1;
  q->st.irqs++;
  if (n->host.irq)
    n->host.irq(n->host.ctx, q->index);
}

static void tx_run(void *arg);
static void tx_late_run(void *arg);
static void late_run(void *arg);

struct nic *nic_new(const struct nic_params *p, const struct dma_port *port, const struct nic_host *host,
                    char *err, size_t errlen) {
  if (!port || !port->access) {
    snprintf(err, errlen, "nic: no DMA port");
    return NULL;
  }
  if (p->queues == 0 || p->queues > NIC_MAX_QUEUES) {
    snprintf(err, errlen, "nic: %u queues (1..%u allowed)", p->queues, NIC_MAX_QUEUES);
    return NULL;
  }
  uint64_t all = p->queues >= 64 ? UINT64_MAX : (1ull << p->queues) - 1;
  /* Each parameter checked alone: the message names it, its value and the range. */
  if ((p->rss_queues & all) == 0) {
    snprintf(err, errlen, "nic: rss_queues 0x%llx: allowed a non-empty set of queues 0..%u",
             (unsigned long long)p->rss_queues, p->queues - 1);
    return NULL;
  }
  if (p->default_queue >= p->queues) {
    snprintf(err, errlen, "nic: default_queue %u: allowed 0..%u", p->default_queue, p->queues - 1);
    return NULL;
  }
  if (p->buffer_size == 0) {
    snprintf(err, errlen, "nic: buffer_size 0: allowed 1 and more bytes");
    return NULL;
  }
  if (!(p->line_rate_gbps > 0) || !(p->pcie_gbps > 0)) {
    snprintf(err, errlen, "nic: line_rate_gbps %g, pcie_gbps %g: allowed above 0", p->line_rate_gbps, p->pcie_gbps);
    return NULL;
  }
  if (p->pcie_mps == 0) {
    snprintf(err, errlen, "nic: pcie_mps 0: allowed 1 and more bytes");
    return NULL;
  }
  if (p->wb_threshold == 0 || p->wb_threshold > DESC_CACHE / 2) {
    snprintf(err, errlen, "nic: wb_threshold %u: allowed 1..%u", p->wb_threshold, DESC_CACHE / 2);
    return NULL;
  }
  if (p->desc_fetch_batch == 0 || p->desc_fetch_batch > DESC_CACHE / 2) {
    snprintf(err, errlen, "nic: desc_fetch_batch %u: allowed 1..%u", p->desc_fetch_batch, DESC_CACHE / 2);
    return NULL;
  }
  struct nic *n = calloc(1, sizeof *n);
  if (!n) {
    snprintf(err, errlen, "nic: out of memory");
    return NULL;
  }
  n->p = *p;
  n->port = *port;
  pcie_params_default(&n->pcie);
  n->pcie.mps = p->pcie_mps;
  n->pcie.mwr_hdr_bytes = p->tlp_overhead;
  if (host)
    n->host = *host;
  memcpy(n->rss_key, rss_default_key, sizeof n->rss_key);
  nic_toeplitz_table_init(&n->rss_tab, n->rss_key);
  /* Indirection table: the RSS queues round-robin, as ethtool -X equal does. */
  unsigned list[NIC_MAX_QUEUES], nl = 0;
  for (unsigned i = 0; i < p->queues; i++)
    if (p->rss_queues & (1ull << i))
      list[nl++] = i;
  for (unsigned i = 0; i < NIC_RETA_SIZE; i++)
    n->reta[i] = (uint8_t)list[i % nl];
  n->late_ev = simk_event_new("nic.late_dma", late_run, n);
  if (!n->late_ev) {
    snprintf(err, errlen, "nic: cannot create events");
    nic_free(n);
    return NULL;
  }
  for (unsigned i = 0; i < p->queues; i++) {
    char name[32];
    n->q[i].nic = n;
    n->q[i].index = i;
    n->q[i].irq_enabled = 1;
    snprintf(name, sizeof name, "nic.q%u.irq", i);
    n->q[i].irq_ev = simk_event_new(name, irq_fire, &n->q[i]);
    snprintf(name, sizeof name, "nic.q%u.wb", i);
    n->q[i].wb_ev = simk_event_new(name, wb_timer, &n->q[i]);
    n->tq[i].nic = n;
    n->tq[i].index = i;
    snprintf(name, sizeof name, "nic.q%u.tx", i);
    n->tq[i].ev = simk_event_new(name, tx_run, &n->tq[i]);
    snprintf(name, sizeof name, "nic.q%u.tx_late", i);
    n->tq[i].late_ev = simk_event_new(name, tx_late_run, &n->tq[i]);
    if (!n->q[i].irq_ev || !n->q[i].wb_ev || !n->tq[i].ev) {
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
  for (unsigned i = 0; i < n->nlate; i++)
    free(n->late[i]);
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

void nic_toeplitz_table_init(struct nic_toeplitz_table *tab, const uint8_t *key) {
  for (size_t i = 0; i < NIC_RSS_KEY_BYTES; i++) {
    /* Key bits 8i .. 8i+39 (zero past the key's end): the window of input
     * bit j of byte i (j = 0 for the byte's most significant bit) is bits
     * 8i+j .. 8i+j+31. */
    uint64_t w40 = 0;
    for (size_t b = 0; b < 5; b++)
      w40 = w40 << 8 | (i + b < NIC_RSS_KEY_BYTES ? key[i + b] : 0);
    tab->t[i][0] = 0;
    for (unsigned j = 0; j < 8; j++)
      tab->t[i][0x80u >> j] = (uint32_t)(w40 >> (8 - j));
    for (unsigned v = 1; v < 256; v++) {
      unsigned low = v & (0u - v);
      if (v != low)
        tab->t[i][v] = tab->t[i][v & (v - 1)] ^ tab->t[i][low];
    }
  }
}

uint32_t nic_toeplitz_tab(const struct nic_toeplitz_table *tab, const uint8_t *data, size_t len) {
  if (len > NIC_RSS_KEY_BYTES)
    len = NIC_RSS_KEY_BYTES;
  uint32_t h = 0;
  for (size_t i = 0; i < len; i++)
    h ^= tab->t[i][data[i]];
  return h;
}

/* The input is source address, destination address and, for TCP and UDP,
 * the two ports in network order (the 82599 hashes UDP ports when
 * MRQC.RSS_FIELD_IPV4_UDP is set, as Linux sets it): nic_toeplitz_tab over
 * those bytes, taken where they lie. */
uint32_t nic_rss_hash(const struct nic *n, const struct flow_key *k) {
  const uint32_t(*t)[256] = n->rss_tab.t;
  uint32_t h = 0;
  size_t i = 0;
  if (k->af == FLOW_AF_INET) {
    for (size_t j = 0; j < 4; j++)
      h ^= t[i++][k->src[j]];
    for (size_t j = 0; j < 4; j++)
      h ^= t[i++][k->dst[j]];
  } else if (k->af == FLOW_AF_INET6) {
    for (size_t j = 0; j < 16; j++)
      h ^= t[i++][k->src[j]];
    for (size_t j = 0; j < 16; j++)
      h ^= t[i++][k->dst[j]];
  } else {
    return 0;
  }
  if (k->proto == 6 || k->proto == 17)
    h ^= t[i][k->sport >> 8] ^ t[i + 1][k->sport & 0xff] ^ t[i + 2][k->dport >> 8] ^ t[i + 3][k->dport & 0xff];
  return h;
}

int nic_add_ntuple(struct nic *n, const struct nic_rule *r) {
  if (r->action == NIC_RULE_QUEUE && r->queue >= n->p.queues)
    return -1;
  struct nic_rule *nr = realloc(n->rules, (n->nrules + 1) * sizeof *nr);
  if (!nr)
    return -1;
  n->rules = nr;
  n->rules[n->nrules++] = *r;
  return 0;
}

int nic_add_rule(struct nic *n, const struct flow_key *key, unsigned queue) {
  if (key->af == FLOW_AF_NONE)
    return -1;
  size_t alen = key->af == FLOW_AF_INET ? 4 : 16;
  for (int dir = 0; dir < 2; dir++) {
    struct nic_rule r;
    memset(&r, 0, sizeof r);
    r.af = key->af;
    r.proto = key->proto;
    memcpy(r.src, dir ? key->dst : key->src, alen);
    memcpy(r.dst, dir ? key->src : key->dst, alen);
    memset(r.src_mask, 0xff, alen);
    memset(r.dst_mask, 0xff, alen);
    r.sport = dir ? key->dport : key->sport;
    r.dport = dir ? key->sport : key->dport;
    r.sport_mask = r.dport_mask = 0xffff;
    r.action = NIC_RULE_QUEUE;
    r.queue = queue;
    if (nic_add_ntuple(n, &r))
      return -1;
  }
  return 0;
}

/* a and b equal under mask over 16 bytes (two 8-byte words at a time). */
static int masked_eq16(const uint8_t *a, const uint8_t *b, const uint8_t *mask) {
  uint64_t x[2], y[2], m[2];
  memcpy(x, a, 16);
  memcpy(y, b, 16);
  memcpy(m, mask, 16);
  return (((x[0] ^ y[0]) & m[0]) | ((x[1] ^ y[1]) & m[1])) == 0;
}

static int rule_match(const struct nic_rule *r, const struct flow_key *k) {
  if (r->af && r->af != k->af)
    return 0;
  if (r->proto && r->proto != k->proto)
    return 0;
  return masked_eq16(k->src, r->src, r->src_mask) && masked_eq16(k->dst, r->dst, r->dst_mask) &&
         ((k->sport ^ r->sport) & r->sport_mask) == 0 && ((k->dport ^ r->dport) & r->dport_mask) == 0;
}

/* nic_steer, and the RSS hash of the key when it was computed (*hashed 1):
 * a received frame needs it again for its write-back. */
static int steer_hash(const struct nic *n, const struct flow_key *key, uint32_t *hash, int *hashed) {
  if (key && key->af != FLOW_AF_NONE)
    for (size_t i = 0; i < n->nrules; i++)
      if (rule_match(&n->rules[i], key))
        return n->rules[i].action == NIC_RULE_DROP ? -1 : (int)n->rules[i].queue;
  if (!key || key->af == FLOW_AF_NONE)
    return (int)n->p.default_queue; /* not hashable */
  *hash = nic_rss_hash(n, key);
  *hashed = 1;
  return n->reta[*hash & (NIC_RETA_SIZE - 1)];
}

int nic_steer(const struct nic *n, const struct flow_key *key) {
  uint32_t hash;
  int hashed;
  return steer_hash(n, key, &hash, &hashed);
}

/* ---- rings ---- */

static void update_fill(struct rxq *q) {
  q->vcd_fill = q->size ? (q->tail + q->size - q->head) % q->size : 0;
  q->vcd_head = q->head;
  q->vcd_tail = q->tail;
}

void nic_rx_ring_setup(struct nic *n, unsigned queue, uint64_t base_iova, uint32_t size) {
  if (queue >= n->p.queues || size == 0) {
    n->bad_reg_writes++;
    return;
  }
  struct rxq *q = &n->q[queue];
  q->base_iova = base_iova;
  q->size = size;
  q->head = q->tail = 0;
  q->cached = q->npend = 0;
  update_fill(q);
}

void nic_rx_tail_write(struct nic *n, unsigned queue, uint32_t tail) {
  if (queue < n->p.queues && n->q[queue].size && tail < n->q[queue].size) {
    n->q[queue].tail = tail;
    update_fill(&n->q[queue]);
  } else {
    n->bad_reg_writes++; /* RDT past the ring, or a queue without one: refused */
  }
}

uint64_t nic_bad_register_writes(const struct nic *n) { return n->bad_reg_writes; }

uint32_t nic_rx_head(const struct nic *n, unsigned queue) {
  return queue < n->p.queues ? n->q[queue].head : 0;
}

uint32_t nic_rx_ring_fill(const struct nic *n, unsigned queue) {
  return queue < n->p.queues ? (uint32_t)n->q[queue].vcd_fill : 0;
}

void nic_irq_enable(struct nic *n, unsigned queue) {
  /* The driver re-enables after NAPI complete. The interrupt cause stays
   * latched while the interrupt is masked (82599 EICR): a completion that
   * came after the poll looked, while the core was still busy, raises the
   * interrupt as soon as it is unmasked (within the throttle), so no frame
   * waits in the ring for a later one. */
  if (queue >= n->p.queues) {
    n->bad_reg_writes++;
    return;
  }
  struct rxq *q = &n->q[queue];
  q->irq_enabled = 1;
  if (q->cause && !simk_event_pending(q->irq_ev)) {
    uint64_t now = simk_now_ps();
    uint64_t at = q->cause_ps > now ? q->cause_ps : now;
    if (q->has_last_irq && at < q->last_irq_ps + n->p.itr_ps)
      at = q->last_irq_ps + n->p.itr_ps;
    simk_event_notify(q->irq_ev, at - now);
  }
}

/* Latency of a DMA read of bytes: the pcie-bench curve of pcie.h (546 ns
 * for 64 B up to 1,133 ns for 2 KiB, read requests of at most MRRS bytes),
 * scaled so that a 64 B read takes dma_read_ps. */
static uint64_t read_latency_ps(const struct nic *n, uint32_t bytes) {
  uint64_t base = pcie_read_latency_ps(&n->pcie, 64);
  uint64_t l = pcie_read_latency_ps(&n->pcie, bytes ? bytes : 1);
  return base ? (uint64_t)((double)n->p.dma_read_ps * (double)l / (double)base + 0.5) : n->p.dma_read_ps;
}

/* Make at least k descriptors available in the cache, fetching in batches.
 * Returns 0 (adding the read latency to *lat_ps when a fetch was needed) or
 * -1 when fewer than k descriptors are posted, or a fetch was refused. */
static int desc_take(struct rxq *q, uint32_t k, uint64_t *lat_ps) {
  struct nic *n = q->nic;
  uint32_t avail = (q->tail + q->size - q->head) % q->size;
  if (avail < k)
    return -1;
  if (q->cached >= k)
    return 0;
  uint32_t want = n->p.desc_fetch_batch > k - q->cached ? n->p.desc_fetch_batch : k - q->cached;
  if (want > avail - q->cached)
    want = avail - q->cached;
  if (want > DESC_CACHE - q->cached)
    want = DESC_CACHE - q->cached;
  /* One read request per contiguous piece of the ring (it may wrap). */
  uint32_t got = 0;
  uint64_t lat = 0;
  while (got < want) {
    uint32_t idx = (q->head + q->cached + got) % q->size;
    uint32_t piece = q->size - idx;
    if (piece > want - got)
      piece = want - got;
    if (dma(n, q->base_iova + (uint64_t)idx * NIC_DESC_BYTES, &q->cache[q->cached + got],
            piece * NIC_DESC_BYTES, NULL, &lat))
      return -1;
    q->st.desc_fetches++;
    got += piece;
  }
  q->cached += got;
  /* A read waits for its completion: 546 ns for a warm 64 B read, plus the
   * payload time of the rest of the descriptors at the link rate. */
  *lat_ps += lat + read_latency_ps(n, got * NIC_DESC_BYTES);
  return 0;
}

/* Write frame bytes [from, from+len) to iova, each byte labelled as header,
 * payload or uncaptured by where it lies in the frame. Returns 0 or
 * negative at the first refused page. sum (may be NULL) accumulates the
 * outcome: bytes that reached memory, pages through stale IOTLB entries,
 * and the first refusal. */
static int dma_frame_range(struct nic *n, const struct nic_frame *f, uint64_t iova, uint32_t from,
                           uint32_t len, uint64_t *lat, struct dma_result *sum) {
  static const uint8_t zeros[4096];
  uint32_t hdr = f->hdr_len < f->caplen ? f->hdr_len : f->caplen;
  struct dma_prov pv = {.flow = f->flow, .packet = f->index};
  uint32_t pos = from, end = from + len;
  while (pos < end) {
    uint32_t seg_end;
    const uint8_t *src;
    if (pos < hdr) {
      pv.kind = DMA_PROV_PKT_HEADER;
      seg_end = hdr;
      src = f->data + pos;
    } else if (pos < f->caplen) {
      pv.kind = DMA_PROV_PKT_PAYLOAD;
      seg_end = f->caplen;
      src = f->data + pos;
    } else {
      pv.kind = DMA_PROV_PKT_UNKNOWN;
      seg_end = pos + (uint32_t)sizeof zeros;
      src = zeros;
    }
    if (seg_end > end)
      seg_end = end;
    struct dma_result res;
    int rc = dma_res(n, iova + (pos - from), (void *)src, seg_end - pos, &pv, lat, &res);
    if (sum) {
      sum->bytes_done += res.bytes_done;
      sum->stale_pages += res.stale_pages;
      sum->untranslated_pages += res.untranslated_pages;
      if (rc && sum->status == DMA_OK) {
        sum->status = rc;
        sum->fault_iova = res.fault_iova;
        sum->fault_reason = res.fault_reason;
      }
    }
    if (rc)
      return rc;
    pos = seg_end;
  }
  return 0;
}

/* ---- fault injection: the device misbehaving on the bus ---- */

int nic_fault_arm(struct nic *n, const struct nic_fault *f) {
  if (n->narmed == MAX_ARMED)
    return -1;
  n->armed[n->narmed++] = *f;
  return 0;
}

/* Take the first armed fault of kind, if any. */
static int take_fault(struct nic *n, uint8_t kind, struct nic_fault *out) {
  for (unsigned i = 0; i < n->narmed; i++)
    if (n->armed[i].kind == kind) {
      *out = n->armed[i];
      memmove(&n->armed[i], &n->armed[i + 1], (n->narmed - i - 1) * sizeof n->armed[0]);
      n->narmed--;
      return 1;
    }
  return 0;
}

static void effect(struct nic *n, const struct nic_fault *f, uint64_t packet, const char *text) {
  if (n->host.fault_effect)
    n->host.fault_effect(n->host.ctx, f->tag, packet, text);
}

static void late_schedule(struct nic *n) {
  uint64_t now = simk_now_ps(), first = UINT64_MAX;
  for (unsigned i = 0; i < n->nlate; i++)
    if (n->late[i]->due_ps < first)
      first = n->late[i]->due_ps;
  if (first != UINT64_MAX)
    simk_event_notify(n->late_ev, first > now ? first - now : 0);
}

/* The port saw the kernel unmap the buffer of late write `id`: it becomes
 * due delay_ps from now. */
static void late_unmapped(void *arg, uint64_t id) {
  struct nic *n = arg;
  for (unsigned i = 0; i < n->nlate; i++)
    if (n->late[i]->id == id && n->late[i]->waiting_unmap) {
      n->late[i]->waiting_unmap = 0;
      n->late[i]->unmapped_ps = simk_now_ps();
      n->late[i]->due_ps = simk_now_ps() + n->late[i]->delay_ps;
      late_schedule(n);
    }
}

/* What the late write met, from the translations' own outcome (never from
 * the IOMMU's mode): a stale IOTLB entry, the buffer granted at that IOVA
 * since the unmap (Linux hands a freed IOVA out again at once), the buffer
 * still mapped, or a refusal. */
static void late_effect_text(const struct late_write *w, uint64_t now, uint32_t written, uint64_t refused,
                             const struct dma_result *sum, char *text, size_t n) {
  char unmap[96];
  if (w->waiting_unmap)
    snprintf(unmap, sizeof unmap, "the kernel had not unmapped the buffer");
  else
    snprintf(unmap, sizeof unmap, "the kernel had unmapped the buffer at %.3f us", (double)w->unmapped_ps / 1e6);
  int len;
  if (!written) {
    len = snprintf(text, n, "the late write of packet %llu to IOVA 0x%llx at %.3f us was refused by the IOMMU "
                   "(%llu fault records, %s at IOVA 0x%llx): %s and no IOTLB entry still translated it",
                   (unsigned long long)w->index, (unsigned long long)w->iova[0], (double)now / 1e6,
                   (unsigned long long)refused, sum->fault_reason == 1 ? "not present" : "no permission",
                   (unsigned long long)sum->fault_iova, unmap);
  } else {
    const char *how = sum->untranslated_pages ? "with no translation (the IOMMU passed the IOVA through as the "
                                                "physical address), into whatever that page holds now"
                      : sum->stale_pages ? "through a stale IOTLB entry (the unmap's invalidation was still queued), "
                                           "into the page the kernel no longer grants"
                      : w->waiting_unmap ? "through the buffer's current mapping, still granted to the device"
                                         : "into the buffer now granted at that IOVA (the IOVA was handed out "
                                           "again after the unmap)";
    len = snprintf(text, n, "wrote %u bytes of packet %llu again to IOVA 0x%llx at %.3f us, %s; %s", written,
                   (unsigned long long)w->index, (unsigned long long)w->iova[0], (double)now / 1e6, unmap, how);
    if (refused && len > 0 && (size_t)len < n)
      snprintf(text + len, n - (size_t)len, "; %llu of its %u buffers were refused by the IOMMU",
               (unsigned long long)refused, w->k);
  }
}

/* A late write is the same frame written again to the IOVAs the device had
 * for it; the IOMMU decides what it reaches now. */
static void late_run(void *arg) {
  struct nic *n = arg;
  uint64_t now = simk_now_ps();
  unsigned i = 0;
  while (i < n->nlate) {
    struct late_write *w = n->late[i];
    if (w->due_ps > now) {
      i++;
      continue;
    }
    struct nic_frame f = {.data = w->data, .caplen = w->caplen, .wire_len = w->wire_len,
                          .hdr_len = w->hdr_len, .flow = w->flow, .index = w->index};
    uint64_t lat = 0, refused = 0;
    uint32_t written = 0;
    struct dma_result sum;
    memset(&sum, 0, sizeof sum);
    for (uint32_t d = 0; d < w->k; d++)
      refused += dma_frame_range(n, &f, w->iova[d], w->from[d], w->len[d], &lat, &sum) != 0;
    written = sum.bytes_done;
    char text[400];
    late_effect_text(w, now, written, refused, &sum, text, sizeof text);
    struct nic_fault tagf = {.tag = w->tag};
    effect(n, &tagf, w->index, text);
    free(w);
    n->late[i] = n->late[--n->nlate];
  }
  late_schedule(n);
}

static void drop(struct rxq *q, uint64_t *counter) {
  q->st.rx_dropped++;
  (*counter)++;
}

uint64_t nic_buffer_fill(const struct nic *n) {
  uint64_t now = simk_now_ps();
  if (n->pcie_free_ps <= now)
    return 0;
  return (uint64_t)((double)(n->pcie_free_ps - now) * n->p.pcie_gbps / 8000.0);
}

/* Link occupancy of a DMA write of len bytes: payload plus one TLP header
 * per max-payload-size chunk, at the raw link rate. */
static uint64_t write_occupancy_ps(const struct nic *n, uint32_t len) {
  uint32_t tlps = (len + n->p.pcie_mps - 1) / n->p.pcie_mps;
  double bytes = (double)len + (double)tlps * n->p.tlp_overhead;
  return (uint64_t)(bytes * 8.0 * 1000.0 / n->p.pcie_gbps + 0.5);
}

/* ---- receiving a frame, phase by phase ----
 *
 * nic_rx_frame runs the phases in order, as the 82599 (and QEMU's igb_core
 * igb_receive_internal) does: steer and admit the frame, fetch descriptors,
 * place the frame in the buffers by DMA, write the descriptors back, raise
 * the interrupt. What one frame needs between the phases is in struct rx. */

struct rx {
  const struct nic_frame *f;
  struct rxq *q;
  uint64_t now;
  uint32_t hdr;       /* header bytes (header split: to the header buffer) */
  int split;          /* 1: headers to the header buffer */
  uint32_t data_from; /* first frame byte in the packet buffers */
  uint32_t k;         /* descriptors used */
  uint32_t first;     /* ring index of the first */
  uint16_t lens[NIC_MAX_DESC_PER_FRAME]; /* bytes written per descriptor */
  uint64_t lat;       /* descriptor reads and translations before the data moves */
  int bad;            /* a frame write was refused */
  struct dma_result first_buf; /* outcome of the write to the first packet buffer */
  uint32_t hash;      /* RSS hash of the frame's key */
  int have_hash;      /* 1: hash is computed */
};

/* Phase 1: steer the frame to a queue and admit it (ntuple drop, MTU,
 * packet buffer, ring set up). Returns the queue, or NULL when dropped. */
static struct rxq *rx_admit(struct nic *n, struct rx *rx) {
  const struct nic_frame *f = rx->f;
  int qs = steer_hash(n, f->key, &rx->hash, &rx->have_hash);
  struct rxq *q = &n->q[qs < 0 ? n->p.default_queue : (unsigned)qs];
  if (qs < 0) {
    drop(q, &q->st.drop_rule);
    return NULL;
  }
  /* Too long for the MTU: a long-length error (ROC/RLEC on the 82599). */
  uint64_t max_frame = (uint64_t)n->p.mtu + 14 + 4u * f->vlan_tags;
  if (f->wire_len > max_frame) {
    drop(q, &q->st.drop_oversize);
    return NULL;
  }
  /* The packet buffer holds frames until the PCIe link takes them. */
  if (nic_buffer_fill(n) + f->wire_len > n->p.rx_fifo_bytes) {
    drop(q, &q->st.drop_buffer_full);
    return NULL;
  }
  if (!q->size) {
    drop(q, &q->st.drop_no_desc);
    if (n->host.rx_no_desc)
      n->host.rx_no_desc(n->host.ctx, q->index, f);
    return NULL;
  }
  return q;
}

/* Descriptors a frame needs from data_from on; 0 when it cannot be taken
 * (longer than one buffer without multi_buffer, or than the chain limit). */
static uint32_t rx_descs_needed(const struct nic *n, const struct nic_frame *f, uint32_t data_from) {
  uint32_t data_len = f->wire_len - data_from;
  uint32_t k = data_len ? (data_len + n->p.buffer_size - 1) / n->p.buffer_size : 1;
  if (k > 1 && (!n->p.multi_buffer || k > NIC_MAX_DESC_PER_FRAME))
    return 0;
  return k;
}

/* Phase 2: lay the frame out over buffers and fetch the descriptors for it.
 * 0, or -1 when the frame was dropped. */
static int rx_fetch(struct nic *n, struct rx *rx) {
  const struct nic_frame *f = rx->f;
  struct rxq *q = rx->q;
  /* Header split: the headers go to the header buffer when they fit
   * (82599 7.1.10: otherwise the whole frame goes to the packet buffer). */
  rx->hdr = f->hdr_len < f->caplen ? f->hdr_len : f->caplen;
  rx->split = n->p.header_split && rx->hdr > 0 && rx->hdr <= n->p.hdr_buffer_size && rx->hdr < f->wire_len;
  rx->data_from = rx->split ? rx->hdr : 0;
  rx->k = rx_descs_needed(n, f, rx->data_from);
  if (!rx->k) {
    drop(q, &q->st.drop_oversize);
    return -1;
  }
  if (desc_take(q, rx->k, &rx->lat)) {
    /* No descriptor posted: the 82599 drops (RNBC, "receive no buffers"). */
    drop(q, &q->st.drop_no_desc);
    if (n->host.rx_no_desc)
      n->host.rx_no_desc(n->host.ctx, q->index, f);
    return -1;
  }
  if (rx->split && q->cache[0].hdr_addr == 0) {
    /* The driver posted no header buffer: one buffer chain, as without split. */
    rx->split = 0;
    rx->data_from = 0;
    rx->k = rx_descs_needed(n, f, 0);
    if (!rx->k) {
      drop(q, &q->st.drop_oversize);
      return -1;
    }
    if (desc_take(q, rx->k, &rx->lat)) {
      drop(q, &q->st.drop_no_desc);
      return -1;
    }
  }
  rx->first = q->head;
  return 0;
}

/* Fault hook before the frame is placed: a corrupted descriptor address.
 * Returns 1 when it fired (*fb, *was filled); the effect is told after the
 * write, with what the write met. */
static int rx_fault_descriptor(struct nic *n, struct rx *rx, struct nic_fault *fb, uint64_t *was) {
  if (!take_fault(n, NIC_FAULT_BAD_ADDR, fb))
    return 0;
  *was = rx->q->cache[0].pkt_addr;
  rx->q->cache[0].pkt_addr ^= fb->xor_mask;
  return 1;
}

static void rx_fault_descriptor_effect(struct nic *n, struct rx *rx, const struct nic_fault *fb, uint64_t was) {
  const struct dma_result *r = &rx->first_buf;
  char text[256];
  int len = snprintf(text, sizeof text, "corrupted descriptor %u of queue %u: packet address 0x%llx became 0x%llx; ",
                     rx->first, rx->q->index, (unsigned long long)was, (unsigned long long)rx->q->cache[0].pkt_addr);
  if (r->status == DMA_OK)
    snprintf(text + len, sizeof text - (size_t)len, "the frame's %u bytes were written there (%s)", r->bytes_done,
             r->untranslated_pages ? "untranslated: the IOMMU passes IOVAs through" : "the IOMMU translated it");
  else
    snprintf(text + len, sizeof text - (size_t)len, "the IOMMU refused the write at IOVA 0x%llx after %u bytes; "
             "the descriptor was written back as usual (a posted write has no completion)",
             (unsigned long long)r->fault_iova, r->bytes_done);
  effect(n, fb, rx->f->index, text);
}

/* Phase 3: place the frame: headers to the header buffer (split), the rest
 * over the packet buffers. */
static void rx_place(struct nic *n, struct rx *rx) {
  const struct nic_frame *f = rx->f;
  struct rxq *q = rx->q;
  /* Each buffer is its own posted write: a refused one does not stop the
   * others (the device cannot know). */
  if (rx->split)
    rx->bad |= dma_frame_range(n, f, q->cache[0].hdr_addr, 0, rx->hdr, &rx->lat, NULL) != 0;
  uint32_t pos = rx->data_from;
  for (uint32_t i = 0; i < rx->k; i++) {
    uint32_t chunk = f->wire_len - pos < n->p.buffer_size ? f->wire_len - pos : n->p.buffer_size;
    rx->bad |= dma_frame_range(n, f, q->cache[i].pkt_addr, pos, chunk, &rx->lat, i ? NULL : &rx->first_buf) != 0;
    rx->lens[i] = (uint16_t)chunk;
    pos += chunk;
  }
}

/* Thunderclap: the whole mapped page is the device's to write, so it writes
 * on past the frame to the page's end, over whatever is there. */
static void rx_fault_malicious(struct nic *n, struct rx *rx) {
  struct nic_fault fm;
  if (!take_fault(n, NIC_FAULT_MALICIOUS, &fm))
    return;
  const struct nic_frame *f = rx->f;
  uint32_t last = rx->k - 1;
  uint64_t end_iova = rx->q->cache[last].pkt_addr + rx->lens[last];
  uint32_t rest = (uint32_t)(4096u - (end_iova & 4095u)) & 4095u;
  static uint8_t junk[4096];
  memset(junk, 0x41, sizeof junk);
  struct dma_prov pj = {.kind = DMA_PROV_PKT_PAYLOAD, .flow = f->flow, .packet = f->index};
  uint64_t l2 = 0;
  char text[400];
  if (rest && dma(n, end_iova, junk, rest, &pj, &l2) == 0)
    snprintf(text, sizeof text, "wrote %u bytes past the end of packet %llu's buffer, to the end of its page "
             "(IOVA 0x%llx)", rest, (unsigned long long)f->index, (unsigned long long)end_iova);
  else
    snprintf(text, sizeof text, "tried to write %u bytes past packet %llu's buffer at IOVA 0x%llx: %s", rest,
             (unsigned long long)f->index, (unsigned long long)end_iova, rest ? "refused by the IOMMU" : "no room");
  /* The page it overflowed last time: where the device is done, the kernel
   * has since built the skb over it (skb_shared_info at the end). With
   * page_pool the page stays mapped while it is up the stack or queued on a
   * socket, so the write goes through (Thunderclap); a driver that unmaps
   * each buffer on completion leaves it nothing to write. */
  if (n->mal_prev_iova) {
    uint32_t prest = (uint32_t)(4096u - (n->mal_prev_iova & 4095u)) & 4095u;
    size_t tl = strlen(text);
    int ok = prest && dma(n, n->mal_prev_iova, junk, prest, &pj, &l2) == 0;
    snprintf(text + tl, sizeof text - tl, "; %s %u bytes at the end of the page it wrote before (IOVA 0x%llx)%s",
             ok ? "and again" : "tried again", prest, (unsigned long long)n->mal_prev_iova,
             ok ? ", still mapped" : ": refused by the IOMMU");
  }
  n->mal_prev_iova = rest ? end_iova : 0;
  effect(n, &fm, f->index, text);
}

/* A write of len bytes to an IOVA the fault drew. */
static void rx_fault_random(struct nic *n, struct rx *rx) {
  struct nic_fault fr;
  if (!take_fault(n, NIC_FAULT_RANDOM_DMA, &fr))
    return;
  const struct nic_frame *f = rx->f;
  static uint8_t junk[4096];
  memset(junk, 0x52, sizeof junk);
  struct dma_prov pj = {.kind = DMA_PROV_PKT_PAYLOAD, .flow = f->flow, .packet = f->index};
  uint64_t l2 = 0;
  uint32_t len = fr.len < sizeof junk ? fr.len : (uint32_t)sizeof junk;
  char text[200];
  int rc = dma(n, fr.iova, junk, len, &pj, &l2);
  snprintf(text, sizeof text, "wrote %u bytes to random IOVA 0x%llx: %s", len, (unsigned long long)fr.iova,
           rc ? "refused by the IOMMU" : "it reached memory");
  effect(n, &fr, f->index, text);
}

/* Keep the frame to write it again after the kernel unmaps its buffer. */
static void rx_fault_late(struct nic *n, struct rx *rx) {
  struct nic_fault fl;
  if (n->nlate >= MAX_LATE || !take_fault(n, NIC_FAULT_LATE_DMA, &fl))
    return;
  struct late_write *w = calloc(1, sizeof *w);
  if (!w)
    return;
  const struct nic_frame *f = rx->f;
  /* The late write comes delay_ps after the kernel unmaps the buffer
   * (the stale window), or 10 ms after completion if it never does. */
  w->id = ++n->late_ids;
  w->delay_ps = fl.delay_ps;
  w->waiting_unmap = 1;
  w->due_ps = rx->now + 10ull * 1000 * 1000 * 1000 + fl.delay_ps;
  w->k = rx->k;
  uint32_t p2 = rx->data_from;
  for (uint32_t i = 0; i < rx->k; i++) {
    w->iova[i] = rx->q->cache[i].pkt_addr;
    w->len[i] = rx->lens[i];
    w->from[i] = p2;
    p2 += rx->lens[i];
  }
  w->caplen = f->caplen < sizeof w->data ? f->caplen : (uint32_t)sizeof w->data;
  memcpy(w->data, f->data, w->caplen);
  w->wire_len = f->wire_len < sizeof w->data ? f->wire_len : (uint32_t)sizeof w->data;
  w->hdr_len = f->hdr_len;
  w->flow = f->flow;
  w->index = f->index;
  w->tag = fl.tag;
  /* The buffer that matters is the one holding the frame's last byte. */
  uint32_t last = rx->k - 1;
  uint64_t last_iova = w->iova[last] + (rx->lens[last] ? rx->lens[last] - 1u : 0u);
  if (n->port.watch_unmap)
    n->port.watch_unmap(n->port.ctx, n->p.rid, last_iova, late_unmapped, n, w->id);
  n->late[n->nlate++] = w;
  late_schedule(n);
}

/* Fault hook after the frame is placed: what a misbehaving device writes
 * besides the frame, and the writes it keeps for later. */
static void rx_fault_after_place(struct nic *n, struct rx *rx) {
  if (!n->narmed && !n->nlate)
    return;
  rx_fault_malicious(n, rx);
  rx_fault_random(n, rx);
  rx_fault_late(n, rx);
  /* A device that means to write a buffer again keeps using it, so its
   * translation stays in the IOTLB (as an attacking device does to keep a
   * stale entry alive in lazy mode). */
  for (unsigned i = 0; i < n->nlate; i++)
    if (n->late[i]->waiting_unmap) {
      struct dma_req r = {.rid = n->p.rid, .iova = n->late[i]->iova[0], .bytes = 1, .dir = DMA_DIR_TRANSLATE};
      struct dma_result res;
      n->port.access(n->port.ctx, &r, NULL, &res);
    }
}

/* Fault hook at write-back: a corrupted length. */
static void rx_fault_writeback(struct nic *n, struct rx *rx) {
  struct nic_fault fbl;
  if (!take_fault(n, NIC_FAULT_BAD_LEN, &fbl))
    return;
  char text[160];
  snprintf(text, sizeof text, "wrote back length %u instead of %u for packet %llu", n->p.buffer_size, rx->lens[0],
           (unsigned long long)rx->f->index);
  rx->lens[0] = (uint16_t)n->p.buffer_size;
  effect(n, &fbl, rx->f->index, text);
}

/* The descriptors are used whatever happened to the data. */
static void rx_consume(struct rxq *q, uint32_t k) {
  memmove(q->cache, q->cache + k, (q->cached - k) * sizeof q->cache[0]);
  q->cached -= k;
  q->head = (q->head + k) % q->size;
  update_fill(q);
  q->st.desc_used += k;
}

/* Phase 4: write-back (82599 7.1.6.2): every descriptor gets DD, the last
 * EOP; written now or batched up to wb_threshold. */
static void rx_writeback(struct nic *n, struct rx *rx) {
  struct rxq *q = rx->q;
  const struct nic_frame *f = rx->f;
  uint32_t hash = rx->have_hash ? rx->hash : f->key ? nic_rss_hash(n, f->key) : 0;
  rx_fault_writeback(n, rx);
  for (uint32_t i = 0; i < rx->k; i++) {
    struct pending_wb *pw = &q->pend[q->npend++];
    memset(pw, 0, sizeof *pw);
    pw->index = (rx->first + i) % q->size;
    pw->packet = f->index;
    pw->wb.rss_hash = hash;
    pw->wb.length = rx->lens[i];
    pw->wb.status_error = NIC_RXD_STAT_DD | (i == rx->k - 1 ? NIC_RXD_STAT_EOP : 0);
    if (i == 0 && rx->split) {
      pw->wb.info = NIC_RXD_INFO_SPH | (rx->hdr & NIC_RXD_HDR_LEN_MASK) << NIC_RXD_HDR_LEN_SHIFT;
    }
    if (q->npend >= n->p.wb_threshold)
      wb_flush(q);
  }
  if (q->npend && !simk_event_pending(q->wb_ev))
    simk_event_notify(q->wb_ev, n->p.itr_ps);
  q->st.rx_packets++;
  q->st.rx_bytes += f->wire_len;
  if (rx->split)
    q->st.header_splits++;
  if (rx->k > 1)
    q->st.chained++;
}

/* Phase 5: the frame's TLPs occupy the link after the descriptors arrived;
 * the interrupt cause is latched when they reach memory and the interrupt
 * raised then, within the throttle. */
static void rx_interrupt(struct nic *n, struct rx *rx) {
  struct rxq *q = rx->q;
  uint64_t ready = rx->now + rx->lat;
  uint64_t start = n->pcie_free_ps > ready ? n->pcie_free_ps : ready;
  n->pcie_free_ps = start + write_occupancy_ps(n, rx->f->wire_len) + write_occupancy_ps(n, rx->k * NIC_DESC_BYTES);
  n->vcd_buffer = nic_buffer_fill(n);
  uint64_t done = n->pcie_free_ps;
  q->cause = 1;
  q->cause_ps = done;
  if (q->irq_enabled && !simk_event_pending(q->irq_ev)) {
    uint64_t at = done;
    if (q->has_last_irq && at < q->last_irq_ps + n->p.itr_ps)
      at = q->last_irq_ps + n->p.itr_ps;
    simk_event_notify(q->irq_ev, at - rx->now);
  }
}

void nic_rx_frame(struct nic *n, const struct nic_frame *f) {
  struct rx rx;
  memset(&rx, 0, sizeof rx);
  rx.f = f;
  rx.now = simk_now_ps();
  rx.q = rx_admit(n, &rx);
  if (!rx.q || rx_fetch(n, &rx))
    return;
  struct nic_fault fb;
  uint64_t was = 0;
  int bad_addr = n->narmed && rx_fault_descriptor(n, &rx, &fb, &was);
  rx_place(n, &rx);
  if (bad_addr)
    rx_fault_descriptor_effect(n, &rx, &fb, was);
  rx_fault_after_place(n, &rx);
  rx_consume(rx.q, rx.k);
  /* A memory write is posted: the device gets no completion and cannot
   * know the IOMMU refused it, so it writes the descriptors back as usual
   * and the driver takes whatever the buffers hold. Counted, not dropped. */
  if (rx.bad)
    rx.q->st.dma_write_faults++;
  rx_writeback(n, &rx);
  rx_interrupt(n, &rx);
}

/* ---- TX ---- */

void nic_tx_ring_setup(struct nic *n, unsigned queue, uint64_t base_iova, uint32_t size) {
  if (queue >= n->p.queues || size == 0) {
    n->bad_reg_writes++;
    return;
  }
  struct txq *t = &n->tq[queue];
  t->base_iova = base_iova;
  t->size = size;
  t->head = t->tail = t->cached = 0;
  t->head_wb_iova = 0;
}

void nic_tx_head_wb(struct nic *n, unsigned queue, uint64_t wb_iova) {
  if (queue < n->p.queues)
    n->tq[queue].head_wb_iova = wb_iova;
}

uint32_t nic_tx_ring_fill(const struct nic *n, unsigned queue) {
  if (queue >= n->p.queues || !n->tq[queue].size)
    return 0;
  const struct txq *t = &n->tq[queue];
  return (t->tail + t->size - t->head) % t->size;
}

void nic_tx_tail_write(struct nic *n, unsigned queue, uint32_t tail) {
  if (queue >= n->p.queues || !n->tq[queue].size || tail >= n->tq[queue].size) {
    n->bad_reg_writes++; /* TDT past the ring, or a queue without one: refused */
    return;
  }
  struct txq *t = &n->tq[queue];
  t->tail = tail;
  t->vcd_fill = nic_tx_ring_fill(n, queue);
  if (t->head != t->tail && !simk_event_pending(t->ev))
    simk_event_notify(t->ev, 0);
}

uint32_t nic_tx_head(const struct nic *n, unsigned queue) {
  return queue < n->p.queues ? n->tq[queue].head : 0;
}

const struct nic_tx_stats *nic_tx_stats(const struct nic *n, unsigned queue) {
  return queue < n->p.queues ? &n->tq[queue].st : NULL;
}

/* Fetch up to the prefetch depth (82599 7.2.3.4: descriptors are prefetched
 * in bursts). Returns the read latency, 0 when nothing was needed. */
static uint64_t tx_prefetch(struct txq *t, int *fault) {
  struct nic *n = t->nic;
  uint32_t avail = (t->tail + t->size - t->head) % t->size;
  uint32_t want = avail < NIC_TX_PREFETCH ? avail : NIC_TX_PREFETCH;
  if (t->cached >= want)
    return 0;
  uint64_t lat = 0;
  uint32_t got = 0, need = want - t->cached;
  while (got < need) {
    uint32_t idx = (t->head + t->cached + got) % t->size;
    uint32_t piece = t->size - idx < need - got ? t->size - idx : need - got;
    if (dma(n, t->base_iova + (uint64_t)idx * NIC_DESC_BYTES, &t->cache[t->cached + got],
            piece * NIC_DESC_BYTES, NULL, &lat)) {
      *fault = 1;
      return lat;
    }
    t->st.desc_fetches++;
    got += piece;
  }
  t->cached += got;
  return lat + read_latency_ps(n, (uint32_t)(got * NIC_DESC_BYTES));
}

/* The completion of the k cached descriptors at the head: DD into those with
 * RS (82599 7.2.3.2.4), or the new head to the head write-back address
 * (7.2.3.5.2: the head just past the frame). Returns 1 when something was
 * reported. */
static int tx_complete(struct txq *t, uint32_t k) {
  struct nic *n = t->nic;
  int rs = 0;
  for (uint32_t i = 0; i < k; i++)
    if (t->cache[i].cmd_type_len & NIC_TXD_CMD_RS)
      rs = 1;
  if (!rs)
    return 0;
  struct dma_prov pd = {.kind = DMA_PROV_DEVICE_META, .packet = UINT64_MAX};
  uint64_t l2 = 0;
  if (t->head_wb_iova) {
    uint32_t head = (t->head + k) % t->size;
    dma(n, t->head_wb_iova, &head, sizeof head, &pd, &l2);
    return 1;
  }
  for (uint32_t i = 0; i < k; i++) {
    if (!(t->cache[i].cmd_type_len & NIC_TXD_CMD_RS))
      continue;
    struct nic_tx_desc_wb wb = {.status = NIC_TXD_STAT_DD};
    dma(n, t->base_iova + (uint64_t)((t->head + i) % t->size) * NIC_DESC_BYTES, &wb, sizeof wb, &pd, &l2);
  }
  return 1;
}

/* Transmit the next frame, then come back when the wire is free. */
static void tx_run(void *arg) {
  struct txq *t = arg;
  struct nic *n = t->nic;
  if (t->head == t->tail)
    return;
  int fault = 0;
  uint64_t lat = tx_prefetch(t, &fault);
  if (fault)
    return; /* the ring itself cannot be read: the queue stalls, as hardware does */
  /* The frame: descriptors up to EOP. */
  uint32_t k = 0;
  while (k < t->cached && !(t->cache[k].cmd_type_len & NIC_TXD_CMD_EOP))
    k++;
  if (k == t->cached)
    return; /* no EOP posted yet: wait for more descriptors */
  k++;
  struct nic_fault over, nowb, early;
  int f_over = take_fault(n, NIC_FAULT_TX_OVERREAD, &over);
  int f_nowb = take_fault(n, NIC_FAULT_TX_NO_COMPLETION, &nowb);
  int f_early = take_fault(n, NIC_FAULT_TX_EARLY_COMPLETION, &early);
  if (!t->nlate && take_fault(n, NIC_FAULT_TX_LATE_READ, &t->late_fault)) {
    memcpy(t->late, t->cache, k * sizeof t->cache[0]);
    t->nlate = k;
    t->late_first = t->head;
    simk_event_notify(t->late_ev, t->late_fault.delay_ps);
  }
  int reported = 0;
  if (f_early) {
    /* The completion comes before the buffers are read: the driver may
     * free them while the device still needs them. */
    reported = tx_complete(t, k);
    if (n->host.tx_irq && reported) {
      t->st.irqs++;
      n->host.tx_irq(n->host.ctx, t->index);
    }
    effect(n, &early, UINT64_MAX, "wrote back the completion of a frame before reading its buffers");
  }
  static uint8_t frame[NIC_MAX_DESC_PER_FRAME * 16384 + 4096];
  uint32_t len = 0;
  int bad = 0;
  for (uint32_t i = 0; i < k; i++) {
    uint32_t dl = t->cache[i].cmd_type_len & NIC_TXD_LEN_MASK;
    if (len + dl > NIC_MAX_DESC_PER_FRAME * 16384)
      dl = NIC_MAX_DESC_PER_FRAME * 16384 - len;
    /* Each buffer is a DMA read: a read request and its completions. */
    if (!bad && dma(n, t->cache[i].buffer_addr, frame + len, dl, NULL, &lat))
      bad = 1;
    lat += read_latency_ps(n, dl);
    len += dl;
  }
  if (f_over && !bad) {
    /* On past the last buffer to the end of its page. */
    uint64_t end = t->cache[k - 1].buffer_addr + (t->cache[k - 1].cmd_type_len & NIC_TXD_LEN_MASK);
    uint32_t extra = (uint32_t)((4096u - (end & 4095u)) & 4095u);
    char text[160];
    if (extra && dma(n, end, frame + len, extra, NULL, &lat) == 0) {
      lat += read_latency_ps(n, extra);
      len += extra;
      snprintf(text, sizeof text, "read %u bytes past the frame's last buffer and sent them", extra);
    } else {
      snprintf(text, sizeof text, "the frame's last buffer ends its page: nothing read past it");
    }
    effect(n, &over, UINT64_MAX, text);
  }
  uint64_t now = simk_now_ps();
  uint64_t start = now + lat > n->tx_wire_free_ps ? now + lat : n->tx_wire_free_ps;
  if (bad) {
    t->st.dma_fault++;
  } else {
    n->tx_wire_free_ps = start + nic_wire_time_ps(n, len);
    t->st.tx_packets++;
    t->st.tx_bytes += len;
    t->st.last_tx_ps = n->tx_wire_free_ps;
    if (n->host.tx_frame)
      n->host.tx_frame(n->host.ctx, t->index, t->head, k, frame, len);
  }
  if (f_nowb)
    effect(n, &nowb, UINT64_MAX, "never wrote back the completion of a frame");
  else if (!f_early)
    reported = tx_complete(t, k);
  memmove(t->cache, t->cache + k, (t->cached - k) * sizeof t->cache[0]);
  t->cached -= k;
  t->head = (t->head + k) % t->size;
  t->st.desc_used += k;
  t->vcd_fill = nic_tx_ring_fill(n, t->index);
  if (reported && !f_early && n->host.tx_irq) {
    t->st.irqs++;
    n->host.tx_irq(n->host.ctx, t->index);
  }
  if (t->head != t->tail)
    simk_event_notify(t->ev, (bad ? start : n->tx_wire_free_ps) - now);
}

/* A late read: the device reads a sent frame's buffers again, by the IOVAs
 * it had (the IOMMU decides what they reach now), and sends what it got. */
static void tx_late_run(void *arg) {
  struct txq *t = arg;
  struct nic *n = t->nic;
  static uint8_t frame[NIC_MAX_DESC_PER_FRAME * 16384];
  uint32_t len = 0;
  uint64_t lat = 0;
  int bad = 0;
  for (uint32_t i = 0; i < t->nlate && !bad; i++) {
    uint32_t dl = t->late[i].cmd_type_len & NIC_TXD_LEN_MASK;
    if (len + dl > sizeof frame)
      dl = (uint32_t)sizeof frame - len;
    bad = dma(n, t->late[i].buffer_addr, frame + len, dl, NULL, &lat) != 0;
    len += dl;
  }
  char text[160];
  if (bad) {
    snprintf(text, sizeof text, "read a sent frame's buffers again at %.3f us: the IOMMU refused",
             (double)simk_now_ps() / 1e6);
  } else {
    snprintf(text, sizeof text, "read a sent frame's %u bytes again at %.3f us and sent them", len,
             (double)simk_now_ps() / 1e6);
    t->st.tx_packets++;
    t->st.tx_bytes += len;
    if (n->host.tx_frame)
      n->host.tx_frame(n->host.ctx, t->index, t->late_first, t->nlate, frame, len);
  }
  effect(n, &t->late_fault, UINT64_MAX, text);
  t->nlate = 0;
}

/* ---- MAC ---- */

uint64_t nic_wire_time_ps(const struct nic *n, uint32_t wire_len) {
  /* Preamble + SFD 8 B, FCS 4 B, inter-frame gap 12 B around the frame. */
  return (uint64_t)((double)(wire_len + 24) * 8.0 * 1000.0 / n->p.line_rate_gbps + 0.5);
}

uint64_t nic_mac_arrival_ps(struct nic *n, uint64_t ts_ps, uint32_t wire_len) {
  uint64_t dur = nic_wire_time_ps(n, wire_len);
  uint64_t start = ts_ps > n->mac_free_ps ? ts_ps : n->mac_free_ps;
  n->mac_free_ps = start + dur;
  /* The frame is in the NIC when its FCS has arrived, before the gap. */
  return start + dur - (uint64_t)(12.0 * 8.0 * 1000.0 / n->p.line_rate_gbps + 0.5);
}

int nic_vcd_register(struct nic *n, char *err, size_t errlen) {
  if (simk_vcd_add_u64("nic.buffer_bytes", &n->vcd_buffer, 32, err, errlen))
    return -1;
  for (unsigned i = 0; i < n->p.queues; i++) {
    char name[48];
    snprintf(name, sizeof name, "nic.q%u.ring_fill", i);
    if (simk_vcd_add_u64(name, &n->q[i].vcd_fill, 16, err, errlen))
      return -1;
    snprintf(name, sizeof name, "nic.q%u.ring_head", i);
    if (simk_vcd_add_u64(name, &n->q[i].vcd_head, 16, err, errlen))
      return -1;
    snprintf(name, sizeof name, "nic.q%u.ring_tail", i);
    if (simk_vcd_add_u64(name, &n->q[i].vcd_tail, 16, err, errlen))
      return -1;
    if (n->tq[i].size) {
      snprintf(name, sizeof name, "nic.q%u.tx_ring_fill", i);
      if (simk_vcd_add_u64(name, &n->tq[i].vcd_fill, 16, err, errlen))
        return -1;
    }
  }
  return 0;
}
