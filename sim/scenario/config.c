/*
 * config.c: scenario keys, their parsing and validation, and the built-in
 * designs (docs/designs.md says what each models and why).
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "iommu.h"
#include "scenario.h"
#include "xdp.h"
#include "num.h"

#define ALL_QUEUES UINT64_MAX
#define PAGE_BYTES 4096u
#define RX_HEADROOM 256u   /* XDP_PACKET_HEADROOM */
#define SHINFO_BYTES 320u  /* SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 */
#define FRAME_LINKTYPE 1   /* DLT_EN10MB: every trace's records reach the NIC as Ethernet (trace_linktype) */

const char *const config_principals[] = {"app", "other", NULL};

void config_default(struct config *c) {
  memset(c, 0, sizeof *c);
  c->nic_queues = 1;
  c->nic_line_rate_gbps = 10.0;
  c->nic_rss_queues = ALL_QUEUES;
  c->nic_header_split = 0;
  c->nic_ring_size = 512;
  c->nic_buffer_size = 2048;
  c->nic_steer_app_to = -1;
  c->nic_mtu = 1500;
  c->nic_multi_buffer = 1;
  c->nic_hdr_buffer_size = 256;
  c->nic_rx_buffer_kb = 512;   /* 82599 RX packet buffer */
  c->nic_itr_us = 8.0;         /* ixgbe's default interrupt throttle */
  c->nic_desc_fetch_batch = 8;
  c->nic_wb_threshold = 1;
  c->nic_pcie_gbps = 63.0;     /* PCIe Gen3 x8, raw */
  c->iommu_mode = IOMMU_LAZY; /* Linux's default for DMA domains */
  c->iommu_iotlb_entries = 64;
  c->pool_pages = 0;          /* no cap: Linux's page_pool takes pages from the page allocator */
  /* net.core.rmem_default (net/core/sock.c: sysctl_rmem_default =
   * SK_RMEM_DEFAULT, include/net/sock.h: _SK_MEM_PACKETS 256 x
   * SKB_TRUESIZE(256) = 212992 on x86-64), what a UDP socket gets in
   * sock_init_data; a TCP socket starts at tcp_rmem[1] = 131072
   * (net/ipv4/tcp.c, tcp_init) and autotunes up to tcp_rmem[2]. */
  c->sock_rcvbuf_bytes = 212992;
  c->pool_cache_size = 128;   /* PP_ALLOC_CACHE_SIZE, net/core/page_pool.c */
  c->pool_ring_size = 1024;   /* page_pool's ptr_ring size when pool_size is 0 */
  c->pool_clear = CFG_CLEAR_NEVER; /* merged page_pool never clears */
  c->pool_frag = 0;
  c->driver_skb_mode = CFG_SKB_WRITABLE;
  c->driver_dma_mapping = CFG_DMA_POOL;
  c->driver_napi_budget = 64;
  c->driver_recv_delay_us = 2.0; /* wakeup and scheduling of the reader (estimate) */
  c->driver_page_recycle = CFG_RECYCLE_POOL;
  c->app_owns[0] = '\0';
  c->app_caps = 0;
  c->app_mapping = CFG_MAP_RO;
  c->app_mapping_lifetime = CFG_LIFETIME_PERSISTENT;
  c->app_hold_us = 0.0;
  c->app_delivery = CFG_DELIVERY_COPY;
  c->app_zc_queues = ALL_QUEUES;
  c->app_umem_chunk = 4096;   /* XSK_UMEM__DEFAULT_FRAME_SIZE of libxdp: one chunk per page */
  c->app_umem_pages = 0;
  c->cpu_ghz = 4.0; /* the Skylake i7-6700K of the memset figures */
  c->cpu_cores = 1;
  c->host_ram_mb = 1024;
  c->trace_max_flows = 1u << 18;
  c->traffic_tx[0] = '\0';
  c->tx_mode = CFG_TX_NONE;
  c->tx_wait_completion = 1;
  c->tx_protect_inflight = 0;
  c->tx_head_writeback = 0;
  c->tx_buffers = 64;
}

enum key_type { K_U32, K_DOUBLE, K_BOOL, K_ENUM, K_QUEUES, K_QUEUE_OR_NONE, K_STRING, K_CAPS, K_RULES,
                K_U32_OR_UNLIMITED /* as K_U32; "unlimited" (or 0) stores 0 */ };

struct key_def {
  const char *name;
  enum key_type type;
  size_t offset;
  double min, max;          /* K_U32, K_DOUBLE */
  const char *const *names; /* K_ENUM: value names in enum order, NULL-terminated */
  int pow2;                 /* K_U32: must be a power of two */
  const char *help;
};

static const char *const iommu_modes[] = {"strict", "lazy", "passthrough", "off", NULL};
static const char *const clears[] = {"never", "on_entry", "on_recycle", NULL};
static const char *const skb_modes[] = {"writable", "readonly", NULL};
static const char *const dma_mappings[] = {"pool", "per_packet", NULL};
static const char *const maps[] = {"ro", "rw", NULL};
static const char *const lifetimes[] = {"persistent", "per_packet", NULL};
static const char *const deliveries[] = {"copy", "zero_copy", "af_xdp", "zcrx", NULL};
static const char *const recycles[] = {"pool", "free", NULL};
static const char *const tx_modes[] = {"none", "copy", "zerocopy", "af_xdp", "page_pool", NULL};

