/*
 * progress: the progress line of long commands (replay, review, campaign)
 * on a terminal, as tcpreplay and rsync show one: done/total, percent, rate,
 * elapsed time and ETA, redrawn in place with a carriage return at most
 * PROGRESS_REDRAW_MS apart, and cleared at the end so that nothing of it
 * stays in a log. Silent when standard error is not a terminal or with
 * --quiet.
 */
#ifndef NICSIM_PROGRESS_H
#define NICSIM_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_REDRAW_MS 250 /* at most four redraws a second */
#define PROGRESS_LINE_MAX 160

struct progress {
  FILE *out;         /* standard error, or NULL when the line is off */
  const char *what;  /* "replay", "review", "campaign" */
  const char *unit;  /* "frames", "runs" */
  double start_s;    /* monotonic clock at progress_start */
  double drawn_s;    /* when the line was last drawn; < 0: never */
  double first_s;    /* the first update: the rate is measured from there */
  uint64_t first_done;
  int updated;
  size_t width;      /* characters of the line on the terminal now */
};

/* Start a progress line on standard error: on only when it is a terminal
 * and quiet is 0. */
void progress_start(struct progress *p, const char *what, const char *unit, int quiet);

/* Report done of total (total 0: unknown) and an optional note (NULL or ""
 * for none: the last design finished, failures so far). Draws at once the
 * first time, then at most every PROGRESS_REDRAW_MS. */
void progress_update(struct progress *p, uint64_t done, uint64_t total, const char *note);

/* Erase the line (before other output to standard error, and at the end).
 * The next update draws again. */
void progress_clear(struct progress *p);

/* The text of the line: "what: done/total unit (P%), R unit/s, elapsed
 * M:SS, ETA M:SS[, note]", the rate being rate_per_s (from which the ETA
 * follows). Pure (unit-tested). */
void progress_format(char *buf, size_t n, const char *what, const char *unit, uint64_t done,
                     uint64_t total, double elapsed_s, double rate_per_s, const char *note);

#endif
