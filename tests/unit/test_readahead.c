/*
 * Records read ahead on a second thread (trace_open_opts.read_ahead) against
 * records read when asked: every file under tests/ and traces/samples/ and
 * in the shared corpus ($NICSIM_CORPUS, by default ../shared/corpus beside
 * the source tree, when present), and copies of each capture cut short, are
 * read both ways, by both record readers (direct and libpcap's), with and
 * without skip_unsupported, over two passes, and must give the same records
 * (every field and every byte), the same counts after each pass, the same
 * end (clean, or the same error text on the same record); a file that does
 * not open must fail with the same text. Generated captures cross many
 * batches, records larger than a batch, and stops anywhere: closing or
 * rewinding after any number of records, --limit and a stop request in a
 * whole replay, leave no thread behind; the reader thread blocks every
 * signal.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, nftw */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "cpus.h"
#include "gen.h"
#include "suite_run.h"
#include "system.h"
#include "trace.h"

#define CORPUS_DEFAULT NICSIM_SOURCE_DIR "/../shared/corpus"
#define MAX_FILES 2048

static char *files[MAX_FILES];
static int nfiles;
static char tmpdir[] = "/tmp/nicsim-test-readahead-XXXXXX";

/* ---- reading a file both ways ---- */

static struct trace *open_mode(const char *path, int ahead, int libpcap, int skip, char *err,
                               size_t n) {
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  o.read_ahead = ahead ? TRACE_READ_AHEAD_ON : TRACE_READ_AHEAD_OFF;
  o.libpcap_records = libpcap;
  o.skip_unsupported = skip;
  return trace_open2(path, &o, err, n);
}

/* Every field of a record but its pointers, as one line. */
static void describe(const struct trace_record *r, char *out, size_t n) {
  snprintf(out, n,
           "record %llu: ts_ps %llu (%lld.%09u) caplen %u origlen %u flags 0x%x; "
           "file: caplen %u origlen %u linktype %d ts %lld.%09u",
           (unsigned long long)r->index, (unsigned long long)r->ts_ps, (long long)r->ts_sec,
           (unsigned)r->ts_nsec, (unsigned)r->caplen, (unsigned)r->origlen, (unsigned)r->flags,
           (unsigned)r->orig_caplen, (unsigned)r->orig_origlen, r->orig_linktype,
           (long long)r->orig_ts_sec, (unsigned)r->orig_ts_nsec);
}

/* Read `off` and `on` in lockstep to their ends, `passes` times (rewinding
 * between passes), comparing everything; `stop_after` records into the
 * first pass (when not UINT64_MAX) both are rewound early. Returns the
 * records of the last pass. */
static uint64_t lockstep(const char *path, struct trace *off, struct trace *on, int passes,
                         uint64_t stop_after) {
  uint64_t n = 0;
  for (int pass = 0; pass < passes; pass++) {
    char eoff[1024], eon[1024], doff[512], don[512];
    struct trace_record roff, ron;
    int rcoff, rcon;
    n = 0;
    for (;;) {
      eoff[0] = eon[0] = '\0';
      rcoff = trace_next(off, &roff, eoff, sizeof eoff);
      rcon = trace_next(on, &ron, eon, sizeof eon);
      /* (ck_abort_msg, not ck_assert, per record: each ck_assert costs
       * Check a write) */
      if (rcoff != rcon)
        ck_abort_msg("%s: read ahead %d (%s), read when asked %d (%s)", path, rcon, eon, rcoff,
                     eoff);
      if (rcoff != 1)
        break;
      describe(&roff, doff, sizeof doff);
      describe(&ron, don, sizeof don);
      if (strcmp(doff, don) != 0)
        ck_abort_msg("%s: read ahead %s; read when asked %s", path, don, doff);
      if (memcmp(ron.data, roff.data, ron.caplen) != 0 ||
          memcmp(ron.orig_data, roff.orig_data, ron.orig_caplen) != 0)
        ck_abort_msg("%s: %s: the bytes differ", path, don);
      n++;
      if (pass == 0 && n == stop_after)
        break;
    }
    if (rcoff < 0) {
      ck_assert_str_eq(eon, eoff);
      /* the failure is sticky, the same both ways */
      ck_assert_int_eq(trace_next(on, &ron, eon, sizeof eon), -1);
      ck_assert_str_eq(eon, eoff);
    }
    ck_assert_msg(memcmp(trace_stats(on), trace_stats(off), sizeof(struct trace_stats)) == 0,
                  "%s: the counts differ after pass %d", path, pass);
    if (pass + 1 < passes) {
      ck_assert_int_eq(trace_rewind(off, eoff, sizeof eoff), 0);
      ck_assert_int_eq(trace_rewind(on, eon, sizeof eon), 0);
    }
  }
  return n;
}

