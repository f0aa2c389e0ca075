/*
 * driver.c: the RX path of a page_pool NIC driver and the stack above it.
 * See driver.h.
 */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma.h"
#include "simk.h"

#define HEAD_SLOT_BYTES 1024u /* kmalloc-1k: 512 B of headers + shared info */
#define HEAD_SLOTS 64u
#define HDR_READ_MAX 256u     /* bytes of a frame the stack parses */

struct rx_buf {
  uint64_t pfn;
  uint64_t iova; /* page IOVA */
  int posted;
};

struct held_page {
  unsigned queue;
  uint64_t pfn;
  uint64_t return_ps;
};

struct driver;

struct frag {
  uint64_t pfn;
  uint32_t len; /* bytes the device wrote at DRIVER_RX_HEADROOM */
};

/* An skb in a socket's receive queue, waiting for its recipient's recvmsg. */
struct pending_rx {
  unsigned queue;
  unsigned owner;
  uint32_t nfrags;
  uint32_t skip;   /* header bytes at the start of the first buffer */
  uint32_t total;
  uint64_t due_ps;
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
  int zc;              /* this queue's pages go zero-copy to the app */
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
};

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
static int refill_one(struct rxq *q) {
  struct driver *d = q->d;
  uint64_t pfn, iova = 0;
  if (d->p.free_pages) {
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
      page_pool_recycle(q->pool, pfn);
      return -1;
    }
    cpu_charge(d->cpu, CPU_IOMMU, (uint64_t)c);
  }
  struct rx_buf *b = &q->bufs[q->ntu];
  b->pfn = pfn;
  b->iova = iova;
  b->posted = 1;
  struct nic_rx_desc_read rd = {.pkt_addr = iova + DRIVER_RX_HEADROOM, .hdr_addr = 0};
  if (q->hdr_pfns)
    rd.hdr_addr = hdr_iova(q, q->ntu);
  struct mem_prov pd = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  /* The descriptor grants the device its buffer (and header buffer). */
  mem_mark_add(d->m, MEM_MARK_GRANT, d->p.rid, (pfn << MEM_PAGE_SHIFT) + DRIVER_RX_HEADROOM,
               d->p.buffer_size);
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

static void recycle(struct driver *d, unsigned queue, uint64_t pfn) {
  if (!d->p.free_pages) {
    page_pool_recycle(d->q[queue].pool, pfn);
    return;
  }
  d->st.pages_freed++;
  if (!d->kreuse || d->p.kernel_reuse_pages == 0) {
    mem_page_free(d->m, pfn);
    return;
  }
  /* The kernel's next allocation (a slab of objects) lands in this page. */
  mem_page_new_epoch(d->m, pfn);
  static uint8_t objs[MEM_PAGE_SIZE];
  for (uint32_t off = 0; off < MEM_PAGE_SIZE; off += 8) {
    uint64_t v = 0xffff888200000000ull | (pfn << 12) | off;
    memcpy(objs + off, &v, 8);
  }
  struct mem_prov km = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  mem_write(d->m, kcpu, pfn << MEM_PAGE_SHIFT, objs, MEM_PAGE_SIZE, &km);
  if (d->nkreuse == d->p.kernel_reuse_pages) {
    mem_page_free(d->m, d->kreuse[d->kreuse_first]);
    d->kreuse[d->kreuse_first] = pfn;
    d->kreuse_first = (d->kreuse_first + 1) % d->p.kernel_reuse_pages;
  } else {
    d->kreuse[(d->kreuse_first + d->nkreuse++) % d->p.kernel_reuse_pages] = pfn;
  }
}

