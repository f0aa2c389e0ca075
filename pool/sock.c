/*
 * sock.c: the receiving sockets. See sock.h.
 *
 * Models the socket end of the RX path: the skb charged to its socket's
 * receive queue and dropped when that is over sk_rcvbuf (net/ipv4/udp.c:
 * __udp_enqueue_schedule_skb; TCP: tcp_try_rmem_schedule), the recipient's
 * recvmsg later (udp_recvmsg / tcp_recvmsg: skb_copy_datagram_iter copies the
 * payload into its buffer), and the skb freed then (skb_free_datagram,
 * sock_rfree uncharges the socket; the pages go back through the pool's
 * ring, not in NAPI context).
 */
#include "sock.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "rx_ring.h"
#include "skb.h"
#include "user.h"

/* The receive-queue bytes of the socket sock (a 5-tuple hash), or NULL
 * when host memory runs out (then the socket is not accounted). */
#define DRIVER_SOCK_SLOTS (1u << 18)
static uint32_t *sock_rmem(struct driver *d, uint32_t sock) {
  if (!d->rmem && !(d->rmem = calloc(DRIVER_SOCK_SLOTS, sizeof *d->rmem)))
    return NULL;
  return &d->rmem[sock % DRIVER_SOCK_SLOTS];
}

void driver_sock_prefetch(const struct driver *d, uint32_t sock) {
  if (d->rmem)
    __builtin_prefetch(&d->rmem[sock % DRIVER_SOCK_SLOTS], 1);
}

/* The recipient's recvmsg: the payload is copied out, the stack is done
 * with the bytes, the pages go back. */
static void consume(struct driver *d, const struct pending_rx *pr) {
  uint32_t skip = pr->skip;
  for (uint32_t i = 0; i < pr->nfrags; i++) {
    uint32_t len = pr->frags[i].len;
    uint32_t off = skip < len ? skip : len;
    skip -= off;
    if (len > off)
      user_deliver_copy(d->users[pr->owner], frag_paddr(&pr->frags[i]) + off, len - off,
                        i == 0 ? pr->total : 0);
  }
  skb_free(d, pr->shinfo);
  if (d->rmem)
    d->rmem[pr->sock] -= pr->truesize; /* skb_free_datagram / sock_rfree */
  for (uint32_t i = 0; i < pr->nfrags; i++) {
    mem_mark_remove(d->m, MEM_MARK_VALIDATED, 0, frag_paddr(&pr->frags[i]), pr->frags[i].len);
    rx_buf_release(d, pr->queue, &pr->frags[i].b, REL_RECVMSG);
  }
  d->st.delivered_packets++;
  d->st.delivered_bytes += pr->total;
  d->st.last_delivery_ps = simk_now_ps();
}

void sock_recv_tick(void *arg) {
  struct driver *d = arg;
  uint64_t now = simk_now_ps();
  uint64_t refill_mask = 0;
  while (d->npend && d->rxq_pend[d->pend_first].due_ps <= now) {
    struct pending_rx *pr = &d->rxq_pend[d->pend_first];
    consume(d, pr);
    refill_mask |= 1ull << pr->queue;
    d->pend_first = (d->pend_first + 1) % d->pend_cap;
    d->npend--;
  }
  /* Pages are back in their pools: the rings are refilled in NAPI context. */
  for (unsigned qi = 0; qi < d->p.queues; qi++)
    if (refill_mask & (1ull << qi))
      rx_ring_kick(&d->q[qi]);
  if (d->npend)
    simk_event_notify(d->recv_ev, d->rxq_pend[d->pend_first].due_ps - now);
}

/* Copy a pending frame: its fields and the fragments in use (at least the
 * first), not the room for NIC_MAX_DESC_PER_FRAME of them. */
static void pend_copy(struct pending_rx *dst, const struct pending_rx *src) {
  uint32_t n = src->nfrags ? src->nfrags : 1;
  if (n > NIC_MAX_DESC_PER_FRAME)
    n = NIC_MAX_DESC_PER_FRAME;
  memcpy(dst, src, offsetof(struct pending_rx, frags) + n * sizeof src->frags[0]);
}

