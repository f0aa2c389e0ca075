/*
 * Flow parsing (Ethernet, VLAN, MPLS, PPPoE, IPv4, IPv6 with extension
 * headers, TCP, UDP, ICMP, and the tunnels GRE, VXLAN, Geneve, IP in IP)
 * and the flow table (open addressing on the canonical key).
 *
 * Every read goes through a bound check against the end of the captured
 * bytes (or of the IP packet when the IP length is smaller, so Ethernet
 * padding is never parsed as a header).
 *
 * The parser is one descent over the layers with a level: level 0 fills
 * flow_parse.key and the outer offsets, a tunnel raises the level and the
 * layers inside it fill flow_parse.inner. A deeper tunnel overwrites inner,
 * so inner ends up holding the innermost tuple reached.
 */
#include "flow.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugemem.h"

enum {
  ETH_HLEN = 14,
  ETHERTYPE_IPV4 = 0x0800,
  ETHERTYPE_IPV6 = 0x86dd,
  ETHERTYPE_VLAN = 0x8100,
  ETHERTYPE_QINQ = 0x88a8,
  ETHERTYPE_QINQ_OLD = 0x9100,
  ETHERTYPE_MPLS = 0x8847,
  ETHERTYPE_MPLS_MC = 0x8848,
  ETHERTYPE_PPPOE_SESSION = 0x8864,
  ETHERTYPE_TEB = 0x6558, /* transparent Ethernet bridging (GRE, Geneve) */
  PPP_IPV4 = 0x0021,
  PPP_IPV6 = 0x0057,
  IPPROTO_HOPOPTS_ = 0,
  IPPROTO_ICMP_ = 1,
  IPPROTO_IPIP_ = 4,
  IPPROTO_TCP_ = 6,
  IPPROTO_UDP_ = 17,
  IPPROTO_IPV6_ = 41,
  IPPROTO_ROUTING_ = 43,
  IPPROTO_FRAGMENT_ = 44,
  IPPROTO_GRE_ = 47,
  IPPROTO_AH_ = 51,
  IPPROTO_ICMPV6_ = 58,
  IPPROTO_DSTOPTS_ = 60,
  UDP_PORT_VXLAN = 4789,  /* IANA, RFC 7348 section 5 */
  UDP_PORT_GENEVE = 6081, /* IANA, RFC 8926 section 3.3 */
  /* GRE flags (RFC 2784 section 2, RFC 2890 section 2, RFC 1701 for R) */
  GRE_C = 0x8000,
  GRE_R = 0x4000,
  GRE_K = 0x2000,
  GRE_S = 0x1000,
  GRE_VERSION = 0x0007,
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* Bytes from off to end, 0 when off is at or past it. */
static uint32_t avail(uint32_t off, uint32_t end) { return end > off ? end - off : 0; }

/* What is inside a tunnel header. */
enum inner_kind { IN_ETH, IN_IPV4, IN_IPV6, IN_MPLS };

struct pctx {
  const uint8_t *f;
  struct flow_parse *out;
  int level; /* 0: the outer layers; n: inside n tunnels */
};

static struct flow_key *cur(struct pctx *c) { return c->level ? &c->out->inner : &c->out->key; }

static void set_l3(struct pctx *c, uint32_t off) {
  if (c->level)
    c->out->inner_l3_offset = off;
  else
    c->out->l3_offset = off;
}

static void set_l4(struct pctx *c, uint32_t off) {
  if (c->level)
    c->out->inner_l4_offset = off;
  else
    c->out->l4_offset = off;
}

static int parse_eth(struct pctx *c, uint32_t off, uint32_t end);
static int parse_ethertype(struct pctx *c, uint16_t type, uint32_t off, uint32_t end);
static int parse_ipv4(struct pctx *c, uint32_t off, uint32_t end);
static int parse_ipv6(struct pctx *c, uint32_t off, uint32_t end);

/* Enter a tunnel whose header ends at inner (the inner frame runs to end).
 * The inner layers go to out->inner; when they cannot be parsed at all, the
 * previous inner tuple (of an enclosing tunnel) is kept. */
static void enter(struct pctx *c, int kind, uint32_t inner, uint32_t end, enum inner_kind what) {
  struct flow_parse *o = c->out;
  if (c->level >= FLOW_MAX_TUNNELS)
    return;
  if (c->level == 0)
    o->outer_payload_offset = o->payload_offset;
  if (o->tunnels == 0)
    o->tunnel = (uint8_t)kind;
  o->tunnels++;
  o->payload_offset = inner; /* past the tunnel header, whatever follows */
  struct flow_key saved = o->inner;
  uint32_t s3 = o->inner_l3_offset, s4 = o->inner_l4_offset;
  c->level++;
  memset(&o->inner, 0, sizeof o->inner);
  o->inner_l3_offset = o->inner_l4_offset = 0;
  int got = 0;
  switch (what) {
  case IN_ETH:
    got = parse_eth(c, inner, end);
    break;
  case IN_IPV4:
    /* The EtherType first: a nested tunnel may overwrite inner below. */
    o->inner.ethertype = ETHERTYPE_IPV4;
    got = parse_ipv4(c, inner, end);
    break;
  case IN_IPV6:
    o->inner.ethertype = ETHERTYPE_IPV6;
    got = parse_ipv6(c, inner, end);
    break;
  case IN_MPLS:
    o->inner.ethertype = ETHERTYPE_MPLS;
    got = parse_ethertype(c, ETHERTYPE_MPLS, inner, end) && o->inner.af != FLOW_AF_NONE;
    break;
  }
  c->level--;
  if (got) {
    o->has_inner = 1;
  } else {
    o->inner = saved;
    o->inner_l3_offset = s3;
    o->inner_l4_offset = s4;
  }
}

/* GRE version 0 (RFC 2784, with RFC 2890's key and sequence number). The
 * obsolete routing field of RFC 1701 (R bit) is not followed, and version 1
 * (PPTP's enhanced GRE, carrying PPP) is not looked into. */
static void parse_gre(struct pctx *c, uint32_t off, uint32_t end) {
  const uint8_t *f = c->f;
  uint32_t n = avail(off, end);
  if (n < 4)
    return;
  uint16_t fl = rd16(f + off), proto = rd16(f + off + 2);
  if ((fl & GRE_VERSION) != 0 || (fl & GRE_R) != 0)
    return;
  uint32_t hl = 4 + ((fl & GRE_C) ? 4 : 0) + ((fl & GRE_K) ? 4 : 0) + ((fl & GRE_S) ? 4 : 0);
  if (n < hl)
    return;
  switch (proto) {
  case ETHERTYPE_IPV4:
    enter(c, FLOW_TUNNEL_GRE, off + hl, end, IN_IPV4);
    break;
  case ETHERTYPE_IPV6:
    enter(c, FLOW_TUNNEL_GRE, off + hl, end, IN_IPV6);
    break;
  case ETHERTYPE_MPLS:
  case ETHERTYPE_MPLS_MC:
    enter(c, FLOW_TUNNEL_GRE, off + hl, end, IN_MPLS);
    break;
  case ETHERTYPE_TEB:
    enter(c, FLOW_TUNNEL_GRE_ETH, off + hl, end, IN_ETH);
    break;
  default:
    break; /* a payload we do not look into: it starts at the GRE header */
  }
}

/* The UDP payload at off, to a tunnel port: VXLAN or Geneve when the header
 * says so, else plain UDP data. */
static void parse_udp_tunnel(struct pctx *c, uint16_t dport, uint32_t off, uint32_t end) {
  const uint8_t *f = c->f;
  uint32_t n = avail(off, end);
  if (dport == UDP_PORT_VXLAN) {
    /* flags (I = 0x08 says the VNI is valid), 3 reserved, VNI (3), 1 reserved */
    if (n >= 8 && (f[off] & 0x08))
      enter(c, FLOW_TUNNEL_VXLAN, off + 8, end, IN_ETH);
  } else if (dport == UDP_PORT_GENEVE) {
    /* Ver (2 bits, 0) | Opt Len (6 bits, 4-byte words); flags; protocol type */
    if (n < 8 || (f[off] >> 6) != 0)
      return;
    uint32_t hl = 8 + (uint32_t)(f[off] & 0x3f) * 4;
    if (n < hl)
      return;
    uint16_t proto = rd16(f + off + 2);
    if (proto == ETHERTYPE_TEB)
      enter(c, FLOW_TUNNEL_GENEVE, off + hl, end, IN_ETH);
    else if (proto == ETHERTYPE_IPV4)
      enter(c, FLOW_TUNNEL_GENEVE, off + hl, end, IN_IPV4);
    else if (proto == ETHERTYPE_IPV6)
      enter(c, FLOW_TUNNEL_GENEVE, off + hl, end, IN_IPV6);
  }
}

/* The transport header at off (end: first byte past the packet). Sets the
 * ports (TCP/UDP: the first 4 bytes are enough), and l4_offset and
 * payload_offset when the whole fixed header is there; follows tunnels. */
static void parse_l4(struct pctx *c, uint32_t off, uint32_t end, uint8_t proto) {
  const uint8_t *f = c->f;
  struct flow_parse *out = c->out;
  struct flow_key *k = cur(c);
  uint32_t n = avail(off, end);
  out->payload_offset = off;
  switch (proto) {
  case IPPROTO_TCP_:
    if (n >= 4) {
      k->sport = rd16(f + off);
      k->dport = rd16(f + off + 2);
    }
    if (n >= 20) {
      uint32_t hl = (uint32_t)(f[off + 12] >> 4) * 4;
      set_l4(c, off);
      out->payload_offset = (hl >= 20 && hl <= n) ? off + hl : off + 20;
    } else {
      out->payload_offset = off + n; /* only a partial header */
    }
    break;
  case IPPROTO_UDP_:
    if (n >= 4) {
      k->sport = rd16(f + off);
      k->dport = rd16(f + off + 2);
    }
    if (n >= 8) {
      set_l4(c, off);
      out->payload_offset = off + 8;
      parse_udp_tunnel(c, k->dport, off + 8, end);
    } else {
      out->payload_offset = off + n;
    }
    break;
  case IPPROTO_ICMP_:
    if (n >= 8) {
      set_l4(c, off);
      out->payload_offset = off + 8;
    } else {
      out->payload_offset = off + n;
    }
    break;
  case IPPROTO_ICMPV6_:
    if (n >= 4) {
      set_l4(c, off);
      out->payload_offset = off + 4;
    } else {
      out->payload_offset = off + n;
    }
    break;
  case IPPROTO_GRE_:
    parse_gre(c, off, end);
    break;
  case IPPROTO_IPIP_:
    enter(c, FLOW_TUNNEL_IPIP, off, end, IN_IPV4);
    break;
  case IPPROTO_IPV6_:
    enter(c, FLOW_TUNNEL_IP6IP, off, end, IN_IPV6);
    break;
  default:
    break; /* no transport header we know: the payload starts here */
  }
}

/* 1 when an IPv4 header is there (the layer is IP), else 0 and nothing set. */
static int parse_ipv4(struct pctx *c, uint32_t off, uint32_t end) {
  const uint8_t *f = c->f;
  uint32_t n = avail(off, end);
  if (n < 20 || (f[off] >> 4) != 4)
    return 0; /* not even a fixed header: stays non-IP */
  uint32_t hl = (uint32_t)(f[off] & 0x0f) * 4;
  if (hl < 20 || hl > n)
    return 0; /* bad IHL, or options cut off */
  struct flow_key *k = cur(c);
  k->af = FLOW_AF_INET;
  k->proto = f[off + 9];
  memset(k->src, 0, sizeof k->src);
  memset(k->dst, 0, sizeof k->dst);
  memcpy(k->src, f + off + 12, 4);
  memcpy(k->dst, f + off + 16, 4);
  uint32_t total = rd16(f + off + 2);
  if (total >= hl && total < n) /* 0 (TSO captures) or bogus: ignore */
    end = off + total;
  set_l3(c, off);
  uint32_t l4 = off + hl;
  c->out->payload_offset = l4;
  uint16_t frag = rd16(f + off + 6);
  uint16_t frag_off = frag & 0x1fff;
  if (c->level == 0 && (frag_off != 0 || (frag & 0x2000) != 0))
    c->out->fragment = frag_off ? FLOW_FRAG_LATER : FLOW_FRAG_FIRST;
  if (frag_off != 0)
    return 1; /* a later fragment: no transport header, ports 0 */
  parse_l4(c, l4, end, k->proto);
  return 1;
}

/* 1 when an IPv6 fixed header is there, else 0 and nothing set. */
static int parse_ipv6(struct pctx *c, uint32_t off, uint32_t end) {
  const uint8_t *f = c->f;
  uint32_t n = avail(off, end);
  if (n < 40 || (f[off] >> 4) != 6)
    return 0;
  struct flow_key *k = cur(c);
  k->af = FLOW_AF_INET6;
  memcpy(k->src, f + off + 8, 16);
  memcpy(k->dst, f + off + 24, 16);
  uint32_t plen = rd16(f + off + 4);
  if (plen != 0 && plen < n - 40) /* 0: jumbogram or TSO */
    end = off + 40 + plen;
  set_l3(c, off);
  uint8_t next = f[off + 6];
  uint32_t p = off + 40;
  /* Each extension header is at least 8 bytes long, so this ends. */
  for (;;) {
    k->proto = next;
    c->out->payload_offset = p;
    uint32_t left = avail(p, end);
    uint32_t len;
    switch (next) {
    case IPPROTO_HOPOPTS_:
    case IPPROTO_ROUTING_:
    case IPPROTO_DSTOPTS_:
      if (left < 2)
        return 1;
      len = ((uint32_t)f[p + 1] + 1) * 8;
      break;
    case IPPROTO_AH_:
      if (left < 2)
        return 1;
      len = ((uint32_t)f[p + 1] + 2) * 4;
      break;
    case IPPROTO_FRAGMENT_:
      if (left < 8)
        return 1;
      if (c->level == 0)
        c->out->fragment = (rd16(f + p + 2) >> 3) != 0 ? FLOW_FRAG_LATER : FLOW_FRAG_FIRST;
      if ((rd16(f + p + 2) >> 3) != 0) { /* a later fragment: ports 0 */
        k->proto = f[p];
        c->out->payload_offset = p + 8;
        return 1;
      }
      len = 8;
      break;
    default:
      parse_l4(c, p, end, next);
      return 1;
    }
    if (len > left)
      return 1; /* extension header cut off: proto says which */
    next = f[p];
    p += len;
  }
}

/* What follows an EtherType at off. Returns 1 when the layer's network
 * header was reached (IP, or for other types simply the type), 0 when an
 * MPLS stack or PPPoE header was cut off or carried no IP. */
static int parse_ethertype(struct pctx *c, uint16_t type, uint32_t off, uint32_t end) {
  const uint8_t *f = c->f;
  struct flow_key *k = cur(c);
  uint16_t ip_type = 0;
  if (type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MC) {
    /* RFC 3032: 4-byte entries, label (20) TC (3) S (1) TTL (8); S marks
     * the bottom of the stack. */
    uint32_t labels = 0;
    for (;;) {
      if (avail(off, end) < 4) {
        set_l3(c, off);
        c->out->payload_offset = off;
        return 0;
      }
      int bottom = f[off + 2] & 0x01;
      off += 4;
      labels++;
      if (bottom)
        break;
    }
    if (c->level == 0)
      c->out->mpls_labels = (uint8_t)(labels > 255 ? 255 : labels);
    set_l3(c, off);
    c->out->payload_offset = off;
    if (avail(off, end) < 1)
      return 0;
    ip_type = (f[off] >> 4) == 4 ? ETHERTYPE_IPV4 : (f[off] >> 4) == 6 ? ETHERTYPE_IPV6 : 0;
  } else if (type == ETHERTYPE_PPPOE_SESSION) {
    /* RFC 2516: ver/type 0x11, code 0, session id, length, then PPP's
     * protocol field (RFC 1661). */
    if (avail(off, end) < 8 || f[off] != 0x11 || f[off + 1] != 0)
      return 0;
    uint16_t ppp = rd16(f + off + 6);
    off += 8;
    set_l3(c, off);
    c->out->payload_offset = off;
    ip_type = ppp == PPP_IPV4 ? ETHERTYPE_IPV4 : ppp == PPP_IPV6 ? ETHERTYPE_IPV6 : 0;
  } else {
    /* IP, or a type we do not look into: either way the layer is there
     * (an IP header that does not parse leaves it non-IP). */
    if (type == ETHERTYPE_IPV4)
      parse_ipv4(c, off, end);
    else if (type == ETHERTYPE_IPV6)
      parse_ipv6(c, off, end);
    return 1;
  }
  if (ip_type == 0)
    return 0;
  /* Set the EtherType before parsing: a tunnel inside may move on to inner. */
  uint16_t was = k->ethertype;
  k->ethertype = ip_type;
  int ok = ip_type == ETHERTYPE_IPV4 ? parse_ipv4(c, off, end) : parse_ipv6(c, off, end);
  if (!ok)
    k->ethertype = was;
  return ok;
}

/* An Ethernet header at off: MACs, VLAN tags, the EtherType and what
 * follows. 0 when fewer than 14 bytes are there. */
static int parse_eth(struct pctx *c, uint32_t off, uint32_t end) {
  const uint8_t *f = c->f;
  if (avail(off, end) < ETH_HLEN)
    return 0;
  struct flow_key *k = cur(c);
  /* Non-IP (and IP too short to parse): grouped by EtherType and MACs. */
  memset(k, 0, sizeof *k);
  memcpy(k->dst, f + off, 6);
  memcpy(k->src, f + off + 6, 6);
  uint16_t type = rd16(f + off + 12);
  off += ETH_HLEN;
  uint16_t tags = 0;
  while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) &&
         avail(off, end) >= 4) {
    type = rd16(f + off + 2);
    off += 4;
    tags++;
  }
  if (c->level == 0)
    c->out->vlan_tags = tags;
  k->ethertype = type;
  set_l3(c, off);
  c->out->payload_offset = off;
  parse_ethertype(c, type, off, end);
  return 1;
}

