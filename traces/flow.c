/*
 * Flow parsing (Ethernet, VLAN, IPv4, IPv6 with extension headers, TCP, UDP,
 * ICMP) and the flow table (open addressing on the canonical key).
 *
 * Every read goes through a bound check against the end of the captured
 * bytes (or of the IP packet when the IP length is smaller, so Ethernet
 * padding is never parsed as a header).
 */
#include "flow.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  ETH_HLEN = 14,
  ETHERTYPE_IPV4 = 0x0800,
  ETHERTYPE_IPV6 = 0x86dd,
  ETHERTYPE_VLAN = 0x8100,
  ETHERTYPE_QINQ = 0x88a8,
  ETHERTYPE_QINQ_OLD = 0x9100,
  IPPROTO_HOPOPTS_ = 0,
  IPPROTO_ICMP_ = 1,
  IPPROTO_TCP_ = 6,
  IPPROTO_UDP_ = 17,
  IPPROTO_ROUTING_ = 43,
  IPPROTO_FRAGMENT_ = 44,
  IPPROTO_AH_ = 51,
  IPPROTO_ICMPV6_ = 58,
  IPPROTO_DSTOPTS_ = 60,
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* The transport header at off (end: first byte past the packet). Sets the
 * ports (TCP/UDP: the first 4 bytes are enough), and l4_offset and
 * payload_offset when the whole fixed header is there. */
static void parse_l4(const uint8_t *f, uint32_t off, uint32_t end, uint8_t proto,
                     struct flow_parse *out) {
  uint32_t avail = end > off ? end - off : 0;
  out->payload_offset = off;
  switch (proto) {
  case IPPROTO_TCP_:
    if (avail >= 4) {
      out->key.sport = rd16(f + off);
      out->key.dport = rd16(f + off + 2);
    }
    if (avail >= 20) {
      uint32_t hl = (uint32_t)(f[off + 12] >> 4) * 4;
      out->l4_offset = off;
      out->payload_offset = (hl >= 20 && hl <= avail) ? off + hl : off + 20;
    } else {
      out->payload_offset = off + avail; /* only a partial header */
    }
    break;
  case IPPROTO_UDP_:
    if (avail >= 4) {
      out->key.sport = rd16(f + off);
      out->key.dport = rd16(f + off + 2);
    }
    if (avail >= 8) {
      out->l4_offset = off;
      out->payload_offset = off + 8;
    } else {
      out->payload_offset = off + avail;
    }
    break;
  case IPPROTO_ICMP_:
    if (avail >= 8) {
      out->l4_offset = off;
      out->payload_offset = off + 8;
    } else {
      out->payload_offset = off + avail;
    }
    break;
  case IPPROTO_ICMPV6_:
    if (avail >= 4) {
      out->l4_offset = off;
      out->payload_offset = off + 4;
    } else {
      out->payload_offset = off + avail;
    }
    break;
  default:
    break; /* no transport header we know: the payload starts here */
  }
}

static void parse_ipv4(const uint8_t *f, uint32_t caplen, uint32_t off, struct flow_parse *out) {
  if (caplen - off < 20 || (f[off] >> 4) != 4)
    return; /* not even a fixed header: stays non-IP */
  uint32_t hl = (uint32_t)(f[off] & 0x0f) * 4;
  if (hl < 20 || hl > caplen - off)
    return; /* bad IHL, or options cut off */
  struct flow_key *k = &out->key;
  k->af = FLOW_AF_INET;
  k->proto = f[off + 9];
  memset(k->src, 0, sizeof k->src);
  memset(k->dst, 0, sizeof k->dst);
  memcpy(k->src, f + off + 12, 4);
  memcpy(k->dst, f + off + 16, 4);
  uint32_t end = caplen;
  uint32_t total = rd16(f + off + 2);
  if (total >= hl && total < caplen - off) /* 0 (TSO captures) or bogus: ignore */
    end = off + total;
  uint32_t l4 = off + hl;
  out->payload_offset = l4;
  uint16_t frag_off = rd16(f + off + 6) & 0x1fff;
  if (frag_off != 0)
    return; /* a later fragment: no transport header, ports 0 */
  parse_l4(f, l4, end, k->proto, out);
}

