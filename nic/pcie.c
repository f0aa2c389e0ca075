/*
 * pcie.c: PCIe link occupancy and DMA read latency (see pcie.h).
 */
#include "pcie.h"

#include <math.h>
#include <string.h>

void pcie_params_default(struct pcie_params *p) {
  memset(p, 0, sizeof *p);
  p->gts = 8.0; /* Gen3 */
  p->lanes = 8;
  p->encoding = 128.0 / 130.0;
  /* pcie-model TLP_bw for gen3 x8, MPS 256: an ACK and an FC update (8 B
   * each) per 203 B (PCIe Base Spec rev 5.0 tables 3-7 and 2-46..48), and 4
   * SKIP bytes per 1538. */
  p->dllp_overhead = 8.0 / 203.0 + 8.0 / 203.0 + 4.0 / 1538.0;
  p->mps = 256;
  p->mrrs = 512;
  p->rcb = 64;
  p->rcb_chunks = 0;
  p->mwr_hdr_bytes = 8 + 4 + 12; /* DLLP framing + TLP header + MWr 64-bit address */
  p->mrd_hdr_bytes = 8 + 4 + 12;
  p->cpld_hdr_bytes = 8 + 4 + 8;
  p->read_tags = 32; /* Tag[4:0] without the Extended Tag Field */
  /* pcie-bench, NFP6000 on Haswell, warm DMA reads, median. */
  static const uint32_t b[] = {64, 512, 1520, 2048};
  static const uint64_t l[] = {546000, 706000, 986000, 1133000};
  p->lat_points = 4;
  for (unsigned i = 0; i < 4; i++) {
    p->lat_bytes[i] = b[i];
    p->lat_ps[i] = l[i];
  }
}

int pcie_params_check(const struct pcie_params *p) {
  if (!p || !(p->gts > 0) || p->lanes == 0 || !(p->encoding > 0) || p->encoding > 1 ||
      p->dllp_overhead < 0 || p->dllp_overhead >= 1 || p->mps == 0 || p->mrrs == 0 || p->rcb == 0 ||
      p->read_tags == 0 || p->lat_points < 2 || p->lat_points > PCIE_LAT_POINTS_MAX)
    return -1;
  for (uint32_t i = 1; i < p->lat_points; i++)
    if (p->lat_bytes[i] <= p->lat_bytes[i - 1] || p->lat_ps[i] < p->lat_ps[i - 1])
      return -1;
  return 0;
}

double pcie_raw_gbps(const struct pcie_params *p) { return p->gts * p->encoding * p->lanes; }

double pcie_tlp_gbps(const struct pcie_params *p) { return pcie_raw_gbps(p) * (1.0 - p->dllp_overhead); }

static uint32_t chunks(uint32_t bytes, uint32_t unit) { return bytes ? (bytes + unit - 1) / unit : 0; }

/* Time to move n link bytes at the TLP bandwidth [ps], rounded to nearest. */
static uint64_t link_ps(const struct pcie_params *p, uint64_t n) {
  return (uint64_t)llround((double)n * 8.0 * 1000.0 / pcie_tlp_gbps(p));
}

void pcie_write_xfer(const struct pcie_params *p, uint32_t bytes, struct pcie_xfer *x) {
  memset(x, 0, sizeof *x);
  x->up_tlps = chunks(bytes, p->mps);
  x->up_bytes = (uint64_t)x->up_tlps * p->mwr_hdr_bytes + bytes;
  x->up_ps = link_ps(p, x->up_bytes);
}

void pcie_read_xfer(const struct pcie_params *p, uint32_t bytes, struct pcie_xfer *x) {
  memset(x, 0, sizeof *x);
  x->up_tlps = chunks(bytes, p->mrrs);
  x->up_bytes = (uint64_t)x->up_tlps * p->mrd_hdr_bytes;
  x->up_ps = link_ps(p, x->up_bytes);
  x->down_tlps = chunks(bytes, p->rcb_chunks ? p->rcb : p->mps);
  x->down_bytes = (uint64_t)x->down_tlps * p->cpld_hdr_bytes + bytes;
  x->down_ps = link_ps(p, x->down_bytes);
}

uint64_t pcie_write_occupancy_ps(const struct pcie_params *p, uint32_t bytes) {
  struct pcie_xfer x;
  pcie_write_xfer(p, bytes, &x);
  return x.up_ps;
}

uint64_t pcie_read_occupancy_ps(const struct pcie_params *p, uint32_t bytes) {
  struct pcie_xfer x;
  pcie_read_xfer(p, bytes, &x);
  return x.up_ps + x.down_ps;
}

uint64_t pcie_read_latency_ps(const struct pcie_params *p, uint32_t bytes) {
  const uint32_t *b = p->lat_bytes;
  const uint64_t *l = p->lat_ps;
  uint32_t n = p->lat_points;
  if (bytes <= b[0])
    return l[0];
  uint32_t i = 1;
  while (i < n - 1 && bytes > b[i])
    i++;
  /* Linear between points i-1 and i; past the last point, the last slope. */
  double slope = (double)(l[i] - l[i - 1]) / (double)(b[i] - b[i - 1]);
  return (uint64_t)llround((double)l[i - 1] + slope * (double)(bytes - b[i - 1]));
}

double pcie_write_gbps(const struct pcie_params *p, uint32_t bytes) {
  struct pcie_xfer x;
  pcie_write_xfer(p, bytes, &x);
  return x.up_bytes ? pcie_tlp_gbps(p) * (double)bytes / (double)x.up_bytes : 0.0;
}

double pcie_read_gbps(const struct pcie_params *p, uint32_t bytes) {
  struct pcie_xfer x;
  pcie_read_xfer(p, bytes, &x);
  uint64_t busier = x.up_bytes > x.down_bytes ? x.up_bytes : x.down_bytes;
  return busier ? pcie_tlp_gbps(p) * (double)bytes / (double)busier : 0.0;
}