#define OFF(f) offsetof(struct config, f)
static const struct key_def keys[] = {
    {"nic.queues", K_U32, OFF(nic_queues), 1, CFG_MAX_QUEUES, NULL, 0, "RX queues (1..64)"},
    {"nic.line_rate_gbps", K_DOUBLE, OFF(nic_line_rate_gbps), 0.001, 1000, NULL, 0,
     "Ethernet line rate in Gb/s"},
    {"nic.rss_queues", K_QUEUES, OFF(nic_rss_queues), 0, 0, NULL, 0,
     "queues in the RSS indirection table: a list like [0,1,2], or all"},
    {"nic.header_split", K_BOOL, OFF(nic_header_split), 0, 0, NULL, 0,
     "split headers into a separate buffer (true, false)"},
    {"nic.ring_size", K_U32, OFF(nic_ring_size), 8, 8192, NULL, 1,
     "descriptors per RX ring (power of two, 8..8192)"},
    {"nic.buffer_size", K_U32, OFF(nic_buffer_size), 256, PAGE_BYTES - RX_HEADROOM - SHINFO_BYTES,
     NULL, 0, "bytes per RX buffer (256..3520: headroom 256 and skb_shared_info 320 share the page)"},
    {"nic.steer_app_to", K_QUEUE_OR_NONE, OFF(nic_steer_app_to), 0, 0, NULL, 0,
     "ntuple rule steering the application's flow to this queue, or none"},
    {"nic.mtu", K_U32, OFF(nic_mtu), 68, 65535, NULL, 0,
     "MTU in bytes (68..65535); longer frames are dropped and counted"},
    {"nic.multi_buffer", K_BOOL, OFF(nic_multi_buffer), 0, 0, NULL, 0,
     "chain frames longer than one buffer over several descriptors (true, false)"},
    {"nic.hdr_buffer_size", K_U32, OFF(nic_hdr_buffer_size), 64, 1024, NULL, 1,
     "bytes per header buffer with header split (power of two, 64..1024)"},
    {"nic.rx_buffer_kb", K_U32, OFF(nic_rx_buffer_kb), 1, 65536, NULL, 0,
     "on-NIC RX packet buffer in KiB (1..65536)"},
    {"nic.itr_us", K_DOUBLE, OFF(nic_itr_us), 0, 100000, NULL, 0,
     "minimum microseconds between two interrupts of a queue"},
    {"nic.desc_fetch_batch", K_U32, OFF(nic_desc_fetch_batch), 1, 64, NULL, 0,
     "descriptors fetched per DMA read (1..64)"},
    {"nic.wb_threshold", K_U32, OFF(nic_wb_threshold), 1, 64, NULL, 0,
     "completed descriptors written back together (1..64)"},
    {"nic.pcie_gbps", K_DOUBLE, OFF(nic_pcie_gbps), 0.1, 10000, NULL, 0,
     "raw PCIe link rate in Gb/s (TLP overhead is counted apart)"},
    {"iommu.mode", K_ENUM, OFF(iommu_mode), 0, 0, iommu_modes, 0, "strict, lazy, passthrough, off"},
    {"iommu.iotlb_entries", K_U32, OFF(iommu_iotlb_entries), 1, 65536, NULL, 0,
     "IOTLB entries (1..65536)"},
    {"pool.pages", K_U32_OR_UNLIMITED, OFF(pool_pages), 0, 1u << 20, NULL, 0,
     "optional cap on the pages a pool has at once, in its cache, its ring and in flight (1..1048576), or "
     "0 or unlimited: no cap, as Linux's page_pool (default)"},
    {"pool.clear", K_ENUM, OFF(pool_clear), 0, 0, clears, 0, "never, on_entry, on_recycle"},
    {"pool.frag", K_BOOL, OFF(pool_frag), 0, 0, NULL, 0, "several packets per page (true, false)"},
    {"pool.cache_size", K_U32, OFF(pool_cache_size), 1, 1024, NULL, 0,
     "pages in a pool's alloc cache, which direct recycling from NAPI fills (1..1024; Linux: 128)"},
    {"pool.ring_size", K_U32, OFF(pool_ring_size), 1, 16384, NULL, 0,
     "pages in a pool's recycle ring; a page recycled into a full ring leaves the pool (1..16384, "
     "Linux's cap; default 1024)"},
    {"driver.skb_mode", K_ENUM, OFF(driver_skb_mode), 0, 0, skb_modes, 0, "writable, readonly"},
    {"driver.dma_mapping", K_ENUM, OFF(driver_dma_mapping), 0, 0, dma_mappings, 0,
     "pool (mapped while in the pool), per_packet (mapped at refill, unmapped on completion)"},
    {"driver.napi_budget", K_U32, OFF(driver_napi_budget), 1, 4096, NULL, 0,
     "frames per NAPI poll (1..4096)"},
    {"driver.recv_delay_us", K_DOUBLE, OFF(driver_recv_delay_us), 0, 1e6, NULL, 0,
     "microseconds from the stack's validation to the recipient's recvmsg copy"},
    {"sock.rcvbuf_bytes", K_U32, OFF(sock_rcvbuf_bytes), 2304, 1u << 30, NULL, 0,
     "receive buffer of each socket (one per flow), sk_rcvbuf (2304..1073741824; Linux's rmem_default: "
     "212992); a frame that finds its socket over it is dropped there"},
    {"driver.page_recycle", K_ENUM, OFF(driver_page_recycle), 0, 0, recycles, 0,
     "pool (page_pool recycles pages), free (legacy: a fresh page per buffer, freed after use and "
     "reused by the kernel)"},
    {"app.owns", K_STRING, OFF(app_owns), 0, 0, NULL, 0,
     "BPF filter of the application's traffic; empty: the TCP/UDP flow with the most wire bytes"},
    {"app.caps", K_CAPS, OFF(app_caps), 0, 0, NULL, 0, "capabilities, e.g. [CAP_NET_ADMIN]"},
    {"app.mapping", K_ENUM, OFF(app_mapping), 0, 0, maps, 0, "ro, rw"},
    {"app.mapping_lifetime", K_ENUM, OFF(app_mapping_lifetime), 0, 0, lifetimes, 0,
     "persistent, per_packet"},
    {"app.hold_us", K_DOUBLE, OFF(app_hold_us), 0, 1e9, NULL, 0,
     "microseconds the application keeps a page before returning it"},
    {"app.delivery", K_ENUM, OFF(app_delivery), 0, 0, deliveries, 0,
     "how the application's packets reach it: copy, zero_copy (its queues' page pools mapped), af_xdp "
     "(an AF_XDP zero-copy socket's UMEM bound to one queue), zcrx (header split, payload buffers in its "
     "memory: devmem TCP / io_uring zcrx)"},
    {"app.zc_queues", K_QUEUES, OFF(app_zc_queues), 0, 0, NULL, 0,
     "queues whose page pools are mapped to the application (zero_copy): a list, or all"},
    {"app.hostile_write", K_BOOL, OFF(app_hostile_write), 0, 0, NULL, 0,
     "the application writes into every packet the stack validated, through its mapping (true, false)"},
    {"app.hostile_read", K_BOOL, OFF(app_hostile_read), 0, 0, NULL, 0,
     "the application reads every byte of every page mapped into it, at mapping and at each write "
     "(true, false)"},
    {"app.umem_chunk", K_U32, OFF(app_umem_chunk), 2048, 4096, NULL, 1,
     "af_xdp, zcrx: bytes per chunk of the application's region (2048 or 4096)"},
    {"app.umem_pages", K_U32, OFF(app_umem_pages), 0, 1u << 20, NULL, 0,
     "af_xdp, zcrx: pages of the application's region; 0: enough for the ring and half again"},
    {"xdp.rules", K_RULES, OFF(xdp_rules), 0, 0, NULL, 0,
     "the XDP program: a list of rules 'ACTION [PRINCIPAL] [MATCH]' (pass, drop, redirect PRINCIPAL: app, "
     "other or a name from principals:; "
     "a BPF filter or 'tuple FIELD=VALUE,...'), first match wins, no match passes; [] the default "
     "program; in --set, rules separated by ';'"},
    {"cpu.ghz", K_DOUBLE, OFF(cpu_ghz), 0.1, 10, NULL, 0, "modelled core frequency in GHz"},
    {"cpu.cores", K_U32, OFF(cpu_cores), 1, 64, NULL, 0,
     "modelled cores (1..64); queue q's NAPI poll runs on core q % cpu.cores"},
    {"host.ram_mb", K_U32, OFF(host_ram_mb), 64, 16384, NULL, 0,
     "simulated RAM in MiB (64..16384); every pool, ring and buffer comes from it"},
    {"trace.max_flows", K_U32, OFF(trace_max_flows), 16, 1u << 24, NULL, 0,
     "flows the flow table keeps (16..16777216); beyond, the flow with the fewest bytes is evicted "
     "(counted in trace.flows_evicted)"},
    {"traffic.tx", K_STRING, OFF(traffic_tx), 0, 0, NULL, 0,
     "BPF filter of the frames the host sends (by their owning principal, through the TX path) instead "
     "of receiving them; empty: none, or the application's flows when tx.mode is set"},
    {"tx.mode", K_ENUM, OFF(tx_mode), 0, 0, tx_modes, 0,
     "the TX path: none (copy when traffic.tx is set), copy (the kernel copies into its own pages), "
     "zerocopy (MSG_ZEROCOPY: the sender's pages pinned and mapped), af_xdp (AF_XDP TX from a UMEM), "
     "page_pool (pages of a page_pool per socket, DMA-mapped and mapped into the sender once, recycled at "
     "the completion)"},
    {"tx.wait_completion", K_BOOL, OFF(tx_wait_completion), 0, 0, NULL, 0,
     "a TX buffer is let go only after the device's completion (true), or as soon as it is posted "
     "(false: the driver frees the kernel's pages, the sender reuses its own buffer, or the page_pool "
     "recycles the page)"},
    {"tx.protect_inflight", K_BOOL, OFF(tx_protect_inflight), 0, 0, NULL, 0,
     "zerocopy, af_xdp, page_pool: the sender's pages are read-only to it while the device may read them "
     "(true, false)"},
    {"tx.head_writeback", K_BOOL, OFF(tx_head_writeback), 0, 0, NULL, 0,
     "TX completions by head write-back instead of DD in each descriptor (true, false)"},
    {"tx.buffers", K_U32, OFF(tx_buffers), 1, 4096, NULL, 0,
     "send buffers per principal (1..4096), 16 KiB each; a send finds none free: refused (ENOBUFS)"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

size_t config_key_count(void) { return NKEYS; }
const char *config_key_name(size_t i) { return i < NKEYS ? keys[i].name : NULL; }
const char *config_key_help(size_t i) { return i < NKEYS ? keys[i].help : NULL; }

static const struct key_def *find_key(const char *name) {
  for (size_t i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].name, name) == 0)
      return &keys[i];
  return NULL;
}

