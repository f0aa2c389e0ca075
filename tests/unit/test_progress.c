/*
 * sim/tool/progress: the text of the progress line (progress.h): done/total,
 * percent, rate with its unit, elapsed time, ETA from the rate; an unknown
 * rate shows no rate and ETA "?"; past an hour H:MM:SS. Off a terminal
 * nothing is written (progress_start on a pipe).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "suite_run.h"

START_TEST(line_with_total) {
  char b[PROGRESS_LINE_MAX];
  progress_format(b, sizeof b, "replay", "frames", 250000, 1000000, 0.5, 500000, NULL);
  ck_assert_str_eq(b, "replay: 250000/1000000 frames (25%), 500 kframes/s, elapsed 0:01, ETA 0:02");
  progress_format(b, sizeof b, "review", "runs", 3, 11, 75, 0.04, "copy done");
  ck_assert_str_eq(b, "review: 3/11 runs (27%), 0.04 runs/s, elapsed 1:15, ETA 3:20, copy done");
  progress_format(b, sizeof b, "replay", "frames", 9, 10, 4000, 2e-3, NULL);
  ck_assert_str_eq(b, "replay: 9/10 frames (90%), 0.002 frames/s, elapsed 1:06:40, ETA 8:20");
}
END_TEST

START_TEST(unknown_rate_and_total) {
  char b[PROGRESS_LINE_MAX];
  progress_format(b, sizeof b, "replay", "frames", 4096, 60000, 0.1, 0, NULL);
  ck_assert_str_eq(b, "replay: 4096/60000 frames (7%), elapsed 0:00, ETA ?");
  progress_format(b, sizeof b, "campaign", "runs", 7, 0, 2, 3.5, "1 failed");
  ck_assert_str_eq(b, "campaign: 7 runs, 3.5 runs/s, elapsed 0:02, 1 failed");
  progress_format(b, sizeof b, "replay", "frames", 10, 10, 2, 1.2e6, NULL);
  ck_assert_str_eq(b, "replay: 10/10 frames (100%), 1.2 Mframes/s, elapsed 0:02, ETA 0:00");
}
END_TEST

START_TEST(silent_off_a_terminal) {
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  int saved = dup(2);
  dup2(fds[1], 2);
  struct progress p;
  progress_start(&p, "replay", "frames", 0);
  progress_update(&p, 1, 2, NULL);
  progress_clear(&p);
  fflush(stderr);
  dup2(saved, 2);
  close(fds[1]);
  char buf[64];
  ck_assert_int_eq(read(fds[0], buf, sizeof buf), 0);
  close(fds[0]);
  ck_assert_ptr_null(p.out);
}
END_TEST

int main(void) {
  Suite *s = suite_create("progress");
  TCase *tc = tcase_create("line");
  tcase_add_test(tc, line_with_total);
  tcase_add_test(tc, unknown_rate_and_total);
  tcase_add_test(tc, silent_off_a_terminal);
  suite_add_tcase(s, tc);
  return suite_run(s);
}
