/*
 * sim/core/kernel/simk.cpp: the C API over SystemC. Ordering (time, then notify
 * order), re-notify and cancel, notify(0) from callbacks, stop/continue,
 * run_until edges, the counter, VCD output and silence on stdout/stderr.
 * Every test case runs in its own forked process (forced below), so each
 * starts with a fresh SystemC kernel: SystemC cannot restart after sc_stop.
 * Scratch files go to a mkdtemp directory under /tmp and are removed.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simk.h"
#include "prng.h"

static char err[512];

/* ---- helpers: a log of (event index, time) of every callback ---- */

#define MAXLOG 4096
static struct {
  int id;
  uint64_t t;
} logv[MAXLOG];
static int nlog;

static void rec(void *arg) {
  ck_assert_int_lt(nlog, MAXLOG);
  logv[nlog].id = (int)(intptr_t)arg;
  logv[nlog].t = simk_now_ps();
  nlog++;
}

static struct simk_event *mk(const char *name, simk_callback cb, int id) {
  struct simk_event *ev = simk_event_new(name, cb, (void *)(intptr_t)id);
  ck_assert_ptr_nonnull(ev);
  return ev;
}

static uint64_t rng_state = 1;
static uint64_t rnd(void) { return prng_splitmix64(&rng_state); } /* fixed seed, reproducible */
static void shuffle(int *v, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(rnd() % (uint64_t)(i + 1)), t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

static void tmpdir(char *dir, size_t len) {
  snprintf(dir, len, "/tmp/test_simk.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* ---- ordering ---- */

START_TEST(test_init) {
  ck_assert_int_eq(simk_init(err, sizeof err), 0);
  ck_assert_int_eq(simk_init(err, sizeof err), 0); /* idempotent */
  ck_assert_uint_eq(simk_now_ps(), 0);
  ck_assert_uint_eq(simk_events_dispatched(), 0);
  struct simk_event *ev = mk("a name with spaces.and.dots", rec, 0);
  ck_assert_str_eq(simk_event_name(ev), "a name with spaces.and.dots");
  struct simk_event *ev2 = mk("a name with spaces.and.dots", rec, 1); /* not unique */
  ck_assert_ptr_ne(ev, ev2);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE); /* nothing pending */
  ck_assert_int_eq(nlog, 0);
}
END_TEST

START_TEST(test_time_order) {
  enum { N = 64 };
  struct simk_event *ev[N];
  int perm[N];
  for (int i = 0; i < N; i++) {
    ev[i] = mk("t", rec, i);
    perm[i] = i;
  }
  shuffle(perm, N);
  /* Event i is due at 1000 + 37 * i ps (a power of ten apart would hide a
   * units mistake less well); notified in scrambled order. */
  for (int k = 0; k < N; k++) simk_event_notify(ev[perm[k]], 1000 + 37 * (uint64_t)perm[k]);
  for (int i = 0; i < N; i++) ck_assert(simk_event_pending(ev[i]));
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_int_eq(nlog, N);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(logv[i].id, i);
    ck_assert_uint_eq(logv[i].t, 1000 + 37 * (uint64_t)i);
    ck_assert(!simk_event_pending(ev[i]));
  }
  /* simk_run stops at the last event, it does not run on to some limit. */
  ck_assert_uint_eq(simk_now_ps(), 1000 + 37 * (N - 1));
  /* Delays count from now, also between runs. */
  simk_event_notify(ev[5], 10);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_uint_eq(logv[N].t, 1000 + 37 * (N - 1) + 10);
}
END_TEST

START_TEST(test_fifo_equal_time) {
  enum { N = 1000 };
  struct simk_event *ev[N];
  int order[N];
  for (int i = 0; i < N; i++) {
    ev[i] = mk("same", rec, i);
    order[i] = i;
  }
  shuffle(order, N);
  for (int k = 0; k < N; k++) simk_event_notify(ev[order[k]], 500);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_int_eq(nlog, N);
  for (int k = 0; k < N; k++) {
    ck_assert_int_eq(logv[k].id, order[k]);
    ck_assert_uint_eq(logv[k].t, 500);
  }
  /* Again, interleaved with other times so that the equal-time entries sit
   * at scattered places in the heap: even i at 100 + i/2 (all distinct),
   * odd i all at 1000. */
  nlog = 0;
  shuffle(order, N);
  for (int k = 0; k < N; k++) {
    int i = order[k];
    simk_event_notify(ev[i], i % 2 ? 1000 : 100 + (uint64_t)i / 2);
  }
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_int_eq(nlog, N);
  int k = 0;
  for (int i = 0; i < N; i += 2, k++) {
    ck_assert_int_eq(logv[k].id, i);
    ck_assert_uint_eq(logv[k].t, 500 + 100 + (uint64_t)i / 2);
  }
  for (int j = 0; j < N; j++) {
    if (order[j] % 2 == 0) continue;
    ck_assert_int_eq(logv[k].id, order[j]);
    ck_assert_uint_eq(logv[k].t, 1500);
    k++;
  }
  ck_assert_int_eq(k, N);
}
END_TEST

/* Callback-scheduled work at equal times keeps notify order too. */
static struct simk_event *fan[200];
static int fan_order[200];
static void fan_out(void *arg) {
  rec(arg);
  for (int k = 0; k < 200; k++) simk_event_notify(fan[fan_order[k]], 100);
}

START_TEST(test_fifo_from_callback) {
  struct simk_event *src = mk("src", fan_out, -1);
  for (int i = 0; i < 200; i++) {
    fan[i] = mk("fan", rec, i);
    fan_order[i] = i;
  }
  shuffle(fan_order, 200);
  struct simk_event *early = mk("early", rec, 1000);
  simk_event_notify(src, 100);
  simk_event_notify(early, 200); /* notified before the fan-out: runs first */
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_int_eq(nlog, 202);
  ck_assert_int_eq(logv[0].id, -1);
  ck_assert_int_eq(logv[1].id, 1000);
  for (int k = 0; k < 200; k++) {
    ck_assert_int_eq(logv[2 + k].id, fan_order[k]);
    ck_assert_uint_eq(logv[2 + k].t, 200);
  }
}
END_TEST

/* ---- re-notify, cancel, pending ---- */

static struct simk_event *self_ev;
static int self_pending_in_cb = -1;
static void check_self_pending(void *arg) {
  self_pending_in_cb = simk_event_pending(self_ev);
  rec(arg);
}

START_TEST(test_renotify_cancel) {
  struct simk_event *a = mk("a", rec, 1), *b = mk("b", rec, 2), *c = mk("c", rec, 3);
  struct simk_event *d = mk("d", rec, 4), *e = mk("e", rec, 5);
  self_ev = mk("self", check_self_pending, 6);
  ck_assert(!simk_event_pending(a));
  simk_event_notify(a, 100);
  simk_event_notify(a, 50); /* earlier replaces */
  simk_event_notify(b, 50);
  simk_event_notify(b, 200); /* later replaces */
  simk_event_notify(c, 70);
  ck_assert(simk_event_pending(c));
  simk_event_cancel(c);
  ck_assert(!simk_event_pending(c));
  simk_event_cancel(c); /* cancel of nothing is harmless */
  /* Equal time: a re-notify takes a new place in the notify order. */
  simk_event_notify(d, 80);
  simk_event_notify(e, 80);
  simk_event_notify(d, 80);
  simk_event_notify(self_ev, 90);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_int_eq(nlog, 5);
  ck_assert_int_eq(logv[0].id, 1);
  ck_assert_uint_eq(logv[0].t, 50);
  ck_assert_int_eq(logv[1].id, 5);
  ck_assert_int_eq(logv[2].id, 4);
  ck_assert_uint_eq(logv[2].t, 80);
  ck_assert_int_eq(logv[3].id, 6);
  ck_assert_int_eq(self_pending_in_cb, 0); /* not pending while it runs */
  ck_assert_int_eq(logv[4].id, 2);
  ck_assert_uint_eq(logv[4].t, 200);
  /* A cancelled notification does not advance time on its own. */
  simk_event_notify(c, 1000);
  simk_event_cancel(c);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_uint_eq(simk_now_ps(), 200);
  ck_assert_int_eq(nlog, 5);
}
END_TEST

/* A callback cancels and re-notifies others due at the same time. */
static struct simk_event *victim, *moved;
static void meddle(void *arg) {
  rec(arg);
  simk_event_cancel(victim);
  simk_event_notify(moved, 5);
}

START_TEST(test_cancel_from_callback) {
  struct simk_event *m = mk("m", meddle, 1);
  victim = mk("victim", rec, 2);
  moved = mk("moved", rec, 3);
  simk_event_notify(m, 10);
  simk_event_notify(victim, 10);
  simk_event_notify(moved, 10);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_int_eq(nlog, 2);
  ck_assert_int_eq(logv[1].id, 3);
  ck_assert_uint_eq(logv[1].t, 15);
}
END_TEST

/* ---- notify(0) ---- */

static struct simk_event *zero_a, *zero_d;
static int zero_a_runs;
static void zero_cb(void *arg) {
  rec(arg);
  if (zero_a_runs++ == 0) {
    simk_event_notify(zero_d, 0);
    simk_event_notify(zero_a, 0); /* itself, again, later in this step */
  }
}

START_TEST(test_notify_zero) {
  zero_a = mk("a", zero_cb, 1);
  struct simk_event *b = mk("b", rec, 2), *c = mk("c", rec, 3), *e = mk("e", rec, 5);
  zero_d = mk("d", rec, 4);
  simk_event_notify(zero_a, 100);
  simk_event_notify(b, 100);
  simk_event_notify(e, 101);
  simk_event_notify(c, 100);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  static const int want[] = {1, 2, 3, 4, 1, 5};
  ck_assert_int_eq(nlog, 6);
  for (int i = 0; i < 6; i++) {
    ck_assert_int_eq(logv[i].id, want[i]);
    ck_assert_uint_eq(logv[i].t, i < 5 ? 100 : 101);
  }
  /* notify(0) outside a run: runs at the current time in the next run. */
  simk_event_notify(b, 0);
  ck_assert_int_eq(simk_run_until(101), SIMK_RUN_TIME);
  ck_assert_int_eq(nlog, 7);
  ck_assert_uint_eq(logv[6].t, 101);
}
END_TEST

/* Events made by a callback work at once (SystemC spawns them as dynamic
 * processes). */
static struct simk_event *spawned;
static void spawner(void *arg) {
  rec(arg);
  spawned = mk("spawned", rec, 99);
  simk_event_notify(spawned, 0);
}

START_TEST(test_event_new_in_callback) {
  struct simk_event *s = mk("spawner", spawner, 1), *b = mk("b", rec, 2);
  simk_event_notify(s, 40);
  simk_event_notify(b, 40);
  ck_assert_int_eq(simk_run_until(40), SIMK_RUN_TIME);
  ck_assert_int_eq(nlog, 3);
  ck_assert_int_eq(logv[1].id, 2);
  ck_assert_int_eq(logv[2].id, 99);
  ck_assert_uint_eq(logv[2].t, 40);
  simk_event_notify(spawned, 7); /* and between runs */
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_uint_eq(logv[3].t, 47);
}
END_TEST

/* ---- stop ---- */

static void stopper(void *arg) {
  rec(arg);
  simk_stop();
}

START_TEST(test_stop_continue) {
  struct simk_event *a = mk("a", rec, 1), *x = mk("x", stopper, 2), *y = mk("y", rec, 3);
  struct simk_event *z = mk("z", rec, 4), *s2 = mk("s2", stopper, 5);
  simk_event_notify(a, 10);
  simk_event_notify(x, 20);
  simk_event_notify(y, 20); /* same time, after the stopper */
  simk_event_notify(z, 30);
  simk_event_notify(s2, 40);
  ck_assert_int_eq(simk_run(), SIMK_RUN_STOPPED);
  ck_assert_int_eq(nlog, 2);
  ck_assert_uint_eq(simk_now_ps(), 20);
  ck_assert(simk_event_pending(y));
  simk_stop(); /* outside a run: no effect */
  /* run_until continues with y (still at 20), then z; stops at s2 (40). */
  ck_assert_int_eq(simk_run_until(100), SIMK_RUN_STOPPED);
  ck_assert_int_eq(nlog, 5);
  ck_assert_int_eq(logv[2].id, 3);
  ck_assert_uint_eq(logv[2].t, 20);
  ck_assert_int_eq(logv[3].id, 4);
  ck_assert_uint_eq(simk_now_ps(), 40); /* not advanced to the limit */
  ck_assert_int_eq(simk_run_until(100), SIMK_RUN_TIME);
  ck_assert_uint_eq(simk_now_ps(), 100);
  /* Stop in the last callback still reports STOPPED. */
  simk_event_notify(x, 1);
  ck_assert_int_eq(simk_run(), SIMK_RUN_STOPPED);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_uint_eq(simk_now_ps(), 101);
}
END_TEST

/* ---- run_until ---- */

START_TEST(test_run_until) {
  struct simk_event *a = mk("a", rec, 1), *b = mk("b", rec, 2), *c = mk("c", rec, 3);
  simk_event_notify(a, 100);
  simk_event_notify(b, 200);
  simk_event_notify(c, 300);
  ck_assert_int_eq(simk_run_until(50), SIMK_RUN_TIME);
  ck_assert_uint_eq(simk_now_ps(), 50);
  ck_assert_int_eq(nlog, 0);
  /* Events due exactly at the limit run (SystemC 2.3.4 alone would leave
   * them runnable until the next sc_start). */
  ck_assert_int_eq(simk_run_until(200), SIMK_RUN_TIME);
  ck_assert_uint_eq(simk_now_ps(), 200);
  ck_assert_int_eq(nlog, 2);
  ck_assert_uint_eq(logv[1].t, 200);
  ck_assert(simk_event_pending(c));
  ck_assert_int_eq(simk_run_until(250), SIMK_RUN_TIME);
  ck_assert_uint_eq(simk_now_ps(), 250);
  ck_assert_int_eq(nlog, 2);
  ck_assert_int_eq(simk_run_until(250), SIMK_RUN_TIME); /* zero length */
  ck_assert_int_eq(simk_run_until(1000), SIMK_RUN_TIME);
  ck_assert_int_eq(nlog, 3);
  ck_assert_uint_eq(logv[2].t, 300);
  ck_assert_uint_eq(simk_now_ps(), 1000);
  /* Nothing pending: still reaches the limit. */
  ck_assert_int_eq(simk_run_until(5000), SIMK_RUN_TIME);
  ck_assert_uint_eq(simk_now_ps(), 5000);
  /* Before now is an error, and changes nothing. */
  ck_assert_int_eq(simk_run_until(4999), SIMK_RUN_ERROR);
  ck_assert_str_ne(simk_last_error(), "");
  ck_assert_uint_eq(simk_now_ps(), 5000);
  ck_assert_int_eq(simk_run_until(6000), SIMK_RUN_TIME);
}
END_TEST

START_TEST(test_run_until_steps) {
  /* Many small steps over events at every ps: each runs exactly once, at
   * its time, in the step that contains it. */
  enum { N = 300 };
  struct simk_event *ev[N];
  for (int i = 0; i < N; i++) {
    ev[i] = mk("s", rec, i);
    simk_event_notify(ev[i], (uint64_t)i + 1);
  }
  for (uint64_t t = 0; t <= N; t += 7) {
    ck_assert_int_eq(simk_run_until(t), SIMK_RUN_TIME);
    ck_assert_int_eq(nlog, (int)t);
  }
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_int_eq(nlog, N);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(logv[i].id, i);
    ck_assert_uint_eq(logv[i].t, (uint64_t)i + 1);
  }
}
END_TEST