static void trim(const char *s, const char **b, const char **e) {
  while (*s && isspace((unsigned char)*s))
    s++;
  const char *t = s + strlen(s);
  while (t > s && isspace((unsigned char)t[-1]))
    t--;
  *b = s;
  *e = t;
}

/* A whole number in [min, max]. */
static int parse_u64(const char *s, uint64_t *out) {
  const char *b, *e;
  trim(s, &b, &e);
  return num_u64_n(b, (size_t)(e - b), out);
}

static int parse_double(const char *s, double *out) {
  const char *b, *e;
  trim(s, &b, &e);
  return num_double_n(b, (size_t)(e - b), out);
}

/* "[a, b, c]" or "a,b,c" (or "[]"): calls item for each trimmed element. */
static int parse_list(const char *s, int (*item)(void *ctx, const char *text), void *ctx) {
  const char *b, *e;
  trim(s, &b, &e);
  if (b < e && *b == '[') {
    if (e[-1] != ']')
      return -1;
    b++;
    e--;
  }
  char buf[CFG_OWNS_MAX];
  if ((size_t)(e - b) >= sizeof buf)
    return -1;
  memcpy(buf, b, (size_t)(e - b));
  buf[e - b] = '\0';
  const char *tb, *te;
  trim(buf, &tb, &te);
  if (tb == te)
    return 0; /* empty list */
  /* Split at every comma ourselves: strtok_r would merge ",," and drop a
   * trailing or leading comma, so "[0,,1]" would pass as [0,1]. */
  for (char *tok = buf, *next; tok; tok = next) {
    next = strchr(tok, ',');
    if (next)
      *next++ = '\0';
    trim(tok, &tb, &te);
    char one[64];
    if (tb == te || (size_t)(te - tb) >= sizeof one)
      return -1;
    memcpy(one, tb, (size_t)(te - tb));
    one[te - tb] = '\0';
    if (item(ctx, one))
      return -1;
  }
  return 0;
}

static int queue_item(void *ctx, const char *text) {
  uint64_t q;
  if (parse_u64(text, &q) || q >= CFG_MAX_QUEUES)
    return -1;
  *(uint64_t *)ctx |= 1ull << q;
  return 0;
}

static int cap_item(void *ctx, const char *text) {
  if (strcmp(text, "CAP_NET_ADMIN") == 0 || strcmp(text, "NET_ADMIN") == 0) {
    *(uint64_t *)ctx |= POLICY_CAP_NET_ADMIN;
    return 0;
  }
  return -1;
}

static void enum_list(const char *const *names, char *buf, size_t n) {
  buf[0] = '\0';
  for (size_t i = 0; names[i]; i++) {
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", i ? ", " : "", names[i]);
  }
}

