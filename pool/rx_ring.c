/*
 * rx_ring.c: the RX descriptor ring and NAPI. See rx_ring.h.
 *
 * Models drivers/net/ethernet/intel/ixgbe/ixgbe_main.c: ixgbe_alloc_rx_buffers
 * (refill: a buffer per descriptor from the page_pool, its address written in
 * the device's read format, the tail bumped once), ixgbe_clean_rx_irq (the
 * poll loop: descriptors with DD, frames chained up to EOP, at most the NAPI
 * budget), ixgbe_is_non_eop, ixgbe_poll / napi_complete_done (re-enable the
 * interrupt, or poll again when the budget was used up),
 * ixgbe_setup_rx_resources (the ring in coherent DMA memory) and the
 * legacy packet-split header buffers; buffers go back through
 * page_pool_put_page (net/core/page_pool.c) or, in the legacy mode, to the
 * page allocator. Descriptors are read and written only through the
 * device's descriptor ops (rx_desc.h).
 */
#include "rx_ring.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma.h"
#include "rx_xdp.h"
#include "simk.h"
#include "skb.h"
#include "sock.h"
#include "umem.h"
#include "user.h"

static uint64_t desc_paddr(const struct rxq *q, uint32_t i) {
  return (q->ring_pfn << MEM_PAGE_SHIFT) + (uint64_t)i * q->d->desc->desc_bytes;
}

/* Header buffer of descriptor slot i (fixed per slot, as ixgbe's legacy
 * packet split): its physical address and IOVA. */
static uint64_t hdr_paddr(const struct rxq *q, uint32_t i) {
  uint32_t sz = q->d->p.hdr_buffer_size;
  return (q->hdr_pfns[i / q->hdr_per_page] << MEM_PAGE_SHIFT) + (uint64_t)(i % q->hdr_per_page) * sz;
}
static uint64_t hdr_iova(const struct rxq *q, uint32_t i) {
  uint32_t sz = q->d->p.hdr_buffer_size;
  return q->hdr_iovas[i / q->hdr_per_page] + (uint64_t)(i % q->hdr_per_page) * sz;
}

/* A buffer from the queue's page_pool (a page or a fragment), or (legacy) a
 * fresh page, DMA-mapped for it when the design maps per packet: *nb and
 * its page IOVA *iova. 0, or -1 when there is none. */
static int pool_buf_alloc(struct rxq *q, struct buf *nb, uint64_t *iova_out) {
  struct driver *d = q->d;
  uint64_t pfn, iova = 0;
  if (d->p.pool_frag) {
    uint32_t off;
    if (page_pool_alloc_frag(q->pool, d->frag_size, &pfn, &off, &iova))
      return -1;
    nb->base = off;
    nb->truesize = d->frag_size;
  } else if (d->p.free_pages) {
    /* A legacy driver: a fresh page from the page allocator for each buffer. */
    if (mem_page_alloc(d->m, &pfn))
      return -1;
    cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.page_alloc);
  } else if (page_pool_alloc(q->pool, &pfn, &iova)) {
    return -1;
  }
  if (d->p.dma_per_packet) {
    int64_t c = dma_map_page(d->io, d->m, d->p.rid, pfn, IOMMU_PERM_READ | IOMMU_PERM_WRITE, simk_now_ps(),
                             &iova);
    if (c < 0) {
      if (d->p.free_pages)
        mem_page_free(d->m, pfn);
      else
        page_pool_put_page(q->pool, pfn, 1); /* the refill runs in the queue's NAPI poll */
      return -1;
    }
    cpu_charge(d->cpu, CPU_IOMMU, (uint64_t)c);
  }
  nb->pfn = pfn;
  *iova_out = iova;
  return 0;
}