/* ---- randomized, against a reference model ---- */

/* A model of the promised semantics: the next callback is the pending
 * event with the least (due, notify sequence); re-notify replaces, cancel
 * drops. Callbacks and the main loop notify and cancel at random (many
 * equal times, zero delays, self re-notifies, stops) and every callback
 * checks it is the one the model predicts, at the predicted time. */
enum { RM_N = 40 };
static struct simk_event *rm_ev[RM_N];
static uint64_t rm_due[RM_N], rm_seq[RM_N], rm_next_seq;
static int rm_pend[RM_N], rm_budget, rm_runs;

static void rm_notify(int i, uint64_t delay) {
  simk_event_notify(rm_ev[i], delay);
  rm_due[i] = simk_now_ps() + delay;
  rm_seq[i] = rm_next_seq++;
  rm_pend[i] = 1;
}
static void rm_cancel(int i) {
  simk_event_cancel(rm_ev[i]);
  rm_pend[i] = 0;
}
static int rm_expected(void) {
  int best = -1;
  for (int i = 0; i < RM_N; i++)
    if (rm_pend[i] && (best < 0 || rm_due[i] < rm_due[best] ||
                       (rm_due[i] == rm_due[best] && rm_seq[i] < rm_seq[best])))
      best = i;
  return best;
}
static void rm_ops(void) {
  int ops = (int)(rnd() % 4);
  for (int k = 0; k < ops; k++) {
    int i = (int)(rnd() % RM_N);
    uint64_t r = rnd() % 10;
    if (r < 2) {
      rm_cancel(i);
    } else if (rm_budget > 0) {
      rm_budget--;
      rm_notify(i, r < 5 ? 0 : r < 8 ? rnd() % 4 : rnd() % 50);
    }
  }
  for (int i = 0; i < RM_N; i++) ck_assert_int_eq(simk_event_pending(rm_ev[i]), rm_pend[i]);
}
static void rm_cb(void *arg) {
  int id = (int)(intptr_t)arg, want = rm_expected();
  ck_assert_int_eq(id, want);
  ck_assert_uint_eq(simk_now_ps(), rm_due[id]);
  rm_pend[id] = 0;
  rm_runs++;
  rm_ops();
  if (rnd() % 50 == 0) simk_stop();
}