/* One rule of xdp.rules, checked alone: "xdp.rules: rule N 'TEXT': problem". */
/* A value in an error line, long ones elided so that the reason after it
 * is never cut off (one call per message). */
static const char *shown(const char *value) {
  static char buf[96];
  return num_elide(value, buf, sizeof buf);
}

/* principals: the scenario's names (NULL-terminated), or NULL while they
 * are not all known (config_validate checks the names again). */
static int check_rule(const char *key, size_t index, const char *rule, const char *const *principals, char *err,
                      size_t errlen) {
  char e[1024];
  /* The length first: libpcap compiles a long filter slowly and in much
   * memory before any other check could refuse it. */
  size_t len = strlen(rule);
  if (len >= XDP_RULE_MAX) {
    snprintf(err, errlen, "%s: rule %zu is %zu bytes long; at most %d are allowed ('%s')", key, index + 1, len,
             XDP_RULE_MAX - 1, shown(rule));
    return -1;
  }
  if (xdp_rule_check(rule, principals, FRAME_LINKTYPE, e, sizeof e) == 0)
    return 0;
  snprintf(err, errlen, "%s: rule %zu '%s': %s", key, index + 1, shown(rule), e);
  return -1;
}

/* xdp.rules: split, check each rule, keep them joined by "; ". */
static int set_rules(char *field, const char *key, const char *value, char *err, size_t errlen) {
  char(*rules)[XDP_RULE_MAX] = calloc(XDP_MAX_RULES, XDP_RULE_MAX);
  char *joined = calloc(1, CFG_XDP_RULES_MAX);
  size_t n = 0, len = 0;
  int rc = -1;
  char e[600];
  if (!rules || !joined) {
    snprintf(err, errlen, "%s: out of memory", key);
    goto out;
  }
  if (xdp_rules_split(value, rules, XDP_MAX_RULES, &n, e, sizeof e)) {
    snprintf(err, errlen, "%s: '%s' is not allowed: %s", key, shown(value), e);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (check_rule(key, i, rules[i], NULL, err, errlen))
      goto out;
    size_t l = strlen(rules[i]);
    if (len + l + 3 > CFG_XDP_RULES_MAX) {
      snprintf(err, errlen, "%s: the rules are more than %d bytes long", key, CFG_XDP_RULES_MAX - 1);
      goto out;
    }
    len += (size_t)snprintf(joined + len, CFG_XDP_RULES_MAX - len, "%s%s", i ? "; " : "", rules[i]);
  }
  memcpy(field, joined, len + 1);
  rc = 0;
out:
  free(rules);
  free(joined);
  return rc;
}

char config_list_separator(const char *key) {
  const struct key_def *k = find_key(key);
  return k && k->type == K_RULES ? ';' : ',';
}

int config_list_item_check(const char *key, size_t index, const char *item, char *err, size_t errlen) {
  const struct key_def *k = find_key(key);
  if (k && k->type == K_RULES)
    return check_rule(key, index, item, NULL, err, errlen);
  return 0;
}

static int principal_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
static uint64_t queue_mask(uint32_t queues);

/* Parse value into field as key k says. 0, or -1 with err filled. */
static int set_field(const struct key_def *k, void *field, const char *key, const char *value, char *err,
                     size_t errlen) {
  switch (k->type) {
  case K_U32_OR_UNLIMITED:
  case K_U32: {
    uint64_t v;
    const char *b, *e;
    trim(value, &b, &e);
    if (k->type == K_U32_OR_UNLIMITED && (size_t)(e - b) == 9 && strncmp(b, "unlimited", 9) == 0) {
      *(uint32_t *)field = 0;
      return 0;
    }
    if (parse_u64(value, &v) || v < k->min || v > k->max || (k->pow2 && (v & (v - 1)))) {
      snprintf(err, errlen, "%s: '%s' is not allowed: %s", key, shown(value), k->help);
      return -1;
    }
    *(uint32_t *)field = (uint32_t)v;
    return 0;
  }
  case K_DOUBLE: {
    double v;
    if (parse_double(value, &v) || v < k->min || v > k->max) {
      snprintf(err, errlen, "%s: '%s' is not allowed: %s (%g..%g)", key, shown(value), k->help, k->min, k->max);
      return -1;
    }
    *(double *)field = v;
    return 0;
  }
  case K_BOOL: {
    const char *b, *e;
    trim(value, &b, &e);
    size_t n = (size_t)(e - b);
    if (n == 4 && strncmp(b, "true", 4) == 0)
      *(int *)field = 1;
    else if (n == 5 && strncmp(b, "false", 5) == 0)
      *(int *)field = 0;
    else {
      snprintf(err, errlen, "%s: '%s' is not allowed: true or false", key, shown(value));
      return -1;
    }
    return 0;
  }
  case K_ENUM: {
    const char *b, *e;
    trim(value, &b, &e);
    for (size_t i = 0; k->names[i]; i++)
      if (strlen(k->names[i]) == (size_t)(e - b) && strncmp(k->names[i], b, (size_t)(e - b)) == 0) {
        *(uint8_t *)field = (uint8_t)i;
        return 0;
      }
    char allowed[200];
    enum_list(k->names, allowed, sizeof allowed);
    snprintf(err, errlen, "%s: '%s' is not allowed: one of %s", key, shown(value), allowed);
    return -1;
  }
  case K_QUEUES: {
    const char *b, *e;
    trim(value, &b, &e);
    if ((size_t)(e - b) == 3 && strncmp(b, "all", 3) == 0) {
      *(uint64_t *)field = ALL_QUEUES;
      return 0;
    }
    uint64_t mask = 0;
    if (parse_list(value, queue_item, &mask)) {
      snprintf(err, errlen, "%s: '%s' is not allowed: a list of queue numbers 0..63 like [0,1,2], or all",
               key, shown(value));
      return -1;
    }
    *(uint64_t *)field = mask;
    return 0;
  }
  case K_QUEUE_OR_NONE: {
    const char *b, *e;
    trim(value, &b, &e);
    uint64_t q;
    if ((size_t)(e - b) == 4 && strncmp(b, "none", 4) == 0) {
      *(int32_t *)field = -1;
      return 0;
    }
    if (parse_u64(value, &q) || q >= CFG_MAX_QUEUES) {
      snprintf(err, errlen, "%s: '%s' is not allowed: a queue number 0..63, or none", key, shown(value));
      return -1;
    }
    *(int32_t *)field = (int32_t)q;
    return 0;
  }
  case K_STRING: {
    size_t n = strlen(value);
    if (n >= CFG_OWNS_MAX) {
      snprintf(err, errlen, "%s: the value is %zu bytes long; at most %d are allowed", key, n,
               CFG_OWNS_MAX - 1);
      return -1;
    }
    memcpy(field, value, n + 1);
    return 0;
  }
  case K_RULES:
    return set_rules(field, key, value, err, errlen);
  case K_CAPS: {
    uint64_t caps = 0;
    if (parse_list(value, cap_item, &caps)) {
      snprintf(err, errlen, "%s: '%s' is not allowed: a list of capabilities; known: CAP_NET_ADMIN",
               key, shown(value));
      return -1;
    }
    *(uint64_t *)field = caps;
    return 0;
  }
  }
  return -1;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen) {
  if (strncmp(key, "principals", 10) == 0 && (key[10] == '.' || key[10] == '\0'))
    return principal_set(c, key, value, err, errlen);
  const struct key_def *k = find_key(key);
  if (!k) {
    snprintf(err, errlen, "unknown key '%s' (nicsim replay --help lists the keys)", shown(key));
    return -1;
  }
  return set_field(k, (char *)c + k->offset, key, value, err, errlen);
}

