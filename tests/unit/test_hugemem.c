/*
 * test_hugemem: a block resized by huge_resize keeps its bytes, growing
 * from malloc's memory into a mapping and on, and shrinking back.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "hugemem.h"
#include "suite_run.h"

static void fill(uint8_t *p, size_t from, size_t to) {
  for (size_t i = from; i < to; i++)
    p[i] = (uint8_t)(i * 131 + (i >> 12));
}

static void expect(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (uint8_t)(i * 131 + (i >> 12)))
      ck_abort_msg("byte %zu of %zu changed", i, n);
}

START_TEST(grows_and_shrinks_keeping_bytes) {
  /* 64 KiB (malloc) -> just below and at the threshold -> 3 x -> 40 MiB
   * (mapped, grown in place or moved) -> back below the threshold. */
  const size_t sizes[] = {65536, HUGEMEM_MIN - 1, HUGEMEM_MIN, 3 * HUGEMEM_MIN + 5, (size_t)40 << 20,
                          (size_t)40 << 20, 100000};
  uint8_t *p = NULL;
  size_t have = 0;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint8_t *n = huge_resize(p, have, sizes[k]);
    ck_assert_ptr_nonnull(n);
    p = n;
    size_t kept = have < sizes[k] ? have : sizes[k];
    expect(p, kept);
    fill(p, kept, sizes[k]);
    have = sizes[k];
  }
  expect(p, have);
  huge_free(p, have);
  huge_free(NULL, 0);
}
END_TEST

/* A new mapped block is writable to its last byte. */
START_TEST(new_mapped_block) {
  size_t n = 5 * HUGEMEM_MIN + 1;
  uint8_t *p = huge_resize(NULL, 0, n);
  ck_assert_ptr_nonnull(p);
  fill(p, 0, n);
  expect(p, n);
  huge_free(p, n);
}
END_TEST

int main(void) {
  Suite *s = suite_create("hugemem");
  TCase *tc = tcase_create("hugemem");
  tcase_add_test(tc, grows_and_shrinks_keeping_bytes);
  tcase_add_test(tc, new_mapped_block);
  suite_add_tcase(s, tc);
  return suite_run(s);
}
