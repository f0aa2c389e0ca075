/*
 * user.c: see user.h.
 */
#include "user.h"

#include <stdio.h>
#include <stdlib.h>

struct user {
  struct mem *m;
  struct cpu *cpu;
  unsigned principal;
  uint64_t *pages;
  uint32_t npages;
  uint64_t cursor; /* byte offset in the ring of socket pages */
  struct user_stats st;
};

static const struct mem_accessor kcpu = {.actor = MEM_ACTOR_KERNEL, .id = 0};

struct user *user_new(struct mem *m, struct cpu *cpu, unsigned principal, uint32_t sock_pages,
                      char *err, size_t errlen) {
  struct user *u = calloc(1, sizeof *u);
  if (!u || !sock_pages || principal >= MEM_MAX_PRINCIPALS) {
    free(u);
    snprintf(err, errlen, "user: cannot create principal %u", principal);
    return NULL;
  }
  u->m = m;
  u->cpu = cpu;
  u->principal = principal;
  u->pages = calloc(sock_pages, sizeof *u->pages);
  if (!u->pages) {
    user_free(u);
    snprintf(err, errlen, "user: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < sock_pages; i++) {
    if (mem_page_alloc(m, &u->pages[i])) {
      user_free(u);
      snprintf(err, errlen, "user: simulated RAM has no free page for a socket buffer");
      return NULL;
    }
    u->npages++;
    /* Anonymous user memory is zero-filled before the process sees it. */
    mem_fill(m, kcpu, u->pages[i] << MEM_PAGE_SHIFT, 0, MEM_PAGE_SIZE, NULL);
    mem_page_map(m, u->pages[i], principal, MEM_MAP_RW);
  }
  return u;
}

void user_free(struct user *u) {
  if (!u)
    return;
  free(u->pages);
  free(u);
}

unsigned user_principal(const struct user *u) { return u->principal; }
const struct user_stats *user_stats(const struct user *u) { return &u->st; }

int user_deliver_copy(struct user *u, uint64_t src_paddr, uint32_t len, uint32_t wire_bytes) {
  struct mem_accessor me = {.actor = MEM_ACTOR_USER, .id = (uint16_t)u->principal};
  uint64_t ring = (uint64_t)u->npages << MEM_PAGE_SHIFT;
  uint32_t done = 0;
  cpu_charge(u->cpu, CPU_COPY, cpu_copy_cycles(&u->cpu->costs, len));
  while (done < len) {
    uint64_t off = u->cursor % ring;
    uint32_t in_page = MEM_PAGE_SIZE - (uint32_t)(off & (MEM_PAGE_SIZE - 1));
    uint32_t n = len - done < in_page ? len - done : in_page;
    uint64_t dst = (u->pages[off >> MEM_PAGE_SHIFT] << MEM_PAGE_SHIFT) | (off & (MEM_PAGE_SIZE - 1));
    int rc = mem_copy(u->m, kcpu, dst, src_paddr + done, n);
    if (rc)
      return rc;
    /* recv(): the principal reads what it was given. */
    if (mem_read(u->m, me, dst, NULL, n))
      u->st.read_faults++;
    u->cursor += n;
    done += n;
  }
  u->st.packets++;
  u->st.bytes += wire_bytes;
  return 0;
}

int user_read_zero_copy(struct user *u, uint64_t paddr, uint32_t len, uint32_t wire_bytes) {
  struct mem_accessor me = {.actor = MEM_ACTOR_USER, .id = (uint16_t)u->principal};
  int rc = mem_read(u->m, me, paddr, NULL, len);
  if (rc)
    u->st.read_faults++;
  u->st.packets++;
  u->st.bytes += wire_bytes;
  return rc;
}
