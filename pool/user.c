/*
 * user.c: see user.h.
 */
#include "user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_priv.h"
#include "grow.h"
#include "rx_ring.h"

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

/*
 * The principals' side of the driver's zero copy (struct driver, pool/
 * only): buffers handed to a principal in place, held for its hold time and
 * given back (an AF_XDP application reads its RX ring and submits the chunks
 * to the fill ring, xsk_ring_cons__peek / xsk_ring_prod__submit in
 * Documentation/networking/af_xdp.rst; a zcrx application returns its
 * buffers through the refill queue, iou-zcrx.rst), a principal that stops
 * giving them back (hoarding), and writes a principal makes into packets the
 * stack has validated (a TOCTOU attack through a read-write mapping).
 */

/* A principal's name in effect texts: the policy's, else "principal N". */
static const char *principal_name(const struct driver *d, unsigned who, char *buf, size_t len) {
  if (d->p.names)
    snprintf(buf, len, "%s", d->p.names[who]);
  else
    snprintf(buf, len, "principal %u", who);
  return buf;
}

/* The application gives a buffer back. A page mapped per packet is unmapped
 * when the application holds no buffer of it any more (with fragments, every
 * fragment of the page it was handed). */
static void zc_return(struct driver *d, const struct held_page *h) {
  uint64_t pfn = h->b.pfn;
  const struct zc_user *zu = &d->zu[h->principal];
  /* The principal's own last buffer of the page: its mapping goes (another
   * principal holding a fragment of the same page keeps its own). */
  int last_mine = zu->refs && zu->refs[pfn] && --zu->refs[pfn] == 0;
  if (d->app_refs[pfn] && --d->app_refs[pfn] == 0) {
    mem_page_set_holder(d->m, pfn, -1);
  } else if (last_mine && mem_page_holder(d->m, pfn) == (int)h->principal) {
    /* The page is still held, by someone else now. */
    for (unsigned p = 0; p < MEM_MAX_PRINCIPALS; p++)
      if (d->zu[p].refs && d->zu[p].refs[pfn]) {
        mem_page_set_holder(d->m, pfn, (int)p);
        break;
      }
  }
  if (last_mine && zu->map_per_packet && h->b.src != BUF_UMEM) {
    mem_page_map(d->m, pfn, h->principal, MEM_MAP_NONE);
    cpu_charge(d->cpu, CPU_MAP, d->cpu->costs.user_unmap);
    d->st.app_unmaps++;
  }
  if (h->b.src == BUF_UMEM)
    d->umem->held--;
  rx_buf_release(d, h->queue, &h->b, REL_APP);
  /* The pool has a page again: the ring is refilled in NAPI context. */
  rx_ring_kick(&d->q[h->queue]);
}

void user_zc_return_tick(void *arg) {
  struct driver *d = arg;
  uint64_t now = simk_now_ps();
  while (d->nheld && d->held[d->held_first].return_ps <= now) {
    struct held_page h = d->held[d->held_first];
    d->held_first = (d->held_first + 1) % d->held_cap;
    d->nheld--;
    zc_return(d, &h);
  }
  if (d->nheld)
    simk_event_notify(d->app_ev, d->held[d->held_first].return_ps - now);
}

static int hold_page(struct driver *d, unsigned queue, unsigned who, const struct buf *b) {
  struct held_page *n = grow_ring(d->held, &d->held_cap, &d->held_first, d->nheld, sizeof *n, 256);
  if (!n)
    return -1;
  d->held = n;
  uint64_t now = simk_now_ps();
  d->held[(d->held_first + d->nheld) % d->held_cap] =
      (struct held_page){.queue = queue, .principal = who, .b = *b, .return_ps = now + d->zu[who].hold_ps};
  d->nheld++;
  if (d->nheld > d->st.pages_held_max)
    d->st.pages_held_max = d->nheld;
  if (!simk_event_pending(d->app_ev))
    simk_event_notify(d->app_ev, d->zu[who].hold_ps);
  return 0;
}

/* A principal with a read-write mapping changes the packet the stack just
 * validated (before the recipient reads it). */
