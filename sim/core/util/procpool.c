/*
 * procpool.c: see procpool.h. Signals are blocked and taken with
 * sigtimedwait, so none is lost between checking for children and waiting
 * (SIGCHLD stays pending while blocked even under its default action:
 * kernel/signal.c, sig_ignored(), "Blocked signals are never ignored").
 */
#include "procpool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct slot {
  pid_t pid;
  size_t job;
};

static void stop_all(struct slot *slots, unsigned width, const struct procpool_ops *ops, void *ctx) {
  for (unsigned k = 0; k < width; k++)
    if (slots[k].pid > 0)
      kill(slots[k].pid, SIGTERM);
  for (unsigned k = 0; k < width; k++) {
    if (slots[k].pid <= 0)
      continue;
    int st;
    while (waitpid(slots[k].pid, &st, 0) < 0 && errno == EINTR)
      ;
    slots[k].pid = 0;
    ops->done(ctx, slots[k].job, st, PROCPOOL_STOPPED);
  }
}

/* A stop signal already pending (taken), or 0. */
static int pending_stop(void) {
  sigset_t pend;
  if (sigpending(&pend) != 0)
    return 0;
  static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
    if (sigismember(&pend, stops[i])) {
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, stops[i]);
      struct timespec zero = {0, 0};
      if (sigtimedwait(&one, NULL, &zero) == stops[i])
        return stops[i];
    }
  }
  return 0;
}

int procpool_run(size_t njobs, unsigned width, const struct procpool_ops *ops, void *ctx) {
  if (width == 0)
    width = 1;
  struct slot *slots = calloc(width, sizeof *slots);
  if (!slots)
    return -1;
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, &old);
  size_t next = 0, running = 0;
  int stop = 0;
  while ((next < njobs || running) && !stop) {
    while (next < njobs && running < width) {
      size_t job = next++;
      fflush(NULL);
      pid_t pid = fork();
      if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        _exit(ops->child(ctx, job));
      }
      if (pid < 0) {
        ops->done(ctx, job, 0, errno ? errno : EAGAIN);
        continue;
      }
      for (unsigned k = 0; k < width; k++)
        if (!slots[k].pid) {
          slots[k].pid = pid;
          slots[k].job = job;
          break;
        }
      running++;
    }
    /* Reap what has ended. A child that ended of the signal that stops the
     * pool (Ctrl-C reaches the whole process group) was stopped, not
     * failed: the signal to the group is queued to every member before any
     * of them can exit of it (kernel/signal.c, __kill_pgrp_info(), holds
     * tasklist_lock for reading across the group; kernel/exit.c,
     * exit_notify(), takes it for writing), so it is pending here by the
     * time such a child can be reaped. */
    for (;;) {
      int st;
      pid_t pid = waitpid(-1, &st, WNOHANG);
      if (pid <= 0)
        break;
      if (!stop)
        stop = pending_stop();
      for (unsigned k = 0; k < width; k++)
        if (slots[k].pid == pid) {
          slots[k].pid = 0;
          running--;
          ops->done(ctx, slots[k].job, st, stop ? PROCPOOL_STOPPED : 0);
          break;
        }
    }
    if (stop)
      break;
    if (!running && next >= njobs)
      break;
    if (next < njobs && running < width)
      continue; /* a slot is free: start the next job now (also when none runs) */
    unsigned ms = ops->tick_ms ? ops->tick_ms : 1000;
    struct timespec tick = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    siginfo_t si;
    int sig = sigtimedwait(&set, &si, &tick);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
      stop = sig;
  }
  if (stop)
    stop_all(slots, width, ops, ctx);
  free(slots);
  /* Drop a SIGCHLD left pending, then unblock. */
  struct timespec zero = {0, 0};
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  while (sigtimedwait(&chld, NULL, &zero) > 0)
    ;
  sigprocmask(SIG_SETMASK, &old, NULL);
  return stop;
}
