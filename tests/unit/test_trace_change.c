/*
 * A capture that changes while it is read: the replay reads it twice (a
 * first pass for flows and owners, then the replay), so a file appended to,
 * cut short or rewritten in between would give a report whose counts come
 * from one file and whose verdicts from another. Every reader (direct,
 * libpcap, reading ahead) must refuse it with one line naming the file; an
 * unchanged file reads as before. Scratch files go to $TMPDIR (or /tmp).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "gen.h"
#include "suite_run.h"
#include "system.h"
#include "trace.h"

#define FRAMES 30000u
#define FRAME_BYTES 60u
#define RECORD_BYTES (16u + FRAME_BYTES)
#define HEADER_BYTES 24u

static char path[600];
static char err[1024];

static void make_trace(uint64_t frames) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/nicsim-change-%ld.pcap", dir && *dir ? dir : "/tmp", (long)getpid());
  struct gen_params g;
  gen_params_default(&g);
  g.path = path;
  g.packets = frames;
  g.flows = 8;
  g.size_bytes = FRAME_BYTES;
  ck_assert_msg(gen_write(&g, err, sizeof err) == 0, "%s", err);
}

/* Append the file's own records once more (a capture still being written). */
static void append_records(void) {
  int fd = open(path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  struct stat st;
  ck_assert_int_eq(fstat(fd, &st), 0);
  size_t n = (size_t)st.st_size - HEADER_BYTES;
  uint8_t *b = malloc(n);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(pread(fd, b, n, HEADER_BYTES), (ssize_t)n);
  ck_assert_int_eq(pwrite(fd, b, n, st.st_size), (ssize_t)n);
  free(b);
  close(fd);
}

static void cut_to_records(uint64_t records) {
  ck_assert_int_eq(truncate(path, (off_t)(HEADER_BYTES + records * RECORD_BYTES)), 0);
}

/* Same size, other bytes (each record's UDP source port), and the
 * modification time set back to what it was: nothing stat(2) sees. */
static void rewrite_keeping_mtime(void) {
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  int fd = open(path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  for (uint64_t i = 0; i < FRAMES; i++) {
    uint8_t port[2] = {0x12, (uint8_t)i};
    ck_assert_int_eq(pwrite(fd, port, 2, (off_t)(HEADER_BYTES + i * RECORD_BYTES + 16 + 34)), 2);
  }
  /* and the last record's wire length, so the counts differ too */
  uint8_t len[4] = {FRAME_BYTES + 100, 0, 0, 0};
  ck_assert_int_eq(pwrite(fd, len, 4, (off_t)(HEADER_BYTES + (FRAMES - 1) * RECORD_BYTES + 12)), 4);
  close(fd);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Same size, other bytes, a later modification time. */
static void rewrite_in_place(void) {
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  int fd = open(path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  uint8_t port[2] = {0x12, 0x34};
  ck_assert_int_eq(pwrite(fd, port, 2, HEADER_BYTES + 16 + 34), 2);
  close(fd);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ts[1].tv_sec += 1; /* whatever the file system's timestamp granularity */
  ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* The three ways records are read. */
static struct trace *open_with(int reader) {
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  o.libpcap_records = reader == 1;
  o.read_ahead = reader == 2 ? TRACE_READ_AHEAD_ON : TRACE_READ_AHEAD_OFF;
  struct trace *t = trace_open2(path, &o, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  ck_assert_int_eq(trace_direct(t), reader != 1);
  return t;
}

static uint64_t read_to_end(struct trace *t, int *rc) {
  struct trace_record r;
  uint64_t n = 0;
  while ((*rc = trace_next(t, &r, err, sizeof err)) == 1)
    n++;
  return n;
}

static void assert_changed_message(void) {
  ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strstr(err, ": changed while it was read") != NULL,
                "%s", err);
  ck_assert_ptr_null(strchr(err, '\n'));
}

/* Changed between two passes: the rewind says so, and so does every read after it. */
static void check_between_passes(int reader, void (*change)(void)) {
  make_trace(FRAMES);
  struct trace *t = open_with(reader);
  int rc;
  ck_assert_uint_eq(read_to_end(t, &rc), FRAMES);
  ck_assert_int_eq(rc, 0);
  change();
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), -1);
  assert_changed_message();
  struct trace_record r;
  err[0] = 0;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  assert_changed_message();
  trace_close(t);
  unlink(path);
}

START_TEST(appended_between_passes) { check_between_passes(_i, append_records); }
END_TEST

static void cut_to_half(void) { cut_to_records(FRAMES / 2); }

START_TEST(cut_between_passes) { check_between_passes(_i, cut_to_half); }
END_TEST

START_TEST(rewritten_between_passes) { check_between_passes(_i, rewrite_in_place); }
END_TEST

/* Changed during a pass: the end of the pass (or the torn record the change
 * left) says the file changed, not that it ended or is torn. */
static void check_during_pass(int reader, void (*change)(void)) {
  make_trace(FRAMES);
  struct trace *t = open_with(reader);
  struct trace_record r;
  for (unsigned i = 0; i < 100; i++)
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  change();
  int rc;
  read_to_end(t, &rc);
  ck_assert_int_eq(rc, -1);
  assert_changed_message();
  trace_close(t);
  unlink(path);
}

START_TEST(appended_during_pass) { check_during_pass(_i, append_records); }
END_TEST

static void cut_mid_record(void) {
  ck_assert_int_eq(truncate(path, (off_t)(HEADER_BYTES + (FRAMES / 2) * RECORD_BYTES + 30)), 0);
}

START_TEST(cut_during_pass) { check_during_pass(_i, cut_mid_record); }
END_TEST

/* Unchanged: both passes read everything, no false alarm. */
START_TEST(unchanged_reads_twice) {
  make_trace(FRAMES);
  struct trace *t = open_with(_i);
  int rc;
  ck_assert_uint_eq(read_to_end(t, &rc), FRAMES);
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  ck_assert_uint_eq(read_to_end(t, &rc), FRAMES);
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(trace_unchanged(t, err, sizeof err), 0);
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- the whole replay ---- */

static void (*change_at_progress)(void);
static int changed_once;

static void progress_change(void *ctx, uint64_t done, uint64_t total) {
  (void)ctx;
  (void)total;
  if (!changed_once && done > 0 && done < FRAMES) {
    changed_once = 1;
    change_at_progress();
  }
}

/* Replay `design` while the file is changed as the replay (the second pass)
 * reaches frame 4096; -1 expected, with the message in err. */
static int replay_changing(const char *design, void (*change)(void), uint64_t limit, int read_ahead) {
  make_trace(FRAMES);
  struct replay_opts o;
  memset(&o, 0, sizeof o);
  ck_assert_msg(config_from_design(&o.cfg, design, err, sizeof err) == 0, "%s", err);
  o.trace_path = path;
  o.design = design;
  o.seed = 1;
  o.limit_frames = limit;
  o.read_ahead = read_ahead;
  o.progress = progress_change;
  change_at_progress = change;
  changed_once = 0;
  struct replay_result *res = malloc(sizeof *res);
  ck_assert_ptr_nonnull(res);
  int rc = system_replay(&o, res, err, sizeof err);
  free(res);
  unlink(path);
  ck_assert_int_eq(changed_once, 1);
  return rc;
}

START_TEST(replay_of_a_file_appended_to) {
  ck_assert_int_eq(replay_changing("copy", append_records, 0, _i == 1), -1);
  assert_changed_message();
}
END_TEST

START_TEST(replay_of_a_file_cut_short) {
  ck_assert_int_eq(replay_changing("zc-shared-ring", cut_to_half, 0, _i == 1), -1);
  assert_changed_message();
}
END_TEST

/* --limit: the replay does not read to the end of the file, and still notices. */
START_TEST(replay_with_limit_of_a_file_rewritten) {
  ck_assert_int_eq(replay_changing("copy", rewrite_in_place, FRAMES / 2, _i == 1), -1);
  assert_changed_message();
}
END_TEST

/* A change stat(2) cannot see (the modification time put back): the two
 * passes' counts disagree, and the replay says so. */
START_TEST(replay_of_a_file_rewritten_unseen) {
  ck_assert_int_eq(replay_changing("copy", rewrite_keeping_mtime, 0, _i == 1), -1);
  ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && strstr(err, "the replay read") != NULL, "%s", err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("trace_change");
  TCase *t = tcase_create("trace");
  tcase_set_timeout(t, 120);
  /* _i: 0 the direct reader, 1 libpcap, 2 reading ahead */
  const TTest *trace_tests[] = {appended_between_passes, cut_between_passes, rewritten_between_passes,
                                appended_during_pass,    cut_during_pass,    unchanged_reads_twice};
  for (size_t i = 0; i < sizeof trace_tests / sizeof trace_tests[0]; i++)
    tcase_add_loop_test(t, trace_tests[i], 0, 3);
  suite_add_tcase(s, t);
  TCase *r = tcase_create("replay");
  tcase_set_timeout(r, 300);
  /* _i: 0 reading in the simulation's thread, 1 reading ahead */
  const TTest *replay_tests[] = {replay_of_a_file_appended_to, replay_of_a_file_cut_short,
                                 replay_with_limit_of_a_file_rewritten, replay_of_a_file_rewritten_unseen};
  for (size_t i = 0; i < sizeof replay_tests / sizeof replay_tests[0]; i++)
    tcase_add_loop_test(r, replay_tests[i], 0, 2);
  suite_add_tcase(s, r);
  return suite_run_forked(s);
}
