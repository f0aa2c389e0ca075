/*
 * campaign.c: run ids, job lines, the Slurm script, and the two commands
 * `nicsim campaign` and `nicsim merge` (campaign.h, docs/campaigns.md).
 *
 * The local engine forks one process per run and executes the running
 * program itself (/proc/self/exe) as `nicsim replay ...`: the same argument
 * vector the emitted job lines hold, so every engine runs exactly the same
 * command. It keeps N runs going, never schedules anything across machines.
 */
#include "campaign.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cliopt.h"
#include "config.h"
#include "cpus.h"
#include "num.h"
#include "outfile.h"
#include "procpool.h"
#include "progress.h"
#include "report.h"

#define EXIT_USAGE 2
#define SLURM_MAX_TASKS 1000 /* Slurm's default MaxArraySize is 1001 (indices 0..1000) */

/* ---- runs ---- */

size_t campaign_run_count(const struct campaign_spec *s) {
  return s->ntraces * s->ndesigns * s->nvariants * s->nseeds;
}

struct campaign_run campaign_run_at(const struct campaign_spec *s, size_t index) {
  struct campaign_run r;
  r.seed = s->seeds[index % s->nseeds];
  index /= s->nseeds;
  r.variant = index % s->nvariants;
  index /= s->nvariants;
  r.design = index % s->ndesigns;
  r.trace = index / s->ndesigns;
  return r;
}

void campaign_sanitize(const char *text, char *buf, size_t n) {
  if (!n)
    return;
  size_t o = 0;
  for (const char *p = text; *p && o + 1 < n; p++) {
    char c = *p;
    int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
    if (o == 0 && (c == '.' || c == '-'))
      keep = 0;
    buf[o++] = keep ? c : '_';
  }
  if (o == 0 && n > 1)
    buf[o++] = '_';
  buf[o] = '\0';
}

void campaign_run_id(const struct campaign_spec *s, size_t index, char *buf, size_t n) {
  struct campaign_run r = campaign_run_at(s, index);
  char design[64];
  campaign_sanitize(s->designs[r.design], design, sizeof design);
  snprintf(buf, n, "t%zu-%s-f%zu-s%" PRIu64, r.trace, design, r.variant, r.seed);
}

static int shell_safe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_@%+=:,./-", c);
}

char *campaign_shell_quote(const char *word) {
  size_t n = strlen(word), quotes = 0;
  int safe = n > 0;
  for (const char *p = word; *p; p++) {
    safe &= shell_safe(*p) != 0;
    quotes += *p == '\'';
  }
  if (safe)
    return strdup(word);
  char *out = malloc(n + 3 * quotes + 3);
  if (!out)
    return NULL;
  char *o = out;
  *o++ = '\'';
  for (const char *p = word; *p; p++) {
    if (*p == '\'') {
      memcpy(o, "'\\''", 4);
      o += 4;
    } else {
      *o++ = *p;
    }
  }
  *o++ = '\'';
  *o = '\0';
  return out;
}

char **campaign_run_argv(const struct campaign_spec *s, size_t index, const char *nicsim, const char *report) {
  struct campaign_run r = campaign_run_at(s, index);
  const struct campaign_variant *v = &s->variants[r.variant];
  size_t n = 1 + 4 + 2 * v->nfaults + 2 + 2 * s->nsets + 2 + 3 + 1;
  char **argv = calloc(n, sizeof *argv);
  if (!argv)
    return NULL;
  size_t i = 0;
  char seed[32];
  snprintf(seed, sizeof seed, "%" PRIu64, r.seed);
  int bad = !(argv[i++] = strdup(nicsim));
  bad |= !(argv[i++] = strdup("replay"));
  bad |= !(argv[i++] = strdup(s->traces[r.trace]));
  bad |= !(argv[i++] = strdup("--design"));
  bad |= !(argv[i++] = strdup(s->designs[r.design]));
  for (size_t k = 0; k < v->nfaults; k++) {
    bad |= !(argv[i++] = strdup("--fault"));
    bad |= !(argv[i++] = strdup(v->faults[k]));
  }
  bad |= !(argv[i++] = strdup("--seed"));
  bad |= !(argv[i++] = strdup(seed));
  for (size_t k = 0; k < s->nsets; k++) {
    bad |= !(argv[i++] = strdup("--set"));
    bad |= !(argv[i++] = strdup(s->sets[k]));
  }
  if (s->limit_frames) {
    char limit[32];
    snprintf(limit, sizeof limit, "%" PRIu64, s->limit_frames);
    bad |= !(argv[i++] = strdup("--limit"));
    bad |= !(argv[i++] = strdup(limit));
  }
  bad |= !(argv[i++] = strdup("--json"));
  bad |= !(argv[i++] = strdup(report));
  bad |= !(argv[i++] = strdup("--quiet"));
  argv[i] = NULL;
  if (bad) {
    for (size_t k = 0; k < n; k++)
      free(argv[k]);
    free(argv);
    return NULL;
  }
  return argv;
}

void campaign_argv_free(char **argv) {
  if (!argv)
    return;
  for (char **p = argv; *p; p++)
    free(*p);
  free(argv);
}

