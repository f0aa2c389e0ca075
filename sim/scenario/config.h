/*
 * config: the resolved scenario (every key of contract.md and the keys nicsim
 * adds), the key table behind --set, and the built-in designs.
 *
 * Every key is parsed from text by one table, so --set, scenario files and the
 * JSON report agree on names, types and allowed values. Errors fill a buffer
 * with one line that names the key, the value and what is allowed.
 */
#ifndef NICSIM_CONFIG_H
#define NICSIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum cfg_clear { CFG_CLEAR_NEVER = 0, CFG_CLEAR_ON_ENTRY, CFG_CLEAR_ON_RECYCLE };
enum cfg_skb_mode { CFG_SKB_WRITABLE = 0, CFG_SKB_READONLY };
enum cfg_dma_mapping { CFG_DMA_POOL = 0, CFG_DMA_PER_PACKET };
enum cfg_map { CFG_MAP_RO = 0, CFG_MAP_RW };
enum cfg_lifetime { CFG_LIFETIME_PERSISTENT = 0, CFG_LIFETIME_PER_PACKET };
enum cfg_delivery { CFG_DELIVERY_COPY = 0, CFG_DELIVERY_ZERO_COPY, CFG_DELIVERY_AF_XDP, CFG_DELIVERY_ZCRX };
enum cfg_recycle { CFG_RECYCLE_POOL = 0, CFG_RECYCLE_FREE };
enum cfg_tx_mode { CFG_TX_NONE = 0, CFG_TX_COPY, CFG_TX_ZEROCOPY, CFG_TX_AF_XDP, CFG_TX_PAGE_POOL };

#define CFG_MAX_QUEUES 64
#define CFG_OWNS_MAX 512
#define CFG_XDP_RULES_MAX 4096 /* bytes of xdp.rules, the rules joined by "; " */

/* The userspace principals every scenario has, in policy order (the names
 * xdp.rules redirects to), NULL-terminated: `app` (id 0) and `other` (id 1).
 * The principals a scenario lists under `principals:` follow, ids 2.. */
extern const char *const config_principals[];

#define CFG_MAX_PRINCIPALS 16   /* entries of `principals:` (app and other come on top) */
#define CFG_PRINCIPAL_NAME_MAX 32 /* characters of a principal's name */

/* One entry of `principals:` (contract.md, "Principals"): a tenant of the
 * host with its own traffic, capabilities and way of receiving it. */
struct cfg_principal {
  char name[CFG_PRINCIPAL_NAME_MAX + 1]; /* [A-Za-z0-9_-], 1..32; not app, other, kernel, stale or wire */
  char owns[CFG_OWNS_MAX];    /* BPF expression of its traffic ("" : nothing) */
  uint64_t caps;              /* POLICY_CAP_* bits */
  uint8_t delivery;           /* CFG_DELIVERY_COPY or CFG_DELIVERY_ZERO_COPY */
  int32_t queue;              /* ntuple rule: its flows to this queue, taken out of RSS; -1 none */
  uint64_t zc_queues;         /* zero_copy: bit per queue whose pool is mapped into it */
  int zc_queues_set;          /* 0: the default (its queue, or every queue without one) */
  uint8_t mapping;            /* enum cfg_map */
  uint8_t mapping_lifetime;   /* enum cfg_lifetime */
};

