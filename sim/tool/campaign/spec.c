/*
 * spec.c: campaign specs (campaign.h) on libyaml's event parser.
 *
 * The file is read into a small tree of our own (scalars, lists, mappings,
 * each with its position), refusing what specs never need, as scenario files
 * do: anchors, aliases and non-standard tags. Then the tree is checked key by
 * key; the first problem is one line naming the file, line and column.
 */
#include "campaign.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "yreader.h"

#include "config.h"
#include "fault.h"
#include "num.h"

#define MAX_DEPTH 32

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
  enum ykind kind;
  char *text;  /* scalars */
  int plain;   /* a plain (unquoted) scalar */
  struct campaign_pos pos;
  struct ynode *kids; /* lists: items; mappings: key, value, key, value... */
  size_t n, cap;
};

struct ctx {
  struct yreader r; /* the spec, its parser and the current event */
};

/* ---- errors ---- */

static int fail_at(struct ctx *C, struct campaign_pos p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct ctx *C, struct campaign_pos p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  yreader_vfail(&C->r, p.line, p.col, fmt, ap);
  va_end(ap);
  return -1;
}

static struct campaign_pos pos_of(yaml_mark_t m) {
  struct campaign_pos p = {yreader_line(m), yreader_col(m)};
  return p;
}

/* ---- events into a tree ---- */

/* The next event, with aliases, anchors and non-standard tags refused. */
static int next_event(struct ctx *C) { return yreader_next(&C->r); }

static void node_free(struct ynode *n) {
  for (size_t i = 0; i < n->n; i++)
    node_free(&n->kids[i]);
  free(n->kids);
  free(n->text);
  memset(n, 0, sizeof *n);
}

static struct ynode *add_kid(struct ynode *n) {
  if (n->n == n->cap) {
    size_t cap = n->cap ? 2 * n->cap : 8;
    struct ynode *k = realloc(n->kids, cap * sizeof *k);
    if (!k)
      return NULL;
    n->kids = k;
    n->cap = cap;
  }
  struct ynode *k = &n->kids[n->n++];
  memset(k, 0, sizeof *k);
  return k;
}

/* The current event starts a node: read it whole into *out. */
static int read_node(struct ctx *C, struct ynode *out, int depth) {
  const yaml_event_t *e = &C->r.ev;
  out->pos = pos_of(e->start_mark);
  if (depth > MAX_DEPTH)
    return fail_at(C, out->pos, "nested too deep (more than %d levels)", MAX_DEPTH);
  if (e->type == YAML_SCALAR_EVENT) {
    out->kind = Y_SCALAR;
    if (strlen((const char *)e->data.scalar.value) != e->data.scalar.length)
      return fail_at(C, out->pos, "the value contains a NUL character");
    out->text = strdup((const char *)e->data.scalar.value);
    out->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return out->text ? 0 : fail_at(C, out->pos, "out of memory");
  }
  if (e->type != YAML_SEQUENCE_START_EVENT && e->type != YAML_MAPPING_START_EVENT)
    return fail_at(C, out->pos, "unexpected YAML event");
  out->kind = e->type == YAML_SEQUENCE_START_EVENT ? Y_SEQ : Y_MAP;
  yaml_event_type_t end = out->kind == Y_SEQ ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
  for (;;) {
    if (next_event(C))
      return -1;
    if (C->r.ev.type == end)
      return 0;
    struct ynode *k = add_kid(out);
    if (!k)
      return fail_at(C, out->pos, "out of memory");
    if (read_node(C, k, depth + 1))
      return -1;
  }
}

static int is_null(const struct ynode *n) {
  if (n->kind != Y_SCALAR || !n->plain)
    return 0;
  const char *v = n->text;
  return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
         strcmp(v, "NULL") == 0;
}

static const char *kind_name(const struct ynode *n) {
  return n->kind == Y_SEQ ? "a list" : n->kind == Y_MAP ? "a mapping" : "a single value";
}

/* ---- small helpers ---- */

