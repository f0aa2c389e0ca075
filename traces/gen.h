/*
 * The trace generator (nicsim gen): multi-flow UDP traffic whose payload bytes
 * carry a readable per-flow marker, so a leak is visible by eye in a hex dump
 * or in Wireshark. Written through libpcap's dump API. Deterministic for a
 * given seed.
 */
#ifndef NICSIM_GEN_H
#define NICSIM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/*
 * What is written (a nanosecond pcap, DLT_EN10MB, snaplen 65535):
 * - Flow i (0-based) is UDP from a client to the simulated host's service,
 *   port 4000: 10.0.1.1 for IPv4, 2001:db8:0:1::1 for IPv6. Flow i is IPv6
 *   when floor((i+1)*f) > floor(i*f), f = ipv6_fraction: floor(flows*f)
 *   IPv6 flows spread evenly, the same for every seed. Each flow's client
 *   is drawn from the seed (its own PRNG stream, so the flow and size of
 *   every frame do not depend on it): source port uniform in Linux's
 *   ephemeral range 32768..60999, IPv4 address anywhere in 10.0.0.0/8 but
 *   10.0.1.0/24 (last byte not 0 or 255), IPv6 address anywhere in
 *   2001:db8::/32 but 2001:db8:0:1::/64 (interface id not 0); no two flows
 *   share a client address and port. Scattered tuples make RSS spread the
 *   flows over the queues as real traffic does. gen_flow_key() gives flow
 *   i's tuple. MACs are fixed (02:00:00:00:00:01 > 02:00:00:00:00:02).
 *   IPv4 header and UDP checksums are valid; DF is set, TTL 64.
 * - Each frame's flow is drawn with weight 1/(i+1) (flow 0 carries the most),
 *   then, with imix, its size. IPv6 frames are at least 62 bytes (14+40+8),
 *   so a 60-byte size becomes 62 for them.
 * - The UDP payload is "<flow %04u pkt %010llu> " (flow id, index of the
 *   frame in the trace) repeated, the last copy cut at the frame's end.
 * - Frame n (0-based) is stamped 1700000000 s + round(B_n / rate_gbps) ns,
 *   B_n = sum over the frames before it of 8 * (length + 24) bits (4 B FCS,
 *   8 B preamble/SFD, 12 B gap).
 */
struct gen_params {
  const char *path;      /* output file ("-" for standard output) */
  uint32_t flows;        /* number of flows, 1..1000000 */
  uint64_t packets;      /* number of frames, >= 1 */
  uint32_t size_bytes;   /* frame size on the wire without FCS (60..9000); 0 with imix */
  int imix;              /* 1: simple IMIX sizes 60/590/1514 in 7:4:1 */
  double rate_gbps;      /* offered rate; timestamps spaced by it (with 4 B FCS
                            and 20 B preamble and gap per frame); > 0 */
  uint64_t seed;
  double ipv6_fraction;  /* share of flows that are IPv6, 0..1 */
};

/* Defaults: 8 flows, 1000 packets, 512 bytes, 10 Gb/s, seed 1, no IPv6. */
void gen_params_default(struct gen_params *p);

/* Write the trace. 0, or -1 with err filled: invalid parameters give
 * "gen: --size 20 is out of range (60..9000 bytes)" (likewise --flows,
 * --packets, --rate-gbps, --ipv6-share: the names of nicsim gen's options);
 * output problems "FILE: what is wrong" ("standard output" for "-"). A regular file
 * that cannot be completed is removed. */
int gen_write(const struct gen_params *p, char *err, size_t errlen);

/* The 5-tuple of generator flow `flow` (from 0) as gen_write writes it for
 * p: UDP, client > server (flows, seed and ipv6_fraction decide it; path,
 * packets, sizes and rate do not). 0, or -1 with err filled (flow not below
 * p->flows, or p->flows or ipv6_fraction out of range). Builds every flow's
 * tuple: O(p->flows) time and memory per call. */
int gen_flow_key(const struct gen_params *p, uint32_t flow, struct flow_key *key, char *err,
                 size_t errlen);

#endif
