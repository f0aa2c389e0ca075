/*
 * hugemem: large arrays on transparent huge pages (hugemem.h).
 */
#define _GNU_SOURCE /* mremap */
#include "hugemem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

#if defined(__SANITIZE_ADDRESS__)
#define HUGEMEM_MAPPED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUGEMEM_MAPPED 0
#endif
#endif
#ifndef HUGEMEM_MAPPED
#define HUGEMEM_MAPPED 1
#endif

static int mapped(size_t bytes) { return HUGEMEM_MAPPED && bytes >= HUGEMEM_MIN; }

/* bytes rounded up to whole huge pages (0 when that overflows). */
static size_t span(size_t bytes) {
  return bytes > SIZE_MAX - (HUGE_PAGE - 1) ? 0 : (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/* A new mapping of len bytes (a multiple of HUGE_PAGE) starting on a huge
 * page boundary, so that all of it can be huge pages: a larger one is made
 * and its ends cut off. */
static void *map_aligned(size_t len) {
  if (len > SIZE_MAX - HUGE_PAGE)
    return NULL;
  uint8_t *raw = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return NULL;
  size_t head = (HUGE_PAGE - ((uintptr_t)raw & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
  if (head)
    munmap(raw, head);
  if (HUGE_PAGE - head)
    munmap(raw + head + len, HUGE_PAGE - head);
  madvise(raw + head, len, MADV_HUGEPAGE); /* advice: failure (no THP) is harmless */
  return raw + head;
}

void *huge_resize(void *p, size_t old_bytes, size_t new_bytes) {
  if (!p)
    old_bytes = 0;
  if (!mapped(new_bytes)) {
    if (!mapped(old_bytes))
      return realloc(p, new_bytes);
    void *n = malloc(new_bytes); /* shrinking below HUGEMEM_MIN */
    if (!n)
      return NULL;
    memcpy(n, p, new_bytes);
    munmap(p, span(old_bytes));
    return n;
  }
  size_t len = span(new_bytes);
  if (!len)
    return NULL;
  if (mapped(old_bytes)) {
    size_t olen = span(old_bytes);
    if (olen == len)
      return p;
    /* Grown where it lies when it can; moved pages keep their contents
     * (huge ones too), and the advice goes with the new range. */
    void *n = mremap(p, olen, len, MREMAP_MAYMOVE);
    if (n == MAP_FAILED)
      return NULL;
    madvise(n, len, MADV_HUGEPAGE);
    return n;
  }
  void *n = map_aligned(len);
  if (!n)
    return NULL;
  if (old_bytes)
    memcpy(n, p, old_bytes);
  free(p);
  return n;
}

void huge_free(void *p, size_t bytes) {
  if (!p)
    return;
  if (mapped(bytes))
    munmap(p, span(bytes));
  else
    free(p);
}
