/*
 * yreader.c: see yreader.h.
 */
#include "yreader.h"

#include <stdio.h>
#include <string.h>

#define STD_TAG_PREFIX "tag:yaml.org,2002:"

void yreader_one_line(char *err, size_t errlen) {
  if (!errlen)
    return;
  char tmp[2048];
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)err; *p && o + 5 < sizeof tmp; p++) {
    if (*p == '\n') {
      tmp[o++] = '\\';
      tmp[o++] = 'n';
    } else if (*p == '\r') {
      tmp[o++] = '\\';
      tmp[o++] = 'r';
    } else if (*p == '\t') {
      tmp[o++] = '\\';
      tmp[o++] = 't';
    } else if (*p < 0x20 || *p == 0x7f) {
      o += (size_t)snprintf(tmp + o, sizeof tmp - o, "\\x%02x", *p);
    } else {
      tmp[o++] = (char)*p;
    }
  }
  tmp[o] = '\0';
  snprintf(err, errlen, "%s", tmp);
}

int yreader_vfail(struct yreader *r, unsigned line, unsigned col, const char *fmt, va_list ap) {
  char msg[1536];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (line)
    snprintf(r->err, r->errlen, "%s:%u:%u: %s", r->name, line, col, msg);
  else
    snprintf(r->err, r->errlen, "%s: %s", r->name, msg);
  yreader_one_line(r->err, r->errlen);
  return -1;
}

static int fail(struct yreader *r, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct yreader *r, unsigned line, unsigned col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  yreader_vfail(r, line, col, fmt, ap);
  va_end(ap);
  return -1;
}

int yreader_open(struct yreader *r, const char *name, const char *text, size_t len, const char *holds,
                 char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->name = name;
  r->text = text;
  r->len = len;
  r->holds = holds;
  r->err = err;
  r->errlen = errlen;
  if (!yaml_parser_initialize(&r->parser))
    return fail(r, 0, 0, "out of memory");
  yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, len);
  return 0;
}

void yreader_close(struct yreader *r) {
  if (r->have_ev)
    yaml_event_delete(&r->ev);
  r->have_ev = 0;
  yaml_parser_delete(&r->parser);
}

/* libyaml's reader reports a byte offset, not a mark: count lines ourselves. */
static void pos_of_offset(const struct yreader *r, size_t off, unsigned *line, unsigned *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off && i < r->len; i++) {
    if (r->text[i] == '\n') {
      ++*line;
      *col = 1;
    } else {
      ++*col;
    }
  }
}

static int syntax_error(struct yreader *r) {
  const yaml_parser_t *P = &r->parser;
  const char *problem = P->problem ? P->problem : "unknown problem";
  unsigned line, col;
  switch (P->error) {
  case YAML_MEMORY_ERROR:
    return fail(r, 0, 0, "out of memory while reading the YAML");
  case YAML_READER_ERROR:
    pos_of_offset(r, P->problem_offset, &line, &col);
    if (P->problem_value != -1)
      return fail(r, line, col, "YAML syntax error: %s (byte 0x%02x)", problem,
                  (unsigned)P->problem_value & 0xffu);
    return fail(r, line, col, "YAML syntax error: %s", problem);
  default:
    line = yreader_line(P->problem_mark);
    col = yreader_col(P->problem_mark);
    if (P->context)
      return fail(r, line, col, "YAML syntax error: %s (%s at %u:%u)", problem, P->context,
                  yreader_line(P->context_mark), yreader_col(P->context_mark));
    return fail(r, line, col, "YAML syntax error: %s", problem);
  }
}

static const char *const std_tags[] = {"str", "int", "float", "bool", "null", "seq", "map", NULL};

static int tag_allowed(const char *tag) {
  size_t n = strlen(STD_TAG_PREFIX);
  if (strncmp(tag, STD_TAG_PREFIX, n) != 0)
    return 0;
  for (size_t i = 0; std_tags[i]; i++)
    if (strcmp(tag + n, std_tags[i]) == 0)
      return 1;
  return 0;
}