/* A growing string. */
struct text {
  char *p;
  size_t len, cap;
  int oom;
};

static void text_add(struct text *t, const char *s) {
  size_t n = strlen(s);
  if (t->oom)
    return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1)
      cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
      t->oom = 1;
      return;
    }
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n + 1);
  t->len += n;
}

static void text_quoted(struct text *t, const char *word) {
  char *q = campaign_shell_quote(word);
  if (!q) {
    t->oom = 1;
    return;
  }
  text_add(t, q);
  free(q);
}

static char *text_done(struct text *t) {
  if (t->oom || !t->p) {
    free(t->p);
    return NULL;
  }
  return t->p;
}

char *campaign_run_command(const struct campaign_spec *s, size_t index, const char *nicsim, const char *report) {
  char **argv = campaign_run_argv(s, index, nicsim, report);
  if (!argv)
    return NULL;
  struct text t = {0};
  for (size_t i = 0; argv[i]; i++) {
    if (i)
      text_add(&t, " ");
    text_quoted(&t, argv[i]);
  }
  /* replay's 1 (violations found) is a completed run. */
  text_add(&t, " || [ $? -eq 1 ]");
  campaign_argv_free(argv);
  return text_done(&t);
}

/* Can this path go into an #SBATCH line as is? Slurm expands %-patterns in
 * --output, and its directive parser is not a shell: keep to plain paths. */
static int sbatch_safe(const char *path) {
  for (const char *p = path; *p; p++)
    if (!shell_safe(*p) || *p == '%')
      return 0;
  return *path != '\0';
}

char *campaign_slurm_script(const char *jobs_path, size_t njobs, const char *out_dir, const char *job_name) {
  size_t per = (njobs + SLURM_MAX_TASKS - 1) / SLURM_MAX_TASKS;
  if (per == 0)
    per = 1;
  size_t tasks = (njobs + per - 1) / per;
  char buf[512];
  struct text t = {0};
  text_add(&t, "#!/bin/bash\n");
  text_add(&t, "# A Slurm job array for a nicsim campaign, written by nicsim campaign --emit-jobs.\n");
  snprintf(buf, sizeof buf, "# Each array task runs %zu line%s of the job list (%zu jobs in all); then\n", per,
           per == 1 ? "" : "s", njobs);
  text_add(&t, buf);
  text_add(&t, "#   nicsim merge ");
  text_quoted(&t, out_dir);
  text_add(&t, "/runs\n# combines the reports. Submit with: sbatch [--wait] THIS_FILE\n");
  char name[128];
  campaign_sanitize(job_name, name, sizeof name);
  snprintf(buf, sizeof buf, "#SBATCH --job-name=%s\n", name);
  text_add(&t, buf);
  snprintf(buf, sizeof buf, "#SBATCH --array=1-%zu\n", tasks);
  text_add(&t, buf);
  text_add(&t, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n");
  if (sbatch_safe(out_dir) && strlen(out_dir) < 400) {
    snprintf(buf, sizeof buf, "#SBATCH --output=%s/slurm/%%A_%%a.out\n", out_dir);
    text_add(&t, buf);
  } else {
    text_add(&t, "# (--output left to Slurm's default: the out folder's path has characters an\n"
                 "# #SBATCH line cannot carry)\n");
  }
  text_add(&t, "set -u\njobs=");
  text_quoted(&t, jobs_path);
  snprintf(buf, sizeof buf, "\nper=%zu\n", per);
  text_add(&t, buf);
  text_add(&t, "first=$(( (SLURM_ARRAY_TASK_ID - 1) * per + 1 ))\n"
               "last=$(( first + per - 1 ))\n"
               "status=0\n"
               "while IFS= read -r line; do\n"
               "  bash -c \"$line\" || status=$?\n"
               "done < <(sed -n \"${first},${last}p\" \"$jobs\")\n"
               "exit \"$status\"\n");
  return text_done(&t);
}

/* ---- command-line helpers ---- */

static int quiet;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "nicsim: %s\n", msg);
  return EXIT_USAGE;
}

static int parse_jobs(const char *s, uint64_t *out) {
  return num_u64(s, out) || *out < 1 || *out > 1024 ? -1 : 0;
}

/* Standard output: every write checked once, at the end. */
static int stdout_done(void) {
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int e = errno;
    return fail("standard output: cannot write%s%s", e ? ": " : "", e ? strerror(e) : "");
  }
  return 0;
}

/* mkdir -p */
static int make_dirs(const char *path, char *err, size_t errlen) {
  char *p = strdup(path);
  if (!p) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  for (char *s = p + 1;; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", p, strerror(errno));
        free(p);
        return -1;
      }
      *s = c;
      if (!c)
        break;
    }
  }
  free(p);
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: not a folder", path);
    return -1;
  }
  return 0;
}

int campaign_has_control(const char *t) {
  for (; *t; t++)
    if ((unsigned char)*t < 0x20 || *t == 0x7f)
      return 1;
  return 0;
}

static char *path_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", a, b);
  return p;
}

/* Does a usable report of a complete run exist at path? A report marked
 * incomplete (its run was stopped) is run again. */