/* Open PATH both ways with one reader; compare. Returns 1 when it opened. */
static int compare_file(const char *path, int libpcap, int skip, int passes, uint64_t stop_after) {
  char eoff[1024], eon[1024];
  struct trace *off = open_mode(path, 0, libpcap, skip, eoff, sizeof eoff);
  struct trace *on = open_mode(path, 1, libpcap, skip, eon, sizeof eon);
  if (off == NULL || on == NULL) {
    ck_assert_msg(off == NULL && on == NULL, "%s: opened one way only: %s", path,
                  off ? eon : eoff);
    ck_assert_str_eq(eon, eoff);
    return 0;
  }
  ck_assert_int_eq(trace_reads_ahead(on), 1);
  ck_assert_int_eq(trace_reads_ahead(off), 0);
  ck_assert_int_eq(trace_direct(on), trace_direct(off));
  lockstep(path, off, on, passes, stop_after);
  trace_close(on);
  trace_close(off);
  return 1;
}

/* Reader threads of this process: tasks named trace-reader (readahead.h),
 * whose ids go in tids when given. Sanitizer runtimes may have threads of
 * their own, hence the name. */
static int readers_tids(long *tids, int max) {
  DIR *d = opendir("/proc/self/task");
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[300], name[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      continue; /* ended meanwhile */
    if (fgets(name, sizeof name, f) != NULL && strcmp(name, "trace-reader\n") == 0) {
      if (n < max)
        tids[n] = atol(e->d_name);
      n++;
    }
    fclose(f);
  }
  closedir(d);
  return n;
}

static int readers(void) { return readers_tids(NULL, 0); }

/* The first `len` bytes of src copied to dst. */
static void copy_prefix(const char *src, const char *dst, off_t len) {
  FILE *in = fopen(src, "rb");
  FILE *out = fopen(dst, "wb");
  ck_assert_msg(in && out, "%s -> %s: %s", src, dst, strerror(errno));
  char buf[65536];
  off_t left = len;
  while (left > 0) {
    size_t want = left < (off_t)sizeof buf ? (size_t)left : sizeof buf;
    size_t got = fread(buf, 1, want, in);
    ck_assert_uint_eq(got, want);
    ck_assert_uint_eq(fwrite(buf, 1, got, out), got);
    left -= (off_t)got;
  }
  fclose(in);
  ck_assert_int_eq(fclose(out), 0);
}

/* ---- the files ---- */

static int take(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)ftw;
  if (type == FTW_F && S_ISREG(st->st_mode) && nfiles < MAX_FILES)
    files[nfiles++] = strdup(path);
  return 0;
}

