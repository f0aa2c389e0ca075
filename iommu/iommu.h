/*
 * iommu: DMA remapping as VT-d-class hardware does it, driven the way Linux
 * drives it. docs/iommu.md describes the model, its parameters and sources.
 *
 * - Domains: one per requester id (PCIe bus:dev.fn), created by its first
 *   mapping. A requester without a domain reaches nothing (as if its VT-d
 *   context entry were not present).
 * - I/O page tables: VT-d second-level style, walk_levels (default 4) levels
 *   of 4 KiB tables of 512 8-byte entries with R (bit 0) and W (bit 1) bits,
 *   the address in bits 12..51 and PS (bit 7) for 2 MiB superpages at level 2
 *   (VT-d spec, "Second-Level Translation" and "Second-Level Paging
 *   Entries"). With params.mem set, the tables live in simulated memory: each
 *   table page comes from mem_page_alloc and is written by the kernel CPU
 *   accessor with MEM_LABEL_KERNEL_META (kernel-private), and a walk reads
 *   one entry per level (but those the walk memo below holds) through
 *   mem_read as the device IOMMU_WALK_RID (the IOMMU itself); the model
 *   adds one observer to mem for the memo (without a free observer slot it
 *   keeps no memo). Without mem (unit tests, tools), the same tables are
 *   kept in host memory the module owns.
 * - IOVA allocation per domain as Linux's DMA API does it
 *   (drivers/iommu/dma-iommu.c, iova.c): sizes under 32 pages rounded up to a
 *   power of two, ranges size-aligned, top-down below 4 GiB first and then
 *   below the DMA mask, a per-size cache of freed ranges (the rcache
 *   magazines) reused before the tree.
 * - IOTLB: iotlb_entries entries, iotlb_ways ways (0: fully associative),
 *   LRU within a set; 4 KiB entries and 2 MiB superpage entries. A miss walks
 *   the table, walk_level_ps per level read.
 * - Walk memo (params.walk_memo): the upper-level (non-leaf) entries walks
 *   have read, kept per domain and level like VT-d's paging-structure caches
 *   (spec 6.2.2), as a simulator speed-up only: a walk whose upper levels
 *   are in it reads only the levels below from memory, but counts, times
 *   and reports every level as read. It is emptied by any write to a table
 *   page it was read from, whoever makes it (the model watches mem's writes
 *   through an observer, removed when the model is freed), so a
 *   translation, a fault and every counter are what a walk of every level
 *   gives. Only the accesses a memory observer sees differ: the reads of
 *   upper-level entries it holds are not made.
 * - Invalidation (enum iommu_mode): strict invalidates at unmap (page
 *   selective); lazy queues the unmap in the domain's flush queue, flushed
 *   (domain-wide invalidation) when an unmap finds it full (flush_entries - 1
 *   queued; the new one is queued after the flush) or flush_ps
 *   after the first unmap queued since the last timer flush; until then a
 *   stale IOTLB entry still translates, and the IOVA is not reused.
 *   Passthrough and off translate IOVA = physical address and check nothing.
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

struct mem;
struct dma_port;

enum iommu_mode { IOMMU_STRICT = 0, IOMMU_LAZY, IOMMU_PASSTHROUGH, IOMMU_OFF };

#define IOMMU_PERM_READ 1u
#define IOMMU_PERM_WRITE 2u

/* The requester id the IOMMU's own page-walk reads carry (MEM_ACTOR_DEVICE).
 * 0xffff is bus 255, device 31, function 7: no device in the model uses it.
 * Observers that judge device accesses should treat it as the IOMMU. */
#define IOMMU_WALK_RID 0xffffu
/* The kernel CPU that writes page tables (MEM_ACTOR_KERNEL id). */
#define IOMMU_KERNEL_CPU 0u

/* I/O page-table entry bits (VT-d second-level paging entries; Linux
 * drivers/iommu/intel: DMA_PTE_READ, DMA_PTE_WRITE, DMA_PTE_LARGE_PAGE). */
#define IOMMU_PTE_R (1ull << 0)
#define IOMMU_PTE_W (1ull << 1)
#define IOMMU_PTE_PS (1ull << 7)
#define IOMMU_PTE_ADDR_MASK 0x000ffffffffff000ull

#define IOMMU_PAGE_SHIFT 12
#define IOMMU_SUPERPAGE_SHIFT 21 /* 2 MiB */

enum iommu_fault_reason {
  IOMMU_FAULT_NOT_PRESENT = 1, /* no translation for the IOVA */
  IOMMU_FAULT_NO_READ = 2,     /* mapping without read permission */
  IOMMU_FAULT_NO_WRITE = 3,    /* mapping without write permission */
};

/* VT-d fault reason codes (VT-d spec, "Fault Reasons" of the fault
 * recording registers; Linux drivers/iommu/intel/dmar.c
 * dma_remap_fault_reasons[]). VT-d has no separate "not present" code for
 * paging entries: an entry with R = W = 0 faults as a read (0x6) or write
 * (0x5) without permission. */
