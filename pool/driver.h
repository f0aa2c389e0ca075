/*
 * driver: the host RX path of a page_pool driver (ixgbe/i40e style) and the
 * network stack above it.
 *
 * Per queue: a descriptor ring in coherent DMA memory, a page_pool, NAPI
 * polling with a budget, ring refill. Per frame: read the completed
 * descriptor, (per_packet mapping: unmap the buffer), run XDP (in a
 * zero-copy design the application's packets are redirected to it: the page
 * is handed over, mapped into the application per packet or already mapped
 * for the pool's life), otherwise build an skb in writable mode
 * (skb_shared_info written at the end of the page, kernel-private) or
 * read-only mode (headers copied into a separate kernel head with the
 * shared info, frags pointing into the page), validate the headers and copy
 * the payload into the owning principal's socket; then recycle the page.
 * Every step charges the modelled core.
 *
 * Page pool fragments (frag): several buffers per page, carved by
 * page_pool_alloc_frag; writable skbs put skb_shared_info at the end of the
 * fragment (build_skb over the fragment's truesize).
 *
 * Application memory as RX buffers (xsk): one queue's buffers come from a
 * region of the application's own pages instead of the page_pool:
 * - DRIVER_XSK_AF_XDP: an AF_XDP zero-copy socket's UMEM
 *   (Documentation/networking/af_xdp.rst, net/xdp/xsk_buff_pool.c): chunks
 *   come from the fill ring the application refills; XDP redirects the
 *   application's frames to the socket's RX ring in place; XDP_PASS copies
 *   the frame into a kernel page (a page_pool of the queue's own) and frees
 *   the chunk at once (xsk_buff_free);
 * - DRIVER_XSK_ZCRX: header/data split zero-copy RX (devmem TCP,
 *   io_uring zcrx: Documentation/networking/devmem.rst, iou-zcrx.rst): payload
 *   buffers in the application's area, headers in kernel header buffers; the
 *   stack parses the headers in kernel memory and hands the application its
 *   payload in place; another flow's payload is copied out to a kernel page.
 *
 * The implementation is split by job (docs/design.md, "The driver by job"):
 * driver.c assembles it; rx_ring.c (ring, refill, NAPI, descriptors through
 * the device's rx_desc_ops), skb.c, rx_xdp.c, umem.c, sock.c and user.c run
 * it, sharing the state in driver_priv.h.
 */
#ifndef NICSIM_DRIVER_H
#define NICSIM_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "iommu.h"
#include "linux_layout.h"
#include "mem.h"
#include "nic.h"
#include "page_pool.h"
#include "user.h"

#define DRIVER_SHINFO_BYTES LINUX_SHINFO_BYTES /* SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) */

/* What the stack learns of a frame from its headers: parsed once, by the
 * classifier, and passed on (to XDP, to the socket layer). */
struct driver_pkt {
  uint32_t flow;     /* flow id in the trace's flow table, or UINT32_MAX */
  unsigned owner;    /* principal whose socket receives it */
  uint32_t hdr_len;  /* bytes of headers up to the L4 payload */
  int to_kernel;     /* 1: consumed by the kernel (ARP...), not a socket */
  uint32_t sock;     /* the receiving socket: a hash of the 5-tuple (not the flow
                        table's id, which a bounded table may merge) */
  int has_key;       /* 1: key holds the frame's outer tuple (at least Ethernet parsed) */
  struct flow_key key;
};

struct driver_classifier {
  void *ctx;
  /* Classify frame[0..len) (headers as read from memory). Called from the
   * queue's NAPI poll (softirq context, simulated time stands still); it may
   * only read the bytes it is given and fill *out. 0, or -1 when the frame
   * is not recognised (then it goes to the kernel). */
  int (*classify)(void *ctx, const uint8_t *frame, uint32_t len, struct driver_pkt *out);
};

/* The XDP program, when the scenario configures one (xdp.rules). Without
 * it the driver runs its default program where the design runs XDP (the
 * zero-copy queues, the AF_XDP-bound queue): the application's frames are
 * redirected to it in place, every other frame passes. With it, the program
 * is attached to the device and runs on every queue (the zcrx-bound queue
 * excepted: Linux refuses both on one device). */
enum driver_xdp_act { DRIVER_XDP_PASS = 0, DRIVER_XDP_DROP, DRIVER_XDP_REDIRECT };

struct driver_xdp_prog {
  void *ctx;
  /* Run the program on one frame: frame[0..caplen) are the bytes it sees
   * (the first buffer, or the header buffer of a split frame), wire_len the
   * frame's bytes, pk what the stack's parse found (its key is the tuple the
   * program matches: the frame is parsed once). Called from the queue's NAPI
   * poll; it may only decide. Returns an enum driver_xdp_act; *to is the
   * principal of a redirect, *rules the rules tried (each charged cpu
   * costs.xdp_rule). */
  int (*run)(void *ctx, const uint8_t *frame, uint32_t caplen, uint32_t wire_len,
             const struct driver_pkt *pk, unsigned *to, uint32_t *rules);
};

