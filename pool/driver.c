/*
 * driver.c: the RX path of a page_pool NIC driver and the stack above it.
 * See driver.h.
 */
#include "driver.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma.h"
#include "simk.h"

#define HEAD_SLOT_BYTES 1024u /* kmalloc-1k: 512 B of headers + shared info */
#define HEAD_SLOTS 64u
#define HDR_READ_MAX 256u     /* bytes of a frame the stack parses */

/* Where an RX buffer comes from. */
enum buf_src {
  BUF_POOL = 0, /* the queue's page_pool (a whole page or a fragment), or a fresh page (legacy) */
  BUF_UMEM,     /* a chunk of the application's region (AF_XDP UMEM, zcrx area) */
};

/* One RX buffer: the area of a page it owns (its truesize, as the kernel
 * accounts it) with the packet data at headroom bytes into it. */
struct buf {
  uint64_t pfn;
  uint32_t base;     /* start of the area in the page [bytes] */
  uint32_t truesize; /* bytes of the page the buffer owns: page, fragment or chunk */
  uint32_t chunk;    /* BUF_UMEM: chunk index */
  uint16_t headroom; /* bytes before the packet data (driver_rx_headroom) */
  uint8_t src;       /* enum buf_src */
};

struct rx_buf {
  struct buf b;
  uint64_t iova; /* page IOVA */
  int posted;
};

struct held_page {
  unsigned queue;
  unsigned principal; /* who holds it */
  struct buf b;
  uint64_t return_ps;
};

struct driver;

struct frag {
  struct buf b;
  uint32_t len; /* bytes the device wrote after the headroom */
};

/* The application's region used as RX buffers of one queue: an AF_XDP UMEM
 * (Documentation/networking/af_xdp.rst) or an io_uring zcrx area. Chunks
 * move between the fill ring (FIFO: the application produces, the driver
 * consumes), the driver's free list (LIFO: xsk_buff_free puts a chunk there
 * and xp_alloc takes from it before the fill ring, net/xdp/xsk_buff_pool.c),
 * the RX ring's posted descriptors, and the application. */
struct umem {
  uint64_t *pfns, *iovas;
  uint32_t npages, chunk, per_page, nchunks;
  uint32_t *fill, fill_first, nfill;
  uint32_t *freel, nfreel;
  uint32_t posted, held;
};

/* An skb in a socket's receive queue, waiting for its recipient's recvmsg. */
struct pending_rx {
  unsigned queue;
  unsigned owner;
  uint32_t nfrags;
  uint32_t skip;   /* header bytes at the start of the first buffer */
  uint32_t total;
  uint64_t due_ps;
  uint64_t shinfo; /* physical address of the skb's skb_shared_info (live until freed) */
  uint32_t truesize; /* skb->truesize, charged to the socket's sk_rmem_alloc */
  uint32_t sock;     /* its socket's slot in the rmem table */
  struct frag frags[NIC_MAX_DESC_PER_FRAME];
};

struct rxq {
  struct driver *d;
  unsigned index;
  uint64_t ring_pfn;   /* first of the contiguous ring pages */
  uint64_t ring_iova;
  struct rx_buf *bufs;
  uint32_t ntc, ntu;   /* next to clean, next to use */
  struct page_pool *pool;
  struct simk_event *napi_ev;
  struct simk_event *end_ev; /* end of the current poll */
  int more;            /* the poll used its whole budget */
  uint64_t zc_users;   /* principals this queue's pages go to zero-copy (bit per id) */
  int xsk;             /* this queue's buffers come from the application's region */
  /* header split: one header buffer per descriptor, in kernel pages */
  uint64_t *hdr_pfns;
  uint64_t *hdr_iovas;
  uint32_t hdr_per_page;
  /* the frame being assembled from its descriptors */
  struct frag frags[NIC_MAX_DESC_PER_FRAME];
  uint32_t nfrags;
  int split;
  uint32_t hdr_len;
  uint32_t hdr_slot;
};

struct driver {
  struct driver_params p;
  struct mem *m;
  struct iommu *io;
  struct nic *nic;
  struct cpu *cpu;
  struct user **users;
  unsigned nusers;
  struct driver_classifier cls;
  struct rxq q[NIC_MAX_QUEUES];
  /* read-only mode: a slab of skb heads in kernel memory */
  uint64_t head_pfns[HEAD_SLOTS * HEAD_SLOT_BYTES / MEM_PAGE_SIZE];
  uint32_t head_next;
  /* pages the application holds */
  struct held_page *held;
  size_t nheld, held_first, held_cap;
  struct simk_event *app_ev;
  struct driver_stats st;
  /* skbs waiting in socket receive queues for their recipient's recvmsg */
  struct pending_rx *rxq_pend;
  size_t npend, pend_first, pend_cap;
  struct simk_event *recv_ev;
  /* fault hooks */
  driver_effect_fn effect;
  void *effect_ctx;
  struct {
    unsigned principal;
    uint32_t len;
    void *tag;
  } uw[8];
  unsigned nuw;
  int hoard;          /* -1: nobody */
  void *hoard_tag;
  /* legacy free mode: pages the kernel reused for its own data */
  uint64_t *kreuse;
  uint32_t nkreuse, kreuse_first;
  /* page_pool fragments: bytes per fragment */
  uint32_t frag_size;
  uint32_t headroom; /* driver_rx_headroom */
  /* the receiving sockets (one per 5-tuple, hashed into DRIVER_SOCK_SLOTS
   * slots): bytes queued (sk_rmem_alloc, in truesize); NULL until used */
  uint32_t *rmem;
  /* the application's region (one bound queue) */
  struct umem *umem;
  /* each zero-copy principal's mapping of the pools it gets, by principal id
   * (the application's from app_*, the tenants' from p.tenants) */
  struct zc_user {
    uint8_t map_mode;
    int map_per_packet;
    uint64_t hold_ps;
  } zu[MEM_MAX_PRINCIPALS];
  /* per page frame: buffers of it the application holds now (zero copy) */
  uint32_t *app_refs;
  uint64_t npages;
  /* a configured XDP program (run NULL: the default program) and the bytes
   * it sees of the current frame */
  struct driver_xdp_prog xdp;
  uint8_t xdp_buf[MEM_PAGE_SIZE];
};

