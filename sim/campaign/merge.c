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

#define MAX_DEPTH 64

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static int push_str(char ***list, size_t *n, const char *s) {
  char *d = strdup(s);
  char **l = d ? realloc(*list, (*n + 1) * sizeof *l) : NULL;
  if (!l) {
    free(d);
    return -1;
  }
  *list = l;
  l[(*n)++] = d;
  return 0;
}

int merge_init(struct merge *m) {
  memset(m, 0, sizeof *m);
  for (int p = 0; p < PROP_COUNT; p++)
    if (push_str(&m->props, &m->nprops, checker_property_name((enum checker_property)p))) {
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
  json_object_object_foreach(viol, key, val) {
    json_object *c = get(val, "count");
    if (!json_object_is_type(c, json_type_int) || json_object_get_int64(c) < 0) {
      snprintf(why, n, "violations.%s has no count", key);
      return -1;
    }
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

static ssize_t find_prop(const struct merge *m, const char *name) {
  for (size_t i = 0; i < m->nprops; i++)
    if (strcmp(m->props[i], name) == 0)
      return (ssize_t)i;
  return -1;
}

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

int merge_add(struct merge *m, json_object *rep, char *why, size_t n) {
  if (merge_report_check(rep, why, n))
    return -1;
  const char *design = json_object_get_string(get(rep, "design"));
  const char *verdict = json_object_get_string(get(rep, "verdict"));
  char *label = merge_report_faults(rep);
  if (!label)
    return -2;
  struct merge_group *g = NULL;
  for (size_t i = 0; i < m->ngroups && !g; i++)
    if (strcmp(m->groups[i].design, design) == 0 && strcmp(m->groups[i].faults, label) == 0)
      g = &m->groups[i];
  if (!g) {
    struct merge_group *ng = realloc(m->groups, (m->ngroups + 1) * sizeof *ng);
    if (!ng) {
      free(label);
      return -2;
    }
    m->groups = ng;
    g = &ng[m->ngroups++];
    memset(g, 0, sizeof *g);
    g->faults = label;
    label = NULL;
    if (!(g->design = strdup(design)))
      return -2;
  }
  free(label);
  /* Properties this merge has not met yet join the list. */
  json_object_object_foreach(get(rep, "violations"), key, val) {
    (void)val;
    if (find_prop(m, key) < 0 && push_str(&m->props, &m->nprops, key))
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
  char **l = realloc(m->warnings, (m->nwarnings + 1) * sizeof *l);
  if (!l) {
    free(w);
    return -1;
  }
  m->warnings = l;
  l[m->nwarnings++] = w;
  return 0;
}

static int merge_file(struct merge *m, const char *path) {
  char why[256];
  int rc;
  FILE *f = fopen(path, "r");
  json_object *rep = NULL;
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
  return 0;
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
  size_t n = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) && !rc)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && push_str(&names, &n, e->d_name))
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

int merge_finish(struct merge *m) {
  /* Properties beyond the checker's, by name (they were met in file order). */
  if (m->nprops > PROP_COUNT) {
    char **extra = m->props + PROP_COUNT;
    size_t nextra = m->nprops - PROP_COUNT;
    for (size_t g = 0; g < m->ngroups; g++) {
      if (group_props(m, &m->groups[g]))
        return -1;
    }
    /* Reorder each group's extras like the merge's: sort an index. */
    size_t *order = malloc(nextra * sizeof *order);
    char **sorted = malloc(nextra * sizeof *sorted);
    struct merge_prop *tmp = malloc(nextra * sizeof *tmp);
    if (!order || !sorted || !tmp) {
      free(order);
      free(sorted);
      free(tmp);
      return -1;
    }
    memcpy(sorted, extra, nextra * sizeof *sorted);
    qsort(sorted, nextra, sizeof *sorted, cmp_str);
    for (size_t i = 0; i < nextra; i++)
      for (size_t j = 0; j < nextra; j++)
        if (sorted[i] == extra[j])
          order[i] = j;
    for (size_t g = 0; g < m->ngroups; g++) {
      struct merge_prop *p = m->groups[g].props + PROP_COUNT;
      for (size_t i = 0; i < nextra; i++)
        tmp[i] = p[order[i]];
      memcpy(p, tmp, nextra * sizeof *tmp);
    }
    memcpy(extra, sorted, nextra * sizeof *sorted);
    free(order);
    free(sorted);
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
      {"cross_flow_tamper", "xtamper"}};
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

void merge_print(FILE *f, const struct merge *m, int markdown) {
  if (markdown) {
    fprintf(f, "| design | faults | runs | unsafe runs |");
    for (size_t k = 0; k < m->nprops; k++)
      fprintf(f, " %s |", m->props[k]);
    fprintf(f, "\n|---|---|---:|---:|");
    for (size_t k = 0; k < m->nprops; k++)
      fprintf(f, "---:|");
    fprintf(f, "\n");
    for (size_t i = 0; i < m->ngroups; i++) {
      const struct merge_group *g = &m->groups[i];
      fprintf(f, "| %s | %s | %" PRIu64 " | %" PRIu64 " |", g->design, g->faults, g->runs, g->unsafe_runs);
      for (size_t k = 0; k < g->nprops; k++) {
        char c[64];
        cell(c, sizeof c, g, k);
        fprintf(f, " %s |", c);
      }
      fprintf(f, "\n");
    }
    fprintf(f, "\n%" PRIu64 " runs merged", m->runs);
    if (m->unreadable)
      fprintf(f, "; %" PRIu64 " unreadable reports skipped", m->unreadable);
    fprintf(f, ". Each property: runs that showed it (share of the group's runs).\n");
    return;
  }
  int wd = 6, wf = 6;
  for (size_t i = 0; i < m->ngroups; i++) {
    int a = (int)strlen(m->groups[i].design), b = (int)strlen(m->groups[i].faults);
    wd = a > wd ? a : wd;
    wf = b > wf ? b : wf;
  }
  fprintf(f, "%-*s  %-*s %6s %6s", wd, "design", wf, "faults", "runs", "unsafe");
  for (size_t k = 0; k < m->nprops; k++)
    fprintf(f, " %11s", short_name(m->props[k]));
  fprintf(f, "\n");
  for (size_t i = 0; i < m->ngroups; i++) {
    const struct merge_group *g = &m->groups[i];
    fprintf(f, "%-*s  %-*s %6" PRIu64 " %6" PRIu64, wd, g->design, wf, g->faults, g->runs, g->unsafe_runs);
    for (size_t k = 0; k < g->nprops; k++) {
      char c[64];
      cell(c, sizeof c, g, k);
      fprintf(f, " %11s", c);
    }
    fprintf(f, "\n");
  }
  fprintf(f, "\n%" PRIu64 " runs merged", m->runs);
  if (m->unreadable)
    fprintf(f, "; %" PRIu64 " unreadable reports skipped", m->unreadable);
  fprintf(f, ". Each property: runs that showed it (share of the group's runs).\n");
  int any = 0;
  for (size_t k = 0; k < m->nprops; k++)
    if (strcmp(short_name(m->props[k]), m->props[k]) != 0)
      fprintf(f, "%s%s=%s", any++ ? ", " : "properties: ", short_name(m->props[k]), m->props[k]);
  if (any)
    fprintf(f, "\n");
}

void merge_free(struct merge *m) {
  for (size_t i = 0; i < m->ngroups; i++) {
    struct merge_group *g = &m->groups[i];
    for (size_t k = 0; k < g->nprops; k++)
      free(g->props[k].name);
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
  memset(m, 0, sizeof *m);
}
