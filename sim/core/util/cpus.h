/*
 * cpus: how many CPUs this process may run on, and whether one is free for
 * a second thread.
 */
#ifndef NICSIM_CPUS_H
#define NICSIM_CPUS_H

/* The CPUs in this process's affinity mask (sched_getaffinity: what taskset
 * and cgroup cpusets leave it), at least 1; the online CPUs when the mask
 * cannot be read. */
unsigned cpus_usable(void);

/* 1 when a second thread of this process would have a CPU to itself: it
 * may run on 2 CPUs or more, and the machine's load average over the last
 * minute (getloadavg: runnable tasks, this process's own earlier work
 * included) is below the usable CPUs minus one half, so one of them is
 * idle on average. 0 otherwise, or when the load cannot be read. */
int cpus_spare(void);

#endif