/* ---- principals ---- */

static const char *const copy_or_zc[] = {"copy", "zero_copy", NULL};

#define POFF(f) offsetof(struct cfg_principal, f)
static const struct key_def principal_keys[] = {
    {"name", K_STRING, POFF(name), 0, 0, NULL, 0,
     "[A-Za-z0-9_-], 1..32 characters; not app, other, kernel, stale or wire"},
    {"owns", K_STRING, POFF(owns), 0, 0, NULL, 0, "BPF filter of the principal's traffic"},
    {"caps", K_CAPS, POFF(caps), 0, 0, NULL, 0, "capabilities, e.g. [CAP_NET_ADMIN]"},
    {"delivery", K_ENUM, POFF(delivery), 0, 0, copy_or_zc, 0, "copy, zero_copy"},
    {"queue", K_QUEUE_OR_NONE, POFF(queue), 0, 0, NULL, 0,
     "an ntuple rule steers its flows to this queue, which leaves the RSS table; or none"},
    {"zc_queues", K_QUEUES, POFF(zc_queues), 0, 0, NULL, 0,
     "zero_copy: queues whose page pools are mapped into it (default: its queue, or every queue)"},
    {"mapping", K_ENUM, POFF(mapping), 0, 0, maps, 0, "ro, rw"},
    {"mapping_lifetime", K_ENUM, POFF(mapping_lifetime), 0, 0, lifetimes, 0, "persistent, per_packet"},
};
#define NPKEYS (sizeof principal_keys / sizeof principal_keys[0])

static const struct key_def *find_principal_key(const char *field) {
  for (size_t i = 0; i < NPKEYS; i++)
    if (strcmp(principal_keys[i].name, field) == 0)
      return &principal_keys[i];
  return NULL;
}

int config_principal_field(const char *field) {
  const struct key_def *k = find_principal_key(field);
  return !k ? -1 : k->type == K_CAPS || k->type == K_QUEUES;
}

/* "principals.N.FIELD" = value; "principals" = [] empties the list. */
static int principal_set(struct config *c, const char *key, const char *value, char *err, size_t errlen) {
  if (key[10] == '\0') {
    const char *b, *e;
    trim(value, &b, &e);
    if ((size_t)(e - b) == 2 && b[0] == '[' && b[1] == ']') {
      c->nprincipals = 0;
      memset(c->principals, 0, sizeof c->principals);
      return 0;
    }
    snprintf(err, errlen, "principals: '%s' is not allowed: [] (no principals beyond app and other), or set "
             "principals.N.FIELD", shown(value));
    return -1;
  }
  const char *p = key + 11, *end = strchr(p, '.');
  uint64_t n;
  if (key[10] != '.' || !end || num_u64_n(p, (size_t)(end - p), &n)) {
    snprintf(err, errlen, "unknown key '%s' (principals.N.FIELD, N from 0)", shown(key));
    return -1;
  }
  const struct key_def *k = find_principal_key(end + 1);
  if (!k) {
    snprintf(err, errlen, "unknown key '%s' (a principal has name, owns, caps, delivery, queue, zc_queues, "
             "mapping, mapping_lifetime)", shown(key));
    return -1;
  }
  if (n >= CFG_MAX_PRINCIPALS || n > c->nprincipals) {
    snprintf(err, errlen, "%s: principal %" PRIu64 " is not allowed: %u principals are listed, at most %d allowed",
             shown(key), n, c->nprincipals, CFG_MAX_PRINCIPALS);
    return -1;
  }
  struct cfg_principal tmp, *pr = n < c->nprincipals ? &c->principals[n] : &tmp;
  if (pr == &tmp) {
    memset(&tmp, 0, sizeof tmp);
    tmp.queue = -1;
    tmp.delivery = CFG_DELIVERY_COPY;
    tmp.mapping = CFG_MAP_RO;
    tmp.mapping_lifetime = CFG_LIFETIME_PERSISTENT;
  }
  if (k->offset == POFF(name) && strlen(value) > CFG_PRINCIPAL_NAME_MAX) {
    snprintf(err, errlen, "%s: '%s' is %zu characters long: allowed 1..%d", key, shown(value), strlen(value),
             CFG_PRINCIPAL_NAME_MAX);
    return -1;
  }
  if (set_field(k, (char *)pr + k->offset, key, value, err, errlen))
    return -1;
  if (k->offset == POFF(zc_queues))
    pr->zc_queues_set = 1;
  if (pr == &tmp)
    c->principals[c->nprincipals++] = tmp;
  return 0;
}

uint64_t config_principal_zc_queues(const struct config *c, const struct cfg_principal *p) {
  uint64_t all = queue_mask(c->nic_queues);
  if (p->delivery != CFG_DELIVERY_ZERO_COPY)
    return 0;
  if (p->zc_queues_set)
    return p->zc_queues & all;
  return p->queue >= 0 ? 1ull << p->queue : all;
}

uint64_t config_rss_queues(const struct config *c) {
  uint64_t rss = c->nic_rss_queues;
  for (uint32_t i = 0; i < c->nprincipals; i++)
    if (c->principals[i].queue >= 0)
      rss &= ~(1ull << c->principals[i].queue);
  return rss;
}

