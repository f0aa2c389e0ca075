/*
 * The trace generator: UDP flows with readable per-flow payload markers,
 * written as a nanosecond pcap through libpcap's dump API.
 */
#include "gen.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"
#include "prng.h"

#define GEN_START_SEC UINT64_C(1700000000)
#define GEN_MIN_SIZE 60u
#define GEN_MAX_SIZE 9000u
#define GEN_MAX_FLOWS 1000000u
/* Source ports come from Linux's default ephemeral range
 * (net.ipv4.ip_local_port_range = 32768 60999), as a client's connect()
 * or an unbound UDP socket would pick them. */
#define GEN_SPORT_MIN 32768u
#define GEN_SPORT_COUNT (60999u - 32768u + 1u)
#define GEN_DPORT 4000u
/* The tuples have their own PRNG stream (the seed XOR this), so the sequence
 * of flows and sizes of a seed does not depend on them. The constant is
 * arbitrary ("tuples05"); of the first few tried, it is the one whose seed 1
 * puts non-application flows of the bundled sample on each of 4 RSS queues,
 * which the zc-dedicated-queue-rss-leak demonstration needs (with
 * "tuples01" no other flow shared the application's queue 3). */
#define GEN_TUPLE_STREAM UINT64_C(0x7475706c65733035)
#define GEN_WIRE_EXTRA 24u /* 4 B FCS + 8 B preamble/SFD + 12 B inter-frame gap */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  for (char *c = err; *c; c++)
    if (*c == '\n' || *c == '\r')
      *c = ' ';
}

void gen_params_default(struct gen_params *p) {
  memset(p, 0, sizeof *p);
  p->path = NULL;
  p->flows = 8;
  p->packets = 1000;
  p->size_bytes = 512;
  p->imix = 0;
  p->rate_gbps = 10.0;
  p->seed = 1;
  p->ipv6_fraction = 0.0;
}

/* ---- the flows' 5-tuples ---- */

/* What varies per flow: the client (source) address and port. The
 * destination is the simulated host's own address and service port, as on a
 * server's receive path. */
struct gen_tuple {
  uint8_t addr[16]; /* IPv4 in the first 4 bytes */
  uint16_t sport;
  uint8_t v6;
};

static const uint8_t gen_server4[4] = {10, 0, 1, 1};
static const uint8_t gen_server6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};

static uint64_t tuple_hash(const struct gen_tuple *t) {
  uint64_t h = UINT64_C(0xcbf29ce484222325) ^ t->v6;
  for (int i = 0; i < 16; i++)
    h = (h ^ t->addr[i]) * UINT64_C(0x100000001b3);
  h = (h ^ t->sport) * UINT64_C(0x100000001b3);
  return h ^ (h >> 29);
}

static int tuple_equal(const struct gen_tuple *a, const struct gen_tuple *b) {
  return a->v6 == b->v6 && a->sport == b->sport && memcmp(a->addr, b->addr, 16) == 0;
}

/* Draw a client for flow i: IPv4 10.a.b.c anywhere in 10/8 except the
 * server's 10.0.1.0/24, c not 0 or 255; IPv6 2001:db8:x:y:IID anywhere in
 * the documentation prefix except the server's 2001:db8:0:1::/64, IID not
 * 0. The Toeplitz hash of RSS mixes every bit of the addresses and ports, so
 * scattered clients spread over the queues as real traffic does (lockstep
 * tuples such as 10.0.0.(2+i):(5001+i) land on a few). */
