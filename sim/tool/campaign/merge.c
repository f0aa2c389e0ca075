/*
 * merge.c: per-run reports into one table (campaign.h, docs/campaigns.md).
 *
 * Groups are (design, fault variant); the variant of a report is the specs of
 * its "faults" entries joined as the campaign spec's labels are, so a group
 * is the same whichever engine ran the runs and in whatever order the files
 * are found. Only counts are summed (integers), and rates are computed once
 * at the end from them, so the result does not depend on the order either.
 */
#include "campaign.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "checker.h"
#include "grow.h"

#define MAX_DEPTH 64

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static int push_str(char ***list, size_t *n, size_t *cap, const char *s) {
  char *d = strdup(s);
  char **l = d ? grow_array(*list, cap, *n + 1, sizeof *l) : NULL;
  if (!l) {
    free(d);
    return -1;
  }
  *list = l;
  l[(*n)++] = d;
  return 0;
}

/* The index of key in a lookup table, or -1. */
static ssize_t index_get(json_object *idx, const char *key) {
  json_object *v = NULL;
  return json_object_object_get_ex(idx, key, &v) ? (ssize_t)json_object_get_int64(v) : -1;
}

static int index_put(json_object *idx, const char *key, size_t i) {
  json_object *v = json_object_new_int64((int64_t)i);
  return v && json_object_object_add(idx, key, v) == 0 ? 0 : -1;
}

static int add_prop(struct merge *m, const char *name) {
  if (index_put(m->prop_index, name, m->nprops))
    return -1;
  return push_str(&m->props, &m->nprops, &m->props_cap, name);
}

int merge_init(struct merge *m) {
  memset(m, 0, sizeof *m);
  m->prop_index = json_object_new_object();
  m->group_index = json_object_new_object();
  m->files_seen = json_object_new_object();
  if (!m->prop_index || !m->group_index || !m->files_seen) {
    merge_free(m);
    return -1;
  }
  for (int p = 0; p < PROP_COUNT; p++)
    if (add_prop(m, checker_property_name((enum checker_property)p))) {
      merge_free(m);
      return -1;
    }
  return 0;
}

