/*
 * sim/tool/campaign: campaign specs (the product, seed ranges and lists, defaults,
 * every kind of error as one line with the file, line and column), run ids
 * and their sanitising, shell quoting of the emitted job lines (checked by
 * running them through /bin/sh), the Slurm script, and the merge arithmetic
 * on small hand-written reports in a temporary folder.
 */
#include <check.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "campaign.h"
#include "checker.h"
#include "config.h"

#define SAMPLE "traces/samples/mixed.pcap"
#define SAMPLE2 "tests/captures/tcpdump/tests/empty.pcap" /* another file: the spec reads only its name */

static char err[2048];

static void parse_ok(const char *text, struct campaign_spec *s) {
  err[0] = '\0';
  int rc = campaign_spec_parse("c.yaml", NICSIM_SOURCE_DIR, text, strlen(text), s, err, sizeof err);
  ck_assert_msg(rc == 0, "refused: %s\n--- text:\n%s", err, text);
}

/* Refused with a message that starts with want (file:line:col: ...) and
 * holds contains, on one line. */
static void parse_err(const char *text, const char *want, const char *contains) {
  struct campaign_spec s;
  err[0] = '\0';
  int rc = campaign_spec_parse("c.yaml", NICSIM_SOURCE_DIR, text, strlen(text), &s, err, sizeof err);
  ck_assert_msg(rc == -1, "accepted:\n%s", text);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "message '%s' does not start with '%s'", err, want);
  ck_assert_msg(!contains || strstr(err, contains), "message '%s' lacks '%s'", err, contains);
  ck_assert_msg(!strchr(err, '\n'), "message spans lines: %s", err);
  /* Nothing left to free: a zeroed spec. */
  ck_assert_ptr_null(s.traces);
  ck_assert_uint_eq(s.nseeds, 0);
}

START_TEST(test_product) {
  struct campaign_spec s;
  parse_ok("traces: [" SAMPLE "]\n"
           "designs: [zc-shared-ring, copy]\n"
           "faults:\n"
           "  - []\n"
           "  - [\"malicious_dma:prob=0.05\"]\n"
           "  - [\"late_dma:packet=10\", \"iommu_off:packet=50\"]\n"
           "seeds: 1..20\n"
           "set: {pool.clear: on_recycle}\n",
           &s);
  ck_assert_uint_eq(s.ntraces, 1);
  ck_assert_msg(s.traces[0][0] == '/', "trace path not absolute: %s", s.traces[0]);
  ck_assert_msg(strstr(s.traces[0], "/traces/samples/mixed.pcap"), "%s", s.traces[0]);
  ck_assert_uint_eq(s.ndesigns, 2);
  ck_assert_str_eq(s.designs[0], "zc-shared-ring");
  ck_assert_str_eq(s.designs[1], "copy");
  ck_assert_uint_eq(s.nvariants, 3);
  ck_assert_uint_eq(s.variants[0].nfaults, 0);
  ck_assert_str_eq(s.variants[0].label, "none");
  ck_assert_str_eq(s.variants[1].label, "malicious_dma:prob=0.05");
  ck_assert_str_eq(s.variants[2].label, "late_dma:packet=10 + iommu_off:packet=50");
  ck_assert_uint_eq(s.nseeds, 20);
  for (size_t i = 0; i < 20; i++)
    ck_assert_uint_eq(s.seeds[i], i + 1);
  ck_assert_uint_eq(s.nsets, 1);
  ck_assert_str_eq(s.sets[0], "pool.clear=on_recycle");
  ck_assert_uint_eq(campaign_run_count(&s), 1 * 2 * 3 * 20);

  /* Numbering: seed fastest, then variant, design, trace. */
  struct campaign_run r = campaign_run_at(&s, 0);
  ck_assert_uint_eq(r.design, 0);
  ck_assert_uint_eq(r.variant, 0);
  ck_assert_uint_eq(r.seed, 1);
  r = campaign_run_at(&s, 26);
  ck_assert_uint_eq(r.design, 0);
  ck_assert_uint_eq(r.variant, 1);
  ck_assert_uint_eq(r.seed, 7);
  r = campaign_run_at(&s, 119);
  ck_assert_uint_eq(r.design, 1);
  ck_assert_uint_eq(r.variant, 2);
  ck_assert_uint_eq(r.seed, 20);

  char id[CAMPAIGN_ID_MAX];
  campaign_run_id(&s, 26, id, sizeof id);
  ck_assert_str_eq(id, "t0-zc-shared-ring-f1-s7");
  campaign_run_id(&s, 119, id, sizeof id);
  ck_assert_str_eq(id, "t0-copy-f2-s20");
  /* Every id distinct. */
  size_t n = campaign_run_count(&s);
  char(*ids)[CAMPAIGN_ID_MAX] = malloc(n * sizeof *ids);
  for (size_t i = 0; i < n; i++) {
    campaign_run_id(&s, i, ids[i], sizeof ids[i]);
    for (size_t j = 0; j < i; j++)
      ck_assert_msg(strcmp(ids[i], ids[j]) != 0, "runs %zu and %zu share id %s", i, j, ids[i]);
  }
  free(ids);
  campaign_spec_free(&s);
  campaign_spec_free(&s); /* safe twice: zeroed */
}
END_TEST

