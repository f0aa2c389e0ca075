/*
 * scenario.c: YAML scenario files (scenario.h) on libyaml's event parser.
 *
 * The file is read in one pass over the parser's events into a list of
 * (dotted key, value text, position) settings; then the base design (if the
 * file names one) is loaded and the settings are applied with config_set() in
 * file order, so `design:` may stand anywhere in the file and still come
 * first. config_validate() checks the result; its message names a key, and
 * when the file set that key, the error points at it.
 *
 * The event parser is used rather than libyaml's document loader because it
 * gives every node's position, never builds a graph (aliases are refused as
 * soon as they appear) and stops at the first problem.
 */
#include "scenario.h"
#include "grow.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yreader.h"

struct seen_key {
  char *path;
  unsigned line;
};

struct loader {
  struct yreader r; /* the file, its parser and the current event */
  struct scenario *s;
  struct seen_key *seen; /* every key path met so far, for duplicates */
  size_t nseen, capseen;
  struct scenario_pos design_pos; /* where `design:`'s value is */
};

/* ---- errors ---- */

static struct scenario_pos pos_of(yaml_mark_t m) {
  struct scenario_pos p = {yreader_line(m), yreader_col(m)};
  return p;
}

/* "NAME:LINE:COL: message". Always returns -1. */
static int fail_at(struct loader *L, struct scenario_pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct loader *L, struct scenario_pos p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  yreader_vfail(&L->r, p.line, p.col, fmt, ap);
  va_end(ap);
  return -1;
}

/* Where the current event starts. */
static struct scenario_pos ev_pos(const struct loader *L) { return pos_of(L->r.ev.start_mark); }

/* The next event, with what scenarios never accept refused right away. */
static int next_event(struct loader *L) { return yreader_next(&L->r); }

static const char *node_kind(const yaml_event_t *e) {
  switch (e->type) {
  case YAML_SEQUENCE_START_EVENT:
    return "a list";
  case YAML_MAPPING_START_EVENT:
    return "a mapping";
  default:
    return "a single value";
  }
}

/* The scalar's text, refusing NUL bytes ("\0" in a double-quoted scalar):
 * everything downstream is a C string. */
static int scalar_text(struct loader *L, const char *what, const char **out) {
  const yaml_event_t *e = &L->r.ev;
  const char *v = (const char *)e->data.scalar.value;
  if (strlen(v) != e->data.scalar.length)
    return fail_at(L, ev_pos(L), "%s: the value contains a NUL character", what);
  *out = v;
  return 0;
}

/* A value left empty (`key:`), or ~ / null: YAML's null, which no key takes. */
static int scalar_is_null(const yaml_event_t *e) {
  if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return 0;
  const char *v = (const char *)e->data.scalar.value;
  return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
         strcmp(v, "NULL") == 0;
}

/* ---- keys ---- */

static int key_index(const char *path) {
  for (size_t i = 0; i < config_key_count(); i++)
    if (strcmp(config_key_name(i), path) == 0)
      return (int)i;
  return -1;
}

/* Some key is PATH.something: PATH opens a mapping of keys ("nic"). */
static int key_prefix(const char *path) {
  size_t n = strlen(path);
  for (size_t i = 0; i < config_key_count(); i++) {
    const char *k = config_key_name(i);
    if (strncmp(k, path, n) == 0 && k[n] == '.')
      return 1;
  }
  return 0;
}

/* Does the key take a list? The key table is private to config.c; its JSON
 * form of the default value is public and is "[...]" exactly for list keys. */
static int key_takes_list(int i) {
  struct config d;
  config_default(&d);
  char buf[1024];
  config_key_json(&d, (size_t)i, buf, sizeof buf);
  return buf[0] == '[';
}

/* The first key of the table under PATH, for examples in messages. */
static const char *first_key_under(const char *path) {
  size_t n = strlen(path);
  for (size_t i = 0; i < config_key_count(); i++) {
    const char *k = config_key_name(i);
    if (strncmp(k, path, n) == 0 && k[n] == '.')
      return k;
  }
  return "nic.queues";
}

