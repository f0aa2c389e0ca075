/*
 * mem: simulated physical memory in which every byte carries a provenance
 * label, and every access names who makes it.
 *
 * This is the invariant the whole simulator rests on (docs/design.md):
 * - a label says what a byte is: zero, packet header or payload (which flow,
 *   which packet of the trace), kernel-private data, user data, or what the
 *   page held before the simulation started;
 * - an access is made by the device (DMA, after the IOMMU translated it, with
 *   the device's requester id), the kernel CPU, or a userspace principal
 *   (through its mapping of the page: read-only or read-write). There is no
 *   other way to touch memory.
 *
 * Shadow memory: a label id for every byte, kept run-length encoded per page
 * (runs of bytes with one id), allocated with the page's data the first time
 * a page is touched; writes, fills, copies and label walks cost O(runs), not
 * O(bytes). Label ids index a table of label records; ids no byte refers to
 * any more are reclaimed by a mark-and-sweep pass over the touched pages.
 *
 * Epochs: each page has an allocation epoch, a number from one global counter
 * that is advanced each time the page is handed to a new use
 * (mem_page_new_epoch). A label records the epoch of the page it was written
 * in, so bytes whose label epoch differs from the page's are left over from an
 * earlier use. Copies carry labels across pages, re-stamped with the
 * destination page's epoch.
 *
 * Observers (the checker) see every access and every change of who may see a
 * page. The module does no I/O and never exits.
 */
#ifndef NICSIM_MEM_H
#define NICSIM_MEM_H

#include <stddef.h>
#include <stdint.h>

#define MEM_PAGE_SHIFT 12
#define MEM_PAGE_SIZE (1u << MEM_PAGE_SHIFT)
#define MEM_MAX_PRINCIPALS 64 /* user principals: ids 0..63 */
#define MEM_MAX_OBSERVERS 8

/* Errors (negative return values). */
#define MEM_EFAULT (-14) /* no mapping allows this user access */
#define MEM_ERANGE (-34) /* address outside simulated RAM */
#define MEM_ENOMEM (-12) /* host memory ran out, or no free page */

enum mem_actor {
  MEM_ACTOR_DEVICE = 0, /* id: PCIe requester id */
  MEM_ACTOR_KERNEL = 1, /* id: CPU number */
  MEM_ACTOR_USER = 2,   /* id: principal */
};

struct mem_accessor {
  uint8_t actor; /* enum mem_actor */
  uint16_t id;
};

enum mem_label_kind {
  MEM_LABEL_ZERO = 0,      /* cleared memory */
  MEM_LABEL_PKT_HEADER,    /* packet headers (link to L4), written by the device */
  MEM_LABEL_PKT_PAYLOAD,   /* packet payload after the parsed headers */
  MEM_LABEL_PKT_UNKNOWN,   /* bytes on the wire the capture did not keep */
  MEM_LABEL_KERNEL_PRESIM, /* what a page held before the simulation started */
  MEM_LABEL_KERNEL_PTR,    /* kernel data with pointers (skb_shared_info) */
  MEM_LABEL_KERNEL_META,   /* other kernel-private data (descriptors, skb heads) */
  MEM_LABEL_USER,          /* data a userspace principal wrote */
  MEM_LABEL_KIND_COUNT
};

/* The names of a label kind, from one table: its key ("payload",
 * "skb_shared_info": report keys and a violation's source kind) and its
 * text ("packet payload": explanations). "?" for a kind out of range. */
const char *mem_label_kind_key(unsigned kind);
const char *mem_label_kind_text(unsigned kind);

/* What a writer says about the bytes it writes. */
struct mem_prov {
  uint8_t kind;      /* enum mem_label_kind */
  uint8_t principal; /* MEM_LABEL_USER: whose data */
  uint32_t flow;     /* packet kinds: flow id in the trace's flow table */
  uint64_t packet;   /* packet kinds: trace index; KERNEL_PRESIM: the page's
                        frame number (one label per page); other kernel kinds:
                        the packet the data belongs to, or UINT64_MAX; USER:
                        the packet the principal wrote over (one write into
                        one packet is one source), or UINT64_MAX */
};