int flow_parse(const uint8_t *frame, uint32_t caplen, struct flow_parse *out) {
  memset(out, 0, sizeof *out);
  if (frame == NULL || caplen < ETH_HLEN)
    return -1;
  struct pctx c = {frame, out, 0};
  parse_eth(&c, 0, caplen);
  if (out->tunnels == 0)
    out->outer_payload_offset = out->payload_offset;
  return 0;
}

const struct flow_key *flow_parse_innermost(const struct flow_parse *p) {
  return p->has_inner ? &p->inner : &p->key;
}

const char *flow_tunnel_name(int tunnel) {
  switch (tunnel) {
  case FLOW_TUNNEL_NONE: return "none";
  case FLOW_TUNNEL_GRE: return "gre";
  case FLOW_TUNNEL_GRE_ETH: return "gre-eth";
  case FLOW_TUNNEL_VXLAN: return "vxlan";
  case FLOW_TUNNEL_GENEVE: return "geneve";
  case FLOW_TUNNEL_IPIP: return "ipip";
  case FLOW_TUNNEL_IP6IP: return "ip6ip";
  default: return "?";
  }
}

void flow_key_canonical(const struct flow_key *in, struct flow_key *out) {
  struct flow_key k;
  memset(&k, 0, sizeof k);
  k.af = in->af;
  k.proto = in->proto;
  k.ethertype = in->ethertype;
  int c = memcmp(in->src, in->dst, sizeof in->src);
  int swap = c > 0 || (c == 0 && in->sport > in->dport);
  memcpy(k.src, swap ? in->dst : in->src, sizeof k.src);
  memcpy(k.dst, swap ? in->src : in->dst, sizeof k.dst);
  k.sport = swap ? in->dport : in->sport;
  k.dport = swap ? in->sport : in->dport;
  *out = k;
}