START_TEST(every_file) {
  ck_assert_int_lt(_i, nfiles);
  const char *path = files[_i];
  int opened = 0;
  for (int libpcap = 0; libpcap < 2; libpcap++)
    for (int skip = 0; skip < 2; skip++)
      opened = compare_file(path, libpcap, skip, 2, UINT64_MAX);
  if (!opened)
    return;
  /* Cut short: torn in a record header or its bytes, wherever the cut
   * falls. */
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  char cut[600];
  snprintf(cut, sizeof cut, "%s/cut", tmpdir);
  off_t at[] = {st.st_size / 3, st.st_size / 2, st.st_size - 1, st.st_size - 5,
                st.st_size - 17};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
    if (at[k] <= 0)
      continue;
    copy_prefix(path, cut, at[k]);
    for (int libpcap = 0; libpcap < 2; libpcap++)
      compare_file(cut, libpcap, 1, 1, UINT64_MAX);
  }
  unlink(cut);
}
END_TEST

/* ---- generated captures ---- */

enum { MANY = 30000 }; /* 60-byte frames: about ten batches */

static void gen_many(const char *path) {
  struct gen_params g;
  gen_params_default(&g);
  g.path = path;
  g.packets = MANY;
  g.size_bytes = 60;
  g.flows = 16;
  char err[256];
  ck_assert_msg(gen_write(&g, err, sizeof err) == 0, "%s", err);
}

/* Many batches, over and over, with the ring full while the reader waits,
 * stopped anywhere: after k records a rewind (then two whole passes the
 * same; k = 0: three whole passes) or a close; the reader thread is gone
 * after either. Both readers. */
START_TEST(stop_anywhere) {
  char path[600];
  snprintf(path, sizeof path, "%s/stop.pcap", tmpdir);
  gen_many(path);
  const uint64_t ks[] = {0, 1, 2, 2979, 2980, 2981, 8000, MANY - 1, MANY};
  ck_assert_int_eq(readers(), 0);
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    for (int libpcap = 0; libpcap < 2; libpcap++) {
      char err[512];
      struct trace *off = open_mode(path, 0, libpcap, 0, err, sizeof err);
      struct trace *on = open_mode(path, 1, libpcap, 0, err, sizeof err);
      ck_assert_ptr_nonnull(on);
      ck_assert_ptr_nonnull(off);
      ck_assert_uint_eq(lockstep(path, off, on, 3, ks[i]), MANY);
      /* and closed k records into a pass, the reader wherever it is
       * (within 8,000 records it cannot have reached the end: it is at
       * most four batches of 2,979 records ahead) */
      ck_assert_int_eq(trace_rewind(on, err, sizeof err), 0);
      struct trace_record r;
      for (uint64_t k = 0; k < ks[i]; k++)
        if (trace_next(on, &r, err, sizeof err) != 1)
          ck_abort_msg("record %llu: %s", (unsigned long long)k, err);
      if (ks[i] <= 8000)
        ck_assert_int_eq(readers(), ks[i] > 0);
      trace_close(on);
      trace_close(off);
      ck_assert_int_eq(readers(), 0);
    }
  }
  /* rewound at once, before any record, and closed unread */
  char err[512];
  struct trace *on = open_mode(path, 1, 0, 0, err, sizeof err);
  ck_assert_int_eq(trace_rewind(on, err, sizeof err), 0);
  trace_close(on);
  ck_assert_int_eq(readers(), 0);
  unlink(path);
}
END_TEST

/* Records larger than a batch (262,144 bytes, libpcap's largest), after
 * small ones, in a standard pcap file (both readers) and cut inside the
 * last one. */