/* A label: the provenance plus where and when it was put there. */
struct mem_label {
  struct mem_prov prov;
  struct mem_accessor writer; /* who wrote (or copied) the bytes */
  uint64_t epoch;             /* epoch of the page when written */
  uint64_t time_ps;           /* simulated time of the write */
  uint64_t exposed;           /* checker's use: principals that have been
                                 exposed to these bytes (bit per principal) */
};

#define MEM_LABEL_ID_ZERO 0u

enum mem_map_mode { MEM_MAP_NONE = 0, MEM_MAP_RO = 1, MEM_MAP_RW = 2 };

enum mem_op { MEM_OP_READ, MEM_OP_WRITE, MEM_OP_FILL, MEM_OP_COPY };

/* One access, as an observer sees it (after a write took effect; before a
 * read returns). A denied access did not happen. */
struct mem_access {
  struct mem_accessor who;
  uint8_t op;      /* enum mem_op */
  uint8_t denied;  /* 1: refused (MEM_EFAULT) */
  uint64_t paddr;  /* first byte [physical address] */
  uint32_t len;    /* bytes; never crosses a page boundary */
  uint64_t src_paddr; /* MEM_OP_COPY: source */
  /* After a write or fill took effect: one_label 1 says every byte of the
   * range now carries label id label_id (so an observer need not walk the
   * runs); 0 otherwise (reads, copies, and before a write). */
  uint8_t one_label;
  uint32_t label_id;
};

struct mem;

/* An observer is called synchronously from inside the memory operation
 * (whoever made it: a device event, NAPI, a user's event), in registration
 * order. It may read labels and page state (mem_label, mem_peek,
 * mem_page_*), mem_label_mut a label's `exposed` bits, and record what it
 * decides; it must not write, map or allocate memory (no re-entry). */
struct mem_observer {
  void *ctx;
  /* Before a write, fill or copy lands (the old labels are still there). */
  void (*before_write)(void *ctx, struct mem *m, const struct mem_access *a);
  /* After an access took effect (or was denied). */
  void (*access)(void *ctx, struct mem *m, const struct mem_access *a);
  /* After principal's mapping of pfn changed from old_mode to new_mode. */
  void (*map)(void *ctx, struct mem *m, uint64_t pfn, unsigned principal,
              enum mem_map_mode old_mode, enum mem_map_mode new_mode);
  /* After pfn entered a new allocation epoch. */
  void (*epoch)(void *ctx, struct mem *m, uint64_t pfn, uint64_t old_epoch, uint64_t new_epoch);
  /* After the kernel's DMA mappings of pfn for device rid changed: refs is
   * the number of live mappings of the page (any device) afterwards. */
  void (*dma)(void *ctx, struct mem *m, uint64_t pfn, uint16_t rid, uint32_t refs);
};

/* Simulated RAM of size_bytes (rounded up to whole pages, at least one page).
 * NULL when size_bytes is 0 or host memory runs out. */
struct mem *mem_new(uint64_t size_bytes);
void mem_free(struct mem *m);

uint64_t mem_pages(const struct mem *m);
/* Pages that have been touched (have data and shadow allocated). */
uint64_t mem_pages_touched(const struct mem *m);

/* Time source for labels (time_ps); defaults to always 0. */
void mem_set_clock(struct mem *m, uint64_t (*now_ps)(void *ctx), void *ctx);

/* Add an observer (at most MEM_MAX_OBSERVERS). 0 or -1. Observers are
 * called in the order they were added. */
int mem_add_observer(struct mem *m, const struct mem_observer *obs);
/* Remove every observer whose ctx is ctx (the others keep their order), for
 * a model freed before the memory it watches. */