/* Post one buffer at ntu. 0, or -1 when the pool is empty. */
static int refill_one(struct rxq *q) {
  struct driver *d = q->d;
  uint64_t iova = 0;
  struct buf nb = {.truesize = MEM_PAGE_SIZE, .headroom = (uint16_t)d->headroom, .src = BUF_POOL};
  if (q->xsk) {
    /* The device writes straight into the application's memory, mapped
     * once for the device when the region was registered. */
    if (umem_buf_alloc(d, &nb, &iova))
      return -1;
  } else if (pool_buf_alloc(q, &nb, &iova)) {
    return -1;
  }
  struct rx_buf *b = &q->bufs[q->ntu];
  b->b = nb;
  b->iova = iova;
  b->posted = 1;
  uint8_t rd[RX_DESC_MAX_BYTES];
  d->desc->post(rd, b->iova + b->b.base + b->b.headroom, q->hdr_pfns ? hdr_iova(q, q->ntu) : 0);
  struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  /* The descriptor grants the device its buffer (and header buffer). */
  mem_mark_add(d->m, MEM_MARK_GRANT, d->p.rid, buf_data(&b->b), d->p.buffer_size);
  if (q->hdr_pfns)
    mem_mark_add(d->m, MEM_MARK_GRANT, d->p.rid, hdr_paddr(q, q->ntu), d->p.hdr_buffer_size);
  mem_write(d->m, kcpu, desc_paddr(q, q->ntu), rd, d->desc->desc_bytes, &pd);
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.rx_desc);
  q->ntu = (q->ntu + 1) % d->p.ring_size;
  return 0;
}

/* Keep one descriptor unused so that head == tail means "empty". */
void rx_ring_refill(struct rxq *q) {
  struct driver *d = q->d;
  uint32_t posted = 0;
  while ((q->ntu + 1) % d->p.ring_size != q->ntc) {
    if (refill_one(q)) {
      d->st.refill_failed++;
      break;
    }
    posted++;
  }
  if (posted)
    nic_rx_tail_write(d->nic, q->index, q->ntu);
}

/* Pages came back while the ring may be short of buffers: a driver refills
 * in its NAPI poll, so make sure one runs (as a driver reschedules NAPI when
 * an allocation failed). */
void rx_ring_kick(struct rxq *q) {
  uint32_t posted = (q->ntu + q->d->p.ring_size - q->ntc) % q->d->p.ring_size;
  if (posted + 1 >= q->d->p.ring_size)
    return; /* full */
  if (!simk_event_pending(q->napi_ev) && !simk_event_pending(q->end_ev))
    simk_event_notify(q->napi_ev, 0);
}

void driver_kernel_reuse(struct mem *m, uint64_t pfn) {
  mem_page_new_epoch(m, pfn);
  static uint8_t objs[MEM_PAGE_SIZE];
  for (uint32_t off = 0; off < MEM_PAGE_SIZE; off += 8) {
    uint64_t v = 0xffff888200000000ull | (pfn << 12) | off;
    memcpy(objs + off, &v, 8);
  }
  struct mem_prov km = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  mem_write(m, kcpu, pfn << MEM_PAGE_SHIFT, objs, MEM_PAGE_SIZE, &km);
  /* The objects are in use while the kernel keeps the page. */
  mem_mark_add(m, MEM_MARK_LIVE, 0, pfn << MEM_PAGE_SHIFT, MEM_PAGE_SIZE);
}

/* A page the stack is done with: back to its pool, or (legacy) freed, and
 * then taken by the kernel for its own data for a while, as freed pages are
 * reused at once by the allocator's hot lists. */
static void recycle(struct driver *d, unsigned queue, uint64_t pfn, int napi) {
  if (!d->p.free_pages) {
    page_pool_put_page(d->q[queue].pool, pfn, napi);
    return;
  }
  d->st.pages_freed++;
  if (!d->kreuse || d->p.kernel_reuse_pages == 0) {
    mem_page_free(d->m, pfn);
    return;
  }
  driver_kernel_reuse(d->m, pfn);
  if (d->nkreuse == d->p.kernel_reuse_pages) {
    mem_mark_remove(d->m, MEM_MARK_LIVE, 0, d->kreuse[d->kreuse_first] << MEM_PAGE_SHIFT, MEM_PAGE_SIZE);
    mem_page_free(d->m, d->kreuse[d->kreuse_first]);
    d->kreuse[d->kreuse_first] = pfn;
    d->kreuse_first = (d->kreuse_first + 1) % d->p.kernel_reuse_pages;
  } else {
    d->kreuse[(d->kreuse_first + d->nkreuse++) % d->p.kernel_reuse_pages] = pfn;
  }
}

/* A buffer the driver or the stack is done with. A page_pool buffer drops
 * its page reference; a chunk of the application's region goes to the fill
 * ring when the application gives it back (REL_APP), else to the driver's
 * free list (xsk_buff_free, net/xdp/xsk_buff_pool.c: reused before the fill
 * ring). */
