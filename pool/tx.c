/*
 * tx.c: the host TX path. See tx.h.
 */
#include "tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma.h"
#include "driver.h"
#include "simk.h"

static const struct mem_accessor kcpu = {.actor = MEM_ACTOR_KERNEL, .id = 0};

/* One frame in the ring, kept at its first descriptor (ixgbe's tx_buffer
 * with next_to_watch). */
struct frame_info {
  int used;
  uint32_t ndesc;
  unsigned principal;
  uint64_t packet;
  uint32_t slot;           /* the sender's buffer */
  int slot_out;            /* the buffer is still the kernel's (not given back to the sender) */
  uint64_t pfn[TX_BUF_PAGES], iova[TX_BUF_PAGES];
  uint32_t len[TX_BUF_PAGES];
  int kernel_pages;        /* copy: the pages are the kernel's own */
  int mapped;              /* mapped for this frame (unmapped at the clean) */
  int released;            /* let go before its completion */
  uint32_t validated;      /* header bytes the kernel checked, at the start of pfn[0] */
  int protected_ro;        /* the sender's pages were made read-only for the flight */
};

struct txq {
  uint32_t size, ntu, ntc;
  uint64_t ring_pfn, ring_iova;
  uint32_t ring_pages;
  uint64_t wb_pfn, wb_iova;  /* head write-back word */
  struct frame_info *fi;
  uint8_t *sender_of;        /* per descriptor */
  uint64_t *packet_of;
  struct tx_queue_stats st;
};

struct sbuf {
  uint64_t pfn[TX_BUF_PAGES], iova[TX_BUF_PAGES];
};

struct sender {
  int ready;       /* 1: set up; -1: setting up failed (no memory), every send is refused */
  struct sbuf *bufs;
  uint32_t *free_stack, nfree;
  int write_armed;
  uint32_t write_len;
  void *write_tag;
};

struct tx {
  struct tx_params p;
  struct mem *m;
  struct iommu *io;
  struct nic *nic;
  struct cpu *cpu;
  struct txq q[NIC_MAX_QUEUES];
  struct sender snd[MEM_MAX_PRINCIPALS];
  uint64_t *kreuse;
  uint32_t nkreuse, kreuse_first;
  struct tx_stats st;
  tx_effect_fn effect;
  void *effect_ctx;
};

static void charge(struct tx *t, enum cpu_bucket b, uint64_t cycles) {
  cpu_charge(t->cpu, b, cycles);
  t->st.cycles += cycles;
}

static uint64_t page_pa(uint64_t pfn) { return pfn << MEM_PAGE_SHIFT; }

/* The sender's buffers are DMA-mapped once, not per send: an AF_XDP UMEM,
 * a TX page_pool. */
static int premapped(const struct tx *t) { return t->p.mode == TX_MODE_AF_XDP || t->p.mode == TX_MODE_PAGE_POOL; }

static uint64_t desc_pa(const struct txq *q, uint32_t i) { return page_pa(q->ring_pfn) + (uint64_t)i * NIC_DESC_BYTES; }