static void section_list(char *buf, size_t n) {
  buf[0] = '\0';
  for (size_t i = 0; i < config_key_count(); i++) {
    const char *k = config_key_name(i), *dot = strchr(k, '.');
    if (!dot)
      continue;
    int dup = 0;
    for (size_t j = 0; j < i && !dup; j++)
      dup = strncmp(config_key_name(j), k, (size_t)(dot - k + 1)) == 0;
    if (!dup) {
      size_t l = strlen(buf);
      snprintf(buf + l, n - l, "%s%.*s", l ? ", " : "", (int)(dot - k), k);
    }
  }
}

static int unknown_key(struct loader *L, struct scenario_pos at, const char *path) {
  if (!strchr(path, '.')) {
    char sections[256];
    section_list(sections, sizeof sections);
    return fail_at(L, at, "unknown key '%s' (sections: %s; also design, summary, faults, principals)", path,
                   sections);
  }
  return fail_at(L, at, "unknown key '%s' (nicsim replay --help lists the keys)", path);
}

/* Each key once, whether nested or dotted: `nic: {queues: 4}` and
 * `nic.queues: 5` in one file are the same key twice. */
static int note_key(struct loader *L, const char *path, struct scenario_pos at) {
  for (size_t i = 0; i < L->nseen; i++)
    if (strcmp(L->seen[i].path, path) == 0)
      return fail_at(L, at, "duplicate key '%s' (first given at line %u)", path, L->seen[i].line);
  if (L->nseen == L->capseen) {
    size_t cap = L->capseen ? 2 * L->capseen : 32;
    struct seen_key *n = realloc(L->seen, cap * sizeof *n);
    if (!n)
      return fail_at(L, at, "out of memory");
    L->seen = n;
    L->capseen = cap;
  }
  char *dup = strdup(path);
  if (!dup)
    return fail_at(L, at, "out of memory");
  L->seen[L->nseen].path = dup;
  L->seen[L->nseen++].line = at.line;
  return 0;
}

static int add_setting(struct loader *L, const char *key, const char *value, struct scenario_pos kp,
                       struct scenario_pos vp) {
  struct scenario *s = L->s;
  struct scenario_setting *n = realloc(s->settings, (s->nsettings + 1) * sizeof *n);
  if (!n)
    return fail_at(L, vp, "out of memory");
  s->settings = n;
  struct scenario_setting *t = &s->settings[s->nsettings];
  t->key = strdup(key);
  t->value = strdup(value);
  t->key_pos = kp;
  t->value_pos = vp;
  t->item_pos = NULL;
  t->nitems = 0;
  if (!t->key || !t->value) {
    free(t->key);
    free(t->value);
    return fail_at(L, vp, "out of memory");
  }
  s->nsettings++;
  return 0;
}

/* ---- values ---- */

/* A growing string. */
struct text {
  char *p;
  size_t len, cap;
};

static int text_add(struct text *t, const char *s) {
  size_t n = strlen(s);
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 64;
    while (cap < t->len + n + 1)
      cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p)
      return -1;
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n + 1);
  t->len += n;
  return 0;
}

/* The current event opened a list for key PATH: read its items (plain values
 * only) and give them as "[a,b]" to the key (xdp.rules: "[a; b]", its items
 * hold ',' and brackets; config_list_separator). Each item is checked where
 * it stands. */