START_TEST(test_random_model) {
  for (int i = 0; i < RM_N; i++) rm_ev[i] = mk("rm", rm_cb, i);
  rm_budget = 20000;
  uint64_t limit = 0;
  for (int round = 0; round < 100000; round++) {
    rm_ops(); /* from outside a run too */
    enum simk_run_result r;
    if (rnd() % 2) {
      limit = simk_now_ps() + rnd() % 40;
      r = simk_run_until(limit);
      ck_assert(r == SIMK_RUN_TIME || r == SIMK_RUN_STOPPED);
      if (r == SIMK_RUN_TIME) ck_assert_uint_eq(simk_now_ps(), limit);
      else ck_assert_uint_le(simk_now_ps(), limit);
    } else {
      r = simk_run();
      ck_assert(r == SIMK_RUN_IDLE || r == SIMK_RUN_STOPPED);
    }
    /* Whatever was due by now has run (or the run stopped). */
    int e = rm_expected();
    if (r != SIMK_RUN_STOPPED && e >= 0) ck_assert_uint_gt(rm_due[e], simk_now_ps());
    if (r == SIMK_RUN_IDLE) ck_assert_int_eq(e, -1);
    if (rm_budget == 0 && e < 0) break;
  }
  ck_assert_int_eq(rm_expected(), -1);
  ck_assert_uint_eq(simk_events_dispatched(), (uint64_t)rm_runs);
  ck_assert_int_gt(rm_runs, 10000);
}
END_TEST