START_TEST(test_seeds_and_defaults) {
  struct campaign_spec s;
  parse_ok("traces: " SAMPLE "\ndesigns: copy\n", &s);
  ck_assert_uint_eq(s.ntraces, 1);
  ck_assert_uint_eq(s.ndesigns, 1);
  ck_assert_uint_eq(s.nvariants, 1);
  ck_assert_str_eq(s.variants[0].label, "none");
  ck_assert_uint_eq(s.nseeds, 1);
  ck_assert_uint_eq(s.seeds[0], 1);
  ck_assert_uint_eq(s.nsets, 0);
  campaign_spec_free(&s);

  parse_ok("traces: [" SAMPLE "]\ndesigns: [copy]\nseeds: [5, 1..3, \"9\", 100..100]\n", &s);
  uint64_t want[] = {5, 1, 2, 3, 9, 100};
  ck_assert_uint_eq(s.nseeds, 6);
  for (size_t i = 0; i < 6; i++)
    ck_assert_uint_eq(s.seeds[i], want[i]);
  campaign_spec_free(&s);

  parse_ok("traces: [" SAMPLE "]\ndesigns: [copy]\nseeds: 42\n", &s);
  ck_assert_uint_eq(s.nseeds, 1);
  ck_assert_uint_eq(s.seeds[0], 42);
  campaign_spec_free(&s);

  parse_ok("traces: [" SAMPLE "]\ndesigns: [copy]\nseeds: 18446744073709551610..18446744073709551615\n", &s);
  ck_assert_uint_eq(s.nseeds, 6);
  ck_assert_uint_eq(s.seeds[5], UINT64_MAX);
  campaign_spec_free(&s);

  /* all, nested set keys, lists in set, a fault given as one string. */
  parse_ok("traces: [" SAMPLE ", " SAMPLE2 "]\n"
           "designs: all\n"
           "faults: [\"frame_drop:packet=3\", []]\n"
           "set:\n  pool: {clear: on_recycle}\n  cpu.ghz: 3\n",
           &s);
  ck_assert_uint_eq(s.ntraces, 2);
  ck_assert_uint_eq(s.ndesigns, design_count());
  ck_assert_str_eq(s.variants[0].label, "frame_drop:packet=3");
  ck_assert_str_eq(s.variants[1].label, "none");
  ck_assert_uint_eq(s.nsets, 2);
  ck_assert_str_eq(s.sets[0], "pool.clear=on_recycle");
  ck_assert_str_eq(s.sets[1], "cpu.ghz=3");
  char id[CAMPAIGN_ID_MAX];
  campaign_run_id(&s, campaign_run_count(&s) - 1, id, sizeof id);
  char want_id[CAMPAIGN_ID_MAX];
  snprintf(want_id, sizeof want_id, "t1-%s-f1-s1", design_get(design_count() - 1)->name);
  ck_assert_str_eq(id, want_id);
  campaign_spec_free(&s);
}
END_TEST