struct config {
  /* nic */
  uint32_t nic_queues;        /* 1..64 */
  double nic_line_rate_gbps;  /* (0, 1000] */
  uint64_t nic_rss_queues;    /* bit per queue in the RSS indirection table */
  int nic_header_split;
  uint32_t nic_ring_size;     /* descriptors per RX ring, power of two */
  uint32_t nic_buffer_size;   /* bytes per RX buffer */
  int32_t nic_steer_app_to;   /* ntuple rule: app's flow to this queue; -1 none */
  uint32_t nic_mtu;           /* bytes of L3 payload; longer frames are dropped */
  int nic_multi_buffer;       /* chain frames longer than one buffer */
  uint32_t nic_hdr_buffer_size; /* bytes per header buffer (header split) */
  uint32_t nic_rx_buffer_kb;  /* on-NIC packet buffer */
  double nic_itr_us;          /* minimum interval between interrupts of a queue */
  uint32_t nic_desc_fetch_batch; /* descriptors fetched per DMA read */
  uint32_t nic_wb_threshold;  /* descriptors written back together */
  double nic_pcie_gbps;       /* raw PCIe link rate */
  /* iommu */
  uint8_t iommu_mode;         /* enum iommu_mode */
  uint32_t iommu_iotlb_entries;
  /* pool */
  uint32_t pool_pages;        /* most pages per pool; 0: no cap (Linux's page_pool has none) */
  uint32_t pool_cache_size;   /* alloc cache per pool (PP_ALLOC_CACHE_SIZE) */
  uint32_t pool_ring_size;    /* recycle ring per pool (ptr_ring) */
  uint8_t pool_clear;         /* enum cfg_clear */
  int pool_frag;
  /* driver */
  uint8_t driver_skb_mode;    /* enum cfg_skb_mode */
  uint8_t driver_dma_mapping; /* enum cfg_dma_mapping */
  uint32_t driver_napi_budget; /* frames per NAPI poll */
  double driver_recv_delay_us; /* validation to the recipient's recvmsg */
  uint32_t sock_rcvbuf_bytes;  /* each socket's receive buffer (sk_rcvbuf); a socket per flow */
  uint8_t driver_page_recycle; /* enum cfg_recycle */
  /* app */
  char app_owns[CFG_OWNS_MAX]; /* BPF expression; "" = the flow with most bytes */
  uint64_t app_caps;          /* POLICY_CAP_* bits */
  uint8_t app_mapping;        /* enum cfg_map */
  uint8_t app_mapping_lifetime; /* enum cfg_lifetime */
  double app_hold_us;         /* >= 0 */
  uint8_t app_delivery;       /* enum cfg_delivery */
  uint64_t app_zc_queues;     /* bit per queue whose pool the app gets zero-copy */
  int app_hostile_write;      /* writes into every packet the stack validated */
  int app_hostile_read;       /* reads every byte of every page mapped into it */
  uint32_t app_umem_chunk;    /* af_xdp/zcrx: bytes per chunk of the region (2048, 4096) */
  uint32_t app_umem_pages;    /* af_xdp/zcrx: pages of the region; 0: the ring + 50% */
  /* xdp */
  char xdp_rules[CFG_XDP_RULES_MAX]; /* the XDP program's rules (xdp.h), joined by "; "; "" = the default program */
  /* cpu */
  double cpu_ghz;             /* (0, 10] */
  uint32_t cpu_cores;         /* cores the queues' NAPI polls are spread over */
  /* host and trace */
  uint32_t host_ram_mb;       /* simulated RAM in MiB */
  uint32_t trace_max_flows;   /* flows the flow table keeps (Space-Saving eviction beyond) */
  /* transmit */
  char traffic_tx[CFG_OWNS_MAX]; /* BPF filter of the frames the host sends; "" = none (or, with
                                    tx.mode set, the application's flows) */
  uint8_t tx_mode;            /* enum cfg_tx_mode */
  int tx_wait_completion;     /* buffers let go only after their completion */
  int tx_protect_inflight;    /* zerocopy, af_xdp: sender's pages read-only while in flight */
  int tx_head_writeback;      /* TX completions by head write-back */
  uint32_t tx_buffers;        /* send buffers per principal */
  /* principals: beyond app and other */
  uint32_t nprincipals;       /* entries of principals[] in use */
  struct cfg_principal principals[CFG_MAX_PRINCIPALS];
};

/* Pages of simulated RAM kept back from the pools' bound for descriptor
 * rings, socket buffers, header buffers, IOMMU page tables and the kernel's
 * own allocations (config_validate). */
#define CFG_RAM_RESERVE_PAGES 4096u

/* The defaults of calibration.md and Linux's own where it has them. */
void config_default(struct config *c);

/* Set one key from its text value (as --set KEY=VALUE or a scenario gives
 * it). 0, or -1 with err filled ("KEY: VALUE: allowed ..."). */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* Checks across keys (queue lists within nic.queues, buffer fits the page...).
 * 0, or -1 with err filled. */
int config_validate(const struct config *c, char *err, size_t errlen);

/* `principals:` keys are "principals.N.FIELD" (N from 0, in list order;
 * naming N == the current count appends an entry), and "principals" with
 * the value [] empties the list. config_principal_field tells the fields:
 * -1 unknown, 0 a single value, 1 a list. */
int config_principal_field(const char *field);
/* The queues a principal's pools are mapped from (zc_queues resolved
 * against its queue and nic.queues); 0 for a copy principal. */
uint64_t config_principal_zc_queues(const struct config *c, const struct cfg_principal *p);
/* The RSS table's queues once every steered principal's queue is taken out. */
uint64_t config_rss_queues(const struct config *c);

/* Key names in table order, for the JSON report and --help. */
size_t config_key_count(void);
const char *config_key_name(size_t i);
const char *config_key_help(size_t i);

/* The character that separates the items of list key `key` in its text
 * form: ';' for xdp.rules (whose items may hold ',', '[' and ']'), ',' for
 * the other lists. */
char config_list_separator(const char *key);
/* Check item number index (from 0) of list key `key` alone, as config_set
 * would: the same message, for a scenario file to point at the item. 0 or -1. */
int config_list_item_check(const char *key, size_t index, const char *item, char *err, size_t errlen);

/* The value of key i as JSON text ("true", "12", "\"lazy\"", "[0,1]"). */
void config_key_json(const struct config *c, size_t i, char *buf, size_t n);

/* ---- built-in designs ---- */

/* Each design is a YAML scenario file of sim/scenario/designs/, embedded in
 * the program at build time and read on first use (scenario.h). */
struct design {
  const char *name;            /* the file's base name */
  const char *summary;         /* its `summary:` */
  const char *const *settings; /* "key=value" strings, NULL-terminated, in file order */
  const char *yaml;            /* the file's text, as shipped (nicsim designs --show) */
  const char *const *faults;   /* its `faults:` specs, NULL-terminated (injected with the design) */
};

size_t design_count(void);
const struct design *design_get(size_t i);
const struct design *design_find(const char *name);

/* config_default + the design's settings (the cached result of reading its
 * file). 0, or -1 with err filled. */
int config_from_design(struct config *c, const char *name, char *err, size_t errlen);

#endif