static char *join_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static int push_str(char ***list, size_t *n, char *s) {
  char **l = realloc(*list, (*n + 1) * sizeof *l);
  if (!l)
    return -1;
  *list = l;
  l[(*n)++] = s;
  return 0;
}

/* A list node, or a single scalar standing for a list of one. */
static size_t items(const struct ynode *n) { return n->kind == Y_SEQ ? n->n : 1; }
static const struct ynode *item(const struct ynode *n, size_t i) { return n->kind == Y_SEQ ? &n->kids[i] : n; }

/* ---- keys ---- */

static int read_traces(struct ctx *C, const struct ynode *v, const char *base_dir, struct campaign_spec *s) {
  if (v->kind == Y_MAP || is_null(v))
    return fail_at(C, v->pos, "traces: expected a list of trace files, found %s",
                   is_null(v) ? "nothing" : kind_name(v));
  for (size_t i = 0; i < items(v); i++) {
    const struct ynode *t = item(v, i);
    if (t->kind != Y_SCALAR || is_null(t) || !*t->text)
      return fail_at(C, t->pos, "traces: expected a file name, found %s",
                     t->kind != Y_SCALAR ? kind_name(t) : "nothing");
    if (strcmp(t->text, "-") == 0)
      return fail_at(C, t->pos, "traces: '-' (standard input) cannot be a campaign's trace: every run reads it");
    char *joined = t->text[0] == '/' ? strdup(t->text) : join_path(base_dir, t->text);
    if (!joined)
      return fail_at(C, t->pos, "out of memory");
    char *abs = realpath(joined, NULL);
    int e = errno;
    struct stat st;
    if (abs && campaign_has_control(abs)) {
      char shown[96];
      fail_at(C, t->pos, "traces: a file name holding a newline or another control byte cannot be one job "
              "line (job lines are one command each): rename '%s'", num_elide(abs, shown, sizeof shown));
      free(joined);
      free(abs);
      return -1;
    }
    if (!abs) {
      fail_at(C, t->pos, "traces: '%s': cannot open %s: %s", t->text, joined, strerror(e));
      free(joined);
      return -1;
    }
    const char *why = NULL;
    if (stat(abs, &st) != 0)
      why = strerror(errno);
    else if (S_ISDIR(st.st_mode))
      why = "is a directory";
    else if (access(abs, R_OK) != 0)
      why = strerror(errno);
    if (why) {
      fail_at(C, t->pos, "traces: '%s': cannot read %s: %s", t->text, abs, why);
      free(joined);
      free(abs);
      return -1;
    }
    free(joined);
    /* One file twice would run every run of it twice, and merge (which
     * groups by design and faults) would count them twice. */
    for (size_t k = 0; k < s->ntraces; k++) {
      if (strcmp(s->traces[k], abs) == 0) {
        fail_at(C, t->pos, "traces: '%s' is listed twice (as %s)", t->text, abs);
        free(abs);
        return -1;
      }
    }
    if (push_str(&s->traces, &s->ntraces, abs)) {
      free(abs);
      return fail_at(C, t->pos, "out of memory");
    }
  }
  if (!s->ntraces)
    return fail_at(C, v->pos, "traces: the list is empty: the campaign would have no run");
  return 0;
}