void mem_remove_observer(struct mem *m, const void *ctx);

/* --- The accessors. Each returns 0 or a negative MEM_E* value. Ranges may
 * cross page boundaries; a user access is checked page by page against the
 * principal's mapping and stops at the first page that refuses it. */

/* Write len bytes of src, labelled with prov. */
int mem_write(struct mem *m, struct mem_accessor who, uint64_t paddr,
              const void *src, uint64_t len, const struct mem_prov *prov);
/* Fill len bytes with byte; prov NULL means "cleared" (MEM_LABEL_ZERO; byte
 * should then be 0). */
int mem_fill(struct mem *m, struct mem_accessor who, uint64_t paddr,
             uint8_t byte, uint64_t len, const struct mem_prov *prov);
/* Copy len bytes from src_paddr to dst_paddr (non-overlapping); the labels
 * travel with the bytes. A user copy needs read access to the source and
 * write access to the destination. */
int mem_copy(struct mem *m, struct mem_accessor who, uint64_t dst_paddr,
             uint64_t src_paddr, uint64_t len);
/* Read len bytes into dst (dst may be NULL to only account the read). */
int mem_read(struct mem *m, struct mem_accessor who, uint64_t paddr, void *dst, uint64_t len);

/* --- Page metadata. */

/* Advance pfn to a new allocation epoch (from the global counter). Returns
 * the new epoch. */
uint64_t mem_page_new_epoch(struct mem *m, uint64_t pfn);
uint64_t mem_page_epoch(const struct mem *m, uint64_t pfn);

/* Set principal's mapping of pfn (MEM_MAP_NONE unmaps). 0 or negative. */
int mem_page_map(struct mem *m, uint64_t pfn, unsigned principal, enum mem_map_mode mode);
enum mem_map_mode mem_page_mapping(const struct mem *m, uint64_t pfn, unsigned principal);
/* Since when principal has had its current mapping of pfn [ps]. */
uint64_t mem_page_mapped_since_ps(const struct mem *m, uint64_t pfn, unsigned principal);
/* Bit per principal with any mapping of pfn. */
uint64_t mem_page_mappers(const struct mem *m, uint64_t pfn);

/* --- What the kernel has granted, for the checker (facts, not verdicts).
 *
 * DMA mappings: the kernel's DMA API view of a page (dma_map_page /
 * dma_unmap_page), counted per page whatever the IOMMU mode: a device write
 * into a page with no mapping left is a write after unmap.
 *
 * Marks: byte ranges of a page with a meaning:
 * - MEM_MARK_GRANT: the buffer a posted descriptor (or a ring) grants the
 *   device with requester id `id` to write and read; a device write outside
 *   every such grant of its requester id writes outside what it was given;
 * - MEM_MARK_GRANT_READ: the buffer a posted transmit descriptor grants the
 *   device `id` to read only (Linux: dma_map_single(..., DMA_TO_DEVICE),
 *   include/linux/dma-direction.h): a device read there is inside what it
 *   was given, a device write is not;
 * - MEM_MARK_VALIDATED: packet bytes the kernel has validated and still
 *   uses (id: unused); a user write over them changes them behind its back;
 * - MEM_MARK_LIVE: kernel-private bytes the kernel will read again (id:
 *   unused): the skb_shared_info of an skb in flight or queued on a socket,
 *   kernel objects in a page the kernel still uses. Kernel bytes without it
 *   are dead (an skb freed, a page given back): writing them tampers with
 *   nothing.
 * Marks may overlap; removing takes away exactly one equal mark. */
enum mem_mark_kind { MEM_MARK_GRANT = 0, MEM_MARK_VALIDATED = 1, MEM_MARK_LIVE = 2, MEM_MARK_GRANT_READ = 3 };

void mem_page_dma_ref(struct mem *m, uint64_t pfn, uint16_t rid, int delta);
uint32_t mem_page_dma_refs(const struct mem *m, uint64_t pfn);

