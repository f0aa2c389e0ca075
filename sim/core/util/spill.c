/*
 * spill: 32-bit numbers through an unnamed temporary file (spill.h).
 */
#include "spill.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "outfile.h"

/* 64 KiB: a write or read per 16,384 numbers. */
#define SPILL_BUF SPILL_MEMORY_NUMBERS

struct spill {
  int fd;       /* -1 until the buffer first fills */
  int broken;   /* a write failed */
  int reading;  /* rewound */
  uint32_t n;   /* numbers in buf (writing: buffered; reading: read in) */
  uint32_t pos; /* reading: the next number's index in buf */
  uint64_t count;
  uint32_t buf[SPILL_BUF];
};

struct spill *spill_new(void) {
  struct spill *sp = malloc(sizeof *sp);
  if (!sp)
    return NULL;
  sp->fd = -1;
  sp->broken = sp->reading = 0;
  sp->n = sp->pos = 0;
  sp->count = 0;
  return sp;
}

void spill_free(struct spill *sp) {
  if (!sp)
    return;
  if (sp->fd >= 0)
    close(sp->fd);
  free(sp);
}

static int write_all(int fd, const void *p, size_t len) {
  const char *c = p;
  while (len) {
    ssize_t w = write(fd, c, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    c += w;
    len -= (size_t)w;
  }
  return 0;
}

static int flush(struct spill *sp) {
  if (sp->fd < 0 && !sp->broken) {
    sp->fd = outfile_anon_tmp();
    sp->broken = sp->fd < 0;
  }
  if (sp->n && !sp->broken && write_all(sp->fd, sp->buf, (size_t)sp->n * sizeof sp->buf[0]))
    sp->broken = 1;
  sp->n = 0;
  return sp->broken ? -1 : 0;
}

int spill_put(struct spill *sp, uint32_t v) {
  if (sp->broken || sp->reading)
    return -1;
  sp->buf[sp->n++] = v;
  sp->count++;
  return sp->n == SPILL_BUF ? flush(sp) : 0;
}

int spill_rewind(struct spill *sp) {
  if (sp->broken || sp->reading)
    return -1;
  sp->reading = 1;
  sp->pos = 0;
  if (sp->fd < 0) /* all of them are in the buffer */
    return 0;
  if (flush(sp) || lseek(sp->fd, 0, SEEK_SET) != 0) {
    sp->broken = 1;
    return -1;
  }
  return 0;
}

int spill_get(struct spill *sp, uint32_t *v) {
  if (!sp->reading || sp->broken)
    return 0;
  if (sp->pos == sp->n) {
    if (sp->fd < 0)
      return 0;
    /* Whole numbers only: a short read's remainder is read on. */
    size_t have = 0, want = sizeof sp->buf;
    char *b = (char *)sp->buf;
    while (have < want) {
      ssize_t r = read(sp->fd, b + have, want - have);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0) {
        sp->broken = 1;
        return 0;
      }
      if (r == 0)
        break;
      have += (size_t)r;
    }
    sp->n = (uint32_t)(have / sizeof sp->buf[0]);
    sp->pos = 0;
    if (sp->n == 0)
      return 0;
  }
  *v = sp->buf[sp->pos++];
  return 1;
}

uint64_t spill_count(const struct spill *sp) { return sp->count; }
