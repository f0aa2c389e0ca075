/*
 * dmabench: the DMA microbenchmark pcie-bench runs on real hardware
 * (Neugebauer et al., SIGCOMM 2018: BW_DMA_RD/BW_DMA_WR window sweeps), run
 * on the models: a device issues DMA reads or writes of size_bytes at random
 * or sequential offsets over a window of host memory, through the IOMMU
 * (off; on with 4 KiB pages; on with 2 MiB superpages) and the PCIe link,
 * and the benchmark reports throughput, latency percentiles and IOTLB hits
 * and misses. `nicsim dmabench` is its command line.
 *
 * The machine: simulated RAM of ram_bytes; the window is physically
 * contiguous and 2 MiB-aligned, mapped for one requester id with one
 * iommu_map_contig (4 KiB entries, or 2 MiB entries with superpages); the
 * IOMMU's page tables live in the same RAM and every IOTLB miss walks them
 * through the memory accessor. Each transaction is timed (loosely timed,
 * one pass, no events):
 * - it needs a free tag (pcie.read_tags outstanding transactions; a write
 *   holds its slot until the root complex has translated it, as posted
 *   writes hold flow-control credits);
 * - its TLPs go up the link in order (pcie_write_xfer / pcie_read_xfer);
 * - the root complex translates every 4 KiB page it touches: an IOTLB hit
 *   costs hit_ps, a miss one of `walkers` page walkers for the walk's
 *   latency (walk_levels x walk_level_ps), queueing when all are busy;
 * - a read then takes the rest of pcie_read_latency_ps (root complex and
 *   memory) and its completions come down the link in order;
 * - latency: from issue to the last completion (reads) or to the write's
 *   translation at the root complex (writes, posted).
 * Throughput: payload bits over the span from the first measured issue to
 * the last measured completion. A warmup of transactions runs first (warm
 * IOTLB, as pcie-bench's warm runs) and is not counted. The data itself is
 * not moved: this measures timing only, so host memory stays bounded by the
 * page tables.
 *
 * Deterministic for a seed. No I/O, no exit.
 */
#ifndef NICSIM_DMABENCH_H
#define NICSIM_DMABENCH_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

enum dmabench_pattern { DMABENCH_RANDOM = 0, DMABENCH_SEQ = 1 };
enum dmabench_op { DMABENCH_READ = 0, DMABENCH_WRITE = 1 };
enum dmabench_iommu { DMABENCH_IOMMU_OFF = 0, DMABENCH_IOMMU_ON = 1, DMABENCH_IOMMU_SUPERPAGES = 2 };

#define DMABENCH_MAX_COUNT (1ull << 24) /* transactions measured per run */

struct dmabench_params {
  uint64_t window_bytes; /* multiple of 4 KiB (--window) */
  uint32_t size_bytes;   /* per transaction, 1..window (--size) */
  uint8_t pattern;       /* enum dmabench_pattern (--pattern) */
  uint8_t op;            /* enum dmabench_op (--op) */
  uint8_t iommu;         /* enum dmabench_iommu (--iommu) */
  uint64_t count;        /* transactions measured, 1..DMABENCH_MAX_COUNT (--count) */
  uint64_t seed;         /* random offsets */
  /* The machine (defaults from calibration.md, see dmabench_params_default): */
  uint64_t warmup;        /* transactions run before measuring */
  uint64_t ram_bytes;     /* simulated RAM */
  uint32_t iotlb_entries; /* 64 */
  uint32_t iotlb_ways;    /* 0: fully associative */
  uint32_t walkers;       /* concurrent page walks in the IOMMU */
  uint32_t tags;          /* outstanding transactions; 0: the PCIe default (32) */
};

/* window 4 MiB, 64 B random reads, IOMMU on, 1,000,000 transactions, seed
 * 1; warmup 4,096; 2 GiB of RAM; 64-entry fully associative IOTLB; 4
 * walkers; 32 tags. */
void dmabench_params_default(struct dmabench_params *p);

struct dmabench_result {
  double gbps;         /* payload throughput [Gb/s] */
  double mtps;         /* transactions per microsecond (millions per second) */
  double lat_ns_p50, lat_ns_p95, lat_ns_p99; /* nearest-rank percentiles */
  double lat_ns_mean;
  double lat_ns_min, lat_ns_max;
  uint64_t iotlb_hits, iotlb_misses; /* measured transactions only */
  uint64_t transactions, bytes;
  uint64_t span_ps;
  uint64_t walk_reads;      /* page-table entries read by the IOMMU (measured) */
  uint64_t pt_pages;        /* page-table pages the mapping took */
  uint64_t map_entries;     /* 2 MiB entries (superpages) or 4 KiB pages mapped */
};

/* Run the benchmark. 0, or -1 with a one-line message in err for
 * impossible parameters (size 0 or larger than the window, a window that is
 * not a multiple of 4 KiB or does not fit in the RAM, count 0 or too
 * large...) or when host memory runs out. */
int dmabench_run(const struct dmabench_params *p, struct dmabench_result *r, char *err, size_t errlen);

/* The contract's JSON object: {"window_bytes", "size_bytes", "pattern",
 * "op", "iommu", "gbps", "lat_ns": {"p50", "p95", "p99"}, "iotlb_hits",
 * "iotlb_misses"}, exactly these keys. The caller owns it (json_object_put).
 * NULL when host memory runs out. */
struct json_object *dmabench_json(const struct dmabench_params *p, const struct dmabench_result *r);
/* The same as pretty-printed text ending in a newline, malloc'd (free it);
 * NULL when host memory runs out. */
char *dmabench_json_text(const struct dmabench_params *p, const struct dmabench_result *r);
/* One human-readable line (no newline) into buf; returns snprintf's count. */
int dmabench_summary(const struct dmabench_params *p, const struct dmabench_result *r, char *buf,
                     size_t len);

const char *dmabench_pattern_name(enum dmabench_pattern v);
const char *dmabench_op_name(enum dmabench_op v);
const char *dmabench_iommu_name(enum dmabench_iommu v);
/* Parse "random"/"seq", "read"/"write", "off"/"on"/"superpages": 0 or -1. */
int dmabench_parse_pattern(const char *s, enum dmabench_pattern *out);
int dmabench_parse_op(const char *s, enum dmabench_op *out);
int dmabench_parse_iommu(const char *s, enum dmabench_iommu *out);
/* Parse a byte count: digits with an optional K, M or G suffix (KiB, MiB,
 * GiB; "KiB" etc. also accepted). 0 or -1 (garbage, overflow). */
int dmabench_parse_bytes(const char *s, uint64_t *out);

/* The command line `nicsim dmabench [--window BYTES] [--size BYTES]
 * [--pattern random|seq] [--op read|write] [--iommu off|on|superpages]
 * [--count N] [--seed N] [--json FILE]` (argv[0] is the first option; "--opt
 * VALUE" and "--opt=VALUE" both work). Fills *p (from the defaults),
 * *json_path (NULL when absent; "-" means standard output) and *help (1 for
 * --help or -h: print dmabench_usage() and exit 0). 0, or -1 with a
 * one-line message naming the option in err. Values are checked again by
 * dmabench_run. */
int dmabench_parse_args(int argc, char **argv, struct dmabench_params *p, const char **json_path,
                        int *help, char *err, size_t errlen);
/* The --help text (ends in a newline). */
const char *dmabench_usage(void);

#endif