static uint64_t buf_data(const struct buf *b) {
  return (b->pfn << MEM_PAGE_SHIFT) + b->base + b->headroom;
}

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

static const struct mem_accessor kcpu = {.actor = MEM_ACTOR_KERNEL, .id = 0};

static uint64_t desc_paddr(const struct rxq *q, uint32_t i) {
  return (q->ring_pfn << MEM_PAGE_SHIFT) + (uint64_t)i * NIC_DESC_BYTES;
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

/* Post one buffer at ntu. 0, or -1 when the pool is empty. */
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

static int refill_one(struct rxq *q) {
  struct driver *d = q->d;
  uint64_t pfn, iova = 0;
  struct buf nb = {.truesize = MEM_PAGE_SIZE, .headroom = (uint16_t)d->headroom, .src = BUF_POOL};
  if (q->xsk) {
    /* The device writes straight into the application's memory, mapped
     * once for the device when the region was registered. */
    struct umem *u = d->umem;
    uint32_t c;
    if (umem_alloc(d, &c))
      return -1;
    nb = (struct buf){.pfn = u->pfns[c / u->per_page], .base = (c % u->per_page) * u->chunk,
                      .truesize = u->chunk, .chunk = c, .headroom = LINUX_XDP_PACKET_HEADROOM, .src = BUF_UMEM};
    cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.pool_alloc);
    struct rx_buf *b = &q->bufs[q->ntu];
    b->b = nb;
    b->iova = u->iovas[c / u->per_page];
    b->posted = 1;
    goto post;
  }
  if (d->p.pool_frag) {
    uint32_t off;
    if (page_pool_alloc_frag(q->pool, d->frag_size, &pfn, &off, &iova))
      return -1;
    nb.base = off;
    nb.truesize = d->frag_size;
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
  nb.pfn = pfn;
  {
    struct rx_buf *b = &q->bufs[q->ntu];
    b->b = nb;
    b->iova = iova;
    b->posted = 1;
  }
post:;
  struct rx_buf *b = &q->bufs[q->ntu];
  struct nic_rx_desc_read rd = {.pkt_addr = b->iova + b->b.base + b->b.headroom, .hdr_addr = 0};
  if (q->hdr_pfns)
    rd.hdr_addr = hdr_iova(q, q->ntu);
  struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  /* The descriptor grants the device its buffer (and header buffer). */
  mem_mark_add(d->m, MEM_MARK_GRANT, d->p.rid, buf_data(&b->b), d->p.buffer_size);
  if (q->hdr_pfns)
    mem_mark_add(d->m, MEM_MARK_GRANT, d->p.rid, hdr_paddr(q, q->ntu), d->p.hdr_buffer_size);
  mem_write(d->m, kcpu, desc_paddr(q, q->ntu), &rd, sizeof rd, &pd);
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.rx_desc);
  q->ntu = (q->ntu + 1) % d->p.ring_size;
  return 0;
}

