/*
 * main.c: the nicsim command line (contract.md). Turns every error into one
 * line on standard error and exit status 2; library code never exits.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "campaign.h"
#include "cliopt.h"
#include "config.h"
#include "cpu.h"
#include "cpus.h"
#include "dmabench.h"
#include "fault.h"
#include "iommu.h"
#include "gen.h"
#include "html.h"
#include "num.h"
#include "observed.h"
#include "outfile.h"
#include "procpool.h"
#include "progress.h"
#include "report.h"
#include "scenario.h"
#include "system.h"

#define EXIT_USAGE 2

static int quiet;

static int fail(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "nicsim: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return EXIT_USAGE;
}

/* ---- option parsing helpers ---- */

/* An option value in an error line: long values elided, so the reason
 * that follows is never cut off. */
static const char *shown(const char *v, char *buf, size_t n) { return num_elide(v, buf, n); }
#define SHOWN(v) shown((v), (char[96]){0}, 96)

static int parse_u64_arg(const char *s, uint64_t *out) { return num_u64(s, out); }

static int parse_double_arg(const char *s, double *out) { return num_double(s, out); }

/* --limit N of replay and review: a number of frames, 1 or more. */
static int limit_arg(const char *v, uint64_t *frames) {
  if (parse_u64_arg(v, frames) || *frames == 0)
    return fail("--limit '%s': expected a number of frames, 1 or more%s", SHOWN(v), "");
  return 0;
}

/* --read-ahead of replay, or NICSIM_READ_AHEAD (what): on, off or auto,
 * as TRACE_READ_AHEAD_*. */
static int read_ahead_arg(const char *what, const char *v, int *mode) {
  if (strcmp(v, "on") == 0)
    *mode = TRACE_READ_AHEAD_ON;
  else if (strcmp(v, "off") == 0)
    *mode = TRACE_READ_AHEAD_OFF;
  else if (strcmp(v, "auto") == 0)
    *mode = TRACE_READ_AHEAD_AUTO;
  else
    return fail("%s '%s': expected on, off or auto", what, SHOWN(v));
  return 0;
}

/* Whether runs made `jobs` at a time read their trace ahead when no
 * option says: as NICSIM_READ_AHEAD says, off when it is not set (measured
 * not to pay: docs/performance.md). auto for one run: a CPU free
 * (cpus_spare); for runs in parallel: each run and its reader can have a
 * CPU of their own (2 x jobs <= the usable CPUs). */
static int read_ahead_default(uint64_t jobs, int *mode) {
  const char *env = getenv("NICSIM_READ_AHEAD");
  *mode = TRACE_READ_AHEAD_OFF;
  if (env && read_ahead_arg("NICSIM_READ_AHEAD", env, mode))
    return EXIT_USAGE;
  if (*mode == TRACE_READ_AHEAD_AUTO && jobs > 1)
    *mode = 2 * jobs <= cpus_usable() ? TRACE_READ_AHEAD_ON : TRACE_READ_AHEAD_OFF;
  return 0;
}

/* The one trace operand of replay and review (argv[first..argc)), or a
 * usage error. */
static int one_trace(const char *cmd, int first, int argc, char **argv, const char **trace) {
  char msg[128];
  for (int i = first; i < argc; i++) {
    if (*trace) {
      snprintf(msg, sizeof msg, "%s: more than one trace given ('%%s' and '%%s')", cmd);
      return fail(msg, SHOWN(*trace), SHOWN(argv[i]));
    }
    *trace = argv[i];
  }
  if (!*trace) {
    snprintf(msg, sizeof msg, "%s: no trace given (nicsim %s --help)%%s%%s", cmd, cmd);
    return fail(msg, "", "");
  }
  return 0;
}

/* Standard output: every write checked once, at the end. */
static int stdout_done(void) {
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int e = errno;
    fprintf(stderr, "nicsim: standard output: cannot write%s%s\n", e ? ": " : "", e ? strerror(e) : "");
    return EXIT_USAGE;
  }
  return 0;
}

/* ---- help ---- */

static void usage_main(FILE *f) {
  fprintf(f,
          "usage: nicsim COMMAND [OPTIONS]\n"
          "\n"
          "A full-system simulator of a NIC with DMA and an IOMMU: replays packet\n"
          "traces through a modelled NIC, IOMMU, page pool, driver and userspace, and\n"
          "decides from labelled memory whether a zero-copy memory design leaks.\n"
          "\n"
          "commands:\n"
          "  replay TRACE    run one design on a trace; exit 0 safe, 1 violations, 2 error\n"
          "  review TRACE    run every design on a trace and print a table (--html: a page)\n"
          CAMPAIGN_USAGE_LINE
          MERGE_USAGE_LINE
          "  gen -o FILE     write a multi-flow trace with per-flow payload markers\n"
          "  designs         list the built-in designs (--show NAME prints one as YAML)\n"
          "  costs           print the CPU cost model (cycles of each host operation)\n"
          "  dmabench        measure DMA throughput and latency through the IOMMU model\n"
          "  help [COMMAND]  this text, or the options of one command\n"
          "  version         the version (also -V, --version)\n"
          "\n"
          "  nicsim COMMAND --help    options of one command (or: nicsim help COMMAND)\n"
          "  nicsim -V, --version     print the version\n"
          "\n"
          "Documentation: " NICSIM_DOCDIR "/user-guide.md (installed by cmake --install;\n"
          "docs/ in the source tree) and the manual page nicsim(1).\n");
}

