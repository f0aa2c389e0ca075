/*
 * checker_rig: the machine the checker's suites test on: 64 pages of
 * labelled memory on a test clock, and a policy of two principals, app (0)
 * and other (1), owning flows 0 and 1.
 */
#ifndef NICSIM_TESTS_CHECKER_RIG_H
#define NICSIM_TESTS_CHECKER_RIG_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "checker.h"
#include "mem.h"

#define PG MEM_PAGE_SIZE
#define APP 0u
#define OTHER 1u

static const uint8_t rig_owners[2] = {APP, OTHER};

/* pol: app and other (the caller may add to it before checker_rig_start). */
static inline void checker_rig_policy(struct policy *pol) {
  memset(pol, 0, sizeof *pol);
  pol->nprincipals = 2;
  snprintf(pol->names[APP], sizeof pol->names[APP], "app");
  snprintf(pol->names[OTHER], sizeof pol->names[OTHER], "other");
  pol->flow_owner = rig_owners;
  pol->nflows = 2;
  pol->default_owner = OTHER;
}

/* The memory and the checker of pol, both on clock. */
static inline void checker_rig_start(const struct policy *pol, uint64_t (*clock)(void *), struct mem **m,
                                     struct checker **ck) {
  *m = mem_new(64 * PG);
  ck_assert_ptr_nonnull(*m);
  mem_set_clock(*m, clock, NULL);
  *ck = checker_new(*m, pol, clock, NULL);
  ck_assert_ptr_nonnull(*ck);
}

#endif
