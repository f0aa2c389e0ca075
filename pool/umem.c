/*
 * umem.c: the application's memory as the RX buffers of one queue. See umem.h.
 *
 * Models an AF_XDP zero-copy socket's UMEM (Documentation/networking/af_xdp.rst;
 * net/xdp/xdp_umem.c: xdp_umem_reg; net/xdp/xsk_buff_pool.c: xp_dma_map,
 * xp_alloc, xsk_buff_free) and an io_uring zcrx / devmem TCP area
 * (Documentation/networking/iou-zcrx.rst, devmem.rst): registration (the
 * pages mapped for the device once), chunks from the free list or the fill
 * ring, chunks freed by the driver or given back by the application, and
 * XDP_PASS in zero-copy mode, which copies the frame out into a kernel page
 * (xsk_construct_skb, i40e_construct_skb_zc in i40e_xsk.c).
 */
#include "umem.h"

#include <stdio.h>
#include <stdlib.h>

#include "dma.h"
#include "rx_ring.h"

/* A chunk for the ring: xp_alloc takes from the free list first, then from
 * the fill ring the application produced. */
static int umem_alloc(struct driver *d, uint32_t *chunk) {
  struct umem *u = d->umem;
  if (u->nfreel) {
    *chunk = u->freel[--u->nfreel];
    d->st.free_list_reuse++;
  } else if (u->nfill) {
    *chunk = u->fill[u->fill_first];
    u->fill_first = (u->fill_first + 1) % u->nchunks;
    u->nfill--;
    d->st.fill_ring++;
  } else {
    return -1;
  }
  u->posted++;
  return 0;
}

/* A buffer for the bound queue's ring: the next chunk (*nb) and the IOVA
 * of its page (*iova). 0, or -1 when the fill ring and the free list are
 * empty. */
int umem_buf_alloc(struct driver *d, struct buf *nb, uint64_t *iova) {
  struct umem *u = d->umem;
  uint32_t c;
  if (umem_alloc(d, &c))
    return -1;
  *nb = (struct buf){.pfn = u->pfns[c / u->per_page], .base = (c % u->per_page) * u->chunk,
                     .truesize = u->chunk, .chunk = c, .headroom = LINUX_XDP_PACKET_HEADROOM, .src = BUF_UMEM};
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.pool_alloc);
  *iova = u->iovas[c / u->per_page];
  return 0;
}

/* A chunk let go of: to the fill ring when the application gives it back
 * (by_app: it submits the chunk to the fill ring after reading it), else to
 * the driver's free list (xsk_buff_free). */
void umem_buf_free(struct driver *d, const struct buf *b, int by_app) {
  struct umem *u = d->umem;
  if (by_app) {
    u->fill[(u->fill_first + u->nfill++) % u->nchunks] = b->chunk;
    d->st.fill_ring_returns++;
  } else {
    u->freel[u->nfreel++] = b->chunk;
    d->st.xsk_buff_free++;
  }
}

/* Register the application's region: its own pages (anonymous memory,
 * zero-filled before it sees them, mapped read-write into it for good), each
 * DMA-mapped for the device once (xdp_umem_reg + xp_dma_map; io_uring zcrx
 * area registration), split into chunks that all start in the fill ring, as
 * the application populates it before binding (af_xdp.rst). */
