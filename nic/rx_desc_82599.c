/*
 * rx_desc_82599.c: the RX descriptor interface (rx_desc.h) over the 82599's
 * advanced descriptors (nic.h; datasheet 7.1.6.1 read format, 7.1.6.2
 * write-back), as ixgbe reads them: DD and EOP in status_error
 * (ixgbe_test_staterr, IXGBE_RXD_STAT_DD / IXGBE_RXD_STAT_EOP), the length
 * in wb.upper.length, SPH and HDR_LEN in hdr_info (ixgbe_main.c's
 * packet-split path), the RSS hash in wb.lower.hi_dword.rss (ixgbe_rx_hash).
 */
#include <string.h>

#include "nic.h"
#include "rx_desc.h"

static void post_82599(void *desc, uint64_t pkt_iova, uint64_t hdr_iova) {
  struct nic_rx_desc_read rd = {.pkt_addr = pkt_iova, .hdr_addr = hdr_iova};
  memcpy(desc, &rd, sizeof rd);
}

static int done_82599(const void *desc, struct rx_desc_done *out) {
  struct nic_rx_desc_wb wb;
  memcpy(&wb, desc, sizeof wb);
  if (!(wb.status_error & NIC_RXD_STAT_DD))
    return 0;
  out->length = wb.length;
  out->split = (wb.info & NIC_RXD_INFO_SPH) != 0;
  out->hdr_len = out->split ? (wb.info >> NIC_RXD_HDR_LEN_SHIFT) & NIC_RXD_HDR_LEN_MASK : 0;
  out->rss_hash = wb.rss_hash;
  out->eop = (wb.status_error & NIC_RXD_STAT_EOP) != 0;
  return 1;
}

const struct rx_desc_ops nic_82599_rx_desc_ops = {
    .name = "82599 advanced",
    .desc_bytes = NIC_DESC_BYTES,
    .post = post_82599,
    .done = done_82599,
};

const struct rx_desc_ops *nic_rx_desc_ops(const struct nic *n) {
  (void)n;
  return &nic_82599_rx_desc_ops;
}