static const char *proto_name(uint8_t proto, char *buf, size_t n) {
  switch (proto) {
  case IPPROTO_TCP_: return "tcp";
  case IPPROTO_UDP_: return "udp";
  case IPPROTO_ICMP_: return "icmp";
  case IPPROTO_ICMPV6_: return "icmp6";
  default:
    snprintf(buf, n, "ip proto %u", (unsigned)proto);
    return buf;
  }
}

int flow_key_format(const struct flow_key *k, char *buf, size_t n) {
  char line[160];
  if (k->af == FLOW_AF_INET || k->af == FLOW_AF_INET6) {
    char pbuf[24], a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    int fam = k->af == FLOW_AF_INET ? AF_INET : AF_INET6;
    if (inet_ntop(fam, k->src, a, sizeof a) == NULL)
      snprintf(a, sizeof a, "?");
    if (inet_ntop(fam, k->dst, b, sizeof b) == NULL)
      snprintf(b, sizeof b, "?");
    const char *name = proto_name(k->proto, pbuf, sizeof pbuf);
    int ports = k->proto == IPPROTO_TCP_ || k->proto == IPPROTO_UDP_;
    if (ports && k->af == FLOW_AF_INET)
      snprintf(line, sizeof line, "%s %s:%u > %s:%u", name, a, (unsigned)k->sport, b,
               (unsigned)k->dport);
    else if (ports)
      snprintf(line, sizeof line, "%s [%s]:%u > [%s]:%u", name, a, (unsigned)k->sport, b,
               (unsigned)k->dport);
    else
      snprintf(line, sizeof line, "%s %s > %s", name, a, b);
  } else if (k->af == FLOW_AF_NONE) {
    const uint8_t *s = k->src, *d = k->dst;
    snprintf(line, sizeof line,
             "ether 0x%04x %02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x",
             (unsigned)k->ethertype, s[0], s[1], s[2], s[3], s[4], s[5], d[0], d[1], d[2], d[3],
             d[4], d[5]);
  } else {
    snprintf(line, sizeof line, "af %u?", (unsigned)k->af);
  }
  return snprintf(buf, n, "%s", line);
}

