/*
 * dmabench.c: the DMA microbenchmark on the IOMMU and PCIe models (see
 * dmabench.h and docs/iommu.md).
 */
#include "dmabench.h"

#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cliopt.h"
#include "iommu.h"
#include "mem.h"
#include "num.h"
#include "pcie.h"
#include "prng.h"

#define BENCH_RID 0x0100 /* 01:00.0, the benchmarked device */
#define PAGE 4096u
#define SUPER_PAGES 512u

void dmabench_params_default(struct dmabench_params *p) {
  memset(p, 0, sizeof *p);
  p->window_bytes = 4ull << 20;
  p->size_bytes = 64;
  p->pattern = DMABENCH_RANDOM;
  p->op = DMABENCH_READ;
  p->iommu = DMABENCH_IOMMU_ON;
  p->count = 1000000;
  p->seed = 1;
  p->warmup = 4096;
  p->ram_bytes = 2ull << 30;
  p->iotlb_entries = 64; /* calibration.md: an inference from where throughput falls */
  p->iotlb_ways = 0;
  /* Fitted: with 4 walks of 226 ns in flight a 64 B random read stream with
   * every translation missing reaches 17.7 M/s, 9.1 Gb/s; pcie-bench
   * (NFP6000, Broadwell, IOMMU without superpages) levels off at 19.2 M/s,
   * 9.8 Gb/s over 64 MiB windows. */
  p->walkers = 4;
  p->tags = 0;
}

/* ---- names and parsing ---- */

const char *dmabench_pattern_name(enum dmabench_pattern v) { return v == DMABENCH_SEQ ? "seq" : "random"; }
const char *dmabench_op_name(enum dmabench_op v) { return v == DMABENCH_WRITE ? "write" : "read"; }
const char *dmabench_iommu_name(enum dmabench_iommu v) {
  return v == DMABENCH_IOMMU_OFF ? "off" : v == DMABENCH_IOMMU_SUPERPAGES ? "superpages" : "on";
}

int dmabench_parse_pattern(const char *s, enum dmabench_pattern *out) {
  if (!s)
    return -1;
  if (!strcmp(s, "random"))
    *out = DMABENCH_RANDOM;
  else if (!strcmp(s, "seq"))
    *out = DMABENCH_SEQ;
  else
    return -1;
  return 0;
}

int dmabench_parse_op(const char *s, enum dmabench_op *out) {
  if (!s)
    return -1;
  if (!strcmp(s, "read"))
    *out = DMABENCH_READ;
  else if (!strcmp(s, "write"))
    *out = DMABENCH_WRITE;
  else
    return -1;
  return 0;
}

int dmabench_parse_iommu(const char *s, enum dmabench_iommu *out) {
  if (!s)
    return -1;
  if (!strcmp(s, "off"))
    *out = DMABENCH_IOMMU_OFF;
  else if (!strcmp(s, "on"))
    *out = DMABENCH_IOMMU_ON;
  else if (!strcmp(s, "superpages"))
    *out = DMABENCH_IOMMU_SUPERPAGES;
  else
    return -1;
  return 0;
}

int dmabench_parse_bytes(const char *s, uint64_t *out) {
  size_t digits = s ? strspn(s, "0123456789") : 0;
  uint64_t v;
  if (num_u64_n(s, digits, &v))
    return -1;
  s += digits;
  unsigned shift = 0;
  if (*s == 'K' || *s == 'k')
    shift = 10;
  else if (*s == 'M' || *s == 'm')
    shift = 20;
  else if (*s == 'G' || *s == 'g')
    shift = 30;
  if (shift) {
    s++;
    if (!strcmp(s, "iB") || !strcmp(s, "B"))
      s += strlen(s);
  }
  if (*s)
    return -1;
  if (shift && v > (UINT64_MAX >> shift))
    return -1;
  *out = v << shift;
  return 0;
}

