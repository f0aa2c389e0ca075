/*
 * system_request_stop (what SIGINT and SIGTERM call): a stop requested at
 * any point ends the replay at the next frame, and the result is marked
 * incomplete and counts what was read; a stop requested before the flow
 * pre-pass ends that pass at once. Each test runs in its own process
 * (Check's fork mode): the stop request is process-wide and lasts.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gen.h"
#include "suite_run.h"
#include "system.h"

#define FRAMES 50000u

static char stop_trace[64];

static void make_trace(void) {
  snprintf(stop_trace, sizeof stop_trace, "/tmp/nicsim-stop-%ld.pcap", (long)getpid());
  struct gen_params g;
  gen_params_default(&g);
  g.path = stop_trace;
  g.packets = FRAMES;
  g.size_bytes = 60;
  char err[256];
  ck_assert_msg(gen_write(&g, err, sizeof err) == 0, "%s", err);
}

static void replay(const char *design, void (*progress)(void *, uint64_t, uint64_t), struct replay_result *res) {
  struct replay_opts o;
  memset(&o, 0, sizeof o);
  char err[512];
  ck_assert_msg(config_from_design(&o.cfg, design, err, sizeof err) == 0, "%s", err);
  o.trace_path = stop_trace;
  o.design = design;
  o.seed = 1;
  o.progress = progress;
  memset(res, 0, sizeof *res);
  int rc = system_replay(&o, res, err, sizeof err);
  unlink(stop_trace);
  ck_assert_msg(rc == 0, "%s", err);
}

static uint64_t stopped_at;
static void stop_at_first_progress(void *ctx, uint64_t done, uint64_t total) {
  (void)ctx;
  (void)total;
  if (!stopped_at && done) {
    stopped_at = done;
    system_request_stop();
  }
}

START_TEST(stop_during_the_replay) {
  make_trace();
  struct replay_result *res = malloc(sizeof *res);
  ck_assert_ptr_nonnull(res);
  replay("zc-shared-ring", stop_at_first_progress, res);
  ck_assert_uint_gt(stopped_at, 0);
  ck_assert_int_eq(res->incomplete, 1);
  /* Progress comes as frame N is taken from the trace, before it reaches
   * the NIC: the stop keeps it out, and the report counts the N - 1 frames
   * replayed (not the whole trace the first pass read). */
  ck_assert_uint_eq(res->trace_packets, stopped_at - 1);
  ck_assert_uint_eq(res->trace_bytes, (stopped_at - 1) * 60);
  free(res);
}
END_TEST

START_TEST(stop_before_the_pre_pass) {
  make_trace();
  struct replay_result *res = malloc(sizeof *res);
  ck_assert_ptr_nonnull(res);
  system_request_stop();
  replay("copy", NULL, res);
  ck_assert_int_eq(res->incomplete, 1);
  ck_assert_uint_le(res->trace_packets, 1);
  free(res);
}
END_TEST

START_TEST(no_stop_runs_whole) {
  make_trace();
  struct replay_result *res = malloc(sizeof *res);
  ck_assert_ptr_nonnull(res);
  replay("copy", NULL, res);
  ck_assert_int_eq(res->incomplete, 0);
  ck_assert_uint_eq(res->trace_packets, FRAMES);
  free(res);
}
END_TEST

int main(void) {
  Suite *s = suite_create("stop");
  TCase *t = tcase_create("stop");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, stop_during_the_replay);
  tcase_add_test(t, stop_before_the_pre_pass);
  tcase_add_test(t, no_stop_runs_whole);
  suite_add_tcase(s, t);
  return suite_run_forked(s);
}