static void usage_replay(FILE *f) {
  fprintf(f,
          "usage: nicsim replay TRACE [--design NAME | --scenario FILE] [--set KEY=VALUE ...]\n"
          "                     [--seed N] [--json FILE] [--fault SPEC ...] [--observed DIR]\n"
          "                     [--vcd FILE] [--speed recorded|line|xN] [--limit N]\n"
          "                     [--skip-unsupported] [--read-ahead on|off|auto] [--quiet]\n"
          "\n"
          "Replays TRACE (pcap, nanosecond pcap or pcapng; - for standard input) through\n"
          "the simulated machine configured by a design (default: copy) or a scenario\n"
          "file, and --set keys.\n"
          "Exit status: 0 no violation, 1 at least one violation, 2 unusable input.\n"
          "\n"
          "  --design NAME      a built-in design (nicsim designs lists them)\n"
          "  --scenario FILE    a scenario file (YAML: the keys below, nested or dotted,\n"
          "                     and design:, summary:, faults:); not with --design\n"
          "  --set KEY=VALUE    override one scenario key, after the design or the\n"
          "                     scenario file, in order\n"
          "  --seed N           seed of the run (default 1)\n"
          "  --json FILE        write the JSON report (- for standard output)\n"
          "  --fault SPEC       inject a fault: NAME[:KEY=VALUE,...], repeatable (see below)\n"
          "  --observed DIR     write DIR/PRINCIPAL.pcap: what each principal could observe\n"
          "                     that it is not entitled to, one record per exposure (and\n"
          "                     DIR/app.read.pcap: what app.hostile_read read)\n"
          "  --vcd FILE         write a VCD waveform (ring fill, heads and tails, packet\n"
          "                     buffer, IOTLB hits and misses, free pool pages, violations)\n"
          "  --speed MODE       recorded (trace timestamps, default), line (back to back\n"
          "                     at line rate), or xN (recorded gaps divided by N, 0.001..1e9)\n"
          "  --limit N          replay only the first N frames of the trace (as tcpdump -c)\n"
          "  --skip-unsupported\n"
          "                     skip records with no Ethernet form (802.11, CAN...) instead of\n"
          "                     refusing the trace; they are counted in the report\n"
          "  --read-ahead MODE  read the trace on a second thread, ahead of the simulation:\n"
          "                     on, off (default; NICSIM_READ_AHEAD=MODE sets another), or\n"
          "                     auto (on when the process may run on 2 CPUs or more and\n"
          "                     the load average leaves one idle); the report is the same\n"
          "                     either way\n"
          "  -q, --quiet        print nothing but errors (no summary, no progress line)\n"
          "  -h, --help         this text\n"
          "\n"
          "On a terminal, a progress line on standard error shows frames replayed, rate,\n"
          "elapsed time and ETA.\n"
          "\n"
          "The first pass over the trace notes each frame's flow for the replay when the\n"
          "trace has many flows: 4 bytes a frame in an unnamed file in $TMPDIR (/tmp), none\n"
          "left behind; NICSIM_FLOW_SPILL=0 turns that off (1: on, the default). The report\n"
          "is the same either way.\n"
          "\n"
          "xdp.rules: rules 'ACTION [PRINCIPAL] [MATCH]', separated by ';' in --set, e.g.\n"
          "  --set 'xdp.rules=[drop udp port 53; redirect app tuple proto=udp,dport=4000; pass]'\n"
          "  ACTION pass, drop, redirect (PRINCIPAL app, other or a name from principals:);\n"
          "  MATCH nothing (every frame), a BPF filter, or tuple FIELD=VALUE,... (proto, src, dst,\n"
          "  host, sport, dport, port, owner)\n"
          "\n"
          "scenario keys:\n");
  for (size_t i = 0; i < config_key_count(); i++)
    fprintf(f, "  %-22s %s\n", config_key_name(i), config_key_help(i));
  fprintf(f,
          "\nprincipals (a scenario's `principals:` list; with --set, principals.N.FIELD, N from 0,\n"
          "'principals=[]' removes them): up to 16 beyond app and other, each with name\n"
          "([A-Za-z0-9_-], 1..32), owns (BPF), caps, delivery (copy, zero_copy), queue (an ntuple\n"
          "rule to it, out of RSS), zc_queues, mapping (ro, rw), mapping_lifetime (persistent,\n"
          "per_packet); a flow belongs to the first whose filter matches, app first\n");
  fprintf(f,
          "\nfaults (--fault NAME[:KEY=VALUE,...]; when: packet=N (frame N, from 0), at_us=T,\n"
          "prob=P (each frame, drawn from --seed); none: once at the first frame):\n"
          "  random_dma          the device writes len=64 bytes to a random IOVA\n"
          "  malicious_dma       the device writes past its buffer to the end of the mapped page, and again\n"
          "                      over the end of the page it overflowed before (still mapped with page_pool)\n"
          "  bad_descriptor      field=addr (default) or len: a descriptor's address or length is corrupted\n"
          "  late_dma            the device writes a buffer again delay_us=50 after it completed\n"
          "  iommu_passthrough   the IOMMU stops translating\n"
          "  iommu_off           the IOMMU stops translating and checking\n"
          "  frame_drop          the frame is lost on the wire\n"
          "  frame_bitflip       one bit (bit=N, or drawn from the seed) of the frame flips\n"
          "  user_write          principal=app (or other, or a principal's name) writes len=64 bytes into\n"
          "                      the next packet the stack validated (a sender: over its next frame in\n"
          "                      flight, after the kernel's checks)\n"
          "  user_hoard          principal=app (or other, or a principal's name) stops returning zero-copy pages\n"
          "  tx_overread         the device reads past a sent frame's last buffer to the end of its page\n"
          "  tx_completion_lost  the device never reports a sent frame's completion\n"
          "  tx_completion_early the device reports a sent frame's completion before reading its buffers\n"
          "  tx_late_read        the device reads a sent frame's buffers again delay_us=50 later, and sends them\n");
}

static void usage_review(FILE *f) {
  fprintf(f,
          "usage: nicsim review TRACE [--designs NAME,NAME,...|all] [-j N] [--json FILE]\n"
          "                     [--markdown FILE] [--html FILE] [--set KEY=VALUE ...] [--seed N]\n"
          "                     [--limit N] [--skip-unsupported] [--quiet]\n"
          "\n"
          "Runs every design (or those named) on TRACE, each in its own process, N at a\n"
          "time (default: the CPUs it may run on), and prints a table: verdict, count per\n"
          "safety property, CPU cycles per packet, delivered Gb/s, drops.\n"
          "Exit status: 0 when every run completed, 2 otherwise.\n"
          "\n"
          "  --designs LIST, --design LIST\n"
          "                     comma-separated design names, or all (default)\n"
          "  -j N, --jobs N     parallel runs; with NICSIM_READ_AHEAD=auto each reads its\n"
          "                     trace ahead (replay --read-ahead) only when 2 x N <= the\n"
          "                     CPUs it may use\n"
          "  --json FILE        write the table as JSON, with the run's settings (meta);\n"
          "                     - for standard output\n"
          "  --markdown FILE    write the table as Markdown, with the run's settings;\n"
          "                     - for standard output\n"
          "  --html FILE        write a self-contained page to share: the settings, a chart\n"
          "                     of cost against violations per design, the table, and per\n"
          "                     design its summary, first violations and settings\n"
          "  --set KEY=VALUE    applied to every design, after its own settings\n"
          "  --seed N           seed of every run (default 1)\n"
          "  --limit N          every run replays only the first N frames of the trace\n"
          "                     (as tcpdump -c)\n"
          "  --skip-unsupported\n"
          "                     skip records with no Ethernet form instead of refusing the trace\n"
          "  -q, --quiet        print nothing but errors (no table, no progress line)\n"
          "  -h, --help         this text\n"
          "\n"
          "On a terminal, a progress line on standard error shows runs done, rate,\n"
          "elapsed time and ETA.\n");
}

static void usage_gen(FILE *f) {
  fprintf(f,
          "usage: nicsim gen -o FILE [--flows N] [--packets N] [--size BYTES|imix]\n"
          "                  [--rate-gbps R] [--seed N] [--ipv6-share F]\n"
          "\n"
          "Writes a nanosecond pcap of UDP flows; each flow's payload carries a readable\n"
          "marker (\"<flow 0003 pkt 0000000012>\") so leaked bytes show whose they are.\n"
          "Flow i gets a share of packets proportional to 1/(i+1): flow 0 has the most.\n"
          "\n"
          "  -o, --output FILE  output (- for standard output)\n"
          "  --flows N          number of flows (default 8)\n"
          "  --packets N        number of frames, 1..100000000 (default 1000)\n"
          "  --size BYTES       frame size 60..9000 (default 512), or imix (60/590/1514, 7:4:1)\n"
          "  --rate-gbps R      offered rate, with preamble and gap (default 10)\n"
          "  --seed N           seed (default 1)\n"
          "  --ipv6-share F     share of flows that are IPv6, 0..1 (default 0)\n"
          "  -h, --help         this text\n");
}

/* ---- replay ---- */

struct replay_cli {
  struct replay_opts o;
  const char *json;
  const char *design;
  const char *scenario; /* --scenario FILE */
};