/* Keep one descriptor unused so that head == tail means "empty". */
static void refill(struct rxq *q) {
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

/* A page the stack is done with: back to its pool, or (legacy) freed, and
 * then taken by the kernel for its own data for a while, as freed pages are
 * reused at once by the allocator's hot lists. */
/* Pages came back while the ring may be short of buffers: a driver refills
 * in its NAPI poll, so make sure one runs (as a driver reschedules NAPI when
 * an allocation failed). */
static void kick(struct rxq *q) {
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

/* Who lets go of a buffer, which decides where a page_pool page goes: only
 * the NAPI poll of the page's own queue may recycle directly into the alloc
 * cache (page_pool_put_page's allow_direct: XDP verdicts and skbs the stack
 * consumes within the poll); a socket's recvmsg (process context, later)
 * and the application returning a zero-copy buffer go through the ring. */
enum rel_ctx { REL_NAPI = 0, REL_RECVMSG, REL_APP };

/* A buffer the driver or the stack is done with. A page_pool buffer drops
 * its page reference; a chunk of the application's region goes to the fill
 * ring when the application gives it back (REL_APP), else to the driver's
 * free list (xsk_buff_free, net/xdp/xsk_buff_pool.c: reused before the fill
 * ring). */
static void release(struct driver *d, unsigned queue, const struct buf *b, enum rel_ctx ctx) {
  if (b->src != BUF_UMEM) {
    recycle(d, queue, b->pfn, ctx == REL_NAPI);
    return;
  }
  int by_app = ctx == REL_APP;
  struct umem *u = d->umem;
  if (by_app) {
    u->fill[(u->fill_first + u->nfill++) % u->nchunks] = b->chunk;
    d->st.fill_ring_returns++;
  } else {
    u->freel[u->nfreel++] = b->chunk;
    d->st.xsk_buff_free++;
  }
}

/* The application gives a buffer back. A page mapped per packet is unmapped
 * when the application holds no buffer of it any more (with fragments, every
 * fragment of the page it was handed). */
static void app_return(struct driver *d, const struct held_page *h) {
  uint64_t pfn = h->b.pfn;
  if (d->app_refs[pfn] && --d->app_refs[pfn] == 0) {
    mem_page_set_holder(d->m, pfn, -1);
    if (d->zu[h->principal].map_per_packet && h->b.src != BUF_UMEM) {
      mem_page_map(d->m, pfn, h->principal, MEM_MAP_NONE);
      cpu_charge(d->cpu, CPU_MAP, d->cpu->costs.user_unmap);
      d->st.app_unmaps++;
    }
  }
  if (h->b.src == BUF_UMEM)
    d->umem->held--;
  release(d, h->queue, &h->b, REL_APP);
  /* The pool has a page again: the ring is refilled in NAPI context. */
  kick(&d->q[h->queue]);
}

static void app_tick(void *arg) {
  struct driver *d = arg;
  uint64_t now = simk_now_ps();
  while (d->nheld && d->held[d->held_first].return_ps <= now) {
    struct held_page h = d->held[d->held_first];
    d->held_first = (d->held_first + 1) % d->held_cap;
    d->nheld--;
    app_return(d, &h);
  }
  if (d->nheld)
    simk_event_notify(d->app_ev, d->held[d->held_first].return_ps - now);
}

static int hold_page(struct driver *d, unsigned queue, unsigned who, const struct buf *b) {
  if (d->nheld == d->held_cap) {
    size_t ncap = d->held_cap ? d->held_cap * 2 : 256;
    struct held_page *n = malloc(ncap * sizeof *n);
    if (!n)
      return -1;
    for (size_t i = 0; i < d->nheld; i++)
      n[i] = d->held[(d->held_first + i) % d->held_cap];
    free(d->held);
    d->held = n;
    d->held_cap = ncap;
    d->held_first = 0;
  }
  uint64_t now = simk_now_ps();
  d->held[(d->held_first + d->nheld) % d->held_cap] =
      (struct held_page){.queue = queue, .principal = who, .b = *b, .return_ps = now + d->zu[who].hold_ps};
  d->nheld++;
  if (d->nheld > d->st.pages_held_max)
    d->st.pages_held_max = d->nheld;
  if (!simk_event_pending(d->app_ev))
    simk_event_notify(d->app_ev, d->zu[who].hold_ps);
  return 0;
}

/* kernel pointers as they would appear in skb_shared_info: struct page
 * pointers into the vmemmap and slab pointers into the direct map. */
static void fill_shinfo(uint8_t *si, uint64_t frag_pfn, uint32_t frag_off, uint32_t frag_len,
                        uint64_t seq) {
  /* Offsets of struct skb_shared_info and skb_frag_t (linux_layout.h,
   * checked against the kernel's BTF by tests/btf/btf_layout.py). */
  memset(si, 0, DRIVER_SHINFO_BYTES);
  si[LINUX_SHINFO_NR_FRAGS] = frag_len ? 1 : 0;
  uint64_t frag_list = 0;
  uint32_t dataref = 1;
  uint64_t destructor_arg = 0xffff888100000000ull | (seq << 8);
  uint64_t page_ptr = 0xffffea0000000000ull + frag_pfn * LINUX_STRUCT_PAGE_BYTES; /* vmemmap */
  memcpy(si + LINUX_SHINFO_FRAG_LIST, &frag_list, 8);
  memcpy(si + LINUX_SHINFO_DATAREF, &dataref, 4);
  memcpy(si + LINUX_SHINFO_DESTRUCTOR_ARG, &destructor_arg, 8);
  memcpy(si + LINUX_SHINFO_FRAGS + LINUX_SKB_FRAG_PAGE, &page_ptr, 8); /* frags[0] */
  memcpy(si + LINUX_SHINFO_FRAGS + LINUX_SKB_FRAG_LEN, &frag_len, 4);
  memcpy(si + LINUX_SHINFO_FRAGS + LINUX_SKB_FRAG_OFFSET, &frag_off, 4);
}

/* The trace packet whose bytes are at paddr, for labelling the kernel data
 * that belongs to it (bookkeeping for explanations, not something the
 * modelled kernel uses). */
static uint64_t packet_at(struct driver *d, uint64_t paddr) {
  const struct mem_label *l = mem_label(d->m, mem_peek_label_id(d->m, paddr));
  return l->prov.kind == MEM_LABEL_PKT_HEADER || l->prov.kind == MEM_LABEL_PKT_PAYLOAD ? l->prov.packet
                                                                                       : UINT64_MAX;
}

/* Build the skb over a frame whose headers (hdr_len bytes) are at hdr_pa and
 * whose first packet buffer is in page pfn. Returns the physical address of
 * skb->data (the headers); *shinfo is where its skb_shared_info is, live
 * (the kernel reads it again when it frees the skb) until skb_free. A
 * separate head is used in read-only mode, and whenever the headers are not
 * in the packet page (header split). */
static uint64_t build_skb(struct driver *d, uint64_t hdr_pa, const struct frag *first,
                          uint32_t hdr_len, int separate_head, uint64_t *shinfo) {
  uint64_t pfn = first->b.pfn;
  uint32_t first_len = first->len;
  uint8_t si[DRIVER_SHINFO_BYTES];
  uint64_t index = packet_at(d, hdr_pa);
  struct mem_prov pk = {.kind = MEM_LABEL_KERNEL_PTR, .packet = index};
  cpu_charge(d->cpu, CPU_SKB, d->cpu->costs.skb_alloc + cpu_clear_cycles(DRIVER_SHINFO_BYTES));
  if (!d->p.skb_readonly && !separate_head) {
    /* build_skb(va, truesize): skb_shared_info at the end of the buffer's
     * area (the page, or the fragment), written by the CPU into the packet
     * page. */
    fill_shinfo(si, 0, 0, 0, index);
    *shinfo = (pfn << MEM_PAGE_SHIFT) + first->b.base + first->b.truesize - DRIVER_SHINFO_BYTES;
    mem_write(d->m, kcpu, *shinfo, si, sizeof si, &pk);
    mem_mark_add(d->m, MEM_MARK_LIVE, 0, *shinfo, DRIVER_SHINFO_BYTES);
    return hdr_pa;
  }
  /* A separate head: headers copied there, shared info after them with
   * frags[0] pointing at the payload in the page. */
  uint32_t slot = d->head_next++ % HEAD_SLOTS;
  uint64_t head = (d->head_pfns[slot * HEAD_SLOT_BYTES / MEM_PAGE_SIZE] << MEM_PAGE_SHIFT) +
                  (slot * HEAD_SLOT_BYTES) % MEM_PAGE_SIZE;
  cpu_charge(d->cpu, CPU_SKB, d->cpu->costs.head_alloc);
  if (hdr_len > HEAD_SLOT_BYTES - DRIVER_SHINFO_BYTES)
    hdr_len = HEAD_SLOT_BYTES - DRIVER_SHINFO_BYTES;
  if (hdr_len) {
    mem_copy(d->m, kcpu, head, hdr_pa, hdr_len);
    cpu_charge(d->cpu, CPU_COPY, cpu_copy_cycles(&d->cpu->costs, hdr_len));
  }
  uint32_t frag_off = separate_head && d->p.header_split ? 0 : hdr_len;
  fill_shinfo(si, pfn, first->b.base + first->b.headroom + frag_off,
              first_len > frag_off ? first_len - frag_off : 0, index);
  *shinfo = head + HEAD_SLOT_BYTES - DRIVER_SHINFO_BYTES;
  mem_write(d->m, kcpu, *shinfo, si, sizeof si, &pk);
  mem_mark_add(d->m, MEM_MARK_LIVE, 0, *shinfo, DRIVER_SHINFO_BYTES);
  return head;
}

/* kfree_skb / consume_skb: the kernel reads the shared info one last time
 * (skb_release_data, net/core/skbuff.c) and then it is dead memory. */
static void skb_free(struct driver *d, uint64_t shinfo) {
  mem_mark_remove(d->m, MEM_MARK_LIVE, 0, shinfo, DRIVER_SHINFO_BYTES);
}

static uint64_t frag_paddr(const struct frag *fr) { return buf_data(&fr->b); }

/* The recipient's recvmsg: the payload is copied out, the stack is done
 * with the bytes, the pages go back. */
static void consume(struct driver *d, const struct pending_rx *pr) {
  uint32_t skip = pr->skip;
  for (uint32_t i = 0; i < pr->nfrags; i++) {
    uint32_t len = pr->frags[i].len;
    uint32_t off = skip < len ? skip : len;
    skip -= off;
    if (len > off)
      user_deliver_copy(d->users[pr->owner], frag_paddr(&pr->frags[i]) + off, len - off,
                        i == 0 ? pr->total : 0);
  }
  skb_free(d, pr->shinfo);
  if (d->rmem)
    d->rmem[pr->sock] -= pr->truesize; /* skb_free_datagram / sock_rfree */
  for (uint32_t i = 0; i < pr->nfrags; i++) {
    mem_mark_remove(d->m, MEM_MARK_VALIDATED, 0, frag_paddr(&pr->frags[i]), pr->frags[i].len);
    release(d, pr->queue, &pr->frags[i].b, REL_RECVMSG);
  }
  d->st.delivered_packets++;
  d->st.delivered_bytes += pr->total;
  d->st.last_delivery_ps = simk_now_ps();
}

static void recv_tick(void *arg) {
  struct driver *d = arg;
  uint64_t now = simk_now_ps();
  uint64_t refill_mask = 0;
  while (d->npend && d->rxq_pend[d->pend_first].due_ps <= now) {
    struct pending_rx *pr = &d->rxq_pend[d->pend_first];
    consume(d, pr);
    refill_mask |= 1ull << pr->queue;
    d->pend_first = (d->pend_first + 1) % d->pend_cap;
    d->npend--;
  }
  /* Pages are back in their pools: the rings are refilled in NAPI context. */
  for (unsigned qi = 0; qi < d->p.queues; qi++)
    if (refill_mask & (1ull << qi))
      kick(&d->q[qi]);
  if (d->npend)
    simk_event_notify(d->recv_ev, d->rxq_pend[d->pend_first].due_ps - now);
}

/* Copy a pending frame: its fields and the fragments in use (at least the
 * first), not the room for NIC_MAX_DESC_PER_FRAME of them. */
static void pend_copy(struct pending_rx *dst, const struct pending_rx *src) {
  uint32_t n = src->nfrags ? src->nfrags : 1;
  if (n > NIC_MAX_DESC_PER_FRAME)
    n = NIC_MAX_DESC_PER_FRAME;
  memcpy(dst, src, offsetof(struct pending_rx, frags) + n * sizeof src->frags[0]);
}

/* Queue for later consumption (due times are in order: one delay for all).
 * 0, or -1 when host memory runs out (then the caller consumes at once). */
static int pend_push(struct driver *d, const struct pending_rx *pr) {
  if (d->npend == d->pend_cap) {
    size_t ncap = d->pend_cap ? d->pend_cap * 2 : 64;
    struct pending_rx *n = malloc(ncap * sizeof *n);
    if (!n)
      return -1;
    for (size_t i = 0; i < d->npend; i++)
      pend_copy(&n[i], &d->rxq_pend[(d->pend_first + i) % d->pend_cap]);
    free(d->rxq_pend);
    d->rxq_pend = n;
    d->pend_cap = ncap;
    d->pend_first = 0;
  }
  pend_copy(&d->rxq_pend[(d->pend_first + d->npend) % d->pend_cap], pr);
  d->npend++;
  if (!simk_event_pending(d->recv_ev))
    simk_event_notify(d->recv_ev, pr->due_ps - simk_now_ps());
  return 0;
}

/* A principal with a read-write mapping changes the packet the stack just
 * validated (before the recipient reads it). */
static void hostile_writes(struct driver *d, const struct pending_rx *pr) {
  unsigned n = d->nuw;
  int design_writer = d->p.app_hostile_write;
  if (!n && !design_writer)
    return;
  const struct frag *fr = &pr->frags[0];
  uint32_t off = pr->skip < fr->len ? pr->skip : 0;
  uint64_t at = frag_paddr(fr) + off;
  for (unsigned i = 0; i < n + (unsigned)design_writer; i++) {
    unsigned who = i < n ? d->uw[i].principal : d->p.app;
    uint32_t len = i < n ? d->uw[i].len : 16;
    if (len > fr->len - off)
      len = fr->len - off;
    if (!len)
      continue;
    static uint8_t evil[4096];
    memset(evil, 0x58, sizeof evil);
    struct mem_accessor ua = {.actor = MEM_ACTOR_USER, .id = (uint16_t)who};
    struct mem_prov up = {.kind = MEM_LABEL_USER, .principal = (uint8_t)who, .packet = UINT64_MAX};
    int rc = mem_write(d->m, ua, at, evil, len, &up);
    if (rc)
      d->st.user_write_faults++;
    else
      d->st.user_writes++;
    if (i < n && d->effect) {
      char text[200];
      const struct mem_label *l = mem_label(d->m, mem_peek_label_id(d->m, at));
      (void)l;
      snprintf(text, sizeof text, "principal %u %s %u bytes of a validated packet in page 0x%llx%s", who,
               rc ? "tried to overwrite" : "overwrote", len, (unsigned long long)fr->b.pfn,
               rc ? ": refused, its mapping is read-only (or absent)" : "");
      d->effect(d->effect_ctx, d->uw[i].tag, UINT64_MAX, text);
    }
  }
  d->nuw = 0;
}

void driver_set_xdp(struct driver *d, const struct driver_xdp_prog *x) {
  if (x)
    d->xdp = *x;
  else
    memset(&d->xdp, 0, sizeof d->xdp);
}

void driver_set_effect_cb(struct driver *d, driver_effect_fn fn, void *ctx) {
  d->effect = fn;
  d->effect_ctx = ctx;
}

int driver_arm_user_write(struct driver *d, unsigned principal, uint32_t len, void *tag) {
  if (d->nuw == sizeof d->uw / sizeof d->uw[0])
    return -1;
  d->uw[d->nuw].principal = principal;
  d->uw[d->nuw].len = len;
  d->uw[d->nuw].tag = tag;
  d->nuw++;
  return 0;
}

void driver_set_hoard(struct driver *d, unsigned principal, void *tag) {
  d->hoard = (int)principal;
  d->hoard_tag = tag;
  if (d->effect) {
    char text[160];
    snprintf(text, sizeof text, "principal %u stops returning zero-copy pages from %.3f us on", principal,
             (double)simk_now_ps() / 1e6);
    d->effect(d->effect_ctx, tag, UINT64_MAX, text);
  }
}

/* Hand a buffer to principal `who` in place (XDP_REDIRECT to it, or a zcrx
 * payload): it reads what it was given, keeps the buffer for its hold time
 * (app.hold_us for the application), then gives it back. A page mapped per
 * packet is mapped at the first buffer of it the principal holds. */
static void hand_over(struct driver *d, struct rxq *q, const struct frag *fr, uint32_t wire_bytes, unsigned who) {
  uint64_t pfn = fr->b.pfn;
  const struct zc_user *zu = &d->zu[who];
  if (d->app_refs[pfn]++ == 0) {
    mem_page_set_holder(d->m, pfn, (int)who);
    if (zu->map_per_packet && fr->b.src != BUF_UMEM) {
      mem_page_map(d->m, pfn, who, (enum mem_map_mode)zu->map_mode);
      cpu_charge(d->cpu, CPU_MAP, d->cpu->costs.user_map);
      d->st.app_maps++;
    }
  }
  if (fr->b.src == BUF_UMEM) {
    d->umem->held++;
    d->st.rx_ring++;
  }
  user_read_zero_copy(d->users[who], frag_paddr(fr), fr->len, wire_bytes);
  if (d->hoard == (int)who) {
    /* It never gives the buffer back. */
    d->st.pages_hoarded++;
    return;
  }
  if (zu->hold_ps == 0 || hold_page(d, q->index, who, &fr->b)) {
    struct held_page h = {.queue = q->index, .principal = who, .b = fr->b, .return_ps = simk_now_ps()};
    app_return(d, &h);
  }
}

/* The whole frame goes to principal `who` in place. */
static void hand_over_frame(struct driver *d, struct rxq *q, uint32_t total, unsigned who) {
  d->st.zc_packets++;
  for (uint32_t i = 0; i < q->nfrags; i++)
    hand_over(d, q, &q->frags[i], i == 0 ? total : 0, who);
  d->st.delivered_packets++;
  d->st.delivered_bytes += total;
  d->st.last_delivery_ps = simk_now_ps();
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
static void account_umem(struct driver *d, const struct frag *fr) {
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
static int copy_out(struct driver *d, struct rxq *q) {
  uint32_t copied = 0;
  for (uint32_t i = 0; i < q->nfrags; i++) {
    struct frag *fr = &q->frags[i];
    if (fr->b.src != BUF_UMEM)
      continue;
    uint64_t pfn, iova;
    if (page_pool_alloc(q->pool, &pfn, &iova)) {
      for (uint32_t j = 0; j < q->nfrags; j++)
        release(d, q->index, &q->frags[j].b, REL_NAPI);
      d->st.copy_out_drops++;
      return -1;
    }
    struct buf kb = {.pfn = pfn, .base = 0, .truesize = MEM_PAGE_SIZE, .headroom = (uint16_t)d->headroom,
                     .src = BUF_POOL};
    if (fr->len) {
      mem_copy(d->m, kcpu, buf_data(&kb), frag_paddr(fr), fr->len);
      cpu_charge(d->cpu, CPU_COPY, cpu_copy_cycles(&d->cpu->costs, fr->len));
    }
    release(d, q->index, &fr->b, REL_NAPI);
    fr->b = kb;
    copied += fr->len;
  }
  d->st.copy_out_packets++;
  d->st.copy_out_bytes += copied;
  return 0;
}

static void release_frame(struct driver *d, struct rxq *q) {
  for (uint32_t i = 0; i < q->nfrags; i++)
    release(d, q->index, &q->frags[i].b, 0);
}

/* XDP_REDIRECT to a principal that has no zero-copy memory on this queue:
 * an AF_XDP socket in copy mode (XDP_COPY: xsk_rcv -> __xsk_rcv copies the
 * frame into the socket's UMEM, then the driver's buffer is freed). The whole
 * frame, headers included, is copied into the principal's own memory (its
 * socket buffer pages stand for its UMEM) and the buffers go back at once. */
static void redirect_copy(struct driver *d, struct rxq *q, unsigned to, uint64_t hdr_pa, uint32_t total) {
  struct user *u = d->users[to];
  uint32_t wire = total;
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.sock_deliver); /* RX ring entry, wakeup */
  if (q->split && q->hdr_len) {
    user_deliver_copy(u, hdr_pa, q->hdr_len, wire);
    wire = 0;
  }
  for (uint32_t i = 0; i < q->nfrags; i++)
    if (q->frags[i].len) {
      user_deliver_copy(u, frag_paddr(&q->frags[i]), q->frags[i].len, wire);
      wire = 0;
    }
  release_frame(d, q);
  d->st.xdp_redirect_copy++;
  d->st.delivered_packets++;
  d->st.delivered_bytes += total;
  d->st.last_delivery_ps = simk_now_ps();
}

/* Run XDP on the frame being received: the configured program, or the
 * default one (a frame whose owner gets this queue's buffers zero-copy,
 * to_zc, redirected to it; the rest passed). Returns 1
 * when the verdict finished the frame (dropped, redirected), 0 when it goes
 * up the stack (XDP_PASS: on the AF_XDP queue, copied out of the UMEM into a
 * kernel page first, as the zero-copy drivers' XDP_PASS path does). */
static int run_xdp(struct driver *d, struct rxq *q, const struct driver_pkt *pk, uint64_t hdr_pa,
                   uint32_t first_len, uint32_t total, int to_zc) {
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.xdp_run);
  d->st.xdp_runs++;
  int act = to_zc ? DRIVER_XDP_REDIRECT : DRIVER_XDP_PASS;
  unsigned to = to_zc ? pk->owner : d->p.app;
  if (d->xdp.run) {
    /* The program sees the frame's first buffer (xdp_buff data..data_end). */
    uint32_t n = first_len < sizeof d->xdp_buf ? first_len : (uint32_t)sizeof d->xdp_buf;
    mem_read(d->m, kcpu, hdr_pa, d->xdp_buf, n);
    uint32_t rules = 0;
    act = d->xdp.run(d->xdp.ctx, d->xdp_buf, n, total, pk, &to, &rules);
    cpu_charge(d->cpu, CPU_OTHER, (uint64_t)rules * d->cpu->costs.xdp_rule);
  }
  switch (act) {
  case DRIVER_XDP_DROP:
    /* XDP_DROP: the buffers go straight back (page_pool_recycle_direct in
     * NAPI context; xsk_buff_free on the AF_XDP queue). */
    d->st.xdp_drop++;
    release_frame(d, q);
    return 1;
  case DRIVER_XDP_REDIRECT:
    d->st.xdp_redirect++;
    if ((to < 64 && (q->zc_users >> to & 1)) || (to == d->p.app && q->xsk)) {
      /* The principal's memory on this queue: handed over in place. */
      d->st.xdp_redirect_in_place++;
      hand_over_frame(d, q, total, to);
    } else if (to < d->nusers && d->users[to]) {
      redirect_copy(d, q, to, hdr_pa, total);
    } else {
      d->st.xdp_redirect_failed++;
      release_frame(d, q);
    }
    return 1;
  default:
    d->st.xdp_pass++;
    if (q->xsk && copy_out(d, q))
      return 1; /* no kernel page to copy into: dropped */
    return 0;
  }
}

/* The receive-queue bytes of the socket sock (a 5-tuple hash), or NULL
 * when host memory runs out (then the socket is not accounted). */
#define DRIVER_SOCK_SLOTS (1u << 18)
static uint32_t *sock_rmem(struct driver *d, uint32_t sock) {
  if (!d->rmem && !(d->rmem = calloc(DRIVER_SOCK_SLOTS, sizeof *d->rmem)))
    return NULL;
  return &d->rmem[sock % DRIVER_SOCK_SLOTS];
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
        account_umem(d, &q->frags[i]);

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
      uint64_t skb_data = build_skb(d, hdr_pa, &q->frags[0], q->hdr_len, 1, &shinfo);
      cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.validate + d->cpu->costs.sock_deliver);
      mem_read(d->m, kcpu, skb_data, NULL, pk.hdr_len ? pk.hdr_len : hl);
      hand_over_frame(d, q, total, d->p.app);
      skb_free(d, shinfo);
      return;
    }
    /* Another flow on the queue (a misconfiguration), or a frame the device
     * did not split: its bytes are already in the application's memory;
     * the stack copies them out to a kernel buffer and goes on as usual. */
    if (copy_out(d, q))
      return;
  } else if (d->xdp.run || q->zc_users || (q->xsk && d->p.xsk_mode == DRIVER_XSK_AF_XDP)) {
    /* XDP: on the bound queue of an AF_XDP socket it runs on every frame,
     * after the device has written it into the UMEM (too late to keep it
     * out); on a zero-copy queue after the device wrote it into a page the
     * application can read. */
    if (run_xdp(d, q, &pk, hdr_pa, first_len, total, to_zc))
      return;
  }

  /* XDP_PASS / no XDP: up the stack as an skb. With a split frame the
   * headers are already in kernel memory: the head is built there. */
  uint64_t shinfo;
  uint64_t skb_data = build_skb(d, hdr_pa, &q->frags[0], q->split ? q->hdr_len : pk.hdr_len, q->split, &shinfo);
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
      release(d, q->index, &q->frags[i].b, REL_NAPI);
    return;
  }
  /* skb->truesize: the buffers, the sk_buff, and a separate head. */
  uint32_t truesize = LINUX_SKB_DATA_ALIGN(LINUX_SK_BUFF_BYTES);
  for (uint32_t i = 0; i < q->nfrags; i++)
    truesize += q->frags[i].b.truesize;
  if (d->p.skb_readonly || q->split)
    truesize += HEAD_SLOT_BYTES;
  uint32_t *rmem = sock_rmem(d, pk.sock);
  if (d->p.sock_rcvbuf_bytes && rmem && *rmem > d->p.sock_rcvbuf_bytes) {
    /* The socket's receive queue is over sk_rcvbuf: the frame is dropped at
     * the socket (net/ipv4/udp.c, __udp_enqueue_schedule_skb: rmem >
     * rcvbuf -> drop, sk_drops and UDP_MIB_RCVBUFERRORS; TCP prunes then
     * drops in tcp_try_rmem_schedule); the skb is freed in softirq and its
     * pages recycle, so a slow reader costs its own frames, not the
     * queue's descriptors. */
    d->st.sock_drops[pk.owner]++;
    d->st.sock_drop_bytes[pk.owner] += total;
    skb_free(d, shinfo);
    for (uint32_t i = 0; i < q->nfrags; i++)
      release(d, q->index, &q->frags[i].b, REL_NAPI);
    return;
  }
  if (rmem) {
    *rmem += truesize;
    if (*rmem > d->st.sock_rmem_max[pk.owner])
      d->st.sock_rmem_max[pk.owner] = *rmem;
  }
  d->st.stack_packets++;
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.sock_deliver);
  /* Queued on the socket: the stack validated these bytes and uses them
   * until the recipient's recvmsg copies the payload out. */
  struct pending_rx pr; /* not zeroed whole: only the fragments in use are read */
  memset(&pr, 0, offsetof(struct pending_rx, frags) + sizeof pr.frags[0]);
  pr.queue = q->index;
  pr.owner = pk.owner;
  pr.nfrags = q->nfrags;
  pr.skip = q->split ? 0 : pk.hdr_len;
  pr.total = total;
  pr.due_ps = simk_now_ps() + d->p.recv_delay_ps;
  pr.shinfo = shinfo;
  pr.truesize = rmem ? truesize : 0;
  pr.sock = pk.sock % DRIVER_SOCK_SLOTS;
  memcpy(pr.frags, q->frags, q->nfrags * sizeof q->frags[0]);
  for (uint32_t i = 0; i < q->nfrags; i++)
    mem_mark_add(d->m, MEM_MARK_VALIDATED, 0, frag_paddr(&q->frags[i]), q->frags[i].len);
  hostile_writes(d, &pr);
  if (d->p.recv_delay_ps == 0 || pend_push(d, &pr))
    consume(d, &pr);
}