static int report_usable(const char *path) {
  if (access(path, R_OK) != 0)
    return 0;
  json_object *j = json_object_from_file(path), *inc = NULL;
  char why[256];
  int ok = j && merge_report_check(j, why, sizeof why) == 0 && json_object_object_get_ex(j, "incomplete", &inc) &&
           json_object_is_type(inc, json_type_boolean) && !json_object_get_boolean(inc);
  json_object_put(j);
  return ok;
}

/* The program's own absolute path, for job lines. */
static int self_path(char *buf, size_t n) {
  ssize_t l = readlink("/proc/self/exe", buf, n - 1);
  if (l <= 0 || (size_t)l >= n - 1)
    return -1;
  buf[l] = '\0';
  return 0;
}

/* The spec's base name without folder and extension, sanitised. */
static void spec_stem(const char *path, char *buf, size_t n) {
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", base);
  char *dot = strrchr(tmp, '.');
  if (dot && dot != tmp)
    *dot = '\0';
  campaign_sanitize(tmp, buf, n);
}

static void usage_campaign(FILE *f) {
  fprintf(f,
          "usage: nicsim campaign SPEC [-j N] [--emit-jobs] [--out DIR] [--slurm-script FILE] [--quiet]\n"
          "\n"
          "Runs every combination of the spec's traces, designs, fault variants and seeds,\n"
          "each as `nicsim replay ... --json OUT/runs/RUNID.json` in its own process, N at\n"
          "a time; then merges the reports (OUT/merged.json, OUT/merged.md) and prints the\n"
          "table. Runs whose report already exists are skipped: rerun to resume.\n"
          "Exit status: 0 when every run completed (safe or not), 2 otherwise.\n"
          "\n"
          "  -j N, --jobs N       parallel runs (default: the CPUs it may run on)\n"
          "  --out DIR            output folder (default: SPECNAME-out in the current folder)\n"
          "  --emit-jobs          run nothing: print one shell command a line, for GNU parallel\n"
          "                       (nicsim campaign SPEC --emit-jobs | parallel), and write\n"
          "                       OUT/jobs.txt and a Slurm job-array script\n"
          "  --slurm-script FILE  where --emit-jobs writes the script (default OUT/campaign.sbatch)\n"
          "  -q, --quiet          print nothing but errors (no table, no progress line)\n"
          "  -h, --help           this text\n"
          "\n"
          "On a terminal, a progress line on standard error shows runs done, rate,\n"
          "elapsed time and ETA.\n"
          "\n"
          "SPEC (YAML; trace paths relative to the spec's folder):\n"
          "  traces: [traces/samples/mixed.pcap]\n"
          "  designs: [zc-shared-ring, copy]          # or: all\n"
          "  faults: [[], [\"malicious_dma:prob=0.05\"]] # each entry one variant (default [[]])\n"
          "  seeds: 1..20                              # or a list [1, 2, 5..9] (default 1)\n"
          "  set: {pool.clear: on_recycle}             # optional scenario keys for every run\n"
          "  limit: 1000                               # optional: each run replays the first N frames\n"
          "\n"
          "Then: nicsim merge OUT/runs. See " NICSIM_DOCDIR "/campaigns.md.\n");
}

static void usage_merge(FILE *f) {
  fprintf(f,
          "usage: nicsim merge DIR ... [--json FILE] [--markdown FILE] [--quiet]\n"
          "\n"
          "Reads every *.json run report under the folders (recursively; a file may be\n"
          "named too), skips unreadable ones with a warning each, and prints a table per\n"
          "design and fault variant: runs, unsafe runs, and for each property the runs\n"
          "that showed it and their share.\n"
          "Exit status: 0 when at least one report was merged, 2 otherwise.\n"
          "\n"
          "  --json FILE        write the merged table as JSON (- for standard output)\n"
          "  --markdown FILE    write it as Markdown (- for standard output)\n"
          "  -q, --quiet        print nothing but errors and warnings\n"
          "  -h, --help         this text\n");
}

/* ---- merge ---- */

/* Merge the paths; write the outputs. 0, or EXIT_USAGE after a message. */
static int do_merge(const char *const *paths, size_t npaths, const char *json, const char *markdown, int print) {
  struct merge m;
  if (merge_init(&m))
    return fail("merge: out of memory");
  char err[1200];
  int status = 0;
  for (size_t i = 0; i < npaths && !status; i++)
    if (merge_path(&m, paths[i], err, sizeof err))
      status = fail("merge: %s", err);
  for (size_t i = 0; i < m.nwarnings; i++)
    fprintf(stderr, "nicsim: merge: warning: skipped %s\n", m.warnings[i]);
  if (!status && merge_finish(&m))
    status = fail("merge: out of memory");
  if (!status && m.runs == 0)
    status = fail("merge: no run report found (%s%s)", npaths ? paths[0] : "", npaths > 1 ? ", ..." : "");
  /* An output that is one of the reports merged would replace it. */
  const char *outs[2][2] = {{"--json", json}, {"--markdown", markdown}};
  for (int k = 0; k < 2 && !status; k++)
    if (outs[k][1] && strcmp(outs[k][1], "-") != 0 && merge_has_file(&m, outs[k][1]))
      status = fail("merge: %s %s: cannot write: it is one of the reports merged, an input", outs[k][0], outs[k][1]);
  if (!status && json) {
    json_object *j = merge_to_json(&m);
    if (!j || report_write_json(j, json, err, sizeof err))
      status = fail("merge: %s", j ? err : "out of memory");
    json_object_put(j);
  }
  if (!status && markdown) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    if (!mf) {
      status = fail("merge: out of memory");
    } else {
      merge_print(mf, &m, 1);
      fclose(mf);
      if (outfile_write_text(markdown, buf, 0666, err, sizeof err))
        status = fail("merge: %s", err);
      free(buf);
    }
  }
  if (!status && print)
    merge_print(stdout, &m, 0);
  merge_free(&m);
  int out = stdout_done();
  return status ? status : out;
}

