/*
 * nic: the device. MAC with line timing, RX steering (ntuple rules, then RSS
 * over the Toeplitz hash and a 128-entry indirection table), RX descriptor
 * rings in simulated memory (82599 advanced descriptors), the DMA engine
 * through the IOMMU, a PCIe link, interrupts with moderation.
 *
 * The device never owns the clock and never prints: it is called when a frame
 * has arrived, schedules its interrupt through the simk kernel, and reaches
 * host memory only by DMA through iommu_translate and the memory accessor
 * with its requester id.
 */
#ifndef NICSIM_NIC_H
#define NICSIM_NIC_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "iommu.h"
#include "mem.h"

/* 82599 advanced RX descriptor (datasheet 7.1.6), 16 bytes.
 * Read format (driver -> device): pkt_addr, hdr_addr (0 = one buffer). */
struct nic_rx_desc_read {
  uint64_t pkt_addr;
  uint64_t hdr_addr;
};
/* Write-back format (device -> driver). */
struct nic_rx_desc_wb {
  uint32_t info;         /* packet type, header length, RSS type */
  uint32_t rss_hash;
  uint32_t status_error; /* NIC_RXD_STAT_* */
  uint16_t length;       /* bytes written to the packet buffer */
  uint16_t vlan;
};
static_assert(sizeof(struct nic_rx_desc_read) == 16, "82599 RX descriptor is 16 bytes");
static_assert(sizeof(struct nic_rx_desc_wb) == 16, "82599 RX write-back is 16 bytes");

#define NIC_RXD_STAT_DD 0x01u
#define NIC_RXD_STAT_EOP 0x02u
#define NIC_RXD_STAT_SPH 0x8000u
#define NIC_DESC_BYTES 16u
#define NIC_RETA_SIZE 128u
#define NIC_MAX_QUEUES 64u
#define NIC_RSS_KEY_BYTES 40u

struct nic_params {
  uint32_t queues;
  double line_rate_gbps;
  uint64_t rss_queues;      /* bit per queue spread over by the RSS table */
  uint32_t buffer_size;     /* bytes the device may write per descriptor */
  uint16_t rid;             /* PCIe requester id (bus:dev.fn) */
  double pcie_gbps;         /* effective DMA write bandwidth */
  uint32_t rx_fifo_bytes;   /* on-NIC packet buffer */
  uint64_t dma_read_ps;     /* latency of a descriptor fetch (DMA read) */
  uint64_t itr_ps;          /* minimum interval between interrupts of a queue */
};

/* calibration.md: PCIe Gen3 x8 at about 57.9 Gb/s TLP-level, 546 ns for a
 * warm 64 B DMA read, 512 KiB packet buffer (82599), 8 us ITR. */
void nic_params_default(struct nic_params *p);

/* A frame as the MAC hands it on, with what the trace knows of it. */
struct nic_frame {
  const uint8_t *data;
  uint32_t caplen;      /* bytes known */
  uint32_t wire_len;    /* bytes on the wire (>= caplen), without FCS */
  uint32_t hdr_len;     /* parsed header bytes (labels: header, then payload) */
  uint32_t flow;        /* flow id */
  uint64_t index;       /* trace index */
  const struct flow_key *key; /* as seen in the frame; NULL when unparsed */
};

/* Host side of the device: called when a queue raises its interrupt. */
struct nic_host {
  void *ctx;
  void (*irq)(void *ctx, unsigned queue);
};

struct nic_queue_stats {
  uint64_t rx_packets, rx_bytes, rx_dropped;
  uint64_t drop_no_desc, drop_fifo, drop_oversize, drop_dma_fault;
};

struct nic;

struct nic *nic_new(const struct nic_params *p, struct mem *m, struct iommu *io,
                    const struct nic_host *host, char *err, size_t errlen);
void nic_free(struct nic *n);

/* Steering. rules win over RSS; a rule matches a 5-tuple in either direction. */
int nic_add_rule(struct nic *n, const struct flow_key *key, unsigned queue);
/* The queue a frame goes to. */
unsigned nic_steer(const struct nic *n, const struct flow_key *key);
/* Toeplitz hash (Microsoft RSS) of data[0..len) under key[40]. */
uint32_t nic_toeplitz(const uint8_t *key, const uint8_t *data, size_t len);
/* RSS hash of a frame's tuple as the 82599 computes it (IPv4/IPv6, with ports
 * for TCP/UDP); 0 for non-IP. */
uint32_t nic_rss_hash(const struct nic *n, const struct flow_key *key);

/* Driver side of a ring (register writes). */
void nic_rx_ring_setup(struct nic *n, unsigned queue, uint64_t base_iova, uint32_t size);
void nic_rx_tail_write(struct nic *n, unsigned queue, uint32_t tail);
uint32_t nic_rx_head(const struct nic *n, unsigned queue);
/* Re-enable the queue's interrupt (end of NAPI). */
void nic_irq_enable(struct nic *n, unsigned queue);

/* MAC: a frame of wire_len bytes starts arriving at ts_ps (or as soon as the
 * wire is free). Returns the time its last bit has arrived. */
uint64_t nic_mac_arrival_ps(struct nic *n, uint64_t ts_ps, uint32_t wire_len);

/* The frame has fully arrived now: steer, fetch a descriptor, DMA it to host
 * memory, write the descriptor back, raise the interrupt. */
void nic_rx_frame(struct nic *n, const struct nic_frame *f);

const struct nic_queue_stats *nic_queue_stats(const struct nic *n, unsigned queue);
uint32_t nic_queues(const struct nic *n);

#endif
