/*
 * nic: the device. MAC with line timing, RX steering (ntuple / Flow Director
 * perfect-match rules with masks, then RSS over the Toeplitz hash and a
 * 128-entry indirection table, then the default queue), an on-NIC RX packet
 * buffer, RX descriptor rings in simulated memory (82599 advanced
 * descriptors) fetched in batches and written back by DMA through the DMA port,
 * header/data split, frames chained over several descriptors, a PCIe link,
 * interrupts with moderation. TX descriptor layouts are declared for the TX
 * side of later versions.
 *
 * The device never owns the clock and never prints: it is called when a frame
 * has arrived, schedules its interrupt through the simk kernel, and reaches
 * host memory only through its DMA port (dma_port.h): by IOVA, with its
 * requester id, never by physical address. Register-level interface: ring base and size, tail
 * writes, interrupt re-enable (as the driver programs RDBA/RDLEN/RDT/EIMS).
 */
#ifndef NICSIM_NIC_H
#define NICSIM_NIC_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "dma_port.h"
#include "flow.h"
#include "rx_desc.h"

/* 82599 advanced RX descriptor (datasheet 7.1.6.1), 16 bytes.
 * Read format (driver -> device): pkt_addr, hdr_addr (0 = no header buffer). */
struct nic_rx_desc_read {
  uint64_t pkt_addr;
  uint64_t hdr_addr;
};
/* Write-back format (datasheet 7.1.6.2, device -> driver). */
struct nic_rx_desc_wb {
  uint32_t info;         /* pkt_info (bits 0-15: RSS type, packet type) and hdr_info
                            (bits 16-31: HDR_LEN in 21-30, SPH in 31) */
  uint32_t rss_hash;
  uint32_t status_error; /* NIC_RXD_STAT_* */
  uint16_t length;       /* bytes written to the packet buffer by this descriptor */
  uint16_t vlan;
};
static_assert(sizeof(struct nic_rx_desc_read) == 16, "82599 RX descriptor is 16 bytes");
static_assert(sizeof(struct nic_rx_desc_wb) == 16, "82599 RX write-back is 16 bytes");

/* 82599 advanced TX data descriptor (datasheet 7.2.3.2.4), 16 bytes. */
struct nic_tx_desc_read {
  uint64_t buffer_addr;
  uint32_t cmd_type_len; /* DTALEN 0-15, DTYP 20-23, DCMD 24-31 (EOP 0x01, RS 0x08) */
  uint32_t olinfo_status; /* PAYLEN 14-31 */
};
struct nic_tx_desc_wb {
  uint64_t rsvd;
  uint32_t nxtseq_seed;
  uint32_t status; /* DD 0x01 */
};
static_assert(sizeof(struct nic_tx_desc_read) == 16, "82599 TX descriptor is 16 bytes");
static_assert(sizeof(struct nic_tx_desc_wb) == 16, "82599 TX write-back is 16 bytes");

#define NIC_TXD_CMD_EOP 0x01000000u /* in cmd_type_len: DCMD bit 0 */
#define NIC_TXD_CMD_RS 0x08000000u  /* report status: write back DD */
#define NIC_TXD_DTYP_DATA 0x00300000u
#define NIC_TXD_LEN_MASK 0xffffu
#define NIC_TXD_STAT_DD 0x01u
#define NIC_TX_PREFETCH 40u          /* 82599 TX descriptor prefetch (pcie-bench niantic notes) */

#define NIC_RXD_STAT_DD 0x01u
#define NIC_RXD_STAT_EOP 0x02u
/* Split header: bit 15 of hdr_info, the upper 16 bits of the first
 * write-back dword (Linux include/.../ixgbe_type.h: IXGBE_RXDADV_SPH 0x8000
 * in wb.lower.lo_dword.hs_rss.hdr_info, tested there by ixgbe_main.c's
 * packet-split receive path; HDR_LEN is IXGBE_RXDADV_HDRBUFLEN_MASK 0x7FE0,
 * shift 5, in the same field). Not a status_error bit. */
#define NIC_RXD_INFO_SPH 0x80000000u
#define NIC_RXD_HDR_LEN_SHIFT 21u
#define NIC_RXD_HDR_LEN_MASK 0x3ffu
#define NIC_DESC_BYTES 16u
#define NIC_RETA_SIZE 128u
#define NIC_MAX_QUEUES 64u
#define NIC_RSS_KEY_BYTES 40u
#define NIC_MAX_DESC_PER_FRAME 64u

