/*
 * rx_ring: an RX queue's descriptor ring and its NAPI poll (pool/ only).
 *
 * The ring is set up once; refilled with buffers at the end of each poll
 * (and at start); the poll takes completed descriptors, gathers each frame's
 * buffers up to EOP and hands the frame to the stack: the application's
 * region (umem.h), XDP (rx_xdp.h), an skb (skb.h), a socket (sock.h) or a
 * principal in place (user.h). Buffers the driver or the stack let go of
 * come back here.
 */
#ifndef NICSIM_RX_RING_H
#define NICSIM_RX_RING_H

#include "driver_priv.h"

/* Ring, header buffers and NAPI events of queue q (q->d and q->index set).
 * 0, or -1 with err filled. */
int rx_ring_setup(struct rxq *q, char *err, size_t errlen);
/* Post buffers until the ring is full or the pool is empty, then write the
 * tail. From the queue's NAPI poll (or setup). */
void rx_ring_refill(struct rxq *q);
/* Pages came back outside the poll: make sure a NAPI poll runs to refill. */
void rx_ring_kick(struct rxq *q);
/* A buffer let go of in context ctx: its page back to the pool (or freed),
 * or its chunk back to the application's region. */
void rx_buf_release(struct driver *d, unsigned queue, const struct buf *b, enum rel_ctx ctx);
/* Every buffer of the frame being received, from the NAPI poll. */
void rx_frame_release(struct driver *d, struct rxq *q);

#endif
