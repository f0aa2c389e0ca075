/*
 * campaign: fault campaigns (contract.md, `nicsim campaign` and `nicsim
 * merge`, docs/campaigns.md).
 *
 * A campaign spec (YAML) lists traces x designs x fault variants x seeds;
 * every combination is one run, one `nicsim replay ... --json
 * OUT/runs/RUNID.json` in a process of its own (SystemC allows one simulation
 * per process). The runs go to local cores (campaign_main), or are written
 * out as a job list for an existing engine (GNU parallel, a Slurm job array):
 * nicsim never schedules jobs across machines itself. Whichever engine ran
 * them, `nicsim merge` combines the per-run reports into one table.
 *
 * The spec parser, run ids, shell quoting and the merge arithmetic are plain
 * functions here (unit-tested); campaign_main and merge_main are the two
 * commands, which print and return an exit status (0 completed, 2 otherwise),
 * never exit().
 */
#ifndef NICSIM_CAMPAIGN_H
#define NICSIM_CAMPAIGN_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CAMPAIGN_SPEC_MAX_BYTES (1u << 20) /* a spec is a page of text */
#define CAMPAIGN_MAX_RUNS 1000000u         /* traces x designs x variants x seeds */
#define CAMPAIGN_MAX_FAULTS 32u            /* fault specs in one variant (as replay) */
#define CAMPAIGN_ID_MAX 160                /* bytes of a run id, with the NUL */
#define CAMPAIGN_VARIANT_SEP " + "         /* joins a variant's fault specs in labels */

/* 1-based line and column in the spec's text. */
struct campaign_pos {
  unsigned line, col;
};

/* One fault variant: the --fault specs of a run, possibly none. */
struct campaign_variant {
  char **faults;  /* fault specs as written, each accepted by fault_parse */
  size_t nfaults;
  char *label;    /* the specs joined by CAMPAIGN_VARIANT_SEP, "none" without any
                   * (the same label merge gives a report with these faults) */
};

struct campaign_spec {
  char *name;                        /* the spec file as given, in messages */
  char **traces;                     /* absolute paths (realpath) */
  size_t ntraces;
  const char **designs;              /* built-in design names (design_find's, static) */
  size_t ndesigns;
  struct campaign_variant *variants;
  size_t nvariants;
  uint64_t *seeds;                   /* in spec order, no duplicates */
  size_t nseeds;
  char **sets;                       /* "key=value" as --set takes them, in spec order */
  size_t nsets;
  uint64_t limit_frames;             /* limit: each run replays the first N frames (0: all) */
};

/* One run: indices into the spec. Runs are numbered trace-major, then
 * design, variant and seed (the seed varies fastest). */
struct campaign_run {
  size_t trace, design, variant;
  uint64_t seed;
};

/* Read and validate a spec file: every key known, every design built in,
 * every fault spec parsed, every trace readable (paths relative to the spec
 * file's folder), the --set keys accepted by every design, a non-empty
 * product of at most CAMPAIGN_MAX_RUNS runs. 0 with *s filled (release with
 * campaign_spec_free), or -1 with err holding one line "FILE:LINE:COL: what"
 * ("FILE: what" where no position applies). */
int campaign_spec_load(const char *path, struct campaign_spec *s, char *err, size_t errlen);

/* The same for text in memory; name stands for the file in messages and
 * base_dir is the folder relative trace paths start from. */
int campaign_spec_parse(const char *name, const char *base_dir, const char *text, size_t len,
                        struct campaign_spec *s, char *err, size_t errlen);

/* Release a spec; safe on a zeroed struct. */
void campaign_spec_free(struct campaign_spec *s);

size_t campaign_run_count(const struct campaign_spec *s);

/* The run with this number (0 .. campaign_run_count - 1). */
struct campaign_run campaign_run_at(const struct campaign_spec *s, size_t index);

/* The run's id: "t<trace>-<design>-f<variant>-s<seed>", e.g.
 * "t0-zc-shared-ring-f1-s7", the design name sanitised. Stable for a given
 * spec, unique within it, safe as a file name. */
void campaign_run_id(const struct campaign_spec *s, size_t index, char *buf, size_t n);

/* Copy text into buf (n > 0) keeping only [A-Za-z0-9._-], every other byte
 * becoming '_'; never empty (""  gives "_"), never starting with '.' or '-'
 * (so never ".", ".." or an option), at most n - 1 bytes. */
void campaign_sanitize(const char *text, char *buf, size_t n);

/* Does text hold a byte that would end or garble a job line (a newline, a
 * carriage return, any other control byte)? Such words are refused: every
 * job is exactly one line. */
int campaign_has_control(const char *text);

/* Quote one word for a POSIX shell: unchanged when it is non-empty and holds
 * only [A-Za-z0-9_@%+=:,./-], else in single quotes with each ' written as
 * '\''. Returns a malloc'ed string, or NULL when out of memory. */
char *campaign_shell_quote(const char *word);

/* The argument vector of a run: nicsim replay TRACE --design D [--fault F
 * ...] --seed S [--set K=V ...] --json REPORT --quiet, argv[0] = nicsim.
 * NULL-terminated, malloc'ed with its strings; release with
 * campaign_argv_free. NULL when out of memory. */
char **campaign_run_argv(const struct campaign_spec *s, size_t index, const char *nicsim,
                         const char *report);
void campaign_argv_free(char **argv);

