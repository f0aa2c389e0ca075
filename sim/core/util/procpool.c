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
    /* Reap what has ended. */
    for (;;) {
      int st;
      pid_t pid = waitpid(-1, &st, WNOHANG);
      if (pid <= 0)
        break;
      for (unsigned k = 0; k < width; k++)
        if (slots[k].pid == pid) {
          slots[k].pid = 0;
          running--;
          ops->done(ctx, slots[k].job, st, 0);
          break;
        }
    }
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
