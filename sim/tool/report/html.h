/*
 * html: the design review as one self-contained web page to share: a
 * header with what was run (trace, frames, flows, version, seed, --set
 * keys, the command that reproduces it), a chart of cost against
 * violations per design (SVG written here: every point labelled, coloured
 * by verdict, with a legend), the table, and per design its summary, the
 * first violation of each property it violates with its explanation, who
 * leaked to whom where the report has by_pair, and the settings that define
 * it (collapsible). No script, nothing loaded from elsewhere.
 */
#ifndef NICSIM_HTML_H
#define NICSIM_HTML_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "checker.h"

struct review_row {
  const char *design;
  const char *verdict;      /* "safe", "unsafe", "inconclusive", or "error" when the run failed */
  uint64_t props[PROP_COUNT];
  double cycles_per_packet;
  double delivered_gbps;
  int64_t drops;
  const char *summary;      /* the design's one-line summary, or NULL */
  const char *settings;     /* the design's scenario file (YAML), or NULL */
  json_object *report;      /* the run's report (first violations, by_pair), or NULL */
};

/* What every run of the review shared. */
struct review_meta {
  const char *trace;        /* the trace as given */
  const char *designs;      /* --designs as given ("all": every design) */
  json_object *trace_info;  /* a report's "trace" object (packets, flows...), or NULL */
  uint64_t seed;
  const char *const *sets;  /* the --set KEY=VALUE arguments, in order */
  size_t nsets;
  uint64_t limit_frames;    /* --limit N: every run replayed the first N frames (0: all) */
};

/* The page's text (malloc'ed; the caller writes it), or NULL when out of
 * memory. */
char *review_html(const struct review_meta *m, const struct review_row *rows, size_t n);

/* The chart alone (an <svg> element) on f; exposed for tests. */
void review_chart_svg(FILE *f, const struct review_row *rows, size_t n);

#endif