static json_object *get(json_object *o, const char *key) {
  json_object *v = NULL;
  return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

int merge_report_check(json_object *rep, char *why, size_t n) {
  if (!json_object_is_type(rep, json_type_object)) {
    snprintf(why, n, "not a JSON object");
    return -1;
  }
  json_object *d = get(rep, "design"), *v = get(rep, "verdict"), *viol = get(rep, "violations"),
              *f = get(rep, "faults");
  if (!json_object_is_type(d, json_type_string) || !json_object_is_type(v, json_type_string)) {
    snprintf(why, n, "not a run report (no \"design\" or \"verdict\")");
    return -1;
  }
  if (!json_object_is_type(viol, json_type_object)) {
    snprintf(why, n, "not a run report (no \"violations\")");
    return -1;
  }
  /* A run checks every property and its report lists each: one that lists
   * none is no evidence of anything, and its "safe" would count as a safe
   * run. */
  if (json_object_object_length(viol) == 0) {
    snprintf(why, n, "not a run report (\"violations\" lists no property)");
    return -1;
  }
  json_object_object_foreach(viol, key, val) {
    json_object *c = get(val, "count");
    if (!json_object_is_type(c, json_type_int) || json_object_get_int64(c) < 0) {
      snprintf(why, n, "violations.%s has no count", key);
      return -1;
    }
  }
  json_object *inc = get(rep, "incomplete");
  if (inc && !json_object_is_type(inc, json_type_boolean)) {
    snprintf(why, n, "\"incomplete\" is not true or false");
    return -1;
  }
  if (f && !json_object_is_type(f, json_type_array)) {
    snprintf(why, n, "\"faults\" is not a list");
    return -1;
  }
  for (size_t i = 0; f && i < json_object_array_length(f); i++)
    if (!json_object_is_type(get(json_object_array_get_idx(f, i), "spec"), json_type_string)) {
      snprintf(why, n, "faults[%zu] has no spec", i);
      return -1;
    }
  return 0;
}

char *merge_report_faults(json_object *rep) {
  char why[128];
  if (merge_report_check(rep, why, sizeof why))
    return NULL;
  json_object *f = get(rep, "faults");
  size_t n = f ? json_object_array_length(f) : 0, len = 5;
  for (size_t i = 0; i < n; i++)
    len += strlen(json_object_get_string(get(json_object_array_get_idx(f, i), "spec"))) +
           strlen(CAMPAIGN_VARIANT_SEP);
  char *label = malloc(len);
  if (!label)
    return NULL;
  strcpy(label, n ? "" : "none");
  for (size_t i = 0; i < n; i++) {
    if (i)
      strcat(label, CAMPAIGN_VARIANT_SEP);
    strcat(label, json_object_get_string(get(json_object_array_get_idx(f, i), "spec")));
  }
  return label;
}

static ssize_t find_prop(const struct merge *m, const char *name) { return index_get(m->prop_index, name); }

/* Grow a group's property list to the merge's. */
static int group_props(const struct merge *m, struct merge_group *g) {
  if (g->nprops == m->nprops)
    return 0;
  struct merge_prop *p = realloc(g->props, m->nprops * sizeof *p);
  if (!p)
    return -1;
  g->props = p;
  for (size_t i = g->nprops; i < m->nprops; i++) {
    memset(&p[i], 0, sizeof p[i]);
    if (!(p[i].name = xstrdup(m->props[i])))
      return -1;
    g->nprops = i + 1;
  }
  return 0;
}

static int group_verdict(struct merge_group *g, const char *v) {
  for (size_t i = 0; i < g->nverdicts; i++)
    if (strcmp(g->verdicts[i].name, v) == 0) {
      g->verdicts[i].runs++;
      return 0;
    }
  struct merge_verdict *n = realloc(g->verdicts, (g->nverdicts + 1) * sizeof *n);
  if (!n)
    return -1;
  g->verdicts = n;
  if (!(n[g->nverdicts].name = strdup(v)))
    return -1;
  n[g->nverdicts++].runs = 1;
  return 0;
}

/* Pairs kept per property; a report (untrusted input) with more has the
 * rest summed into one pair named "(more)", as the checker does past its own
 * bound. */
#define MERGE_MAX_PAIRS 256

static uint64_t add_sat(uint64_t a, int64_t b) {
  uint64_t u = b > 0 ? (uint64_t)b : 0;
  return a > UINT64_MAX - u ? UINT64_MAX : a + u;
}

static struct merge_pair *find_pair(struct merge_prop *p, const char *who, const char *owner) {
  for (size_t k = 0; k < p->npairs; k++)
    if (strcmp(p->pairs[k].principal, who) == 0 && strcmp(p->pairs[k].owner, owner) == 0)
      return &p->pairs[k];
  return NULL;
}

/* A report's by_pair entries of one property, summed into p (a report
 * without by_pair adds none; entries without string names are skipped).
 * 0, or -1 when out of memory. */
static int add_pairs(struct merge_prop *p, json_object *pairs) {
  if (!pairs || !json_object_is_type(pairs, json_type_array))
    return 0;
  for (size_t i = 0; i < json_object_array_length(pairs); i++) {
    json_object *e = json_object_array_get_idx(pairs, i), *jw = get(e, "principal"), *jo = get(e, "owner");
    if (!json_object_is_type(jw, json_type_string) || !json_object_is_type(jo, json_type_string))
      continue;
    const char *who = json_object_get_string(jw), *owner = json_object_get_string(jo);
    struct merge_pair *mp = find_pair(p, who, owner);
    if (!mp && p->npairs >= MERGE_MAX_PAIRS - 1)
      mp = find_pair(p, who = "(more)", owner = "(more)");
    if (!mp) {
      struct merge_pair *np = grow_array(p->pairs, &p->pairs_cap, p->npairs + 1, sizeof *np);
      if (!np)
        return -1;
      p->pairs = np;
      mp = &np[p->npairs];
      memset(mp, 0, sizeof *mp);
      mp->principal = xstrdup(who);
      mp->owner = xstrdup(owner);
      if (!mp->principal || !mp->owner) {
        free(mp->principal);
        free(mp->owner);
        return -1;
      }
      p->npairs++;
    }
    int64_t c = json_object_get_int64(get(e, "count")), b = json_object_get_int64(get(e, "bytes"));
    if (c > 0)
      mp->runs_with++;
    mp->total_count = add_sat(mp->total_count, c);
    mp->total_bytes = add_sat(mp->total_bytes, b);
  }
  return 0;
}

int merge_add(struct merge *m, json_object *rep, char *why, size_t n) {
  if (merge_report_check(rep, why, n))
    return -1;
  const char *design = json_object_get_string(get(rep, "design"));
  const char *verdict = json_object_get_string(get(rep, "verdict"));
  json_object *inc = get(rep, "incomplete");
  if (inc && json_object_get_boolean(inc)) {
    verdict = "incomplete"; /* stopped before the end of its trace: not safe, whatever it says */
  } else {
    json_object_object_foreach(get(rep, "violations"), kc, vc) {
      (void)kc;
      if (json_object_get_int64(get(vc, "count")) > 0)
        verdict = "unsafe"; /* a violation counted: unsafe, whatever it says */
    }
  }
  char *label = merge_report_faults(rep);
  if (!label)
    return -2;
  size_t klen = strlen(design) + strlen(label) + 2;
  char *key = malloc(klen);
  if (!key) {
    free(label);
    return -2;
  }
  snprintf(key, klen, "%s\n%s", design, label);
  ssize_t gi = index_get(m->group_index, key);
  struct merge_group *g = gi >= 0 ? &m->groups[gi] : NULL;
  /* Sums that would overflow: the report is not believable. */
  json_object_object_foreach(get(rep, "violations"), k0, v0) {
    ssize_t pi = g ? find_prop(m, k0) : -1;
    uint64_t c = (uint64_t)json_object_get_int64(get(v0, "count"));
    if (pi >= 0 && (size_t)pi < g->nprops && g->props[pi].total_count > UINT64_MAX - c) {
      snprintf(why, n, "violations.%s.count would overflow the sum of its group", k0);
      free(label);
      free(key);
      return -1;
    }
  }
  if (!g) {
    struct merge_group *ng = grow_array(m->groups, &m->groups_cap, m->ngroups + 1, sizeof *ng);
    if (!ng || index_put(m->group_index, key, m->ngroups)) {
      if (ng)
        m->groups = ng;
      free(label);
      free(key);
      return -2;
    }
    m->groups = ng;
    g = &ng[m->ngroups++];
    memset(g, 0, sizeof *g);
    g->faults = label;
    label = NULL;
    if (!(g->design = strdup(design))) {
      free(key);
      return -2;
    }
  }
  free(label);
  free(key);
  /* Properties this merge has not met yet join the list. */
  json_object_object_foreach(get(rep, "violations"), k1, v1) {
    (void)v1;
    if (find_prop(m, k1) < 0 && add_prop(m, k1))
      return -2;
  }
  if (group_props(m, g))
    return -2;
  json_object_object_foreach(get(rep, "violations"), k2, v2) {
    int64_t c = json_object_get_int64(get(v2, "count"));
    struct merge_prop *p = &g->props[find_prop(m, k2)];
    if (c > 0)
      p->runs_with++;
    p->total_count += (uint64_t)c;
    if (add_pairs(p, get(v2, "by_pair")))
      return -2;
  }
  g->runs++;
  if (strcmp(verdict, "unsafe") == 0)
    g->unsafe_runs++;
  if (group_verdict(g, verdict))
    return -2;
  m->runs++;
  return 0;
}

static int warn(struct merge *m, const char *path, const char *why) {
  size_t n = strlen(path) + strlen(why) + 3;
  char *w = malloc(n);
  if (!w)
    return -1;
  snprintf(w, n, "%s: %s", path, why);
  /* One line each. */
  for (char *p = w; *p; p++)
    if ((unsigned char)*p < 0x20)
      *p = ' ';
  char **l = grow_array(m->warnings, &m->warnings_cap, m->nwarnings + 1, sizeof *l);
  if (!l) {
    free(w);
    return -1;
  }
  m->warnings = l;
  l[m->nwarnings++] = w;
  return 0;
}

static void file_id(const struct stat *st, char *id, size_t n) {
  snprintf(id, n, "%ju:%ju", (uintmax_t)st->st_dev, (uintmax_t)st->st_ino);
}

int merge_has_file(const struct merge *m, const char *path) {
  struct stat st;
  char id[64];
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return 0;
  file_id(&st, id, sizeof id);
  return index_get(m->files_seen, id) == 1;
}

static int merge_file(struct merge *m, const char *path) {
  char why[256];
  int rc;
  FILE *f = fopen(path, "r");
  json_object *rep = NULL;
  struct stat st;
  char id[64] = "";
  if (f && fstat(fileno(f), &st) == 0) {
    /* A file reached twice (a folder named twice, or inside another one
     * named) counts once: 0 seen, 1 merged. */
    file_id(&st, id, sizeof id);
    if (index_get(m->files_seen, id) >= 0) {
      fclose(f);
      return 0;
    }
    if (index_put(m->files_seen, id, 0)) {
      fclose(f);
      return -1;
    }
  }
  if (!f) {
    snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
    rc = -1;
  } else if (fclose(f), !(rep = json_object_from_file(path))) {
    snprintf(why, sizeof why, "not valid JSON (truncated, or not a report)");
    rc = -1;
  } else {
    rc = merge_add(m, rep, why, sizeof why);
  }
  json_object_put(rep);
  if (rc == -2)
    return -1;
  if (rc == -1) {
    m->unreadable++;
    return warn(m, path, why);
  }
  return id[0] ? index_put(m->files_seen, id, 1) : 0;
}

static int ends_with_json(const char *name) {
  size_t n = strlen(name);
  return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int merge_dir(struct merge *m, const char *path, int depth, char *err, size_t errlen) {
  if (depth > MAX_DEPTH) {
    snprintf(err, errlen, "%s: folders nested too deep", path);
    return -1;
  }
  DIR *d = opendir(path);
  if (!d) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) && !rc)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && push_str(&names, &n, &cap, e->d_name))
      rc = -1;
  closedir(d);
  if (rc)
    snprintf(err, errlen, "%s: out of memory", path);
  if (n)
    qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n && !rc; i++) {
    size_t len = strlen(path) + strlen(names[i]) + 2;
    char *child = malloc(len);
    if (!child) {
      snprintf(err, errlen, "%s: out of memory", path);
      rc = -1;
      break;
    }
    snprintf(child, len, "%s/%s", path, names[i]);
    struct stat st;
    if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
      rc = merge_dir(m, child, depth + 1, err, errlen);
    } else if (ends_with_json(names[i]) && stat(child, &st) == 0 && S_ISREG(st.st_mode)) {
      if (merge_file(m, child)) {
        snprintf(err, errlen, "%s: out of memory", child);
        rc = -1;
      }
    }
    free(child);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc;
}