/* The application gives a page back. */
static void app_return(struct driver *d, const struct held_page *h) {
  mem_page_set_holder(d->m, h->pfn, -1);
  if (d->p.app_map_per_packet) {
    mem_page_map(d->m, h->pfn, d->p.app, MEM_MAP_NONE);
    cpu_charge(d->cpu, CPU_MAP, d->cpu->costs.user_unmap);
  }
  recycle(d, h->queue, h->pfn);
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

static int hold_page(struct driver *d, unsigned queue, uint64_t pfn) {
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
  mem_page_set_holder(d->m, pfn, (int)d->p.app);
  d->held[(d->held_first + d->nheld) % d->held_cap] =
      (struct held_page){.queue = queue, .pfn = pfn, .return_ps = now + d->p.app_hold_ps};
  d->nheld++;
  if (d->nheld > d->st.pages_held_max)
    d->st.pages_held_max = d->nheld;
  if (!simk_event_pending(d->app_ev))
    simk_event_notify(d->app_ev, d->p.app_hold_ps);
  return 0;
}

/* kernel pointers as they would appear in skb_shared_info: struct page
 * pointers into the vmemmap and slab pointers into the direct map. */
static void fill_shinfo(uint8_t *si, uint64_t frag_pfn, uint32_t frag_off, uint32_t frag_len,
                        uint64_t seq) {
  memset(si, 0, DRIVER_SHINFO_BYTES);
  si[2] = frag_len ? 1 : 0; /* nr_frags */
  uint64_t frag_list = 0;
  uint64_t destructor_arg = 0xffff888100000000ull | (seq << 8);
  uint64_t page_ptr = 0xffffea0000000000ull + frag_pfn * 64;
  memcpy(si + 8, &frag_list, 8);
  memcpy(si + 32, &destructor_arg, 8);
  memcpy(si + 48, &page_ptr, 8); /* frags[0].bv_page */
  memcpy(si + 56, &frag_len, 4);
  memcpy(si + 60, &frag_off, 4);
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
 * skb->data (the headers). A separate head is used in read-only mode, and
 * whenever the headers are not in the packet page (header split). */
static uint64_t build_skb(struct driver *d, uint64_t hdr_pa, uint64_t pfn, uint32_t first_len,
                          uint32_t hdr_len, int separate_head) {
  uint8_t si[DRIVER_SHINFO_BYTES];
  uint64_t index = packet_at(d, hdr_pa);
  struct mem_prov pk = {.kind = MEM_LABEL_KERNEL_PTR, .packet = index};
  cpu_charge(d->cpu, CPU_SKB, d->cpu->costs.skb_alloc + cpu_clear_cycles(DRIVER_SHINFO_BYTES));
  if (!d->p.skb_readonly && !separate_head) {
    /* build_skb(page_address(page), PAGE_SIZE): skb_shared_info at the end
     * of the page, written by the CPU into the packet page. */
    fill_shinfo(si, 0, 0, 0, index);
    mem_write(d->m, kcpu, (pfn << MEM_PAGE_SHIFT) + MEM_PAGE_SIZE - DRIVER_SHINFO_BYTES, si,
              sizeof si, &pk);
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
  fill_shinfo(si, pfn, DRIVER_RX_HEADROOM + frag_off, first_len > frag_off ? first_len - frag_off : 0,
              index);
  mem_write(d->m, kcpu, head + HEAD_SLOT_BYTES - DRIVER_SHINFO_BYTES, si, sizeof si, &pk);
  return head;
}

static uint64_t frag_paddr(const struct frag *fr) {
  return (fr->pfn << MEM_PAGE_SHIFT) + DRIVER_RX_HEADROOM;
}

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
  for (uint32_t i = 0; i < pr->nfrags; i++) {
    mem_mark_remove(d->m, MEM_MARK_VALIDATED, 0, frag_paddr(&pr->frags[i]), pr->frags[i].len);
    recycle(d, pr->queue, pr->frags[i].pfn);
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

/* Queue for later consumption (due times are in order: one delay for all).
 * 0, or -1 when host memory runs out (then the caller consumes at once). */
static int pend_push(struct driver *d, const struct pending_rx *pr) {
  if (d->npend == d->pend_cap) {
    size_t ncap = d->pend_cap ? d->pend_cap * 2 : 64;
    struct pending_rx *n = malloc(ncap * sizeof *n);
    if (!n)
      return -1;
    for (size_t i = 0; i < d->npend; i++)
      n[i] = d->rxq_pend[(d->pend_first + i) % d->pend_cap];
    free(d->rxq_pend);
    d->rxq_pend = n;
    d->pend_cap = ncap;
    d->pend_first = 0;
  }
  d->rxq_pend[(d->pend_first + d->npend) % d->pend_cap] = *pr;
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
               rc ? "tried to overwrite" : "overwrote", len, (unsigned long long)fr->pfn,
               rc ? ": refused, its mapping is read-only (or absent)" : "");
      d->effect(d->effect_ctx, d->uw[i].tag, UINT64_MAX, text);
    }
  }
  d->nuw = 0;
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

  if (q->zc) {
    cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.xdp_run);
    if (!pk.to_kernel && pk.owner == d->p.app && d->p.app < d->nusers && d->users[d->p.app]) {
      /* XDP_REDIRECT to the application: the pages are handed over; it
       * reads what it was given (headers stay behind in a split frame). */
      d->st.zc_packets++;
      for (uint32_t i = 0; i < q->nfrags; i++) {
        uint64_t pfn = q->frags[i].pfn;
        if (d->p.app_map_per_packet) {
          mem_page_map(d->m, pfn, d->p.app, (enum mem_map_mode)d->p.app_map_mode);
          cpu_charge(d->cpu, CPU_MAP, d->cpu->costs.user_map);
        }
        user_read_zero_copy(d->users[d->p.app], frag_paddr(&q->frags[i]), q->frags[i].len,
                            i == 0 ? total : 0);
        if (d->hoard == (int)d->p.app) {
          /* It never gives the page back. */
          mem_page_set_holder(d->m, pfn, (int)d->p.app);
          d->st.pages_hoarded++;
          continue;
        }
        if (d->p.app_hold_ps == 0 || hold_page(d, q->index, pfn)) {
          struct held_page h = {.queue = q->index, .pfn = pfn, .return_ps = simk_now_ps()};
          app_return(d, &h);
        }
      }
      d->st.delivered_packets++;
      d->st.delivered_bytes += total;
      d->st.last_delivery_ps = simk_now_ps();
      return;
    }
  }

  /* XDP_PASS / no XDP: up the stack as an skb. With a split frame the
   * headers are already in kernel memory: the head is built there. */
  uint64_t skb_data = build_skb(d, hdr_pa, q->frags[0].pfn, q->frags[0].len,
                                q->split ? q->hdr_len : pk.hdr_len, q->split);
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.validate);
  mem_read(d->m, kcpu, skb_data, NULL, pk.hdr_len ? pk.hdr_len : hl);
  if (pk.to_kernel || pk.owner >= d->nusers || !d->users[pk.owner]) {
    d->st.kernel_packets++;
    d->st.delivered_packets++;
    d->st.delivered_bytes += total;
    d->st.last_delivery_ps = simk_now_ps();
    for (uint32_t i = 0; i < q->nfrags; i++)
      recycle(d, q->index, q->frags[i].pfn);
    return;
  }
  d->st.stack_packets++;
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.sock_deliver);
  /* Queued on the socket: the stack validated these bytes and uses them
   * until the recipient's recvmsg copies the payload out. */
  struct pending_rx pr = {.queue = q->index, .owner = pk.owner, .nfrags = q->nfrags,
                          .skip = q->split ? 0 : pk.hdr_len, .total = total,
                          .due_ps = simk_now_ps() + d->p.recv_delay_ps};
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
  mem_mark_remove(d->m, MEM_MARK_GRANT, d->p.rid, (b->pfn << MEM_PAGE_SHIFT) + DRIVER_RX_HEADROOM,
                  d->p.buffer_size);
  if (q->hdr_pfns)
    mem_mark_remove(d->m, MEM_MARK_GRANT, d->p.rid, hdr_paddr(q, q->ntc), d->p.hdr_buffer_size);
  if (d->p.dma_per_packet) {
    int64_t c = dma_unmap_page(d->io, d->m, d->p.rid, b->iova, b->pfn, simk_now_ps());
    if (c > 0)
      cpu_charge(d->cpu, CPU_IOMMU, (uint64_t)c);
  }
  if (q->nfrags == 0) {
    q->split = q->hdr_pfns && (wb->status_error & NIC_RXD_STAT_SPH);
    q->hdr_len = q->split ? (wb->info >> NIC_RXD_HDR_LEN_SHIFT) & NIC_RXD_HDR_LEN_MASK : 0;
    if (q->split && q->hdr_len > d->p.hdr_buffer_size)
      q->hdr_len = d->p.hdr_buffer_size;
    q->hdr_slot = q->ntc;
  }
  uint32_t len = wb->length <= d->p.buffer_size ? wb->length : d->p.buffer_size;
  if (q->nfrags < NIC_MAX_DESC_PER_FRAME)
    q->frags[q->nfrags++] = (struct frag){.pfn = b->pfn, .len = len};
  else
    recycle(d, q->index, b->pfn); /* more than the device ever chains: drop the rest */
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
  d->cpu->busy_until_ps = now + cpu_cycles_ps(d->cpu, cpu_total(d->cpu) - before);
  if (q->more)
    simk_event_notify(q->napi_ev, d->cpu->busy_until_ps - now);
  else
    nic_irq_enable(d->nic, q->index);
}