static void draw_tuple(struct prng *r, int v6, struct gen_tuple *t) {
  memset(t, 0, sizeof *t);
  t->v6 = (uint8_t)v6;
  for (;;) {
    uint64_t x = prng_next(r);
    t->sport = (uint16_t)(GEN_SPORT_MIN + (uint32_t)((x >> 40) % GEN_SPORT_COUNT));
    if (!v6) {
      uint8_t a = (uint8_t)(x >> 16), b = (uint8_t)(x >> 8), h = (uint8_t)x;
      if ((a == 0 && b == 1) || h == 0 || h == 255)
        continue;
      t->addr[0] = 10, t->addr[1] = a, t->addr[2] = b, t->addr[3] = h;
      return;
    }
    uint64_t iid = prng_next(r);
    uint32_t net = (uint32_t)x; /* the 3rd and 4th groups */
    if (net == 1 || iid == 0)
      continue;
    t->addr[0] = 0x20, t->addr[1] = 0x01, t->addr[2] = 0x0d, t->addr[3] = 0xb8;
    for (int i = 0; i < 4; i++)
      t->addr[4 + i] = (uint8_t)(net >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
      t->addr[8 + i] = (uint8_t)(iid >> (56 - 8 * i));
    return;
  }
}

static int flow_is_v6(uint32_t i, double f);

/* Every flow's tuple, distinct (a repeat is drawn again), deterministic for
 * the seed and the IPv6 fraction. NULL when memory runs out. */
static struct gen_tuple *make_tuples(const struct gen_params *p) {
  struct gen_tuple *t = malloc((size_t)p->flows * sizeof *t);
  uint32_t nslots = 16;
  while (nslots < 2 * p->flows)
    nslots *= 2;
  uint32_t *slots = malloc((size_t)nslots * sizeof *slots);
  if (t == NULL || slots == NULL) {
    free(t), free(slots);
    return NULL;
  }
  memset(slots, 0xff, (size_t)nslots * sizeof *slots);
  struct prng r;
  prng_seed(&r, p->seed ^ GEN_TUPLE_STREAM);
  for (uint32_t i = 0; i < p->flows; i++) {
    for (;;) {
      draw_tuple(&r, flow_is_v6(i, p->ipv6_fraction), &t[i]);
      uint32_t s = (uint32_t)tuple_hash(&t[i]) & (nslots - 1);
      while (slots[s] != UINT32_MAX && !tuple_equal(&t[slots[s]], &t[i]))
        s = (s + 1) & (nslots - 1);
      if (slots[s] == UINT32_MAX) {
        slots[s] = i;
        break;
      }
    }
  }
  free(slots);
  return t;
}

/* ---- frame building ---- */

static const uint8_t gen_dst_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t gen_src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

static void wr16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2)
    acc += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1)
    acc += (uint32_t)p[n - 1] << 8;
  return acc;
}

static uint16_t fold(uint32_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

/* Flow i is IPv6 when floor((i+1)*f) > floor(i*f): the IPv6 flows are spread
 * evenly, and there are floor(flows*f) of them, whatever the seed. */
static int flow_is_v6(uint32_t i, double f) {
  if (f <= 0.0)
    return 0;
  if (f >= 1.0)
    return 1;
  return (uint64_t)((double)(i + 1) * f) > (uint64_t)((double)i * f);
}

static uint32_t min_size(int v6) { return v6 ? 14u + 40u + 8u : GEN_MIN_SIZE; }

/* Frame of len bytes (without FCS) for packet pkt of flow i. */
static void build_frame(uint8_t *f, uint32_t len, uint32_t flow, const struct gen_tuple *tu,
                        uint64_t pkt, uint16_t ip_id) {
  int v6 = tu->v6;
  memcpy(f, gen_dst_mac, 6);
  memcpy(f + 6, gen_src_mac, 6);
  uint32_t sport = tu->sport, dport = GEN_DPORT;
  uint8_t *ip = f + 14, *udp;
  uint32_t udp_len;
  uint32_t acc;
  if (!v6) {
    wr16(f + 12, 0x0800);
    udp = ip + 20;
    udp_len = len - 14 - 20;
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, len - 14);
    wr16(ip + 4, ip_id);
    wr16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = 17;
    wr16(ip + 10, 0);
    memcpy(ip + 12, tu->addr, 4);
    memcpy(ip + 16, gen_server4, 4);
    wr16(ip + 10, fold(sum16(0, ip, 20)));
    acc = sum16(0, ip + 12, 8) + 17 + udp_len;
  } else {
    wr16(f + 12, 0x86dd);
    udp = ip + 40;
    udp_len = len - 14 - 40;
    ip[0] = 0x60, ip[1] = 0, ip[2] = 0, ip[3] = 0;
    wr16(ip + 4, udp_len);
    ip[6] = 17;
    ip[7] = 64;
    memcpy(ip + 8, tu->addr, 16);
    memcpy(ip + 24, gen_server6, 16);
    acc = sum16(0, ip + 8, 32) + 17 + udp_len;
  }
  wr16(udp, sport);
  wr16(udp + 2, dport);
  wr16(udp + 4, udp_len);
  wr16(udp + 6, 0);
  /* Payload: the marker repeated (the last copy cut at the frame's end). */
  char marker[64];
  int mlen = snprintf(marker, sizeof marker, "<flow %04u pkt %010llu> ", (unsigned)flow,
                      (unsigned long long)pkt);
  uint8_t *pay = udp + 8;
  uint32_t plen = udp_len - 8;
  for (uint32_t i = 0; i < plen; i++)
    pay[i] = (uint8_t)marker[i % (uint32_t)mlen];
  uint16_t csum = fold(sum16(acc, udp, udp_len));
  wr16(udp + 6, csum == 0 ? 0xffff : csum);
}