/* A principal other than the application that receives its packets zero
 * copy (a scenario's `principals:` entry with delivery zero_copy): the page
 * pools of its queues are mapped into it, and on those queues the default
 * XDP program hands its frames to it in place. It returns each buffer at
 * once (no hold time) and writes nothing. */
struct driver_tenant {
  unsigned principal;
  uint64_t zc_queues;       /* bit per queue whose pool it gets */
  uint8_t map_mode;         /* MEM_MAP_RO or MEM_MAP_RW */
  int map_per_packet;       /* 1: map at hand-over, unmap at return */
};

struct driver_params {
  uint32_t queues;
  uint32_t ring_size;
  uint32_t buffer_size;
  int skb_readonly;         /* 0: writable (build_skb), 1: read-only */
  int dma_per_packet;       /* 0: page_pool keeps mappings; 1: per buffer */
  uint32_t pool_pages;       /* most pages a queue's pool has at once; 0: no cap */
  uint32_t pool_cache_size;  /* alloc cache per pool (0: 128) */
  uint32_t pool_ring_size;   /* recycle ring per pool (0: 1024) */
  uint8_t pool_clear;       /* enum pp_clear */
  uint32_t napi_budget;     /* 64 */
  int header_split;         /* post a header buffer with each descriptor */
  uint32_t hdr_buffer_size; /* bytes per header buffer (power of two, <= 1024) */
  uint16_t rid;
  /* zero copy */
  int zero_copy;            /* 1: the application's packets go zero-copy */
  uint64_t zc_queues;       /* queues whose pools the application gets */
  unsigned app;             /* the application's principal */
  uint8_t app_map_mode;     /* MEM_MAP_RO or MEM_MAP_RW */
  int app_map_per_packet;   /* 1: map at hand-over, unmap at return */
  uint64_t app_hold_ps;     /* how long the application keeps a page */
  int app_hostile_write;    /* the application writes into every packet the stack validated */
  uint64_t recv_delay_ps;   /* from the stack's validation to the recipient's recvmsg copy */
  int free_pages;           /* legacy: fresh pages per buffer, freed after use (no page_pool) */
  uint32_t kernel_reuse_pages; /* freed pages the kernel keeps for its own data before freeing them */
  /* page_pool fragments */
  int pool_frag;            /* 1: several buffers per page (page_pool_alloc_frag) */
  /* application memory as the RX buffers of one queue */
  int xsk_mode;             /* enum driver_xsk_mode */
  unsigned xsk_queue;       /* the bound queue */
  uint32_t umem_chunk;      /* bytes per chunk (2048 or 4096) */
  uint32_t umem_pages;      /* pages of the region; 0: the ring + 50% */
  int xdp_attached;         /* an XDP program (xdp.rules) is attached to the device */
  uint32_t sock_rcvbuf_bytes; /* each socket's receive buffer (sk_rcvbuf; a socket per flow); 0: no limit */
  /* further zero-copy principals (beside the application) */
  const struct driver_tenant *tenants;
  unsigned ntenants;
  const char *const *names; /* the principals' names by id, for effect texts; NULL: "principal N" */
};

enum driver_xsk_mode { DRIVER_XSK_NONE = 0, DRIVER_XSK_AF_XDP, DRIVER_XSK_ZCRX };

/* Headroom before the packet data in each RX buffer [bytes]: XDP_PACKET_HEADROOM
 * when the device runs an XDP program (a zero-copy design redirects with
 * one, an AF_XDP socket, xdp.rules), else NET_SKB_PAD (linux_layout.h). */
uint32_t driver_rx_headroom(const struct driver_params *p);

/* The kernel's next allocation (a slab of objects, direct-map pointers)
 * lands in freed page pfn: a new epoch, the page written whole with kernel
 * metadata, live (MEM_MARK_LIVE) until the kernel frees the page again. */
void driver_kernel_reuse(struct mem *m, uint64_t pfn);

/* Fragment size for buffer_size bytes: headroom, the buffer, and (writable
 * skbs) skb_shared_info, rounded up to PP_FRAG_ALIGN. */
uint32_t driver_frag_size(uint32_t buffer_size, int skb_readonly, uint32_t headroom);

/* Fault hooks: a principal writes len bytes into the next packet the stack
 * validates (a TOCTOU attack on a shared mapping); a principal stops
 * returning pages. effect() reports what happened (tag is handed back); it
 * is called from NAPI or the principal's event and may only record. */
typedef void (*driver_effect_fn)(void *ctx, void *tag, uint64_t packet, const char *effect);