/* Add or remove a mark over [paddr, paddr+len) (may cross pages). 0 or negative. */
int mem_mark_add(struct mem *m, enum mem_mark_kind kind, uint16_t id, uint64_t paddr, uint64_t len);
int mem_mark_remove(struct mem *m, enum mem_mark_kind kind, uint16_t id, uint64_t paddr, uint64_t len);
/* Bytes of [paddr, paddr+len) (within one page) covered by marks of kind
 * (and id, for grants). */
uint32_t mem_mark_covered(const struct mem *m, enum mem_mark_kind kind, uint16_t id, uint64_t paddr,
                          uint32_t len);
/* Bytes of [paddr, paddr+len) (within one page) device id may read: covered
 * by its grants of either kind (MEM_MARK_GRANT, MEM_MARK_GRANT_READ). */
uint32_t mem_mark_covered_readable(const struct mem *m, uint16_t id, uint64_t paddr, uint32_t len);
/* Bytes of [paddr, paddr+len) (within one page) covered by marks of kind
 * (and id) and by no mark of but_kind (and but_id). */
uint32_t mem_mark_covered_but(const struct mem *m, enum mem_mark_kind kind, uint16_t id,
                              enum mem_mark_kind but_kind, uint16_t but_id, uint64_t paddr, uint32_t len);

/* The principal holding a page (a zero-copy page handed to it and not yet
 * returned), or -1. */
void mem_page_set_holder(struct mem *m, uint64_t pfn, int principal);
int mem_page_holder(const struct mem *m, uint64_t pfn);
/* Pages held by principal now. */
uint64_t mem_pages_held(const struct mem *m, unsigned principal);

/* A simple page allocator over all of RAM: last freed, first allocated (as
 * the kernel's per-CPU page lists hand out hot pages), so freed pages are
 * reused with whatever they held. Allocation advances the page's epoch.
 * mem_page_alloc returns 0 and sets *pfn, or MEM_ENOMEM. */
int mem_page_alloc(struct mem *m, uint64_t *pfn);
void mem_page_free(struct mem *m, uint64_t pfn);
/* n physically contiguous free pages (for coherent DMA memory such as
 * descriptor rings): 0 with *first_pfn set, or MEM_ENOMEM. */
int mem_page_alloc_contig(struct mem *m, uint64_t n, uint64_t *first_pfn);
uint64_t mem_pages_free(const struct mem *m);

/* --- Inspection for observers, reports and tests: not an access. */

/* Label id of one byte. Not an access, but an untouched page is allocated
 * (with its pre-simulation contents and label) as a first touch would. */
uint32_t mem_peek_label_id(struct mem *m, uint64_t paddr);
/* The record of a label id. The pointer stays valid until the next write. */
const struct mem_label *mem_label(const struct mem *m, uint32_t id);
struct mem_label *mem_label_mut(struct mem *m, uint32_t id);
/* Copy bytes out without accounting an access. 0 or MEM_ERANGE. */
int mem_peek(struct mem *m, uint64_t paddr, void *dst, uint64_t len);

/* Calls fn for each maximal run of bytes with the same label id in
 * [paddr, paddr+len) (which must not cross a page boundary), in address
 * order. fn may read memory and change label records, but must not write,
 * fill or copy into the page being walked. */
typedef void (*mem_run_fn)(void *ctx, uint64_t paddr, uint32_t len, uint32_t label_id);
void mem_label_runs(struct mem *m, uint64_t paddr, uint32_t len, mem_run_fn fn, void *ctx);

/* Label table statistics: live records, and how many passes reclaimed ids. */
uint64_t mem_labels_live(const struct mem *m);
uint64_t mem_label_gc_runs(const struct mem *m);
/* Reclaim label ids that no byte refers to (also runs by itself). */
void mem_label_gc(struct mem *m);

#endif