/* A principal's name: [A-Za-z0-9_-], 1..32, not a reserved one. */
static int principal_name_check(const char *name, char *why, size_t n) {
  if (!name[0]) {
    snprintf(why, n, "no name given: allowed [A-Za-z0-9_-], 1..%d characters", CFG_PRINCIPAL_NAME_MAX);
    return -1;
  }
  for (const char *q = name; *q; q++)
    if (!isalnum((unsigned char)*q) && *q != '_' && *q != '-') {
      snprintf(why, n, "'%s' is not allowed: letters, digits, '_' and '-' only", name);
      return -1;
    }
  /* kernel and stale name the owners of bytes no principal owns (by_pair);
   * wire is --observed's wire.pcap, beside each principal's NAME.pcap. */
  static const char *const reserved[] = {"app", "other", "kernel", "stale", "wire"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strcmp(name, reserved[i]) == 0) {
      snprintf(why, n, "'%s' is not allowed: app, other, kernel, stale and wire are reserved (by_pair's "
               "owners, --observed's wire.pcap)", name);
      return -1;
    }
  return 0;
}

static int principals_validate(const struct config *c, char *err, size_t errlen) {
  uint64_t all = queue_mask(c->nic_queues);
  char why[200];
  for (uint32_t i = 0; i < c->nprincipals; i++) {
    const struct cfg_principal *p = &c->principals[i];
    if (principal_name_check(p->name, why, sizeof why)) {
      snprintf(err, errlen, "principals.%u.name: %s", i, why);
      return -1;
    }
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(c->principals[j].name, p->name) == 0) {
        snprintf(err, errlen, "principals.%u.name: '%s' is already the name of principal %u", i, p->name, j);
        return -1;
      }
    if (p->queue >= (int32_t)c->nic_queues) {
      snprintf(err, errlen, "principals.%u.queue: queue %d is out of range: allowed 0..%u (nic.queues)", i,
               p->queue, c->nic_queues - 1);
      return -1;
    }
    if (p->zc_queues_set && p->zc_queues != ALL_QUEUES && (p->zc_queues & ~all)) {
      snprintf(err, errlen, "principals.%u.zc_queues: queue %d is out of range: allowed 0..%u (nic.queues)", i,
               63 - __builtin_clzll(p->zc_queues & ~all), c->nic_queues - 1);
      return -1;
    }
    if (p->delivery == CFG_DELIVERY_ZERO_COPY && c->driver_page_recycle == CFG_RECYCLE_FREE) {
      snprintf(err, errlen, "principals.%u.delivery: zero_copy cannot be combined with driver.page_recycle=free "
               "(zero copy needs a page pool the principal maps)", i);
      return -1;
    }
  }
  if ((config_rss_queues(c) & all) == 0) {
    snprintf(err, errlen, "nic.rss_queues: the RSS table needs at least one queue, and the principals' "
             "queues leave none");
    return -1;
  }
  return 0;
}

/* xdp.rules against the scenario's principals, now all known: a rule
 * redirects to, or matches the owner, app, other or a listed principal. */
static int rules_validate(const struct config *c, char *err, size_t errlen) {
  if (!c->xdp_rules[0])
    return 0;
  const char *names[CFG_MAX_PRINCIPALS + 3] = {config_principals[0], config_principals[1]};
  for (uint32_t i = 0; i < c->nprincipals; i++)
    names[2 + i] = c->principals[i].name;
  char(*rules)[XDP_RULE_MAX] = calloc(XDP_MAX_RULES, XDP_RULE_MAX);
  size_t n = 0;
  int rc = -1;
  if (!rules)
    snprintf(err, errlen, "xdp.rules: out of memory");
  else if (xdp_rules_split(c->xdp_rules, rules, XDP_MAX_RULES, &n, err, errlen) == 0) {
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
      rc = check_rule("xdp.rules", i, rules[i], names, err, errlen);
  }
  free(rules);
  return rc;
}

static uint64_t queue_mask(uint32_t queues) {
  return queues >= 64 ? UINT64_MAX : (1ull << queues) - 1;
}