static int read_list_value(struct loader *L, const char *path, struct scenario_pos kp) {
  struct scenario_pos vp = pos_of(L->r.ev.start_mark);
  char sep = config_list_separator(path);
  char sep_text[3] = {sep, sep == ';' ? ' ' : '\0', '\0'};
  struct text t = {0};
  struct scenario_pos *at = NULL;
  size_t nat = 0, capat = 0;
  int rc = text_add(&t, "[");
  for (size_t n = 0; rc == 0; n++) {
    if ((rc = next_event(L)))
      break;
    if (L->r.ev.type == YAML_SEQUENCE_END_EVENT)
      break;
    if (L->r.ev.type != YAML_SCALAR_EVENT) {
      rc = fail_at(L, ev_pos(L), "%s: expected a list of plain values, found %s in it", path,
                   node_kind(&L->r.ev));
      break;
    }
    const char *v = NULL;
    if ((rc = scalar_text(L, path, &v)))
      break;
    /* The list goes to config_set as text: an item holding the separators
     * would silently become several items, or none. */
    if (scalar_is_null(&L->r.ev) || !*v) {
      rc = fail_at(L, ev_pos(L), "%s: a list item is empty", path);
      break;
    }
    if (sep == ';' ? strchr(v, ';') != NULL : strpbrk(v, ",[]") != NULL) {
      rc = fail_at(L, ev_pos(L), sep == ';' ? "%s: list item '%s' cannot contain ';'"
                                            : "%s: list item '%s' cannot contain ',', '[' or ']'", path, v);
      break;
    }
    char e[1200];
    if (config_list_item_check(path, n, v, e, sizeof e)) {
      rc = fail_at(L, ev_pos(L), "%s", e);
      break;
    }
    struct scenario_pos *nat_p = grow_array(at, &capat, nat + 1, sizeof *at);
    if ((n && text_add(&t, sep_text)) || text_add(&t, v) || !nat_p) {
      rc = fail_at(L, vp, "out of memory");
      break;
    }
    at = nat_p;
    at[nat++] = ev_pos(L);
  }
  if (rc == 0 && text_add(&t, "]"))
    rc = fail_at(L, vp, "out of memory");
  if (rc == 0)
    rc = add_setting(L, path, t.p, kp, vp);
  if (rc == 0) {
    L->s->settings[L->s->nsettings - 1].item_pos = at;
    L->s->settings[L->s->nsettings - 1].nitems = nat;
    at = NULL;
  }
  free(at);
  free(t.p);
  return rc;
}

/* The current event is the value of key PATH (a full key): record it. */
static int read_key_value(struct loader *L, const char *path, int ki, struct scenario_pos kp) {
  const yaml_event_t *e = &L->r.ev;
  int list = key_takes_list(ki);
  if (e->type == YAML_SEQUENCE_START_EVENT) {
    if (!list)
      return fail_at(L, ev_pos(L), "%s: expected a single value, found a list", path);
    return read_list_value(L, path, kp);
  }
  if (e->type != YAML_SCALAR_EVENT)
    return fail_at(L, ev_pos(L), "%s: expected %s, found a mapping", path,
                   list ? "a list" : "a single value");
  struct scenario_pos vp = pos_of(e->start_mark);
  const char *v = NULL;
  if (scalar_text(L, path, &v))
    return -1;
  if (scalar_is_null(e))
    return fail_at(L, vp, "%s: no value given", path);
  if (list) {
    /* A list key takes a YAML list, or a word that stands for one (`all`).
     * One bare item (`caps: CAP_NET_ADMIN`) is refused: it reads as a single
     * value and would silently be taken as a list of one. */
    struct config probe;
    config_default(&probe);
    char one[CFG_OWNS_MAX + 8], perr[256];
    snprintf(one, sizeof one, "[%s]", v);
    if (strlen(v) < CFG_OWNS_MAX && config_set(&probe, path, one, perr, sizeof perr) == 0)
      return fail_at(L, vp, "%s: expected a list: write [%s]", path, v);
  }
  return add_setting(L, path, v, kp, vp);
}

