/*
 * test_grow: arrays and ring buffers that grow with their input keep their
 * elements (a ring's in order from its first) and double their room.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "grow.h"
#include "suite_run.h"

START_TEST(array_doubles_and_keeps) {
  size_t cap = 0;
  int *a = NULL;
  for (int i = 0; i < 1000; i++) {
    int *n = grow_array(a, &cap, (size_t)i + 1, sizeof *a);
    ck_assert_ptr_nonnull(n);
    a = n;
    a[i] = i * 3;
  }
  ck_assert_uint_eq(cap, 1024);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq(a[i], i * 3);
  free(a);
}
END_TEST

/* A ring used as a FIFO (push at first + n, pop at first) through many
 * wraps and growths gives its elements back in the order they went in. */
START_TEST(ring_keeps_fifo_order) {
  size_t cap = 0, first = 0, n = 0;
  uint32_t *r = NULL, next_in = 0, next_out = 0;
  for (int step = 0; step < 20000; step++) {
    if (step % 3 != 2 || n == 0) { /* two pushes for each pop: it grows */
      uint32_t *g = grow_ring(r, &cap, &first, n, sizeof *r, 4);
      ck_assert_ptr_nonnull(g);
      r = g;
      ck_assert_uint_lt(n, cap);
      r[(first + n) % cap] = next_in++;
      n++;
    } else {
      ck_assert_uint_eq(r[first], next_out++);
      first = (first + 1) % cap;
      n--;
    }
  }
  size_t before = cap;
  while (n) {
    ck_assert_uint_eq(r[first], next_out++);
    first = (first + 1) % cap;
    n--;
  }
  ck_assert_uint_eq(next_out, next_in);
  ck_assert_uint_eq(cap, before);
  ck_assert_uint_ge(cap, 4);
  ck_assert_uint_eq(cap & (cap - 1), 0); /* doubled from min each time */
  free(r);
}
END_TEST

/* Room left: the same block, untouched. */
START_TEST(ring_with_room_stays) {
  size_t cap = 0, first = 0;
  int *r = grow_ring(NULL, &cap, &first, 0, sizeof *r, 8);
  ck_assert_ptr_nonnull(r);
  ck_assert_uint_eq(cap, 8);
  first = 5;
  int *same = grow_ring(r, &cap, &first, 7, sizeof *r, 8);
  ck_assert_ptr_eq(same, r);
  ck_assert_uint_eq(first, 5);
  free(r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("grow");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, array_doubles_and_keeps);
  tcase_add_test(tc, ring_keeps_fifo_order);
  tcase_add_test(tc, ring_with_room_stays);
  suite_add_tcase(s, tc);
  return suite_run(s);
}