int merge_main(int argc, char **argv) {
  const char *json = NULL, *markdown = NULL;
  int status = 0, c;
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},        {"quiet", no_argument, NULL, 'q'},
      {"json", required_argument, NULL, 'J'},  {"markdown", required_argument, NULL, 'M'},
      {NULL, 0, NULL, 0}};
  static const struct cliopt_need needs[] = {{"--json", "a file name"}, {"--markdown", "a file name"}, {NULL, NULL}};
  quiet = 0;
  cliopt_reset();
  while (!status && (c = cliopt_next(argc, argv, ":hq", longs)) != -1) {
    switch (c) {
    case 'h':
      usage_merge(stdout);
      return stdout_done();
    case 'q':
      quiet = 1;
      break;
    case 'J':
      json = optarg;
      break;
    case 'M':
      markdown = optarg;
      break;
    default:
      status = cliopt_refused("merge", c, argv, needs);
    }
  }
  if (status)
    return status;
  if (optind >= argc)
    return fail("merge: no folder given (nicsim merge --help)");
  int json_out = json && strcmp(json, "-") == 0, md_out = markdown && strcmp(markdown, "-") == 0;
  if (json_out && md_out)
    return fail("merge: --json - and --markdown - cannot share standard output");
  char err[1200];
  if ((json && outfile_claim(json, "--json", err, sizeof err)) ||
      (markdown && outfile_claim(markdown, "--markdown", err, sizeof err)))
    return fail("merge: %s", err);
  return do_merge((const char *const *)argv + optind, (size_t)(argc - optind), json, markdown,
                  !json_out && !md_out && !quiet);
}

/* ---- campaign ---- */

static void progress(struct progress *p, size_t done, size_t total, size_t failed) {
  char note[48] = "";
  if (failed)
    snprintf(note, sizeof note, "%zu failed", failed);
  progress_update(p, done, total, note);
}

/* The first line of a run's log, for the failure message. */
static void first_line(const char *path, char *buf, size_t n) {
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  if (fgets(buf, (int)n, f)) {
    size_t l = strlen(buf);
    while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
      buf[--l] = '\0';
  }
  fclose(f);
}

static void describe_status(int st, char *buf, size_t n) {
  if (WIFEXITED(st))
    snprintf(buf, n, "exit %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else
    snprintf(buf, n, "status %d", st);
}

/* Every run's job line into f. 0, or -1 (out of memory, or f failed). */
static int write_jobs(FILE *f, const struct campaign_spec *s, const char *runs, const char *self) {
  size_t n = campaign_run_count(s);
  for (size_t i = 0; i < n; i++) {
    char id[CAMPAIGN_ID_MAX], file[CAMPAIGN_ID_MAX + 8];
    campaign_run_id(s, i, id, sizeof id);
    snprintf(file, sizeof file, "%s.json", id);
    char *report = path_join(runs, file);
    char *line = report ? campaign_run_command(s, i, self, report) : NULL;
    int bad = !line || fputs(line, f) == EOF || fputc('\n', f) == EOF;
    free(line);
    free(report);
    if (bad)
      return -1;
  }
  return fflush(f) == EOF ? -1 : 0;
}

/* --emit-jobs: OUT/jobs.txt and the Slurm script first (each atomically),
 * then the same lines on standard output, streamed: a campaign of a million
 * runs is never held in memory. */
static int emit_jobs(const struct campaign_spec *s, const char *spec_path, const char *out, const char *script,
                     const char *self) {
  char err[1200];
  size_t n = campaign_run_count(s);
  char *runs = path_join(out, "runs"), *slurm = path_join(out, "slurm"), *jobs = path_join(out, "jobs.txt");
  char *script_default = path_join(out, "campaign.sbatch");
  int status = 0;
  if (!runs || !slurm || !jobs || !script_default)
    status = fail("out of memory");
  if (!status && (make_dirs(runs, err, sizeof err) || make_dirs(slurm, err, sizeof err)))
    status = fail("campaign: %s", err);
  if (!status && (outfile_claim(jobs, "the job list", err, sizeof err) ||
                  (!script && outfile_claim(script_default, "the Slurm script", err, sizeof err))))
    status = fail("campaign: %s", err);
  if (!status) {
    struct outfile *f = outfile_open(jobs, 0666, err, sizeof err);
    if (!f)
      status = fail("campaign: %s", err);
    else if (write_jobs(outfile_stream(f), s, runs, self)) {
      outfile_abort(f);
      status = fail("campaign: %s: cannot write: %s", jobs, strerror(errno));
    } else if (outfile_commit(f, err, sizeof err)) {
      status = fail("campaign: %s", err);
    }
  }
  if (!status) {
    char name[128];
    spec_stem(spec_path, name, sizeof name);
    char job_name[160];
    snprintf(job_name, sizeof job_name, "nicsim-%s", name);
    char *sb = campaign_slurm_script(jobs, n, out, job_name);
    if (!sb)
      status = fail("out of memory");
    else if (outfile_write_text(script ? script : script_default, sb, 0777, err, sizeof err))
      status = fail("campaign: %s", err);
    free(sb);
  }
  if (!status && write_jobs(stdout, s, runs, self))
    status = fail("campaign: cannot write the job list to standard output: %s", strerror(errno));
  if (!status && !quiet && isatty(2))
    fprintf(stderr, "nicsim: campaign: %zu jobs; also in %s; Slurm job array: %s; then: nicsim merge %s\n", n,
            jobs, script ? script : script_default, runs);
  free(runs);
  free(slurm);
  free(jobs);
  free(script_default);
  return status;
}

struct failed_run {
  size_t run;
  char why[160];
};

/* Record a failed run (the list grows as needed; failures are few). */
static void note_failed(struct failed_run **list, size_t *n, size_t *cap, size_t run, const char *why) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 16;
    struct failed_run *p = realloc(*list, c * sizeof *p);
    if (!p)
      return; /* still reported on standard error and in the exit status */
    *list = p;
    *cap = c;
  }
  (*list)[*n].run = run;
  snprintf((*list)[*n].why, sizeof (*list)[*n].why, "%s", why);
  (*n)++;
}