#define IOMMU_VTD_CONTEXT_NOT_PRESENT 0x2 /* requester without a domain */
#define IOMMU_VTD_BEYOND_AGAW 0x4         /* IOVA above the table's width */
#define IOMMU_VTD_NO_WRITE 0x5            /* write, W clear at some level */
#define IOMMU_VTD_NO_READ 0x6             /* read, R clear at some level */

struct iommu_fault {
  uint8_t reason; /* enum iommu_fault_reason */
  uint8_t write;  /* 1: the access was a write */
  uint16_t rid;   /* requester id */
  uint64_t iova;
  uint64_t time_ps;
  uint8_t vtd_reason; /* IOMMU_VTD_* */
};

struct iommu_params {
  uint8_t mode;             /* enum iommu_mode */
  uint32_t iotlb_entries;   /* >= 1 */
  uint32_t iotlb_ways;      /* ways per set; 0 (or iotlb_entries): fully associative.
                               iotlb_entries must be a multiple of it */
  uint32_t flush_entries;   /* lazy: flush queue slots (256, IOVA_FQ_SIZE); it holds
                               flush_entries - 1 unmaps, and the unmap that finds it
                               full flushes those first, then is queued */
  uint64_t flush_ps;        /* lazy: flush this long after the first queued unmap (10 ms) */
  uint64_t hit_ps;          /* translation latency on an IOTLB hit */
  uint64_t walk_level_ps;   /* per page-table level read on a miss (memory access) */
  uint32_t walk_levels;     /* page-table levels (2..5; VT-d 4-level = 48-bit IOVAs) */
  uint32_t map_cycles;      /* CPU cycles to map one page (one PTE written) */
  uint32_t unmap_cycles;    /* CPU cycles to unmap one page, without invalidation */
  uint32_t inval_cycles;    /* CPU cycles of one IOTLB invalidation (strict unmap, lazy flush) */
  uint32_t max_fault_records;
  /* Added with the in-memory page tables: */
  struct mem *mem;          /* simulated RAM for the page tables; NULL: host-side tables */
  uint8_t superpages;       /* 1: map 2 MiB-aligned runs with 2 MiB entries (1) */
  uint8_t dma_mask_bits;    /* device DMA mask (64); IOVAs stay below 2^bits */
  uint8_t forcedac;         /* 1: skip the below-4-GiB first try (Linux iommu.forcedac) (0) */
  uint32_t iova_mag_size;   /* IOVAs per rcache magazine (127, Linux IOVA_MAG_SIZE) */
  uint32_t iova_depot_mags; /* full magazines kept per size (32, Linux MAX_GLOBAL_MAGS) */
  uint8_t walk_memo;        /* 1: keep the upper-level entries walks read in a memo
                               (below); 0: every walk reads every level (1) */
};

/* calibration.md defaults: 64-entry fully associative IOTLB, flush at 256 or
 * 10 ms, 226 ns for a miss over 4 levels, map+unmap+invalidation 6,909
 * cycles; host-side tables (mem NULL), superpages on, 64-bit DMA mask. */
void iommu_params_default(struct iommu_params *p);

struct iommu_stats {
  uint64_t translations, iotlb_hits, iotlb_misses, faults, invalidations;
  uint64_t maps, unmaps, mapped_pages, fault_records_dropped;
  /* Added: */
  uint64_t stale_hits;       /* translations through a stale IOTLB entry (lazy) */
  uint64_t walk_reads;       /* page-table entries read by walks */
  uint64_t pt_pages;         /* page-table pages allocated */
  uint64_t superpage_maps;   /* 2 MiB entries written */
  uint64_t superpage_splits; /* 2 MiB entries split by a 4 KiB unmap */
  uint64_t iova_cache_hits;  /* IOVA allocations served by the rcache */
};

struct iommu;

/* NULL when p is NULL or impossible (iotlb_entries 0, ways not dividing it,
 * walk_levels outside 2..5) or host memory runs out. */
struct iommu *iommu_new(const struct iommu_params *p);
/* Frees the model and removes its observer from params.mem, which must
 * still exist. Page-table pages in simulated memory stay allocated there
 * (the machine is going away). */
void iommu_free(struct iommu *io);

/* Map physical page pfn for requester rid with perm; *iova_out receives the
 * page-aligned IOVA (= pfn's physical address in passthrough/off modes).
 * Returns the CPU cycles spent, or a negative value when the IOVA space,
 * simulated or host memory runs out. */
int64_t iommu_map(struct iommu *io, uint16_t rid, uint64_t pfn, unsigned perm,
                  uint64_t now_ps, uint64_t *iova_out);

