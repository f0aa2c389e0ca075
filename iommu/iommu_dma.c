/*
 * iommu_dma.c: the DMA port (dma_port.h) implemented by the IOMMU model and
 * the labelled memory, as QEMU's pci_dma_rw goes through the device's
 * IOMMU memory region to RAM: each page of a request is translated for the
 * requester id (iommu_translate2) and then read or written in simulated
 * memory by the device accessor carrying that requester id.
 */
#include <stdlib.h>
#include <string.h>

#include "dma_port.h"
#include "iommu.h"
#include "mem.h"

struct watch {
  uint64_t pfn;
  uint16_t rid;
  dma_unmap_fn fn;
  void *arg;
  uint64_t cookie;
};

struct iommu_dma {
  struct iommu *io;
  struct mem *m;
  uint64_t (*now_ps)(void *ctx);
  void *now_ctx;
  struct dma_port port;
  struct watch *watches;
  size_t nwatches, capwatches;
  int observing; /* registered as a memory observer (first watch) */
  struct iommu_dma_access cur; /* the access under way (observers may ask) */
};

static uint8_t label_kind(uint8_t kind) {
  switch (kind) {
  case DMA_PROV_PKT_HEADER: return MEM_LABEL_PKT_HEADER;
  case DMA_PROV_PKT_PAYLOAD: return MEM_LABEL_PKT_PAYLOAD;
  case DMA_PROV_PKT_UNKNOWN: return MEM_LABEL_PKT_UNKNOWN;
  default: return MEM_LABEL_KERNEL_META;
  }
}

static int port_access(void *ctx, const struct dma_req *req, void *buf, struct dma_result *res) {
  struct iommu_dma *d = ctx;
  memset(res, 0, sizeof *res);
  struct mem_accessor dev = {.actor = MEM_ACTOR_DEVICE, .id = req->rid};
  struct mem_prov prov = {.kind = MEM_LABEL_KERNEL_META, .packet = UINT64_MAX};
  if (req->dir == DMA_DIR_WRITE && req->prov) {
    prov.kind = label_kind(req->prov->kind);
    prov.flow = req->prov->flow;
    prov.packet = req->prov->packet;
  }
  uint64_t now = d->now_ps ? d->now_ps(d->now_ctx) : 0;
  int write = req->dir == DMA_DIR_WRITE;
  uint32_t done = 0;
  while (done < req->bytes) {
    uint64_t a = req->iova + done;
    uint32_t chunk = MEM_PAGE_SIZE - (uint32_t)(a & (MEM_PAGE_SIZE - 1));
    if (chunk > req->bytes - done)
      chunk = req->bytes - done;
    struct iommu_xlate x;
    int rc = iommu_translate2(d->io, req->rid, a, write, now, &x);
    res->latency_ps += x.latency_ps;
    if (rc) {
      res->status = DMA_REFUSED;
      res->fault_iova = a;
      res->fault_reason = x.fault;
      return res->status;
    }
    res->stale_pages += x.stale;
    enum iommu_mode mode = iommu_get_mode(d->io);
    res->untranslated_pages += mode == IOMMU_PASSTHROUGH || mode == IOMMU_OFF;
    if (req->dir != DMA_DIR_TRANSLATE && chunk) {
      d->cur = (struct iommu_dma_access){.active = 1, .rid = req->rid, .iova = a, .write = (uint8_t)write,
                                         .stale = x.stale,
                                         .untranslated = mode == IOMMU_PASSTHROUGH || mode == IOMMU_OFF};
      rc = write ? mem_write(d->m, dev, x.paddr, (const uint8_t *)buf + done, chunk, &prov)
                 : mem_read(d->m, dev, x.paddr, (uint8_t *)buf + done, chunk);
      d->cur.active = 0;
      if (rc) {
        res->status = DMA_ERROR;
        return res->status;
      }
    }
    done += chunk;
    res->bytes_done = done;
  }
  return DMA_OK;
}

static void on_dma(void *ctx, struct mem *m, uint64_t pfn, uint16_t rid, uint32_t refs) {
  (void)m;
  struct iommu_dma *d = ctx;
  if (refs)
    return;
  size_t i = 0;
  while (i < d->nwatches) {
    struct watch w = d->watches[i];
    if (w.pfn == pfn && w.rid == rid) {
      d->watches[i] = d->watches[--d->nwatches];
      w.fn(w.arg, w.cookie);
    } else {
      i++;
    }
  }
}

static int port_watch_unmap(void *ctx, uint16_t rid, uint64_t iova, dma_unmap_fn fn, void *arg,
                            uint64_t cookie) {
  struct iommu_dma *d = ctx;
  uint64_t pa;
  enum iommu_mode mode = iommu_get_mode(d->io);
  if (mode == IOMMU_PASSTHROUGH || mode == IOMMU_OFF)
    pa = iova;
  else if (iommu_iova_to_phys(d->io, rid, iova, &pa, NULL, NULL))
    return -1;
  if (!d->observing) {
    struct mem_observer obs = {.ctx = d, .dma = on_dma};
    if (mem_add_observer(d->m, &obs))
      return -1;
    d->observing = 1;
  }
  if (d->nwatches == d->capwatches) {
    size_t cap = d->capwatches ? 2 * d->capwatches : 8;
    struct watch *nw = realloc(d->watches, cap * sizeof *nw);
    if (!nw)
      return -1;
    d->watches = nw;
    d->capwatches = cap;
  }
  d->watches[d->nwatches++] =
      (struct watch){.pfn = pa >> MEM_PAGE_SHIFT, .rid = rid, .fn = fn, .arg = arg, .cookie = cookie};
  return 0;
}

struct iommu_dma *iommu_dma_new(struct iommu *io, struct mem *m, uint64_t (*now_ps)(void *ctx), void *now_ctx) {
  if (!io || !m)
    return NULL;
  struct iommu_dma *d = calloc(1, sizeof *d);
  if (!d)
    return NULL;
  d->io = io;
  d->m = m;
  d->now_ps = now_ps;
  d->now_ctx = now_ctx;
  d->port = (struct dma_port){.ctx = d, .access = port_access, .watch_unmap = port_watch_unmap};
  return d;
}

void iommu_dma_free(struct iommu_dma *d) {
  if (!d)
    return;
  free(d->watches);
  free(d);
}

const struct dma_port *iommu_dma_port(struct iommu_dma *d) { return &d->port; }

int iommu_dma_current(const struct iommu_dma *d, struct iommu_dma_access *out) {
  if (!d || !d->cur.active)
    return -1;
  *out = d->cur;
  return 0;
}