/* The local engine's runs in the process pool. */
struct local_pool {
  const struct campaign_spec *s;
  const char *runs, *logs, *self;
  size_t *todo, ntodo, done;
  struct failed_run *failed;
  size_t nfailed, failed_cap, nfailed_total, stopped;
  struct progress *bar;
};

static char *run_file(const char *folder, const struct campaign_spec *s, size_t run, const char *ext) {
  char id[CAMPAIGN_ID_MAX], file[CAMPAIGN_ID_MAX + 8];
  campaign_run_id(s, run, id, sizeof id);
  snprintf(file, sizeof file, "%s%s", id, ext);
  return path_join(folder, file);
}

static int local_child(void *ctx, size_t k) {
  struct local_pool *lp = ctx;
  size_t run = lp->todo[k];
  char *report = run_file(lp->runs, lp->s, run, ".json"), *log = run_file(lp->logs, lp->s, run, ".log");
  char **argv = report ? campaign_run_argv(lp->s, run, lp->self, report) : NULL;
  if (!argv || !log)
    return 127;
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  int nul = open("/dev/null", O_RDWR);
  if (fd >= 0)
    dup2(fd, 2);
  if (nul >= 0) {
    dup2(nul, 0);
    dup2(nul, 1);
  }
  execv("/proc/self/exe", argv);
  static const char msg[] = "nicsim: campaign: cannot execute /proc/self/exe\n";
  if (write(2, msg, sizeof msg - 1) < 0)
    return 127;
  return 127;
}

static void local_done(void *ctx, size_t k, int st, int how) {
  int start_errno = how > 0 ? how : 0;
  struct local_pool *lp = ctx;
  size_t run = lp->todo[k];
  char id[CAMPAIGN_ID_MAX];
  campaign_run_id(lp->s, run, id, sizeof id);
  lp->done++;
  char *report = run_file(lp->runs, lp->s, run, ".json"), *log = run_file(lp->logs, lp->s, run, ".log");
  int completed = !start_errno && WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 1);
  int by_signal = how == PROCPOOL_STOPPED;
  if (completed && report && report_usable(report)) {
    if (log)
      unlink(log);
  } else if (by_signal && !completed) {
    /* Stopped: nothing of it is kept; a restart runs it again. */
    lp->stopped++;
    if (report)
      unlink(report);
    if (log)
      unlink(log);
  } else {
    char how[96], line[512] = "", why[160];
    if (start_errno)
      snprintf(how, sizeof how, "cannot start: %s", strerror(start_errno));
    else
      describe_status(st, how, sizeof how);
    if (log && !start_errno)
      first_line(log, line, sizeof line);
    snprintf(why, sizeof why, "%s%s", how, completed ? " without a usable report" : "");
    note_failed(&lp->failed, &lp->nfailed, &lp->failed_cap, run, why);
    lp->nfailed_total++;
    progress_clear(lp->bar);
    fprintf(stderr, "nicsim: campaign: run %s failed (%s)%s%s\n", id, why, line[0] ? ": " : "", line);
  }
  free(report);
  free(log);
  progress(lp->bar, lp->done, lp->ntodo, lp->nfailed_total);
}