struct nic_params {
  uint32_t queues;
  double line_rate_gbps;
  uint64_t rss_queues;      /* bit per queue spread over by the RSS table */
  unsigned default_queue;   /* non-IP frames and RSS-less traffic (0) */
  uint32_t buffer_size;     /* bytes the device may write per packet buffer */
  uint32_t mtu;             /* frames longer than mtu + 14 (+4 per VLAN tag) are dropped */
  int multi_buffer;         /* 1: a frame longer than one buffer chains over several */
  int header_split;         /* 1: headers to the header buffer, payload to the packet buffer */
  uint32_t hdr_buffer_size; /* bytes of a header buffer (split only when headers fit) */
  uint16_t rid;             /* PCIe requester id (bus:dev.fn) */
  double pcie_gbps;         /* effective DMA write bandwidth at TLP level */
  uint32_t pcie_mps;        /* max payload size of a write TLP */
  uint32_t tlp_overhead;    /* bytes per memory-write TLP (64-bit address) */
  uint32_t rx_fifo_bytes;   /* on-NIC packet buffer */
  uint64_t dma_read_ps;     /* latency of a 64 B DMA read (descriptor fetch) */
  uint32_t desc_fetch_batch;  /* descriptors fetched per read when the cache runs low */
  uint32_t wb_threshold;    /* completed descriptors written back together (WTHRESH) */
  uint64_t itr_ps;          /* minimum interval between interrupts of a queue */
};

/* calibration.md and the 82599: PCIe Gen3 x8 at about 57.9 Gb/s TLP-level
 * with MPS 256 and 24 B per TLP, 546 ns for a warm 64 B DMA read, a 512 KiB
 * packet buffer, descriptors fetched 8 at a time, written back one by one,
 * 8 us ITR, MTU 1500, header buffers of 256 B. */
void nic_params_default(struct nic_params *p);

/* A frame as the MAC hands it on, with what the trace knows of it. */
struct nic_frame {
  const uint8_t *data;
  uint32_t caplen;      /* bytes known */
  uint32_t wire_len;    /* bytes on the wire (>= caplen), without FCS */
  uint32_t hdr_len;     /* parsed header bytes (labels: header, then payload; split point) */
  uint32_t flow;        /* flow id */
  uint64_t index;       /* trace index */
  uint16_t vlan_tags;   /* VLAN tags in the frame (for the MTU check) */
  const struct flow_key *key; /* as seen in the frame; NULL when unparsed */
};

/* Host side of the device. Every callback is called from a device event
 * (SystemC process context, simulated time stands still during the call);
 * none may call back into the NIC's receive path (nic_rx_frame) or block.
 * They may schedule host work (a NAPI poll) and record facts. */
struct nic_host {
  void *ctx;
  /* queue raised its interrupt (MSI-X vector): schedule the poll; the
   * interrupt stays masked until nic_irq_enable. */
  void (*irq)(void *ctx, unsigned queue);
  void (*tx_irq)(void *ctx, unsigned queue); /* TX completions written back (may be NULL) */
  /* A received frame was dropped for lack of a posted descriptor (may be
   * NULL): a fact for the checker, nothing to change in the device. */
  void (*rx_no_desc)(void *ctx, unsigned queue, const struct nic_frame *f);
  /* An armed fault took effect; tag is the one given to nic_fault_arm,
   * effect one sentence of what it did. */
  void (*fault_effect)(void *ctx, void *tag, uint64_t packet, const char *effect);
  /* A frame left on the wire (may be NULL): the bytes the device read from
   * host memory for descriptors first_desc.. (ndesc of them) of queue. */
  void (*tx_frame)(void *ctx, unsigned queue, uint32_t first_desc, uint32_t ndesc, const uint8_t *data,
                   uint32_t len);
};

/* Device misbehaviour (fault injection), armed for the next frame the NIC
 * writes to memory. Whatever the device does still goes through its DMA port
 * (and so the IOMMU). */