static int read_designs(struct ctx *C, const struct ynode *v, struct campaign_spec *s) {
  if (v->kind == Y_MAP || is_null(v))
    return fail_at(C, v->pos, "designs: expected a list of design names or all, found %s",
                   is_null(v) ? "nothing" : kind_name(v));
  if (v->kind == Y_SCALAR && strcmp(v->text, "all") == 0) {
    s->designs = calloc(design_count() ? design_count() : 1, sizeof *s->designs);
    if (!s->designs)
      return fail_at(C, v->pos, "out of memory");
    for (size_t i = 0; i < design_count(); i++)
      s->designs[s->ndesigns++] = design_get(i)->name;
    return 0;
  }
  s->designs = calloc(items(v) ? items(v) : 1, sizeof *s->designs);
  if (!s->designs)
    return fail_at(C, v->pos, "out of memory");
  for (size_t i = 0; i < items(v); i++) {
    const struct ynode *d = item(v, i);
    if (d->kind != Y_SCALAR || is_null(d))
      return fail_at(C, d->pos, "designs: expected a design name, found %s",
                     d->kind != Y_SCALAR ? kind_name(d) : "nothing");
    const struct design *des = design_find(d->text);
    if (!des)
      return fail_at(C, d->pos, "designs: unknown design '%s' (nicsim designs lists them)", d->text);
    for (size_t j = 0; j < s->ndesigns; j++)
      if (strcmp(s->designs[j], des->name) == 0)
        return fail_at(C, d->pos, "designs: '%s' is listed twice", d->text);
    s->designs[s->ndesigns++] = des->name;
  }
  if (!s->ndesigns)
    return fail_at(C, v->pos, "designs: the list is empty: the campaign would have no run");
  return 0;
}

static int read_variant(struct ctx *C, const struct ynode *v, struct campaign_variant *out) {
  if (v->kind == Y_MAP || (v->kind == Y_SCALAR && is_null(v)))
    return fail_at(C, v->pos,
                   "faults: each entry is a list of fault specs ([] for none) or one spec, found %s",
                   v->kind == Y_MAP ? "a mapping" : "nothing");
  if (items(v) > CAMPAIGN_MAX_FAULTS)
    return fail_at(C, v->pos, "faults: at most %u faults in one run", CAMPAIGN_MAX_FAULTS);
  size_t label_len = 5;
  for (size_t i = 0; i < items(v); i++) {
    const struct ynode *f = item(v, i);
    if (f->kind != Y_SCALAR || is_null(f))
      return fail_at(C, f->pos, "faults: expected a fault spec NAME[:KEY=VALUE,...], found %s",
                     f->kind != Y_SCALAR ? kind_name(f) : "nothing");
    struct fault probe;
    char ferr[600];
    if (fault_parse(f->text, &probe, ferr, sizeof ferr)) {
      const char *why = strncmp(ferr, "--fault ", 8) == 0 ? ferr + 8 : ferr;
      return fail_at(C, f->pos, "faults: %s", why);
    }
    char *dup = strdup(f->text);
    if (!dup || push_str(&out->faults, &out->nfaults, dup)) {
      free(dup);
      return fail_at(C, f->pos, "out of memory");
    }
    label_len += strlen(f->text) + strlen(CAMPAIGN_VARIANT_SEP);
  }
  out->label = malloc(label_len);
  if (!out->label)
    return fail_at(C, v->pos, "out of memory");
  strcpy(out->label, out->nfaults ? "" : "none");
  for (size_t i = 0; i < out->nfaults; i++) {
    if (i)
      strcat(out->label, CAMPAIGN_VARIANT_SEP);
    strcat(out->label, out->faults[i]);
  }
  return 0;
}

static int read_faults(struct ctx *C, const struct ynode *v, struct campaign_spec *s) {
  if (v->kind != Y_SEQ)
    return fail_at(C, v->pos,
                   "faults: expected a list of variants, each a list of fault specs (e.g. faults: [[], "
                   "[\"malicious_dma:prob=0.05\"]]), found %s",
                   is_null(v) ? "nothing" : kind_name(v));
  if (!v->n)
    return fail_at(C, v->pos, "faults: the list is empty: the campaign would have no run (write [[]] "
                              "for runs without faults)");
  s->variants = calloc(v->n, sizeof *s->variants);
  if (!s->variants)
    return fail_at(C, v->pos, "out of memory");
  for (size_t i = 0; i < v->n; i++) {
    if (read_variant(C, &v->kids[i], &s->variants[s->nvariants++]))
      return -1;
    for (size_t j = 0; j + 1 < s->nvariants; j++)
      if (strcmp(s->variants[j].label, s->variants[i].label) == 0)
        return fail_at(C, v->kids[i].pos, "faults: the variant '%s' is listed twice", s->variants[i].label);
  }
  return 0;
}