static int run_local(const struct campaign_spec *s, const char *out, uint64_t jobs) {
  char err[1200];
  size_t n = campaign_run_count(s);
  char *runs = path_join(out, "runs"), *logs = path_join(out, "logs");
  char self[PATH_MAX];
  if (!runs || !logs) {
    free(runs);
    free(logs);
    return fail("out of memory");
  }
  if (make_dirs(runs, err, sizeof err) || make_dirs(logs, err, sizeof err)) {
    free(runs);
    free(logs);
    return fail("campaign: %s", err);
  }
  if (self_path(self, sizeof self))
    snprintf(self, sizeof self, "nicsim");

  /* Resume: the runs whose report already exists, parses and is complete
   * are done. */
  size_t *todo = malloc((n ? n : 1) * sizeof *todo);
  if (!todo) {
    free(runs);
    free(logs);
    return fail("out of memory");
  }
  size_t ntodo = 0, skipped = 0;
  for (size_t i = 0; i < n; i++) {
    char *report = run_file(runs, s, i, ".json");
    if (report && report_usable(report))
      skipped++;
    else
      todo[ntodo++] = i;
    free(report);
  }

  struct progress bar;
  progress_start(&bar, "campaign", "runs", quiet);
  struct local_pool lp = {.s = s, .runs = runs, .logs = logs, .self = self, .todo = todo, .ntodo = ntodo,
                          .bar = &bar};
  if (ntodo)
    progress(&bar, 0, ntodo, 0);
  static const struct procpool_ops ops = {local_child, local_done, 0};
  int sig = procpool_run(ntodo, (unsigned)jobs, &ops, &lp);
  struct failed_run *failed = lp.failed;
  size_t nfailed = lp.nfailed, nfailed_total = lp.nfailed_total;
  progress_clear(&bar);
  if (sig != 0) {
    rmdir(logs);
    if (sig > 0)
      fprintf(stderr, "nicsim: campaign: stopped (%s): %zu of %zu runs done; run the same command again to "
              "resume\n", strsignal(sig), skipped + lp.done - lp.stopped - nfailed_total, n);
    else
      fprintf(stderr, "nicsim: campaign: the process pool failed: %s\n", strerror(errno));
    free(todo);
    free(failed);
    free(runs);
    free(logs);
    return sig > 0 ? 128 + sig : EXIT_USAGE;
  }

  /* Failed runs: recorded in OUT/failed.txt (id, status, command). */
  char *failed_path = path_join(out, "failed.txt");
  int status = nfailed_total ? EXIT_USAGE : 0;
  if (failed_path && nfailed) {
    struct text t = {0};
    for (size_t i = 0; i < nfailed; i++) {
      char id[CAMPAIGN_ID_MAX], file[CAMPAIGN_ID_MAX + 8];
      campaign_run_id(s, failed[i].run, id, sizeof id);
      snprintf(file, sizeof file, "%s.json", id);
      char *report = path_join(runs, file);
      char *cmd = report ? campaign_run_command(s, failed[i].run, self, report) : NULL;
      text_add(&t, id);
      text_add(&t, "\t");
      text_add(&t, failed[i].why);
      text_add(&t, "\t");
      text_add(&t, cmd ? cmd : "?");
      text_add(&t, "\n");
      free(cmd);
      free(report);
    }
    char *txt = text_done(&t);
    if (!txt || outfile_write_text(failed_path, txt, 0666, err, sizeof err))
      fail("campaign: %s", txt ? err : "out of memory");
    free(txt);
  } else if (failed_path) {
    unlink(failed_path);
  }
  free(failed_path);
  /* Empty logs folder: remove (it only holds the logs of failed runs). */
  rmdir(logs);

  if (!quiet) {
    printf("campaign %s: %zu runs: %zu ran, %zu already done, %zu failed; reports in %s\n", s->name, n,
           ntodo - nfailed_total, skipped, nfailed_total, runs);
    if (nfailed)
      printf("failed runs (also in %s/failed.txt):", out);
    for (size_t i = 0; i < nfailed && i < 10; i++) {
      char id[CAMPAIGN_ID_MAX];
      campaign_run_id(s, failed[i].run, id, sizeof id);
      printf(" %s", id);
    }
    if (nfailed)
      printf("%s\n", nfailed_total > 10 ? " ..." : "");
    printf("\n");
    fflush(stdout);
  }

  /* Merge, as nicsim merge OUT/runs would. */
  char *mj = path_join(out, "merged.json"), *mm = path_join(out, "merged.md");
  const char *paths[1] = {runs};
  int ms = mj && mm ? do_merge(paths, 1, mj, mm, !quiet) : fail("out of memory");
  if (ms && !status)
    status = ms;
  free(mj);
  free(mm);
  free(todo);
  free(failed);
  free(runs);
  free(logs);
  return status;
}

/* ---- a campaign's identity ---- */

#define IDENTITY_HEAD_BYTES (1u << 20) /* of each trace, hashed */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* What defines the campaign's runs, one line a fact: program version,
 * each trace (path, size, modification time, hash of its first MiB), each
 * design (name, hash of its scenario text), variants, seeds, settings. Run
 * ids only number these, so reports made under other facts are not this
 * campaign's. malloc'ed; NULL when out of memory or a trace cannot be read. */
