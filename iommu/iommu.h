/*
 * iommu: DMA remapping as VT-d/SMMU-class hardware does it, driven the way
 * Linux drives it.
 *
 * - One domain per requester id; page-granular (4 KiB) mappings with read and
 *   write permission. IOVAs are allocated per domain top-down from the end of
 *   the 32-bit space, as Linux's IOVA allocator does for a 32-bit-capable
 *   device, one page per mapping.
 * - An IOTLB (fully associative, LRU, iotlb_entries entries) caches
 *   translations. A miss walks the page table (walk_levels memory accesses).
 * - Invalidation (enum iommu_mode): strict invalidates the IOTLB entry at
 *   unmap; lazy queues it in a flush queue that is flushed when it holds
 *   flush_entries unmaps or flush_us after its oldest entry, so until then a
 *   stale IOTLB entry still translates (Linux drivers/iommu/dma-iommu.c);
 *   passthrough and off translate IOVA = physical address and check nothing.
 * - A refused translation (not present, no permission) is recorded like a
 *   VT-d fault record (reason, requester, IOVA, read/write, time), counted,
 *   and the access does not happen. The record list is bounded.
 *
 * Costs: iommu_map/iommu_unmap return the CPU cycles the kernel spends (from
 * calibration.md); translations return their latency in picoseconds.
 * No I/O, no exit.
 */
#ifndef NICSIM_IOMMU_H
#define NICSIM_IOMMU_H

#include <stddef.h>
#include <stdint.h>

enum iommu_mode { IOMMU_STRICT = 0, IOMMU_LAZY, IOMMU_PASSTHROUGH, IOMMU_OFF };

#define IOMMU_PERM_READ 1u
#define IOMMU_PERM_WRITE 2u

enum iommu_fault_reason {
  IOMMU_FAULT_NOT_PRESENT = 1, /* no translation for the IOVA */
  IOMMU_FAULT_NO_READ = 2,     /* mapping without read permission */
  IOMMU_FAULT_NO_WRITE = 3,    /* mapping without write permission */
};

struct iommu_fault {
  uint8_t reason; /* enum iommu_fault_reason */
  uint8_t write;  /* 1: the access was a write */
  uint16_t rid;   /* requester id */
  uint64_t iova;
  uint64_t time_ps;
};

struct iommu_params {
  uint8_t mode;             /* enum iommu_mode */
  uint32_t iotlb_entries;   /* >= 1 */
  uint32_t flush_entries;   /* lazy: flush when this many unmaps are queued (256) */
  uint64_t flush_ps;        /* lazy: flush this long after the oldest queued unmap (10 ms) */
  uint64_t hit_ps;          /* translation latency on an IOTLB hit */
  uint64_t walk_level_ps;   /* per page-table level on a miss (memory access) */
  uint32_t walk_levels;     /* page-table levels walked on a miss (4) */
  uint32_t map_cycles;      /* CPU cycles to map one page */
  uint32_t unmap_cycles;    /* CPU cycles to unmap one page, without invalidation */
  uint32_t inval_cycles;    /* CPU cycles of one IOTLB invalidation (strict unmap, lazy flush) */
  uint32_t max_fault_records;
};

/* calibration.md defaults: 64-entry IOTLB, flush at 256 or 10 ms, 226 ns for
 * a miss over 4 levels, map+unmap+invalidation 6,909 cycles. */
void iommu_params_default(struct iommu_params *p);

struct iommu_stats {
  uint64_t translations, iotlb_hits, iotlb_misses, faults, invalidations;
  uint64_t maps, unmaps, mapped_pages, fault_records_dropped;
};

struct iommu;

struct iommu *iommu_new(const struct iommu_params *p);
void iommu_free(struct iommu *io);

/* Map physical page pfn for requester rid with perm; *iova_out receives the
 * page-aligned IOVA (= pfn's physical address in passthrough/off modes).
 * Returns the CPU cycles spent, or a negative value when the IOVA space or
 * host memory runs out. */
int64_t iommu_map(struct iommu *io, uint16_t rid, uint64_t pfn, unsigned perm,
                  uint64_t now_ps, uint64_t *iova_out);

/* Map n physically contiguous pages from first_pfn at n contiguous IOVA
 * pages (coherent memory such as a descriptor ring). Cycles, or negative. */
int64_t iommu_map_contig(struct iommu *io, uint16_t rid, uint64_t first_pfn, uint32_t n,
                         unsigned perm, uint64_t now_ps, uint64_t *iova_out);

/* Unmap the page at iova for rid. Returns CPU cycles spent (including a
 * strict invalidation, or a lazy flush it triggered), or negative when iova
 * was not mapped. */
int64_t iommu_unmap(struct iommu *io, uint16_t rid, uint64_t iova, uint64_t now_ps);

/* Translate one access that stays within one page. 0 with *paddr and
 * *latency_ps set, or -1 when refused (a fault record is made). */
int iommu_translate(struct iommu *io, uint16_t rid, uint64_t iova, int write, uint64_t now_ps,
                    uint64_t *paddr, uint64_t *latency_ps);

/* Change mode from now on (fault injection: passthrough or off). */
void iommu_set_mode(struct iommu *io, enum iommu_mode mode);
enum iommu_mode iommu_get_mode(const struct iommu *io);

/* Flush the lazy queue now (for example when a pool is destroyed). Returns cycles. */
int64_t iommu_flush(struct iommu *io, uint64_t now_ps);

const struct iommu_stats *iommu_stats(const struct iommu *io);
/* Fault records kept (at most max_fault_records), oldest first. */
size_t iommu_fault_count(const struct iommu *io);
const struct iommu_fault *iommu_fault_get(const struct iommu *io, size_t i);

const char *iommu_mode_name(enum iommu_mode m);
const char *iommu_fault_reason_name(enum iommu_fault_reason r);

#endif
