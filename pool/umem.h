/*
 * umem: the application's region used as the RX buffers of one queue (an
 * AF_XDP UMEM or an io_uring zcrx area; pool/ only): its chunks, where each
 * one is, and the frames copied out of it.
 */
#ifndef NICSIM_UMEM_H
#define NICSIM_UMEM_H

#include "driver_priv.h"

/* Register the region (d->umem) at driver creation. 0, or -1 with err filled. */
int umem_setup(struct driver *d, char *err, size_t errlen);
void umem_free(struct umem *u);
/* A chunk for the bound queue's ring: *nb, and its page's IOVA in *iova.
 * 0, or -1 when none is free. From the NAPI poll (or setup). */
int umem_buf_alloc(struct driver *d, struct buf *nb, uint64_t *iova);
/* A chunk let go of: by the application (by_app: to the fill ring) or by
 * the driver (to its free list). */
void umem_buf_free(struct driver *d, const struct buf *b, int by_app);
/* Count what the device wrote into the chunk fr, by label kind. */
void umem_account(struct driver *d, const struct frag *fr);
/* Copy the frame being received on q out of the region into kernel pages of
 * q's page_pool and free its chunks. 0, or -1 when no kernel page is left
 * (the frame is dropped). From the NAPI poll. */
int umem_copy_out(struct driver *d, struct rxq *q);

#endif
