/*
 * Check's own check.h, with assertions that make no system call when they
 * pass. The unit tests' `#include <check.h>` finds this file first
 * (tests/CMakeLists.txt puts this folder ahead on their include path).
 *
 * Every ck_assert_* of Check 0.15 that passes calls _mark_point(), which
 * sends the assertion's file and line to the runner: one write(2) system
 * call each. Suites that assert inside loops made millions of them
 * (test_pcap_map: 5.9 million, nine tenths of its time in the kernel).
 * Here ck_assert_msg, on which every ck_assert_* macro is built, calls
 * nothing when the assertion holds; a failing one reports as before. What
 * is lost is the "last checkpoint" Check names when a test dies of a
 * signal; the sanitizer build's report gives the whole stack instead.
 */
#ifndef NICSIM_TESTS_CHECK_QUIET_H
#define NICSIM_TESTS_CHECK_QUIET_H

#include_next <check.h>

#undef ck_assert_msg
#define ck_assert_msg(expr, ...)                                                                        \
  ((expr) ? (void)0 : _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed", ##__VA_ARGS__))

#endif