/* ---- counter ---- */

static struct simk_event *tick;
static int ticks_left;
static void ticker(void *arg) {
  (void)arg;
  if (--ticks_left > 0) simk_event_notify(tick, 3);
}

START_TEST(test_counter) {
  tick = mk("tick", ticker, 0);
  struct simk_event *x = mk("x", rec, 1);
  ticks_left = 1000;
  simk_event_notify(tick, 3);
  simk_event_notify(x, 5);
  simk_event_notify(x, 7); /* replaced: one run */
  ck_assert_uint_eq(simk_events_dispatched(), 0);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_uint_eq(simk_events_dispatched(), 1001);
  ck_assert_uint_eq(simk_now_ps(), 3000);
  simk_event_notify(x, 1);
  simk_event_cancel(x);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  ck_assert_uint_eq(simk_events_dispatched(), 1001);
}
END_TEST

/* ---- finish and misuse ---- */

static void runner(void *arg) {
  rec(arg);
  ck_assert_int_eq(simk_run(), SIMK_RUN_ERROR); /* not re-entrant */
}
static void finisher(void *arg) {
  rec(arg);
  simk_finish();
}

START_TEST(test_finish) {
  struct simk_event *r = mk("r", runner, 1), *f = mk("f", finisher, 2), *l = mk("l", rec, 3);
  simk_event_notify(r, 10);
  simk_event_notify(f, 20);
  simk_event_notify(l, 30);
  /* simk_finish from a callback stops after it, then finishes. */
  ck_assert_int_eq(simk_run(), SIMK_RUN_STOPPED);
  ck_assert_int_eq(nlog, 2);
  ck_assert_uint_eq(simk_now_ps(), 20);
  ck_assert_int_eq(simk_run(), SIMK_RUN_ERROR); /* not SystemC's E546 abort */
  ck_assert_str_ne(simk_last_error(), "");
  ck_assert_int_eq(simk_run_until(100), SIMK_RUN_ERROR);
  simk_finish(); /* idempotent */
  ck_assert_int_eq(simk_vcd_open("/tmp/never.vcd", err, sizeof err), -1);
  ck_assert_int_eq(nlog, 2);
}
END_TEST

