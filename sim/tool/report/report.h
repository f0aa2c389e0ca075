/*
 * report: the replay report as JSON (contract.md, every key always present)
 * and as a human summary. Building is separate from writing so that the
 * command line decides where output goes; files are written atomically.
 */
#ifndef NICSIM_REPORT_H
#define NICSIM_REPORT_H

#include <stdio.h>

#include "system.h"

struct json_object;

/* The report object (caller owns it: json_object_put). NULL when out of memory. */
struct json_object *report_json(const struct replay_opts *o, const struct replay_result *r);

/* Write obj to path as outfile writes ("-" for standard output, devices
 * and FIFOs in place, regular files replaced whole). 0, or -1 with err
 * filled. */
int report_write_json(struct json_object *obj, const char *path, char *err, size_t errlen);

/* Human summary: verdict, counts, throughput, cycles per packet, the first
 * explanation of each violated property. */
void report_print_human(FILE *out, const struct replay_opts *o, const struct replay_result *r);

/* Who leaks to whom, from a report's JSON: for each property of `violations`
 * with more than one by_pair entry, one line (text) or one table row
 * (markdown: "| ROW | property | who <- whose: count (bytes), ... |") headed
 * by row (a design's name). Returns how many lines it printed; a markdown
 * caller prints report_pairs_markdown_head first when there are any. */
unsigned report_print_pairs(FILE *out, const char *row, struct json_object *report, int markdown);
#define REPORT_PAIRS_MARKDOWN_HEAD "| design | property | who <- whose bytes: count (bytes) |\n|---|---|---|\n"
/* 1 when some property of the report has more than one by_pair entry. */
int report_has_pairs(struct json_object *report);

/* "unsafe" (a violation), "inconclusive" (none, but the run did not
 * exercise what it was asked to: r->inconclusive says why) or "safe". */
const char *report_verdict(const struct replay_result *r);

/* NICSIM_VERSION_STRING: the project's version, from CMake's project()
 * (sim/CMakeLists.txt gives it to every file of nicsim_tool and its users). */

#endif
