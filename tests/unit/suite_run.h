/*
 * suite_run: run one Check suite and give main's exit status (0 when every
 * test passed).
 */
#ifndef NICSIM_TESTS_SUITE_RUN_H
#define NICSIM_TESTS_SUITE_RUN_H

#include <check.h>

static inline int suite_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}

/* The same, each test in its own process whatever CK_FORK says: for suites
 * whose tests leave process-wide state behind them. */
static inline int suite_run_forked(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}

#endif