/* `design:`, `summary:` and `faults:` at the top level. */
static int read_reserved(struct loader *L, const char *key, struct scenario_pos kp) {
  struct scenario *s = L->s;
  const yaml_event_t *e = &L->r.ev;
  const char *v = NULL;
  if (strcmp(key, "faults") == 0) {
    if (e->type == YAML_SCALAR_EVENT && scalar_is_null(e))
      return 0; /* `faults:` with every item commented out */
    if (e->type != YAML_SEQUENCE_START_EVENT)
      return fail_at(L, ev_pos(L), "faults: expected a list of fault specs such as "
                     "[\"late_dma:packet=10\"], found %s", node_kind(e));
    for (;;) {
      if (next_event(L))
        return -1;
      if (L->r.ev.type == YAML_SEQUENCE_END_EVENT)
        return 0;
      if (L->r.ev.type != YAML_SCALAR_EVENT)
        return fail_at(L, ev_pos(L), "faults: each item is a fault spec as text, found %s",
                       node_kind(&L->r.ev));
      if (scalar_text(L, "faults", &v))
        return -1;
      if (!*v || scalar_is_null(&L->r.ev))
        return fail_at(L, ev_pos(L), "faults: a list item is empty");
      char **f = realloc(s->faults, (s->nfaults + 1) * sizeof *f);
      if (f)
        s->faults = f;
      struct scenario_pos *fp = realloc(s->fault_pos, (s->nfaults + 1) * sizeof *fp);
      if (fp)
        s->fault_pos = fp;
      char *dup = f && fp ? strdup(v) : NULL;
      if (!dup)
        return fail_at(L, kp, "out of memory");
      s->faults[s->nfaults] = dup;
      s->fault_pos[s->nfaults++] = pos_of(L->r.ev.start_mark);
    }
  }
  /* design, summary: one value. */
  if (e->type != YAML_SCALAR_EVENT)
    return fail_at(L, ev_pos(L), "%s: expected a single value, found %s", key, node_kind(e));
  if (scalar_text(L, key, &v))
    return -1;
  struct scenario_pos vp = pos_of(e->start_mark);
  if (strcmp(key, "summary") == 0) {
    if (scalar_is_null(e))
      return 0;
    if (strlen(v) >= sizeof s->summary)
      return fail_at(L, vp, "summary: %zu bytes long; at most %zu are allowed", strlen(v),
                     sizeof s->summary - 1);
    for (const char *p = v; *p; p++)
      if ((unsigned char)*p < 0x20)
        return fail_at(L, vp, "summary: must be one line of text");
    snprintf(s->summary, sizeof s->summary, "%s", v);
    return 0;
  }
  if (scalar_is_null(e))
    return fail_at(L, vp, "design: no value given (nicsim designs lists the built-in designs)");
  if (strlen(v) >= sizeof s->design)
    return fail_at(L, vp, "design: unknown design '%.40s...' (nicsim designs lists them)", v);
  snprintf(s->design, sizeof s->design, "%s", v);
  L->design_pos = vp;
  return 0;
}

/* `principals:` at the top level: a list of mappings, each one principal
 * (contract.md, "Principals"). Item N's keys become the settings
 * principals.N.KEY, after a "principals: []" that drops a base design's
 * list: the file's list is the scenario's whole list. */
static int read_principals(struct loader *L, struct scenario_pos kp) {
  const yaml_event_t *e = &L->r.ev;
  if (e->type == YAML_SCALAR_EVENT && scalar_is_null(e))
    return add_setting(L, "principals", "[]", kp, ev_pos(L));
  if (e->type != YAML_SEQUENCE_START_EVENT)
    return fail_at(L, ev_pos(L), "principals: expected a list of principals such as "
                   "[{name: web, owns: \"tcp port 443\"}], found %s", node_kind(e));
  if (add_setting(L, "principals", "[]", kp, ev_pos(L)))
    return -1;
  for (unsigned n = 0;; n++) {
    if (next_event(L))
      return -1;
    if (L->r.ev.type == YAML_SEQUENCE_END_EVENT)
      return 0;
    if (L->r.ev.type != YAML_MAPPING_START_EVENT)
      return fail_at(L, ev_pos(L), "principals: each item is a mapping of name, owns, caps, delivery, queue, "
                     "zc_queues, mapping, mapping_lifetime; found %s", node_kind(&L->r.ev));
    if (n >= CFG_MAX_PRINCIPALS)
      return fail_at(L, ev_pos(L), "principals: more than %d principals: allowed 0..%d beyond app and other",
                     CFG_MAX_PRINCIPALS, CFG_MAX_PRINCIPALS);
    struct scenario_pos item = ev_pos(L);
    int named = 0;
    for (;;) {
      if (next_event(L))
        return -1;
      if (L->r.ev.type == YAML_MAPPING_END_EVENT)
        break;
      if (L->r.ev.type != YAML_SCALAR_EVENT)
        return fail_at(L, ev_pos(L), "a key must be a name, found %s", node_kind(&L->r.ev));
      const char *k = NULL;
      if (scalar_text(L, "key", &k))
        return -1;
      struct scenario_pos fkp = ev_pos(L);
      int kind = config_principal_field(k);
      if (kind < 0)
        return fail_at(L, fkp, "principals: unknown key '%.40s' (a principal has name, owns, caps, delivery, "
                       "queue, zc_queues, mapping, mapping_lifetime)", k);
      named |= strcmp(k, "name") == 0;
      char path[64];
      snprintf(path, sizeof path, "principals.%u.%s", n, k);
      if (note_key(L, path, fkp) || next_event(L))
        return -1;
      int rc;
      if (L->r.ev.type == YAML_SEQUENCE_START_EVENT) {
        if (!kind)
          return fail_at(L, ev_pos(L), "%s: expected a single value, found a list", path);
        rc = read_list_value(L, path, fkp);
      } else if (L->r.ev.type != YAML_SCALAR_EVENT) {
        return fail_at(L, ev_pos(L), "%s: expected %s, found a mapping", path, kind ? "a list" : "a single value");
      } else {
        const char *v = NULL;
        if (scalar_text(L, path, &v))
          return -1;
        if (scalar_is_null(&L->r.ev) && strcmp(k, "owns") != 0)
          return fail_at(L, ev_pos(L), "%s: no value given", path);
        if (kind && strcmp(v, "all") != 0)
          return fail_at(L, ev_pos(L), "%s: expected a list: write [%s]", path, v);
        rc = add_setting(L, path, scalar_is_null(&L->r.ev) ? "" : v, fkp, ev_pos(L));
      }
      if (rc)
        return rc;
    }
    if (!named)
      return fail_at(L, item, "principals: item %u has no name (name: [A-Za-z0-9_-], 1..%d characters)", n + 1,
                     CFG_PRINCIPAL_NAME_MAX);
  }
}

