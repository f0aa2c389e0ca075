/*
 * Flow parsing and the flow table.
 *
 * flow_parse() reads an Ethernet frame as far as a 5-tuple: 802.1Q/802.1ad
 * (QinQ) VLAN tags, MPLS label stacks, PPPoE sessions, IPv4 (with options
 * and fragments), IPv6 (with extension headers and fragments), TCP, UDP,
 * ICMP, ICMPv6, and the common tunnels far enough for the inner 5-tuple:
 * GRE (RFC 2784/2890, version 0: IPv4, IPv6, MPLS, and transparent Ethernet
 * bridging 0x6558 as NVGRE uses it), VXLAN (UDP destination port 4789, RFC
 * 7348), Geneve (UDP destination port 6081, RFC 8926) and IP in IP (IPv4 or
 * IPv6 inside IPv4 or IPv6: protocol 4 and 41, RFC 2003, RFC 4213, RFC
 * 2473). Every length is checked against caplen: a short or malformed frame
 * is never read past its end.
 *
 * Outer or inner: key is always the OUTER tuple, the one a NIC without
 * tunnel offload hashes for RSS and matches its ntuple rules on (and so the
 * one the flow table, ownership and steering use unless a caller chooses
 * otherwise). For a tunnelled frame, inner holds the innermost tuple,
 * has_inner says it is there and tunnel names the outermost encapsulation.
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
  uint16_t ethertype;  /* innermost EtherType of this layer: after VLAN tags; for
                          IP behind MPLS or PPPoE, 0x0800 or 0x86dd; for IP
                          directly in a tunnel, likewise */
  uint8_t src[16];     /* IPv4 in the first 4 bytes; MAC in the first 6 when not IP */
  uint8_t dst[16];
  uint16_t sport, dport; /* host order; 0 when the protocol has no ports */
};

/* The encapsulations flow_parse() looks through. */
enum flow_tunnel {
  FLOW_TUNNEL_NONE = 0,
  FLOW_TUNNEL_GRE = 1,     /* GRE carrying IPv4, IPv6 or MPLS */
  FLOW_TUNNEL_GRE_ETH = 2, /* GRE carrying Ethernet (0x6558, NVGRE) */
  FLOW_TUNNEL_VXLAN = 3,   /* UDP dport 4789 */
  FLOW_TUNNEL_GENEVE = 4,  /* UDP dport 6081 */
  FLOW_TUNNEL_IPIP = 5,    /* IPv4 in IPv4/IPv6 (protocol 4) */
  FLOW_TUNNEL_IP6IP = 6,   /* IPv6 in IPv4 (6in4) or IPv6 (protocol 41) */
};
#define FLOW_MAX_TUNNELS 4 /* nested encapsulations looked through */

/* IP fragments (of the outer IP header). */
enum flow_frag { FLOW_FRAG_NONE = 0, FLOW_FRAG_FIRST = 1, FLOW_FRAG_LATER = 2 };

struct flow_parse {
  struct flow_key key;   /* the outer tuple, as seen in this frame (not canonical) */
  uint32_t l3_offset;    /* offset of the (outer) IP header (or of the payload
                            after the last EtherType or MPLS label when not IP) */
  uint32_t l4_offset;    /* offset of the (outer) TCP/UDP/ICMP header; 0 if none */
  uint32_t payload_offset; /* first byte after ALL parsed headers, the inner
                              ones of a tunnel included (<= caplen): where the
                              data a socket of the innermost flow receives
                              starts. For a frame without a tunnel, the first
                              byte after its transport header. */
  uint16_t vlan_tags;    /* number of (outer) VLAN tags skipped */
  /* Added with MPLS and tunnels; a frame without them leaves these 0, and
   * outer_payload_offset == payload_offset. */
  uint8_t mpls_labels;   /* (outer) MPLS label stack entries skipped, up to 255 */
  uint8_t fragment;      /* enum flow_frag of the outer IP packet */
  uint8_t tunnel;        /* enum flow_tunnel: the outermost encapsulation entered */
  uint8_t tunnels;       /* encapsulations entered, nested ones included */
  uint8_t has_inner;     /* 1: inner holds the innermost tuple that was reached */
  struct flow_key inner; /* the innermost tuple (all zero unless has_inner) */
  uint32_t inner_l3_offset; /* its IP header (or payload after its EtherType) */
  uint32_t inner_l4_offset; /* its transport header; 0 if none */
  uint32_t outer_payload_offset; /* first byte after the outer transport header
                                    (the tunnel header of a tunnelled frame):
                                    where a tunnel-unaware header split cuts */
};

