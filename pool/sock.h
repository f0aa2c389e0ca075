/*
 * sock: the receiving sockets (pool/ only): a receive queue per 5-tuple
 * charged in truesize against sk_rcvbuf, and the recipient's recvmsg after
 * the design's delay.
 */
#ifndef NICSIM_SOCK_H
#define NICSIM_SOCK_H

#include "driver_priv.h"

/* Queue the skb of the frame being received on q on pk's socket (or drop
 * it there). From the NAPI poll. */
void sock_queue(struct rxq *q, const struct driver_pkt *pk, uint64_t shinfo, uint32_t total);
/* The recipients' recvmsg of every skb now due (the event "stack.recv",
 * arg: the driver). Process context: pages go back through the ring. */
void sock_recv_tick(void *arg);

#endif
