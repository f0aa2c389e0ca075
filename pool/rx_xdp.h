/*
 * rx_xdp: the XDP program on a received frame and what its verdict does
 * (pool/ only).
 */
#ifndef NICSIM_RX_XDP_H
#define NICSIM_RX_XDP_H

#include "driver_priv.h"

/* Run XDP on the frame being received on q (pk: the stack's parse; the
 * frame's first first_len bytes at hdr_pa; total bytes in all). to_zc: the
 * frame's owner gets q's buffers zero-copy (the default program redirects
 * it). 1 when the verdict finished the frame (dropped, redirected), 0 when
 * it goes up the stack. From the NAPI poll. */
int rx_xdp_run(struct driver *d, struct rxq *q, const struct driver_pkt *pk, uint64_t hdr_pa, uint32_t first_len,
               uint32_t total, int to_zc);

#endif