void rx_buf_release(struct driver *d, unsigned queue, const struct buf *b, enum rel_ctx ctx) {
  if (b->src != BUF_UMEM) {
    recycle(d, queue, b->pfn, ctx == REL_NAPI);
    return;
  }
  umem_buf_free(d, b, ctx == REL_APP);
}

void rx_frame_release(struct driver *d, struct rxq *q) {
  for (uint32_t i = 0; i < q->nfrags; i++)
    rx_buf_release(d, q->index, &q->frags[i].b, REL_NAPI);
}

/* A whole frame (all its descriptors up to EOP) has been received. */
static void rx_frame(struct rxq *q) {
  struct driver *d = q->d;
  uint32_t total = q->split ? q->hdr_len : 0;
  for (uint32_t i = 0; i < q->nfrags; i++)
    total += q->frags[i].len;
  d->st.rx_processed++;
  if (q->split)
    d->st.split_frames++;
  if (q->nfrags > 1)
    d->st.multi_buffer_frames++;
  if (q->xsk)
    for (uint32_t i = 0; i < q->nfrags; i++)
      if (q->frags[i].b.src == BUF_UMEM)
        umem_account(d, &q->frags[i]);

  /* The stack (or XDP) parses the headers: from the header buffer when the
   * device split them off, else from the first packet buffer. */
  uint64_t hdr_pa = q->split ? hdr_paddr(q, q->hdr_slot) : frag_paddr(&q->frags[0]);
  uint32_t first_len = q->split ? q->hdr_len : q->frags[0].len;
  uint8_t hdr[HDR_READ_MAX];
  uint32_t hl = first_len < HDR_READ_MAX ? first_len : HDR_READ_MAX;
  mem_read(d->m, kcpu, hdr_pa, hdr, hl);
  struct driver_pkt pk = {.to_kernel = 1};
  if (!d->cls.classify || d->cls.classify(d->cls.ctx, hdr, hl, &pk))
    pk.to_kernel = 1;
  if (q->split)
    pk.hdr_len = q->hdr_len;
  if (pk.hdr_len > total)
    pk.hdr_len = total;
  int for_app = !pk.to_kernel && pk.owner == d->p.app && d->p.app < d->nusers && d->users[d->p.app];
  /* The frame's owner gets this queue's buffers zero-copy. */
  int to_zc = q->xsk ? for_app
                     : !pk.to_kernel && pk.owner < 64 && (q->zc_users >> pk.owner & 1) && pk.owner < d->nusers &&
                           d->users[pk.owner];

  if (q->xsk && d->p.xsk_mode == DRIVER_XSK_ZCRX) {
    if (for_app && q->split) {
      /* devmem TCP / io_uring zcrx: the stack builds the skb over the
       * header buffer (kernel memory), validates it there, and the payload
       * frags (net_iovs in the application's area) are handed to the
       * application in place: no copy, and no header in its pages. */
      uint64_t shinfo;
      uint64_t skb_data = skb_build(d, hdr_pa, &q->frags[0], q->hdr_len, 1, &shinfo);
      cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.validate + d->cpu->costs.sock_deliver);
      mem_read(d->m, kcpu, skb_data, NULL, pk.hdr_len ? pk.hdr_len : hl);
      user_zc_hand_over_frame(d, q, total, d->p.app);
      skb_free(d, shinfo);
      return;
    }
    /* Another flow on the queue (a misconfiguration), or a frame the device
     * did not split: its bytes are already in the application's memory;
     * the stack copies them out to a kernel buffer and goes on as usual. */
    if (umem_copy_out(d, q))
      return;
  } else if (d->xdp.run || q->zc_users || (q->xsk && d->p.xsk_mode == DRIVER_XSK_AF_XDP)) {
    /* XDP: on the bound queue of an AF_XDP socket it runs on every frame,
     * after the device has written it into the UMEM (too late to keep it
     * out); on a zero-copy queue after the device wrote it into a page the
     * application can read. */
    if (rx_xdp_run(d, q, &pk, hdr_pa, first_len, total, to_zc))
      return;
  }

  /* XDP_PASS / no XDP: up the stack as an skb. With a split frame the
   * headers are already in kernel memory: the head is built there. */
  uint64_t shinfo;
  uint64_t skb_data = skb_build(d, hdr_pa, &q->frags[0], q->split ? q->hdr_len : pk.hdr_len, q->split, &shinfo);
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.validate);
  mem_read(d->m, kcpu, skb_data, NULL, pk.hdr_len ? pk.hdr_len : hl);
  if (pk.to_kernel || pk.owner >= d->nusers || !d->users[pk.owner]) {
    d->st.kernel_packets++;
    d->st.delivered_packets++;
    d->st.delivered_bytes += total;
    d->st.last_delivery_ps = simk_now_ps();
    /* Consumed by the kernel within the poll (softirq): direct recycling. */
    skb_free(d, shinfo);
    for (uint32_t i = 0; i < q->nfrags; i++)
      rx_buf_release(d, q->index, &q->frags[i].b, REL_NAPI);
    return;
  }
  sock_queue(q, &pk, shinfo, total);
}