/* A whole number (decimal, at most 2^64-1). */
static int parse_u64(const char *t, uint64_t *out) { return num_u64(t, out); }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* One seeds item: N, or A..B. */
static int read_seed_item(struct ctx *C, const struct ynode *n, struct campaign_spec *s, size_t *cap) {
  if (n->kind != Y_SCALAR || is_null(n))
    return fail_at(C, n->pos, "seeds: expected a whole number or a range A..B, found %s",
                   n->kind != Y_SCALAR ? kind_name(n) : "nothing");
  uint64_t a, b;
  const char *dots = strstr(n->text, "..");
  if (dots) {
    char left[64];
    size_t l = (size_t)(dots - n->text);
    if (l >= sizeof left)
      return fail_at(C, n->pos, "seeds: '%s': expected A..B with whole numbers", n->text);
    memcpy(left, n->text, l);
    left[l] = '\0';
    if (parse_u64(left, &a) || parse_u64(dots + 2, &b))
      return fail_at(C, n->pos, "seeds: '%s': expected A..B with whole numbers", n->text);
    if (b < a)
      return fail_at(C, n->pos, "seeds: '%s': the range is empty (%llu > %llu)", n->text,
                     (unsigned long long)a, (unsigned long long)b);
  } else {
    if (parse_u64(n->text, &a))
      return fail_at(C, n->pos, "seeds: '%s': expected a whole number or a range A..B", n->text);
    b = a;
  }
  if (b - a >= CAMPAIGN_MAX_RUNS || s->nseeds + (size_t)(b - a) + 1 > CAMPAIGN_MAX_RUNS)
    return fail_at(C, n->pos, "seeds: '%s': more than %u seeds", n->text, CAMPAIGN_MAX_RUNS);
  size_t need = s->nseeds + (size_t)(b - a) + 1;
  if (need > *cap) {
    size_t c = *cap ? *cap : 16;
    while (c < need)
      c *= 2;
    uint64_t *p = realloc(s->seeds, c * sizeof *p);
    if (!p)
      return fail_at(C, n->pos, "out of memory");
    s->seeds = p;
    *cap = c;
  }
  for (uint64_t x = a;; x++) {
    s->seeds[s->nseeds++] = x;
    if (x == b)
      break;
  }
  return 0;
}

static int read_seeds(struct ctx *C, const struct ynode *v, struct campaign_spec *s) {
  if (v->kind == Y_MAP || is_null(v))
    return fail_at(C, v->pos, "seeds: expected a range A..B, a whole number or a list of them, found %s",
                   is_null(v) ? "nothing" : kind_name(v));
  size_t cap = 0;
  for (size_t i = 0; i < items(v); i++)
    if (read_seed_item(C, item(v, i), s, &cap))
      return -1;
  if (!s->nseeds)
    return fail_at(C, v->pos, "seeds: the list is empty: the campaign would have no run");
  uint64_t *sorted = malloc(s->nseeds * sizeof *sorted);
  if (!sorted)
    return fail_at(C, v->pos, "out of memory");
  memcpy(sorted, s->seeds, s->nseeds * sizeof *sorted);
  qsort(sorted, s->nseeds, sizeof *sorted, cmp_u64);
  for (size_t i = 1; i < s->nseeds; i++)
    if (sorted[i] == sorted[i - 1]) {
      unsigned long long dup = sorted[i];
      free(sorted);
      return fail_at(C, v->pos, "seeds: seed %llu is listed twice", dup);
    }
  free(sorted);
  return 0;
}

/* set: a mapping of scenario keys, nested (pool: {clear: ...}) or dotted
 * (pool.clear: ...); values are scalars or lists of scalars ("[a,b]"). */
