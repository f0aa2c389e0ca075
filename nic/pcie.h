/*
 * pcie: a PCIe link model at TLP level, after pcie-bench's pcie-model
 * (Neugebauer et al., "Understanding PCIe performance for end host
 * networking", SIGCOMM 2018; github.com/pcie-bench/pcie-model, model/pcie.py
 * and model/mem_bw.py) with the latencies pcie-bench measured.
 *
 * - Bandwidth: raw = GT/s x lanes x encoding (Gen3: 8 GT/s, 128b/130b; x8:
 *   63.0 Gb/s); at TLP level less the link's own traffic: ACK and flow-
 *   control DLLPs (8 B each at the rates the PCIe Base Spec recommends for
 *   the link width and MPS) and SKIP ordered sets (4 B every 1538 B): 57.9
 *   Gb/s for Gen3 x8 with MPS 256.
 * - Bytes on the link per TLP: a memory write with a 64-bit address carries
 *   24 B besides its payload (8 B of framing, sequence number and LCRC, 4 B
 *   TLP header, 12 B MWr header), a read request 24 B, a completion with data
 *   20 B. Writes are split at MPS (256), read requests at MRRS (512),
 *   completions at MPS (or at RCB, 64, on chipsets that split that way).
 *   Transfers are taken as aligned, as pcie-model does.
 * - Directions: "up" is device to host (writes, read requests), "down" host
 *   to device (completions). The link is full duplex: each direction has the
 *   whole TLP bandwidth.
 * - Writes are posted: the device does not wait. A read waits for its
 *   completions: its latency is interpolated between the warm DMA read
 *   latencies pcie-bench measured (NFP6000 on Haswell: 64 B 546 ns, 512 B
 *   706, 1520 B 986, 2048 B 1,133 ns), flat below the first point and
 *   extended with the last slope above the last. These include the link,
 *   root complex and memory, and no IOMMU.
 *
 * All times in picoseconds, sizes in bytes. No I/O, no state: pure
 * functions of the parameters.
 */
#ifndef NICSIM_PCIE_H
#define NICSIM_PCIE_H

#include <stdint.h>

#define PCIE_LAT_POINTS_MAX 8

struct pcie_params {
  double gts;              /* transfers per second per lane [GT/s] (8.0: Gen3) */
  uint32_t lanes;          /* 8 */
  double encoding;         /* payload bits per line bit (128/130 for Gen3) */
  double dllp_overhead;    /* share of raw bandwidth taken by ACK/FC DLLPs and SKIPs */
  uint32_t mps;            /* max payload size [B] (256) */
  uint32_t mrrs;           /* max read request size [B] (512) */
  uint32_t rcb;            /* read completion boundary [B] (64) */
  int rcb_chunks;          /* 1: completions of RCB bytes; 0: of MPS bytes (pcie-model default) */
  uint32_t mwr_hdr_bytes;  /* link bytes per memory write TLP besides payload (24) */
  uint32_t mrd_hdr_bytes;  /* link bytes per read request TLP (24) */
  uint32_t cpld_hdr_bytes; /* link bytes per completion TLP besides data (20) */
  uint32_t read_tags;      /* outstanding read requests a device may have (32: 5-bit tag) */
  uint32_t lat_points;     /* calibration points below (2..PCIE_LAT_POINTS_MAX) */
  uint32_t lat_bytes[PCIE_LAT_POINTS_MAX]; /* increasing read sizes */
  uint64_t lat_ps[PCIE_LAT_POINTS_MAX];    /* warm read latency at each size */
};

/* Gen3 x8, MPS 256, MRRS 512, RCB 64, 64-bit addresses, no ECRC, 32 tags,
 * the pcie-bench NFP6000/Haswell read latencies (calibration.md). */
void pcie_params_default(struct pcie_params *p);

/* 0, or -1 when p is impossible (zero sizes, no lanes, latency points not
 * increasing...). */
int pcie_params_check(const struct pcie_params *p);

/* Raw link bandwidth [Gb/s] (63.0 for Gen3 x8). */
double pcie_raw_gbps(const struct pcie_params *p);
/* Bandwidth left for TLPs [Gb/s] (57.9 for Gen3 x8, MPS 256). */
double pcie_tlp_gbps(const struct pcie_params *p);

/* What one transfer puts on the link. */
struct pcie_xfer {
  uint32_t up_tlps, down_tlps;    /* TLPs device->host and host->device */
  uint64_t up_bytes, down_bytes;  /* link bytes in each direction */
  uint64_t up_ps, down_ps;        /* time each direction is occupied */
};

/* A memory write of bytes (ceil(bytes/MPS) TLPs, all "up"). */
void pcie_write_xfer(const struct pcie_params *p, uint32_t bytes, struct pcie_xfer *x);
/* A memory read of bytes: ceil(bytes/MRRS) requests up, completions down. */
void pcie_read_xfer(const struct pcie_params *p, uint32_t bytes, struct pcie_xfer *x);

/* Link occupancy of a write of bytes [ps] (the up direction). */
uint64_t pcie_write_occupancy_ps(const struct pcie_params *p, uint32_t bytes);
/* Link occupancy of a read of bytes [ps]: its requests (up) plus its
 * completions (down); each direction is in pcie_read_xfer. */
uint64_t pcie_read_occupancy_ps(const struct pcie_params *p, uint32_t bytes);
/* Latency of a warm DMA read of bytes on an idle link, without the IOMMU [ps]. */
uint64_t pcie_read_latency_ps(const struct pcie_params *p, uint32_t bytes);

/* Bandwidth-limited payload throughput [Gb/s] of back-to-back writes or
 * reads of bytes each (pcie-model mem_bw.write / mem_bw.read: for reads the
 * busier direction decides). */
double pcie_write_gbps(const struct pcie_params *p, uint32_t bytes);
double pcie_read_gbps(const struct pcie_params *p, uint32_t bytes);

#endif