/* The current event opened a mapping whose keys extend PREFIX ("" at the
 * top level). Reads it to its end. */
static int read_mapping(struct loader *L, const char *prefix) {
  for (;;) {
    if (next_event(L))
      return -1;
    if (L->r.ev.type == YAML_MAPPING_END_EVENT)
      return 0;
    if (L->r.ev.type != YAML_SCALAR_EVENT)
      return fail_at(L, ev_pos(L), "a key must be a name, found %s", node_kind(&L->r.ev));
    const char *k = NULL;
    if (scalar_text(L, "key", &k))
      return -1;
    struct scenario_pos kp = pos_of(L->r.ev.start_mark);
    size_t plen = strlen(prefix), klen = strlen(k);
    char *path = malloc(plen + klen + 2);
    if (!path)
      return fail_at(L, kp, "out of memory");
    if (plen)
      snprintf(path, plen + klen + 2, "%s.%s", prefix, k);
    else
      snprintf(path, plen + klen + 2, "%s", k);
    int rc = note_key(L, path, kp);
    if (rc == 0)
      rc = next_event(L);
    if (rc == 0) {
      int ki = key_index(path);
      int reserved = !plen && (strcmp(path, "design") == 0 || strcmp(path, "summary") == 0 ||
                               strcmp(path, "faults") == 0);
      if (reserved)
        rc = read_reserved(L, path, kp);
      else if (!plen && strcmp(path, "principals") == 0)
        rc = read_principals(L, kp);
      else if (ki >= 0)
        rc = read_key_value(L, path, ki, kp);
      else if (!key_prefix(path))
        rc = unknown_key(L, kp, path);
      else if (L->r.ev.type == YAML_MAPPING_START_EVENT)
        rc = read_mapping(L, path); /* depth is bounded: only prefixes of keys get here */
      else
        rc = fail_at(L, ev_pos(L), "%s: expected a mapping of its keys (such as %s), found %s", path,
                     first_key_under(path), node_kind(&L->r.ev));
    }
    free(path);
    if (rc)
      return rc;
  }
}

/* The whole stream: one document holding one mapping. */
static int read_stream(struct loader *L) {
  if (next_event(L))
    return -1;
  if (L->r.ev.type != YAML_STREAM_START_EVENT)
    return fail_at(L, ev_pos(L), "YAML syntax error: no stream start");
  if (next_event(L))
    return -1;
  if (L->r.ev.type == YAML_STREAM_END_EVENT)
    return fail_at(L, ev_pos(L),
                   "the scenario is empty: expected a mapping of scenario keys such as 'nic.queues: 4'");
  if (next_event(L)) /* past DOCUMENT-START, to the root node */
    return -1;
  const yaml_event_t *e = &L->r.ev;
  if (e->type == YAML_SCALAR_EVENT && scalar_is_null(e))
    return fail_at(L, ev_pos(L),
                   "the scenario is empty: expected a mapping of scenario keys such as 'nic.queues: 4'");
  if (e->type != YAML_MAPPING_START_EVENT)
    return fail_at(L, ev_pos(L), "the top level must be a mapping of scenario keys, found %s", node_kind(e));
  if (read_mapping(L, ""))
    return -1;
  if (next_event(L)) /* DOCUMENT-END */
    return -1;
  if (next_event(L))
    return -1;
  if (L->r.ev.type != YAML_STREAM_END_EVENT)
    return fail_at(L, ev_pos(L), "only one YAML document is allowed in a scenario");
  return 0;
}