int config_validate(const struct config *c, char *err, size_t errlen) {
  uint64_t all = queue_mask(c->nic_queues);
  if (c->nic_rss_queues != ALL_QUEUES && (c->nic_rss_queues & ~all)) {
    snprintf(err, errlen, "nic.rss_queues: queue %d is out of range (nic.queues is %u)",
             63 - __builtin_clzll(c->nic_rss_queues & ~all), c->nic_queues);
    return -1;
  }
  if ((c->nic_rss_queues & all) == 0) {
    snprintf(err, errlen, "nic.rss_queues: the RSS table needs at least one queue");
    return -1;
  }
  if (c->app_zc_queues != ALL_QUEUES && (c->app_zc_queues & ~all)) {
    snprintf(err, errlen, "app.zc_queues: queue %d is out of range (nic.queues is %u)",
             63 - __builtin_clzll(c->app_zc_queues & ~all), c->nic_queues);
    return -1;
  }
  if (principals_validate(c, err, errlen) || rules_validate(c, err, errlen))
    return -1;
  if (c->nic_steer_app_to >= (int32_t)c->nic_queues) {
    snprintf(err, errlen, "nic.steer_app_to: queue %d is out of range (nic.queues is %u)",
             c->nic_steer_app_to, c->nic_queues);
    return -1;
  }
  if (c->pool_frag) {
    /* page_pool fragments: headroom + buffer (+ skb_shared_info for
     * writable skbs), aligned to 64 bytes, at most half a page. */
    uint32_t room = PAGE_BYTES / 2 - RX_HEADROOM -
                    (c->driver_skb_mode == CFG_SKB_WRITABLE ? SHINFO_BYTES : 0);
    if (c->nic_buffer_size > room) {
      snprintf(err, errlen, "pool.frag: a fragment is at most half a page: nic.buffer_size %u is more than "
               "the %u bytes left after the headroom%s", c->nic_buffer_size, room,
               c->driver_skb_mode == CFG_SKB_WRITABLE ? " and skb_shared_info (writable skbs)" : "");
      return -1;
    }
    if (c->driver_dma_mapping != CFG_DMA_POOL || c->driver_page_recycle != CFG_RECYCLE_POOL) {
      snprintf(err, errlen, "pool.frag: fragments need driver.dma_mapping=pool and driver.page_recycle=pool "
               "(page_pool keeps the page mapped until its last fragment is released)");
      return -1;
    }
  }
  if (c->app_delivery == CFG_DELIVERY_AF_XDP || c->app_delivery == CFG_DELIVERY_ZCRX) {
    const char *what = c->app_delivery == CFG_DELIVERY_AF_XDP ? "af_xdp" : "zcrx";
    uint64_t zq = c->app_zc_queues & all;
    if (c->app_zc_queues == ALL_QUEUES ? c->nic_queues != 1 : (zq == 0 || (zq & (zq - 1)))) {
      snprintf(err, errlen, "app.zc_queues: app.delivery=%s binds the application's memory to exactly one "
               "queue; name one, like [3]", what);
      return -1;
    }
    if (c->nic_buffer_size + RX_HEADROOM > c->app_umem_chunk) {
      snprintf(err, errlen, "nic.buffer_size: %u bytes and the %u-byte headroom do not fit a %u-byte chunk "
               "(app.umem_chunk)", c->nic_buffer_size, RX_HEADROOM, c->app_umem_chunk);
      return -1;
    }
    if (c->driver_dma_mapping != CFG_DMA_POOL || c->driver_page_recycle != CFG_RECYCLE_POOL) {
      snprintf(err, errlen, "app.delivery: %s maps the application's memory for the device once, at "
               "registration: it needs driver.dma_mapping=pool and driver.page_recycle=pool", what);
      return -1;
    }
    if (c->app_delivery == CFG_DELIVERY_ZCRX && !c->nic_header_split) {
      snprintf(err, errlen, "app.delivery: zcrx needs nic.header_split=true (headers go to kernel buffers, "
               "payload to the application's)");
      return -1;
    }
  }
  if (c->driver_page_recycle == CFG_RECYCLE_FREE && c->driver_dma_mapping != CFG_DMA_PER_PACKET) {
    snprintf(err, errlen, "driver.page_recycle: free needs driver.dma_mapping=per_packet (a page that "
             "leaves the driver is unmapped first)");
    return -1;
  }
  if (c->driver_page_recycle == CFG_RECYCLE_FREE && c->app_delivery == CFG_DELIVERY_ZERO_COPY) {
    snprintf(err, errlen, "driver.page_recycle: free cannot be combined with app.delivery=zero_copy "
             "(zero copy needs a page pool the application maps)");
    return -1;
  }
  if (c->xdp_rules[0] && c->app_delivery == CFG_DELIVERY_ZCRX) {
    snprintf(err, errlen, "xdp.rules: an XDP program cannot be attached with app.delivery=zcrx (Linux refuses "
             "a memory provider on a device running XDP, and the other way round)");
    return -1;
  }
  if (c->pool_pages && c->pool_pages < c->nic_ring_size) {
    snprintf(err, errlen, "pool.pages: %u pages cannot fill a ring of %u descriptors (nic.ring_size)",
             c->pool_pages, c->nic_ring_size);
    return -1;
  }
  /* Every queue's pool (and the application's region) must fit the
   * simulated RAM, beside what the kernel keeps for itself. */
  uint64_t ram_pages = (uint64_t)c->host_ram_mb * (1024 * 1024 / PAGE_BYTES);
  uint64_t umem = 0;
  if (c->app_delivery == CFG_DELIVERY_AF_XDP || c->app_delivery == CFG_DELIVERY_ZCRX)
    umem = c->app_umem_pages ? c->app_umem_pages
                             : ((uint64_t)c->nic_ring_size * 3 / 2 * c->app_umem_chunk + PAGE_BYTES - 1) /
                                   PAGE_BYTES;
  uint64_t room = ram_pages > CFG_RAM_RESERVE_PAGES + umem ? ram_pages - CFG_RAM_RESERVE_PAGES - umem : 0;
  if (c->pool_pages && (uint64_t)c->pool_pages * c->nic_queues > room) {
    uint64_t most = room / c->nic_queues;
    snprintf(err, errlen,
             "pool.pages: %u queues x %u pages (%llu MiB) do not fit the simulated RAM of %u MiB "
             "(host.ram_mb, %u MiB kept for the kernel%s); allowed: %u..%llu pages per pool",
             c->nic_queues, c->pool_pages,
             (unsigned long long)((uint64_t)c->pool_pages * c->nic_queues * PAGE_BYTES >> 20),
             c->host_ram_mb, CFG_RAM_RESERVE_PAGES * PAGE_BYTES >> 20,
             umem ? " and the application's region" : "", c->nic_ring_size,
             (unsigned long long)most);
    return -1;
  }
  return 0;
}

/* len bytes of s as a JSON string with escapes into buf (n > 2 bytes). */
static void json_string(const char *s, size_t len, char *buf, size_t n) {
  size_t l = 0;
  if (n < 3) {
    if (n)
      buf[0] = '\0';
    return;
  }
  buf[l++] = '"';
  for (size_t i = 0; i < len && l + 7 < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      buf[l++] = '\\';
      buf[l++] = (char)ch;
    } else if (ch < 0x20) {
      l += (size_t)snprintf(buf + l, n - l, "\\u%04x", ch);
    } else {
      buf[l++] = (char)ch;
    }
  }
  buf[l++] = '"';
  buf[l] = '\0';
}