START_TEST(test_finish_unstarted) {
  simk_finish();
  ck_assert_int_eq(simk_run(), SIMK_RUN_ERROR);
  simk_finish();
}
END_TEST

/* ---- VCD ---- */

static uint64_t traced, other;
static void set_value(void *arg) { traced = (uint64_t)(uintptr_t)arg; }
static void set_other(void *arg) { other = (uint64_t)(uintptr_t)arg; }

/* Finds "$var <type> <width> <id> <name> $end" for name; returns its id. */
static void vcd_var(const char *vcd, const char *name, unsigned *width, char *id, size_t idlen) {
  const char *p = vcd;
  while ((p = strstr(p, "$var")) != NULL) {
    char type[32], vid[32], vname[128];
    unsigned w;
    if (sscanf(p, "$var %31s %u %31s %127s", type, &w, vid, vname) == 4 &&
        strcmp(vname, name) == 0) {
      *width = w;
      snprintf(id, idlen, "%s", vid);
      return;
    }
    p += 4;
  }
  ck_abort_msg("no $var for %s", name);
}

/* The value changes of id: times[] and values[], in file order. */
static int vcd_changes(const char *vcd, const char *id, uint64_t *times, uint64_t *values, int max) {
  const char *p = strstr(vcd, "$enddefinitions");
  ck_assert_ptr_nonnull(p);
  uint64_t now = 0;
  int n = 0;
  while ((p = strchr(p, '\n')) != NULL) {
    p++;
    if (*p == '#') {
      now = strtoull(p + 1, NULL, 10);
    } else if (*p == 'b') {
      char bits[80], vid[32];
      if (sscanf(p, "b%79s %31s", bits, vid) == 2 && strcmp(vid, id) == 0) {
        ck_assert_int_lt(n, max);
        times[n] = now;
        values[n] = strtoull(bits, NULL, 2);
        n++;
      }
    }
  }
  return n;
}