START_TEST(records_larger_than_a_batch) {
  char path[600], cut[600];
  snprintf(path, sizeof path, "%s/jumbo.pcap", tmpdir);
  snprintf(cut, sizeof cut, "%s/jumbo-cut.pcap", tmpdir);
  pcap_t *dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
  ck_assert_ptr_nonnull(dead);
  pcap_dumper_t *d = pcap_dump_open(dead, path);
  ck_assert_ptr_nonnull(d);
  enum { BIG = 262144 };
  uint8_t *frame = malloc(BIG);
  ck_assert_ptr_nonnull(frame);
  for (uint32_t i = 0; i < BIG; i++)
    frame[i] = (uint8_t)(i * 13 + i / 251);
  uint32_t sizes[] = {60, 60, 1514, BIG, 60, BIG, BIG, 9000, BIG};
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      /* 1,500 small records first, so that a large one does not fit in
       * what is left of a batch */
      for (int k = 0; k < (i == 3 ? 1500 : 1); k++) {
        struct pcap_pkthdr h;
        memset(&h, 0, sizeof h);
        h.ts.tv_sec = 1700000000 + round;
        h.ts.tv_usec = (suseconds_t)(i * 1000 + (size_t)k);
        h.caplen = h.len = sizes[i];
        frame[0] = (uint8_t)k;
        pcap_dump((u_char *)d, &h, frame);
      }
    }
  pcap_dump_close(d);
  pcap_close(dead);
  free(frame);
  for (int libpcap = 0; libpcap < 2; libpcap++)
    ck_assert_int_eq(compare_file(path, libpcap, 0, 2, UINT64_MAX), 1);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  copy_prefix(path, cut, st.st_size - BIG / 2);
  for (int libpcap = 0; libpcap < 2; libpcap++)
    ck_assert_int_eq(compare_file(cut, libpcap, 0, 2, UINT64_MAX), 1);
  unlink(cut);
  unlink(path);
}
END_TEST

/* The reader thread blocks every signal that can be blocked, so SIGINT,
 * SIGTERM and the rest reach the thread that runs the simulation. */
START_TEST(reader_blocks_signals) {
  char path[600];
  snprintf(path, sizeof path, "%s/sig.pcap", tmpdir);
  gen_many(path);
  char err[512];
  struct trace *on = open_mode(path, 1, 0, 0, err, sizeof err);
  ck_assert_ptr_nonnull(on);
  struct trace_record r;
  ck_assert_int_eq(trace_next(on, &r, err, sizeof err), 1);
  long tid;
  ck_assert_int_eq(readers_tids(&tid, 1), 1);
  char status[300], line[256];
  snprintf(status, sizeof status, "/proc/self/task/%ld/status", tid);
  FILE *f = fopen(status, "r");
  ck_assert_ptr_nonnull(f);
  unsigned long long blocked = 0;
  int found = 0;
  while (fgets(line, sizeof line, f) != NULL)
    found |= sscanf(line, "SigBlk: %llx", &blocked) == 1;
  fclose(f);
  ck_assert(found);
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      ck_assert_msg(blocked & (1ull << (sig - 1)), "signal %d is not blocked in the reader (%llx)",
                    sig, blocked);
  /* and the caller's own mask is as it was */
  sigset_t mine;
  ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &mine), 0);
  ck_assert_int_eq(sigismember(&mine, SIGINT), 0);
  ck_assert_int_eq(sigismember(&mine, SIGTERM), 0);
  trace_close(on);
  unlink(path);
}
END_TEST

