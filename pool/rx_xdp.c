/*
 * rx_xdp.c: XDP on the RX path. See rx_xdp.h.
 *
 * Models the driver's XDP hook (ixgbe_run_xdp in ixgbe_main.c,
 * i40e_run_xdp_zc in i40e_xsk.c: bpf_prog_run_xdp on the first buffer, then
 * XDP_PASS, XDP_DROP or XDP_REDIRECT) and the redirect's ends: a zero-copy
 * principal's buffer handed over in place (xsk_rcv_zc), an AF_XDP socket in
 * copy mode (net/xdp/xsk.c: xsk_rcv -> __xsk_rcv copies the frame into the
 * socket's UMEM), or no such socket (xdp_do_redirect fails, the frame is
 * dropped).
 */
#include "rx_xdp.h"

#include <string.h>

#include "rx_ring.h"
#include "umem.h"
#include "user.h"

void driver_set_xdp(struct driver *d, const struct driver_xdp_prog *x) {
  if (x)
    d->xdp = *x;
  else
    memset(&d->xdp, 0, sizeof d->xdp);
}

/* XDP_REDIRECT to a principal that has no zero-copy memory on this queue:
 * an AF_XDP socket in copy mode (XDP_COPY: xsk_rcv -> __xsk_rcv copies the
 * frame into the socket's UMEM, then the driver's buffer is freed). The whole
 * frame, headers included, is copied into the principal's own memory (its
 * socket buffer pages stand for its UMEM) and the buffers go back at once. */
static void redirect_copy(struct driver *d, struct rxq *q, unsigned to, uint64_t hdr_pa, uint32_t total) {
  struct user *u = d->users[to];
  uint32_t wire = total;
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.sock_deliver); /* RX ring entry, wakeup */
  if (q->split && q->hdr_len) {
    user_deliver_copy(u, hdr_pa, q->hdr_len, wire);
    wire = 0;
  }
  for (uint32_t i = 0; i < q->nfrags; i++)
    if (q->frags[i].len) {
      user_deliver_copy(u, frag_paddr(&q->frags[i]), q->frags[i].len, wire);
      wire = 0;
    }
  rx_frame_release(d, q);
  d->st.xdp_redirect_copy++;
  d->st.delivered_packets++;
  d->st.delivered_bytes += total;
  d->st.last_delivery_ps = simk_now_ps();
}

/* Run XDP on the frame being received: the configured program, or the
 * default one (a frame whose owner gets this queue's buffers zero-copy,
 * to_zc, redirected to it; the rest passed). Returns 1
 * when the verdict finished the frame (dropped, redirected), 0 when it goes
 * up the stack (XDP_PASS: on the AF_XDP queue, copied out of the UMEM into a
 * kernel page first, as the zero-copy drivers' XDP_PASS path does). */
int rx_xdp_run(struct driver *d, struct rxq *q, const struct driver_pkt *pk, uint64_t hdr_pa, uint32_t first_len,
               uint32_t total, int to_zc) {
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.xdp_run);
  d->st.xdp_runs++;
  int act = to_zc ? DRIVER_XDP_REDIRECT : DRIVER_XDP_PASS;
  unsigned to = to_zc ? pk->owner : d->p.app;
  if (d->xdp.run) {
    /* The program sees the frame's first buffer (xdp_buff data..data_end). */
    uint32_t n = first_len < sizeof d->xdp_buf ? first_len : (uint32_t)sizeof d->xdp_buf;
    mem_read(d->m, kcpu, hdr_pa, d->xdp_buf, n);
    uint32_t rules = 0;
    act = d->xdp.run(d->xdp.ctx, d->xdp_buf, n, total, pk, &to, &rules);
    cpu_charge(d->cpu, CPU_OTHER, (uint64_t)rules * d->cpu->costs.xdp_rule);
  }
  switch (act) {
  case DRIVER_XDP_DROP:
    /* XDP_DROP: the buffers go straight back (page_pool_recycle_direct in
     * NAPI context; xsk_buff_free on the AF_XDP queue). */
    d->st.xdp_drop++;
    rx_frame_release(d, q);
    return 1;
  case DRIVER_XDP_REDIRECT:
    d->st.xdp_redirect++;
    if ((to < 64 && (q->zc_users >> to & 1)) || (to == d->p.app && q->xsk)) {
      /* The principal's memory on this queue: handed over in place. */
      d->st.xdp_redirect_in_place++;
      user_zc_hand_over_frame(d, q, total, to);
    } else if (to < d->nusers && d->users[to]) {
      redirect_copy(d, q, to, hdr_pa, total);
    } else {
      d->st.xdp_redirect_failed++;
      rx_frame_release(d, q);
    }
    return 1;
  default:
    d->st.xdp_pass++;
    if (q->xsk && umem_copy_out(d, q))
      return 1; /* no kernel page to copy into: dropped */
    return 0;
  }
}
