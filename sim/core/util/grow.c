#include "grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *grow_array(void *p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap && p)
    return p;
  if (elem == 0)
    return NULL;
  size_t c = *cap < 16 ? 16 : *cap;
  while (c < need) {
    if (c > SIZE_MAX / 2)
      return NULL;
    c *= 2;
  }
  if (c > SIZE_MAX / elem)
    return NULL;
  void *n = realloc(p, c * elem);
  if (n)
    *cap = c;
  return n;
}

void *grow_ring(void *p, size_t *cap, size_t *first, size_t n, size_t elem, size_t min) {
  if (n < *cap && p)
    return p;
  size_t c = *cap ? *cap : min / 2;
  if (c == 0 || c > SIZE_MAX / 2 || elem == 0 || c * 2 > SIZE_MAX / elem)
    return NULL;
  c *= 2;
  unsigned char *q = malloc(c * elem);
  if (!q)
    return NULL;
  /* The elements from first to the end of the old block, then those that
   * wrapped to its start. */
  size_t head = n < *cap - *first ? n : *cap - *first;
  if (n) {
    memcpy(q, (unsigned char *)p + *first * elem, head * elem);
    memcpy(q + head * elem, p, (n - head) * elem);
  }
  free(p);
  *cap = c;
  *first = 0;
  return q;
}