static int apply_set(struct config *c, const char *kv) {
  char key[128];
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
    return fail("--set '%s': expected KEY=VALUE%s", kv, "");
  memcpy(key, kv, (size_t)(eq - kv));
  key[eq - kv] = '\0';
  char err[600];
  if (config_set(c, key, eq + 1, err, sizeof err))
    return fail("--set: %s%s", err, "");
  return 0;
}

#define SPEED_FACTOR_MIN 0.001
#define SPEED_FACTOR_MAX 1e9

static int parse_speed(const char *v, struct replay_opts *o) {
  if (strcmp(v, "recorded") == 0) {
    o->speed = SPEED_RECORDED;
    return 0;
  }
  if (strcmp(v, "line") == 0) {
    o->speed = SPEED_LINE;
    return 0;
  }
  double f;
  if (v[0] == 'x' && parse_double_arg(v + 1, &f) == 0) {
    /* Gaps divided by N: below 0.001 a trace of hours passes the end of simulated
     * time, above 10^9 every gap is below a picosecond. */
    if (f >= SPEED_FACTOR_MIN && f <= SPEED_FACTOR_MAX) {
      o->speed = SPEED_SCALED;
      o->speed_factor = f;
      return 0;
    }
    return fail("--speed '%s': the factor N of xN must be 0.001..1000000000%s", SHOWN(v), "");
  }
  return fail("--speed '%s': expected recorded, line or xN with N in 0.001..1000000000%s", SHOWN(v), "");
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
  stop_signal = sig;
  system_request_stop();
}

#define MAX_FAULTS 32
#define MAX_FAULTS_TEXT "32"

/* A built-in design's faults, ahead of those of --fault. */
static int design_faults(const char *name, struct fault *faults, unsigned *nfaults) {
  const struct design *d = design_find(name);
  size_t n = 0;
  while (d && d->faults && d->faults[n])
    n++;
  if (!n)
    return 0;
  if (n > MAX_FAULTS - *nfaults)
    return fail("design %s: at most %s faults in one run (with --fault)", name, MAX_FAULTS_TEXT);
  memmove(faults + n, faults, *nfaults * sizeof *faults);
  for (size_t i = 0; i < n; i++) {
    char ferr[600];
    if (fault_parse(d->faults[i], &faults[i], ferr, sizeof ferr))
      return fail("design %s: %s", name, ferr);
  }
  *nfaults += (unsigned)n;
  return 0;
}

/* --scenario FILE: the file's configuration; its faults, ahead of those of
 * --fault (the command line comes after the file, as --set does); and the
 * name the report gives the run: the file's base design, else the file's
 * name without directory and extension. */
static int load_scenario(const char *path, struct config *cfg, char *name, size_t namelen,
                         struct fault *faults, unsigned *nfaults) {
  struct scenario s;
  char err[1200];
  if (scenario_load_file(path, &s, err, sizeof err))
    return fail("%s%s", err, "");
  int status = 0;
  if (s.nfaults > MAX_FAULTS - *nfaults) {
    snprintf(err, sizeof err, "%s:%u:%u: faults: at most %s faults in one run (with --fault)", path,
             s.fault_pos[0].line, s.fault_pos[0].col, MAX_FAULTS_TEXT);
    status = fail("%s%s", err, "");
  } else {
    memmove(faults + s.nfaults, faults, *nfaults * sizeof *faults);
    for (size_t i = 0; i < s.nfaults && !status; i++) {
      char ferr[600];
      if (fault_parse(s.faults[i], &faults[i], ferr, sizeof ferr)) {
        /* fault_parse speaks of the command line; here the spec is the file's. */
        const char *why = strncmp(ferr, "--fault ", 8) == 0 ? ferr + 8 : ferr;
        snprintf(err, sizeof err, "%s:%u:%u: faults: %s", path, s.fault_pos[i].line, s.fault_pos[i].col, why);
        status = fail("%s%s", err, "");
      }
    }
    if (!status)
      *nfaults += (unsigned)s.nfaults;
  }
  if (!status) {
    *cfg = s.cfg;
    if (s.design[0]) {
      snprintf(name, namelen, "%s", s.design);
    } else {
      const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
      const char *dot = strrchr(base, '.');
      size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
      snprintf(name, namelen, "%.*s", (int)n, n ? base : "scenario");
    }
  }
  scenario_free(&s);
  return status;
}

static void replay_progress(void *ctx, uint64_t done, uint64_t total) {
  progress_update(ctx, done, total, NULL);
}