struct tx *tx_new(const struct tx_params *p, struct mem *m, struct iommu *io, struct nic *nic, struct cpu *cpu,
                  char *err, size_t errlen) {
  if (p->queues == 0 || p->queues > NIC_MAX_QUEUES || p->ring_size < 8 || (p->ring_size & (p->ring_size - 1)) ||
      p->buffers == 0 || p->nprincipals == 0 || p->nprincipals > MEM_MAX_PRINCIPALS || p->mode > TX_MODE_PAGE_POOL) {
    snprintf(err, errlen, "tx: impossible parameters");
    return NULL;
  }
  struct tx *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  t->p = *p;
  t->m = m;
  t->io = io;
  t->nic = nic;
  t->cpu = cpu;
  if (p->kernel_reuse_pages && !(t->kreuse = calloc(p->kernel_reuse_pages, sizeof *t->kreuse)))
    goto oom;
  for (unsigned i = 0; i < p->queues; i++) {
    struct txq *q = &t->q[i];
    q->size = p->ring_size;
    q->fi = calloc(q->size, sizeof *q->fi);
    q->sender_of = calloc(q->size, 1);
    q->packet_of = calloc(q->size, sizeof *q->packet_of);
    if (!q->fi || !q->sender_of || !q->packet_of)
      goto oom;
    /* The ring in coherent DMA memory (dma_alloc_coherent in
     * ixgbe_setup_tx_resources), granted to the device whole. */
    uint64_t ring_bytes = (uint64_t)q->size * NIC_DESC_BYTES;
    q->ring_pages = (uint32_t)((ring_bytes + MEM_PAGE_SIZE - 1) / MEM_PAGE_SIZE);
    if (mem_page_alloc_contig(m, q->ring_pages, &q->ring_pfn) ||
        dma_map_contig(io, m, p->rid, q->ring_pfn, q->ring_pages, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0,
                       &q->ring_iova) < 0) {
      snprintf(err, errlen, "tx: no memory or IOVA space for TX ring %u", i);
      tx_free(t);
      return NULL;
    }
    mem_fill(m, kcpu, page_pa(q->ring_pfn), 0, ring_bytes, NULL);
    mem_mark_add(m, MEM_MARK_GRANT, p->rid, page_pa(q->ring_pfn), ring_bytes);
    nic_tx_ring_setup(nic, i, q->ring_iova, q->size);
    if (p->head_writeback) {
      if (mem_page_alloc(m, &q->wb_pfn) ||
          dma_map_page(io, m, p->rid, q->wb_pfn, IOMMU_PERM_READ | IOMMU_PERM_WRITE, 0, &q->wb_iova) < 0) {
        snprintf(err, errlen, "tx: no memory for the head write-back of queue %u", i);
        tx_free(t);
        return NULL;
      }
      mem_fill(m, kcpu, page_pa(q->wb_pfn), 0, 4, NULL);
      mem_mark_add(m, MEM_MARK_GRANT, p->rid, page_pa(q->wb_pfn), 4);
      nic_tx_head_wb(nic, i, q->wb_iova);
    }
  }
  return t;
oom:
  tx_free(t);
  snprintf(err, errlen, "out of memory");
  return NULL;
}

void tx_free(struct tx *t) {
  if (!t)
    return;
  for (unsigned i = 0; i < NIC_MAX_QUEUES; i++) {
    free(t->q[i].fi);
    free(t->q[i].sender_of);
    free(t->q[i].packet_of);
  }
  for (unsigned i = 0; i < MEM_MAX_PRINCIPALS; i++) {
    free(t->snd[i].bufs);
    free(t->snd[i].free_stack);
  }
  free(t->kreuse);
  free(t);
}

void tx_set_effect_cb(struct tx *t, tx_effect_fn fn, void *ctx) {
  t->effect = fn;
  t->effect_ctx = ctx;
}

const struct tx_stats *tx_stats(const struct tx *t) { return &t->st; }
const struct tx_queue_stats *tx_queue_stats(const struct tx *t, unsigned queue) {
  return queue < t->p.queues ? &t->q[queue].st : NULL;
}

int tx_sender(const struct tx *t, unsigned queue, uint32_t desc, unsigned *principal, uint64_t *packet) {
  if (queue >= t->p.queues || desc >= t->q[queue].size)
    return -1;
  *principal = t->q[queue].sender_of[desc];
  *packet = t->q[queue].packet_of[desc];
  return 0;
}

int tx_arm_user_write(struct tx *t, unsigned principal, uint32_t len, void *tag) {
  if (principal >= t->p.nprincipals)
    return -1;
  t->snd[principal].write_armed = 1;
  t->snd[principal].write_len = len;
  t->snd[principal].write_tag = tag;
  return 0;
}