/* ---- flow table ---- */

struct flow_entry {
  struct flow_key ckey; /* canonical */
  uint64_t hash;
  struct flow_stats stats;
  uint32_t heap_pos; /* position in the eviction heap; UINT32_MAX: not in it */
  uint8_t pinned;    /* never evicted */
};

/* Frames of a flow come in bursts and a trace has few busy flows: a
 * direct-mapped memo of keys as seen (not canonical) and their ids spares
 * most frames the canonical form, the hash and the probe. Large enough
 * (4096 entries, 176 KiB) that a trace of a few thousand busy flows mostly
 * hits. An id changes owner only when a bounded table evicts its flow, and
 * then every memo entry naming it is emptied (it can only sit where one of
 * the flow's two directions indexes), so an entry whose key equals the one
 * looked up is always right. Filled by flow_table_add_frame (the first
 * pass); flow_table_find only reads it. */
#define FLOW_MEMO 4096u
#define FLOW_PREFETCH_MIN 32768u

struct flow_memo {
  struct flow_key key;
  uint32_t id; /* UINT32_MAX: empty */
};

struct flow_table {
  struct flow_entry *entries; /* dense, by id */
  uint32_t count, cap;
  uint64_t frames;            /* frames added so far (flow_table_add's index) */
  uint64_t *slots;            /* slot_make(id, hash); SLOT_EMPTY is empty */
  uint32_t nslots;            /* a power of two, >= 2 * count */
  uint32_t limit;             /* most flows kept; 0: no bound */
  uint64_t evicted, untracked;
  /* Space-Saving eviction (Metwally, Agrawal, El Abbadi, ICDT 2005): a
   * min-heap of the unpinned flows by estimated bytes (bytes +
   * bytes_error), built when the table first fills up. */
  uint32_t *heap;
  uint32_t nheap;
  int heap_built;
  /* The memo's hits and misses among the last adds (halved every 1,024):
   * prefetching pays when it misses often and the table is larger than the
   * host's caches (FLOW_PREFETCH_MIN flows, 4 MiB of entries); otherwise it
   * only costs instructions (the canonical form and hash twice). */
  uint32_t memo_hits, memo_misses;
  int prefetch;
  struct flow_memo memo[FLOW_MEMO];
};