static int cmd_replay(int argc, char **argv) {
  static struct fault faults[MAX_FAULTS];
  unsigned nfaults = 0;
  struct replay_cli rc;
  memset(&rc, 0, sizeof rc);
  rc.o.seed = 1;
  rc.design = NULL; /* copy, unless --design or --scenario says otherwise */
  const char *trace = NULL;
  /* Designs first, then --set in order: collect the sets. */
  const char **sets = calloc((size_t)argc + 1, sizeof *sets);
  int nsets = 0;
  if (!sets)
    return fail("out of memory%s%s", "", "");
  enum { O_DESIGN = 256, O_SCENARIO, O_SET, O_SEED, O_JSON, O_SPEED, O_FAULT, O_VCD, O_OBSERVED, O_SKIP, O_LIMIT,
         O_READ_AHEAD };
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},         {"quiet", no_argument, NULL, 'q'},
      {"skip-unsupported", no_argument, NULL, O_SKIP},
      {"design", required_argument, NULL, O_DESIGN},  {"scenario", required_argument, NULL, O_SCENARIO},
      {"set", required_argument, NULL, O_SET},        {"seed", required_argument, NULL, O_SEED},
      {"json", required_argument, NULL, O_JSON},      {"speed", required_argument, NULL, O_SPEED},
      {"fault", required_argument, NULL, O_FAULT},    {"vcd", required_argument, NULL, O_VCD},
      {"observed", required_argument, NULL, O_OBSERVED}, {"limit", required_argument, NULL, O_LIMIT},
      {"read-ahead", required_argument, NULL, O_READ_AHEAD}, {NULL, 0, NULL, 0}};
  static const struct cliopt_need needs[] = {
      {"--design", "a name"}, {"--scenario", "a file name"}, {"--set", "KEY=VALUE"},
      {"--seed", "a whole number"}, {"--json", "a file name"}, {"--speed", "recorded, line or xN"},
      {"--fault", "NAME[:KEY=VALUE,...]"}, {"--vcd", "a file name"}, {"--observed", "a directory"},
      {"--limit", "a number of frames, 1 or more"}, {"--read-ahead", "on, off or auto"}, {NULL, NULL}};
  int status = 0, c;
  rc.o.read_ahead = -1; /* not given */
  cliopt_reset();
  while (!status && (c = cliopt_next(argc, argv, ":hq", longs)) != -1) {
    const char *v = optarg;
    switch (c) {
    case 'h':
      usage_replay(stdout);
      free(sets);
      return stdout_done();
    case 'q':
      quiet = 1;
      break;
    case O_SKIP:
      rc.o.skip_unsupported = 1;
      break;
    case O_DESIGN:
      rc.design = v;
      break;
    case O_SCENARIO:
      rc.scenario = v;
      break;
    case O_SET:
      sets[nsets++] = v;
      break;
    case O_SEED:
      if (parse_u64_arg(v, &rc.o.seed))
        status = fail("--seed '%s': expected a whole number, 0..18446744073709551615%s", SHOWN(v), "");
      break;
    case O_JSON:
      rc.json = v;
      break;
    case O_SPEED:
      status = parse_speed(v, &rc.o);
      break;
    case O_FAULT:
      if (nfaults == MAX_FAULTS) {
        status = fail("--fault: at most %s faults in one run%s", MAX_FAULTS_TEXT, "");
      } else {
        char ferr[600];
        if (fault_parse(v, &faults[nfaults], ferr, sizeof ferr))
          status = fail("%s%s", ferr, "");
        else
          nfaults++;
      }
      break;
    case O_VCD:
      rc.o.vcd_path = v;
      break;
    case O_OBSERVED:
      rc.o.observed_dir = v;
      break;
    case O_LIMIT:
      status = limit_arg(v, &rc.o.limit_frames);
      break;
    case O_READ_AHEAD:
      status = read_ahead_arg("--read-ahead", v, &rc.o.read_ahead);
      break;
    default:
      status = cliopt_refused("replay", c, argv, needs);
    }
  }
  if (!status)
    status = one_trace("replay", optind, argc, argv, &trace);
  if (!status && rc.o.read_ahead < 0)
    status = read_ahead_default(1, &rc.o.read_ahead);
  char err[1200];
  char scenario_name[SCENARIO_DESIGN_MAX + 256]; /* the report's "design" for a scenario file */
  if (!status && rc.design && rc.scenario)
    status = fail("replay: --design and --scenario cannot be combined (a scenario file names its base "
                  "design with 'design:')%s%s", "", "");
  if (!status && rc.scenario) {
    status = load_scenario(rc.scenario, &rc.o.cfg, scenario_name, sizeof scenario_name, faults, &nfaults);
    rc.design = scenario_name;
  } else if (!status) {
    if (!rc.design)
      rc.design = "copy";
    if (config_from_design(&rc.o.cfg, rc.design, err, sizeof err))
      status = fail("%s%s", err, "");
    else
      status = design_faults(rc.design, faults, &nfaults);
  }
  for (int i = 0; i < nsets && !status; i++)
    status = apply_set(&rc.o.cfg, sets[i]);
  free(sets);
  if (status)
    return status;
  rc.o.trace_path = trace;
  rc.o.design = rc.design;
  rc.o.faults = faults;
  rc.o.nfaults = nfaults;

  /* Every output is checked before the first frame; none may be an input
   * or another output. */
  if (outfile_note_input(trace, "the trace") || (rc.scenario && outfile_note_input(rc.scenario, "the scenario")))
    return fail("out of memory%s%s", "", "");
  if (rc.json && outfile_claim(rc.json, "--json", err, sizeof err))
    return fail("--json %s%s", err, "");
  if (rc.o.vcd_path && outfile_claim(rc.o.vcd_path, "--vcd", err, sizeof err))
    return fail("--vcd %s%s", err, "");
  if (rc.o.observed_dir && observed_check(rc.o.observed_dir, err, sizeof err))
    return fail("--observed %s%s", err, "");

  struct replay_result *res = malloc(sizeof *res);
  if (!res)
    return fail("out of memory%s%s", "", "");
  /* SIGINT or SIGTERM: stop at the next frame and report what was done. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  struct progress bar;
  progress_start(&bar, "replay", "frames", quiet);
  rc.o.progress = replay_progress;
  rc.o.progress_ctx = &bar;
  int replayed = system_replay(&rc.o, res, err, sizeof err);
  progress_clear(&bar);
  if (replayed) {
    free(res);
    if (stop_signal) {
      fail("replay: stopped (%s) before the report: %s", strsignal(stop_signal), err);
      return 128 + stop_signal;
    }
    return fail("%s%s", err, "");
  }
  int unsafe = strcmp(report_verdict(res), "unsafe") == 0;
  if (rc.json) {
    json_object *j = report_json(&rc.o, res);
    if (!j || report_write_json(j, rc.json, err, sizeof err)) {
      json_object_put(j);
      free(res);
      return fail("%s%s", j ? err : "out of memory", "");
    }
    json_object_put(j);
  }
  if (!quiet && !(rc.json && strcmp(rc.json, "-") == 0))
    report_print_human(stdout, &rc.o, res);
  int incomplete = res->incomplete;
  free(res);
  if (stdout_done())
    return EXIT_USAGE;
  if (incomplete)
    return 128 + (stop_signal ? stop_signal : SIGINT);
  return unsafe ? 1 : 0;
}

/* ---- review ---- */

static const char *const prop_short[PROP_COUNT] = {"xflow", "stale", "kptr",    "ktamper", "uwav",
                                                   "dwog",  "dwau",  "exhaust", "xtamper", "wire",
                                                   "drog",  "drau"};

struct review_run {
  const char *design;
  pid_t pid;
  int status; /* exit status of the child, -1 while running */
  json_object *report;
};

static int review_skip_unsupported;
static uint64_t review_limit_frames; /* --limit N: each run replays the first N frames (0: all) */
static int review_read_ahead;        /* each run's trace_open_opts.read_ahead (read_ahead_default) */

static int review_child(const char *trace, const char *design, char **sets, int nsets, uint64_t seed,
                        const char *out) {
  struct replay_opts o;
  memset(&o, 0, sizeof o);
  char err[1200];
  if (config_from_design(&o.cfg, design, err, sizeof err))
    return fail("%s%s", err, "");
  for (int i = 0; i < nsets; i++)
    if (apply_set(&o.cfg, sets[i]))
      return EXIT_USAGE;
  static struct fault faults[MAX_FAULTS];
  unsigned nfaults = 0;
  if (design_faults(design, faults, &nfaults))
    return EXIT_USAGE;
  o.faults = faults;
  o.nfaults = nfaults;
  o.trace_path = trace;
  o.design = design;
  o.read_ahead = review_read_ahead;
  o.seed = seed;
  o.skip_unsupported = review_skip_unsupported;
  o.limit_frames = review_limit_frames;
  struct replay_result *res = malloc(sizeof *res);
  if (!res)
    return fail("out of memory%s%s", "", "");
  if (system_replay(&o, res, err, sizeof err)) {
    free(res);
    return fail("%s: %s", design, err);
  }
  json_object *j = report_json(&o, res);
  int rc = (!j || report_write_json(j, out, err, sizeof err)) ? fail("%s%s", err, "") : 0;
  json_object_put(j);
  free(res);
  return rc;
}

static int64_t jget_i64(json_object *o, const char *a, const char *b) {
  json_object *x = NULL, *y = NULL;
  if (!json_object_object_get_ex(o, a, &x))
    return 0;
  if (b && !json_object_object_get_ex(x, b, &y))
    return 0;
  return json_object_get_int64(b ? y : x);
}

static double jget_double(json_object *o, const char *a, const char *b) {
  json_object *x = NULL, *y = NULL;
  if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y))
    return 0;
  return json_object_get_double(y);
}

static uint64_t prop_count(json_object *rep, int p) {
  json_object *v = NULL, *e = NULL, *c = NULL;
  if (!json_object_object_get_ex(rep, "violations", &v) ||
      !json_object_object_get_ex(v, checker_property_name((enum checker_property)p), &e) ||
      !json_object_object_get_ex(e, "count", &c))
    return 0;
  return (uint64_t)json_object_get_int64(c);
}

/* Who leaks to whom, for the designs where a property has more than one
 * (principal, owner) pair. */
