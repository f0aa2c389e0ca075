/*
 * test_spill: numbers put into a spill come back in order, from memory and
 * from its temporary file alike; a spill that cannot make its file says so
 * instead of giving numbers back.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "spill.h"
#include "suite_run.h"

/* Put n numbers (a pattern of i), rewind, read them all back. */
static void round_trip(uint32_t n) {
  struct spill *sp = spill_new();
  ck_assert_ptr_nonnull(sp);
  for (uint32_t i = 0; i < n; i++)
    ck_assert_int_eq(spill_put(sp, i * 2654435761u), 0);
  ck_assert_uint_eq(spill_count(sp), n);
  ck_assert_int_eq(spill_rewind(sp), 0);
  ck_assert_int_eq(spill_put(sp, 1), -1); /* no more puts once rewound */
  uint32_t v;
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_int_eq(spill_get(sp, &v), 1);
    ck_assert_uint_eq(v, i * 2654435761u);
  }
  ck_assert_int_eq(spill_get(sp, &v), 0);
  ck_assert_int_eq(spill_get(sp, &v), 0);
  spill_free(sp);
}

START_TEST(in_memory) {
  round_trip(0);
  round_trip(1);
  round_trip(SPILL_MEMORY_NUMBERS - 1);
}
END_TEST

/* At, just past and far past the buffer: the file holds the rest. */
START_TEST(through_the_file) {
  round_trip(SPILL_MEMORY_NUMBERS);
  round_trip(SPILL_MEMORY_NUMBERS + 1);
  round_trip(5 * SPILL_MEMORY_NUMBERS + 123);
}
END_TEST

/* No temporary folder: the numbers that fit the buffer are taken, the next
 * put fails (the file cannot be made), and the spill gives nothing back. */
START_TEST(no_temporary_folder) {
  setenv("TMPDIR", "/nonexistent/nicsim-test-spill", 1);
  struct spill *sp = spill_new();
  ck_assert_ptr_nonnull(sp);
  uint32_t i = 0;
  int rc = 0;
  for (; i < 2 * SPILL_MEMORY_NUMBERS && rc == 0; i++)
    rc = spill_put(sp, i);
  ck_assert_int_eq(rc, -1);
  ck_assert_uint_eq(i, SPILL_MEMORY_NUMBERS);
  ck_assert_int_eq(spill_rewind(sp), -1);
  uint32_t v;
  ck_assert_int_eq(spill_get(sp, &v), 0);
  spill_free(sp);
  spill_free(NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("spill");
  TCase *tc = tcase_create("spill");
  tcase_add_test(tc, in_memory);
  tcase_add_test(tc, through_the_file);
  tcase_add_test(tc, no_temporary_folder);
  suite_add_tcase(s, tc);
  return suite_run_forked(s);
}