static int read_set_map(struct ctx *C, const struct ynode *m, const char *prefix, struct campaign_spec *s,
                        struct campaign_pos *set_pos, size_t *npos) {
  for (size_t i = 0; i + 1 < m->n; i += 2) {
    const struct ynode *k = &m->kids[i], *v = &m->kids[i + 1];
    if (k->kind != Y_SCALAR || is_null(k))
      return fail_at(C, k->pos, "set: keys are scenario key names");
    char key[256];
    if ((size_t)snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k->text) >= sizeof key)
      return fail_at(C, k->pos, "set: key '%s' is too long", k->text);
    if (v->kind == Y_MAP) {
      if (read_set_map(C, v, key, s, set_pos, npos))
        return -1;
      continue;
    }
    char value[CFG_XDP_RULES_MAX + 16];
    if (v->kind == Y_SCALAR) {
      if (is_null(v))
        return fail_at(C, v->pos, "set: %s: no value given", key);
      if ((size_t)snprintf(value, sizeof value, "%s", v->text) >= sizeof value)
        return fail_at(C, v->pos, "set: %s: the value is too long", key);
    } else {
      size_t o = 0;
      /* Items are joined as config_set reads them: "[a,b]", or for
       * xdp.rules (whose items hold ',' and brackets) "[a; b]". */
      int rules = config_list_separator(key) == ';';
      value[o++] = '[';
      for (size_t j = 0; j < v->n; j++) {
        const struct ynode *it = &v->kids[j];
        if (it->kind != Y_SCALAR || is_null(it) || !*it->text ||
            (rules ? strchr(it->text, ';') != NULL : strpbrk(it->text, ",[]") != NULL))
          return fail_at(C, it->pos, rules ? "set: %s: list items are plain values without ';'"
                                           : "set: %s: list items are plain values without ',', '[' or ']'", key);
        char cerr[1200];
        if (config_list_item_check(key, j, it->text, cerr, sizeof cerr))
          return fail_at(C, it->pos, "set: %s", cerr);
        int w = snprintf(value + o, sizeof value - o, "%s%s", j ? (rules ? "; " : ",") : "", it->text);
        if (w < 0 || (size_t)w >= sizeof value - o - 1)
          return fail_at(C, v->pos, "set: %s: the value is too long", key);
        o += (size_t)w;
      }
      value[o++] = ']';
      value[o] = '\0';
    }
    for (size_t j = 0; j < s->nsets; j++) {
      size_t kl = strlen(key);
      if (strncmp(s->sets[j], key, kl) == 0 && s->sets[j][kl] == '=')
        return fail_at(C, k->pos, "set: duplicate key '%s'", key);
    }
    struct config probe;
    config_default(&probe);
    char cerr[600];
    if (config_set(&probe, key, value, cerr, sizeof cerr))
      return fail_at(C, k->pos, "set: %s", cerr);
    size_t n = strlen(key) + strlen(value) + 2;
    char *kv = malloc(n);
    if (!kv)
      return fail_at(C, k->pos, "out of memory");
    snprintf(kv, n, "%s=%s", key, value);
    if (push_str(&s->sets, &s->nsets, kv)) {
      free(kv);
      return fail_at(C, k->pos, "out of memory");
    }
    if (*npos < 256)
      set_pos[(*npos)++] = k->pos;
  }
  return 0;
}

/* The --set keys with each design: its own settings, then the spec's, then
 * the checks across keys, exactly as each run will apply them. */
static int check_sets(struct ctx *C, const struct campaign_spec *s, struct campaign_pos at) {
  for (size_t d = 0; d < s->ndesigns; d++) {
    struct config c;
    char cerr[600];
    if (config_from_design(&c, s->designs[d], cerr, sizeof cerr))
      return fail_at(C, at, "designs: %s", cerr);
    for (size_t i = 0; i < s->nsets; i++) {
      char key[256];
      const char *eq = strchr(s->sets[i], '=');
      snprintf(key, sizeof key, "%.*s", (int)(eq - s->sets[i]), s->sets[i]);
      if (config_set(&c, key, eq + 1, cerr, sizeof cerr))
        return fail_at(C, at, "set: with design %s: %s", s->designs[d], cerr);
    }
    if (config_validate(&c, cerr, sizeof cerr))
      return fail_at(C, at, "set: with design %s: %s", s->designs[d], cerr);
  }
  return 0;
}