int merge_path(struct merge *m, const char *path, char *err, size_t errlen) {
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  if (S_ISDIR(st.st_mode))
    return merge_dir(m, path, 0, err, errlen);
  if (merge_file(m, path)) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  return 0;
}

static int cmp_group(const void *a, const void *b) {
  const struct merge_group *x = a, *y = b;
  int c = strcmp(x->design, y->design);
  return c ? c : strcmp(x->faults, y->faults);
}

static int cmp_verdict(const void *a, const void *b) {
  const struct merge_verdict *x = a, *y = b;
  /* safe, unsafe, then the others by name */
  int rx = strcmp(x->name, "safe") == 0 ? 0 : strcmp(x->name, "unsafe") == 0 ? 1 : 2;
  int ry = strcmp(y->name, "safe") == 0 ? 0 : strcmp(y->name, "unsafe") == 0 ? 1 : 2;
  return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

struct named {
  char *name;
  size_t index;
};

static int cmp_named(const void *a, const void *b) {
  return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

int merge_finish(struct merge *m) {
  /* Properties beyond the checker's, by name (they were met in file order). */
  if (m->nprops > PROP_COUNT) {
    char **extra = m->props + PROP_COUNT;
    size_t nextra = m->nprops - PROP_COUNT;
    for (size_t g = 0; g < m->ngroups; g++) {
      if (group_props(m, &m->groups[g]))
        return -1;
    }
    /* Reorder each group's extras like the merge's: sort (name, index). */
    struct named *order = malloc(nextra * sizeof *order);
    struct merge_prop *tmp = malloc(nextra * sizeof *tmp);
    if (!order || !tmp) {
      free(order);
      free(tmp);
      return -1;
    }
    for (size_t i = 0; i < nextra; i++)
      order[i] = (struct named){extra[i], i};
    qsort(order, nextra, sizeof *order, cmp_named);
    for (size_t g = 0; g < m->ngroups; g++) {
      struct merge_prop *p = m->groups[g].props + PROP_COUNT;
      for (size_t i = 0; i < nextra; i++)
        tmp[i] = p[order[i].index];
      memcpy(p, tmp, nextra * sizeof *tmp);
    }
    for (size_t i = 0; i < nextra; i++) {
      extra[i] = order[i].name;
      if (index_put(m->prop_index, extra[i], PROP_COUNT + i)) {
        free(order);
        free(tmp);
        return -1;
      }
    }
    free(order);
    free(tmp);
  }
  for (size_t g = 0; g < m->ngroups; g++) {
    struct merge_group *gr = &m->groups[g];
    if (group_props(m, gr))
      return -1;
    /* Every group shows safe and unsafe, even at 0. */
    const char *must[2] = {"safe", "unsafe"};
    for (int k = 0; k < 2; k++) {
      int found = 0;
      for (size_t i = 0; i < gr->nverdicts; i++)
        found |= strcmp(gr->verdicts[i].name, must[k]) == 0;
      if (!found) {
        if (group_verdict(gr, must[k]))
          return -1;
        gr->verdicts[gr->nverdicts - 1].runs = 0;
      }
    }
    qsort(gr->verdicts, gr->nverdicts, sizeof *gr->verdicts, cmp_verdict);
  }
  if (m->ngroups)
    qsort(m->groups, m->ngroups, sizeof *m->groups, cmp_group);
  return 0;
}

json_object *merge_to_json(const struct merge *m) {
  json_object *root = json_object_new_object();
  json_object *groups = json_object_new_array();
  if (!root || !groups) {
    json_object_put(root);
    json_object_put(groups);
    return NULL;
  }
  json_object_object_add(root, "runs", json_object_new_uint64(m->runs));
  json_object_object_add(root, "unreadable", json_object_new_uint64(m->unreadable));
  for (size_t i = 0; i < m->ngroups; i++) {
    const struct merge_group *g = &m->groups[i];
    json_object *o = json_object_new_object(), *v = json_object_new_object(), *p = json_object_new_object();
    json_object_object_add(o, "design", json_object_new_string(g->design));
    json_object_object_add(o, "faults", json_object_new_string(g->faults));
    json_object_object_add(o, "runs", json_object_new_uint64(g->runs));
    json_object_object_add(o, "unsafe_runs", json_object_new_uint64(g->unsafe_runs));
    for (size_t k = 0; k < g->nverdicts; k++)
      json_object_object_add(v, g->verdicts[k].name, json_object_new_uint64(g->verdicts[k].runs));
    json_object_object_add(o, "verdicts", v);
    for (size_t k = 0; k < g->nprops; k++) {
      json_object *e = json_object_new_object();
      json_object_object_add(e, "runs_with", json_object_new_uint64(g->props[k].runs_with));
      json_object_object_add(e, "rate", json_object_new_double(g->runs ? (double)g->props[k].runs_with / (double)g->runs : 0.0));
      json_object_object_add(e, "total_count", json_object_new_uint64(g->props[k].total_count));
      json_object *bp = json_object_new_array();
      for (size_t j = 0; j < g->props[k].npairs; j++) {
        const struct merge_pair *mp = &g->props[k].pairs[j];
        json_object *pe = json_object_new_object();
        json_object_object_add(pe, "principal", json_object_new_string(mp->principal));
        json_object_object_add(pe, "owner", json_object_new_string(mp->owner));
        json_object_object_add(pe, "runs_with", json_object_new_uint64(mp->runs_with));
        json_object_object_add(pe, "total_count", json_object_new_uint64(mp->total_count));
        json_object_object_add(pe, "total_bytes", json_object_new_uint64(mp->total_bytes));
        json_object_array_add(bp, pe);
      }
      json_object_object_add(e, "by_pair", bp);
      json_object_object_add(p, g->props[k].name, e);
    }
    json_object_object_add(o, "properties", p);
    json_object_array_add(groups, o);
  }
  json_object_object_add(root, "groups", groups);
  return root;
}

/* Short column names for the checker's properties (as review's table). */
static const char *short_name(const char *prop) {
  static const char *const names[][2] = {
      {"cross_flow_leak", "xflow"},          {"stale_data_leak", "stale"},
      {"kernel_pointer_leak", "kptr"},        {"kernel_data_tamper", "ktamper"},
      {"user_write_after_validation", "uwav"}, {"device_write_outside_grant", "dwog"},
      {"device_write_after_unmap", "dwau"},   {"pool_exhaustion", "exhaust"},
      {"cross_flow_tamper", "xtamper"},      {"wire_leak", "wire"},
      {"device_read_outside_grant", "drog"}, {"device_read_after_unmap", "drau"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(prop, names[i][0]) == 0)
      return names[i][1];
  return prop;
}

/* "n (r%)": runs that showed the property and their share. */
static void cell(char *buf, size_t n, const struct merge_group *g, size_t k) {
  double rate = g->runs ? 100.0 * (double)g->props[k].runs_with / (double)g->runs : 0.0;
  snprintf(buf, n, "%" PRIu64 " (%.0f%%)", g->props[k].runs_with, rate);
}

/* A name from a report, printable: control bytes as '?'; in Markdown also
 * the bytes that would end a cell or open markup escaped. */
static void put_name(FILE *f, const char *s, int markdown, int width) {
  int n = 0;
  for (; *s; s++, n++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f)
      fputc('?', f);
    else if (markdown && (c == '|' || c == '\\' || c == '`' || c == '*' || c == '[' || c == ']'))
      fprintf(f, "\\%c", c);
    else if (markdown && c == '<')
      fputs("&lt;", f);
    else if (markdown && c == '>')
      fputs("&gt;", f);
    else if (markdown && c == '&')
      fputs("&amp;", f);
    else
      fputc(c, f);
  }
  for (; n < width; n++)
    fputc(' ', f);
}

static void print_footer(FILE *f, const struct merge *m) {
  fprintf(f, "\n%" PRIu64 " runs merged", m->runs);
  if (m->unreadable)
    fprintf(f, "; %" PRIu64 " unreadable reports skipped", m->unreadable);
  fprintf(f, ". Each property: runs that showed it (share of the group's runs).\n");
}

/* Who leaks to whom: each group's properties with more than one pair. */
static void print_pairs(FILE *f, const struct merge *m, int markdown) {
  int any = 0;
  for (size_t i = 0; i < m->ngroups; i++)
    for (size_t k = 0; k < m->groups[i].nprops; k++) {
      const struct merge_prop *p = &m->groups[i].props[k];
      if (p->npairs < 2)
        continue;
      if (!any++)
        fprintf(f, markdown ? "\nWho leaks to whom (runs with the pair, total count):\n\n"
                              "| design | faults | property | who <- whose bytes |\n|---|---|---|---|\n"
                            : "\nwho <- whose bytes (runs with the pair, total count):\n");
      const char *names[] = {m->groups[i].design, m->groups[i].faults, p->name};
      for (size_t j = 0; j < 3; j++) {
        fputs(markdown ? (j ? " | " : "| ") : (j ? " " : "  "), f);
        put_name(f, names[j], markdown, 0);
      }
      fputs(markdown ? " | " : ":", f);
      for (size_t j = 0; j < p->npairs; j++) {
        fputs(j ? "; " : (markdown ? "" : " "), f);
        put_name(f, p->pairs[j].principal, markdown, 0);
        fputs(" <- ", f);
        put_name(f, p->pairs[j].owner, markdown, 0);
        fprintf(f, ": %" PRIu64 " runs, %" PRIu64, p->pairs[j].runs_with, p->pairs[j].total_count);
      }
      fprintf(f, markdown ? " |\n" : "\n");
    }
}

void merge_print(FILE *f, const struct merge *m, int markdown) {
  if (markdown) {
    fprintf(f, "| design | faults | runs | unsafe runs |");
    for (size_t k = 0; k < m->nprops; k++) {
      fputc(' ', f);
      put_name(f, m->props[k], 1, 0);
      fputs(" |", f);
    }
    fprintf(f, "\n|---|---|---:|---:|");
    for (size_t k = 0; k < m->nprops; k++)
      fprintf(f, "---:|");
    fprintf(f, "\n");
    for (size_t i = 0; i < m->ngroups; i++) {
      const struct merge_group *g = &m->groups[i];
      fputs("| ", f);
      put_name(f, g->design, 1, 0);
      fputs(" | ", f);
      put_name(f, g->faults, 1, 0);
      fprintf(f, " | %" PRIu64 " | %" PRIu64 " |", g->runs, g->unsafe_runs);
      for (size_t k = 0; k < g->nprops; k++) {
        char c[64];
        cell(c, sizeof c, g, k);
        fprintf(f, " %s |", c);
      }
      fprintf(f, "\n");
    }
    print_footer(f, m);
    print_pairs(f, m, markdown);
    return;
  }
  int wd = 6, wf = 6;
  for (size_t i = 0; i < m->ngroups; i++) {
    size_t a = strlen(m->groups[i].design), b = strlen(m->groups[i].faults);
    wd = a > (size_t)wd ? (a > 200 ? 200 : (int)a) : wd;
    wf = b > (size_t)wf ? (b > 200 ? 200 : (int)b) : wf;
  }
  fprintf(f, "%-*s  %-*s %6s %6s", wd, "design", wf, "faults", "runs", "unsafe");
  for (size_t k = 0; k < m->nprops; k++) {
    const char *sn = short_name(m->props[k]);
    int l = (int)strlen(sn);
    fputc(' ', f);
    put_name(f, "", 0, l < 11 ? 11 - l : 0);
    put_name(f, sn, 0, 0);
  }
  fprintf(f, "\n");
  for (size_t i = 0; i < m->ngroups; i++) {
    const struct merge_group *g = &m->groups[i];
    put_name(f, g->design, 0, wd);
    fputs("  ", f);
    put_name(f, g->faults, 0, wf);
    fprintf(f, " %6" PRIu64 " %6" PRIu64, g->runs, g->unsafe_runs);
    for (size_t k = 0; k < g->nprops; k++) {
      char c[64];
      cell(c, sizeof c, g, k);
      fprintf(f, " %11s", c);
    }
    fprintf(f, "\n");
  }
  print_footer(f, m);
  int any = 0;
  for (size_t k = 0; k < m->nprops; k++)
    if (strcmp(short_name(m->props[k]), m->props[k]) != 0)
      fprintf(f, "%s%s=%s", any++ ? ", " : "properties: ", short_name(m->props[k]), m->props[k]);
  if (any)
    fprintf(f, "\n");
  print_pairs(f, m, markdown);
}

void merge_free(struct merge *m) {
  for (size_t i = 0; i < m->ngroups; i++) {
    struct merge_group *g = &m->groups[i];
    for (size_t k = 0; k < g->nprops; k++) {
      free(g->props[k].name);
      for (size_t j = 0; j < g->props[k].npairs; j++) {
        free(g->props[k].pairs[j].principal);
        free(g->props[k].pairs[j].owner);
      }
      free(g->props[k].pairs);
    }
    free(g->props);
    for (size_t k = 0; k < g->nverdicts; k++)
      free(g->verdicts[k].name);
    free(g->verdicts);
    free(g->design);
    free(g->faults);
  }
  free(m->groups);
  for (size_t i = 0; i < m->nprops; i++)
    free(m->props[i]);
  free(m->props);
  for (size_t i = 0; i < m->nwarnings; i++)
    free(m->warnings[i]);
  free(m->warnings);
  json_object_put(m->prop_index);
  json_object_put(m->group_index);
  json_object_put(m->files_seen);
  memset(m, 0, sizeof *m);
}
