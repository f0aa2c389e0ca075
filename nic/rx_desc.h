/*
 * rx_desc: an RX descriptor as the driver sees it, apart from any device's
 * layout. The driver posts a buffer by writing a descriptor in the device's
 * read format and learns what the device did from the written-back one; the
 * device's model (nic/) supplies both conversions, so the driver's RX path
 * (pool/rx_ring.c) names no device's fields and another NIC can come with its
 * own ops. Both functions work on a copy of the descriptor's bytes in host
 * memory: they never touch memory themselves.
 *
 * Linux keeps these per driver (ixgbe_rx_desc / ixgbe_test_staterr /
 * ixgbe_get_headlen in drivers/net/ethernet/intel/ixgbe/ixgbe_main.c and
 * ixgbe_txrx_common.h, i40e_rx_desc in i40e_txrx.c); this interface is the
 * part of them the RX path depends on.
 */
#ifndef NICSIM_RX_DESC_H
#define NICSIM_RX_DESC_H

#include <stdint.h>

/* The largest descriptor a device may use [bytes] (82599: 16; i40e's
 * 32-byte descriptors fit too). */
#define RX_DESC_MAX_BYTES 32u

/* What a completed descriptor says. */
struct rx_desc_done {
  uint32_t length;   /* bytes the device wrote into the packet buffer */
  uint32_t hdr_len;  /* bytes it wrote into the header buffer (split frames; else 0) */
  uint32_t rss_hash; /* the frame's RSS hash */
  uint8_t eop;       /* 1: the frame's last descriptor */
  uint8_t split;     /* 1: the headers went to the header buffer */
};

struct rx_desc_ops {
  const char *name;    /* the device's descriptor format */
  uint32_t desc_bytes; /* bytes per descriptor (at most RX_DESC_MAX_BYTES) */
  /* Fill desc[0..desc_bytes) in the read format: the packet buffer's IOVA
   * and the header buffer's (0: none). */
  void (*post)(void *desc, uint64_t pkt_iova, uint64_t hdr_iova);
  /* A descriptor read back from the ring: 0 when the device has not
   * completed it yet, else 1 with *out filled. */
  int (*done)(const void *desc, struct rx_desc_done *out);
};

#endif
