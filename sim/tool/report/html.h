/*
 * html: the design review as a self-contained web page: the table, and a
 * chart of cost against safety per design drawn by gnuplot (Debian's
 * gnuplot-nox, run as a separate program; the SVG it writes is inlined).
 */
#ifndef NICSIM_HTML_H
#define NICSIM_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "checker.h"

struct review_row {
  const char *design;
  const char *verdict;      /* "safe", "unsafe", or "error" when the run failed */
  uint64_t props[PROP_COUNT];
  double cycles_per_packet;
  double delivered_gbps;
  int64_t drops;
};

/* Write the page to path (atomically). 0, or -1 with err filled (gnuplot
 * missing or failing is an error that names it). */
int review_html(const char *path, const char *trace, const struct review_row *rows, size_t n,
                char *err, size_t errlen);

#endif