void user_hostile_writes(struct driver *d, const struct pending_rx *pr) {
  unsigned n = d->nuw;
  int design_writer = d->p.app_hostile_write;
  if (!n && !design_writer)
    return;
  const struct frag *fr = &pr->frags[0];
  uint32_t off = pr->skip < fr->len ? pr->skip : 0;
  uint64_t at = frag_paddr(fr) + off;
  /* The packet written over: the writes into two packets are two sources,
   * even where their bytes end up side by side (a socket buffer). */
  const struct mem_label *was = mem_label(d->m, mem_peek_label_id(d->m, at));
  uint64_t victim = was->prov.kind == MEM_LABEL_PKT_HEADER || was->prov.kind == MEM_LABEL_PKT_PAYLOAD ||
                            was->prov.kind == MEM_LABEL_PKT_UNKNOWN || was->prov.kind == MEM_LABEL_USER
                        ? was->prov.packet
                        : UINT64_MAX;
  for (unsigned i = 0; i < n + (unsigned)design_writer; i++) {
    unsigned who = i < n ? d->uw[i].principal : d->p.app;
    uint32_t len = i < n ? d->uw[i].len : 16;
    if (len > fr->len - off)
      len = fr->len - off;
    if (!len)
      continue;
    static uint8_t evil[4096];
    memset(evil, 0x58, sizeof evil);
    struct mem_accessor ua = {.actor = MEM_ACTOR_USER, .id = (uint16_t)who};
    struct mem_prov up = {.kind = MEM_LABEL_USER, .principal = (uint8_t)who, .packet = victim};
    int rc = mem_write(d->m, ua, at, evil, len, &up);
    if (rc)
      d->st.user_write_faults++;
    else
      d->st.user_writes++;
    if (i < n && d->effect) {
      char text[200], name[48];
      snprintf(text, sizeof text, "%s %s %u bytes of a validated packet in page 0x%llx%s",
               principal_name(d, who, name, sizeof name),
               rc ? "tried to overwrite" : "overwrote", len, (unsigned long long)fr->b.pfn,
               rc ? ": refused, its mapping is read-only (or absent)" : "");
      d->effect(d->effect_ctx, d->uw[i].tag, UINT64_MAX, text);
    }
  }
  d->nuw = 0;
}

int driver_arm_user_write(struct driver *d, unsigned principal, uint32_t len, void *tag) {
  if (d->nuw == sizeof d->uw / sizeof d->uw[0])
    return -1;
  d->uw[d->nuw].principal = principal;
  d->uw[d->nuw].len = len;
  d->uw[d->nuw].tag = tag;
  d->nuw++;
  return 0;
}

void driver_set_hoard(struct driver *d, unsigned principal, void *tag) {
  d->hoard = (int)principal;
  d->hoard_tag = tag;
  if (d->effect) {
    char text[160], name[48];
    snprintf(text, sizeof text, "%s stops returning zero-copy pages from %.3f us on",
             principal_name(d, principal, name, sizeof name), (double)simk_now_ps() / 1e6);
    d->effect(d->effect_ctx, tag, UINT64_MAX, text);
  }
}

/* Hand a buffer to principal `who` in place (XDP_REDIRECT to it, or a zcrx
 * payload): it reads what it was given, keeps the buffer for its hold time
 * (app.hold_us for the application), then gives it back. A page mapped per
 * packet is mapped at the first buffer of it the principal holds. */
static void hand_over(struct driver *d, struct rxq *q, const struct frag *fr, uint32_t wire_bytes, unsigned who) {
  uint64_t pfn = fr->b.pfn;
  struct zc_user *zu = &d->zu[who];
  if (d->app_refs[pfn]++ == 0)
    mem_page_set_holder(d->m, pfn, (int)who);
  /* A page mapped per packet is mapped into this principal at the first
   * buffer of it the principal holds, whoever else holds another fragment
   * of it: each process's mapping is its own (vm_insert_page into its own
   * mm, mm/memory.c), so a second holder of the page gets a mapping too,
   * and with it the first holder's bytes. */
  int first_mine = !zu->refs || zu->refs[pfn]++ == 0; /* refs: every zero-copy principal has them */
  if (first_mine && zu->map_per_packet && fr->b.src != BUF_UMEM &&
      mem_page_mapping(d->m, pfn, who) == MEM_MAP_NONE) {
    mem_page_map(d->m, pfn, who, (enum mem_map_mode)zu->map_mode);
    cpu_charge(d->cpu, CPU_MAP, d->cpu->costs.user_map);
    d->st.app_maps++;
  }
  if (fr->b.src == BUF_UMEM) {
    d->umem->held++;
    d->st.rx_ring++;
  }
  user_read_zero_copy(d->users[who], frag_paddr(fr), fr->len, wire_bytes);
  if (d->hoard == (int)who) {
    /* It never gives the buffer back. */
    d->st.pages_hoarded++;
    return;
  }
  if (zu->hold_ps == 0 || hold_page(d, q->index, who, &fr->b)) {
    struct held_page h = {.queue = q->index, .principal = who, .b = fr->b, .return_ps = simk_now_ps()};
    zc_return(d, &h);
  }
}

/* The whole frame goes to principal `who` in place. */
void user_zc_hand_over_frame(struct driver *d, struct rxq *q, uint32_t total, unsigned who) {
  d->st.zc_packets++;
  for (uint32_t i = 0; i < q->nfrags; i++)
    hand_over(d, q, &q->frags[i], i == 0 ? total : 0, who);
  d->st.delivered_packets++;
  d->st.delivered_bytes += total;
  d->st.last_delivery_ps = simk_now_ps();
}