static const char *const known_keys[] = {"traces", "designs", "faults", "seeds", "set", "limit", NULL};

static int check_tree(struct ctx *C, const struct ynode *root, const char *base_dir, struct campaign_spec *s) {
  if (root->kind != Y_MAP)
    return fail_at(C, root->pos, "a campaign spec is a mapping with traces, designs, faults, seeds "
                                 "(and set, limit), found %s", kind_name(root));
  const struct ynode *val[6] = {NULL};
  struct campaign_pos keypos[6];
  for (size_t i = 0; i + 1 < root->n; i += 2) {
    const struct ynode *k = &root->kids[i];
    int idx = -1;
    if (k->kind == Y_SCALAR)
      for (int j = 0; known_keys[j]; j++)
        if (strcmp(k->text, known_keys[j]) == 0)
          idx = j;
    if (idx < 0)
      return fail_at(C, k->pos, "unknown key '%s' (a spec has traces, designs, faults, seeds, set, limit)",
                     k->kind == Y_SCALAR ? k->text : "?");
    if (val[idx])
      return fail_at(C, k->pos, "duplicate key '%s' (first given at line %u)", k->text, keypos[idx].line);
    val[idx] = &root->kids[i + 1];
    keypos[idx] = k->pos;
  }
  if (!val[0])
    return fail_at(C, root->pos, "missing key 'traces' (the trace files to replay)");
  if (!val[1])
    return fail_at(C, root->pos, "missing key 'designs' (design names, or all)");
  if (read_traces(C, val[0], base_dir, s) || read_designs(C, val[1], s))
    return -1;
  if (val[2]) {
    if (read_faults(C, val[2], s))
      return -1;
  } else {
    /* Without faults: one variant, no fault. */
    s->variants = calloc(1, sizeof *s->variants);
    if (!s->variants || !(s->variants[0].label = strdup("none")))
      return fail_at(C, root->pos, "out of memory");
    s->nvariants = 1;
  }
  if (val[3]) {
    if (read_seeds(C, val[3], s))
      return -1;
  } else {
    s->seeds = malloc(sizeof *s->seeds);
    if (!s->seeds)
      return fail_at(C, root->pos, "out of memory");
    s->seeds[0] = 1;
    s->nseeds = 1;
  }
  if (val[4]) {
    struct campaign_pos set_pos[256];
    size_t npos = 0;
    if (val[4]->kind != Y_MAP && !is_null(val[4]))
      return fail_at(C, val[4]->pos, "set: expected a mapping of scenario keys (e.g. set: {pool.clear: "
                                     "on_recycle}), found %s", kind_name(val[4]));
    if (val[4]->kind == Y_MAP && read_set_map(C, val[4], "", s, set_pos, &npos))
      return -1;
    if (check_sets(C, s, val[4]->pos))
      return -1;
  }
  /* limit: every run replays only the first N frames (replay --limit N). */
  if (val[5] && (val[5]->kind != Y_SCALAR || is_null(val[5]) || parse_u64(val[5]->text, &s->limit_frames) ||
                 s->limit_frames == 0))
    return fail_at(C, val[5]->pos, "limit: '%s': expected a number of frames, 1 or more",
                   val[5]->kind == Y_SCALAR ? val[5]->text : kind_name(val[5]));
  /* The product, checked without overflow. */
  uint64_t runs = s->ntraces;
  size_t f[3] = {s->ndesigns, s->nvariants, s->nseeds};
  for (int i = 0; i < 3; i++) {
    if (runs > CAMPAIGN_MAX_RUNS / (f[i] ? f[i] : 1))
      return fail_at(C, root->pos, "the campaign has more than %u runs (traces x designs x faults x seeds)",
                     CAMPAIGN_MAX_RUNS);
    runs *= f[i];
  }
  return 0;
}

