/*
 * scenario: scenario files (YAML) read into a struct config.
 *
 * A scenario is one YAML mapping. Nested mappings spell the dotted scenario
 * keys of config.h (`nic: {queues: 4}` is `nic.queues`), and a dotted key may
 * also be written at the top level (`nic.queues: 4`). Each value, a scalar or a
 * list of scalars, is turned back into the text config_set() takes (a list
 * becomes "[a,b]"), so the key table of config.c alone decides the names, the
 * types and the allowed values, exactly as for --set.
 *
 * Three top-level keys are the scenario's own:
 *   design:  a built-in design to start from (its settings, then the file's);
 *            without it the file starts from the defaults;
 *   summary: one line describing the scenario (`nicsim designs` shows it);
 *   faults:  a list of fault specs (`NAME[:KEY=VALUE,...]`, contract.md), kept
 *            as text with their positions for the fault module.
 *
 * Only plain data is accepted: scalars (any quoting style), lists and
 * mappings. Anchors and aliases are refused (no shared or expanding nodes, so
 * no "billion laughs"), and so is every tag other than YAML's standard ones
 * (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map). libyaml's event parser
 * never constructs objects or runs code; nothing here does either.
 *
 * Every error is one line, "FILE:LINE:COLUMN: what is wrong" (1-based, from
 * libyaml's marks; "FILE: ..." when no position applies, such as a file that
 * cannot be opened), naming the key and the allowed values where there is one.
 */
#ifndef NICSIM_SCENARIO_H
#define NICSIM_SCENARIO_H

#include <stddef.h>

#include "config.h"

#define SCENARIO_DESIGN_MAX 64
#define SCENARIO_SUMMARY_MAX 256
#define SCENARIO_FILE_MAX_BYTES (1u << 20) /* a scenario is a page of text, not a data set */

/* 1-based line and column in the scenario's text. */
struct scenario_pos {
  unsigned line, col;
};

/* One key the file sets, in file order, as config_set() was given it. */
struct scenario_setting {
  char *key;   /* dotted, e.g. "nic.rss_queues" */
  char *value; /* text, e.g. "[0,1,2]" */
  struct scenario_pos key_pos, value_pos;
  struct scenario_pos *item_pos; /* a list written as a YAML list: where each item stands */
  size_t nitems;
};

struct scenario {
  struct config cfg;                 /* defaults or the base design, then the file's keys */
  char design[SCENARIO_DESIGN_MAX];  /* the base design named by `design:`, or "" */
  char summary[SCENARIO_SUMMARY_MAX]; /* `summary:`, or "" */
  struct scenario_setting *settings; /* the keys the file sets, in file order */
  size_t nsettings;
  char **faults;                     /* `faults:` specs as text, in file order */
  struct scenario_pos *fault_pos;    /* where each spec is, for error messages */
  size_t nfaults;
};

/* Read and check the scenario file at path. 0 with *out filled (release it
 * with scenario_free), or -1 with err filled and *out holding nothing to free.
 * The file is at most SCENARIO_FILE_MAX_BYTES. */
int scenario_load_file(const char *path, struct scenario *out, char *err, size_t errlen);

/* The same for text already in memory (len bytes, need not end in NUL); name
 * stands for the file in messages. Used for the built-in designs and for
 * fuzzing. */
int scenario_load_text(const char *name, const char *text, size_t len, struct scenario *out, char *err,
                       size_t errlen);

/* Release what a successful load allocated; *s is zeroed. Safe on a zeroed
 * struct. */
void scenario_free(struct scenario *s);

/* ---- built-in designs, embedded at build time ---- */

/* One file of sim/scenario/designs/, turned into a C array by
 * sim/scenario/embed_designs.cmake (designs_embedded.c in the build tree). */
struct scenario_embedded {
  const char *name; /* the file's base name: the design's name */
  const char *text; /* the file's bytes, NUL-terminated */
  size_t len;       /* bytes, without the NUL */
};

extern const struct scenario_embedded scenario_embedded_designs[];
extern const size_t scenario_embedded_design_count;

#endif