static void review_pairs(FILE *f, struct review_run *runs, size_t n, int markdown) {
  int any = 0;
  for (size_t i = 0; i < n && !any; i++)
    any = report_has_pairs(runs[i].report);
  if (!any)
    return;
  fprintf(f, markdown ? "\nWho leaks to whom:\n\n" REPORT_PAIRS_MARKDOWN_HEAD : "\nwho <- whose bytes:\n");
  for (size_t i = 0; i < n; i++)
    report_print_pairs(f, runs[i].design, runs[i].report, markdown);
}

static void review_table(FILE *f, struct review_run *runs, size_t n, int markdown) {
  if (markdown) {
    fprintf(f, "| design | verdict |");
    for (int p = 0; p < PROP_COUNT; p++)
      fprintf(f, " %s |", checker_property_name((enum checker_property)p));
    fprintf(f, " cycles/pkt | delivered Gb/s | drops |\n|---|---|");
    for (int p = 0; p < PROP_COUNT; p++)
      fprintf(f, "---:|");
    fprintf(f, "---:|---:|---:|\n");
  } else {
    fprintf(f, "%-28s %-12s", "design", "verdict");
    for (int p = 0; p < PROP_COUNT; p++)
      fprintf(f, " %7s", prop_short[p]);
    fprintf(f, " %10s %9s %8s\n", "cyc/pkt", "Gb/s", "drops");
  }
  for (size_t i = 0; i < n; i++) {
    json_object *r = runs[i].report;
    json_object *vj = NULL;
    const char *verdict = r && json_object_object_get_ex(r, "verdict", &vj) ? json_object_get_string(vj) : "error";
    if (markdown)
      fprintf(f, "| %s | %s |", runs[i].design, verdict);
    else
      fprintf(f, "%-28s %-12s", runs[i].design, verdict);
    for (int p = 0; p < PROP_COUNT; p++) {
      if (!r)
        fprintf(f, markdown ? " - |" : " %7s", "-");
      else if (markdown)
        fprintf(f, " %" PRIu64 " |", prop_count(r, p));
      else
        fprintf(f, " %7" PRIu64, prop_count(r, p));
    }
    if (!r) {
      fprintf(f, markdown ? " - | - | - |\n" : " %10s %9s %8s\n", "-", "-", "-");
      continue;
    }
    double cpp = jget_double(r, "cpu", "cycles_per_packet");
    double gbps = jget_double(r, "throughput", "delivered_gbps");
    int64_t drops = jget_i64(r, "nic", "rx_dropped");
    if (markdown)
      fprintf(f, " %.1f | %.3f | %" PRId64 " |\n", cpp, gbps, drops);
    else
      fprintf(f, " %10.1f %9.4g %8" PRId64 "\n", cpp, gbps, drops);
  }
  review_pairs(f, runs, n, markdown);
  if (!markdown) {
    fprintf(f, "\n");
    for (int p = 0; p < PROP_COUNT; p++)
      fprintf(f, "%s%s=%s", p ? ", " : "properties: ", prop_short[p],
              checker_property_name((enum checker_property)p));
    fprintf(f, "\n");
  }
}

/* review's runs in the process pool. */
struct review_pool {
  const char *trace, *tmpdir;
  struct review_run *runs;
  size_t n, finished;
  char **sets;
  int nsets;
  uint64_t seed;
  struct progress *bar;
  int failed;
};

static void review_out_path(const struct review_pool *rp, size_t i, char *buf, size_t n) {
  snprintf(buf, n, "%s/%zu.json", rp->tmpdir, i);
}

static int review_pool_child(void *ctx, size_t i) {
  struct review_pool *rp = ctx;
  char out[256];
  review_out_path(rp, i, out, sizeof out);
  return review_child(rp->trace, rp->runs[i].design, rp->sets, rp->nsets, rp->seed, out);
}

static void review_pool_done(void *ctx, size_t i, int st, int how) {
  int start_errno = how > 0 ? how : 0;
  struct review_pool *rp = ctx;
  struct review_run *r = &rp->runs[i];
  char out[256];
  review_out_path(rp, i, out, sizeof out);
  rp->finished++;
  if (start_errno) {
    rp->failed = 1;
    fprintf(stderr, "nicsim: review: cannot start a run: %s\n", strerror(start_errno));
    r->status = EXIT_USAGE;
    return;
  }
  r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  if (r->status == 0)
    r->report = json_object_from_file(out);
  if (!r->report) {
    rp->failed = 1;
    progress_clear(rp->bar);
    /* A run the pool stopped (a signal came) did not fail: the stop is
     * the one line said. */
    if (how != PROCPOOL_STOPPED && (r->status == 0 || r->status > 2))
      fprintf(stderr, "nicsim: review: the run of design %s failed (status %d)\n", r->design, r->status);
  }
  unlink(out);
  char note[64];
  snprintf(note, sizeof note, "%s done", r->design);
  progress_update(rp->bar, rp->finished, rp->n, note);
}

/* Remove a temporary folder of ours and what is in it (one level). */
static void remove_tmpdir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (d)
    closedir(d);
  rmdir(dir);
}

/* The review's designs as JSON. */
static json_object *review_json_designs(struct review_run *runs, size_t n) {
  json_object *arr = json_object_new_array();
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_new_object(), *r = runs[i].report, *vj = NULL;
    json_object_object_add(e, "design", json_object_new_string(runs[i].design));
    json_object_object_add(e, "verdict", json_object_new_string(
        r && json_object_object_get_ex(r, "verdict", &vj) ? json_object_get_string(vj) : "error"));
    json_object *v = json_object_new_object();
    for (int p = 0; p < PROP_COUNT; p++)
      json_object_object_add(v, checker_property_name((enum checker_property)p),
                             json_object_new_uint64(r ? prop_count(r, p) : 0));
    json_object_object_add(e, "violations", v);
    json_object_object_add(e, "cycles_per_packet", json_object_new_double(r ? jget_double(r, "cpu", "cycles_per_packet") : 0));
    json_object_object_add(e, "delivered_gbps", json_object_new_double(r ? jget_double(r, "throughput", "delivered_gbps") : 0));
    json_object_object_add(e, "rx_dropped", json_object_new_int64(r ? jget_i64(r, "nic", "rx_dropped") : 0));
    json_object_array_add(arr, e);
  }
  return arr;
}

static int review_write_html(const char *html, const struct review_meta *meta, struct review_run *runs, size_t n) {
  char err[1200];
  struct review_row *rows = calloc(n ? n : 1, sizeof *rows);
  char *page = NULL;
  if (rows) {
    for (size_t i = 0; i < n; i++) {
      json_object *r = runs[i].report, *vj = NULL;
      const struct design *d = design_find(runs[i].design);
      rows[i].design = runs[i].design;
      rows[i].verdict = r && json_object_object_get_ex(r, "verdict", &vj) ? json_object_get_string(vj) : "error";
      for (int p = 0; r && p < PROP_COUNT; p++)
        rows[i].props[p] = prop_count(r, p);
      rows[i].cycles_per_packet = r ? jget_double(r, "cpu", "cycles_per_packet") : 0;
      rows[i].delivered_gbps = r ? jget_double(r, "throughput", "delivered_gbps") : 0;
      rows[i].drops = r ? jget_i64(r, "nic", "rx_dropped") : 0;
      rows[i].summary = d ? d->summary : NULL;
      rows[i].settings = d ? d->yaml : NULL;
      rows[i].report = r;
    }
    page = review_html(meta, rows, n);
    free(rows);
  }
  int status = 0;
  if (!page)
    status = fail("--html: out of memory%s%s", "", "");
  else if (outfile_write_text(html, page, 0666, err, sizeof err))
    status = fail("%s%s", err, "");
  free(page);
  return status;
}