static unsigned memo_index(const struct flow_key *k) {
  uint32_t x = (uint32_t)k->sport * 0x9e37u ^ (uint32_t)k->dport * 0x85ebu ^
               (uint32_t)(k->src[3] ^ k->src[15]) << 3 ^ (uint32_t)(k->dst[3] ^ k->dst[15]) << 6 ^
               (uint32_t)k->proto ^ (uint32_t)k->src[5] ^ (uint32_t)k->dst[5] << 1;
  x ^= x >> 9;
  x *= 0x2c1b3c6du;
  return (x ^ x >> 16) & (FLOW_MEMO - 1);
}

static uint64_t mix64(uint64_t h, uint64_t v) {
  h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= UINT64_C(0xbf58476d1ce4e5b9);
  h ^= h >> 29;
  return h;
}

/* Over the fields, never the struct's bytes: padding cannot leak in. */
static uint64_t key_hash(const struct flow_key *k) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  h = mix64(h, (uint64_t)k->af | (uint64_t)k->proto << 8 | (uint64_t)k->ethertype << 16 |
                   (uint64_t)k->sport << 32 | (uint64_t)k->dport << 48);
  for (int i = 0; i < 16; i += 8) {
    /* The 8 bytes as a big-endian number (one load, not a byte loop). */
    uint64_t a, b;
    memcpy(&a, k->src + i, 8);
    memcpy(&b, k->dst + i, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    a = __builtin_bswap64(a);
    b = __builtin_bswap64(b);
#endif
    h = mix64(h, a);
    h = mix64(h, b);
  }
  return h;
}

static int key_equal(const struct flow_key *a, const struct flow_key *b) {
  return a->af == b->af && a->proto == b->proto && a->ethertype == b->ethertype &&
         a->sport == b->sport && a->dport == b->dport &&
         memcmp(a->src, b->src, sizeof a->src) == 0 && memcmp(a->dst, b->dst, sizeof a->dst) == 0;
}

