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
  /* hostile reader */
  int reading;
  user_entitled_fn entitled;
  void *entitled_ctx;
  user_read_sink_fn sink;
  void *sink_ctx;
  struct user_read_stats rs;
  uint8_t rbuf[MEM_PAGE_SIZE];
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

/* ---- the hostile reader ---- */

const struct user_read_stats *user_read_stats(const struct user *u) { return &u->rs; }

struct read_class {
  struct user *u;
  uint64_t epoch; /* of the page read */
};

static void classify_run(void *ctx, uint64_t paddr, uint32_t len, uint32_t id) {
  (void)paddr;
  struct read_class *rc = ctx;
  struct user *u = rc->u;
  const struct mem_label *l = mem_label(u->m, id);
  switch (l->prov.kind) {
  case MEM_LABEL_ZERO:
    return;
  case MEM_LABEL_KERNEL_PRESIM:
  case MEM_LABEL_KERNEL_PTR:
  case MEM_LABEL_KERNEL_META:
    u->rs.kernel_private_bytes += len;
    return;
  default: /* packet bytes, user data */
    if (u->entitled(u->entitled_ctx, u->principal, l))
      return;
    if (l->epoch != rc->epoch)
      u->rs.stale_bytes += len;
    else
      u->rs.foreign_flow_bytes += len;
  }
}

/* Read [paddr, paddr+len) (within one page) through the principal's mapping
 * and account what came back. */
static void hostile_read(struct user *u, uint64_t paddr, uint32_t len) {
  struct mem_accessor me = {.actor = MEM_ACTOR_USER, .id = (uint16_t)u->principal};
  u->rs.reads++;
  if (mem_read(u->m, me, paddr, u->rbuf, len)) {
    u->rs.faults++;
    return;
  }
  u->rs.bytes += len;
  struct read_class rc = {.u = u, .epoch = mem_page_epoch(u->m, paddr >> MEM_PAGE_SHIFT)};
  mem_label_runs(u->m, paddr, len, classify_run, &rc);
  if (u->sink)
    u->sink(u->sink_ctx, u->principal, u->rbuf, len);
}

/* Bytes written into a page mapped into the principal: read them at once.
 * Reads (its own among them) and refused accesses change nothing. */
static void on_access(void *ctx, struct mem *m, const struct mem_access *a) {
  struct user *u = ctx;
  if (a->denied || a->op == MEM_OP_READ)
    return;
  if (mem_page_mapping(m, a->paddr >> MEM_PAGE_SHIFT, u->principal) != MEM_MAP_NONE)
    hostile_read(u, a->paddr, a->len);
}

/* A page became mapped into the principal: read all of it. */
static void on_map(void *ctx, struct mem *m, uint64_t pfn, unsigned principal, enum mem_map_mode old_mode,
                   enum mem_map_mode new_mode) {
  (void)m;
  struct user *u = ctx;
  if (principal == u->principal && old_mode == MEM_MAP_NONE && new_mode != MEM_MAP_NONE)
    hostile_read(u, pfn << MEM_PAGE_SHIFT, MEM_PAGE_SIZE);
}

int user_hostile_read_start(struct user *u, user_entitled_fn entitled, void *entitled_ctx,
                            user_read_sink_fn sink, void *sink_ctx) {
  if (u->reading)
    return 0;
  struct mem_observer obs = {.ctx = u, .access = on_access, .map = on_map};
  if (mem_add_observer(u->m, &obs))
    return -1;
  u->reading = 1;
  u->entitled = entitled;
  u->entitled_ctx = entitled_ctx;
  u->sink = sink;
  u->sink_ctx = sink_ctx;
  /* What is mapped already (its socket buffer, at least). */
  uint64_t n = mem_pages(u->m);
  for (uint64_t pfn = 0; pfn < n; pfn++)
    if (mem_page_mapping(u->m, pfn, u->principal) != MEM_MAP_NONE)
      hostile_read(u, pfn << MEM_PAGE_SHIFT, MEM_PAGE_SIZE);
  return 0;
}