/* The sender's buffers: pages zero-filled, mapped read-write into it; an
 * AF_XDP UMEM (the sender's anonymous pages) is also pinned and DMA-mapped
 * once, at registration (xdp_umem_reg, xp_dma_map); a TX page_pool's pages
 * are the kernel's (nothing to pin), DMA-mapped once as the pool fills
 * (page_pool_dma_map, net/core/page_pool.c) and kept mapped into the sender. */
static int sender_setup(struct tx *t, unsigned principal) {
  struct sender *s = &t->snd[principal];
  if (s->ready)
    return s->ready > 0 ? 0 : -1;
  s->ready = -1;
  s->bufs = calloc(t->p.buffers, sizeof *s->bufs);
  s->free_stack = calloc(t->p.buffers, sizeof *s->free_stack);
  if (!s->bufs || !s->free_stack)
    return -1;
  for (uint32_t b = 0; b < t->p.buffers; b++) {
    for (uint32_t i = 0; i < TX_BUF_PAGES; i++) {
      uint64_t pfn;
      if (mem_page_alloc(t->m, &pfn))
        return -1;
      mem_fill(t->m, kcpu, page_pa(pfn), 0, MEM_PAGE_SIZE, NULL);
      mem_page_map(t->m, pfn, principal, MEM_MAP_RW);
      s->bufs[b].pfn[i] = pfn;
      if (premapped(t)) {
        if (dma_map_page(t->io, t->m, t->p.rid, pfn, IOMMU_PERM_READ, simk_now_ps(), &s->bufs[b].iova[i]) < 0)
          return -1;
        t->st.pins += t->p.mode == TX_MODE_AF_XDP;
        t->st.dma_maps++;
      }
    }
    s->free_stack[s->nfree++] = t->p.buffers - 1 - b;
  }
  s->ready = 1;
  return 0;
}

/* Write the frame's bytes into pages pfn[] (each piece a page from offset
 * 0), labelled as the device labels a received frame: headers, payload,
 * and zeros for the bytes the capture did not keep. */
static int write_frame(struct tx *t, struct mem_accessor who, const uint64_t *pfn, const struct tx_frame *f,
                       uint32_t len) {
  static const uint8_t zeros[MEM_PAGE_SIZE];
  uint32_t pos = 0;
  while (pos < len) {
    struct mem_prov pv = {.flow = f->flow, .packet = f->index};
    uint32_t seg_end;
    const uint8_t *src;
    if (pos < f->hdr_len && pos < f->caplen) {
      pv.kind = MEM_LABEL_PKT_HEADER;
      seg_end = f->hdr_len < f->caplen ? f->hdr_len : f->caplen;
      src = f->data + pos;
    } else if (pos < f->caplen) {
      pv.kind = MEM_LABEL_PKT_PAYLOAD;
      seg_end = f->caplen;
      src = f->data + pos;
    } else {
      pv.kind = MEM_LABEL_PKT_UNKNOWN;
      seg_end = len;
      src = zeros;
    }
    uint32_t page_end = (pos / MEM_PAGE_SIZE + 1) * MEM_PAGE_SIZE;
    if (seg_end > page_end)
      seg_end = page_end;
    if (seg_end > len)
      seg_end = len;
    int rc = mem_write(t->m, who, page_pa(pfn[pos / MEM_PAGE_SIZE]) + pos % MEM_PAGE_SIZE, src, seg_end - pos, &pv);
    if (rc)
      return rc;
    pos = seg_end;
  }
  return 0;
}

/* The sender writes over its buffer while the device may still read it:
 * the fault user_write, or a sender that reuses its buffer without waiting
 * for the completion. Its mapping decides whether the write happens. */