enum nic_fault_kind {
  NIC_FAULT_MALICIOUS = 1, /* write on past the frame to the end of the mapped page */
  NIC_FAULT_RANDOM_DMA,    /* also write len bytes at iova */
  NIC_FAULT_BAD_ADDR,      /* the fetched descriptor's address has bits flipped (xor) */
  NIC_FAULT_BAD_LEN,       /* the written-back length is corrupted to the buffer size */
  NIC_FAULT_LATE_DMA,      /* write the frame's buffers again delay_ps later */
  /* TX, armed for the next frame the NIC transmits: */
  NIC_FAULT_TX_OVERREAD,   /* read on past the last buffer to the end of its page, and send it */
  NIC_FAULT_TX_NO_COMPLETION, /* never write back the frame's completion (DD) */
  NIC_FAULT_TX_EARLY_COMPLETION, /* write back DD and interrupt before reading the buffers */
  NIC_FAULT_TX_LATE_READ,  /* read the frame's buffers again delay_ps after it left, and send them */
};
struct nic_fault {
  uint8_t kind;      /* enum nic_fault_kind */
  uint64_t iova;     /* RANDOM_DMA target */
  uint32_t len;      /* RANDOM_DMA bytes */
  uint64_t xor_mask; /* BAD_ADDR */
  uint64_t delay_ps; /* LATE_DMA, TX_LATE_READ */
  void *tag;         /* handed back with the effect */
};

struct nic_tx_stats {
  uint64_t tx_packets, tx_bytes;
  uint64_t irqs;       /* TX completion interrupts */
  uint64_t desc_fetches, desc_used;
  uint64_t dma_fault;  /* frames dropped because a buffer read was refused */
  uint64_t last_tx_ps; /* when the last frame left the wire */
};

/* Counters per queue, like ethtool -S. */
struct nic_queue_stats {
  uint64_t rx_packets, rx_bytes, rx_dropped;
  uint64_t drop_no_desc;      /* no descriptor posted (RNBC) */
  uint64_t drop_buffer_full;  /* on-NIC packet buffer full */
  uint64_t drop_oversize;     /* longer than the MTU, or than one buffer without multi_buffer */
  uint64_t drop_rule;         /* an ntuple rule with action drop */
  uint64_t drop_dma_fault;    /* a descriptor write-back the IOMMU refused */
  uint64_t dma_write_faults;  /* frames with a write the IOMMU refused: written back
                                 as usual (the write was posted), delivered with
                                 whatever the buffer held */
  uint64_t desc_fetches;      /* descriptor reads (each of one or more descriptors) */
  uint64_t desc_used;         /* descriptors consumed (several for chained frames) */
  uint64_t header_splits;     /* frames written with SPH */
  uint64_t chained;           /* frames that used more than one descriptor */
  uint64_t irqs;
};

/* An ntuple (Flow Director perfect-match) rule. Fields are compared under
 * their masks (a zero mask ignores the field); proto 0 matches any. */
enum nic_rule_action { NIC_RULE_QUEUE = 0, NIC_RULE_DROP = 1 };
struct nic_rule {
  uint8_t af;        /* FLOW_AF_INET or FLOW_AF_INET6; 0 matches any */
  uint8_t proto;
  uint8_t src[16], src_mask[16];
  uint8_t dst[16], dst_mask[16];
  uint16_t sport, sport_mask;
  uint16_t dport, dport_mask;
  uint8_t action;    /* enum nic_rule_action */
  unsigned queue;
};

struct nic;

/* A device whose DMA goes through port (copied; its ctx must outlive the
 * device). NULL with err filled when a parameter is out of range. */
struct nic *nic_new(const struct nic_params *p, const struct dma_port *port, const struct nic_host *host,
                    char *err, size_t errlen);
void nic_free(struct nic *n);

/* Steering. Rules are tried in the order added; the first match wins over RSS. */
int nic_add_ntuple(struct nic *n, const struct nic_rule *r);
/* An exact 5-tuple rule for key, in both directions, to queue. */
int nic_add_rule(struct nic *n, const struct flow_key *key, unsigned queue);
/* The queue a frame goes to; -1 when a rule drops it. */
int nic_steer(const struct nic *n, const struct flow_key *key);
/* Toeplitz hash (Microsoft RSS) of data[0..len) under key[40], bit by bit:
 * the reference the tables below are checked against. */