/* One completed descriptor: part (or all) of a frame. Returns 1 at the
 * frame's end (EOP). */
static int rx_desc(struct rxq *q, const struct rx_desc_done *wb) {
  struct driver *d = q->d;
  struct rx_buf *b = &q->bufs[q->ntc];
  b->posted = 0;
  d->st.rx_descriptors++;
  /* The descriptor is done: the device's grant of its buffers ends. */
  mem_mark_remove(d->m, MEM_MARK_GRANT, d->p.rid, buf_data(&b->b), d->p.buffer_size);
  if (b->b.src == BUF_UMEM)
    d->umem->posted--;
  if (q->hdr_pfns)
    mem_mark_remove(d->m, MEM_MARK_GRANT, d->p.rid, hdr_paddr(q, q->ntc), d->p.hdr_buffer_size);
  if (d->p.dma_per_packet && b->b.src != BUF_UMEM) {
    int64_t c = dma_unmap_page(d->io, d->m, d->p.rid, b->iova, b->b.pfn, simk_now_ps());
    if (c > 0)
      cpu_charge(d->cpu, CPU_IOMMU, (uint64_t)c);
  }
  if (q->nfrags == 0) {
    q->split = q->hdr_pfns && wb->split;
    q->hdr_len = q->split ? wb->hdr_len : 0;
    if (q->split && q->hdr_len > d->p.hdr_buffer_size)
      q->hdr_len = d->p.hdr_buffer_size;
    q->hdr_slot = q->ntc;
  }
  uint32_t len = wb->length <= d->p.buffer_size ? wb->length : d->p.buffer_size;
  if (q->nfrags < NIC_MAX_DESC_PER_FRAME)
    q->frags[q->nfrags++] = (struct frag){.b = b->b, .len = len};
  else
    rx_buf_release(d, q->index, &b->b, REL_NAPI); /* more than the device ever chains: drop the rest */
  if (!wb->eop)
    return 0;
  rx_frame(q);
  q->nfrags = 0;
  return 1;
}

/* The end of a poll, when the core has done its work: refill the ring and
 * write the tail, then poll again (budget used up) or re-enable the
 * interrupt (NAPI complete). */
static void poll_end(void *arg) {
  struct rxq *q = arg;
  struct driver *d = q->d;
  uint64_t before = cpu_total(d->cpu);
  rx_ring_refill(q);
  uint64_t now = simk_now_ps();
  unsigned core = cpu_core_of_queue(d->cpu, q->index);
  uint64_t until = cpu_core_run(d->cpu, core, now, cpu_total(d->cpu) - before);
  if (q->more)
    simk_event_notify(q->napi_ev, until - now);
  else
    nic_irq_enable(d->nic, q->index);
}

static void napi_poll(void *arg) {
  struct rxq *q = arg;
  struct driver *d = q->d;
  uint64_t now = simk_now_ps();
  unsigned core = cpu_core_of_queue(d->cpu, q->index);
  if (d->cpu->busy_until_ps[core] > now) {
    /* The queue's core is still busy with earlier work. */
    simk_event_notify(q->napi_ev, d->cpu->busy_until_ps[core] - now);
    return;
  }
  uint64_t before = cpu_total(d->cpu);
  d->st.polls++;
  uint32_t done = 0;
  while (done < d->p.napi_budget && q->ntc != q->ntu) {
    uint8_t raw[RX_DESC_MAX_BYTES];
    struct rx_desc_done wb;
    mem_read(d->m, kcpu, desc_paddr(q, q->ntc), raw, d->desc->desc_bytes);
    if (!d->desc->done(raw, &wb))
      break;
    cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.rx_desc);
    int eop = rx_desc(q, &wb);
    q->ntc = (q->ntc + 1) % d->p.ring_size;
    done += (uint32_t)eop;
  }
  /* The frames were handled in this poll's time; the refill comes at its end. */
  uint64_t until = cpu_core_run(d->cpu, core, now, cpu_total(d->cpu) - before);
  q->more = done == d->p.napi_budget;
  simk_event_notify(q->end_ev, until - now);
}