/* Parse frame[0..caplen). 0 on success (whatever the depth reached), -1 when
 * not even an Ethernet header is there (out is zeroed then).
 *
 * Depth rules: up to any number of 802.1Q/802.1ad tags (0x8100, 0x88a8,
 * 0x9100) after the MAC addresses. An MPLS stack (0x8847, 0x8848) is
 * followed to its bottom entry; what it carries is IPv4 or IPv6 by the first
 * nibble (RFC 3032 gives no type: 4 and 6 are how routers and Wireshark
 * guess), anything else (a pseudowire control word, Ethernet over MPLS)
 * stops there. A PPPoE session frame (0x8864) carrying IPv4 (PPP 0x0021) or
 * IPv6 (0x0057) is followed. An IPv4 header that is cut off or has a bad
 * version/IHL, or an IPv6 fixed header that is cut off, leaves that layer
 * non-IP (af 0, grouped by EtherType and MACs). IPv4 and IPv6 non-first
 * fragments: proto is the fragment's protocol, ports 0, no l4_offset, and
 * no tunnel is looked into. IPv6 walks hop-by-hop, routing, fragment,
 * destination options and AH headers; when one is cut off, proto is that
 * header's number. TCP/UDP ports need the first 4 bytes of the header;
 * l4_offset needs the whole fixed header (TCP 20, UDP 8, ICMP 8, ICMPv6 4
 * bytes). Headers are bounded by the IP length when it is smaller than the
 * capture (Ethernet padding is not parsed).
 *
 * Tunnels: VXLAN needs its I flag, Geneve version 0 and a protocol type of
 * Ethernet, IPv4 or IPv6, GRE version 0 without the obsolete routing bit. A
 * UDP frame to port 4789 or 6081 that fails those checks is plain UDP. The
 * inner frame gets the same rules (at most FLOW_MAX_TUNNELS deep); when it
 * is cut off before its first header (an Ethernet header, or a valid IP
 * header), tunnel is set but has_inner stays 0 (or keeps the previous
 * level's tuple, for a nested tunnel). */
int flow_parse(const uint8_t *frame, uint32_t caplen, struct flow_parse *out);

/* The innermost tuple when there is one, else the outer: the flow an
 * application socket on a tunnel endpoint would see. */
const struct flow_key *flow_parse_innermost(const struct flow_parse *p);

/* "vxlan", "gre", ...; "none" for FLOW_TUNNEL_NONE, "?" when unknown. */
const char *flow_tunnel_name(int tunnel);

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
  uint64_t bytes_error; /* bounded table: bytes it may have had before it was
                           (re)admitted, inherited from the flow it evicted;
                           bytes + bytes_error bounds its true bytes from above */
};

struct flow_table *flow_table_new(void);
void flow_table_free(struct flow_table *ft);
/* Keep at most max_flows flows (0: no bound, the default). Only before the
 * first add; -1 otherwise. When the table is full, a new flow takes the id
 * of the unpinned flow with the fewest estimated bytes (bytes +
 * bytes_error), which is evicted and forgotten; the newcomer inherits that
 * estimate as its bytes_error (the Space-Saving algorithm, Metwally et al.,
 * 2005: any flow with more than 1/max_flows of the bytes is never evicted,
 * and the top flow by bytes is found whenever one has that much). Ids stay
 * dense (0..count-1), but a reused id no longer says order of appearance:
 * first_index does. */
int flow_table_set_limit(struct flow_table *ft, uint32_t max_flows);
/* Never evict flow id (an application flow, say). */
void flow_table_pin(struct flow_table *ft, uint32_t id);
/* Flows evicted to make room; frames of new flows that found every flow
 * kept pinned (not added: flow_table_add returned UINT32_MAX). */
uint64_t flow_table_evicted(const struct flow_table *ft);
uint64_t flow_table_untracked(const struct flow_table *ft);
/* The id of key's flow (dense, from 0, in order of first appearance), adding it
 * if new; adds one packet of wire_bytes to its counts. first_index of a new
 * flow is the number of frames added before it (the trace index when every
 * frame of the trace is added; use flow_table_add_frame otherwise).
 * UINT32_MAX when memory runs out, or when a bounded table is full of
 * pinned flows (nothing is counted then). */
uint32_t flow_table_add(struct flow_table *ft, const struct flow_key *key, uint32_t wire_bytes);
/* The same with the frame's trace index given (kept as first_index). */
uint32_t flow_table_add_frame(struct flow_table *ft, const struct flow_key *key,
                              uint32_t wire_bytes, uint64_t index);
/* The id of key's flow, or UINT32_MAX when it is not in the table. */
uint32_t flow_table_find(const struct flow_table *ft, const struct flow_key *key);
/* Hints for a caller that knows which keys come next (no effect on any
 * result): with many flows the table does not fit the host's caches, and a
 * lookup waits for the slot and then for the entry it names. So
 * flow_table_prefetch fetches the slot where key's flow is found and sets
 * *hash; flow_table_prefetch_entry(hash), called later when that slot is
 * cached, fetches the entry. flow_table_prefetch returns 0 when it does
 * nothing: when the memo of recent keys has answered most of the last
 * adds, or the table is small enough to stay cached, else 1. The *_hashed
 * forms of add and find take that hash for the same key (NULL: none), so
 * that it is not computed again. */
int flow_table_prefetch(const struct flow_table *ft, const struct flow_key *key, uint64_t *hash);
void flow_table_prefetch_entry(const struct flow_table *ft, uint64_t hash);
uint32_t flow_table_add_hashed(struct flow_table *ft, const struct flow_key *key, uint32_t wire_bytes,
                               uint64_t index, const uint64_t *hash);
uint32_t flow_table_find_hashed(const struct flow_table *ft, const struct flow_key *key, const uint64_t *hash);
/* 1 when the memo of recent keys missed more than one add in eight lately:
 * a lookup then mostly goes to the table itself. */
int flow_table_memo_misses_often(const struct flow_table *ft);
uint32_t flow_table_count(const struct flow_table *ft);
/* NULL when id >= flow_table_count(). */
const struct flow_stats *flow_table_get(const struct flow_table *ft, uint32_t id);
/* The flow with the most bytes, estimated (bytes + bytes_error; ties: the
 * one whose first frame came first);
 * UINT32_MAX when the table is empty. Only IP flows with ports (TCP or UDP,
 * a port not 0) qualify when any exist. */
uint32_t flow_table_top_by_bytes(const struct flow_table *ft);

#endif