/* One completed descriptor: part (or all) of a frame. Returns 1 at the
 * frame's end (EOP). */
static int rx_desc(struct rxq *q, const struct nic_rx_desc_wb *wb) {
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
    q->split = q->hdr_pfns && (wb->info & NIC_RXD_INFO_SPH); /* hdr_info's SPH (nic.h) */
    q->hdr_len = q->split ? (wb->info >> NIC_RXD_HDR_LEN_SHIFT) & NIC_RXD_HDR_LEN_MASK : 0;
    if (q->split && q->hdr_len > d->p.hdr_buffer_size)
      q->hdr_len = d->p.hdr_buffer_size;
    q->hdr_slot = q->ntc;
  }
  uint32_t len = wb->length <= d->p.buffer_size ? wb->length : d->p.buffer_size;
  if (q->nfrags < NIC_MAX_DESC_PER_FRAME)
    q->frags[q->nfrags++] = (struct frag){.b = b->b, .len = len};
  else
    release(d, q->index, &b->b, REL_NAPI); /* more than the device ever chains: drop the rest */
  if (!(wb->status_error & NIC_RXD_STAT_EOP))
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
  refill(q);
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
    struct nic_rx_desc_wb wb;
    mem_read(d->m, kcpu, desc_paddr(q, q->ntc), &wb, sizeof wb);
    if (!(wb.status_error & NIC_RXD_STAT_DD))
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