struct driver_stats {
  uint64_t polls, rx_processed, zc_packets, stack_packets, kernel_packets;
  uint64_t rx_descriptors, split_frames, multi_buffer_frames;
  uint64_t delivered_packets, delivered_bytes;
  uint64_t refill_failed, pages_held_max;
  uint64_t user_writes, user_write_faults, pages_hoarded, pages_freed;
  uint64_t last_delivery_ps;
  /* application memory as RX buffers (AF_XDP UMEM, zcrx area) */
  uint64_t fill_ring;       /* chunks the driver took from the fill ring */
  uint64_t free_list_reuse; /* chunks it took from its free list (freed by xsk_buff_free) */
  uint64_t rx_ring;         /* chunks handed to the application in place (XSK RX ring / zcrx) */
  /* chunks the application gave back after reading them: an RX chunk goes
   * back through the fill ring (xsk_ring_prod__submit on the fill ring, as
   * Documentation/networking/af_xdp.rst says); the completion ring only
   * returns TX frames the device has sent */
  uint64_t fill_ring_returns;
  uint64_t xsk_buff_free;   /* chunks the driver freed after copying the frame out */
  uint64_t copy_out_packets, copy_out_bytes; /* frames copied out of application memory */
  uint64_t copy_out_drops;  /* frames dropped: no kernel page to copy into */
  /* bytes the device wrote into application memory, by label kind (enum
   * mem_label_kind): header bytes here mean headers landed in user pages */
  uint64_t umem_written[MEM_LABEL_KIND_COUNT];
  uint64_t app_maps, app_unmaps; /* per-packet mappings made and removed */
  /* XDP verdicts (the default program's or xdp.rules') */
  uint64_t xdp_runs, xdp_pass, xdp_drop, xdp_redirect;
  uint64_t xdp_redirect_in_place; /* handed over in place (zero-copy queue, the socket's UMEM) */
  uint64_t xdp_redirect_copy;     /* copied into the principal's socket (an XSK in copy mode) */
  uint64_t xdp_redirect_failed;   /* no such socket: dropped, as xdp_do_redirect fails */
  /* by principal: frames dropped because the receive queue of its socket
   * (one per flow) was over sk_rcvbuf, their bytes, and the most bytes
   * (truesize) one of its sockets held */
  uint64_t sock_drops[MEM_MAX_PRINCIPALS], sock_drop_bytes[MEM_MAX_PRINCIPALS];
  uint64_t sock_rmem_max[MEM_MAX_PRINCIPALS];
};



struct driver;

/* users[principal] are the principals' socket sides (app and others). */
struct driver *driver_new(const struct driver_params *p, struct mem *m, struct iommu *io,
                          struct nic *nic, struct cpu *cpu, struct user **users, unsigned nusers,
                          const struct driver_classifier *cls, char *err, size_t errlen);
void driver_free(struct driver *d);

/* The NIC raised queue's interrupt: schedule its NAPI poll. */
void driver_irq(struct driver *d, unsigned queue);
/* A hint, no effect on the model: a frame for socket sock (driver_pkt's
 * sock) is on its way, so its receive-queue accounting is fetched into the
 * host's cache while the NIC and NAPI work (with many flows it is a cache
 * miss at sock_queue otherwise). */
void driver_sock_prefetch(const struct driver *d, uint32_t sock);

const struct driver_stats *driver_stats(const struct driver *d);
void driver_set_effect_cb(struct driver *d, driver_effect_fn fn, void *ctx);
/* Attach a configured XDP program (NULL: the default program). */
void driver_set_xdp(struct driver *d, const struct driver_xdp_prog *x);
int driver_arm_user_write(struct driver *d, unsigned principal, uint32_t len, void *tag);
void driver_set_hoard(struct driver *d, unsigned principal, void *tag);
/* The end of the run: destroy every queue's page_pool (page_pool_destroy:
 * what they keep is unmapped and freed; pages in flight are counted and
 * released when they come back). */
void driver_destroy_pools(struct driver *d);
const struct page_pool_stats *driver_pool_stats(const struct driver *d, unsigned queue);
const struct page_pool *driver_pool(const struct driver *d, unsigned queue);
/* 1 when the queue's page pool has no page left to post (the bound queue of
 * an application region: its fill ring and free list are empty). */
int driver_pool_empty(const struct driver *d, unsigned queue);

/* Where the chunks of the application's region are now (the sum is chunks:
 * none is ever lost). */
struct driver_umem_state {
  uint32_t chunks, fill, free_list, posted, held;
};
/* 0, or -1 when no queue uses application memory. */
int driver_umem_state(const struct driver *d, struct driver_umem_state *out);
/* Physical frame numbers of the application region's pages (count in *n), or NULL. */
const uint64_t *driver_umem_pages(const struct driver *d, uint32_t *n);
/* Buffers of page pfn the application holds now (zero copy: pages, fragments,
 * chunks); a page mapped per packet stays mapped while this is above 0. */
uint32_t driver_app_refs(const struct driver *d, uint64_t pfn);

#endif