int campaign_spec_parse(const char *name, const char *base_dir, const char *text, size_t len,
                        struct campaign_spec *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  struct ctx C;
  if (yreader_open(&C.r, name, text, len, "a spec holds", err, errlen))
    return -1;
  struct ynode root;
  memset(&root, 0, sizeof root);
  int rc = 0, have_root = 0;
  /* stream start, document start (or stream end for an empty file), the root */
  if ((rc = next_event(&C)) == 0 && (rc = next_event(&C)) == 0) {
    if (C.r.ev.type == YAML_STREAM_END_EVENT) {
      rc = fail_at(&C, (struct campaign_pos){1, 1}, "the spec is empty (it needs traces and designs)");
    } else if ((rc = next_event(&C)) == 0) {
      have_root = 1;
      rc = read_node(&C, &root, 0);
      /* document end, then the stream must end: one document per spec */
      if (rc == 0 && (rc = next_event(&C)) == 0 && (rc = next_event(&C)) == 0 &&
          C.r.ev.type != YAML_STREAM_END_EVENT)
        rc = fail_at(&C, pos_of(C.r.ev.start_mark), "a spec is one YAML document; a second one starts here");
    }
  }
  yreader_close(&C.r);
  if (rc == 0 && have_root)
    rc = check_tree(&C, &root, base_dir, s);
  /* Every word of a job line stays on its line. */
  for (size_t i = 0; rc == 0 && i < s->nsets; i++)
    if (campaign_has_control(s->sets[i]))
      rc = fail_at(&C, (struct campaign_pos){0, 0}, "set: a value holding a newline or another control byte "
                   "cannot be one job line");
  for (size_t i = 0; rc == 0 && i < s->nvariants; i++)
    for (size_t j = 0; rc == 0 && j < s->variants[i].nfaults; j++)
      if (campaign_has_control(s->variants[i].faults[j]))
        rc = fail_at(&C, (struct campaign_pos){0, 0}, "faults: a spec holding a newline or another control "
                     "byte cannot be one job line");
  node_free(&root);
  if (rc == 0 && !(s->name = strdup(name)))
    rc = fail_at(&C, (struct campaign_pos){0, 0}, "out of memory");
  if (rc)
    campaign_spec_free(s);
  return rc ? -1 : 0;
}

int campaign_spec_load(const char *path, struct campaign_spec *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  char *buf = malloc(CAMPAIGN_SPEC_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  size_t len = fread(buf, 1, CAMPAIGN_SPEC_MAX_BYTES + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad || len > CAMPAIGN_SPEC_MAX_BYTES) {
    snprintf(err, errlen, bad ? "%s: cannot read: %s" : "%s: larger than %s", path,
             bad ? strerror(errno) : "1 MiB: a campaign spec is a page of text");
    free(buf);
    return -1;
  }
  /* Relative trace paths start from the spec file's folder. */
  char *dir = strdup(path);
  if (!dir) {
    free(buf);
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  char *slash = strrchr(dir, '/');
  if (slash)
    slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
  else
    strcpy(dir, ".");
  int rc = campaign_spec_parse(path, dir, buf, len, s, err, errlen);
  free(dir);
  free(buf);
  return rc;
}

void campaign_spec_free(struct campaign_spec *s) {
  for (size_t i = 0; i < s->ntraces; i++)
    free(s->traces[i]);
  free(s->traces);
  free(s->designs);
  for (size_t i = 0; i < s->nvariants; i++) {
    for (size_t j = 0; j < s->variants[i].nfaults; j++)
      free(s->variants[i].faults[j]);
    free(s->variants[i].faults);
    free(s->variants[i].label);
  }
  free(s->variants);
  free(s->seeds);
  for (size_t i = 0; i < s->nsets; i++)
    free(s->sets[i]);
  free(s->sets);
  free(s->name);
  memset(s, 0, sizeof *s);
}