int umem_setup(struct driver *d, char *err, size_t errlen) {
  const struct driver_params *p = &d->p;
  struct umem *u = calloc(1, sizeof *u);
  if (!u) {
    snprintf(err, errlen, "driver: out of memory");
    return -1;
  }
  d->umem = u;
  u->chunk = p->umem_chunk;
  u->per_page = MEM_PAGE_SIZE / p->umem_chunk;
  /* Default size: enough chunks for the ring and half as many again for the
   * frames the application holds. */
  u->npages = p->umem_pages ? p->umem_pages : (p->ring_size * 3 / 2 + u->per_page - 1) / u->per_page;
  u->nchunks = u->npages * u->per_page;
  u->pfns = calloc(u->npages, sizeof *u->pfns);
  u->iovas = calloc(u->npages, sizeof *u->iovas);
  u->fill = calloc(u->nchunks, sizeof *u->fill);
  u->freel = calloc(u->nchunks, sizeof *u->freel);
  if (!u->pfns || !u->iovas || !u->fill || !u->freel) {
    snprintf(err, errlen, "driver: out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < u->npages; i++) {
    if (mem_page_alloc(d->m, &u->pfns[i])) {
      snprintf(err, errlen, "driver: simulated RAM is too small for the application's %u-page region",
               u->npages);
      return -1;
    }
    mem_fill(d->m, kcpu, u->pfns[i] << MEM_PAGE_SHIFT, 0, MEM_PAGE_SIZE, NULL);
    mem_page_map(d->m, u->pfns[i], p->app, MEM_MAP_RW);
    cpu_charge(d->cpu, CPU_MAP, d->cpu->costs.user_map);
    int64_t c = dma_map_page(d->io, d->m, p->rid, u->pfns[i], IOMMU_PERM_READ | IOMMU_PERM_WRITE,
                             simk_now_ps(), &u->iovas[i]);
    if (c < 0) {
      snprintf(err, errlen, "driver: the IOMMU cannot map page %u of the application's region", i);
      return -1;
    }
    cpu_charge(d->cpu, CPU_IOMMU, (uint64_t)c);
  }
  for (uint32_t c = 0; c < u->nchunks; c++)
    u->fill[u->nfill++] = c;
  return 0;
}

void umem_free(struct umem *u) {
  if (!u)
    return;
  free(u->pfns);
  free(u->iovas);
  free(u->fill);
  free(u->freel);
  free(u);
}

struct kind_count {
  struct mem *m;
  uint64_t *by_kind;
};

static void count_kind(void *ctx, uint64_t paddr, uint32_t len, uint32_t id) {
  (void)paddr;
  struct kind_count *k = ctx;
  k->by_kind[mem_label(k->m, id)->prov.kind] += len;
}

/* What the device wrote into the application's region, by label kind. */
void umem_account(struct driver *d, const struct frag *fr) {
  struct kind_count k = {.m = d->m, .by_kind = d->st.umem_written};
  uint64_t pa = frag_paddr(fr);
  uint32_t len = fr->len;
  while (len) {
    uint32_t in_page = MEM_PAGE_SIZE - (uint32_t)(pa & (MEM_PAGE_SIZE - 1));
    uint32_t n = len < in_page ? len : in_page;
    mem_label_runs(d->m, pa, n, count_kind, &k);
    pa += n;
    len -= n;
  }
}

/* A frame in the application's region that is not the application's (or
 * that the stack must see whole): copy it out into kernel pages of the
 * queue's own page_pool and free the chunks at once (XDP_PASS in zero-copy
 * mode: xsk_construct_skb / i40e_construct_skb_zc copy the frame into a new
 * skb, then xsk_buff_free). 0, or -1 when no kernel page is left (the frame
 * is dropped, its chunks freed). */
int umem_copy_out(struct driver *d, struct rxq *q) {
  uint32_t copied = 0;
  for (uint32_t i = 0; i < q->nfrags; i++) {
    struct frag *fr = &q->frags[i];
    if (fr->b.src != BUF_UMEM)
      continue;
    uint64_t pfn, iova;
    if (page_pool_alloc(q->pool, &pfn, &iova)) {
      for (uint32_t j = 0; j < q->nfrags; j++)
        rx_buf_release(d, q->index, &q->frags[j].b, REL_NAPI);
      d->st.copy_out_drops++;
      return -1;
    }
    struct buf kb = {.pfn = pfn, .base = 0, .truesize = MEM_PAGE_SIZE, .headroom = (uint16_t)d->headroom,
                     .src = BUF_POOL};
    if (fr->len) {
      mem_copy(d->m, kcpu, buf_data(&kb), frag_paddr(fr), fr->len);
      cpu_charge(d->cpu, CPU_COPY, cpu_copy_cycles(&d->cpu->costs, fr->len));
    }
    rx_buf_release(d, q->index, &fr->b, REL_NAPI);
    fr->b = kb;
    copied += fr->len;
  }
  d->st.copy_out_packets++;
  d->st.copy_out_bytes += copied;
  return 0;
}

int driver_umem_state(const struct driver *d, struct driver_umem_state *out) {
  if (!d->umem)
    return -1;
  *out = (struct driver_umem_state){.chunks = d->umem->nchunks, .fill = d->umem->nfill,
                                    .free_list = d->umem->nfreel, .posted = d->umem->posted,
                                    .held = d->umem->held};
  return 0;
}

const uint64_t *driver_umem_pages(const struct driver *d, uint32_t *n) {
  *n = d->umem ? d->umem->npages : 0;
  return d->umem ? d->umem->pfns : NULL;
}