/* The designs of --designs (or all), each at most once. */
static int review_designs(const char *designs, struct review_run *runs, size_t *n) {
  *n = 0;
  if (strcmp(designs, "all") == 0) {
    for (size_t i = 0; i < design_count(); i++)
      runs[(*n)++].design = design_get(i)->name;
    return 0;
  }
  char *list = strdup(designs);
  if (!list)
    return fail("out of memory%s%s", "", "");
  int status = 0;
  /* Split at every comma: strtok_r would merge ",," and drop a leading or
   * trailing comma, so "copy," would pass as a list of one. */
  for (char *tok = list, *next; tok && !status; tok = next) {
    next = strchr(tok, ',');
    if (next)
      *next++ = '\0';
    if (!*tok) {
      status = fail("--designs '%s': an empty name in the list (names separated by single commas)%s",
                    SHOWN(designs), "");
      break;
    }
    const struct design *d = design_find(tok);
    if (!d) {
      status = fail("--designs: unknown design '%s' (nicsim designs lists them)%s", SHOWN(tok), "");
      break;
    }
    for (size_t k = 0; k < *n && !status; k++)
      if (runs[k].design == d->name)
        status = fail("--designs: design %s named twice (each design runs once)%s", d->name, "");
    if (!status)
      runs[(*n)++].design = d->name;
  }
  if (!status && *n == 0)
    status = fail("--designs: no design given%s%s", "", "");
  free(list);
  return status;
}

static int parse_jobs(const char *v, uint64_t *jobs) {
  if (parse_u64_arg(v, jobs) || *jobs < 1 || *jobs > 1024)
    return fail("-j '%s': expected a number of parallel runs, 1..1024%s", SHOWN(v), "");
  return 0;
}

/* The Markdown table's preamble: what was run, and the command that runs it again. */
static void review_markdown_meta(FILE *f, const struct review_meta *m) {
  json_object *t = m->trace_info, *pk = NULL, *fl = NULL;
  fprintf(f, "nicsim %s review of `%s`", NICSIM_VERSION_STRING, m->trace);
  if (t && json_object_object_get_ex(t, "packets", &pk) && json_object_object_get_ex(t, "flows", &fl))
    fprintf(f, ": %" PRId64 " frames, %" PRId64 " flows", json_object_get_int64(pk), json_object_get_int64(fl));
  fprintf(f, "; seed %" PRIu64, m->seed);
  if (m->limit_frames)
    fprintf(f, "; --limit %" PRIu64, m->limit_frames);
  fprintf(f, "; --set: ");
  if (!m->nsets)
    fprintf(f, "none");
  for (size_t i = 0; i < m->nsets; i++)
    fprintf(f, "%s`%s`", i ? ", " : "", m->sets[i]);
  fprintf(f, ".\n\nTo reproduce: `nicsim review %s", m->trace);
  if (m->designs && strcmp(m->designs, "all") != 0)
    fprintf(f, " --designs %s", m->designs);
  fprintf(f, " --seed %" PRIu64, m->seed);
  if (m->limit_frames)
    fprintf(f, " --limit %" PRIu64, m->limit_frames);
  for (size_t i = 0; i < m->nsets; i++)
    fprintf(f, " --set '%s'", m->sets[i]);
  fprintf(f, " --markdown FILE`\n\n");
}