const char *dmabench_usage(void) {
  return "usage: nicsim dmabench [--window BYTES] [--size BYTES] [--pattern random|seq]\n"
         "                       [--op read|write] [--iommu off|on|superpages] [--count N]\n"
         "                       [--seed N] [--json FILE]\n"
         "\n"
         "Runs pcie-bench's DMA experiment on the models: a device reads or writes\n"
         "--size bytes at random or sequential offsets in a window of host memory,\n"
         "through the IOMMU (off, on with 4 KiB pages, on with 2 MiB superpages) and a\n"
         "PCIe Gen3 x8 link, and reports throughput, latency percentiles and IOTLB\n"
         "hits and misses (" NICSIM_DOCDIR "/iommu.md).\n"
         "\n"
         "  --window BYTES   window size, a multiple of 4096 (default 4M; K, M, G accepted)\n"
         "  --size BYTES     bytes per DMA (default 64)\n"
         "  --pattern P      random (default) or seq\n"
         "  --op OP          read (default) or write\n"
         "  --iommu MODE     off, on (default) or superpages\n"
         "  --count N        DMAs measured (default 1000000)\n"
         "  --seed N         seed of the random offsets (default 1)\n"
         "  --json FILE      write the result as JSON (- for standard output)\n"
         "  -h, --help       this text\n";
}

static int parse_opts(int argc, char **argv, const struct option *longs, struct dmabench_params *p,
                      const char **json_path, int *help, char *err, size_t errlen);

int dmabench_parse_args(int argc, char **argv, struct dmabench_params *p, const char **json_path,
                        int *help, char *err, size_t errlen) {
  dmabench_params_default(p);
  *json_path = NULL;
  *help = 0;
  static const struct option longs[] = {
      {"window", required_argument, NULL, 0}, {"size", required_argument, NULL, 1},
      {"pattern", required_argument, NULL, 2}, {"op", required_argument, NULL, 3},
      {"iommu", required_argument, NULL, 4},   {"count", required_argument, NULL, 5},
      {"seed", required_argument, NULL, 6},    {"json", required_argument, NULL, 7},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
  /* getopt_long skips argv[0]: the arguments follow the command's name. */
  char **av = calloc((size_t)argc + 2, sizeof *av);
  if (!av) {
    snprintf(err, errlen, "dmabench: out of memory");
    return -1;
  }
  av[0] = (char *)"dmabench";
  for (int i = 0; i < argc; i++)
    av[i + 1] = argv[i];
  int rc = parse_opts(argc + 1, av, longs, p, json_path, help, err, errlen);
  free(av);
  return rc;
}

static int parse_opts(int argc, char **argv, const struct option *longs, struct dmabench_params *p,
                      const char **json_path, int *help, char *err, size_t errlen) {
  int k;
  optind = 0;
  opterr = 0;
  while ((k = cliopt_next(argc, argv, ":h", longs)) != -1) {
    const char *v = optarg;
    const char *arg = argv[optind - 1];
    if (k == 'h') {
      *help = 1;
      return 0;
    }
    if (k == '?' || k == ':') {
      char shown[96];
      num_elide(arg, shown, sizeof shown);
      if (k == ':')
        snprintf(err, errlen, "dmabench: %s needs a value", shown);
      else
        snprintf(err, errlen, "dmabench: unknown argument '%s' (nicsim dmabench --help)", shown);
      return -1;
    }
    uint64_t u;
    switch (k) {
    case 0:
      if (dmabench_parse_bytes(v, &u)) {
        snprintf(err, errlen, "dmabench: --window '%s': expected a byte count (e.g. 65536, 64K, 16M)", v);
        return -1;
      }
      p->window_bytes = u;
      break;
    case 1:
      if (dmabench_parse_bytes(v, &u) || u > UINT32_MAX) {
        snprintf(err, errlen, "dmabench: --size '%s': expected a byte count (e.g. 64, 2K)", v);
        return -1;
      }
      p->size_bytes = (uint32_t)u;
      break;
    case 2: {
      enum dmabench_pattern e;
      if (dmabench_parse_pattern(v, &e)) {
        snprintf(err, errlen, "dmabench: --pattern '%s': expected random or seq", v);
        return -1;
      }
      p->pattern = (uint8_t)e;
      break;
    }
    case 3: {
      enum dmabench_op e;
      if (dmabench_parse_op(v, &e)) {
        snprintf(err, errlen, "dmabench: --op '%s': expected read or write", v);
        return -1;
      }
      p->op = (uint8_t)e;
      break;
    }
    case 4: {
      enum dmabench_iommu e;
      if (dmabench_parse_iommu(v, &e)) {
        snprintf(err, errlen, "dmabench: --iommu '%s': expected off, on or superpages", v);
        return -1;
      }
      p->iommu = (uint8_t)e;
      break;
    }
    case 5:
      if (num_u64(v, &u)) {
        snprintf(err, errlen, "dmabench: --count '%s': expected a whole number", v);
        return -1;
      }
      p->count = u;
      break;
    case 6:
      if (num_u64(v, &u)) {
        snprintf(err, errlen, "dmabench: --seed '%s': expected a whole number", v);
        return -1;
      }
      p->seed = u;
      break;
    default:
      if (!*v) {
        snprintf(err, errlen, "dmabench: --json needs a file name");
        return -1;
      }
      *json_path = v;
    }
  }
  return 0;
}

/* ---- the run ---- */


/* Uniform in [0, n), without modulo bias. */
static uint64_t rand_below(uint64_t *s, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = prng_splitmix64(s); /* the seed's stream of offsets */
  while (x >= limit);
  return x % n;
}

/* A binary min-heap of times: when each tag is free again. */
static void heap_down(uint64_t *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && h[l] < h[m])
      m = l;
    if (r < n && h[r] < h[m])
      m = r;
    if (m == i)
      return;
    uint64_t t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n], q in (0, 1]. */
