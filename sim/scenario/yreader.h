/*
 * yreader: the one safe way nicsim reads YAML (scenario files, campaign
 * specs), on libyaml's event parser.
 *
 * What no input of ours needs is refused at the first sign of it, with one
 * line naming the file, line and column: aliases and anchors (no graph, no
 * "billion laughs"), tags other than the standard !!str, !!int, !!float,
 * !!bool, !!null, !!seq, !!map (nothing is constructed from a tag, nothing
 * runs), and libyaml's own syntax and encoding errors. Nothing reads other
 * files: YAML has no include, and no key of ours names a file to parse.
 */
#ifndef NICSIM_YREADER_H
#define NICSIM_YREADER_H

#include <stdarg.h>
#include <stddef.h>
#include <yaml.h>

struct yreader {
  const char *name;     /* the file, in messages */
  const char *text;
  size_t len;
  const char *holds;    /* what the file holds, for the tag message ("scenarios hold") */
  yaml_parser_t parser;
  yaml_event_t ev;      /* the current event (have_ev) */
  int have_ev;
  char *err;
  size_t errlen;
};

/* Start reading text[0..len). 0, or -1 with err filled (out of memory). */
int yreader_open(struct yreader *r, const char *name, const char *text, size_t len, const char *holds,
                 char *err, size_t errlen);
void yreader_close(struct yreader *r);

/* The next event in r->ev. 0, or -1 with the error written (a syntax error,
 * an alias, an anchor, a tag that is not allowed). */
int yreader_next(struct yreader *r);

/* 1-based line and column of a libyaml mark. */
static inline unsigned yreader_line(yaml_mark_t m) { return (unsigned)m.line + 1; }
static inline unsigned yreader_col(yaml_mark_t m) { return (unsigned)m.column + 1; }

/* Write "NAME:LINE:COL: message" (line 0: "NAME: message") into the error
 * buffer, on one line. Always -1. */
int yreader_vfail(struct yreader *r, unsigned line, unsigned col, const char *fmt, va_list ap);

/* Control characters in err (values echoed from a file may hold newlines)
 * written as escapes, so the message stays one line. */
void yreader_one_line(char *err, size_t errlen);

#endif