struct flow_table *flow_table_new(void) {
  struct flow_table *ft = calloc(1, sizeof *ft);
  if (ft == NULL)
    return NULL;
  ft->nslots = 64;
  ft->slots = huge_resize(NULL, 0, ft->nslots * sizeof *ft->slots);
  if (ft->slots == NULL) {
    free(ft);
    return NULL;
  }
  memset(ft->slots, 0xff, ft->nslots * sizeof *ft->slots);
  for (unsigned i = 0; i < FLOW_MEMO; i++)
    ft->memo[i].id = UINT32_MAX;
  return ft;
}

void flow_table_free(struct flow_table *ft) {
  if (ft == NULL)
    return;
  huge_free(ft->entries, (size_t)ft->cap * sizeof *ft->entries);
  huge_free(ft->slots, (size_t)ft->nslots * sizeof *ft->slots);
  free(ft->heap);
  free(ft);
}

int flow_table_set_limit(struct flow_table *ft, uint32_t max_flows) {
  if (ft->count || max_flows == UINT32_MAX)
    return -1;
  ft->limit = max_flows;
  return 0;
}

uint64_t flow_table_evicted(const struct flow_table *ft) { return ft->evicted; }
uint64_t flow_table_untracked(const struct flow_table *ft) { return ft->untracked; }

/* A slot holds an id and the upper half of its flow's hash (the lower bits
 * chose the home slot): a probe compares the hash there and reads the
 * flow's entry only when they match, so a lookup costs the slot's cache
 * line and, on a hit, the entry's, whatever the probe length. */
#define SLOT_EMPTY UINT64_MAX

static uint64_t slot_make(uint32_t id, uint64_t h) { return (h & ~(uint64_t)UINT32_MAX) | id; }
static uint32_t slot_id(uint64_t s) { return (uint32_t)s; }

static uint32_t lookup(const struct flow_table *ft, const struct flow_key *ck, uint64_t h,
                       uint32_t *slot) {
  uint32_t mask = ft->nslots - 1;
  uint64_t tag = h & ~(uint64_t)UINT32_MAX;
  for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
    uint64_t s = ft->slots[i];
    if (s == SLOT_EMPTY) {
      *slot = i;
      return UINT32_MAX;
    }
    uint32_t id = slot_id(s);
    if ((s & ~(uint64_t)UINT32_MAX) == tag && ft->entries[id].hash == h &&
        key_equal(&ft->entries[id].ckey, ck)) {
      *slot = i;
      return id;
    }
  }
}

/* Remove the id in slot i, shifting back the entries of its probe run so
 * every lookup still finds them (deletion without tombstones). */
static void slot_delete(struct flow_table *ft, uint32_t i) {
  uint32_t mask = ft->nslots - 1;
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    uint64_t s = ft->slots[j];
    if (s == SLOT_EMPTY)
      break;
    uint32_t k = (uint32_t)ft->entries[slot_id(s)].hash & mask;
    /* The flow may move to i unless its home k lies cyclically in (i, j]. */
    int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (!stays) {
      ft->slots[i] = s;
      i = j;
    }
  }
  ft->slots[i] = SLOT_EMPTY;
}

static int grow_slots(struct flow_table *ft) {
  if (ft->nslots > UINT32_MAX / 2)
    return -1;
  uint32_t n = ft->nslots * 2;
  uint64_t *s = huge_resize(NULL, 0, (size_t)n * sizeof *s);
  if (s == NULL)
    return -1;
  memset(s, 0xff, (size_t)n * sizeof *s);
  for (uint32_t id = 0; id < ft->count; id++) {
    uint64_t h = ft->entries[id].hash;
    uint32_t i = (uint32_t)h & (n - 1);
    while (s[i] != SLOT_EMPTY)
      i = (i + 1) & (n - 1);
    s[i] = slot_make(id, h);
  }
  huge_free(ft->slots, (size_t)ft->nslots * sizeof *ft->slots);
  ft->slots = s;
  ft->nslots = n;
  return 0;
}

/* ---- the eviction heap ---- */

static uint64_t estimate(const struct flow_entry *e) { return e->stats.bytes + e->stats.bytes_error; }

/* a goes before b: fewer estimated bytes; on a tie the lower id. */
static int heap_less(const struct flow_table *ft, uint32_t a, uint32_t b) {
  uint64_t x = estimate(&ft->entries[a]), y = estimate(&ft->entries[b]);
  return x < y || (x == y && a < b);
}

static void heap_set(struct flow_table *ft, uint32_t pos, uint32_t id) {
  ft->heap[pos] = id;
  ft->entries[id].heap_pos = pos;
}

static void heap_down(struct flow_table *ft, uint32_t pos) {
  uint32_t id = ft->heap[pos];
  for (;;) {
    uint32_t c = 2 * pos + 1;
    if (c >= ft->nheap)
      break;
    if (c + 1 < ft->nheap && heap_less(ft, ft->heap[c + 1], ft->heap[c]))
      c++;
    if (!heap_less(ft, ft->heap[c], id))
      break;
    heap_set(ft, pos, ft->heap[c]);
    pos = c;
  }
  heap_set(ft, pos, id);
}

static void heap_up(struct flow_table *ft, uint32_t pos) {
  uint32_t id = ft->heap[pos];
  while (pos > 0) {
    uint32_t parent = (pos - 1) / 2;
    if (!heap_less(ft, id, ft->heap[parent]))
      break;
    heap_set(ft, pos, ft->heap[parent]);
    pos = parent;
  }
  heap_set(ft, pos, id);
}

