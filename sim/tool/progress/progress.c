/*
 * progress.c: see progress.h.
 */
#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* H:MM:SS past an hour, else M:SS. */
static void format_duration(char *buf, size_t n, double s) {
  if (s < 0 || s > 359999999.0)
    s = 0;
  unsigned long t = (unsigned long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, n, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%lu:%02lu", t / 60, t % 60);
}

/* A rate with an SI prefix: 950, 12.3 k, 1.02 M. */
static void format_rate(char *buf, size_t n, double r) {
  if (r >= 1e6)
    snprintf(buf, n, "%.3g M", r / 1e6);
  else if (r >= 1e3)
    snprintf(buf, n, "%.3g k", r / 1e3);
  else
    snprintf(buf, n, "%.3g ", r);
}

void progress_format(char *buf, size_t n, const char *what, const char *unit, uint64_t done,
                     uint64_t total, double elapsed_s, double rate_per_s, const char *note) {
  char el[32];
  format_duration(el, sizeof el, elapsed_s);
  size_t len = 0;
  if (total)
    len = (size_t)snprintf(buf, n, "%s: %llu/%llu %s (%.0f%%)", what, (unsigned long long)done,
                           (unsigned long long)total, unit, 100.0 * (double)done / (double)total);
  else
    len = (size_t)snprintf(buf, n, "%s: %llu %s", what, (unsigned long long)done, unit);
  if (rate_per_s > 0 && len < n) {
    char rate[32];
    format_rate(rate, sizeof rate, rate_per_s);
    len += (size_t)snprintf(buf + len, n - len, ", %s%s/s", rate, unit);
  }
  if (len < n)
    len += (size_t)snprintf(buf + len, n - len, ", elapsed %s", el);
  if (total && len < n) {
    char eta[32] = "?";
    if (done >= total)
      snprintf(eta, sizeof eta, "0:00");
    else if (rate_per_s > 0)
      format_duration(eta, sizeof eta, (double)(total - done) / rate_per_s);
    len += (size_t)snprintf(buf + len, n - len, ", ETA %s", eta);
  }
  if (note && *note && len < n)
    snprintf(buf + len, n - len, ", %s", note);
}

void progress_start(struct progress *p, const char *what, const char *unit, int quiet) {
  memset(p, 0, sizeof *p);
  p->out = !quiet && isatty(STDERR_FILENO) ? stderr : NULL;
  p->what = what;
  p->unit = unit;
  p->start_s = now_s();
  p->drawn_s = -1;
}

void progress_update(struct progress *p, uint64_t done, uint64_t total, const char *note) {
  if (!p->out)
    return;
  double t = now_s();
  if (!p->updated) {
    /* Setting up (reading the trace once, building the machine) is not
     * part of the rate. */
    p->updated = 1;
    p->first_s = t;
    p->first_done = done;
  }
  if (p->drawn_s >= 0 && (t - p->drawn_s) * 1000.0 < PROGRESS_REDRAW_MS)
    return;
  char line[PROGRESS_LINE_MAX];
  /* Unknown (0) until something was done since the first update. */
  double rate = t > p->first_s && done > p->first_done ? (double)(done - p->first_done) / (t - p->first_s) : 0;
  progress_format(line, sizeof line, p->what, p->unit, done, total, t - p->start_s, rate, note);
  size_t w = strlen(line);
  /* Overwrite the previous line whole: pad over what a longer one left. */
  fprintf(p->out, "\r%s%*s", line, p->width > w ? (int)(p->width - w) : 0, "");
  fflush(p->out);
  p->width = w;
  p->drawn_s = t;
}

void progress_clear(struct progress *p) {
  if (!p->out || !p->width)
    return;
  fprintf(p->out, "\r%*s\r", (int)p->width, "");
  fflush(p->out);
  p->width = 0;
  p->drawn_s = -1;
}
