/*
 * num.c: see num.h.
 */
#include "num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NUM_TEXT_MAX 64 /* longer texts are no number this program takes */

int num_u64_n(const char *text, size_t len, uint64_t *out) {
  if (!text || len == 0)
    return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned d = (unsigned)(unsigned char)text[i] - '0';
    if (d > 9)
      return -1;
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int num_u64(const char *text, uint64_t *out) { return text ? num_u64_n(text, strlen(text), out) : -1; }

int num_double_n(const char *text, size_t len, double *out) {
  char buf[NUM_TEXT_MAX];
  if (!text || len == 0 || len >= sizeof buf)
    return -1;
  memcpy(buf, text, len);
  buf[len] = '\0';
  /* Plain decimal or exponent form: digits, one sign in front (or after the
   * exponent mark), a point, e/E. */
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    int ok = (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' ||
             ((c == '-' || c == '+') && (i == 0 || buf[i - 1] == 'e' || buf[i - 1] == 'E'));
    if (!ok)
      return -1;
  }
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (end != buf + len || !isfinite(v))
    return -1;
  /* ERANGE on underflow: a value too small to represent is not the value
   * written (1e-400 is not 0). */
  if (errno == ERANGE)
    return -1;
  *out = v;
  return 0;
}

int num_double(const char *text, double *out) { return text ? num_double_n(text, strlen(text), out) : -1; }

const char *num_elide(const char *text, char *buf, size_t n) {
  if (!n)
    return buf;
  size_t len = text ? strlen(text) : 0;
  if (len + 1 <= n) {
    memcpy(buf, text ? text : "", len + 1);
  } else if (n < 8) {
    memcpy(buf, text, n - 1);
    buf[n - 1] = '\0';
  } else {
    size_t keep = n - 4, head = keep * 2 / 3, tail = keep - head;
    memcpy(buf, text, head);
    memcpy(buf + head, "...", 3);
    memcpy(buf + head + 3, text + len - tail, tail);
    buf[n - 1] = '\0';
  }
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  return buf;
}