uint32_t nic_toeplitz(const uint8_t *key, const uint8_t *data, size_t len);
/* The same hash by table, as software RSS does it (DPDK's rte_thash, the
 * Linux and FreeBSD precomputed variants): the hash is linear over XOR, so
 * each input byte position i contributes t[i][byte], the XOR of the key
 * windows its set bits select. Input bytes past the key contribute nothing
 * (their windows are all zero key bits), so 40 positions cover any input.
 * 40 KiB per key; built once per key. */
struct nic_toeplitz_table {
  uint32_t t[NIC_RSS_KEY_BYTES][256];
};
void nic_toeplitz_table_init(struct nic_toeplitz_table *tab, const uint8_t *key);
uint32_t nic_toeplitz_tab(const struct nic_toeplitz_table *tab, const uint8_t *data, size_t len);
/* RSS hash of a frame's tuple as the 82599 computes it (IPv4/IPv6, with ports
 * for TCP/UDP); 0 for non-IP. */
uint32_t nic_rss_hash(const struct nic *n, const struct flow_key *key);

/* Driver side of a ring (register writes), from the driver's context (NAPI
 * or setup). A write the device would not take (no such queue, a ring of 0
 * descriptors, a tail past the ring, a queue without a ring) changes
 * nothing and is counted (nic_bad_register_writes). */
uint64_t nic_bad_register_writes(const struct nic *n);
void nic_rx_ring_setup(struct nic *n, unsigned queue, uint64_t base_iova, uint32_t size);
void nic_rx_tail_write(struct nic *n, unsigned queue, uint32_t tail);
uint32_t nic_rx_head(const struct nic *n, unsigned queue);
/* Descriptors posted and not yet used by the device. */
uint32_t nic_rx_ring_fill(const struct nic *n, unsigned queue);
/* Re-enable the queue's interrupt (end of NAPI). */
void nic_irq_enable(struct nic *n, unsigned queue);
/* How the driver writes and reads this device's RX descriptors (rx_desc.h):
 * the 82599's advanced format (nic_82599_rx_desc_ops, rx_desc_82599.c). */
const struct rx_desc_ops *nic_rx_desc_ops(const struct nic *n);
extern const struct rx_desc_ops nic_82599_rx_desc_ops;

/* TX side of a ring. Writing the tail starts transmission of the frames
 * posted (one or more descriptors each, EOP on the last; DD written back
 * into descriptors with RS). Frames leave at the line rate. */
void nic_tx_ring_setup(struct nic *n, unsigned queue, uint64_t base_iova, uint32_t size);
/* Head write-back (82599 7.2.3.5.2, TDWBAL/TDWBAH): after each frame with RS
 * the device writes its head index (4 bytes) to wb_iova instead of DD into
 * the descriptors. 0 turns it off. */
void nic_tx_head_wb(struct nic *n, unsigned queue, uint64_t wb_iova);
/* Descriptors posted and not yet transmitted. */
uint32_t nic_tx_ring_fill(const struct nic *n, unsigned queue);
void nic_tx_tail_write(struct nic *n, unsigned queue, uint32_t tail);
uint32_t nic_tx_head(const struct nic *n, unsigned queue);
const struct nic_tx_stats *nic_tx_stats(const struct nic *n, unsigned queue);

/* MAC: a frame of wire_len bytes starts arriving at ts_ps (or as soon as the
 * wire is free). Returns the time its last bit has arrived. */
uint64_t nic_mac_arrival_ps(struct nic *n, uint64_t ts_ps, uint32_t wire_len);
/* Wire time of one frame with preamble, FCS and gap [ps]. */
uint64_t nic_wire_time_ps(const struct nic *n, uint32_t wire_len);

/* Arm a fault for the next frame written to memory (at most 8 armed). 0 or -1. */
int nic_fault_arm(struct nic *n, const struct nic_fault *f);

/* The frame has fully arrived now: steer, take descriptors, DMA it to host
 * memory, write the descriptors back, raise the interrupt. */
void nic_rx_frame(struct nic *n, const struct nic_frame *f);

const struct nic_queue_stats *nic_queue_stats(const struct nic *n, unsigned queue);
uint32_t nic_queues(const struct nic *n);
/* Bytes waiting in the on-NIC packet buffer now. */
uint64_t nic_buffer_fill(const struct nic *n);

/* Register the device's signals for a VCD trace (before the run): ring fill,
 * head and tail per queue, packet-buffer fill. 0 or -1 with err filled. */
int nic_vcd_register(struct nic *n, char *err, size_t errlen);

#endif
