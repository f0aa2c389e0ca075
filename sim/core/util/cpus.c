#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, getloadavg */
#include "cpus.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

unsigned cpus_usable(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1u;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1u;
}

int cpus_spare(void) {
  unsigned n = cpus_usable();
  double load;
  if (n < 2 || getloadavg(&load, 1) != 1)
    return 0;
  return load < (double)n - 0.5;
}