/* AUTO follows the CPUs the process may run on: never on one. */
START_TEST(auto_follows_the_cpus) {
  char path[600];
  snprintf(path, sizeof path, "%s/auto.pcap", tmpdir);
  gen_many(path);
  cpu_set_t all, one;
  ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  ck_assert_int_eq(o.read_ahead, TRACE_READ_AHEAD_OFF);
  o.read_ahead = TRACE_READ_AHEAD_AUTO;
  char err[512];
  struct trace *t = trace_open2(path, &o, err, sizeof err);
  ck_assert_ptr_nonnull(t);
  /* on only with 2 CPUs or more (and then as the load allows) */
  if (trace_reads_ahead(t))
    ck_assert_int_ge(CPU_COUNT(&all), 2);
  trace_close(t);
  /* pinned to one CPU: off (this test runs in a process of its own) */
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
  t = trace_open2(path, &o, err, sizeof err);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(trace_reads_ahead(t), 0);
  ck_assert_int_eq(cpus_usable(), 1);
  ck_assert_int_eq(cpus_spare(), 0);
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- whole replays ---- */

/* Stops the replay once 8,192 frames were taken (the second progress
 * call), the reader well ahead. */
static uint64_t stopped_at;
static void stop_midway(void *ctx, uint64_t done, uint64_t total) {
  (void)ctx;
  (void)total;
  if (done < 2 * SYSTEM_PROGRESS_FRAMES || stopped_at != 0)
    return;
  stopped_at = done;
  system_request_stop();
}

/* A replay of design copy reading ahead, of a generated capture of MANY
 * frames; the reader thread is gone when it returns. The caller frees. */
static struct replay_result *replay_ahead(uint64_t limit, void (*progress)(void *, uint64_t, uint64_t)) {
  char path[600];
  snprintf(path, sizeof path, "%s/replay.pcap", tmpdir);
  gen_many(path);
  struct replay_opts o;
  memset(&o, 0, sizeof o);
  char err[512];
  ck_assert_msg(config_from_design(&o.cfg, "copy", err, sizeof err) == 0, "%s", err);
  o.trace_path = path;
  o.design = "copy";
  o.seed = 1;
  o.limit_frames = limit;
  o.progress = progress;
  o.read_ahead = TRACE_READ_AHEAD_ON;
  struct replay_result *res = calloc(1, sizeof *res);
  ck_assert_ptr_nonnull(res);
  int rc = system_replay(&o, res, err, sizeof err);
  unlink(path);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(readers(), 0);
  return res;
}

/* --limit stops both passes early (one replay per process: the simulation
 * kernel is set up once). The reports of replays with and without
 * read-ahead are compared whole by read_ahead.sh. */
static const uint64_t limits[] = {1, 2981, 12345, 0};

START_TEST(replay_with_limit) {
  struct replay_result *res = replay_ahead(limits[_i], NULL);
  ck_assert_uint_eq(res->trace_packets, limits[_i] ? limits[_i] : MANY);
  ck_assert_uint_eq(res->trace_bytes, res->trace_packets * 60);
  ck_assert_int_eq(res->incomplete, 0);
  free(res);
}
END_TEST

/* A stop request (what SIGINT and SIGTERM make) in the replay: the reader
 * is stopped and joined, the report counts the frames replayed. */
START_TEST(replay_stopped) {
  struct replay_result *res = replay_ahead(0, stop_midway);
  ck_assert_uint_gt(stopped_at, 0);
  ck_assert_int_eq(res->incomplete, 1);
  ck_assert_uint_eq(res->trace_packets, stopped_at - 1);
  free(res);
}
END_TEST

int main(void) {
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return EXIT_FAILURE;
  }
  const char *corpus = getenv("NICSIM_CORPUS");
  nftw(NICSIM_SOURCE_DIR "/tests", take, 16, FTW_PHYS);
  nftw(NICSIM_SOURCE_DIR "/traces/samples", take, 16, FTW_PHYS);
  nftw(corpus && corpus[0] ? corpus : CORPUS_DEFAULT, take, 16, FTW_PHYS);
  Suite *s = suite_create("readahead");
  TCase *tc = tcase_create("readahead");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, stop_anywhere);
  tcase_add_test(tc, records_larger_than_a_batch);
  tcase_add_test(tc, reader_blocks_signals);
  tcase_add_test(tc, auto_follows_the_cpus);
  tcase_add_loop_test(tc, replay_with_limit, 0, sizeof limits / sizeof limits[0]);
  tcase_add_test(tc, replay_stopped);
  tcase_add_loop_test(tc, every_file, 0, nfiles);
  suite_add_tcase(s, tc);
  int rc = suite_run_forked(s);
  for (int i = 0; i < nfiles; i++)
    free(files[i]);
  rmdir(tmpdir);
  return rc;
}