static char *campaign_identity(const struct campaign_spec *s, char *err, size_t errlen) {
  struct text t = {0};
  char line[512];
  snprintf(line, sizeof line, "nicsim %s\n", NICSIM_VERSION_STRING);
  text_add(&t, line);
  unsigned char *buf = malloc(65536);
  for (size_t i = 0; i < s->ntraces && buf; i++) {
    struct stat st;
    memset(&st, 0, sizeof st);
    /* Only a regular file is opened: a FIFO would block here. */
    int is_reg = stat(s->traces[i], &st) == 0 && S_ISREG(st.st_mode);
    if (!is_reg && st.st_mode) {
      text_add(&t, "trace ");
      text_add(&t, s->traces[i]);
      text_add(&t, " (not a regular file)\n");
      continue;
    }
    int fd = is_reg ? open(s->traces[i], O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 || fstat(fd, &st) != 0) {
      snprintf(err, errlen, "%s: cannot read: %s", s->traces[i], strerror(errno));
      if (fd >= 0)
        close(fd);
      free(buf);
      free(t.p);
      return NULL;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    size_t total = 0;
    ssize_t r;
    while (total < IDENTITY_HEAD_BYTES && (r = read(fd, buf, 65536)) > 0) {
      h = fnv1a(h, buf, (size_t)r);
      total += (size_t)r;
    }
    close(fd);
    text_add(&t, "trace ");
    text_add(&t, s->traces[i]);
    snprintf(line, sizeof line, " %lld bytes, modified %lld.%09ld, head %016" PRIx64 "\n", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, h);
    text_add(&t, line);
  }
  free(buf);
  for (size_t i = 0; i < s->ndesigns; i++) {
    const struct design *d = design_find(s->designs[i]);
    uint64_t h = d ? fnv1a(0xcbf29ce484222325ull, d->yaml, strlen(d->yaml)) : 0;
    snprintf(line, sizeof line, "design %s %016" PRIx64 "\n", s->designs[i], h);
    text_add(&t, line);
  }
  for (size_t i = 0; i < s->nvariants; i++) {
    text_add(&t, "faults ");
    text_add(&t, s->variants[i].label);
    text_add(&t, "\n");
  }
  for (size_t i = 0; i < s->nseeds; i++) {
    snprintf(line, sizeof line, "seed %" PRIu64 "\n", s->seeds[i]);
    text_add(&t, line);
  }
  for (size_t i = 0; i < s->nsets; i++) {
    text_add(&t, "set ");
    text_add(&t, s->sets[i]);
    text_add(&t, "\n");
  }
  if (s->limit_frames) { /* only with a limit: campaigns without one keep their identity */
    snprintf(line, sizeof line, "limit %" PRIu64 "\n", s->limit_frames);
    text_add(&t, line);
  }
  char *id = text_done(&t);
  if (!id)
    snprintf(err, errlen, "out of memory");
  return id;
}

/* Does the folder hold a run report (*.json)? */
static int has_reports(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while (d && !found && (e = readdir(d))) {
    size_t l = strlen(e->d_name);
    found = l > 5 && strcmp(e->d_name + l - 5, ".json") == 0;
  }
  if (d)
    closedir(d);
  return found;
}

/* The line of an identity that starts at text, elided to n bytes: the
 * elision keeps the line's own end, never a later line's. */
static void identity_line(const char *text, char *buf, size_t n) {
  char line[1024];
  size_t len = strcspn(text, "\n");
  if (len >= sizeof line)
    len = sizeof line - 1;
  memcpy(line, text, len);
  line[len] = '\0';
  num_elide(line, buf, n);
}

/* OUT/campaign.id: written by the first start; a later start must match it,
 * or it is refused (its reports would be another campaign's). */
static int check_identity(const struct campaign_spec *s, const char *out) {
  char err[1200];
  char *want = campaign_identity(s, err, sizeof err);
  if (!want)
    return fail("campaign: %s", err);
  char *idf = path_join(out, "campaign.id"), *runs = path_join(out, "runs");
  int status = 0;
  if (!idf || !runs) {
    status = fail("out of memory");
  } else {
    FILE *f = fopen(idf, "r");
    char *have = NULL;
    size_t cap = 0;
    if (f) {
      ssize_t n = getdelim(&have, &cap, '\0', f);
      if (n < 0) {
        free(have);
        have = NULL;
      }
      fclose(f);
    }
    if (have && strcmp(have, want) != 0) {
      /* The first line that differs says what changed. */
      const char *a = have, *b = want;
      while (*a && *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0)
          break;
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
      }
      char was[160], now[160];
      identity_line(*a ? a : "(nothing)", was, sizeof was);
      identity_line(*b ? b : "(nothing)", now, sizeof now);
      status = fail("campaign: %s holds the runs of another campaign (%s was '%s', is now '%s'): give another "
                    "--out, or remove %s and %s", out, idf, was, now, runs, idf);
    } else if (!have && has_reports(runs)) {
      status = fail("campaign: %s holds reports but no campaign.id, so nothing tells which spec, traces and "
                    "program made them: give another --out, or remove %s", out, runs);
    } else if (!have && outfile_write_text(idf, want, 0666, err, sizeof err)) {
      status = fail("campaign: %s", err);
    }
    free(have);
  }
  free(want);
  free(idf);
  free(runs);
  return status;
}