START_TEST(test_errors) {
  const char *head = "traces: [" SAMPLE "]\n";
  char buf[1024];
  parse_err("", "c.yaml:1:1: ", "empty");
  parse_err("- a\n- b\n", "c.yaml:1:1: ", "mapping");
  parse_err("designs: [copy]\n", "c.yaml:1:1: ", "missing key 'traces'");
  parse_err(head, "c.yaml:1:1: ", "missing key 'designs'");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\ncolour: red\n", head);
  parse_err(buf, "c.yaml:3:1: ", "unknown key 'colour'");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\ndesigns: [copy]\n", head);
  parse_err(buf, "c.yaml:3:1: ", "duplicate key 'designs'");
  snprintf(buf, sizeof buf, "%sdesigns: [copy, nosuch]\n", head);
  parse_err(buf, "c.yaml:2:17: ", "unknown design 'nosuch'");
  snprintf(buf, sizeof buf, "%sdesigns: [copy, copy]\n", head);
  parse_err(buf, "c.yaml:2:17: ", "listed twice");
  /* A trace twice, however spelt: its runs would run and merge twice. */
  parse_err("traces: [" SAMPLE ", ./traces/../" SAMPLE "]\ndesigns: [copy]\n", "c.yaml:1:37: ",
            "listed twice");
  snprintf(buf, sizeof buf, "%sdesigns: []\n", head);
  parse_err(buf, "c.yaml:2:10: ", "empty");
  parse_err("traces: [nosuch.pcap]\ndesigns: [copy]\n", "c.yaml:1:10: ", "nosuch.pcap");
  parse_err("traces: [traces]\ndesigns: [copy]\n", "c.yaml:1:10: ", "is a directory");
  parse_err("traces: []\ndesigns: [copy]\n", "c.yaml:1:9: ", "empty");
  parse_err("traces: [\"-\"]\ndesigns: [copy]\n", "c.yaml:1:10: ", "standard input");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nfaults:\n  - []\n  - [\"malicious_dma:prob=2\"]\n", head);
  parse_err(buf, "c.yaml:5:6: ", "faults: 'malicious_dma:prob=2'");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nfaults: [[\"no_such_fault\"]]\n", head);
  parse_err(buf, "c.yaml:3:11: ", "no_such_fault");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nfaults: []\n", head);
  parse_err(buf, "c.yaml:3:9: ", "[[]]");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nfaults: [[], []]\n", head);
  parse_err(buf, "c.yaml:3:14: ", "listed twice");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nfaults: [{a: 1}]\n", head);
  parse_err(buf, "c.yaml:3:10: ", "mapping");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nseeds: 5..2\n", head);
  parse_err(buf, "c.yaml:3:8: ", "empty");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nseeds: [1, x]\n", head);
  parse_err(buf, "c.yaml:3:12: ", "'x'");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nseeds: -3\n", head);
  parse_err(buf, "c.yaml:3:8: ", "'-3'");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nseeds: []\n", head);
  parse_err(buf, "c.yaml:3:8: ", "empty");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nseeds: [1..3, 2]\n", head);
  parse_err(buf, "c.yaml:3:8: ", "seed 2 is listed twice");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nseeds: 1..2000000\n", head);
  parse_err(buf, "c.yaml:3:8: ", "more than");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nset: {pool.clear: sometimes}\n", head);
  parse_err(buf, "c.yaml:3:7: ", "pool.clear");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nset: {pool.colour: red}\n", head);
  parse_err(buf, "c.yaml:3:7: ", "pool.colour");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\nset: [pool.clear=never]\n", head);
  parse_err(buf, "c.yaml:3:6: ", "mapping");
  /* A key every design accepts alone, but not with zc-dedicated-queue's rule. */
  snprintf(buf, sizeof buf, "%sdesigns: [copy, zc-dedicated-queue]\nset: {nic.queues: 1}\n", head);
  parse_err(buf, "c.yaml:3:6: ", "zc-dedicated-queue");
  /* Product above the limit without overflow. */
  snprintf(buf, sizeof buf, "%sdesigns: all\nseeds: 1..999999\n", head);
  parse_err(buf, "c.yaml:1:1: ", "more than");
  parse_err("traces: [" SAMPLE "\ndesigns: [copy]\n", "c.yaml:2:8: ", "YAML syntax error");
  parse_err("traces: &t [" SAMPLE "]\ndesigns: [copy]\n", "c.yaml:1:9: ", "anchors");
  parse_err("traces: !!python/object [" SAMPLE "]\ndesigns: [copy]\n", "c.yaml:1:9: ", "tag");
  snprintf(buf, sizeof buf, "%sdesigns: [copy]\n---\nx: 1\n", head);
  parse_err(buf, "c.yaml:3:1: ", "one YAML document");
}
END_TEST

START_TEST(test_load_file_relative) {
  char dir[] = "/tmp/nicsim-test-campaign-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[512], trace[512], cmd[2048];
  snprintf(trace, sizeof trace, "%s/sub", dir);
  ck_assert_int_eq(mkdir(trace, 0755), 0);
  snprintf(trace, sizeof trace, "%s/sub/t.pcap", dir);
  snprintf(cmd, sizeof cmd, "cp '%s/" SAMPLE "' '%s'", NICSIM_SOURCE_DIR, trace);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(path, sizeof path, "%s/spec.yaml", dir);
  FILE *f = fopen(path, "w");
  fputs("traces: [sub/t.pcap]\ndesigns: [copy]\n", f);
  fclose(f);
  struct campaign_spec s;
  ck_assert_msg(campaign_spec_load(path, &s, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(s.traces[0], trace);
  ck_assert_str_eq(s.name, path);
  campaign_spec_free(&s);
  ck_assert_int_eq(campaign_spec_load("/nonexistent/spec.yaml", &s, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "/nonexistent/spec.yaml: cannot open"), "%s", err);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_sanitize) {
  char b[64];
  campaign_sanitize("zc-shared-ring", b, sizeof b);
  ck_assert_str_eq(b, "zc-shared-ring");
  campaign_sanitize("../etc/passwd", b, sizeof b);
  ck_assert_str_eq(b, "_._etc_passwd");
  campaign_sanitize("..", b, sizeof b);
  ck_assert_str_eq(b, "_.");
  campaign_sanitize("", b, sizeof b);
  ck_assert_str_eq(b, "_");
  campaign_sanitize("-rf", b, sizeof b);
  ck_assert_str_eq(b, "_rf");
  campaign_sanitize("a b;c$(d)\n\xc3\xa9", b, sizeof b);
  ck_assert_str_eq(b, "a_b_c__d____");
  char small[5];
  campaign_sanitize("abcdefgh", small, sizeof small);
  ck_assert_str_eq(small, "abcd");
}
END_TEST

/* Run `printf '%s\n' WORD` through /bin/sh and check it prints word. */
static void sh_roundtrip(const char *word) {
  char *q = campaign_shell_quote(word);
  ck_assert_ptr_nonnull(q);
  char out[] = "/tmp/nicsim-test-quote-XXXXXX";
  int fd = mkstemp(out);
  ck_assert_int_ge(fd, 0);
  close(fd);
  size_t n = strlen(q) + strlen(out) + 64;
  char *cmd = malloc(n);
  snprintf(cmd, n, "printf '%%s' %s > %s", q, out);
  ck_assert_int_eq(system(cmd), 0);
  FILE *f = fopen(out, "rb");
  char got[1024] = "";
  size_t l = fread(got, 1, sizeof got - 1, f);
  got[l] = '\0';
  fclose(f);
  unlink(out);
  ck_assert_msg(strcmp(got, word) == 0, "quoted %s gave '%s', wanted '%s'", q, got, word);
  free(cmd);
  free(q);
}

START_TEST(test_shell_quote) {
  char *q = campaign_shell_quote("malicious_dma:prob=0.05,len=64");
  ck_assert_str_eq(q, "malicious_dma:prob=0.05,len=64");
  free(q);
  q = campaign_shell_quote("/a/b c");
  ck_assert_str_eq(q, "'/a/b c'");
  free(q);
  q = campaign_shell_quote("it's");
  ck_assert_str_eq(q, "'it'\\''s'");
  free(q);
  q = campaign_shell_quote("");
  ck_assert_str_eq(q, "''");
  free(q);
  const char *words[] = {"plain", "with space", "it's", "''", "$(touch /tmp/nicsim-pwned)", "`id`", "a\"b",
                         "back\\slash", "semi;colon", "glob*?[x]", "new\nline", "~user", "!bang", "#hash", "&amp"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    sh_roundtrip(words[i]);
  ck_assert_int_ne(access("/tmp/nicsim-pwned", F_OK), 0);
}
END_TEST

START_TEST(test_run_command) {
  /* A trace path with a space and a quote, through the spec, into the job line. */
  char dir[] = "/tmp/nicsim-test-cmd-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char trace[512], cmd[2048], spec[1024];
  snprintf(trace, sizeof trace, "%s/my trace's.pcap", dir);
  snprintf(cmd, sizeof cmd, "cp '%s/" SAMPLE "' \"%s\"", NICSIM_SOURCE_DIR, trace);
  ck_assert_int_eq(system(cmd), 0);
  snprintf(spec, sizeof spec,
           "traces: [\"my trace's.pcap\"]\ndesigns: [copy]\nfaults: [[\"late_dma:packet=10\", "
           "\"iommu_off:packet=50\"]]\nseeds: [7]\nset: {pool.clear: on_recycle}\n");
  struct campaign_spec s;
  ck_assert_msg(campaign_spec_parse("c.yaml", dir, spec, strlen(spec), &s, err, sizeof err) == 0, "%s", err);
  char **argv = campaign_run_argv(&s, 0, "/usr/bin/nicsim", "/out/runs/t0-copy-f0-s7.json");
  const char *want[] = {"/usr/bin/nicsim", "replay", trace, "--design", "copy", "--fault", "late_dma:packet=10",
                        "--fault", "iommu_off:packet=50", "--seed", "7", "--set", "pool.clear=on_recycle",
                        "--json", "/out/runs/t0-copy-f0-s7.json", "--quiet", NULL};
  for (size_t i = 0; want[i]; i++) {
    ck_assert_ptr_nonnull(argv[i]);
    ck_assert_str_eq(argv[i], want[i]);
  }
  ck_assert_ptr_null(argv[sizeof want / sizeof want[0] - 1]);
  campaign_argv_free(argv);
  char *line = campaign_run_command(&s, 0, "/usr/bin/nicsim", "/out/runs/t0-copy-f0-s7.json");
  char expect[2048];
  snprintf(expect, sizeof expect,
           "/usr/bin/nicsim replay '%s/my trace'\\''s.pcap' --design copy --fault late_dma:packet=10 --fault "
           "iommu_off:packet=50 --seed 7 --set pool.clear=on_recycle --json /out/runs/t0-copy-f0-s7.json "
           "--quiet || [ $? -eq 1 ]",
           dir);
  ck_assert_str_eq(line, expect);
  free(line);

  /* The line's exit status: 0 for replay's 0 and 1, non-zero for 2. Stand a
   * script in for nicsim that exits with its --seed. */
  char fake[600];
  snprintf(fake, sizeof fake, "%s/fake nicsim", dir);
  FILE *f = fopen(fake, "w");
  fputs("#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --seed ] && exit $2; shift; done\nexit 9\n", f);
  fclose(f);
  chmod(fake, 0755);
  campaign_spec_free(&s);
  snprintf(spec, sizeof spec, "traces: [\"my trace's.pcap\"]\ndesigns: [copy]\nseeds: 0..2\n");
  ck_assert_msg(campaign_spec_parse("c.yaml", dir, spec, strlen(spec), &s, err, sizeof err) == 0, "%s", err);
  for (size_t i = 0; i < 3; i++) {
    line = campaign_run_command(&s, i, fake, "/dev/null");
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", line, (char *)NULL);
      _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st));
    if (i < 2)
      ck_assert_msg(WEXITSTATUS(st) == 0, "replay exit %zu gave %d", i, WEXITSTATUS(st));
    else
      ck_assert_msg(WEXITSTATUS(st) != 0, "replay exit 2 gave 0");
    free(line);
  }
  campaign_spec_free(&s);

  /* The Slurm script: one line a task up to 1000 tasks, more beyond. */
  char *sb = campaign_slurm_script("/o/jobs.txt", 12, "/o", "nicsim-x");
  ck_assert_ptr_nonnull(strstr(sb, "#SBATCH --array=1-12\n"));
  ck_assert_ptr_nonnull(strstr(sb, "#SBATCH --output=/o/slurm/%A_%a.out\n"));
  ck_assert_ptr_nonnull(strstr(sb, "jobs=/o/jobs.txt\nper=1\n"));
  ck_assert_ptr_nonnull(strstr(sb, "#SBATCH --job-name=nicsim-x\n"));
  free(sb);
  sb = campaign_slurm_script("/o o/jobs.txt", 2500, "/o o", "x");
  ck_assert_ptr_nonnull(strstr(sb, "#SBATCH --array=1-834\n"));
  ck_assert_ptr_nonnull(strstr(sb, "per=3\n"));
  ck_assert_ptr_nonnull(strstr(sb, "jobs='/o o/jobs.txt'\n"));
  ck_assert_ptr_null(strstr(sb, "#SBATCH --output"));
  free(sb);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- merge ---- */

static void write_report(const char *dir, const char *name, const char *design, const char *faults_json,
                         unsigned xflow, unsigned dwog) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "{\"design\": \"%s\", \"seed\": 1, \"faults\": %s,\n"
          " \"violations\": {\"cross_flow_leak\": {\"count\": %u, \"bytes\": 0, \"first\": null},\n"
          "                \"device_write_outside_grant\": {\"count\": %u, \"bytes\": 0, \"first\": null},\n"
          "                \"pool_exhaustion\": {\"count\": 0, \"bytes\": 0, \"first\": null}},\n"
          " \"verdict\": \"%s\"}\n",
          design, faults_json, xflow, dwog, xflow || dwog ? "unsafe" : "safe");
  fclose(f);
}

static json_object *jpath(json_object *o, const char *a, const char *b, const char *c) {
  json_object *x = o;
  const char *keys[] = {a, b, c};
  for (int i = 0; i < 3 && keys[i]; i++)
    ck_assert_msg(json_object_object_get_ex(x, keys[i], &x), "no key %s", keys[i]);
  return x;
}

START_TEST(test_merge_arithmetic) {
  char dir[] = "/tmp/nicsim-test-merge-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char sub[600];
  snprintf(sub, sizeof sub, "%s/deeper/still", dir);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub);
  ck_assert_int_eq(system(cmd), 0);
  const char *mal = "[{\"spec\": \"malicious_dma:prob=0.05\", \"fault\": \"malicious_dma\", \"fired\": 3}]";
  const char *two = "[{\"spec\": \"late_dma:packet=10\"}, {\"spec\": \"iommu_off:packet=50\"}]";
  /* zc/none: 3 runs, xflow in all, counts 5+7+9 */
  write_report(dir, "a1.json", "zc", "[]", 5, 0);
  write_report(dir, "a2.json", "zc", "[]", 7, 0);
  write_report(sub, "a3.json", "zc", "[]", 9, 0);
  /* zc/malicious: 4 runs, xflow in 3, dwog in 1 */
  write_report(dir, "b1.json", "zc", mal, 1, 0);
  write_report(dir, "b2.json", "zc", mal, 2, 4);
  write_report(sub, "b3.json", "zc", mal, 0, 0);
  write_report(sub, "b4.json", "zc", mal, 3, 0);
  /* copy/two faults: 2 runs, safe */
  write_report(dir, "c1.json", "copy", two, 0, 0);
  write_report(sub, "c2.json", "copy", two, 0, 0);
  /* unreadable: truncated, not an object, no verdict, bad count, no property
   * (its "safe" is no evidence); ignored: not .json */
  snprintf(cmd, sizeof cmd,
           "cd '%s' && printf '{\"design\": ' > bad1.json && echo '[1,2]' > bad2.json && "
           "echo '{\"design\": \"zc\", \"violations\": {}}' > bad3.json && "
           "echo '{\"design\": \"zc\", \"verdict\": \"safe\", \"violations\": {\"x\": {\"count\": -1}}}' > "
           "deeper/bad4.json && echo '{\"design\": \"zc\", \"verdict\": \"safe\", \"violations\": {}}' > bad5.json && "
           "echo junk > notes.txt && echo junk > a1.json.tmp.123",
           dir);
  ck_assert_int_eq(system(cmd), 0);

  struct merge m;
  ck_assert_int_eq(merge_init(&m), 0);
  ck_assert_msg(merge_path(&m, dir, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(merge_finish(&m), 0);
  ck_assert_uint_eq(m.runs, 9);
  ck_assert_uint_eq(m.unreadable, 5);
  ck_assert_uint_eq(m.nwarnings, 5);
  ck_assert_msg(strstr(m.warnings[0], "bad1.json: "), "%s", m.warnings[0]);
  ck_assert_uint_eq(m.ngroups, 3);
  /* Sorted by design, then faults. */
  ck_assert_str_eq(m.groups[0].design, "copy");
  ck_assert_str_eq(m.groups[0].faults, "late_dma:packet=10 + iommu_off:packet=50");
  ck_assert_str_eq(m.groups[1].faults, "malicious_dma:prob=0.05");
  ck_assert_str_eq(m.groups[2].faults, "none");

  json_object *j = merge_to_json(&m);
  ck_assert_int_eq(json_object_get_int64(jpath(j, "runs", NULL, NULL)), 9);
  ck_assert_int_eq(json_object_get_int64(jpath(j, "unreadable", NULL, NULL)), 5);
  json_object *groups = jpath(j, "groups", NULL, NULL);
  ck_assert_uint_eq(json_object_array_length(groups), 3);
  json_object *g0 = json_object_array_get_idx(groups, 0), *g1 = json_object_array_get_idx(groups, 1),
              *g2 = json_object_array_get_idx(groups, 2);
  ck_assert_int_eq(json_object_get_int64(jpath(g0, "runs", NULL, NULL)), 2);
  ck_assert_int_eq(json_object_get_int64(jpath(g0, "unsafe_runs", NULL, NULL)), 0);
  ck_assert_int_eq(json_object_get_int64(jpath(g0, "verdicts", "safe", NULL)), 2);
  ck_assert_int_eq(json_object_get_int64(jpath(g0, "verdicts", "unsafe", NULL)), 0);
  ck_assert(json_object_get_double(jpath(g0, "properties", "cross_flow_leak", "rate")) == 0.0);

  ck_assert_int_eq(json_object_get_int64(jpath(g1, "runs", NULL, NULL)), 4);
  ck_assert_int_eq(json_object_get_int64(jpath(g1, "unsafe_runs", NULL, NULL)), 3);
  ck_assert_int_eq(json_object_get_int64(jpath(g1, "properties", "cross_flow_leak", "runs_with")), 3);
  ck_assert(json_object_get_double(jpath(g1, "properties", "cross_flow_leak", "rate")) == 0.75);
  ck_assert_int_eq(json_object_get_int64(jpath(g1, "properties", "cross_flow_leak", "total_count")), 6);
  ck_assert_int_eq(json_object_get_int64(jpath(g1, "properties", "device_write_outside_grant", "runs_with")), 1);
  ck_assert(json_object_get_double(jpath(g1, "properties", "device_write_outside_grant", "rate")) == 0.25);
  ck_assert_int_eq(json_object_get_int64(jpath(g1, "properties", "device_write_outside_grant", "total_count")), 4);

  ck_assert_int_eq(json_object_get_int64(jpath(g2, "runs", NULL, NULL)), 3);
  ck_assert_int_eq(json_object_get_int64(jpath(g2, "unsafe_runs", NULL, NULL)), 3);
  ck_assert(json_object_get_double(jpath(g2, "properties", "cross_flow_leak", "rate")) == 1.0);
  ck_assert_int_eq(json_object_get_int64(jpath(g2, "properties", "cross_flow_leak", "total_count")), 21);
  /* Every property of the checker in every group, even those no report had. */
  ck_assert_int_eq(json_object_get_int64(jpath(g2, "properties", "kernel_pointer_leak", "runs_with")), 0);
  ck_assert_int_eq(json_object_object_length(jpath(g2, "properties", NULL, NULL)), PROP_COUNT);

  /* Order-independent: the same files merged in another order give the
   * same JSON text. */
  struct merge m2;
  ck_assert_int_eq(merge_init(&m2), 0);
  ck_assert_int_eq(merge_path(&m2, sub, err, sizeof err), 0);
  const char *singles[] = {"c1.json", "b2.json", "a2.json", "b1.json", "a1.json"};
  for (size_t i = 0; i < 5; i++) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, singles[i]);
    ck_assert_int_eq(merge_path(&m2, p, err, sizeof err), 0);
  }
  ck_assert_int_eq(merge_finish(&m2), 0);
  json_object *j2 = merge_to_json(&m2);
  json_object_object_del(j, "unreadable");
  json_object_object_del(j2, "unreadable");
  ck_assert_str_eq(json_object_to_json_string(j), json_object_to_json_string(j2));

  /* The table. */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  merge_print(f, &m, 0);
  fclose(f);
  ck_assert_msg(strstr(buf, "3 (75%)"), "%s", buf);
  ck_assert_msg(strstr(buf, "9 runs merged; 5 unreadable reports skipped"), "%s", buf);
  free(buf);
  f = open_memstream(&buf, &len);
  merge_print(f, &m, 1);
  fclose(f);
  ck_assert_msg(strstr(buf, "| zc | malicious_dma:prob=0.05 | 4 | 3 | 3 (75%) |"), "%s", buf);
  free(buf);

  json_object_put(j);
  json_object_put(j2);
  merge_free(&m);
  merge_free(&m2);

  /* A missing folder is an error, not a warning. */
  ck_assert_int_eq(merge_init(&m), 0);
  snprintf(cmd, sizeof cmd, "%s/nope", dir);
  ck_assert_int_eq(merge_path(&m, cmd, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "cannot open"), "%s", err);
  merge_free(&m);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_merge_extra_properties) {
  /* A report from a later version with a property this one does not know:
   * it joins the table after the checker's, in name order, for all groups. */
  struct merge m;
  ck_assert_int_eq(merge_init(&m), 0);
  const char *reps[] = {
      "{\"design\":\"b\",\"verdict\":\"unsafe\",\"violations\":{\"zeta_leak\":{\"count\":2},\"alpha_leak\":{\"count\":1}}}",
      "{\"design\":\"a\",\"verdict\":\"safe\",\"violations\":{\"cross_flow_leak\":{\"count\":0}}}",
      "{\"design\":\"b\",\"verdict\":\"odd\",\"violations\":{\"alpha_leak\":{\"count\":0},\"zeta_leak\":{\"count\":0}}}",
  };
  for (size_t i = 0; i < 3; i++) {
    json_object *r = json_tokener_parse(reps[i]);
    char why[256];
    ck_assert_int_eq(merge_add(&m, r, why, sizeof why), 0);
    json_object_put(r);
  }
  ck_assert_int_eq(merge_finish(&m), 0);
  ck_assert_uint_eq(m.nprops, PROP_COUNT + 2);
  ck_assert_str_eq(m.props[PROP_COUNT], "alpha_leak");
  ck_assert_str_eq(m.props[PROP_COUNT + 1], "zeta_leak");
  ck_assert_str_eq(m.groups[1].design, "b");
  ck_assert_str_eq(m.groups[1].props[PROP_COUNT].name, "alpha_leak");
  ck_assert_uint_eq(m.groups[1].props[PROP_COUNT].runs_with, 1);
  ck_assert_str_eq(m.groups[1].props[PROP_COUNT + 1].name, "zeta_leak");
  ck_assert_uint_eq(m.groups[1].props[PROP_COUNT + 1].runs_with, 1);
  ck_assert_uint_eq(m.groups[1].props[PROP_COUNT + 1].total_count, 2);
  ck_assert_uint_eq(m.groups[0].nprops, PROP_COUNT + 2);
  ck_assert_str_eq(m.groups[1].verdicts[2].name, "odd");
  ck_assert_uint_eq(m.groups[1].unsafe_runs, 1);
  merge_free(&m);
}
END_TEST