/* Register the application's region: its own pages (anonymous memory,
 * zero-filled before it sees them, mapped read-write into it for good), each
 * DMA-mapped for the device once (xdp_umem_reg + xp_dma_map; io_uring zcrx
 * area registration), split into chunks that all start in the fill ring, as
 * the application populates it before binding (af_xdp.rst). */
static int umem_setup(struct driver *d, char *err, size_t errlen) {
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
  struct driver *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errlen, "driver: out of memory");
    return NULL;
  }
  d->p = *p;
  d->m = m;
  d->io = io;
  d->nic = nic;
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
  d->app_ev = simk_event_new("app.return", app_tick, d);
  d->recv_ev = simk_event_new("stack.recv", recv_tick, d);
  if (!d->app_ev || !d->recv_ev)
    goto fail_mem;
  if (p->free_pages && p->kernel_reuse_pages) {
    d->kreuse = calloc(p->kernel_reuse_pages, sizeof *d->kreuse);
    if (!d->kreuse)
      goto fail_mem;
  }
  for (size_t i = 0; i < sizeof d->head_pfns / sizeof d->head_pfns[0]; i++)
    if (mem_page_alloc(m, &d->head_pfns[i]))
      goto fail_ram;

  for (unsigned qi = 0; qi < p->queues; qi++) {
    struct rxq *q = &d->q[qi];
    q->d = d;
    q->index = qi;
    q->zc_users = p->zero_copy && (p->zc_queues & (1ull << qi)) && p->app < 64 ? 1ull << p->app : 0;
    for (unsigned t = 0; t < p->ntenants; t++)
      if (p->tenants[t].principal < MEM_MAX_PRINCIPALS && (p->tenants[t].zc_queues & (1ull << qi)))
        q->zc_users |= 1ull << p->tenants[t].principal;
    char name[32];
    snprintf(name, sizeof name, "napi.q%u", qi);
    q->napi_ev = simk_event_new(name, napi_poll, q);
    snprintf(name, sizeof name, "napi.q%u.end", qi);
    q->end_ev = simk_event_new(name, poll_end, q);
    q->bufs = calloc(p->ring_size, sizeof *q->bufs);
    if (!q->napi_ev || !q->end_ev || !q->bufs)
      goto fail_mem;
    /* The ring: coherent DMA memory, zeroed (dma_alloc_coherent). */
    uint32_t ring_bytes = p->ring_size * NIC_DESC_BYTES;
    uint32_t ring_pages = (ring_bytes + MEM_PAGE_SIZE - 1) / MEM_PAGE_SIZE;
    if (mem_page_alloc_contig(m, ring_pages, &q->ring_pfn))
      goto fail_ram;
    mem_fill(m, kcpu, q->ring_pfn << MEM_PAGE_SHIFT, 0, (uint64_t)ring_pages * MEM_PAGE_SIZE, NULL);
    int64_t c = dma_map_contig(io, m, p->rid, q->ring_pfn, ring_pages,
                                 IOMMU_PERM_READ | IOMMU_PERM_WRITE, simk_now_ps(), &q->ring_iova);
    if (c < 0) {
      snprintf(err, errlen, "driver: the IOMMU cannot map the ring of queue %u", qi);
      driver_free(d);
      return NULL;
    }
    cpu_charge(cpu, CPU_IOMMU, (uint64_t)c);
    /* The device owns the ring's descriptors for good: it reads them and
     * writes them back. */
    mem_mark_add(m, MEM_MARK_GRANT, p->rid, q->ring_pfn << MEM_PAGE_SHIFT, ring_bytes);
    nic_rx_ring_setup(nic, qi, q->ring_iova, p->ring_size);

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
          driver_free(d);
          return NULL;
        }
        cpu_charge(cpu, CPU_IOMMU, (uint64_t)hc);
      }
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
    refill(q);
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
  if (d->umem) {
    free(d->umem->pfns);
    free(d->umem->iovas);
    free(d->umem->fill);
    free(d->umem->freel);
    free(d->umem);
  }
  free(d->app_refs);
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

uint32_t driver_app_refs(const struct driver *d, uint64_t pfn) {
  return pfn < d->npages ? d->app_refs[pfn] : 0;
}
