/*
 * hugemem: room for an array that may grow large (the flow table), backed
 * by transparent huge pages once it is large.
 *
 * Filling fresh memory costs a page fault per 4 KiB page, and a page fault
 * is dear in a virtual machine (about 5 us measured on the 2-CPU machine
 * of docs/performance.md, where the flow table of a capture of 200,000
 * flows took 9,000 of them). From HUGEMEM_MIN bytes on, a block is an
 * anonymous mapping that madvise(MADV_HUGEPAGE) asks the kernel to back
 * with 2 MiB pages (Linux mm/khugepaged.c, "madvise" mode of
 * /sys/kernel/mm/transparent_hugepage/enabled): one fault per 2 MiB.
 * Smaller blocks, and every block in a build with AddressSanitizer (which
 * checks only malloc's memory), are malloc's. Where the kernel has no
 * transparent huge pages the advice is ignored and the mapping is an
 * ordinary one.
 */
#ifndef NICSIM_HUGEMEM_H
#define NICSIM_HUGEMEM_H

#include <stddef.h>

#define HUGEMEM_MIN ((size_t)2 << 20)

/* p (old_bytes, as last given; NULL and 0 for a new block) resized to
 * new_bytes > 0, its first min(old_bytes, new_bytes) bytes kept; the rest
 * is not initialised. NULL when out of memory: p is then unchanged. */
void *huge_resize(void *p, size_t old_bytes, size_t new_bytes);

/* Free p, of bytes (as last given to huge_resize); NULL is ignored. */
void huge_free(void *p, size_t bytes);

#endif