static void sender_write(struct tx *t, unsigned principal, const struct frame_info *fi, uint32_t len,
                         uint64_t packet, void *tag) {
  const char *where = fi->kernel_pages ? "its send buffer (the kernel had copied the frame out)"
                                       : "its buffer in flight";
  static uint8_t junk[TX_BUF_PAGES * MEM_PAGE_SIZE];
  memset(junk, 0xa5, sizeof junk);
  struct mem_accessor who = {.actor = MEM_ACTOR_USER, .id = (uint16_t)principal};
  struct mem_prov up = {.kind = MEM_LABEL_USER, .principal = (uint8_t)principal, .packet = packet};
  uint32_t done = 0;
  int rc = 0;
  for (uint32_t i = 0; i < TX_BUF_PAGES && done < len && fi->len[i] && !rc; i++) {
    uint32_t n = len - done < fi->len[i] ? len - done : fi->len[i];
    rc = mem_write(t->m, who, page_pa(fi->pfn[i]), junk, n, &up);
    if (!rc)
      done += n;
  }
  t->st.user_writes++;
  char name[48], text[240];
  if (t->p.names)
    snprintf(name, sizeof name, "%s", t->p.names[principal]);
  else
    snprintf(name, sizeof name, "principal %u", principal);
  if (rc) {
    t->st.user_write_faults++;
    snprintf(text, sizeof text, "%s's write into %s (packet %llu) was refused: "
             "the page is read-only to it", name, where, (unsigned long long)packet);
  } else {
    snprintf(text, sizeof text, "%s wrote %u bytes into %s while packet %llu was sent",
             name, done, where, (unsigned long long)packet);
  }
  if (tag && t->effect)
    t->effect(t->effect_ctx, tag, packet, text);
}

/* A freed kernel page: the kernel's next allocation lands in it at once (it
 * keeps kernel_reuse_pages of them before they go back to the allocator). */
static void kernel_free_page(struct tx *t, uint64_t pfn, int reuse) {
  if (!reuse || !t->kreuse) {
    mem_page_free(t->m, pfn);
    return;
  }
  driver_kernel_reuse(t->m, pfn);
  if (t->nkreuse == t->p.kernel_reuse_pages) {
    mem_mark_remove(t->m, MEM_MARK_LIVE, 0, t->kreuse[t->kreuse_first] << MEM_PAGE_SHIFT, MEM_PAGE_SIZE);
    mem_page_free(t->m, t->kreuse[t->kreuse_first]);
    t->kreuse[t->kreuse_first] = pfn;
    t->kreuse_first = (t->kreuse_first + 1) % t->p.kernel_reuse_pages;
  } else {
    t->kreuse[(t->kreuse_first + t->nkreuse++) % t->p.kernel_reuse_pages] = pfn;
  }
}

/* page_pool: the frame's pages go back into the sender's pool, their DMA
 * mapping kept (page_pool_put_page; the fast path: a direct recycle into
 * the pool's cache); a write protection for the flight ends, the pages are
 * the sender's to fill again. */
static void pool_recycle(struct tx *t, struct frame_info *fi) {
  for (uint32_t i = 0; i < fi->ndesc; i++) {
    if (fi->protected_ro)
      mem_page_map(t->m, fi->pfn[i], fi->principal, MEM_MAP_RW);
    charge(t, CPU_OTHER, t->cpu->costs.pool_recycle);
  }
  fi->protected_ro = 0;
}

static void give_back(struct tx *t, struct frame_info *fi) {
  if (!fi->slot_out)
    return;
  struct sender *s = &t->snd[fi->principal];
  s->free_stack[s->nfree++] = fi->slot;
  fi->slot_out = 0;
}