/* The base design, then the settings in file order, then the checks across
 * keys. */
static int apply(struct loader *L) {
  struct scenario *s = L->s;
  char e[1200];
  if (s->design[0]) {
    if (config_from_design(&s->cfg, s->design, e, sizeof e))
      return fail_at(L, L->design_pos, "design: %s", e);
  } else {
    config_default(&s->cfg);
  }
  for (size_t i = 0; i < s->nsettings; i++)
    if (config_set(&s->cfg, s->settings[i].key, s->settings[i].value, e, sizeof e))
      return fail_at(L, s->settings[i].value_pos, "%s", e);
  if (config_validate(&s->cfg, e, sizeof e)) {
    /* The message starts with the key it is about; point at it when this
     * file set it (the last time). */
    struct scenario_pos at = {0, 0};
    const char *colon = strchr(e, ':');
    for (size_t i = 0; colon && i < s->nsettings; i++)
      if (strlen(s->settings[i].key) == (size_t)(colon - e) &&
          strncmp(s->settings[i].key, e, (size_t)(colon - e)) == 0) {
        at = s->settings[i].value_pos;
        /* "KEY: rule N ...": at the item itself when the file wrote a list. */
        unsigned long rule = 0;
        if (sscanf(colon, ": rule %lu", &rule) == 1 && rule >= 1 && rule <= s->settings[i].nitems)
          at = s->settings[i].item_pos[rule - 1];
      }
    return fail_at(L, at, "%s", e);
  }
  return 0;
}

void scenario_free(struct scenario *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nsettings; i++) {
    free(s->settings[i].key);
    free(s->settings[i].value);
    free(s->settings[i].item_pos);
  }
  free(s->settings);
  for (size_t i = 0; i < s->nfaults; i++)
    free(s->faults[i]);
  free(s->faults);
  free(s->fault_pos);
  memset(s, 0, sizeof *s);
}

int scenario_load_text(const char *name, const char *text, size_t len, struct scenario *out, char *err,
                       size_t errlen) {
  struct scenario *s = calloc(1, sizeof *s);
  struct loader L;
  memset(&L, 0, sizeof L);
  L.s = s;
  memset(out, 0, sizeof *out);
  if (yreader_open(&L.r, name ? name : "scenario", text, len, "scenarios hold", err, errlen)) {
    free(s);
    return -1;
  }
  if (!s) {
    yreader_close(&L.r);
    return fail_at(&L, (struct scenario_pos){0, 0}, "out of memory");
  }
  int rc = read_stream(&L);
  yreader_close(&L.r);
  for (size_t i = 0; i < L.nseen; i++)
    free(L.seen[i].path);
  free(L.seen);
  if (rc == 0)
    rc = apply(&L);
  if (rc == 0)
    *out = *s;
  else
    scenario_free(s);
  free(s);
  return rc;
}

int scenario_load_file(const char *path, struct scenario *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    yreader_one_line(err, errlen);
    return -1;
  }
  /* One byte more than the limit tells a file at the limit from a longer one. */
  char *buf = malloc(SCENARIO_FILE_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  size_t n = fread(buf, 1, SCENARIO_FILE_MAX_BYTES + 1, f);
  int bad = ferror(f);
  int saved = errno;
  fclose(f);
  if (bad) {
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(saved));
    yreader_one_line(err, errlen);
    free(buf);
    return -1;
  }
  if (n > SCENARIO_FILE_MAX_BYTES) {
    snprintf(err, errlen, "%s: larger than %u bytes: not a scenario", path, SCENARIO_FILE_MAX_BYTES);
    yreader_one_line(err, errlen);
    free(buf);
    return -1;
  }
  int rc = scenario_load_text(path, buf, n, out, err, errlen);
  free(buf);
  return rc;
}
