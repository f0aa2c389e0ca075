/*
 * skb: the skbs the stack builds over received frames (pool/ only): where
 * skb->data and skb_shared_info live (in the packet page, or in a separate
 * kernel head), what the shared info holds (kernel pointers), and how long
 * it stays live.
 */
#ifndef NICSIM_SKB_H
#define NICSIM_SKB_H

#include "driver_priv.h"

/* Allocate the heads' slab at driver creation. 0, or -1 when RAM runs out. */
int skb_heads_setup(struct driver *d);
/* Build the skb over a frame whose headers (hdr_len bytes) are at hdr_pa and
 * whose first buffer is first; in a separate head when separate_head or in
 * read-only mode. Returns the physical address of skb->data; *shinfo is
 * where its skb_shared_info is, live until skb_free. From the NAPI poll. */
uint64_t skb_build(struct driver *d, uint64_t hdr_pa, const struct frag *first, uint32_t hdr_len, int separate_head,
                   uint64_t *shinfo);
/* kfree_skb / consume_skb: the shared info at shinfo is dead memory now. */
void skb_free(struct driver *d, uint64_t shinfo);

#endif