/* Let a frame's buffer go before its completion (tx.wait_completion off). */
static void release_early(struct tx *t, struct frame_info *fi) {
  t->st.early_releases++;
  fi->released = 1;
  if (fi->kernel_pages) {
    /* The skb is freed while its descriptor is still posted: its pages go
     * back and are reused; the DMA mapping stays with the descriptor and is
     * undone at the clean. */
    for (uint32_t i = 0; i < TX_BUF_PAGES && fi->len[i]; i++)
      kernel_free_page(t, fi->pfn[i], 1);
    return;
  }
  /* The sender does not wait for the notification (or the pool recycles
   * the pages before the completion): it takes its buffer back and writes
   * its next message into it. */
  if (t->p.mode == TX_MODE_PAGE_POOL)
    pool_recycle(t, fi);
  give_back(t, fi);
  uint32_t len = 0;
  for (uint32_t i = 0; i < TX_BUF_PAGES; i++)
    len += fi->len[i];
  sender_write(t, fi->principal, fi, len, fi->packet, NULL);
}

int tx_send(struct tx *t, unsigned principal, unsigned queue, const struct tx_frame *f) {
  if (queue >= t->p.queues || principal >= t->p.nprincipals)
    return -1;
  struct txq *q = &t->q[queue];
  t->st.sends++;
  uint64_t before = t->st.cycles;
  uint32_t len = f->wire_len > f->caplen ? f->wire_len : f->caplen;
  if (len > TX_BUF_PAGES * MEM_PAGE_SIZE)
    len = TX_BUF_PAGES * MEM_PAGE_SIZE;
  if (len == 0)
    return -1;
  uint32_t npieces = (len + MEM_PAGE_SIZE - 1) / MEM_PAGE_SIZE;
  uint32_t unused = (q->ntc + q->size - q->ntu - 1) % q->size;
  if (unused < npieces) {
    q->st.ring_full++; /* ixgbe_maybe_stop_tx: NETDEV_TX_BUSY */
    return -1;
  }
  struct sender *s = &t->snd[principal];
  if (sender_setup(t, principal) || s->nfree == 0) {
    t->st.no_buffer++;
    return -1;
  }
  uint32_t slot = s->free_stack[--s->nfree];
  struct sbuf *b = &s->bufs[slot];
  struct mem_accessor user = {.actor = MEM_ACTOR_USER, .id = (uint16_t)principal};
  write_frame(t, user, b->pfn, f, len);

  struct frame_info fi = {.used = 1, .ndesc = npieces, .principal = principal, .packet = f->index,
                          .slot = slot, .slot_out = 1};
  for (uint32_t i = 0; i < npieces; i++)
    fi.len[i] = len - i * MEM_PAGE_SIZE < MEM_PAGE_SIZE ? len - i * MEM_PAGE_SIZE : MEM_PAGE_SIZE;
  uint64_t now = simk_now_ps();
  charge(t, CPU_SKB, t->cpu->costs.skb_alloc);
  switch (t->p.mode) {
  case TX_MODE_COPY:
    /* Kernel pages, the bytes copied in; the sender's buffer is free again
     * when send returns. */
    for (uint32_t i = 0; i < npieces; i++) {
      if (mem_page_alloc(t->m, &fi.pfn[i])) {
        for (uint32_t j = 0; j < i; j++)
          mem_page_free(t->m, fi.pfn[j]);
        give_back(t, &fi);
        t->st.no_buffer++;
        return -1;
      }
      charge(t, CPU_OTHER, t->cpu->costs.page_alloc);
      mem_copy(t->m, kcpu, page_pa(fi.pfn[i]), page_pa(b->pfn[i]), fi.len[i]);
      charge(t, CPU_COPY, cpu_copy_cycles(&t->cpu->costs, fi.len[i]));
    }
    t->st.copies++;
    t->st.copy_bytes += len;
    fi.kernel_pages = 1;
    give_back(t, &fi);
    break;
  case TX_MODE_ZEROCOPY:
    for (uint32_t i = 0; i < npieces; i++)
      fi.pfn[i] = b->pfn[i];
    t->st.pins += npieces;
    charge(t, CPU_MAP, (uint64_t)t->cpu->costs.pin_page * npieces);
    break;
  case TX_MODE_PAGE_POOL:
    /* Pages from the socket's pool (page_pool_alloc_pages' cache), mapped
     * since the pool filled: no get_user_pages, no dma_map_page. */
    charge(t, CPU_OTHER, (uint64_t)t->cpu->costs.pool_alloc * npieces);
    /* fall through */
  default: /* AF_XDP: the UMEM is pinned and mapped since registration */
    for (uint32_t i = 0; i < npieces; i++) {
      fi.pfn[i] = b->pfn[i];
      fi.iova[i] = b->iova[i];
    }
    break;
  }
  /* netfilter's checks of the headers where the device will read them
   * (nf_hook_slow from ip_output/ip6_output); AF_XDP bypasses the stack. */
  if (t->p.mode != TX_MODE_AF_XDP) {
    fi.validated = f->hdr_len < fi.len[0] ? f->hdr_len : fi.len[0];
    if (fi.validated)
      mem_mark_add(t->m, MEM_MARK_VALIDATED, 0, page_pa(fi.pfn[0]), fi.validated);
    charge(t, CPU_OTHER, t->cpu->costs.validate);
    t->st.validated++;
  }
  if (t->p.protect_inflight && !fi.kernel_pages) {
    for (uint32_t i = 0; i < npieces; i++)
      mem_page_map(t->m, fi.pfn[i], principal, MEM_MAP_RO);
    charge(t, CPU_MAP, (uint64_t)t->cpu->costs.user_unmap * npieces);
    fi.protected_ro = 1;
  }
  if (!premapped(t)) {
    for (uint32_t i = 0; i < npieces; i++) {
      int64_t c = dma_map_page(t->io, t->m, t->p.rid, fi.pfn[i], IOMMU_PERM_READ, now, &fi.iova[i]);
      if (c < 0) {
        /* dma_mapping_error: the frame is dropped (ixgbe_tx_map's dma_error). */
        for (uint32_t j = 0; j < i; j++)
          dma_unmap_page(t->io, t->m, t->p.rid, fi.iova[j], fi.pfn[j], now);
        if (fi.validated)
          mem_mark_remove(t->m, MEM_MARK_VALIDATED, 0, page_pa(fi.pfn[0]), fi.validated);
        for (uint32_t j = 0; fi.kernel_pages && j < npieces; j++)
          mem_page_free(t->m, fi.pfn[j]);
        give_back(t, &fi);
        t->st.no_buffer++;
        return -1;
      }
      charge(t, CPU_IOMMU, (uint64_t)c);
      t->st.dma_maps++;
    }
    fi.mapped = 1;
  }
  /* The descriptors: one per piece, EOP and RS on the last (ixgbe_tx_map). */
  uint32_t first = q->ntu;
  for (uint32_t i = 0; i < npieces; i++) {
    /* For the device to read only (the frame is DMA_TO_DEVICE): a write
     * there is outside what it was given. */
    mem_mark_add(t->m, MEM_MARK_GRANT_READ, t->p.rid, page_pa(fi.pfn[i]), fi.len[i]);
    struct nic_tx_desc_read d = {.buffer_addr = fi.iova[i],
                                 .cmd_type_len = fi.len[i] | NIC_TXD_DTYP_DATA |
                                                 (i + 1 == npieces ? NIC_TXD_CMD_EOP | NIC_TXD_CMD_RS : 0),
                                 .olinfo_status = len << 14};
    struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = f->index};
    mem_write(t->m, kcpu, desc_pa(q, q->ntu), &d, sizeof d, &pd);
    q->sender_of[q->ntu] = (uint8_t)principal;
    q->packet_of[q->ntu] = f->index;
    charge(t, CPU_OTHER, t->cpu->costs.tx_desc);
    q->ntu = (q->ntu + 1) % q->size;
  }
  q->fi[first] = fi;
  q->st.posted++;
  q->st.posted_bytes += len;
  /* After the checks, before the device reads: the sender's own writes. */
  if (s->write_armed) {
    s->write_armed = 0;
    if (fi.kernel_pages)
      sender_write(t, principal, &(struct frame_info){.pfn = {b->pfn[0]}, .len = {fi.len[0]}, .kernel_pages = 1},
                   s->write_len, f->index, s->write_tag);
    else
      sender_write(t, principal, &q->fi[first], s->write_len, f->index, s->write_tag);
  }
  if (!t->p.wait_completion)
    release_early(t, &q->fi[first]);
  nic_tx_tail_write(t->nic, queue, q->ntu);
  cpu_core_run(t->cpu, cpu_core_of_queue(t->cpu, queue), now, t->st.cycles - before);
  return 0;
}

