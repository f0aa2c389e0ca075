/*
 * Capture records read ahead on a second thread (readahead.h).
 *
 * RA_BATCHES batches go round a ring. The reader thread fills the batch at
 * `head` with records (each a struct pcap_pkthdr and the captured bytes,
 * 8-byte aligned) until it holds RA_BATCH_BYTES or the source ends, then
 * publishes it (head + 1). The caller reads the batch at `tail` in place and
 * gives it back (tail + 1) when it asks for the record after its last, so
 * the record it was last given stays valid until its next call. The reader
 * is at most RA_BATCHES - 1 batches ahead. The lock is taken once per batch
 * on each side, never per record.
 *
 * The last batch the reader publishes carries the source's end: the end of
 * the file or the error, with its text, after the records read before it.
 * The reader thread then returns; the caller keeps giving that end.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "readahead.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  RA_BATCHES = 4,
  /* A batch is published once it holds this much (about 3,000 records of
   * 64 bytes): small enough for the batches to stay in the caches the two
   * CPUs share, large enough that the lock is rare. */
  RA_BATCH_BYTES = 256 * 1024,
  /* Room beyond it for the record that crosses the mark; a larger record
   * grows the batch to fit (libpcap bounds a record by its link type's
   * maximum snapshot length). */
  RA_BATCH_SLACK = 64 * 1024,
  RA_ALIGN = 8,
  /* The reader's stack: it only calls the source. */
  RA_STACK_BYTES = 1024 * 1024,
};

struct ra_batch {
  uint8_t *buf;
  size_t cap, used; /* bytes of records in buf */
  uint32_t count;   /* records in buf */
  int end;          /* 1: the source ended after these records, with rc */
  int rc;           /* the source's result at the end */
  char why[PCAP_ERRBUF_SIZE];
};

struct readahead {
  readahead_source src;
  void *ctx;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t published; /* head moved: a batch to read */
  pthread_cond_t released;  /* tail moved, or stop: a batch to fill */
  unsigned head, tail;      /* under lock; head - tail batches published */
  atomic_int stop;
  struct ra_batch batch[RA_BATCHES];
  /* the caller's place */
  struct ra_batch *cur; /* batch[tail % RA_BATCHES] once taken, else NULL */
  size_t pos;           /* next record in cur */
  uint32_t taken;       /* records of cur given out */
};

static size_t entry_bytes(uint32_t caplen) {
  size_t n = sizeof(struct pcap_pkthdr) + (size_t)caplen;
  return (n + RA_ALIGN - 1) & ~(size_t)(RA_ALIGN - 1);
}

/* The source's end, kept in b. */
static void set_end(struct ra_batch *b, int rc, const char *why) {
  b->end = 1;
  b->rc = rc;
  snprintf(b->why, sizeof b->why, "%s", why ? why : "");
}

/* Fill b from the source: 0, or 1 when the source ended (b holds the end)
 * or the caller stopped. */
static int fill(struct readahead *ra, struct ra_batch *b) {
  b->used = 0;
  b->count = 0;
  b->end = 0;
  while (b->used < RA_BATCH_BYTES) {
    if (atomic_load_explicit(&ra->stop, memory_order_relaxed))
      return 1;
    struct pcap_pkthdr room, *hdr = NULL;
    const u_char *data = NULL;
    const char *why = NULL;
    int rc = ra->src(ra->ctx, &room, &hdr, &data, &why);
    if (rc != 1) {
      set_end(b, rc, why);
      return 1;
    }
    size_t need = entry_bytes(hdr->caplen);
    if (b->used + need > b->cap) {
      size_t cap = b->used + need;
      uint8_t *grown = realloc(b->buf, cap);
      if (grown == NULL) {
        set_end(b, PCAP_ERROR, strerror(ENOMEM));
        return 1;
      }
      b->buf = grown;
      b->cap = cap;
    }
    memcpy(b->buf + b->used, hdr, sizeof *hdr);
    if (hdr->caplen > 0)
      memcpy(b->buf + b->used + sizeof *hdr, data, hdr->caplen);
    b->used += need;
    b->count++;
  }
  return 0;
}

