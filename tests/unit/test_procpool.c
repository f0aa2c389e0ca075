/*
 * test_procpool: the pool of worker processes runs every job once, at most
 * width at a time, and starts the next job as soon as a slot is free (not
 * on its safety tick, which these tests make longer than Check's timeout,
 * so that a pool that waits for it fails by timing out).
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procpool.h"
#include "suite_run.h"

#define NJOBS 6

struct rec {
  int status[NJOBS];
  int how[NJOBS];
  int calls[NJOBS];
  size_t order[NJOBS];
  size_t ndone;
};

static int child_exit_job(void *ctx, size_t job) {
  (void)ctx;
  return (int)job + 3;
}

static void done_record(void *ctx, size_t job, int wstatus, int how) {
  struct rec *r = ctx;
  ck_assert_uint_lt(job, NJOBS);
  r->calls[job]++;
  r->status[job] = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  r->how[job] = how;
  r->order[r->ndone++] = job;
}

static void run_and_check(unsigned width) {
  struct rec r;
  memset(&r, 0, sizeof r);
  /* An hour: were the pool to wait for its tick, Check's timeout ends it. */
  struct procpool_ops ops = {child_exit_job, done_record, 3600u * 1000u};
  ck_assert_int_eq(procpool_run(NJOBS, width, &ops, &r), 0);
  ck_assert_uint_eq(r.ndone, NJOBS);
  for (size_t j = 0; j < NJOBS; j++) {
    ck_assert_int_eq(r.calls[j], 1);
    ck_assert_int_eq(r.how[j], 0);
    ck_assert_int_eq(r.status[j], (int)j + 3);
  }
  if (width == 1) /* one at a time: in order */
    for (size_t j = 0; j < NJOBS; j++)
      ck_assert_uint_eq(r.order[j], j);
}

START_TEST(one_at_a_time) { run_and_check(1); }
END_TEST

START_TEST(two_at_a_time) { run_and_check(2); }
END_TEST

START_TEST(wider_than_the_jobs) { run_and_check(NJOBS + 4); }
END_TEST

/* The pool leaves no SIGCHLD pending and the caller's signal mask as it was. */
START_TEST(mask_restored) {
  sigset_t before, after;
  sigprocmask(SIG_SETMASK, NULL, &before);
  run_and_check(1);
  sigprocmask(SIG_SETMASK, NULL, &after);
  for (int s = 1; s < 32; s++)
    ck_assert_int_eq(sigismember(&before, s), sigismember(&after, s));
  sigset_t pending;
  sigpending(&pending);
  ck_assert_int_eq(sigismember(&pending, SIGCHLD), 0);
}
END_TEST

/* Ctrl-C reaches the whole process group: a job that ended of it before
 * the pool took its own signal was stopped, not failed. Job 1 waits until
 * job 0 was reaped, sends the pool's process SIGINT and exits as a replay
 * stopped by it does (130); the pool then reaps it with the signal pending,
 * and must report it stopped and return the signal. */
static int group_pipe[2];

static int child_group_job(void *ctx, size_t job) {
  (void)ctx;
  if (job == 1) {
    char c;
    while (read(group_pipe[0], &c, 1) < 0)
      ;
    kill(getppid(), SIGINT);
    return 130;
  }
  return 0;
}

static void done_group(void *ctx, size_t job, int wstatus, int how) {
  done_record(ctx, job, wstatus, how);
  if (job == 0 && how == 0) {
    /* Let job 1 go, and wait until it has exited (not reaping it). */
    ck_assert_int_eq(write(group_pipe[1], "x", 1), 1);
    siginfo_t si;
    ck_assert_int_eq(waitid(P_ALL, 0, &si, WEXITED | WNOWAIT), 0);
  }
}

static void on_sigint(int sig) { (void)sig; }

START_TEST(group_signal_stops) {
  struct rec r;
  memset(&r, 0, sizeof r);
  ck_assert_int_eq(pipe(group_pipe), 0);
  signal(SIGINT, on_sigint); /* the caller's handler: a SIGINT left over must not end the test */
  struct procpool_ops ops = {child_group_job, done_group, 3600u * 1000u};
  ck_assert_int_eq(procpool_run(2, 2, &ops, &r), SIGINT);
  ck_assert_int_eq(r.calls[0], 1);
  ck_assert_int_eq(r.calls[1], 1);
  ck_assert_int_eq(r.how[0], 0);
  ck_assert_int_eq(r.how[1], PROCPOOL_STOPPED);
}
END_TEST

int main(void) {
  Suite *s = suite_create("procpool");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, one_at_a_time);
  tcase_add_test(tc, two_at_a_time);
  tcase_add_test(tc, wider_than_the_jobs);
  tcase_add_test(tc, mask_restored);
  tcase_add_test(tc, group_signal_stops);
  suite_add_tcase(s, tc);
  return suite_run_forked(s); /* Check's timeout needs a process per test */
}