/* Map n physically contiguous pages from first_pfn at n contiguous IOVA
 * pages (one IOVA allocation, as dma_map of a multi-page buffer). With
 * superpages on, 2 MiB-aligned runs of 512 pages (aligned in IOVA and
 * physically) get one 2 MiB entry. Cycles (map_cycles per entry written),
 * or negative. */
int64_t iommu_map_contig(struct iommu *io, uint16_t rid, uint64_t first_pfn, uint32_t n,
                         unsigned perm, uint64_t now_ps, uint64_t *iova_out);

/* Unmap the page at iova for rid (a 2 MiB entry covering it is split first).
 * Returns CPU cycles spent (including a strict invalidation, or a lazy flush
 * it triggered), or negative when iova was not mapped. The IOVA range goes
 * back to the allocator when its last page is unmapped (lazy: at the flush). */
int64_t iommu_unmap(struct iommu *io, uint16_t rid, uint64_t iova, uint64_t now_ps);

/* Translate one access that stays within one page. 0 with *paddr and
 * *latency_ps set, or -1 when refused (a fault record is made). */
int iommu_translate(struct iommu *io, uint16_t rid, uint64_t iova, int write, uint64_t now_ps,
                    uint64_t *paddr, uint64_t *latency_ps);

/* What one translation did. */
struct iommu_xlate {
  uint64_t paddr;      /* physical address (valid when 0 is returned) */
  uint64_t latency_ps; /* hit_ps, plus walk_level_ps per level read on a miss */
  uint8_t hit;         /* 1: IOTLB hit */
  uint8_t stale;       /* 1: through an IOTLB entry whose mapping of this page
                          had already been unmapped (lazy mode, before the flush):
                          the access reaches a page the kernel no longer grants */
  uint8_t levels;      /* page-table entries read (0 on a hit) */
  uint8_t page_shift;  /* 12, or 21 through a 2 MiB entry; 0 when refused */
  uint8_t fault;       /* 0, or enum iommu_fault_reason when refused */
};

/* iommu_translate with everything it did. Returns 0 or -1 like it. */
int iommu_translate2(struct iommu *io, uint16_t rid, uint64_t iova, int write, uint64_t now_ps,
                     struct iommu_xlate *out);

/* The current page-table mapping of iova (not the IOTLB), as Linux's
 * iommu_iova_to_phys: 0 with *paddr, *perm (IOMMU_PERM_*) and *page_shift
 * (12 or 21; any may be NULL), or -1 when not mapped. Inspection only: no
 * access is made or counted. */
int iommu_iova_to_phys(const struct iommu *io, uint16_t rid, uint64_t iova, uint64_t *paddr,
                       unsigned *perm, unsigned *page_shift);

/* Physical address of rid's top-level page table, or 0 without a domain. */
uint64_t iommu_domain_root(const struct iommu *io, uint16_t rid);

/* Change mode from now on (fault injection: passthrough or off). */
void iommu_set_mode(struct iommu *io, enum iommu_mode mode);
enum iommu_mode iommu_get_mode(const struct iommu *io);

/* Flush every lazy queue now (for example when a pool is destroyed).
 * Returns cycles (one invalidation per domain with queued unmaps). */
int64_t iommu_flush(struct iommu *io, uint64_t now_ps);

const struct iommu_stats *iommu_stats(const struct iommu *io);
/* Fault records kept (at most max_fault_records), oldest first. */
size_t iommu_fault_count(const struct iommu *io);
const struct iommu_fault *iommu_fault_get(const struct iommu *io, size_t i);

/* The DMA port (dma_port.h) of the devices behind this IOMMU, over memory
 * m: each page of a request is translated for its requester id and then
 * read or written in m by the device accessor with that id. now_ps gives
 * the simulated time of the translations (NULL: always 0). Free it after
 * the last use of m's observers (it watches m's DMA mappings once a device
 * asks to). NULL when io or m is NULL or host memory runs out. */
struct iommu_dma;
struct iommu_dma *iommu_dma_new(struct iommu *io, struct mem *m, uint64_t (*now_ps)(void *ctx), void *now_ctx);
void iommu_dma_free(struct iommu_dma *d);
const struct dma_port *iommu_dma_port(struct iommu_dma *d);
/* The device access the port is making now, for memory observers (the
 * checker) that want to say how a write got through: valid only while the
 * port's own memory access is under way. */
struct iommu_dma_access {
  uint8_t active;       /* 1: an access is under way */
  uint16_t rid;
  uint64_t iova;        /* the IOVA of the access's first byte */
  uint8_t write;
  uint8_t stale;        /* translated through a stale IOTLB entry (unmapped, not yet flushed) */
  uint8_t untranslated; /* passthrough or off: the IOVA was used as the address, nothing checked */
};
/* 0 with *out filled while an access is under way, else -1. */
int iommu_dma_current(const struct iommu_dma *d, struct iommu_dma_access *out);

const char *iommu_mode_name(enum iommu_mode m);
const char *iommu_fault_reason_name(enum iommu_fault_reason r);

#endif