static void *reader(void *arg) {
  struct readahead *ra = arg;
  for (;;) {
    pthread_mutex_lock(&ra->lock);
    while (!atomic_load(&ra->stop) && ra->head - ra->tail == RA_BATCHES)
      pthread_cond_wait(&ra->released, &ra->lock);
    int stop = atomic_load(&ra->stop);
    struct ra_batch *b = &ra->batch[ra->head % RA_BATCHES];
    pthread_mutex_unlock(&ra->lock);
    if (stop)
      return NULL;
    /* b is the reader's alone until it is published. */
    int ended = fill(ra, b);
    if (ended && atomic_load(&ra->stop))
      return NULL;
    pthread_mutex_lock(&ra->lock);
    ra->head++;
    pthread_cond_signal(&ra->published);
    pthread_mutex_unlock(&ra->lock);
    if (ended)
      return NULL;
  }
}

static void free_batches(struct readahead *ra) {
  for (int i = 0; i < RA_BATCHES; i++)
    free(ra->batch[i].buf);
}

struct readahead *readahead_start(readahead_source src, void *ctx) {
  struct readahead *ra = calloc(1, sizeof *ra);
  if (ra == NULL)
    return NULL;
  ra->src = src;
  ra->ctx = ctx;
  atomic_init(&ra->stop, 0);
  for (int i = 0; i < RA_BATCHES; i++) {
    ra->batch[i].cap = RA_BATCH_BYTES + RA_BATCH_SLACK;
    ra->batch[i].buf = malloc(ra->batch[i].cap);
    if (ra->batch[i].buf == NULL) {
      free_batches(ra);
      free(ra);
      return NULL;
    }
  }
  int made = 0;
  pthread_attr_t attr;
  if (pthread_mutex_init(&ra->lock, NULL) == 0) {
    if (pthread_cond_init(&ra->published, NULL) == 0) {
      if (pthread_cond_init(&ra->released, NULL) == 0) {
        if (pthread_attr_init(&attr) == 0) {
          (void)pthread_attr_setstacksize(&attr, RA_STACK_BYTES);
          /* The thread starts with every signal blocked (it inherits this
           * thread's mask), so that none is delivered to it. */
          sigset_t all, old;
          sigfillset(&all);
          pthread_sigmask(SIG_SETMASK, &all, &old);
          made = pthread_create(&ra->thread, &attr, reader, ra) == 0;
          pthread_sigmask(SIG_SETMASK, &old, NULL);
          if (made) /* what ps -L and top -H show; not fatal if refused */
            (void)pthread_setname_np(ra->thread, READAHEAD_THREAD_NAME);
          pthread_attr_destroy(&attr);
        }
        if (!made)
          pthread_cond_destroy(&ra->released);
      }
      if (!made)
        pthread_cond_destroy(&ra->published);
    }
    if (!made)
      pthread_mutex_destroy(&ra->lock);
  }
  if (!made) {
    free_batches(ra);
    free(ra);
    return NULL;
  }
  return ra;
}

int readahead_next(struct readahead *ra, struct pcap_pkthdr **hdr, const u_char **data,
                   const char **why) {
  for (;;) {
    struct ra_batch *b = ra->cur;
    if (b != NULL && ra->taken < b->count) {
      uint8_t *e = b->buf + ra->pos;
      struct pcap_pkthdr *h = (struct pcap_pkthdr *)(void *)e;
      *hdr = h;
      *data = e + sizeof *h;
      ra->pos += entry_bytes(h->caplen);
      ra->taken++;
      return 1;
    }
    if (b != NULL && b->end) {
      *why = b->why;
      return b->rc;
    }
    pthread_mutex_lock(&ra->lock);
    if (b != NULL) { /* every record of it given out: give it back */
      ra->tail++;
      pthread_cond_signal(&ra->released);
    }
    while (ra->head == ra->tail)
      pthread_cond_wait(&ra->published, &ra->lock);
    ra->cur = &ra->batch[ra->tail % RA_BATCHES];
    pthread_mutex_unlock(&ra->lock);
    ra->pos = 0;
    ra->taken = 0;
  }
}

void readahead_stop(struct readahead *ra) {
  if (ra == NULL)
    return;
  pthread_mutex_lock(&ra->lock);
  atomic_store(&ra->stop, 1);
  pthread_cond_broadcast(&ra->released);
  pthread_mutex_unlock(&ra->lock);
  pthread_join(ra->thread, NULL);
  pthread_cond_destroy(&ra->released);
  pthread_cond_destroy(&ra->published);
  pthread_mutex_destroy(&ra->lock);
  free_batches(ra);
  free(ra);
}
