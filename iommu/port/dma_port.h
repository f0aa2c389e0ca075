/*
 * dma_port: the one way a device reaches host memory. The device issues DMA
 * by IOVA (its bus address) through a port and never sees a physical
 * address: the port's implementation translates, checks, moves the bytes and
 * labels what it writes, as a QEMU device calls pci_dma_read/pci_dma_write
 * on its PCI address space and the IOMMU's memory region behind it does the
 * rest. iommu_dma_new (iommu.h) implements the port with the IOMMU model and
 * the labelled memory (sim/core/mem); a TLM-2.0 socket or another IOMMU can
 * implement the same two calls.
 *
 * One request is one DMA of `bytes` bytes from `iova` on, in one direction:
 * - DMA_DIR_READ: memory to the device (descriptor fetches, TX buffer reads).
 *   The bytes land in buf; prov is ignored. The IOMMU checks read
 *   permission; every byte read is seen by the memory's observers (the
 *   checker) as a device read with the request's requester id.
 * - DMA_DIR_WRITE: the device to memory (frame data, descriptor
 *   write-back). buf holds the bytes; prov says what they are (the label the
 *   bytes carry in memory). A PCIe memory write is posted: the device gets
 *   no completion and cannot know that a write was refused. The result's
 *   status is for the model (counting, fault effect texts), never for the
 *   device's behaviour.
 * - DMA_DIR_TRANSLATE: translation only (as a PCIe ATS translation request):
 *   no data moves, no memory access is seen, but the translation is made
 *   (an IOTLB lookup and walk, which keeps the entry in the IOTLB).
 * The request is split at page boundaries; each page is translated on its
 * own. The first refused page stops the request: nothing from there on moves.
 *
 * Latency: the result's latency_ps is the IOMMU's translation time (IOTLB
 * hits and page walks). Link time (PCIe TLPs, read completions) is the
 * device's own model (pcie.h); the port does not add it.
 *
 * Context: called from the device's simulation context (a frame arrival or a
 * device event of the simk kernel), never from an observer callback.
 */
#ifndef NICSIM_DMA_PORT_H
#define NICSIM_DMA_PORT_H

#include <stdint.h>

enum dma_dir { DMA_DIR_READ = 0, DMA_DIR_WRITE = 1, DMA_DIR_TRANSLATE = 2 };

/* What the device says about bytes it writes. */
enum dma_prov_kind {
  DMA_PROV_PKT_HEADER = 1, /* packet headers (link to L4) */
  DMA_PROV_PKT_PAYLOAD,    /* packet payload after the parsed headers */
  DMA_PROV_PKT_UNKNOWN,    /* bytes on the wire the capture did not keep */
  DMA_PROV_DEVICE_META,    /* descriptor write-back and other device status (kernel-private) */
};

struct dma_prov {
  uint8_t kind;    /* enum dma_prov_kind */
  uint32_t flow;   /* packet kinds: flow id in the trace's flow table */
  uint64_t packet; /* trace index of the packet; UINT64_MAX: none */
};

struct dma_req {
  uint16_t rid;                /* PCIe requester id (bus:dev.fn) */
  uint64_t iova;               /* first byte, as the device addresses it */
  uint32_t bytes;              /* length (0: nothing happens; TRANSLATE: 1 or more) */
  uint8_t dir;                 /* enum dma_dir */
  const struct dma_prov *prov; /* DMA_DIR_WRITE: the label of the bytes; else unused */
};

enum dma_status {
  DMA_OK = 0,       /* every byte moved (or, TRANSLATE, translated) */
  DMA_REFUSED = -1, /* the IOMMU refused a page (a fault record was made) */
  DMA_ERROR = -2,   /* the translated address is outside memory */
};

struct dma_result {
  int status;           /* enum dma_status */
  uint32_t bytes_done;  /* bytes moved before the first refused page */
  uint64_t latency_ps;  /* translation time summed over the pages */
  uint32_t stale_pages; /* pages translated through a stale IOTLB entry: the
                           kernel had unmapped them and not yet flushed (lazy) */
  uint32_t untranslated_pages; /* pages the IOMMU did not translate (passthrough or
                                  off): the IOVA was used as the physical address */
  uint64_t fault_iova;  /* the refused page's IOVA (status DMA_REFUSED) */
  uint8_t fault_reason; /* its reason (enum iommu_fault_reason of iommu.h) */
};

/* Called once when the watched mapping goes away (see watch_unmap). */
typedef void (*dma_unmap_fn)(void *arg, uint64_t cookie);

struct dma_port {
  void *ctx;
  /* One DMA. Returns res->status (0 or negative); res is always filled. */
  int (*access)(void *ctx, const struct dma_req *req, void *buf, struct dma_result *res);
  /* Fault injection only, for a device that means to write a buffer again
   * after the kernel is done with it: call fn(arg, cookie) each time the
   * kernel's DMA API drops the last mapping (for rid) of the memory iova
   * translates to now. 0, or -1 when iova translates to nothing or no more
   * watches can be kept. */
  int (*watch_unmap)(void *ctx, uint16_t rid, uint64_t iova, dma_unmap_fn fn, void *arg, uint64_t cookie);
};

/* Convenience wrappers over port->access. */
static inline int dma_port_write(const struct dma_port *p, uint16_t rid, uint64_t iova, const void *buf,
                                 uint32_t bytes, const struct dma_prov *prov, struct dma_result *res) {
  struct dma_req r = {.rid = rid, .iova = iova, .bytes = bytes, .dir = DMA_DIR_WRITE, .prov = prov};
  return p->access(p->ctx, &r, (void *)buf, res);
}
static inline int dma_port_read(const struct dma_port *p, uint16_t rid, uint64_t iova, void *buf,
                                uint32_t bytes, struct dma_result *res) {
  struct dma_req r = {.rid = rid, .iova = iova, .bytes = bytes, .dir = DMA_DIR_READ, .prov = 0};
  return p->access(p->ctx, &r, buf, res);
}

#endif
