/*
 * cpus: how many CPUs this process may run on, for deciding whether work can
 * be handed to a second thread.
 */
#ifndef NICSIM_CPUS_H
#define NICSIM_CPUS_H

/* The CPUs in this process's affinity mask (sched_getaffinity: what taskset
 * and cgroup cpusets leave it), at least 1; the online CPUs when the mask
 * cannot be read. */
unsigned cpus_usable(void);

#endif
