#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

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
