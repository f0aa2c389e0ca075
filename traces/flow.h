/*
 * Flow parsing and the flow table.
 *
 * flow_parse() reads an Ethernet frame (802.1Q/QinQ VLAN tags, IPv4, IPv6,
 * TCP, UDP, ICMP) as far as a 5-tuple. Every length is checked against
 * caplen: a short or malformed frame is never read past its end.
 *
 * A flow is bidirectional: both directions of a 5-tuple are the same flow.
 * Frames that are not IP are grouped by (EtherType, MAC pair).
 */
#ifndef NICSIM_FLOW_H
#define NICSIM_FLOW_H

#include <stddef.h>
#include <stdint.h>

enum flow_af { FLOW_AF_NONE = 0, FLOW_AF_INET = 4, FLOW_AF_INET6 = 6 };

struct flow_key {
  uint8_t af;          /* enum flow_af; FLOW_AF_NONE: not IP */
  uint8_t proto;       /* IP protocol (6 TCP, 17 UDP, 1/58 ICMP...), 0 if not IP */
  uint16_t ethertype;  /* innermost EtherType */
  uint8_t src[16];     /* IPv4 in the first 4 bytes; MAC in the first 6 when not IP */
  uint8_t dst[16];
  uint16_t sport, dport; /* host order; 0 when the protocol has no ports */
};

struct flow_parse {
  struct flow_key key;   /* as seen in this frame (not canonical) */
  uint32_t l3_offset;    /* offset of the IP header (or of the payload after
                            the last EtherType when not IP) */
  uint32_t l4_offset;    /* offset of the TCP/UDP/ICMP header; 0 if none */
  uint32_t payload_offset; /* first byte after all parsed headers (<= caplen) */
  uint16_t vlan_tags;    /* number of VLAN tags skipped */
};

/* Parse frame[0..caplen). 0 on success (whatever the depth reached), -1 when
 * not even an Ethernet header is there (out is zeroed then).
 *
 * Depth rules: up to any number of 802.1Q/802.1ad tags (0x8100, 0x88a8,
 * 0x9100). An IPv4 header that is cut off or has a bad version/IHL, or an
 * IPv6 fixed header that is cut off, leaves the frame non-IP (af 0, grouped
 * by EtherType and MACs). IPv4 and IPv6 non-first fragments: proto is the
 * fragment's protocol, ports 0, no l4_offset. IPv6 walks hop-by-hop,
 * routing, fragment, destination options and AH headers; when one is cut
 * off, proto is that header's number. TCP/UDP ports need the first 4 bytes
 * of the header; l4_offset needs the whole fixed header (TCP 20, UDP 8,
 * ICMP 8, ICMPv6 4 bytes). Headers are bounded by the IP length when it is
 * smaller than the capture (Ethernet padding is not parsed). */
int flow_parse(const uint8_t *frame, uint32_t caplen, struct flow_parse *out);

/* The key with its two ends in a fixed order, so both directions compare equal. */
void flow_key_canonical(const struct flow_key *in, struct flow_key *out);

/* "udp 10.0.0.2:5001 > 10.0.0.1:4000", "tcp [2001:db8::1]:80 > [2001:db8::2]:4000",
 * "icmp 10.0.0.1 > 10.0.0.2", "ether 0x0806 00:11:22:33:44:55 > ff:ff:ff:ff:ff:ff".
 * Ports (and, for IPv6, brackets) are shown for tcp and udp only, even when 0
 * (a non-first fragment): "icmp6 2001:db8::1 > 2001:db8::2",
 * "ip proto 47 10.0.0.1 > 10.0.0.2". The MAC form is source > destination.
 * Returns the length snprintf would write (buf may be NULL when n is 0). */
int flow_key_format(const struct flow_key *k, char *buf, size_t n);

struct flow_table;

struct flow_stats {
  struct flow_key key;  /* as seen in the flow's first frame (not canonical) */
  uint64_t packets;
  uint64_t bytes;       /* wire bytes (origlen) */
  uint64_t first_index; /* trace index of its first frame */
};

struct flow_table *flow_table_new(void);
void flow_table_free(struct flow_table *ft);
/* The id of key's flow (dense, from 0, in order of first appearance), adding it
 * if new; adds one packet of wire_bytes to its counts. first_index of a new
 * flow is the number of frames added before it (the trace index when every
 * frame of the trace is added; use flow_table_add_frame otherwise).
 * UINT32_MAX when memory runs out (nothing is counted then). */
uint32_t flow_table_add(struct flow_table *ft, const struct flow_key *key, uint32_t wire_bytes);
/* The same with the frame's trace index given (kept as first_index). */
uint32_t flow_table_add_frame(struct flow_table *ft, const struct flow_key *key,
                              uint32_t wire_bytes, uint64_t index);
/* The id of key's flow, or UINT32_MAX when it is not in the table. */
uint32_t flow_table_find(const struct flow_table *ft, const struct flow_key *key);
uint32_t flow_table_count(const struct flow_table *ft);
/* NULL when id >= flow_table_count(). */
const struct flow_stats *flow_table_get(const struct flow_table *ft, uint32_t id);
/* The flow with the most bytes (ties: the one that appeared first);
 * UINT32_MAX when the table is empty. Only IP flows with ports (TCP or UDP,
 * a port not 0) qualify when any exist. */
uint32_t flow_table_top_by_bytes(const struct flow_table *ft);

#endif
