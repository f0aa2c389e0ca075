/*
 * user: userspace principals as the host memory model sees them: a socket
 * receive buffer in the principal's own pages (mapped read-write into it,
 * zero-filled when allocated, as anonymous memory is) into which the kernel
 * copies delivered data, and reads the principal makes through its mappings;
 * and, for the driver, the principals' side of zero copy (the end of this
 * header).
 */
#ifndef NICSIM_USER_H
#define NICSIM_USER_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "mem.h"

struct user;

struct user_stats {
  uint64_t packets, bytes;          /* delivered to it (copy or zero-copy) */
  uint64_t read_faults;             /* reads its mappings refused */
};

/* A principal with a socket buffer of sock_pages pages. NULL with err filled. */
struct user *user_new(struct mem *m, struct cpu *cpu, unsigned principal, uint32_t sock_pages,
                      char *err, size_t errlen);
void user_free(struct user *u);
unsigned user_principal(const struct user *u);

/* The kernel copies len bytes from src_paddr into the socket buffer (charged
 * to the CPU), then the principal reads them. wire_bytes counts the packet. */
int user_deliver_copy(struct user *u, uint64_t src_paddr, uint32_t len, uint32_t wire_bytes);
/* Zero copy: the principal reads len bytes at paddr through its own mapping. */
int user_read_zero_copy(struct user *u, uint64_t paddr, uint32_t len, uint32_t wire_bytes);

const struct user_stats *user_stats(const struct user *u);

/* A hostile reader (app.hostile_read): from now on the principal reads,
 * through its own mappings (mem_read as MEM_ACTOR_USER), every byte of every
 * page mapped into it: each page already mapped, each page at the moment it
 * becomes mapped (the whole page), and each range written into a page while
 * it is mapped (the bytes written, right after the write). That is every
 * byte that was ever in its address space, read as soon as it was there.
 * The reads are real accesses (the memory's observers see them); they decide
 * no property: the checker decided exposure at map and write time. They are
 * a cross-check of it: what the reader actually got is counted by the labels
 * of the bytes read. entitled() says whether the principal may observe a
 * label (the policy); sink, when not NULL, gets each read's bytes.
 * 0, or -1 when the memory has no observer slot left. */
struct user_read_stats {
  uint64_t reads;                /* read accesses made */
  uint64_t bytes;                /* bytes read (a byte read twice counts twice) */
  uint64_t foreign_flow_bytes;   /* packet bytes of the page's current allocation, or another
                                    principal's data, it is not entitled to */
  uint64_t kernel_private_bytes; /* kernel-private bytes: skb_shared_info, kernel metadata,
                                    what a page held before the simulation */
  uint64_t stale_bytes;          /* packet or user bytes left from an earlier allocation of the
                                    page, not entitled */
  uint64_t faults;               /* reads its mapping refused */
};
/* Both are called from inside a memory operation (the reader hangs on the
 * memory's observer interface): they may only decide (entitled: 1 or 0)
 * and record (sink: data[0..len) as read); neither may touch memory. */
typedef int (*user_entitled_fn)(void *ctx, unsigned principal, const struct mem_label *lab);
typedef void (*user_read_sink_fn)(void *ctx, unsigned principal, const uint8_t *data, uint32_t len);
int user_hostile_read_start(struct user *u, user_entitled_fn entitled, void *entitled_ctx,
                            user_read_sink_fn sink, void *sink_ctx);
const struct user_read_stats *user_read_stats(const struct user *u);

/* The principals' side of the driver's zero copy, called by the driver's
 * files (pool/) from the NAPI poll or the principals' events, on the
 * driver's state (driver_priv.h); the rest of the system reaches it through
 * driver.h (driver_arm_user_write, driver_set_hoard). */
struct driver;
struct rxq;
struct pending_rx;
/* The frame being received on q goes to principal who in place: it reads
 * each buffer, holds it for its hold time (or for good, when hoarding),
 * then gives it back. */
void user_zc_hand_over_frame(struct driver *d, struct rxq *q, uint32_t total, unsigned who);
/* Buffers whose hold time is over go back (the event "app.return", arg: the driver). */
void user_zc_return_tick(void *arg);
/* The armed writers (and a design's hostile writer) write into the packet
 * the stack just validated, before its recipient reads it. */
void user_hostile_writes(struct driver *d, const struct pending_rx *pr);

#endif