/* Does a standard tag fit what it tags? !!seq and !!map only their own
 * kind; on a scalar, !!null only a null (empty, ~, null), !!bool only true
 * or false, !!int and !!float only a number: a tag that says otherwise
 * would be read as its value, silently. NULL when it fits, else what it
 * takes. */
static const char *tag_misfit(const char *tag, const yaml_event_t *e) {
  const char *t = tag + strlen(STD_TAG_PREFIX);
  if (e->type == YAML_SEQUENCE_START_EVENT)
    return strcmp(t, "seq") == 0 ? NULL : "a list takes no tag but !!seq";
  if (e->type == YAML_MAPPING_START_EVENT)
    return strcmp(t, "map") == 0 ? NULL : "a mapping takes no tag but !!map";
  const char *v = (const char *)e->data.scalar.value;
  size_t n = e->data.scalar.length;
  if (strcmp(t, "seq") == 0 || strcmp(t, "map") == 0)
    return "a single value takes no tag !!seq or !!map";
  if (strcmp(t, "null") == 0)
    return n == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ? NULL : "!!null tags only an empty value, ~ or null";
  if (strcmp(t, "bool") == 0)
    return strcmp(v, "true") == 0 || strcmp(v, "false") == 0 ? NULL : "!!bool tags only true or false";
  if (strcmp(t, "int") == 0 || strcmp(t, "float") == 0) {
    size_t i = (n && (v[0] == '-' || v[0] == '+')) ? 1 : 0;
    int digits = 0;
    for (; i < n; i++) {
      char c = v[i];
      if (c >= '0' && c <= '9')
        digits = 1;
      else if (t[0] == 'i' || !(c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
        return t[0] == 'i' ? "!!int tags only a whole number" : "!!float tags only a number";
    }
    return digits ? NULL : t[0] == 'i' ? "!!int tags only a whole number" : "!!float tags only a number";
  }
  return NULL; /* !!str: any text */
}

int yreader_next(struct yreader *r) {
  if (r->have_ev)
    yaml_event_delete(&r->ev);
  r->have_ev = 0;
  if (!yaml_parser_parse(&r->parser, &r->ev))
    return syntax_error(r);
  r->have_ev = 1;
  const yaml_event_t *e = &r->ev;
  unsigned line = yreader_line(e->start_mark), col = yreader_col(e->start_mark);
  const yaml_char_t *anchor = NULL, *tag = NULL;
  switch (e->type) {
  case YAML_ALIAS_EVENT:
    return fail(r, line, col, "aliases are not allowed (*%s): write the value out",
                (const char *)e->data.alias.anchor);
  case YAML_SCALAR_EVENT:
    anchor = e->data.scalar.anchor;
    tag = e->data.scalar.tag;
    break;
  case YAML_SEQUENCE_START_EVENT:
    anchor = e->data.sequence_start.anchor;
    tag = e->data.sequence_start.tag;
    break;
  case YAML_MAPPING_START_EVENT:
    anchor = e->data.mapping_start.anchor;
    tag = e->data.mapping_start.tag;
    break;
  default:
    break;
  }
  /* An anchor is only of use to an alias, which is refused; refusing the
   * anchor too says so at the first sign of it. */
  if (anchor)
    return fail(r, line, col, "anchors are not allowed (&%s): write each value out", (const char *)anchor);
  if (tag && !tag_allowed((const char *)tag))
    return fail(r, line, col,
                "tag '%s' is not allowed: %s plain values, lists and mappings "
                "(standard tags !!str, !!int, !!float, !!bool, !!null, !!seq, !!map only)",
                (const char *)tag, r->holds);
  const char *misfit = tag ? tag_misfit((const char *)tag, e) : NULL;
  if (misfit)
    return fail(r, line, col, "tag '%s' does not fit its value: %s", (const char *)tag, misfit);
  return 0;
}