void config_key_json(const struct config *c, size_t i, char *buf, size_t n) {
  if (i >= NKEYS) {
    snprintf(buf, n, "null");
    return;
  }
  const struct key_def *k = &keys[i];
  const void *field = (const char *)c + k->offset;
  switch (k->type) {
  case K_U32_OR_UNLIMITED:
  case K_U32:
    snprintf(buf, n, "%u", *(const uint32_t *)field);
    break;
  case K_DOUBLE:
    snprintf(buf, n, "%.17g", *(const double *)field);
    break;
  case K_BOOL:
    snprintf(buf, n, "%s", *(const int *)field ? "true" : "false");
    break;
  case K_ENUM:
    snprintf(buf, n, "\"%s\"", k->names[*(const uint8_t *)field]);
    break;
  case K_QUEUES: {
    uint64_t mask = *(const uint64_t *)field & queue_mask(c->nic_queues);
    size_t l = (size_t)snprintf(buf, n, "[");
    int first = 1;
    for (unsigned q = 0; q < 64 && l < n; q++)
      if (mask & (1ull << q)) {
        l += (size_t)snprintf(buf + l, n - l, "%s%u", first ? "" : ",", q);
        first = 0;
      }
    if (l < n)
      snprintf(buf + l, n - l, "]");
    break;
  }
  case K_QUEUE_OR_NONE: {
    int32_t q = *(const int32_t *)field;
    if (q < 0)
      snprintf(buf, n, "\"none\"");
    else
      snprintf(buf, n, "%d", q);
    break;
  }
  case K_STRING:
    json_string(field, strlen(field), buf, n);
    break;
  case K_RULES: {
    /* The rules as a JSON list of strings. */
    const char *s = field;
    size_t l = 0;
    if (n < 3) {
      buf[0] = '\0';
      break;
    }
    buf[l++] = '[';
    while (*s && l + 4 < n) {
      const char *semi = strchr(s, ';');
      size_t len = semi ? (size_t)(semi - s) : strlen(s);
      if (l > 1)
        buf[l++] = ',';
      json_string(s, len, buf + l, n - l - 2);
      l += strlen(buf + l);
      s += len;
      while (*s == ';' || *s == ' ')
        s++;
    }
    buf[l++] = ']';
    buf[l] = '\0';
    break;
  }
  case K_CAPS:
    snprintf(buf, n, "%s", (*(const uint64_t *)field & POLICY_CAP_NET_ADMIN) ? "[\"CAP_NET_ADMIN\"]" : "[]");
    break;
  }
}

/* ---- designs ---- */

/* The built-in designs are the YAML files of sim/scenario/designs/, embedded
 * into the program at build time (scenario.h). Each is read once, on first
 * use, by the loader that reads a user's scenario file, so a design is exactly
 * a scenario a user can copy and edit (`nicsim designs --show NAME`). nicsim
 * runs designs in one thread (review forks a process per design), so a plain
 * flag guards the cache; it is kept for the life of the process. */
struct design_entry {
  struct design d;
  struct config cfg;                   /* config_default + the file's keys */
  char summary[SCENARIO_SUMMARY_MAX];
  char **settings;                     /* "key=value", NULL-terminated: d.settings */
  char **faults;                       /* fault specs, NULL-terminated: d.faults */
  char error[600];                     /* why the file did not load, or "" */
};

static struct design_entry *design_cache;
static size_t design_cache_n;
static enum { DESIGNS_UNREAD = 0, DESIGNS_READING, DESIGNS_READ } design_state;
static const char *const no_settings[] = {NULL};

/* "key=value" strings of a loaded file, for struct design's settings. */
static char **settings_of(const struct scenario *s) {
  char **kv = calloc(s->nsettings + 1, sizeof *kv);
  for (size_t i = 0; kv && i < s->nsettings; i++) {
    size_t n = strlen(s->settings[i].key) + strlen(s->settings[i].value) + 2;
    kv[i] = malloc(n);
    if (!kv[i]) {
      for (size_t j = 0; j < i; j++)
        free(kv[j]);
      free(kv);
      return NULL;
    }
    snprintf(kv[i], n, "%s=%s", s->settings[i].key, s->settings[i].value);
  }
  return kv;
}

static void design_read(struct design_entry *e, const struct scenario_embedded *em) {
  char name[SCENARIO_DESIGN_MAX + 8];
  snprintf(name, sizeof name, "%s.yaml", em->name);
  struct scenario s;
  if (scenario_load_text(name, em->text, em->len, &s, e->error, sizeof e->error))
    return;
  /* The design's faults travel with it (the command line parses them). */
  e->faults = calloc(s.nfaults + 1, sizeof *e->faults);
  for (size_t i = 0; e->faults && i < s.nfaults; i++)
    if (!(e->faults[i] = strdup(s.faults[i])))
      e->faults = NULL; /* reported below; the strings are kept for the process's life */
  if (!e->faults || !(e->settings = settings_of(&s)))
    snprintf(e->error, sizeof e->error, "%s: out of memory", name);
  if (!e->error[0]) {
    e->cfg = s.cfg;
    snprintf(e->summary, sizeof e->summary, "%s", s.summary);
    e->d.settings = (const char *const *)e->settings;
    e->d.faults = (const char *const *)e->faults;
  }
  scenario_free(&s);
}

static void designs_read(void) {
  if (design_state != DESIGNS_UNREAD)
    return;
  design_state = DESIGNS_READING;
  size_t n = scenario_embedded_design_count;
  design_cache = calloc(n ? n : 1, sizeof *design_cache);
  if (design_cache) {
    for (size_t i = 0; i < n; i++) {
      struct design_entry *e = &design_cache[i];
      e->d.name = scenario_embedded_designs[i].name;
      e->d.summary = e->summary;
      e->d.settings = no_settings;
      e->d.faults = no_settings;
      e->d.yaml = scenario_embedded_designs[i].text;
      design_read(e, &scenario_embedded_designs[i]);
    }
    design_cache_n = n;
  }
  design_state = DESIGNS_READ;
}

size_t design_count(void) {
  designs_read();
  return design_cache_n;
}

const struct design *design_get(size_t i) {
  designs_read();
  return i < design_cache_n ? &design_cache[i].d : NULL;
}

const struct design *design_find(const char *name) {
  designs_read();
  for (size_t i = 0; i < design_cache_n; i++)
    if (strcmp(design_cache[i].d.name, name) == 0)
      return &design_cache[i].d;
  return NULL;
}

int config_from_design(struct config *c, const char *name, char *err, size_t errlen) {
  /* A design file naming a base design would be read while the cache is
   * being filled; designs stay self-contained, so each can be copied alone. */
  if (design_state == DESIGNS_READING) {
    snprintf(err, errlen, "a built-in design cannot start from another design ('%s'): write its keys out",
             name);
    return -1;
  }
  const struct design *d = design_find(name);
  if (!d) {
    char list[512] = "";
    for (size_t i = 0; i < design_cache_n; i++) {
      size_t l = strlen(list);
      snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", design_cache[i].d.name);
    }
    snprintf(err, errlen, "unknown design '%s' (built-in: %s)", name, list);
    return -1;
  }
  const struct design_entry *e = (const struct design_entry *)d; /* d is the entry's first member */
  if (e->error[0]) {
    snprintf(err, errlen, "built-in design '%s' does not load: %s", name, e->error);
    return -1;
  }
  *c = e->cfg;
  return 0;
}