static uint64_t percentile(const uint64_t *v, uint64_t n, double q) {
  uint64_t rank = (uint64_t)(q * (double)n);
  if ((double)rank < q * (double)n)
    rank++;
  if (rank == 0)
    rank = 1;
  return v[rank - 1];
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static int check_params(const struct dmabench_params *p, const struct pcie_params *pp, char *err,
                        size_t errlen) {
  if (p->size_bytes == 0) {
    snprintf(err, errlen, "dmabench: --size must be at least 1 byte");
    return -1;
  }
  if (p->window_bytes == 0 || p->window_bytes % PAGE) {
    snprintf(err, errlen, "dmabench: --window %" PRIu64 " is not a positive multiple of 4096 bytes",
             p->window_bytes);
    return -1;
  }
  if (p->size_bytes > p->window_bytes) {
    snprintf(err, errlen, "dmabench: --size %" PRIu32 " is larger than --window %" PRIu64,
             p->size_bytes, p->window_bytes);
    return -1;
  }
  if (p->count == 0 || p->count > DMABENCH_MAX_COUNT) {
    snprintf(err, errlen, "dmabench: --count %" PRIu64 " is outside 1..%llu", p->count,
             (unsigned long long)DMABENCH_MAX_COUNT);
    return -1;
  }
  if (p->pattern > DMABENCH_SEQ || p->op > DMABENCH_WRITE || p->iommu > DMABENCH_IOMMU_SUPERPAGES) {
    snprintf(err, errlen, "dmabench: unknown pattern, op or iommu setting");
    return -1;
  }
  if (p->iotlb_entries == 0 || p->walkers == 0 || p->walkers > 1024 || p->tags > 4096 ||
      (p->iotlb_ways && p->iotlb_entries % p->iotlb_ways) || p->warmup > DMABENCH_MAX_COUNT ||
      pcie_params_check(pp)) {
    snprintf(err, errlen, "dmabench: impossible IOTLB, walker, tag or warmup setting");
    return -1;
  }
  /* The window, 2 MiB of alignment slack, and its page tables (a leaf table
   * per 2 MiB, a few above) must fit beside page 0, which is never handed out. */
  uint64_t ram_pages = p->ram_bytes / PAGE;
  uint64_t win_pages = p->window_bytes / PAGE;
  uint64_t buf_pages = (win_pages + SUPER_PAGES - 1) / SUPER_PAGES * SUPER_PAGES;
  uint64_t need = buf_pages + (SUPER_PAGES - 1) + buf_pages / SUPER_PAGES + 16 + 1;
  if (p->ram_bytes == 0 || win_pages > ram_pages || need > ram_pages) {
    snprintf(err, errlen,
             "dmabench: --window %" PRIu64 " bytes does not fit in the simulated RAM of %" PRIu64
             " bytes (with its page tables)",
             p->window_bytes, p->ram_bytes);
    return -1;
  }
  return 0;
}

struct run {
  struct mem *m;
  struct iommu *io;
  uint64_t *lat;   /* measured latencies [ps] */
  uint64_t *tags;  /* heap of tag free times */
  uint64_t *walk_free;
};

static void run_free(struct run *r) {
  iommu_free(r->io);
  mem_free(r->m);
  free(r->lat);
  free(r->tags);
  free(r->walk_free);
}

int dmabench_run(const struct dmabench_params *p, struct dmabench_result *res, char *err, size_t errlen) {
  memset(res, 0, sizeof *res);
  struct pcie_params pp;
  pcie_params_default(&pp);
  if (!p || check_params(p, &pp, err, errlen))
    return -1;
  struct run R = {0};
  uint32_t ntags = p->tags ? p->tags : pp.read_tags;
  R.m = mem_new(p->ram_bytes);
  R.lat = malloc(p->count * sizeof *R.lat);
  R.tags = calloc(ntags, sizeof *R.tags);
  R.walk_free = calloc(p->walkers, sizeof *R.walk_free);
  if (!R.m || !R.lat || !R.tags || !R.walk_free) {
    run_free(&R);
    snprintf(err, errlen, "dmabench: out of memory");
    return -1;
  }

  /* The host buffer: the window rounded up to whole 2 MiB pages, physically
   * contiguous and 2 MiB-aligned (what superpages need; pcie-bench likewise
   * DMAs into a window at the start of a larger hugepage-backed buffer),
   * the alignment slack given back for the page tables. */
  uint64_t win_pages = p->window_bytes / PAGE;
  uint64_t buf_pages = (win_pages + SUPER_PAGES - 1) / SUPER_PAGES * SUPER_PAGES, first;
  if (mem_page_alloc_contig(R.m, buf_pages + SUPER_PAGES - 1, &first)) {
    run_free(&R);
    snprintf(err, errlen, "dmabench: --window %" PRIu64 " bytes does not fit in the simulated RAM",
             p->window_bytes);
    return -1;
  }
  uint64_t base_pfn = (first + SUPER_PAGES - 1) / SUPER_PAGES * SUPER_PAGES;
  for (uint64_t q = first; q < first + buf_pages + SUPER_PAGES - 1; q++)
    if (q < base_pfn || q >= base_pfn + buf_pages)
      mem_page_free(R.m, q);

  struct iommu_params ip;
  iommu_params_default(&ip);
  ip.mem = R.m;
  ip.mode = p->iommu == DMABENCH_IOMMU_OFF ? IOMMU_OFF : IOMMU_STRICT; /* nothing is unmapped */
  ip.superpages = p->iommu == DMABENCH_IOMMU_SUPERPAGES;
  ip.iotlb_entries = p->iotlb_entries;
  ip.iotlb_ways = p->iotlb_ways;
  R.io = iommu_new(&ip);
  uint64_t iova_base = 0;
  if (!R.io || buf_pages > UINT32_MAX ||
      iommu_map_contig(R.io, BENCH_RID, base_pfn, (uint32_t)buf_pages, IOMMU_PERM_READ | IOMMU_PERM_WRITE,
                       0, &iova_base) < 0) {
    run_free(&R);
    snprintf(err, errlen, "dmabench: cannot map the window (simulated or host memory ran out)");
    return -1;
  }
  const struct iommu_stats *st = iommu_stats(R.io);
  res->pt_pages = st->pt_pages;
  res->map_entries = st->superpage_maps ? st->superpage_maps : (p->iommu == DMABENCH_IOMMU_OFF ? 0 : buf_pages);

  int write = p->op == DMABENCH_WRITE;
  struct pcie_xfer x;
  if (write)
    pcie_write_xfer(&pp, p->size_bytes, &x);
  else
    pcie_read_xfer(&pp, p->size_bytes, &x);
  /* What the measured latency leaves after the link: root complex and memory. */
  uint64_t base = write ? 0 : pcie_read_latency_ps(&pp, p->size_bytes);
  uint64_t rc_ps = base > x.up_ps + x.down_ps ? base - x.up_ps - x.down_ps : 0;

  uint64_t nslots = p->window_bytes / p->size_bytes;
  uint64_t rng = p->seed;
  uint64_t up_free = 0, down_free = 0;
  uint64_t total = p->warmup + p->count;
  uint64_t first_issue = 0, last_done = 0, lat_sum = 0;
  uint64_t hits0 = 0, misses0 = 0, walks0 = 0;
  for (uint64_t i = 0; i < total; i++) {
    if (i == p->warmup) {
      hits0 = st->iotlb_hits;
      misses0 = st->iotlb_misses;
      walks0 = st->walk_reads;
    }
    uint64_t slot = p->pattern == DMABENCH_SEQ ? i % nslots : rand_below(&rng, nslots);
    uint64_t off = slot * p->size_bytes;
    /* Issue: a free tag, then the up link in order. */
    uint64_t t_issue = max64(R.tags[0], up_free);
    up_free = t_issue + x.up_ps;
    uint64_t t_arr = up_free;
    /* Translate every page the transaction touches. */
    uint64_t t_x = t_arr;
    for (uint64_t pg = off & ~(uint64_t)(PAGE - 1); pg < off + p->size_bytes; pg += PAGE) {
      struct iommu_xlate xl;
      uint64_t a = pg < off ? off : pg;
      if (iommu_translate2(R.io, BENCH_RID, iova_base + a, write, t_arr, &xl)) {
        run_free(&R);
        snprintf(err, errlen, "dmabench: the IOMMU refused IOVA 0x%" PRIx64 " (a model bug)", iova_base + a);
        return -1;
      }
      if (xl.hit || xl.levels == 0) {
        t_x = max64(t_x, t_arr + xl.latency_ps);
      } else {
        uint32_t w = 0;
        for (uint32_t k = 1; k < p->walkers; k++)
          if (R.walk_free[k] < R.walk_free[w])
            w = k;
        uint64_t done = max64(t_arr, R.walk_free[w]) + xl.latency_ps;
        R.walk_free[w] = done;
        t_x = max64(t_x, done);
      }
    }
    uint64_t done;
    if (write) {
      done = t_x; /* posted: committed once translated */
    } else {
      uint64_t start = max64(t_x + rc_ps, down_free);
      down_free = start + x.down_ps;
      done = down_free;
    }
    R.tags[0] = done;
    heap_down(R.tags, ntags, 0);
    if (i >= p->warmup) {
      uint64_t k = i - p->warmup;
      if (k == 0)
        first_issue = t_issue;
      R.lat[k] = done - t_issue;
      lat_sum += done - t_issue;
      last_done = max64(last_done, done);
    }
  }
  res->iotlb_hits = st->iotlb_hits - hits0;
  res->iotlb_misses = st->iotlb_misses - misses0;
  res->walk_reads = st->walk_reads - walks0;
  res->transactions = p->count;
  res->bytes = p->count * p->size_bytes;
  res->span_ps = last_done - first_issue;
  if (res->span_ps) {
    res->gbps = (double)res->bytes * 8.0 * 1000.0 / (double)res->span_ps;
    res->mtps = (double)res->transactions * 1e6 / (double)res->span_ps;
  }
  qsort(R.lat, p->count, sizeof *R.lat, cmp_u64);
  res->lat_ns_p50 = (double)percentile(R.lat, p->count, 0.50) / 1000.0;
  res->lat_ns_p95 = (double)percentile(R.lat, p->count, 0.95) / 1000.0;
  res->lat_ns_p99 = (double)percentile(R.lat, p->count, 0.99) / 1000.0;
  res->lat_ns_min = (double)R.lat[0] / 1000.0;
  res->lat_ns_max = (double)R.lat[p->count - 1] / 1000.0;
  res->lat_ns_mean = (double)lat_sum / (double)p->count / 1000.0;
  run_free(&R);
  return 0;
}

/* ---- output ---- */

static struct json_object *num(double v, const char *fmt) {
  char buf[64];
  snprintf(buf, sizeof buf, fmt, v);
  return json_object_new_double_s(v, buf);
}

struct json_object *dmabench_json(const struct dmabench_params *p, const struct dmabench_result *r) {
  struct json_object *o = json_object_new_object(), *lat = json_object_new_object();
  if (!o || !lat) {
    json_object_put(o);
    json_object_put(lat);
    return NULL;
  }
  json_object_object_add(o, "window_bytes", json_object_new_int64((int64_t)p->window_bytes));
  json_object_object_add(o, "size_bytes", json_object_new_int64((int64_t)p->size_bytes));
  json_object_object_add(o, "pattern", json_object_new_string(dmabench_pattern_name(p->pattern)));
  json_object_object_add(o, "op", json_object_new_string(dmabench_op_name(p->op)));
  json_object_object_add(o, "iommu", json_object_new_string(dmabench_iommu_name(p->iommu)));
  json_object_object_add(o, "gbps", num(r->gbps, "%.3f"));
  json_object_object_add(lat, "p50", num(r->lat_ns_p50, "%.1f"));
  json_object_object_add(lat, "p95", num(r->lat_ns_p95, "%.1f"));
  json_object_object_add(lat, "p99", num(r->lat_ns_p99, "%.1f"));
  json_object_object_add(o, "lat_ns", lat);
  json_object_object_add(o, "iotlb_hits", json_object_new_int64((int64_t)r->iotlb_hits));
  json_object_object_add(o, "iotlb_misses", json_object_new_int64((int64_t)r->iotlb_misses));
  return o;
}

char *dmabench_json_text(const struct dmabench_params *p, const struct dmabench_result *r) {
  struct json_object *o = dmabench_json(p, r);
  if (!o)
    return NULL;
  const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
  size_t n = s ? strlen(s) : 0;
  char *out = s ? malloc(n + 2) : NULL;
  if (out) {
    memcpy(out, s, n);
    out[n] = '\n';
    out[n + 1] = 0;
  }
  json_object_put(o);
  return out;
}

int dmabench_summary(const struct dmabench_params *p, const struct dmabench_result *r, char *buf,
                     size_t len) {
  return snprintf(buf, len,
                  "dmabench: %s %" PRIu32 " B %s over %" PRIu64 " B, iommu %s: %.2f Gb/s (%.2f M/s), "
                  "latency p50 %.1f ns p95 %.1f ns p99 %.1f ns, IOTLB %" PRIu64 " hits %" PRIu64 " misses",
                  dmabench_op_name(p->op), p->size_bytes, dmabench_pattern_name(p->pattern),
                  p->window_bytes, dmabench_iommu_name(p->iommu), r->gbps, r->mtps, r->lat_ns_p50,
                  r->lat_ns_p95, r->lat_ns_p99, r->iotlb_hits, r->iotlb_misses);
}
