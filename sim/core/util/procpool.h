/*
 * procpool: the one pool of worker processes (review's design runs,
 * campaign's replays). Runs jobs 0..n-1, at most width at a time, each in a
 * process of its own (SystemC allows one simulation per process).
 *
 * SIGINT, SIGTERM and SIGHUP are taken synchronously while the pool runs:
 * on the first, every running child is sent SIGTERM and waited for, no job
 * is started any more, and procpool_run returns the signal's number so that
 * the caller removes what it made and exits with 128 + that number. A child
 * reaped while such a signal is pending (Ctrl-C reaches the whole process
 * group, children too) counts as stopped by the pool, not as failed.
 */
#ifndef NICSIM_PROCPOOL_H
#define NICSIM_PROCPOOL_H

#include <stddef.h>

#define PROCPOOL_STOPPED (-1)

struct procpool_ops {
  /* In the child (signal mask and dispositions as the caller had them):
   * do job, return its exit status (or exec and not return). */
  int (*child)(void *ctx, size_t job);
  /* In the parent, once per job: wstatus as waitpid gives it; how is 0,
   * PROCPOOL_STOPPED when the pool itself stopped the job (a signal came),
   * or an errno value when the process could not be made. */
  void (*done)(void *ctx, size_t job, int wstatus, int how);
  /* The longest the pool waits for a signal before it looks at its
   * children again, in ms (0: 1000). A safety net only: the pool starts a
   * job as soon as a slot is free, and every child's end raises SIGCHLD. */
  unsigned tick_ms;
};

/* 0 when every job ran; the signal's number when one stopped the pool;
 * -1 with errno set on a failure of the pool itself. */
int procpool_run(size_t njobs, unsigned width, const struct procpool_ops *ops, void *ctx);

#endif