static int validate(const struct gen_params *p, char *err, size_t errlen) {
  if (p->path == NULL || p->path[0] == '\0') {
    set_err(err, errlen, "gen: no output file given");
    return -1;
  }
  if (p->flows < 1 || p->flows > GEN_MAX_FLOWS) {
    set_err(err, errlen, "gen: --flows %u is out of range (1..%u)", (unsigned)p->flows,
            GEN_MAX_FLOWS);
    return -1;
  }
  if (p->packets < 1) {
    set_err(err, errlen, "gen: --packets %llu is out of range (at least 1)",
            (unsigned long long)p->packets);
    return -1;
  }
  if (!p->imix && (p->size_bytes < GEN_MIN_SIZE || p->size_bytes > GEN_MAX_SIZE)) {
    set_err(err, errlen, "gen: --size %u is out of range (%u..%u bytes)", (unsigned)p->size_bytes,
            GEN_MIN_SIZE, GEN_MAX_SIZE);
    return -1;
  }
  /* !(x > 0) also catches NaN; the upper bound keeps the arithmetic finite. */
  if (!(p->rate_gbps > 0.0) || !(p->rate_gbps <= 1e6)) {
    set_err(err, errlen, "gen: --rate-gbps %g is out of range (more than 0, at most 1e6)",
            p->rate_gbps);
    return -1;
  }
  if (!(p->ipv6_fraction >= 0.0 && p->ipv6_fraction <= 1.0)) {
    set_err(err, errlen, "gen: --ipv6-share %g is out of range (0..1)", p->ipv6_fraction);
    return -1;
  }
  return 0;
}