static void heap_remove(struct flow_table *ft, uint32_t id) {
  uint32_t pos = ft->entries[id].heap_pos;
  if (pos == UINT32_MAX)
    return;
  ft->entries[id].heap_pos = UINT32_MAX;
  uint32_t last = ft->heap[--ft->nheap];
  if (pos == ft->nheap)
    return;
  heap_set(ft, pos, last);
  heap_down(ft, pos);
  heap_up(ft, ft->entries[last].heap_pos);
}

static int heap_build(struct flow_table *ft) {
  ft->heap = malloc((size_t)(ft->count ? ft->count : 1) * sizeof *ft->heap);
  if (ft->heap == NULL)
    return -1;
  ft->nheap = 0;
  for (uint32_t id = 0; id < ft->count; id++)
    if (!ft->entries[id].pinned)
      heap_set(ft, ft->nheap++, id);
  for (uint32_t i = ft->nheap / 2; i-- > 0;)
    heap_down(ft, i);
  ft->heap_built = 1;
  return 0;
}

/* Start entry id afresh for key (canonical ck, hash h) in slot. */
static void entry_init(struct flow_table *ft, uint32_t id, const struct flow_key *key,
                       const struct flow_key *ck, uint64_t h, uint64_t index, uint32_t slot) {
  struct flow_entry *e = &ft->entries[id];
  memset(e, 0, sizeof *e);
  e->ckey = *ck;
  e->hash = h;
  e->heap_pos = UINT32_MAX;
  /* The first frame's key as seen, copied field by field onto zeros. */
  e->stats.key.af = key->af;
  e->stats.key.proto = key->proto;
  e->stats.key.ethertype = key->ethertype;
  memcpy(e->stats.key.src, key->src, sizeof key->src);
  memcpy(e->stats.key.dst, key->dst, sizeof key->dst);
  e->stats.key.sport = key->sport;
  e->stats.key.dport = key->dport;
  e->stats.first_index = index;
  ft->slots[slot] = slot_make(id, h);
}

/* The table is full: the flow with the fewest estimated bytes makes room
 * for key, whose estimate starts from the evicted one's (Space-Saving: a
 * flow that carries more than 1/limit of the bytes is never evicted).
 * UINT32_MAX when every flow kept is pinned. */
static uint32_t evict_for(struct flow_table *ft, const struct flow_key *key, const struct flow_key *ck,
                          uint64_t h, uint64_t index) {
  if (!ft->heap_built && heap_build(ft) != 0)
    return UINT32_MAX;
  if (ft->nheap == 0) {
    ft->untracked++;
    return UINT32_MAX;
  }
  uint32_t id = ft->heap[0];
  struct flow_entry *v = &ft->entries[id];
  uint64_t inherited = estimate(v);
  uint32_t slot;
  lookup(ft, &v->ckey, v->hash, &slot);
  slot_delete(ft, slot);
  ft->evicted++;
  /* The id now names the newcomer: empty the memo entries of the evicted
   * flow, which hold its key as seen in either direction. */
  struct flow_key rev = v->ckey;
  memcpy(rev.src, v->ckey.dst, sizeof rev.src);
  memcpy(rev.dst, v->ckey.src, sizeof rev.dst);
  rev.sport = v->ckey.dport;
  rev.dport = v->ckey.sport;
  struct flow_memo *m1 = &ft->memo[memo_index(&v->ckey)], *m2 = &ft->memo[memo_index(&rev)];
  if (m1->id == id)
    m1->id = UINT32_MAX;
  if (m2->id == id)
    m2->id = UINT32_MAX;
  lookup(ft, ck, h, &slot);
  entry_init(ft, id, key, ck, h, index, slot);
  ft->entries[id].stats.bytes_error = inherited;
  ft->entries[id].heap_pos = 0; /* still at the top; the caller's count moves it down */
  return id;
}

uint32_t flow_table_add(struct flow_table *ft, const struct flow_key *key, uint32_t wire_bytes) {
  return flow_table_add_frame(ft, key, wire_bytes, ft->frames);
}

uint32_t flow_table_add_frame(struct flow_table *ft, const struct flow_key *key,
                              uint32_t wire_bytes, uint64_t index) {
  return flow_table_add_hashed(ft, key, wire_bytes, index, NULL);
}