static void parse_ipv6(const uint8_t *f, uint32_t caplen, uint32_t off, struct flow_parse *out) {
  if (caplen - off < 40 || (f[off] >> 4) != 6)
    return;
  struct flow_key *k = &out->key;
  k->af = FLOW_AF_INET6;
  memcpy(k->src, f + off + 8, 16);
  memcpy(k->dst, f + off + 24, 16);
  uint32_t end = caplen;
  uint32_t plen = rd16(f + off + 4);
  if (plen != 0 && plen < caplen - off - 40) /* 0: jumbogram or TSO */
    end = off + 40 + plen;
  uint8_t next = f[off + 6];
  uint32_t p = off + 40;
  /* Each extension header is at least 8 bytes long, so this ends. */
  for (;;) {
    k->proto = next;
    out->payload_offset = p;
    uint32_t avail = end > p ? end - p : 0;
    uint32_t len;
    switch (next) {
    case IPPROTO_HOPOPTS_:
    case IPPROTO_ROUTING_:
    case IPPROTO_DSTOPTS_:
      if (avail < 2)
        return;
      len = ((uint32_t)f[p + 1] + 1) * 8;
      break;
    case IPPROTO_AH_:
      if (avail < 2)
        return;
      len = ((uint32_t)f[p + 1] + 2) * 4;
      break;
    case IPPROTO_FRAGMENT_:
      if (avail < 8)
        return;
      if ((rd16(f + p + 2) >> 3) != 0) { /* a later fragment: ports 0 */
        k->proto = f[p];
        out->payload_offset = p + 8;
        return;
      }
      len = 8;
      break;
    default:
      parse_l4(f, p, end, next, out);
      return;
    }
    if (len > avail)
      return; /* extension header cut off: proto says which */
    next = f[p];
    p += len;
  }
}

int flow_parse(const uint8_t *frame, uint32_t caplen, struct flow_parse *out) {
  memset(out, 0, sizeof *out);
  if (frame == NULL || caplen < ETH_HLEN)
    return -1;
  uint32_t off = 12;
  uint16_t type = rd16(frame + off);
  off += 2;
  while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) &&
         caplen - off >= 4) {
    type = rd16(frame + off + 2);
    off += 4;
    out->vlan_tags++;
  }
  /* Non-IP (and IP too short to parse): grouped by EtherType and MACs. */
  struct flow_key *k = &out->key;
  k->ethertype = type;
  memcpy(k->dst, frame, 6);
  memcpy(k->src, frame + 6, 6);
  out->l3_offset = off;
  out->payload_offset = off;
  if (type == ETHERTYPE_IPV4)
    parse_ipv4(frame, caplen, off, out);
  else if (type == ETHERTYPE_IPV6)
    parse_ipv6(frame, caplen, off, out);
  return 0;
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
};

struct flow_table {
  struct flow_entry *entries; /* dense, by id */
  uint32_t count, cap;
  uint64_t frames;            /* frames added so far (flow_table_add's index) */
  uint32_t *slots;            /* ids; UINT32_MAX is empty */
  uint32_t nslots;            /* a power of two, >= 2 * count */
};

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
    uint64_t a = 0, b = 0;
    for (int j = 0; j < 8; j++) {
      a = a << 8 | k->src[i + j];
      b = b << 8 | k->dst[i + j];
    }
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
  ft->slots = malloc(ft->nslots * sizeof *ft->slots);
  if (ft->slots == NULL) {
    free(ft);
    return NULL;
  }
  memset(ft->slots, 0xff, ft->nslots * sizeof *ft->slots);
  return ft;
}

