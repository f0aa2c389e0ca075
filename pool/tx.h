/*
 * tx: the host TX path of an ixgbe-style driver and the socket layers above
 * it, in three forms:
 *
 * - TX_MODE_COPY: send(2) as Linux does it by default: the kernel copies the
 *   sender's bytes into pages of its own (tcp_sendmsg_locked /
 *   skb_copy_to_page_nocache, net/ipv4/tcp.c), netfilter checks the headers
 *   (nf_hook in ip_output, net/ipv4/ip_output.c), the driver maps the pages
 *   (dma_map_single/skb_frag_dma_map in ixgbe_tx_map,
 *   drivers/net/ethernet/intel/ixgbe/ixgbe_main.c) and posts descriptors;
 *   at the completion ixgbe_clean_tx_irq unmaps them and frees the skb
 *   (napi_consume_skb), whose pages the kernel reuses.
 * - TX_MODE_ZEROCOPY: MSG_ZEROCOPY (Linux 4.14,
 *   Documentation/networking/msg_zerocopy.rst): the sender's own pages are
 *   pinned (get_user_pages via skb_zerocopy_iter_stream/zerocopy_sg_from_iter,
 *   net/core/datagram.c) and DMA-mapped; the kernel checks the headers in
 *   place; when the skb is freed after the completion, the notification goes
 *   to the socket's error queue (sock_zerocopy_callback, net/core/skbuff.c,
 *   msg_zerocopy_callback in later kernels) and only then may the sender
 *   reuse the buffer; the pages are unpinned then.
 * - TX_MODE_AF_XDP: AF_XDP TX in zero-copy mode
 *   (Documentation/networking/af_xdp.rst, net/xdp/xsk.c): frames are read
 *   straight from the sender's UMEM, which was pinned and DMA-mapped once at
 *   registration (xp_dma_map, net/xdp/xsk_buff_pool.c); the kernel checks
 *   only the descriptor (xp_validate_desc: address and length inside the
 *   UMEM), not the headers; completions go to the completion ring
 *   (xsk_tx_completed).
 * - TX_MODE_PAGE_POOL: the TX page_pool Brouer proposes in the RX zero-copy
 *   memory-model thread ("an application/socket will be the starting point,
 *   and simply have associated a page_pool for TX, solving the VMA mapping
 *   overhead"): each sender's send buffers are pages of a page_pool of its
 *   socket, DMA-mapped once when the pool fills (page_pool_dma_map under
 *   PP_FLAG_DMA_MAP, net/core/page_pool.c) and mapped into the sender for
 *   good. A send takes a page from the pool (page_pool_alloc_pages' cache),
 *   the sender writes its frame there, netfilter checks the headers in place;
 *   nothing is pinned (get_user_pages), copied or DMA-mapped per send. At the
 *   completion the page is recycled into the pool (page_pool_put_page), its
 *   mapping kept. tx.protect_inflight write-protects a page while it is in
 *   flight (the skb-read-only-page mode) until it is recycled; recycling it
 *   before the completion (tx.wait_completion false) hands it back writable.
 *
 * Per queue: a TX descriptor ring (82599 advanced data descriptors) in
 * coherent DMA memory, completions by DD write-back or head write-back,
 * cleaning on the completion interrupt. Every step charges the modelled
 * core. What the kernel grants the device (the buffers of a posted
 * descriptor, the ring), the pages it has mapped, and the header bytes it
 * checked are recorded in memory as facts for the checker; which principal's
 * send posted each descriptor is kept here (tx_sender).
 */
#ifndef NICSIM_TX_H
#define NICSIM_TX_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "iommu.h"
#include "mem.h"
#include "nic.h"

enum tx_mode { TX_MODE_COPY = 0, TX_MODE_ZEROCOPY, TX_MODE_AF_XDP, TX_MODE_PAGE_POOL };

#define TX_BUF_PAGES 4u /* pages per send buffer: frames up to 16 KiB */

struct tx_params {
  uint32_t queues;
  uint32_t ring_size;       /* descriptors per TX ring (power of two) */
  uint16_t rid;
  uint8_t mode;             /* enum tx_mode */
  int wait_completion;      /* 1: a buffer is let go only after its completion; 0: as soon as
                               it is posted (the driver frees the kernel's pages, or the sender
                               reuses its own buffer without waiting for the notification) */
  int protect_inflight;     /* zerocopy, af_xdp, page_pool: the sender's pages are read-only to
                               it while the device may read them */
  int head_writeback;       /* completions by head write-back instead of DD */
  uint32_t buffers;         /* send buffers per principal (each TX_BUF_PAGES pages) */
  unsigned nprincipals;
  const char *const *names; /* the principals' names by id (nprincipals of them), for effect
                               texts; NULL: "principal ID" */
  uint32_t kernel_reuse_pages; /* freed pages the kernel keeps for its own data before freeing them */
};

/* One frame to send, as the capture has it. */
struct tx_frame {
  const uint8_t *data;
  uint32_t caplen, wire_len, hdr_len, flow;
  uint64_t index;
};

struct tx_queue_stats {
  uint64_t posted, posted_bytes; /* frames posted to the ring */
  uint64_t completed;            /* frames cleaned after their completion */
  uint64_t ring_full;            /* sends refused: no free descriptors (NETDEV_TX_BUSY) */
  uint64_t irqs;                 /* completion interrupts handled */
};

struct tx_stats {
  uint64_t sends;            /* frames the senders handed to the path */
  uint64_t no_buffer;        /* sends refused: the sender had no free buffer (ENOBUFS) */
  uint64_t copies, copy_bytes;
  uint64_t pins, dma_maps, dma_unmaps;
  uint64_t validated;        /* frames whose headers the kernel checked (netfilter) */
  uint64_t notifications;    /* MSG_ZEROCOPY error-queue notifications, AF_XDP completions */
  uint64_t early_releases;   /* buffers let go before their completion */
  uint64_t user_writes, user_write_faults; /* writes into buffers in flight, refused ones */
  uint64_t cycles;           /* CPU cycles of the TX path */
};

typedef void (*tx_effect_fn)(void *ctx, void *tag, uint64_t packet, const char *effect);

struct tx;

/* NULL with err filled. */
struct tx *tx_new(const struct tx_params *p, struct mem *m, struct iommu *io, struct nic *nic, struct cpu *cpu,
                  char *err, size_t errlen);
void tx_free(struct tx *t);

/* principal sends f on queue: it writes the frame into one of its buffers,
 * the kernel takes it down its path and posts it. 0, or -1 when it was
 * refused (no buffer, ring full, no page or mapping). */
int tx_send(struct tx *t, unsigned principal, unsigned queue, const struct tx_frame *f);
/* The queue's completion interrupt: clean what the device reports done. */
void tx_irq(struct tx *t, unsigned queue);
/* The principal whose send posted descriptor desc of queue, and the frame's
 * trace index (a kernel fact, kept whatever happened to the buffer). 0 or -1. */
int tx_sender(const struct tx *t, unsigned queue, uint32_t desc, unsigned *principal, uint64_t *packet);

/* Fault hook: at principal's next send, after the kernel's checks and
 * before the device reads the frame, the principal writes len bytes over the
 * start of its buffer (the headers). */
int tx_arm_user_write(struct tx *t, unsigned principal, uint32_t len, void *tag);
void tx_set_effect_cb(struct tx *t, tx_effect_fn fn, void *ctx);

const struct tx_stats *tx_stats(const struct tx *t);
const struct tx_queue_stats *tx_queue_stats(const struct tx *t, unsigned queue);

#endif