uint32_t flow_table_add_hashed(struct flow_table *ft, const struct flow_key *key, uint32_t wire_bytes,
                               uint64_t index, const uint64_t *hash) {
  struct flow_memo *mm = &ft->memo[memo_index(key)];
  if (ft->memo_hits + ft->memo_misses >= 1024) {
    ft->prefetch = ft->count >= FLOW_PREFETCH_MIN && flow_table_memo_misses_often(ft);
    ft->memo_hits /= 2;
    ft->memo_misses /= 2;
  }
  if (mm->id != UINT32_MAX && key_equal(&mm->key, key)) {
    ft->memo_hits++;
    ft->frames++;
    struct flow_entry *e = &ft->entries[mm->id];
    e->stats.packets++;
    e->stats.bytes += wire_bytes;
    if (e->heap_pos != UINT32_MAX)
      heap_down(ft, e->heap_pos);
    return mm->id;
  }
  ft->memo_misses++;
  struct flow_key ck;
  flow_key_canonical(key, &ck);
  uint64_t h = hash ? *hash : key_hash(&ck);
  uint32_t slot;
  uint32_t id = lookup(ft, &ck, h, &slot);
  if (id == UINT32_MAX) {
    if (ft->limit && ft->count >= ft->limit) {
      id = evict_for(ft, key, &ck, h, index);
      if (id == UINT32_MAX) {
        ft->frames++;
        return UINT32_MAX;
      }
    } else {
      if (ft->count >= UINT32_MAX - 1)
        return UINT32_MAX;
      if ((uint64_t)(ft->count + 1) * 2 > ft->nslots) {
        if (grow_slots(ft) != 0)
          return UINT32_MAX;
        lookup(ft, &ck, h, &slot);
      }
      if (ft->count == ft->cap) {
        uint32_t ncap = ft->cap ? ft->cap * 2 : 16;
        if (ft->limit && ncap > ft->limit)
          ncap = ft->limit;
        struct flow_entry *e = huge_resize(ft->entries, (size_t)ft->cap * sizeof *e, (size_t)ncap * sizeof *e);
        if (e == NULL)
          return UINT32_MAX;
        ft->entries = e;
        ft->cap = ncap;
      }
      id = ft->count++;
      entry_init(ft, id, key, &ck, h, index, slot);
    }
  }
  ft->frames++;
  struct flow_entry *e = &ft->entries[id];
  e->stats.packets++;
  e->stats.bytes += wire_bytes;
  if (e->heap_pos != UINT32_MAX)
    heap_down(ft, e->heap_pos);
  mm->key = *key;
  mm->id = id;
  return id;
}

void flow_table_pin(struct flow_table *ft, uint32_t id) {
  if (id >= ft->count || ft->entries[id].pinned)
    return;
  ft->entries[id].pinned = 1;
  heap_remove(ft, id);
}

uint32_t flow_table_find(const struct flow_table *ft, const struct flow_key *key) {
  return flow_table_find_hashed(ft, key, NULL);
}

uint32_t flow_table_find_hashed(const struct flow_table *ft, const struct flow_key *key, const uint64_t *hash) {
  const struct flow_memo *mm = &ft->memo[memo_index(key)];
  if (mm->id != UINT32_MAX && key_equal(&mm->key, key))
    return mm->id;
  struct flow_key ck;
  flow_key_canonical(key, &ck);
  uint32_t slot;
  return lookup(ft, &ck, hash ? *hash : key_hash(&ck), &slot);
}

int flow_table_memo_misses_often(const struct flow_table *ft) {
  return (uint64_t)ft->memo_misses * 8 > (uint64_t)ft->memo_hits + ft->memo_misses;
}

int flow_table_prefetch(const struct flow_table *ft, const struct flow_key *key, uint64_t *hash) {
  if (!ft->prefetch)
    return 0;
  /* The memo's entry too: looking it up first would wait for it. */
  __builtin_prefetch(&ft->memo[memo_index(key)]);
  struct flow_key ck;
  flow_key_canonical(key, &ck);
  *hash = key_hash(&ck);
  __builtin_prefetch(&ft->slots[(uint32_t)*hash & (ft->nslots - 1)]);
  return 1;
}

void flow_table_prefetch_entry(const struct flow_table *ft, uint64_t hash) {
  uint32_t mask = ft->nslots - 1;
  uint64_t tag = hash & ~(uint64_t)UINT32_MAX;
  /* The first few slots of the probe run: the one that carries the hash. */
  for (uint32_t n = 0, i = (uint32_t)hash & mask; n < 4; n++, i = (i + 1) & mask) {
    uint64_t s = ft->slots[i];
    if (s == SLOT_EMPTY)
      return;
    if ((s & ~(uint64_t)UINT32_MAX) == tag) {
      const struct flow_entry *e = &ft->entries[slot_id(s)];
      __builtin_prefetch(e);
      __builtin_prefetch(&e->stats.bytes, 1);
      return;
    }
  }
}

uint32_t flow_table_count(const struct flow_table *ft) { return ft->count; }

const struct flow_stats *flow_table_get(const struct flow_table *ft, uint32_t id) {
  return id < ft->count ? &ft->entries[id].stats : NULL;
}

static int has_ports(const struct flow_key *k) {
  return (k->af == FLOW_AF_INET || k->af == FLOW_AF_INET6) &&
         (k->proto == IPPROTO_TCP_ || k->proto == IPPROTO_UDP_) && (k->sport != 0 || k->dport != 0);
}

uint32_t flow_table_top_by_bytes(const struct flow_table *ft) {
  int any_ports = 0;
  for (uint32_t id = 0; id < ft->count && !any_ports; id++)
    any_ports = has_ports(&ft->entries[id].ckey);
  uint32_t best = UINT32_MAX;
  for (uint32_t id = 0; id < ft->count; id++) {
    if (any_ports && !has_ports(&ft->entries[id].ckey))
      continue;
    /* Strictly more: on a tie the one that appeared first stays. */
    if (best == UINT32_MAX)
      best = id;
    else {
      uint64_t x = estimate(&ft->entries[id]), y = estimate(&ft->entries[best]);
      if (x > y || (x == y && ft->entries[id].stats.first_index < ft->entries[best].stats.first_index))
        best = id;
    }
  }
  return best;
}