void flow_table_free(struct flow_table *ft) {
  if (ft == NULL)
    return;
  free(ft->entries);
  free(ft->slots);
  free(ft);
}

static uint32_t lookup(const struct flow_table *ft, const struct flow_key *ck, uint64_t h,
                       uint32_t *slot) {
  uint32_t mask = ft->nslots - 1;
  for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
    uint32_t id = ft->slots[i];
    if (id == UINT32_MAX) {
      *slot = i;
      return UINT32_MAX;
    }
    if (ft->entries[id].hash == h && key_equal(&ft->entries[id].ckey, ck)) {
      *slot = i;
      return id;
    }
  }
}

static int grow_slots(struct flow_table *ft) {
  if (ft->nslots > UINT32_MAX / 2)
    return -1;
  uint32_t n = ft->nslots * 2;
  uint32_t *s = malloc((size_t)n * sizeof *s);
  if (s == NULL)
    return -1;
  memset(s, 0xff, (size_t)n * sizeof *s);
  for (uint32_t id = 0; id < ft->count; id++) {
    uint32_t i = (uint32_t)ft->entries[id].hash & (n - 1);
    while (s[i] != UINT32_MAX)
      i = (i + 1) & (n - 1);
    s[i] = id;
  }
  free(ft->slots);
  ft->slots = s;
  ft->nslots = n;
  return 0;
}

uint32_t flow_table_add(struct flow_table *ft, const struct flow_key *key, uint32_t wire_bytes) {
  return flow_table_add_frame(ft, key, wire_bytes, ft->frames);
}

uint32_t flow_table_add_frame(struct flow_table *ft, const struct flow_key *key,
                              uint32_t wire_bytes, uint64_t index) {
  struct flow_key ck;
  flow_key_canonical(key, &ck);
  uint64_t h = key_hash(&ck);
  uint32_t slot;
  uint32_t id = lookup(ft, &ck, h, &slot);
  if (id == UINT32_MAX) {
    if (ft->count >= UINT32_MAX - 1)
      return UINT32_MAX;
    if ((uint64_t)(ft->count + 1) * 2 > ft->nslots) {
      if (grow_slots(ft) != 0)
        return UINT32_MAX;
      lookup(ft, &ck, h, &slot);
    }
    if (ft->count == ft->cap) {
      uint32_t ncap = ft->cap ? ft->cap * 2 : 16;
      struct flow_entry *e = realloc(ft->entries, (size_t)ncap * sizeof *e);
      if (e == NULL)
        return UINT32_MAX;
      ft->entries = e;
      ft->cap = ncap;
    }
    id = ft->count++;
    struct flow_entry *e = &ft->entries[id];
    memset(e, 0, sizeof *e);
    e->ckey = ck;
    e->hash = h;
    /* The first frame's key as seen, copied field by field onto zeros. */
    e->stats.key.af = key->af;
    e->stats.key.proto = key->proto;
    e->stats.key.ethertype = key->ethertype;
    memcpy(e->stats.key.src, key->src, sizeof key->src);
    memcpy(e->stats.key.dst, key->dst, sizeof key->dst);
    e->stats.key.sport = key->sport;
    e->stats.key.dport = key->dport;
    e->stats.first_index = index;
    ft->slots[slot] = id;
  }
  ft->frames++;
  ft->entries[id].stats.packets++;
  ft->entries[id].stats.bytes += wire_bytes;
  return id;
}

uint32_t flow_table_find(const struct flow_table *ft, const struct flow_key *key) {
  struct flow_key ck;
  flow_key_canonical(key, &ck);
  uint32_t slot;
  return lookup(ft, &ck, key_hash(&ck), &slot);
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
    /* Strictly more: on a tie the earlier id (first to appear) stays. */
    if (best == UINT32_MAX || ft->entries[id].stats.bytes > ft->entries[best].stats.bytes)
      best = id;
  }
  return best;
}