START_TEST(test_merge_hostile_pairs) {
  /* by_pair from untrusted reports: sums saturate, names that are not
   * strings are skipped, and past the bound the rest is one "(more)". */
  struct merge m;
  ck_assert_int_eq(merge_init(&m), 0);
  const char *big = "{\"design\":\"d\",\"verdict\":\"unsafe\",\"violations\":{\"cross_flow_leak\":{\"count\":1,"
                    "\"by_pair\":[{\"principal\":\"x\",\"owner\":\"y\",\"count\":9223372036854775807,"
                    "\"bytes\":9223372036854775807},{\"principal\":5,\"owner\":\"y\",\"count\":1}]}}}";
  char why[256];
  for (int i = 0; i < 3; i++) {
    json_object *r = json_tokener_parse(big);
    ck_assert_int_eq(merge_add(&m, r, why, sizeof why), 0);
    json_object_put(r);
  }
  json_object *many = json_tokener_parse("{\"design\":\"d\",\"verdict\":\"unsafe\",\"violations\":"
                                         "{\"cross_flow_leak\":{\"count\":1,\"by_pair\":[]}}}");
  json_object *pairs = json_object_object_get(json_object_object_get(json_object_object_get(many, "violations"),
                                                                      "cross_flow_leak"), "by_pair");
  for (int i = 0; i < 300; i++) {
    json_object *e = json_object_new_object();
    char name[16];
    snprintf(name, sizeof name, "p%d", i);
    json_object_object_add(e, "principal", json_object_new_string(name));
    json_object_object_add(e, "owner", json_object_new_string("app"));
    json_object_object_add(e, "count", json_object_new_int64(1));
    json_object_array_add(pairs, e);
  }
  ck_assert_int_eq(merge_add(&m, many, why, sizeof why), 0);
  json_object_put(many);
  ck_assert_int_eq(merge_finish(&m), 0);
  const struct merge_prop *p = &m.groups[0].props[PROP_CROSS_FLOW_LEAK];
  ck_assert_str_eq(p->pairs[0].principal, "x");
  ck_assert_uint_eq(p->pairs[0].total_count, UINT64_MAX);
  ck_assert_uint_eq(p->pairs[0].total_bytes, UINT64_MAX);
  ck_assert_uint_eq(p->pairs[0].runs_with, 3);
  ck_assert_uint_eq(p->npairs, 256);
  ck_assert_str_eq(p->pairs[255].principal, "(more)");
  ck_assert_uint_eq(p->pairs[255].total_count, 300 - 254);
  merge_free(&m);
}
END_TEST

static Suite *campaign_suite(void) {
  Suite *s = suite_create("campaign");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_product);
  tcase_add_test(tc, test_seeds_and_defaults);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_load_file_relative);
  tcase_add_test(tc, test_sanitize);
  tcase_add_test(tc, test_shell_quote);
  tcase_add_test(tc, test_run_command);
  tcase_add_test(tc, test_merge_arithmetic);
  tcase_add_test(tc, test_merge_extra_properties);
  tcase_add_test(tc, test_merge_hostile_pairs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  Suite *s = campaign_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