/* The run as one line of POSIX shell: the quoted argument vector followed by
 * "|| [ $? -eq 1 ]", so the line exits 0 when the run completed (replay's 0,
 * safe, or 1, violations found) and non-zero only when it failed: GNU
 * parallel and Slurm then count failed runs, not unsafe ones. malloc'ed;
 * NULL when out of memory. */
char *campaign_run_command(const struct campaign_spec *s, size_t index, const char *nicsim,
                           const char *report);

/* The Slurm job-array script that runs the lines of jobs_path (njobs of
 * them), at most 1000 array tasks (several lines per task beyond that), its
 * output in out_dir/slurm/. malloc'ed text; NULL when out of memory. */
char *campaign_slurm_script(const char *jobs_path, size_t njobs, const char *out_dir,
                            const char *job_name);

/* ---- merge ---- */

/* Who (a principal, or the device) showed a property on whose bytes, over
 * the runs of a group (the reports' by_pair entries summed). */
struct merge_pair {
  char *principal, *owner;
  uint64_t runs_with;   /* runs where the pair's count was above 0 */
  uint64_t total_count; /* sum of its counts */
  uint64_t total_bytes; /* sum of its bytes */
};

struct merge_prop {
  char *name;
  uint64_t runs_with;   /* runs whose count was above 0 */
  uint64_t total_count; /* sum of the counts */
  struct merge_pair *pairs; /* in order of first appearance */
  size_t npairs, pairs_cap;
};

struct merge_verdict {
  char *name;
  uint64_t runs;
};

/* The runs of one design under one fault variant. */
struct merge_group {
  char *design;
  char *faults; /* the variant's label (CAMPAIGN_VARIANT_SEP-joined specs, "none") */
  uint64_t runs, unsafe_runs;
  struct merge_prop *props; /* merge's property list, in its order */
  size_t nprops;
  struct merge_verdict *verdicts; /* "safe", "unsafe", then others by name */
  size_t nverdicts;
};

struct merge {
  uint64_t runs;       /* reports merged */
  uint64_t unreadable; /* files skipped */
  struct merge_group *groups; /* sorted by design, then faults, after merge_finish */
  size_t ngroups, groups_cap;
  char **props; /* the checker's properties in its order, then others met, by name */
  size_t nprops, props_cap;
  char **warnings; /* one line per file skipped: "FILE: why" */
  size_t nwarnings, warnings_cap;
  /* Lookups (json-c hash tables): property name -> index in props,
   * "design\nfaults" -> index in groups (until merge_finish sorts them),
   * "device:inode" of every file merged (a file reached twice counts once). */
  json_object *prop_index, *group_index, *files_seen;
};

/* An empty merge (the checker's properties). 0, or -1 when out of memory. */
int merge_init(struct merge *m);

/* Is rep a run report merge can use? 0, or -1 with why filled. */
int merge_report_check(json_object *rep, char *why, size_t n);

/* The fault label of a report: its faults' specs joined, "none" without
 * any. malloc'ed; NULL when out of memory or not a usable report. */
char *merge_report_faults(json_object *rep);

/* Add one report, as untrusted input: a report marked "incomplete" counts
 * under the verdict "incomplete" whatever its own verdict says (a stopped
 * run is never a safe one); counts whose sums would overflow make the
 * report unusable. 0; -1 with why filled when it is not a usable report (it
 * is then not counted: the caller counts it as unreadable); -2 when out of
 * memory. */
int merge_add(struct merge *m, json_object *rep, char *why, size_t n);

/* Add every *.json file under path (recursively, in name order; symbolic
 * links to folders are not followed), or path itself when it is a file.
 * Unusable files are counted and a warning kept for each. 0, or -1 with err
 * filled when path cannot be read at all (or memory runs out). */
int merge_path(struct merge *m, const char *path, char *err, size_t errlen);

/* Sort the groups (design, then faults) and give every group every
 * property. Call once, after the last add. 0, or -1 when out of memory. */
int merge_finish(struct merge *m);

/* Is path (links followed) one of the reports merged? 1 or 0. */
int merge_has_file(const struct merge *m, const char *path);

/* {"runs": N, "unreadable": U, "groups": [{"design", "faults", "runs",
 * "unsafe_runs", "verdicts": {V: n}, "properties": {P: {"runs_with",
 * "rate", "total_count"}}}]}. New reference; NULL when out of memory. */
json_object *merge_to_json(const struct merge *m);

/* The table, as text or as Markdown. Names from reports are printed with
 * control bytes as '?' (no terminal escapes), and in Markdown with '|', '\\', '`',
 * '*', '[', ']', '<', '>' and '&' escaped (no injected rows or markup). */
void merge_print(FILE *f, const struct merge *m, int markdown);

void merge_free(struct merge *m);

/* ---- the commands ---- */

/* nicsim campaign SPEC [-j N] [--emit-jobs] [--out DIR] [--slurm-script FILE]
 * [--quiet]; argv[0] is "campaign". Returns the exit status: 0 when every run
 * completed (safe or not), 2 otherwise. */
int campaign_main(int argc, char **argv);

/* nicsim merge DIR ... [--json FILE] [--markdown FILE] [--quiet]; argv[0] is
 * "merge". 0 when at least one report was merged, 2 otherwise. */
int merge_main(int argc, char **argv);

/* One-line summaries for nicsim --help. */
#define CAMPAIGN_USAGE_LINE "  campaign SPEC   run traces x designs x faults x seeds (local cores, or jobs for\n" \
                            "                  GNU parallel and Slurm: --emit-jobs)\n"
#define MERGE_USAGE_LINE    "  merge DIR ...   merge per-run reports into one table\n"

#endif
