/*
 * driver.c: the driver's assembly: its parameters checked, its state
 * allocated, each queue's ring, region and page_pool set up and the rings
 * filled (ixgbe_probe / ixgbe_open: ixgbe_setup_all_rx_resources,
 * ixgbe_configure_rx), and what the rest of the system reads back. The
 * running driver is in the files named in driver_priv.h. See driver.h.
 */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>

#include "driver_priv.h"
#include "rx_ring.h"
#include "skb.h"
#include "sock.h"
#include "umem.h"
#include "user.h"

uint32_t driver_rx_headroom(const struct driver_params *p) {
  return p->zero_copy || p->xsk_mode == DRIVER_XSK_AF_XDP || p->xdp_attached ? LINUX_XDP_PACKET_HEADROOM
                                                                               : LINUX_NET_SKB_PAD;
}

uint32_t driver_frag_size(uint32_t buffer_size, int skb_readonly, uint32_t headroom) {
  /* page_pool_dev_alloc_frag is asked for headroom + buffer (+ the shared
   * info build_skb puts after it) and aligns it to the DMA cache alignment. */
  uint32_t n = headroom + buffer_size + (skb_readonly ? 0 : DRIVER_SHINFO_BYTES);
  return (n + PP_FRAG_ALIGN - 1) & ~(PP_FRAG_ALIGN - 1);
}

void driver_set_effect_cb(struct driver *d, driver_effect_fn fn, void *ctx) {
  d->effect = fn;
  d->effect_ctx = ctx;
}

struct driver *driver_new(const struct driver_params *p, struct mem *m, struct iommu *io,
                          struct nic *nic, struct cpu *cpu, struct user **users, unsigned nusers,
                          const struct driver_classifier *cls, char *err, size_t errlen) {
  /* Each parameter checked alone: the message names it, its value and the range. */
  if (p->queues == 0 || p->queues > NIC_MAX_QUEUES) {
    snprintf(err, errlen, "driver: queues %u: allowed 1..%u", p->queues, NIC_MAX_QUEUES);
    return NULL;
  }
  if (p->ring_size < 2) {
    snprintf(err, errlen, "driver: ring_size %u: allowed 2 and more descriptors", p->ring_size);
    return NULL;
  }
  if (p->napi_budget == 0) {
    snprintf(err, errlen, "driver: napi_budget 0: allowed 1 and more frames");
    return NULL;
  }
  if (p->header_split && (p->hdr_buffer_size < 64 || p->hdr_buffer_size > 1024 ||
                          (p->hdr_buffer_size & (p->hdr_buffer_size - 1)))) {
    snprintf(err, errlen, "driver: hdr_buffer_size %u: allowed a power of two, 64..1024", p->hdr_buffer_size);
    return NULL;
  }
  if (p->ntenants > MEM_MAX_PRINCIPALS) {
    snprintf(err, errlen, "driver: ntenants %u: allowed 0..%u", p->ntenants, MEM_MAX_PRINCIPALS);
    return NULL;
  }
  if (p->pool_frag && (p->free_pages || p->dma_per_packet ||
                       driver_frag_size(p->buffer_size, p->skb_readonly, driver_rx_headroom(p)) >
                           MEM_PAGE_SIZE / 2)) {
    snprintf(err, errlen, "driver: page_pool fragments need the pool's DMA mapping and a fragment of at "
             "most half a page (%u bytes for a %u-byte buffer)",
             driver_frag_size(p->buffer_size, p->skb_readonly, driver_rx_headroom(p)), p->buffer_size);
    return NULL;
  }
  if (p->xsk_mode != DRIVER_XSK_NONE &&
      (p->xsk_queue >= p->queues || (p->umem_chunk != 2048 && p->umem_chunk != 4096) ||
       p->buffer_size + LINUX_XDP_PACKET_HEADROOM > p->umem_chunk || p->free_pages || p->dma_per_packet ||
       (p->xsk_mode == DRIVER_XSK_ZCRX && !p->header_split))) {
    snprintf(err, errlen, "driver: the application's RX region: xsk_queue %u (allowed 0..%u), umem_chunk %u "
             "(allowed 2048, 4096) with buffer_size %u (allowed up to the chunk less %u of headroom); it needs "
             "the pool's DMA mapping and recycling%s", p->xsk_queue, p->queues - 1, p->umem_chunk, p->buffer_size,
             LINUX_XDP_PACKET_HEADROOM, p->xsk_mode == DRIVER_XSK_ZCRX ? " and header split" : "");
    return NULL;
  }
  const struct rx_desc_ops *desc = nic_rx_desc_ops(nic);
  if (desc->desc_bytes == 0 || desc->desc_bytes > RX_DESC_MAX_BYTES) {
    snprintf(err, errlen, "driver: %s descriptors of %u bytes: allowed 1..%u", desc->name, desc->desc_bytes,
             RX_DESC_MAX_BYTES);
    return NULL;
  }
  struct driver *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errlen, "driver: out of memory");
    return NULL;
  }
  d->p = *p;
  d->m = m;
  d->io = io;
  d->nic = nic;
  d->desc = desc;
  d->cpu = cpu;
  d->users = users;
  d->nusers = nusers;
  if (cls)
    d->cls = *cls;
  d->hoard = -1;
  if (p->app < MEM_MAX_PRINCIPALS)
    d->zu[p->app] = (struct zc_user){.map_mode = p->app_map_mode, .map_per_packet = p->app_map_per_packet,
                                     .hold_ps = p->app_hold_ps};
  for (unsigned t = 0; t < p->ntenants; t++)
    if (p->tenants[t].principal < MEM_MAX_PRINCIPALS && p->tenants[t].principal != p->app)
      d->zu[p->tenants[t].principal] = (struct zc_user){.map_mode = p->tenants[t].map_mode,
                                                        .map_per_packet = p->tenants[t].map_per_packet};
  d->headroom = driver_rx_headroom(p);
  d->frag_size = p->pool_frag ? driver_frag_size(p->buffer_size, p->skb_readonly, d->headroom) : MEM_PAGE_SIZE;
  d->npages = mem_pages(m);
  d->app_refs = calloc(d->npages, sizeof *d->app_refs);
  if (!d->app_refs)
    goto fail_mem;
  for (unsigned t = 0; t <= p->ntenants; t++) {
    unsigned who = t < p->ntenants ? p->tenants[t].principal : p->app;
    if (who < MEM_MAX_PRINCIPALS && !d->zu[who].refs && !(d->zu[who].refs = calloc(d->npages, 1)))
      goto fail_mem;
  }
  d->app_ev = simk_event_new("app.return", user_zc_return_tick, d);
  d->recv_ev = simk_event_new("stack.recv", sock_recv_tick, d);
  if (!d->app_ev || !d->recv_ev)
    goto fail_mem;
  if (p->free_pages && p->kernel_reuse_pages) {
    d->kreuse = calloc(p->kernel_reuse_pages, sizeof *d->kreuse);
    if (!d->kreuse)
      goto fail_mem;
  }
  if (skb_heads_setup(d))
    goto fail_ram;

  for (unsigned qi = 0; qi < p->queues; qi++) {
    struct rxq *q = &d->q[qi];
    q->d = d;
    q->index = qi;
    q->zc_users = p->zero_copy && (p->zc_queues & (1ull << qi)) && p->app < 64 ? 1ull << p->app : 0;
    for (unsigned t = 0; t < p->ntenants; t++)
      if (p->tenants[t].principal < MEM_MAX_PRINCIPALS && (p->tenants[t].zc_queues & (1ull << qi)))
        q->zc_users |= 1ull << p->tenants[t].principal;
    if (rx_ring_setup(q, err, errlen)) {
      driver_free(d);
      return NULL;
    }

    q->xsk = p->xsk_mode != DRIVER_XSK_NONE && qi == p->xsk_queue;
    if (q->xsk) {
      q->zc_users = 0;
      if (umem_setup(d, err, errlen)) {
        driver_free(d);
        return NULL;
      }
    }
    struct page_pool_params pp = {
        .pages = p->pool_pages,
        .cache_size = p->pool_cache_size,
        .ring_size = p->pool_ring_size,
        .clear = p->pool_clear,
        .dma_per_packet = p->dma_per_packet,
        .rid = p->rid,
        .user_principal = (q->zc_users >> p->app & 1) && !p->app_map_per_packet ? (int)p->app : -1,
        .user_mode = p->app_map_mode,
    };
    for (unsigned t = 0; t < p->ntenants; t++) {
      const struct driver_tenant *tn = &p->tenants[t];
      if (tn->principal != p->app && (q->zc_users >> tn->principal & 1) && !tn->map_per_packet) {
        pp.user_more |= 1ull << tn->principal;
        pp.user_modes[tn->principal] = tn->map_mode;
      }
    }
    if (q->xsk) {
      /* The bound queue's own page_pool holds kernel pages for the frames
       * copied out of the application's region: the device never writes
       * them, so they are not mapped for it. */
      pp.dma_per_packet = 1;
      pp.user_principal = -1;
      pp.user_more = 0;
    }
    if (!p->free_pages) {
      q->pool = page_pool_new(&pp, m, io, cpu, err, errlen);
      if (!q->pool) {
        driver_free(d);
        return NULL;
      }
    }
    rx_ring_refill(q);
  }
  return d;