/* Queue for later consumption (due times are in order: one delay for all).
 * 0, or -1 when host memory runs out (then the caller consumes at once). */
static int pend_push(struct driver *d, const struct pending_rx *pr) {
  struct pending_rx *n = grow_ring(d->rxq_pend, &d->pend_cap, &d->pend_first, d->npend, sizeof *n, 64);
  if (!n)
    return -1;
  d->rxq_pend = n;
  pend_copy(&d->rxq_pend[(d->pend_first + d->npend) % d->pend_cap], pr);
  d->npend++;
  if (!simk_event_pending(d->recv_ev))
    simk_event_notify(d->recv_ev, pr->due_ps - simk_now_ps());
  return 0;
}

/* The skb over the frame being received on q (its shared info at shinfo,
 * total bytes) goes to the socket of pk: dropped when the socket's receive
 * queue is over sk_rcvbuf, else queued until the recipient's recvmsg. */
void sock_queue(struct rxq *q, const struct driver_pkt *pk, uint64_t shinfo, uint32_t total) {
  struct driver *d = q->d;
  /* skb->truesize: the buffers, the sk_buff, and a separate head. */
  uint32_t truesize = LINUX_SKB_DATA_ALIGN(LINUX_SK_BUFF_BYTES);
  for (uint32_t i = 0; i < q->nfrags; i++)
    truesize += q->frags[i].b.truesize;
  if (d->p.skb_readonly || q->split)
    truesize += HEAD_SLOT_BYTES;
  uint32_t *rmem = sock_rmem(d, pk->sock);
  if (d->p.sock_rcvbuf_bytes && rmem && *rmem > d->p.sock_rcvbuf_bytes) {
    /* The socket's receive queue is over sk_rcvbuf: the frame is dropped at
     * the socket (net/ipv4/udp.c, __udp_enqueue_schedule_skb: rmem >
     * rcvbuf -> drop, sk_drops and UDP_MIB_RCVBUFERRORS; TCP prunes then
     * drops in tcp_try_rmem_schedule); the skb is freed in softirq and its
     * pages recycle, so a slow reader costs its own frames, not the
     * queue's descriptors. */
    d->st.sock_drops[pk->owner]++;
    d->st.sock_drop_bytes[pk->owner] += total;
    skb_free(d, shinfo);
    for (uint32_t i = 0; i < q->nfrags; i++)
      rx_buf_release(d, q->index, &q->frags[i].b, REL_NAPI);
    return;
  }
  if (rmem) {
    *rmem += truesize;
    if (*rmem > d->st.sock_rmem_max[pk->owner])
      d->st.sock_rmem_max[pk->owner] = *rmem;
  }
  d->st.stack_packets++;
  cpu_charge(d->cpu, CPU_OTHER, d->cpu->costs.sock_deliver);
  /* Queued on the socket: the stack validated these bytes and uses them
   * until the recipient's recvmsg copies the payload out. */
  struct pending_rx pr; /* not zeroed whole: only the fragments in use are read */
  memset(&pr, 0, offsetof(struct pending_rx, frags) + sizeof pr.frags[0]);
  pr.queue = q->index;
  pr.owner = pk->owner;
  pr.nfrags = q->nfrags;
  pr.skip = q->split ? 0 : pk->hdr_len;
  pr.total = total;
  pr.due_ps = simk_now_ps() + d->p.recv_delay_ps;
  pr.shinfo = shinfo;
  pr.truesize = rmem ? truesize : 0;
  pr.sock = pk->sock % DRIVER_SOCK_SLOTS;
  memcpy(pr.frags, q->frags, q->nfrags * sizeof q->frags[0]);
  for (uint32_t i = 0; i < q->nfrags; i++)
    mem_mark_add(d->m, MEM_MARK_VALIDATED, 0, frag_paddr(&q->frags[i]), q->frags[i].len);
  user_hostile_writes(d, &pr);
  if (d->p.recv_delay_ps == 0 || pend_push(d, &pr))
    consume(d, &pr);
}