static int cmd_review(int argc, char **argv) {
  const char *trace = NULL, *designs = "all", *json = NULL, *markdown = NULL, *html = NULL;
  uint64_t jobs = cpus_usable(), seed = 1; /* its affinity mask: taskset, cpusets */
  char **sets = calloc((size_t)argc + 1, sizeof *sets);
  int nsets = 0, status = 0, c;
  if (!sets)
    return fail("out of memory%s%s", "", "");
  if (jobs < 1 || jobs > 1024)
    jobs = jobs < 1 ? 1 : 1024;
  enum { O_DESIGNS = 256, O_JSON, O_MARKDOWN, O_HTML, O_SET, O_SEED, O_SKIP, O_LIMIT };
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},          {"quiet", no_argument, NULL, 'q'},
      {"skip-unsupported", no_argument, NULL, O_SKIP},
      {"designs", required_argument, NULL, O_DESIGNS}, {"design", required_argument, NULL, O_DESIGNS},
      {"jobs", required_argument, NULL, 'j'},     {"json", required_argument, NULL, O_JSON},
      {"markdown", required_argument, NULL, O_MARKDOWN}, {"html", required_argument, NULL, O_HTML},
      {"set", required_argument, NULL, O_SET},     {"seed", required_argument, NULL, O_SEED},
      {"limit", required_argument, NULL, O_LIMIT}, {NULL, 0, NULL, 0}};
  static const struct cliopt_need needs[] = {
      {"--designs", "a list"}, {"--design", "a list"}, {"-j", "a number of parallel runs, 1..1024"},
      {"--jobs", "a number of parallel runs, 1..1024"}, {"--json", "a file name"},
      {"--markdown", "a file name"}, {"--html", "a file name"}, {"--set", "KEY=VALUE"},
      {"--seed", "a whole number"}, {"--limit", "a number of frames, 1 or more"}, {NULL, NULL}};
  cliopt_reset();
  while (!status && (c = cliopt_next(argc, argv, ":hqj:", longs)) != -1) {
    const char *v = optarg;
    switch (c) {
    case 'h':
      usage_review(stdout);
      free(sets);
      return stdout_done();
    case 'q':
      quiet = 1;
      break;
    case O_SKIP:
      review_skip_unsupported = 1;
      break;
    case O_DESIGNS:
      designs = v;
      break;
    case 'j':
      status = parse_jobs(v, &jobs);
      break;
    case O_JSON:
      json = v;
      break;
    case O_MARKDOWN:
      markdown = v;
      break;
    case O_HTML:
      html = v;
      break;
    case O_SET:
      sets[nsets++] = (char *)v;
      break;
    case O_SEED:
      if (parse_u64_arg(v, &seed))
        status = fail("--seed '%s': expected a whole number, 0..18446744073709551615%s", SHOWN(v), "");
      break;
    case O_LIMIT:
      status = limit_arg(v, &review_limit_frames);
      break;
    default:
      status = cliopt_refused("review", c, argv, needs);
    }
  }
  if (!status)
    status = one_trace("review", optind, argc, argv, &trace);

  /* The designs to run, and every output, checked before anything starts. */
  size_t n = 0;
  struct review_run *runs = calloc(design_count() + 1, sizeof *runs);
  if (!runs) {
    free(sets);
    return fail("out of memory%s%s", "", "");
  }
  if (!status)
    status = review_designs(designs, runs, &n);
  if (!status) /* the runs at a time: -j N, or fewer when there are fewer */
    status = read_ahead_default(jobs < n ? jobs : n, &review_read_ahead);
  /* Check the --set keys once, against the default design. */
  struct config probe;
  config_default(&probe);
  for (int i = 0; i < nsets && !status; i++)
    status = apply_set(&probe, sets[i]);
  if (!status && strcmp(trace, "-") == 0)
    status = fail("review: the trace must be a file (each design reads it again)%s%s", "", "");
  if (!status && access(trace, R_OK) != 0)
    status = fail("%s: cannot open: %s", SHOWN(trace), strerror(errno));
  char err[1200];
  if (!status && json && markdown && !strcmp(json, "-") && !strcmp(markdown, "-"))
    status = fail("review: --json - and --markdown - cannot share standard output%s%s", "", "");
  const char *outs[3][2] = {{"--json", json}, {"--markdown", markdown}, {"--html", html}};
  if (!status && outfile_note_input(trace, "the trace"))
    status = fail("out of memory%s%s", "", "");
  for (int k = 0; k < 3 && !status; k++)
    if (outs[k][1] && outfile_claim(outs[k][1], outs[k][0], err, sizeof err))
      status = fail("%s %s", outs[k][0], err);
  char tmpdir[256];
  if (!status && outfile_mkdtemp("nicsim-review", tmpdir, sizeof tmpdir))
    status = fail("cannot create a temporary directory: %s%s", strerror(errno), "");
  if (status) {
    free(runs);
    free(sets);
    return status;
  }

  for (size_t i = 0; i < n; i++)
    runs[i].status = -1;
  struct progress bar;
  progress_start(&bar, "review", "runs", quiet);
  progress_update(&bar, 0, n, NULL);
  struct review_pool rp = {.trace = trace, .tmpdir = tmpdir, .runs = runs, .n = n, .sets = sets,
                           .nsets = nsets, .seed = seed, .bar = &bar};
  static const struct procpool_ops ops = {review_pool_child, review_pool_done, 0};
  int sig = procpool_run(n, (unsigned)jobs, &ops, &rp);
  progress_clear(&bar);
  remove_tmpdir(tmpdir);
  int failed = rp.failed;
  if (sig < 0) {
    fprintf(stderr, "nicsim: review: the process pool failed: %s\n", strerror(errno));
    failed = 1;
  }
  if (sig > 0) {
    fprintf(stderr, "nicsim: review: stopped (%s); no table written\n", strsignal(sig));
    for (size_t i = 0; i < n; i++)
      json_object_put(runs[i].report);
    free(runs);
    free(sets);
    return 128 + sig;
  }

  int to_stdout = (json && !strcmp(json, "-")) || (markdown && !strcmp(markdown, "-"));
  if (!quiet && !to_stdout)
    review_table(stdout, runs, n, 0);
  /* What every run shared: recorded in each output so that it can be re-run from itself. */
  json_object *trace_info = NULL;
  for (size_t i = 0; i < n && !trace_info; i++)
    if (runs[i].report)
      json_object_object_get_ex(runs[i].report, "trace", &trace_info);
  struct review_meta meta = {trace, designs, trace_info, seed, (const char *const *)sets, (size_t)nsets,
                             review_limit_frames};
  if (html && review_write_html(html, &meta, runs, n))
    failed = 1;
  if (markdown) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    if (mf) {
      review_markdown_meta(mf, &meta);
      review_table(mf, runs, n, 1);
      fclose(mf);
    }
    if (!mf || outfile_write_text(markdown, buf, 0666, err, sizeof err)) {
      fprintf(stderr, "nicsim: %s\n", mf ? err : "out of memory");
      failed = 1;
    }
    free(buf);
  }
  if (json) {
    json_object *root = json_object_new_object();
    json_object_object_add(root, "trace", json_object_get(trace_info));
    json_object *mo = json_object_new_object();
    json_object_object_add(mo, "nicsim_version", json_object_new_string(NICSIM_VERSION_STRING));
    json_object_object_add(mo, "seed", json_object_new_uint64(seed));
    json_object *sa = json_object_new_array();
    for (int i = 0; i < nsets; i++)
      json_object_array_add(sa, json_object_new_string(sets[i]));
    json_object_object_add(mo, "set", sa);
    if (review_limit_frames) /* as a replay report's trace.limit: only with --limit */
      json_object_object_add(mo, "limit", json_object_new_uint64(review_limit_frames));
    json_object_object_add(mo, "trace", json_object_get(trace_info));
    json_object_object_add(root, "meta", mo);
    json_object_object_add(root, "designs", review_json_designs(runs, n));
    if (report_write_json(root, json, err, sizeof err)) {
      fprintf(stderr, "nicsim: %s\n", err);
      failed = 1;
    }
    json_object_put(root);
  }
  for (size_t i = 0; i < n; i++)
    json_object_put(runs[i].report);
  free(runs);
  free(sets);
  failed |= stdout_done() != 0;
  return failed ? EXIT_USAGE : 0;
}

/* ---- dmabench ---- */

static int cmd_dmabench(int argc, char **argv) {
  struct dmabench_params p;
  struct dmabench_result r;
  const char *json = NULL;
  int help = 0;
  char err[600], line[600];
  if (dmabench_parse_args(argc - 1, argv + 1, &p, &json, &help, err, sizeof err))
    return fail("%s%s", err, "");
  if (help) {
    fputs(dmabench_usage(), stdout);
    return stdout_done();
  }
  if (json && outfile_claim(json, "--json", err, sizeof err))
    return fail("--json %s%s", err, "");
  if (dmabench_run(&p, &r, err, sizeof err))
    return fail("%s%s", err, "");
  dmabench_summary(&p, &r, line, sizeof line);
  if (!json || strcmp(json, "-"))
    printf("%s\n", line);
  if (json) {
    char *t = dmabench_json_text(&p, &r);
    if (!t)
      return fail("out of memory%s%s", "", "");
    int bad = outfile_write_text(json, t, 0666, err, sizeof err);
    free(t);
    if (bad)
      return fail("dmabench: %s%s", err, "");
  }
  return stdout_done();
}

/* ---- costs ---- */