fail_ram:
  snprintf(err, errlen, "driver: simulated RAM is too small for the rings and pools");
  driver_free(d);
  return NULL;
fail_mem:
  snprintf(err, errlen, "driver: out of memory");
  driver_free(d);
  return NULL;
}

void driver_free(struct driver *d) {
  if (!d)
    return;
  umem_free(d->umem);
  free(d->app_refs);
  for (unsigned i = 0; i < MEM_MAX_PRINCIPALS; i++)
    free(d->zu[i].refs);
  for (unsigned i = 0; i < NIC_MAX_QUEUES; i++) {
    free(d->q[i].bufs);
    free(d->q[i].hdr_pfns);
    free(d->q[i].hdr_iovas);
    page_pool_free(d->q[i].pool);
  }
  free(d->held);
  free(d->rmem);
  free(d->rxq_pend);
  free(d->kreuse);
  free(d);
}

const struct driver_stats *driver_stats(const struct driver *d) { return &d->st; }

void driver_destroy_pools(struct driver *d) {
  for (unsigned i = 0; i < d->p.queues; i++)
    page_pool_destroy(d->q[i].pool);
}

const struct page_pool_stats *driver_pool_stats(const struct driver *d, unsigned queue) {
  return queue < d->p.queues && d->q[queue].pool ? page_pool_stats(d->q[queue].pool) : NULL;
}

const struct page_pool *driver_pool(const struct driver *d, unsigned queue) {
  return queue < d->p.queues ? d->q[queue].pool : NULL;
}

int driver_pool_empty(const struct driver *d, unsigned queue) {
  if (queue < d->p.queues && d->q[queue].xsk)
    return d->umem->nfill == 0 && d->umem->nfreel == 0; /* the fill ring ran dry */
  return queue < d->p.queues && d->q[queue].pool && page_pool_available(d->q[queue].pool) == 0;
}

uint32_t driver_app_refs(const struct driver *d, uint64_t pfn) {
  return pfn < d->npages ? d->app_refs[pfn] : 0;
}