static void vcd_run(const char *path) {
  traced = 0;
  other = 0;
  ck_assert_int_eq(simk_vcd_open(path, err, sizeof err), 0);
  ck_assert_msg(simk_vcd_add_u64("lenval", &traced, 8, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(simk_vcd_add_u64("wide", &other, 40, err, sizeof err), 0);
  ck_assert_int_eq(simk_vcd_add_u64("bad", &other, 65, err, sizeof err), -1);
  ck_assert_int_eq(simk_vcd_add_u64("bad", &other, 0, err, sizeof err), -1);
  ck_assert_int_eq(simk_vcd_open(path, err, sizeof err), -1); /* already open */
  struct simk_event *e1 = mk("v1", set_value, 5), *e2 = mk("v2", set_value, 0xab);
  struct simk_event *e3 = mk("v3", set_value, 3);
  struct simk_event *e4 = simk_event_new("v4", set_other, (void *)(uintptr_t)0x123456789ull);
  ck_assert_ptr_nonnull(e4);
  simk_event_notify(e1, 1000);
  simk_event_notify(e2, 2500);
  simk_event_notify(e3, 4000);
  simk_event_notify(e4, 2500);
  ck_assert_int_eq(simk_run_until(3000), SIMK_RUN_TIME);
  /* Too late for tracing now. */
  ck_assert_int_eq(simk_vcd_add_u64("late", &other, 8, err, sizeof err), -1);
  ck_assert_str_ne(err, "");
  ck_assert_int_eq(simk_vcd_open(path, err, sizeof err), -1);
  ck_assert_int_eq(simk_run(), SIMK_RUN_IDLE);
  simk_finish();

  char *vcd = slurp(path);
  ck_assert_msg(strncmp(vcd, "$date", 5) == 0 || strncmp(vcd, "$version", 8) == 0 ||
                    strncmp(vcd, "$timescale", 10) == 0,
                "bad VCD start: %.40s", vcd);
  const char *ts = strstr(vcd, "$timescale");
  ck_assert_ptr_nonnull(ts);
  unsigned long mag = 0;
  char unit[8] = "";
  ck_assert_int_eq(sscanf(ts, "$timescale %lu %7s", &mag, unit), 2);
  ck_assert_uint_eq(mag, 1);
  ck_assert_str_eq(unit, "ps");
  ck_assert_ptr_nonnull(strstr(vcd, "$enddefinitions"));

  unsigned w = 0;
  char id[32];
  uint64_t t[16], v[16];
  vcd_var(vcd, "lenval", &w, id, sizeof id);
  ck_assert_uint_eq(w, 8);
  int n = vcd_changes(vcd, id, t, v, 16);
  static const uint64_t want_t[] = {0, 1000, 2500, 4000}, want_v[] = {0, 5, 0xab, 3};
  ck_assert_int_eq(n, 4);
  for (int i = 0; i < n; i++) {
    ck_assert_uint_eq(t[i], want_t[i]);
    ck_assert_uint_eq(v[i], want_v[i]);
  }
  vcd_var(vcd, "wide", &w, id, sizeof id);
  ck_assert_uint_eq(w, 40);
  n = vcd_changes(vcd, id, t, v, 16);
  ck_assert_int_eq(n, 2);
  ck_assert_uint_eq(t[1], 2500);
  ck_assert_uint_eq(v[1], 0x123456789);
  free(vcd);
}

START_TEST(test_vcd) {
  char dir[64], path[128];
  tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/run.vcd", dir);
  vcd_run(path);
  snprintf(path, sizeof path, "%s/run.vcd.vcd", dir);
  ck_assert_int_ne(access(path, F_OK), 0);
  snprintf(path, sizeof path, "%s/run.vcd", dir);
  unlink(path);
  ck_assert_int_eq(rmdir(dir), 0); /* nothing else was left behind */
}
END_TEST

START_TEST(test_vcd_other_extension) {
  /* SystemC appends ".vcd"; the file must still land exactly at the path. */
  char dir[64], path[128], extra[160];
  tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/waves.trace", dir);
  vcd_run(path);
  snprintf(extra, sizeof extra, "%s.vcd", path);
  ck_assert_int_ne(access(extra, F_OK), 0);
  unlink(path);
  ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_vcd_errors) {
  ck_assert_int_eq(simk_vcd_add_u64("x", &traced, 8, err, sizeof err), -1); /* not open */
  ck_assert_str_ne(err, "");
  err[0] = '\0';
  ck_assert_int_eq(simk_vcd_open("/nonexistent-dir/x.vcd", err, sizeof err), -1);
  ck_assert_str_ne(err, "");
}
END_TEST

/* ---- silence ---- */

static void warn_maker(void *arg) {
  rec(arg);
  simk_event_notify(self_ev, 0); /* itself, due now: the shim must not make
                                    SystemC warn about self-notification */
  simk_stop();
}

START_TEST(test_silent) {
  char dir[64], out[128], errf[128], vcd[128];
  tmpdir(dir, sizeof dir);
  snprintf(out, sizeof out, "%s/stdout", dir);
  snprintf(errf, sizeof errf, "%s/stderr", dir);
  snprintf(vcd, sizeof vcd, "%s/w.vcd", dir);
  fflush(stdout);
  fflush(stderr);
  int save_out = dup(1), save_err = dup(2);
  int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fe = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fo, 0);
  ck_assert_int_ge(fe, 0);
  dup2(fo, 1);
  dup2(fe, 2);

  /* Everything that made SystemC talk: first start, sc_pause, an
   * sc_start with no activity, VCD time-unit notes, sc_stop. */
  ck_assert_int_eq(simk_vcd_open(vcd, err, sizeof err), 0);
  ck_assert_int_eq(simk_vcd_add_u64("v", &traced, 4, err, sizeof err), 0);
  self_ev = mk("w", warn_maker, 1);
  simk_event_notify(self_ev, 10);
  int r1 = simk_run();
  int r2 = simk_run_until(10);
  int r3 = simk_run_until(20);
  int r4 = simk_run();
  simk_event_cancel(self_ev);
  int r5 = simk_run_until(30); /* an sc_start with no activity at all */
  simk_finish();
  int r6 = simk_run();

  fflush(stdout);
  fflush(stderr);
  dup2(save_out, 1);
  dup2(save_err, 2);
  close(save_out);
  close(save_err);
  close(fo);
  close(fe);
  ck_assert_int_eq(r1, SIMK_RUN_STOPPED);
  ck_assert_int_eq(r2, SIMK_RUN_STOPPED);
  ck_assert_int_eq(r3, SIMK_RUN_STOPPED);
  ck_assert_int_eq(r4, SIMK_RUN_STOPPED);
  ck_assert_int_eq(r5, SIMK_RUN_TIME);
  ck_assert_int_eq(r6, SIMK_RUN_ERROR);
  ck_assert_int_eq(nlog, 4);
  ck_assert_uint_eq(logv[3].t, 10);
  char *o = slurp(out), *e = slurp(errf);
  ck_assert_msg(o[0] == '\0', "stdout not empty: %.200s", o);
  ck_assert_msg(e[0] == '\0', "stderr not empty: %.200s", e);
  free(o);
  free(e);
  unlink(out);
  unlink(errf);
  unlink(vcd);
  ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *simk_suite(void) {
  Suite *s = suite_create("simk");
  TCase *tc = tcase_create("order");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_init);
  tcase_add_test(tc, test_time_order);
  tcase_add_test(tc, test_fifo_equal_time);
  tcase_add_test(tc, test_fifo_from_callback);
  tcase_add_test(tc, test_renotify_cancel);
  tcase_add_test(tc, test_cancel_from_callback);
  tcase_add_test(tc, test_notify_zero);
  tcase_add_test(tc, test_random_model);
  tcase_add_test(tc, test_event_new_in_callback);
  suite_add_tcase(s, tc);
  tc = tcase_create("run");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_stop_continue);
  tcase_add_test(tc, test_run_until);
  tcase_add_test(tc, test_run_until_steps);
  tcase_add_test(tc, test_counter);
  tcase_add_test(tc, test_finish);
  tcase_add_test(tc, test_finish_unstarted);
  suite_add_tcase(s, tc);
  tc = tcase_create("vcd");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_vcd);
  tcase_add_test(tc, test_vcd_other_extension);
  tcase_add_test(tc, test_vcd_errors);
  tcase_add_test(tc, test_silent);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(simk_suite());
  /* Each test needs a fresh SystemC kernel: never run them in one process,
   * whatever CK_FORK says. */
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  int nfailed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nfailed == 0 ? 0 : 1;
}