int campaign_main(int argc, char **argv) {
  const char *spec_path = NULL, *out = NULL, *script = NULL;
  uint64_t jobs = 0;
  int emit = 0, status = 0, c;
  enum { O_OUT = 256, O_SCRIPT, O_EMIT };
  static const struct option longs[] = {
      {"help", no_argument, NULL, 'h'},         {"quiet", no_argument, NULL, 'q'},
      {"jobs", required_argument, NULL, 'j'},   {"out", required_argument, NULL, O_OUT},
      {"slurm-script", required_argument, NULL, O_SCRIPT}, {"emit-jobs", no_argument, NULL, O_EMIT},
      {NULL, 0, NULL, 0}};
  static const struct cliopt_need needs[] = {
      {"-j", "a number of parallel runs, 1..1024"}, {"--jobs", "a number of parallel runs, 1..1024"},
      {"--out", "a folder"}, {"--slurm-script", "a file name"}, {NULL, NULL}};
  quiet = 0;
  cliopt_reset();
  while (!status && (c = cliopt_next(argc, argv, ":hqj:", longs)) != -1) {
    const char *v = optarg;
    char shown[96];
    switch (c) {
    case 'h':
      usage_campaign(stdout);
      return stdout_done();
    case 'q':
      quiet = 1;
      break;
    case 'j':
      if (parse_jobs(v, &jobs))
        status = fail("-j '%s': expected a number of parallel runs, 1..1024", num_elide(v, shown, sizeof shown));
      break;
    case O_OUT:
      if (!*v)
        status = fail("--out needs a folder");
      out = v;
      break;
    case O_SCRIPT:
      if (!*v)
        status = fail("--slurm-script needs a file name");
      script = v;
      break;
    case O_EMIT:
      emit = 1;
      break;
    default:
      status = cliopt_refused("campaign", c, argv, needs);
    }
  }
  for (int i = optind; i < argc && !status; i++) {
    if (spec_path)
      status = fail("campaign: more than one spec given ('%s' and '%s')", spec_path, argv[i]);
    spec_path = argv[i];
  }
  if (status)
    return status;
  if (!spec_path)
    return fail("campaign: no spec given (nicsim campaign --help)");
  if (script && !emit)
    return fail("campaign: --slurm-script goes with --emit-jobs");
  if (!jobs) { /* the CPUs this process may use (taskset, cpusets), not all online */
    unsigned nc = cpus_usable();
    jobs = nc > 1024 ? 1024 : nc;
  }

  /* The whole spec is checked before anything starts. */
  struct campaign_spec s;
  char err[2048];
  if (campaign_spec_load(spec_path, &s, err, sizeof err))
    return fail("%s", err);

  /* No output may be the spec or a trace. */
  int oom = outfile_note_input(spec_path, "the spec");
  for (size_t i = 0; i < s.ntraces && !oom; i++)
    oom = outfile_note_input(s.traces[i], "a trace");
  if (oom) {
    campaign_spec_free(&s);
    return fail("out of memory");
  }
  char def[300];
  if (!out) {
    char stem[200];
    spec_stem(spec_path, stem, sizeof stem);
    snprintf(def, sizeof def, "%s-out", stem);
    out = def;
  }
  if (make_dirs(out, err, sizeof err)) {
    campaign_spec_free(&s);
    return fail("campaign: --out: %s", err);
  }
  char *abs_out = realpath(out, NULL);
  if (!abs_out) {
    campaign_spec_free(&s);
    return fail("campaign: %s: %s", out, strerror(errno));
  }
  char self[PATH_MAX];
  if (emit && self_path(self, sizeof self))
    status = fail("campaign: cannot find the nicsim program's own path (/proc/self/exe)");
  else if (campaign_has_control(abs_out) || (emit && campaign_has_control(self)))
    status = fail("campaign: the output folder's path (or the program's) holds a newline or another control "
                  "byte, which cannot be part of one job line");
  if (!status && script && outfile_claim(script, "--slurm-script", err, sizeof err))
    status = fail("campaign: --slurm-script %s", err);
  if (!status)
    status = check_identity(&s, abs_out);
  if (!status && emit)
    status = emit_jobs(&s, spec_path, abs_out, script, self);
  else if (!status) {
    /* With NICSIM_READ_AHEAD=auto (replay --read-ahead), runs in parallel
     * read their traces ahead only when each run and its reader can have a
     * CPU of their own. */
    const char *ra = getenv("NICSIM_READ_AHEAD");
    if (ra && strcmp(ra, "auto") == 0 && jobs >= 2 && 2 * jobs > cpus_usable())
      setenv("NICSIM_READ_AHEAD", "off", 1);
    status = run_local(&s, abs_out, jobs);
  }
  free(abs_out);
  campaign_spec_free(&s);
  return status;
}