static void napi_poll(void *arg) {
  struct rxq *q = arg;
  struct driver *d = q->d;
  uint64_t now = simk_now_ps();
  if (d->cpu->busy_until_ps > now) {
    /* The core is still busy with earlier work. */
    simk_event_notify(q->napi_ev, d->cpu->busy_until_ps - now);
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
  d->cpu->busy_until_ps = now + cpu_cycles_ps(d->cpu, cpu_total(d->cpu) - before);
  q->more = done == d->p.napi_budget;
  simk_event_notify(q->end_ev, d->cpu->busy_until_ps - now);
}

void driver_irq(struct driver *d, unsigned queue) {
  if (queue < d->p.queues && !simk_event_pending(d->q[queue].napi_ev))
    simk_event_notify(d->q[queue].napi_ev, 0);
}

struct driver *driver_new(const struct driver_params *p, struct mem *m, struct iommu *io,
                          struct nic *nic, struct cpu *cpu, struct user **users, unsigned nusers,
                          const struct driver_classifier *cls, char *err, size_t errlen) {
  if (p->queues == 0 || p->queues > NIC_MAX_QUEUES || p->ring_size < 2 || p->napi_budget == 0 ||
      (p->header_split && (p->hdr_buffer_size < 64 || p->hdr_buffer_size > 1024 ||
                           (p->hdr_buffer_size & (p->hdr_buffer_size - 1))))) {
    snprintf(err, errlen, "driver: bad parameters");
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
    q->zc = p->zero_copy && (p->zc_queues & (1ull << qi));
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

    struct page_pool_params pp = {
        .pages = p->pool_pages,
        .clear = p->pool_clear,
        .dma_per_packet = p->dma_per_packet,
        .rid = p->rid,
        .user_principal = (q->zc && !p->app_map_per_packet) ? (int)p->app : -1,
        .user_mode = p->app_map_mode,
    };
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
  for (unsigned i = 0; i < NIC_MAX_QUEUES; i++) {
    free(d->q[i].bufs);
    free(d->q[i].hdr_pfns);
    free(d->q[i].hdr_iovas);
    page_pool_free(d->q[i].pool);
  }
  free(d->held);
  free(d->rxq_pend);
  free(d->kreuse);
  free(d);
}

const struct driver_stats *driver_stats(const struct driver *d) { return &d->st; }

const struct page_pool_stats *driver_pool_stats(const struct driver *d, unsigned queue) {
  return queue < d->p.queues && d->q[queue].pool ? page_pool_stats(d->q[queue].pool) : NULL;
}

const struct page_pool *driver_pool(const struct driver *d, unsigned queue) {
  return queue < d->p.queues ? d->q[queue].pool : NULL;
}

int driver_pool_empty(const struct driver *d, unsigned queue) {
  return queue < d->p.queues && d->q[queue].pool && page_pool_available(d->q[queue].pool) == 0;
}