/* Has the device completed the frame whose last descriptor is eop? */
static int frame_done(struct tx *t, struct txq *q, uint32_t first, uint32_t eop, uint32_t hw_head) {
  if (t->p.head_writeback) {
    /* Done when the written-back head has moved past eop. */
    uint32_t dist_head = (hw_head + q->size - first) % q->size;
    uint32_t dist_eop = (eop + q->size - first) % q->size;
    return dist_head > dist_eop;
  }
  struct nic_tx_desc_wb wb;
  mem_read(t->m, kcpu, desc_pa(q, eop), &wb, sizeof wb);
  return (wb.status & NIC_TXD_STAT_DD) != 0;
}

void tx_irq(struct tx *t, unsigned queue) {
  if (queue >= t->p.queues)
    return;
  struct txq *q = &t->q[queue];
  q->st.irqs++;
  uint64_t before = t->st.cycles, now = simk_now_ps();
  uint32_t hw_head = 0;
  if (t->p.head_writeback)
    mem_read(t->m, kcpu, page_pa(q->wb_pfn), &hw_head, sizeof hw_head);
  /* ixgbe_clean_tx_irq: in order, up to the first frame not yet done. */
  while (q->ntc != q->ntu) {
    struct frame_info *fi = &q->fi[q->ntc];
    if (!fi->used)
      break;
    uint32_t eop = (q->ntc + fi->ndesc - 1) % q->size;
    if (!frame_done(t, q, q->ntc, eop, hw_head))
      break;
    for (uint32_t i = 0; i < fi->ndesc; i++) {
      mem_mark_remove(t->m, MEM_MARK_GRANT_READ, t->p.rid, page_pa(fi->pfn[i]), fi->len[i]);
      if (fi->mapped) {
        int64_t c = dma_unmap_page(t->io, t->m, t->p.rid, fi->iova[i], fi->pfn[i], now);
        if (c > 0)
          charge(t, CPU_IOMMU, (uint64_t)c);
        t->st.dma_unmaps++;
      }
      if (fi->protected_ro && t->p.mode != TX_MODE_PAGE_POOL)
        mem_page_map(t->m, fi->pfn[i], fi->principal, MEM_MAP_RW);
      if (fi->kernel_pages && !fi->released)
        kernel_free_page(t, fi->pfn[i], 0); /* napi_consume_skb */
    }
    if (fi->validated)
      mem_mark_remove(t->m, MEM_MARK_VALIDATED, 0, page_pa(fi->pfn[0]), fi->validated);
    if (t->p.mode == TX_MODE_PAGE_POOL) {
      /* Recycled at the completion, unless already recycled early. */
      if (!fi->released)
        pool_recycle(t, fi);
      give_back(t, fi);
    } else if (!fi->kernel_pages) {
      /* The sender learns its buffer is free: the error queue
       * (MSG_ZEROCOPY) or the completion ring (AF_XDP). */
      t->st.notifications++;
      charge(t, CPU_OTHER, t->cpu->costs.zc_notify);
      give_back(t, fi);
    }
    charge(t, CPU_OTHER, (uint64_t)t->cpu->costs.tx_clean * fi->ndesc);
    q->st.completed++;
    fi->used = 0;
    q->ntc = (eop + 1) % q->size;
  }
  cpu_core_run(t->cpu, cpu_core_of_queue(t->cpu, queue), now, t->st.cycles - before);
}
