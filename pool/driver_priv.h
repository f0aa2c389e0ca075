/*
 * driver_priv.h: the driver's state, shared by the files of pool/ that
 * implement it (driver.c assembles it, rx_ring.c runs the ring and NAPI,
 * skb.c builds skbs, rx_xdp.c runs XDP, umem.c keeps the application's RX
 * region, sock.c queues skbs on sockets, user.c is the principals' side of
 * zero copy). Only pool/ files include it; the rest of the system uses
 * driver.h.
 */
#ifndef NICSIM_DRIVER_PRIV_H
#define NICSIM_DRIVER_PRIV_H

#include "driver.h"
#include "rx_desc.h"
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
  const struct rx_desc_ops *desc; /* the device's RX descriptor format */
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
    /* per page frame: buffers of it this principal holds now; each
     * principal's mapping of a page is its own (at most a page's
     * fragments) */
    uint8_t *refs;
  } zu[MEM_MAX_PRINCIPALS];
  /* per page frame: buffers of it the zero-copy principals hold now, all together */
  uint32_t *app_refs;
  uint64_t npages;
  /* a configured XDP program (run NULL: the default program) and the bytes
   * it sees of the current frame */
  struct driver_xdp_prog xdp;
  uint8_t xdp_buf[MEM_PAGE_SIZE];
};

static const struct mem_accessor kcpu = {.actor = MEM_ACTOR_KERNEL, .id = 0};

static inline uint64_t buf_data(const struct buf *b) {
  return (b->pfn << MEM_PAGE_SHIFT) + b->base + b->headroom;
}

static inline uint64_t frag_paddr(const struct frag *fr) { return buf_data(&fr->b); }

/* Who lets go of a buffer, which decides where a page_pool page goes: only
 * the NAPI poll of the page's own queue may recycle directly into the alloc
 * cache (page_pool_put_page's allow_direct: XDP verdicts and skbs the stack
 * consumes within the poll); a socket's recvmsg (process context, later)
 * and the application returning a zero-copy buffer go through the ring. */
enum rel_ctx { REL_NAPI = 0, REL_RECVMSG, REL_APP };

#endif