void driver_irq(struct driver *d, unsigned queue) {
  if (queue < d->p.queues && !simk_event_pending(d->q[queue].napi_ev))
    simk_event_notify(d->q[queue].napi_ev, 0);
}

/* Queue q's ring (coherent DMA memory the device owns for good), its
 * header buffers when the device splits headers, and its NAPI events
 * (ixgbe_setup_rx_resources, ixgbe_configure_rx_ring). 0, or -1 with err
 * filled. */
int rx_ring_setup(struct rxq *q, char *err, size_t errlen) {
  struct driver *d = q->d;
  const struct driver_params *p = &d->p;
  struct mem *m = d->m;
  struct iommu *io = d->io;
  unsigned qi = q->index;
  char name[32];
  snprintf(name, sizeof name, "napi.q%u", qi);
  q->napi_ev = simk_event_new(name, napi_poll, q);
  snprintf(name, sizeof name, "napi.q%u.end", qi);
  q->end_ev = simk_event_new(name, poll_end, q);
  q->bufs = calloc(p->ring_size, sizeof *q->bufs);
  if (!q->napi_ev || !q->end_ev || !q->bufs)
    goto fail_mem;
  /* The ring: coherent DMA memory, zeroed (dma_alloc_coherent). */
  uint32_t ring_bytes = p->ring_size * d->desc->desc_bytes;
  uint32_t ring_pages = (ring_bytes + MEM_PAGE_SIZE - 1) / MEM_PAGE_SIZE;
  if (mem_page_alloc_contig(m, ring_pages, &q->ring_pfn))
    goto fail_ram;
  mem_fill(m, kcpu, q->ring_pfn << MEM_PAGE_SHIFT, 0, (uint64_t)ring_pages * MEM_PAGE_SIZE, NULL);
  int64_t c = dma_map_contig(io, m, p->rid, q->ring_pfn, ring_pages, IOMMU_PERM_READ | IOMMU_PERM_WRITE,
                             simk_now_ps(), &q->ring_iova);
  if (c < 0) {
    snprintf(err, errlen, "driver: the IOMMU cannot map the ring of queue %u", qi);
    return -1;
  }
  cpu_charge(d->cpu, CPU_IOMMU, (uint64_t)c);
  /* The device owns the ring's descriptors for good: it reads them and
   * writes them back. */
  mem_mark_add(m, MEM_MARK_GRANT, p->rid, q->ring_pfn << MEM_PAGE_SHIFT, ring_bytes);
  nic_rx_ring_setup(d->nic, qi, q->ring_iova, p->ring_size);

  if (p->header_split) {
    /* Header buffers: kernel memory, zeroed, mapped for the device. */
    q->hdr_per_page = MEM_PAGE_SIZE / p->hdr_buffer_size;
    uint32_t npages = (p->ring_size + q->hdr_per_page - 1) / q->hdr_per_page;
    q->hdr_pfns = calloc(npages, sizeof *q->hdr_pfns);
    q->hdr_iovas = calloc(npages, sizeof *q->hdr_iovas);
    if (!q->hdr_pfns || !q->hdr_iovas)
      goto fail_mem;
    for (uint32_t i = 0; i < npages; i++) {
      if (mem_page_alloc(m, &q->hdr_pfns[i]))
        goto fail_ram;
      mem_fill(m, kcpu, q->hdr_pfns[i] << MEM_PAGE_SHIFT, 0, MEM_PAGE_SIZE, NULL);
      int64_t hc = dma_map_page(io, m, p->rid, q->hdr_pfns[i], IOMMU_PERM_READ | IOMMU_PERM_WRITE,
                                simk_now_ps(), &q->hdr_iovas[i]);
      if (hc < 0) {
        snprintf(err, errlen, "driver: the IOMMU cannot map the header buffers of queue %u", qi);
        return -1;
      }
      cpu_charge(d->cpu, CPU_IOMMU, (uint64_t)hc);
    }
  }
  return 0;

fail_ram:
  snprintf(err, errlen, "driver: simulated RAM is too small for the rings and pools");
  return -1;
fail_mem:
  snprintf(err, errlen, "driver: out of memory");
  return -1;
}