/* A command that takes --help and nothing else (or --show NAME: designs). */
static int simple_opts(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **show) {
  static const struct option with_show[] = {
      {"show", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const struct option *longs = show ? with_show : with_show + 1; /* without --show: --help only */
  static const struct cliopt_need needs[] = {{"--show", "a design name (nicsim designs lists them)"}, {NULL, NULL}};
  int c;
  cliopt_reset();
  while ((c = cliopt_next(argc, argv, ":h", longs)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return -1;
    }
    if (c == 's' && show) {
      *show = optarg;
      continue;
    }
    return cliopt_refused(cmd, c == 's' ? '?' : c, argv, needs);
  }
  if (optind < argc)
    return fail("%s: unexpected argument '%s'", cmd, SHOWN(argv[optind]));
  return 0;
}

static void usage_costs(FILE *f) {
  fprintf(f, "usage: nicsim costs\n\nPrints the CPU cost model: what clearing and copying cost by size,\n"
             "and the fixed costs of the host's operations, in cycles (" NICSIM_DOCDIR "/timing.md\n"
             "gives their sources).\n\n  -h, --help         this text\n");
}

static int cmd_costs(int argc, char **argv) {
  int st = simple_opts("costs", argc, argv, usage_costs, NULL);
  if (st)
    return st < 0 ? stdout_done() : st;
  struct cpu_costs c;
  cpu_costs_default(&c);
  static const uint32_t sizes[] = {64, 256, 1024, 2048, 4096, 8192};
  printf("clear (memset), bytes: cycles (bytes per cycle)\n");
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint64_t cy = cpu_clear_cycles(sizes[i]);
    printf("  %5u: %4" PRIu64 " (%.1f)%s\n", sizes[i], cy, (double)sizes[i] / (double)cy,
           sizes[i] == 4096 ? "   seed thread: 143 (28 B/cycle)"
           : sizes[i] == 256 ? "   seed thread: 36 (7 B/cycle)" : "");
  }
  printf("copy (memcpy), bytes: cycles\n");
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    printf("  %5u: %4" PRIu64 "\n", sizes[i], cpu_copy_cycles(&c, sizes[i]));
  struct iommu_params ip;
  iommu_params_default(&ip);
  printf("fixed costs, cycles:\n"
         "  skb allocation %u, separate skb head %u, page_pool alloc %u, recycle %u, page allocator %u\n"
         "  map a page into userspace %u, unmap %u, descriptor %u, XDP run %u (+%u per rule of xdp.rules tried), "
         "socket delivery %u, "
         "header validation %u\n"
         "  IOMMU map %u, unmap %u, IOTLB invalidation %u\n",
         c.skb_alloc, c.head_alloc, c.pool_alloc, c.pool_recycle, c.page_alloc, c.user_map, c.user_unmap,
         c.rx_desc, c.xdp_run, c.xdp_rule, c.sock_deliver, c.validate, ip.map_cycles, ip.unmap_cycles, ip.inval_cycles);
  return stdout_done();
}

/* ---- designs, gen ---- */

static void usage_designs(FILE *f) {
  fprintf(f, "usage: nicsim designs [--show NAME]\n\n"
             "Lists the built-in designs, one a line: name, then a summary.\n"
             "\n"
             "  --show NAME        print the design's scenario file (YAML) as shipped: save it,\n"
             "                     edit it, and run it with nicsim replay TRACE --scenario FILE\n"
             "  -h, --help         this text\n");
}

static int cmd_designs(int argc, char **argv) {
  const char *v = NULL;
  int st = simple_opts("designs", argc, argv, usage_designs, &v);
  if (st)
    return st < 0 ? stdout_done() : st;
  if (v) {
    const struct design *d = design_find(v);
    if (!d) {
      struct config c;
      char err[1200];
      config_from_design(&c, v, err, sizeof err); /* fills the message that lists the designs */
      return fail("designs --show: %s%s", err, "");
    }
    fputs(d->yaml, stdout);
    return stdout_done();
  }
  for (size_t i = 0; i < design_count(); i++)
    printf("%-28s %s\n", design_get(i)->name, design_get(i)->summary);
  return stdout_done();
}

#define GEN_MAX_PACKETS 100000000u /* 10^8 frames: 8 GB of pcap at 64 bytes */

static int cmd_gen(int argc, char **argv) {
  struct gen_params p;
  gen_params_default(&p);
  p.path = NULL;
  enum { O_FLOWS = 256, O_PACKETS, O_SIZE, O_RATE, O_SEED, O_IPV6 };
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},           {"output", required_argument, NULL, 'o'},
      {"flows", required_argument, NULL, O_FLOWS}, {"packets", required_argument, NULL, O_PACKETS},
      {"size", required_argument, NULL, O_SIZE},   {"rate-gbps", required_argument, NULL, O_RATE},
      {"seed", required_argument, NULL, O_SEED},   {"ipv6-share", required_argument, NULL, O_IPV6},
      {NULL, 0, NULL, 0}};
  static const struct cliopt_need needs[] = {
      {"-o", "a file name"}, {"--output", "a file name"}, {"--flows", "1..1000000"},
      {"--packets", "1..100000000"}, {"--size", "BYTES or imix"}, {"--rate-gbps", "a rate in (0, 10000]"},
      {"--seed", "a whole number"}, {"--ipv6-share", "0..1"}, {NULL, NULL}};
  int c;
  cliopt_reset();
  while ((c = cliopt_next(argc, argv, ":ho:", longs)) != -1) {
    const char *v = optarg;
    uint64_t u;
    double d;
    switch (c) {
    case 'h':
      usage_gen(stdout);
      return stdout_done();
    case 'o':
      p.path = v;
      break;
    case O_FLOWS:
      if (parse_u64_arg(v, &u) || u < 1 || u > 1000000)
        return fail("--flows '%s': expected 1..1000000%s", SHOWN(v), "");
      p.flows = (uint32_t)u;
      break;
    case O_PACKETS:
      if (parse_u64_arg(v, &u) || u < 1 || u > GEN_MAX_PACKETS)
        return fail("--packets '%s': expected 1..100000000 frames%s", SHOWN(v), "");
      p.packets = u;
      break;
    case O_SIZE:
      if (strcmp(v, "imix") == 0) {
        p.imix = 1;
        p.size_bytes = 0;
      } else if (parse_u64_arg(v, &u) || u < 60 || u > 9000) {
        return fail("--size '%s': expected 60..9000 bytes or imix%s", SHOWN(v), "");
      } else {
        p.imix = 0;
        p.size_bytes = (uint32_t)u;
      }
      break;
    case O_RATE:
      if (parse_double_arg(v, &d) || d <= 0 || d > 10000)
        return fail("--rate-gbps '%s': expected a rate in (0, 10000]%s", SHOWN(v), "");
      p.rate_gbps = d;
      break;
    case O_SEED:
      if (parse_u64_arg(v, &u))
        return fail("--seed '%s': expected a whole number, 0..18446744073709551615%s", SHOWN(v), "");
      p.seed = u;
      break;
    case O_IPV6:
      if (parse_double_arg(v, &d) || d < 0 || d > 1)
        return fail("--ipv6-share '%s': expected 0..1%s", SHOWN(v), "");
      p.ipv6_fraction = d;
      break;
    default:
      return cliopt_refused("gen", c, argv, needs);
    }
  }
  if (optind < argc)
    return fail("gen: unknown argument '%s' (nicsim gen --help)%s", SHOWN(argv[optind]), "");
  if (!p.path)
    return fail("gen: no output file (-o FILE)%s%s", "", "");
  char err[600];
  if (outfile_claim(p.path, "-o", err, sizeof err))
    return fail("-o %s%s", err, "");
  if (gen_write(&p, err, sizeof err))
    return fail("%s%s", err, "");
  return 0;
}

/* The commands, in the order nicsim --help lists them. */
static const struct command {
  const char *name;
  int (*run)(int argc, char **argv);
} commands[] = {
    {"replay", cmd_replay},   {"review", cmd_review}, {"campaign", campaign_main}, {"merge", merge_main},
    {"gen", cmd_gen},         {"designs", cmd_designs}, {"costs", cmd_costs},     {"dmabench", cmd_dmabench},
};

static const struct command *command_find(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  /* A file size limit (ulimit -f) is a write error, not a kill: the
   * outputs then say so and leave no torn file. */
  signal(SIGXFSZ, SIG_IGN);
  /* Nor is a reader that went away (a closed pipe or FIFO): the write fails
   * with EPIPE, and the outputs remove their temporaries and say so, where
   * SIGPIPE's kill would leave a staged waveform behind. */
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    usage_main(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 && argc > 2) {
    /* nicsim help COMMAND: that command's --help. */
    const struct command *c = command_find(argv[2]);
    if (!c)
      return fail("help: unknown command '%s' (nicsim --help lists them)%s", argv[2], "");
    char help_opt[] = "--help";
    char *help_argv[] = {argv[2], help_opt, NULL};
    return c->run(2, help_argv);
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage_main(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
    printf("nicsim %s\n", NICSIM_VERSION_STRING);
    return 0;
  }
  const struct command *c = command_find(cmd);
  if (c)
    return c->run(argc - 1, argv + 1);
  return fail("unknown command '%s' (nicsim --help lists them)%s", cmd, "");
}