int gen_write(const struct gen_params *p, char *err, size_t errlen) {
  if (p == NULL) {
    set_err(err, errlen, "gen: no parameters");
    return -1;
  }
  if (validate(p, err, errlen) != 0)
    return -1;
  int to_stdout = strcmp(p->path, "-") == 0;
  const char *label = to_stdout ? "standard output" : p->path;

  double *cum = malloc((size_t)p->flows * sizeof *cum);
  uint16_t *ip_ids = calloc(p->flows, sizeof *ip_ids);
  uint8_t *frame = malloc(GEN_MAX_SIZE + 64);
  struct gen_tuple *tuples = make_tuples(p);
  if (cum == NULL || ip_ids == NULL || frame == NULL || tuples == NULL) {
    set_err(err, errlen, "%s: %s", label, strerror(ENOMEM));
    free(cum), free(ip_ids), free(frame), free(tuples);
    return -1;
  }
  /* Flow i has weight 1/(i+1). */
  double total = 0.0;
  for (uint32_t i = 0; i < p->flows; i++) {
    total += 1.0 / (double)(i + 1);
    cum[i] = total;
  }

  /* The capture goes through outfile (a regular file is replaced only
   * when whole; a device, FIFO or standard output is written in place);
   * libpcap writes on a duplicate of its descriptor, as pcap_dump_close
   * closes its FILE. */
  struct outfile *out = outfile_open(p->path, 0666, err, errlen);
  int fd = out ? dup(fileno(outfile_stream(out))) : -1;
  FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (fp == NULL) {
    if (out)
      set_err(err, errlen, "%s: cannot write: %s", label, strerror(errno));
    if (fd >= 0)
      close(fd);
    outfile_abort(out);
    free(cum), free(ip_ids), free(frame), free(tuples);
    return -1;
  }
  pcap_t *dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  pcap_dumper_t *d = dead ? pcap_dump_fopen(dead, fp) : NULL;
  if (d == NULL) {
    set_err(err, errlen, "%s: cannot write: %s", label, dead ? pcap_geterr(dead) : strerror(ENOMEM));
    fclose(fp);
    outfile_abort(out);
    if (dead)
      pcap_close(dead);
    free(cum), free(ip_ids), free(frame), free(tuples);
    return -1;
  }

  errno = 0;
  struct prng rng;
  prng_seed(&rng, p->seed);
  uint64_t bits = 0; /* wire bits of the frames before this one */
  int rc = 0;
  for (uint64_t n = 0; n < p->packets; n++) {
    /* The flow: the first index whose cumulative weight exceeds u. */
    double u = prng_unit(&rng) * total;
    uint32_t lo = 0, hi = p->flows - 1;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (cum[mid] > u)
        hi = mid;
      else
        lo = mid + 1;
    }
    uint32_t flow = lo;
    uint32_t len = p->size_bytes;
    if (p->imix) {
      uint64_t r = (prng_next(&rng) >> 32) % 12; /* 60 : 590 : 1514 = 7 : 4 : 1 */
      len = r < 7 ? 60 : r < 11 ? 590 : 1514;
    }
    int v6 = tuples[flow].v6;
    if (len < min_size(v6))
      len = min_size(v6);
    build_frame(frame, len, flow, &tuples[flow], n, ip_ids[flow]++);

    /* In double first: at a slow enough rate the time is past what 64 bits
     * of nanoseconds hold, and converting it would be undefined (x86 gives
     * 0: every frame at the start). */
    double at_ns = (double)bits / p->rate_gbps + 0.5;
    uint64_t ns = at_ns < 1e19 ? (uint64_t)at_ns : UINT64_MAX;
    uint64_t sec = GEN_START_SEC + ns / UINT64_C(1000000000);
    if (sec > UINT32_MAX) {
      set_err(err, errlen,
              "%s: packet %llu would be stamped after 2106 (the pcap format ends there): "
              "raise --rate-gbps or lower --packets",
              label, (unsigned long long)n);
      rc = -1;
      break;
    }
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = (time_t)sec;
    h.ts.tv_usec = (suseconds_t)(ns % UINT64_C(1000000000)); /* ns: nano dumper */
    h.caplen = len;
    h.len = len;
    pcap_dump((u_char *)d, &h, frame);
    bits += (uint64_t)(len + GEN_WIRE_EXTRA) * 8;
    if (ferror(pcap_dump_file(d))) /* a full disk, a closed pipe: stop at once */
      break;
  }
  if (pcap_dump_flush(d) != 0 || ferror(pcap_dump_file(d))) {
    if (rc == 0)
      set_err(err, errlen, "%s: cannot write: %s", label, strerror(errno ? errno : EIO));
    rc = -1;
  }
  pcap_dump_close(d);
  pcap_close(dead);
  if (rc != 0)
    outfile_abort(out);
  else if (outfile_commit(out, err, errlen))
    rc = -1;
  free(cum), free(ip_ids), free(frame), free(tuples);
  return rc;
}

int gen_flow_key(const struct gen_params *p, uint32_t flow, struct flow_key *key, char *err,
                 size_t errlen) {
  if (p == NULL || p->flows < 1 || p->flows > GEN_MAX_FLOWS) {
    set_err(err, errlen, "gen: --flows %u is out of range (1..%u)", p ? (unsigned)p->flows : 0u,
            GEN_MAX_FLOWS);
    return -1;
  }
  if (flow >= p->flows) {
    set_err(err, errlen, "gen: flow %u does not exist (%u flows)", (unsigned)flow,
            (unsigned)p->flows);
    return -1;
  }
  if (!(p->ipv6_fraction >= 0.0 && p->ipv6_fraction <= 1.0)) {
    set_err(err, errlen, "gen: --ipv6-share %g is out of range (0..1)", p->ipv6_fraction);
    return -1;
  }
  struct gen_tuple *t = make_tuples(p);
  if (t == NULL) {
    set_err(err, errlen, "gen: %s", strerror(ENOMEM));
    return -1;
  }
  memset(key, 0, sizeof *key);
  key->proto = 17;
  if (t[flow].v6) {
    key->af = FLOW_AF_INET6;
    key->ethertype = 0x86dd;
    memcpy(key->src, t[flow].addr, 16);
    memcpy(key->dst, gen_server6, 16);
  } else {
    key->af = FLOW_AF_INET;
    key->ethertype = 0x0800;
    memcpy(key->src, t[flow].addr, 4);
    memcpy(key->dst, gen_server4, 4);
  }
  key->sport = t[flow].sport;
  key->dport = GEN_DPORT;
  free(t);
  return 0;
}
