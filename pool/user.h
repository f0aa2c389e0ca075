/*
 * user: userspace principals as the host memory model sees them: a socket
 * receive buffer in the principal's own pages (mapped read-write into it,
 * zero-filled when allocated, as anonymous memory is) into which the kernel
 * copies delivered data, and reads the principal makes through its mappings.
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

#endif
