/*
 * sim/scenario/scenario: YAML scenario files. Valid files (nested and dotted
 * keys, lists, quoting, comments, a base design); every kind of error as one
 * line with the exact file, line and column; anchors, aliases and foreign
 * tags refused; and the built-in designs, now YAML files embedded in the
 * program, giving exactly the configurations of the C table they replaced.
 */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fault.h"
#include "scenario.h"

static char err[2048];

/* ---- helpers ---- */

static long key_index(const char *name) {
  for (size_t i = 0; i < config_key_count(); i++)
    if (strcmp(config_key_name(i), name) == 0)
      return (long)i;
  return -1;
}

static const char *json_of(const struct config *c, const char *key) {
  static char buf[2048];
  long i = key_index(key);
  ck_assert_msg(i >= 0, "no key %s", key);
  config_key_json(c, (size_t)i, buf, sizeof buf);
  return buf;
}

/* Every key of a and b has the same JSON text (what the report shows). */
static void assert_same_config(const struct config *a, const struct config *b, const char *what) {
  for (size_t i = 0; i < config_key_count(); i++) {
    char x[2048], y[2048];
    config_key_json(a, i, x, sizeof x);
    config_key_json(b, i, y, sizeof y);
    ck_assert_msg(strcmp(x, y) == 0, "%s: %s is %s, wanted %s", what, config_key_name(i), x, y);
  }
}

static void load_ok(const char *text, struct scenario *s) {
  err[0] = '\0';
  int rc = scenario_load_text("s.yaml", text, strlen(text), s, err, sizeof err);
  ck_assert_msg(rc == 0, "refused: %s\n--- text:\n%s", err, text);
}

/* The text is refused with exactly this one-line message. */
static void load_err(const char *text, const char *want) {
  struct scenario s;
  memset(&s, 0x5a, sizeof s);
  err[0] = '\0';
  int rc = scenario_load_text("s.yaml", text, strlen(text), &s, err, sizeof err);
  ck_assert_msg(rc == -1, "accepted:\n%s", text);
  ck_assert_str_eq(err, want);
  ck_assert_ptr_null(strchr(err, '\n'));
  /* Nothing to free after a failure. */
  ck_assert_ptr_null(s.settings);
  ck_assert_ptr_null(s.faults);
  scenario_free(&s);
}

/* Refused with a message that starts with want (the rest lists things that
 * grow with the program, such as the sections or the designs). */
static void load_err_prefix(const char *text, const char *want) {
  struct scenario s;
  err[0] = '\0';
  int rc = scenario_load_text("s.yaml", text, strlen(text), &s, err, sizeof err);
  ck_assert_msg(rc == -1, "accepted:\n%s", text);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error '%s' does not start with '%s'", err, want);
  ck_assert_ptr_null(strchr(err, '\n'));
}

/* ---- valid files ---- */

START_TEST(test_nested) {
  const char *text =
      "# zc-shared-ring with a dedicated queue, in the brief's words\n"
      "design: zc-shared-ring        # start from a built-in design\n"
      "summary: \"one line for nicsim designs\"\n"
      "nic:\n"
      "  queues: 4\n"
      "  rss_queues: [0, 1, 2]\n"
      "pool:\n"
      "  clear: on_recycle\n"
      "app:\n"
      "  caps: [CAP_NET_ADMIN]\n"
      "  owns: \"udp port 5001\"\n";
  struct scenario s;
  load_ok(text, &s);
  ck_assert_str_eq(s.design, "zc-shared-ring");
  ck_assert_str_eq(s.summary, "one line for nicsim designs");
  ck_assert_uint_eq(s.nfaults, 0);
  ck_assert_uint_eq(s.cfg.nic_queues, 4);
  ck_assert_str_eq(json_of(&s.cfg, "nic.rss_queues"), "[0,1,2]");
  ck_assert_uint_eq(s.cfg.pool_clear, CFG_CLEAR_ON_RECYCLE);
  ck_assert_str_eq(json_of(&s.cfg, "app.caps"), "[\"CAP_NET_ADMIN\"]");
  ck_assert_str_eq(s.cfg.app_owns, "udp port 5001");
  /* From the base design, not overridden. */
  ck_assert_uint_eq(s.cfg.driver_skb_mode, CFG_SKB_READONLY);
  ck_assert_uint_eq(s.cfg.app_delivery, CFG_DELIVERY_ZERO_COPY);
  /* The settings, in file order, as config_set took them, with positions. */
  ck_assert_uint_eq(s.nsettings, 5);
  ck_assert_str_eq(s.settings[0].key, "nic.queues");
  ck_assert_str_eq(s.settings[0].value, "4");
  ck_assert_uint_eq(s.settings[0].key_pos.line, 5);
  ck_assert_uint_eq(s.settings[0].key_pos.col, 3);
  ck_assert_uint_eq(s.settings[0].value_pos.line, 5);
  ck_assert_uint_eq(s.settings[0].value_pos.col, 11);
  ck_assert_str_eq(s.settings[1].key, "nic.rss_queues");
  ck_assert_str_eq(s.settings[1].value, "[0,1,2]");
  ck_assert_str_eq(s.settings[3].key, "app.caps");
  ck_assert_str_eq(s.settings[3].value, "[CAP_NET_ADMIN]");
  ck_assert_str_eq(s.settings[4].value, "udp port 5001");
  scenario_free(&s);
  ck_assert_ptr_null(s.settings);
  scenario_free(&s); /* twice is harmless */
}
END_TEST

START_TEST(test_dotted_and_mixed) {
  struct scenario a, b, c;
  load_ok("nic.queues: 4\n"
          "nic.rss_queues: [0, 1]\n"
          "app.owns: 'udp port 5001'\n"
          "app.caps: [CAP_NET_ADMIN]\n",
          &a);
  load_ok("nic:\n  queues: 4\n  rss_queues:\n    - 0\n    - 1\n"
          "app: {owns: udp port 5001, caps: [CAP_NET_ADMIN]}\n",
          &b);
  load_ok("nic: {queues: 4}\nnic.rss_queues: [0,1]\napp:\n  owns: >-\n    udp port\n    5001\n"
          "app.caps: [\"CAP_NET_ADMIN\"]\n",
          &c);
  ck_assert_str_eq(a.design, "");
  ck_assert_str_eq(a.summary, "");
  assert_same_config(&a.cfg, &b.cfg, "nested");
  assert_same_config(&a.cfg, &c.cfg, "mixed");
  ck_assert_str_eq(a.cfg.app_owns, "udp port 5001");
  ck_assert_uint_eq(a.cfg.nic_queues, 4);
  /* Without design: the defaults. */
  struct config d;
  config_default(&d);
  ck_assert_uint_eq(a.cfg.cpu_ghz, d.cpu_ghz);
  scenario_free(&a);
  scenario_free(&b);
  scenario_free(&c);
}
END_TEST

START_TEST(test_quoting_comments_documents) {
  struct scenario s;
  load_ok("%YAML 1.1\n"
          "---   # an explicit document\n"
          "# a comment line\n"
          "cpu:   # trailing comment\n"
          "  ghz: '3.5'     # single-quoted\n"
          "nic:\n"
          "  ring_size: \"256\"   # double-quoted\n"
          "  header_split: !!str true\n"
          "  queues: !!int 2\n"
          "  rx_buffer_kb: !!float 512\n"
          "  rss_queues: all\n"
          "app:\n"
          "  caps: []\n"
          "  zc_queues: all\n"
          "  owns: \"udp\\tport 5001\"\n"
          "...\n",
          &s);
  ck_assert(s.cfg.cpu_ghz == 3.5);
  ck_assert_uint_eq(s.cfg.nic_ring_size, 256);
  ck_assert_int_eq(s.cfg.nic_header_split, 1);
  ck_assert_uint_eq(s.cfg.nic_queues, 2);
  ck_assert_str_eq(json_of(&s.cfg, "nic.rss_queues"), "[0,1]");
  ck_assert_str_eq(json_of(&s.cfg, "app.caps"), "[]");
  ck_assert_str_eq(s.cfg.app_owns, "udp\tport 5001");
  scenario_free(&s);

  /* `faults:` with every item commented out, and a quoted empty owns. */
  load_ok("faults:\n  # - late_dma\napp.owns: ''\nsummary:\n", &s);
  ck_assert_uint_eq(s.nfaults, 0);
  ck_assert_str_eq(s.cfg.app_owns, "");
  scenario_free(&s);
}
END_TEST

START_TEST(test_design_base_anywhere) {
  /* design: applies first wherever it stands; the file's keys after it. */
  struct scenario s, t;
  load_ok("driver:\n  skb_mode: writable\ndesign: zc-shared-ring\n", &s);
  load_ok("design: zc-shared-ring\ndriver.skb_mode: writable\n", &t);
  struct config w;
  ck_assert_int_eq(config_from_design(&w, "zc-shared-ring-writable", err, sizeof err), 0);
  assert_same_config(&s.cfg, &w, "design last");
  assert_same_config(&t.cfg, &w, "design first");
  scenario_free(&s);
  scenario_free(&t);
}
END_TEST

START_TEST(test_faults_kept) {
  struct scenario s;
  load_ok("nic.queues: 2\n"
          "faults:\n"
          "  - \"late_dma:packet=10\"\n"
          "  - frame_drop:prob=0.5,packet=3\n",
          &s);
  ck_assert_uint_eq(s.nfaults, 2);
  ck_assert_str_eq(s.faults[0], "late_dma:packet=10");
  ck_assert_str_eq(s.faults[1], "frame_drop:prob=0.5,packet=3");
  ck_assert_uint_eq(s.fault_pos[0].line, 3);
  ck_assert_uint_eq(s.fault_pos[0].col, 5);
  ck_assert_uint_eq(s.fault_pos[1].line, 4);
  ck_assert_uint_eq(s.fault_pos[1].col, 5);
  scenario_free(&s);
  load_err("faults: late_dma\n",
           "s.yaml:1:9: faults: expected a list of fault specs such as [\"late_dma:packet=10\"], found a "
           "single value");
  load_err("faults:\n  - {late_dma: 1}\n", "s.yaml:2:5: faults: each item is a fault spec as text, found a mapping");
  load_err("faults: ['']\n", "s.yaml:1:10: faults: a list item is empty");
}
END_TEST

/* ---- errors ---- */

START_TEST(test_value_errors) {
  load_err("nic:\n  ring_size: 500\n",
           "s.yaml:2:14: nic.ring_size: '500' is not allowed: descriptors per RX ring (power of two, 8..8192)");
  load_err("pool.clear: sometimes\n",
           "s.yaml:1:13: pool.clear: 'sometimes' is not allowed: one of never, on_entry, on_recycle");
  load_err("nic:\n  header_split: yes\n", "s.yaml:2:17: nic.header_split: 'yes' is not allowed: true or false");
  load_err("nic.rss_queues: [0, x]\n",
           "s.yaml:1:17: nic.rss_queues: '[0,x]' is not allowed: a list of queue numbers 0..63 like [0,1,2], "
           "or all");
  load_err("nic.queues:\n", "s.yaml:1:12: nic.queues: no value given");
  load_err("nic:\n  queues: ~\n", "s.yaml:2:11: nic.queues: no value given");
  /* A value with a newline still gives one line. */
  load_err("pool.clear: \"on\\nentry\"\n",
           "s.yaml:1:13: pool.clear: 'on?entry' is not allowed: one of never, on_entry, on_recycle");
  load_err("app.owns: \"a\\0b\"\n", "s.yaml:1:11: app.owns: the value contains a NUL character");
}
END_TEST

START_TEST(test_shape_errors) {
  load_err("app:\n  caps: CAP_NET_ADMIN\n", "s.yaml:2:9: app.caps: expected a list: write [CAP_NET_ADMIN]");
  load_err("nic.rss_queues: 0\n", "s.yaml:1:17: nic.rss_queues: expected a list: write [0]");
  load_err("nic.queues: [4]\n", "s.yaml:1:13: nic.queues: expected a single value, found a list");
  load_err("nic:\n  queues:\n    a: 1\n", "s.yaml:3:5: nic.queues: expected a single value, found a mapping");
  load_err("app.caps: {a: 1}\n", "s.yaml:1:11: app.caps: expected a list, found a mapping");
  load_err("nic: 4\n", "s.yaml:1:6: nic: expected a mapping of its keys (such as nic.queues), found a single value");
  load_err("nic: [1]\n", "s.yaml:1:6: nic: expected a mapping of its keys (such as nic.queues), found a list");
  load_err("nic.rss_queues: [[0]]\n", "s.yaml:1:18: nic.rss_queues: expected a list of plain values, found a list in it");
  load_err("app.caps: [\"CAP_NET_ADMIN,CAP_SYS_ADMIN\"]\n",
           "s.yaml:1:12: app.caps: list item 'CAP_NET_ADMIN,CAP_SYS_ADMIN' cannot contain ',', '[' or ']'");
  load_err("nic.rss_queues: [0, '']\n", "s.yaml:1:21: nic.rss_queues: a list item is empty");
  load_err("[a]: 1\n", "s.yaml:1:1: a key must be a name, found a list");
  load_err("summary: [a]\n", "s.yaml:1:10: summary: expected a single value, found a list");
  load_err("summary: \"two\\nlines\"\n", "s.yaml:1:10: summary: must be one line of text");
  load_err("design:\n", "s.yaml:1:8: design: no value given (nicsim designs lists the built-in designs)");
  load_err_prefix("design: no-such-design\n",
                  "s.yaml:1:9: design: unknown design 'no-such-design' (built-in: copy, zc-shared-ring");
}
END_TEST

START_TEST(test_key_errors) {
  load_err("nic:\n  queues: 4\n  queuez: 2\n",
           "s.yaml:3:3: unknown key 'nic.queuez' (nicsim replay --help lists the keys)");
  load_err("nic.queuez: 4\n", "s.yaml:1:1: unknown key 'nic.queuez' (nicsim replay --help lists the keys)");
  load_err_prefix("nicc:\n  queues: 4\n", "s.yaml:1:1: unknown key 'nicc' (sections: nic, iommu, pool, driver, sock, app");
  load_err_prefix("queues: 4\n", "s.yaml:1:1: unknown key 'queues' (sections: nic,");
  load_err("nic:\n  design: copy\n", "s.yaml:2:3: unknown key 'nic.design' (nicsim replay --help lists the keys)");
  load_err("nic:\n  queues: 4\nnic.queues: 2\n", "s.yaml:3:1: duplicate key 'nic.queues' (first given at line 2)");
  load_err("pool:\n  clear: never\npool:\n  pages: 2048\n", "s.yaml:3:1: duplicate key 'pool' (first given at line 1)");
  load_err("design: copy\ndesign: copy\n", "s.yaml:2:1: duplicate key 'design' (first given at line 1)");
}
END_TEST

START_TEST(test_document_errors) {
  load_err("", "s.yaml:1:1: the scenario is empty: expected a mapping of scenario keys such as 'nic.queues: 4'");
  load_err("# only\n# comments\n",
           "s.yaml:3:1: the scenario is empty: expected a mapping of scenario keys such as 'nic.queues: 4'");
  load_err("---\n", "s.yaml:2:1: the scenario is empty: expected a mapping of scenario keys such as 'nic.queues: 4'");
  load_err("- nic.queues: 4\n", "s.yaml:1:1: the top level must be a mapping of scenario keys, found a list");
  load_err("hello\n", "s.yaml:1:1: the top level must be a mapping of scenario keys, found a single value");
  load_err("nic.queues: 2\n---\nnic.queues: 3\n", "s.yaml:2:1: only one YAML document is allowed in a scenario");
}
END_TEST

START_TEST(test_syntax_errors) {
  load_err("nic:\n  queues: 4\n ring_size: 8\n",
           "s.yaml:3:2: YAML syntax error: did not find expected key (while parsing a block mapping at 1:1)");
  load_err("nic.rss_queues: [1, 2\n",
           "s.yaml:2:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at 1:17)");
  load_err("nic:\n\tqueues: 4\n",
           "s.yaml:2:1: YAML syntax error: found character that cannot start any token (while scanning for the "
           "next token at 2:1)");
  load_err("nic.queues: \"4\n",
           "s.yaml:2:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at 1:13)");
  /* Not UTF-8: the reader's byte offset becomes a line and column. */
  load_err("nic:\n  queues: \xff\n", "s.yaml:2:11: YAML syntax error: invalid leading UTF-8 octet (byte 0xff)");
}
END_TEST

START_TEST(test_anchors_aliases_tags) {
  load_err("nic.queues: *q\n", "s.yaml:1:13: aliases are not allowed (*q): write the value out");
  load_err("nic:\n  queues: &q 4\n  ring_size: *q\n", "s.yaml:2:11: anchors are not allowed (&q): write each value out");
  /* The start of a "billion laughs": refused at its first anchor, before any
   * expansion could happen. */
  load_err("a: &a [\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n",
           "s.yaml:1:4: anchors are not allowed (&a): write each value out");
  load_err("nic.queues: !!python/object:os.system 4\n",
           "s.yaml:1:13: tag 'tag:yaml.org,2002:python/object:os.system' is not allowed: scenarios hold plain "
           "values, lists and mappings (standard tags !!str, !!int, !!float, !!bool, !!null, !!seq, !!map only)");
  load_err_prefix("nic.queues: !custom 4\n", "s.yaml:1:13: tag '!custom' is not allowed");
  load_err_prefix("nic: !!set {queues: 4}\n", "s.yaml:1:6: tag 'tag:yaml.org,2002:set' is not allowed");
  load_err_prefix("nic.rss_queues: [!!binary AAAA]\n", "s.yaml:1:18: tag 'tag:yaml.org,2002:binary' is not allowed");
  /* A standard tag that says something else than its value is refused, not
   * read as the value. */
  load_err("nic.queues: !!null 2\n",
           "s.yaml:1:13: tag 'tag:yaml.org,2002:null' does not fit its value: !!null tags only an empty value, ~ or "
           "null");
  load_err_prefix("nic.header_split: !!bool 1\n", "s.yaml:1:19: tag 'tag:yaml.org,2002:bool' does not fit its value");
  load_err_prefix("nic.queues: !!seq 2\n", "s.yaml:1:13: tag 'tag:yaml.org,2002:seq' does not fit its value");
  load_err_prefix("nic.rss_queues: !!map [0]\n", "s.yaml:1:17: tag 'tag:yaml.org,2002:map' does not fit its value");
  load_err_prefix("nic: !!seq {queues: 4}\n", "s.yaml:1:6: tag 'tag:yaml.org,2002:seq' does not fit its value");
  load_err_prefix("iommu.mode: !!int strict\n", "s.yaml:1:13: tag 'tag:yaml.org,2002:int' does not fit its value");
  load_err_prefix("cpu.ghz: !!float fast\n", "s.yaml:1:10: tag 'tag:yaml.org,2002:float' does not fit its value");
}
END_TEST

START_TEST(test_validation_errors) {
  /* config_validate() on the result; the position of the key it names when
   * the file set it. */
  load_err("nic:\n  queues: 4\n  rss_queues: [0, 5]\n",
           "s.yaml:3:15: nic.rss_queues: queue 5 is out of range (nic.queues is 4)");
  load_err("design: zc-dedicated-queue\nnic.queues: 2\n",
           "s.yaml: nic.rss_queues: queue 2 is out of range (nic.queues is 2)");
}
END_TEST

START_TEST(test_files) {
  struct scenario s;
  memset(&s, 0x5a, sizeof s);
  ck_assert_int_eq(scenario_load_file("/nonexistent/dir/s.yaml", &s, err, sizeof err), -1);
  ck_assert_str_eq(err, "/nonexistent/dir/s.yaml: cannot open: No such file or directory");
  ck_assert_ptr_null(s.settings);

  char dir[] = "/tmp/nicsim-test-scenario-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/s.yaml", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("# a file\nnic:\n  queues: 2\n  ring_size: 500\n", f);
  fclose(f);
  ck_assert_int_eq(scenario_load_file(path, &s, err, sizeof err), -1);
  char want[600];
  snprintf(want, sizeof want,
           "%s:4:14: nic.ring_size: '500' is not allowed: descriptors per RX ring (power of two, 8..8192)", path);
  ck_assert_str_eq(err, want);

  f = fopen(path, "w");
  fputs("nic:\n  queues: 2\n", f);
  fclose(f);
  ck_assert_int_eq(scenario_load_file(path, &s, err, sizeof err), 0);
  ck_assert_uint_eq(s.cfg.nic_queues, 2);
  scenario_free(&s);

  /* A directory, and a file over the size limit. */
  ck_assert_int_eq(scenario_load_file(dir, &s, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s: cannot read: Is a directory", dir);
  ck_assert_str_eq(err, want);
  f = fopen(path, "w");
  for (unsigned i = 0; i <= SCENARIO_FILE_MAX_BYTES / 16; i++)
    fputs("# padding line.\n", f);
  fclose(f);
  ck_assert_int_eq(scenario_load_file(path, &s, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s: larger than 1048576 bytes: not a scenario", path);
  ck_assert_str_eq(err, want);
  unlink(path);
  rmdir(dir);
}
END_TEST

/* ---- the built-in designs ---- */

/* The designs as the C table of config.c had them before they became YAML
 * files: each YAML file must give exactly the same configuration and summary. */
static const struct {
  const char *name, *summary;
  const char *settings[10];
} old_designs[] = {
    {"copy", "classic driver: page_pool pages, writable SKBs, data copied into each socket's buffer",
     {"app.delivery=copy"}},
    {"zc-shared-ring",
     "Brouer 2016: one queue for all traffic, its page_pool mapped read-only into the application, "
     "read-only SKBs for the rest",
     {"driver.skb_mode=readonly", "app.delivery=zero_copy", "app.zc_queues=all", "app.mapping=ro",
      "app.mapping_lifetime=persistent", "pool.clear=on_entry"}},
    {"zc-shared-ring-writable", "zc-shared-ring with writable SKBs (skb_shared_info in the page)",
     {"driver.skb_mode=writable", "app.delivery=zero_copy", "app.zc_queues=all", "app.mapping=ro",
      "app.mapping_lifetime=persistent", "pool.clear=on_entry"}},
    {"zc-dedicated-queue",
     "Duyck: an ntuple rule steers the application's flow to queue 3, out of the RSS table; only "
     "that queue's pool is mapped",
     {"nic.queues=4", "nic.rss_queues=[0,1,2]", "nic.steer_app_to=3", "app.delivery=zero_copy",
      "app.zc_queues=[3]", "app.mapping=ro", "app.mapping_lifetime=persistent", "pool.clear=on_entry"}},
    {"zc-dedicated-queue-rss-leak", "zc-dedicated-queue with queue 3 still in the RSS table",
     {"nic.queues=4", "nic.rss_queues=[0,1,2,3]", "nic.steer_app_to=3", "app.delivery=zero_copy",
      "app.zc_queues=[3]", "app.mapping=ro", "app.mapping_lifetime=persistent", "pool.clear=on_entry"}},
};

START_TEST(test_designs_equal_old_table) {
  for (size_t i = 0; i < sizeof old_designs / sizeof old_designs[0]; i++) {
    struct config want, got;
    config_default(&want);
    for (size_t k = 0; old_designs[i].settings[k]; k++) {
      char kv[128];
      snprintf(kv, sizeof kv, "%s", old_designs[i].settings[k]);
      char *eq = strchr(kv, '=');
      *eq = '\0';
      ck_assert_msg(config_set(&want, kv, eq + 1, err, sizeof err) == 0, "%s", err);
    }
    err[0] = '\0';
    ck_assert_msg(config_from_design(&got, old_designs[i].name, err, sizeof err) == 0, "%s: %s",
                  old_designs[i].name, err);
    assert_same_config(&got, &want, old_designs[i].name);
    const struct design *d = design_find(old_designs[i].name);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->summary, old_designs[i].summary);
    /* The listing order of `nicsim designs` is kept. */
    ck_assert_ptr_eq(design_get(i), d);
  }
}
END_TEST

START_TEST(test_embedded_designs_load) {
  ck_assert_uint_ge(scenario_embedded_design_count, 5);
  ck_assert_uint_eq(design_count(), scenario_embedded_design_count);
  for (size_t i = 0; i < scenario_embedded_design_count; i++) {
    const struct scenario_embedded *em = &scenario_embedded_designs[i];
    ck_assert_uint_eq(strlen(em->text), em->len);
    struct scenario s;
    char name[128];
    snprintf(name, sizeof name, "%s.yaml", em->name);
    err[0] = '\0';
    ck_assert_msg(scenario_load_text(name, em->text, em->len, &s, err, sizeof err) == 0, "%s", err);
    /* Self-contained (can be copied alone) and summarised; its faults are
     * the design's own, each a valid specification. */
    ck_assert_str_eq(s.design, "");
    ck_assert_uint_gt(strlen(s.summary), 0);
    for (size_t k = 0; k < s.nfaults; k++) {
      struct fault f;
      ck_assert_msg(fault_parse(s.faults[k], &f, err, sizeof err) == 0, "%s: %s", em->name, err);
      ck_assert_str_eq(design_get(i)->faults[k], s.faults[k]);
    }
    ck_assert_ptr_null(design_get(i)->faults[s.nfaults]);
    ck_assert_msg(config_validate(&s.cfg, err, sizeof err) == 0, "%s: %s", em->name, err);
    const struct design *d = design_get(i);
    ck_assert_str_eq(d->name, em->name);
    ck_assert_ptr_eq(d->yaml, em->text);
    ck_assert_str_eq(d->summary, s.summary);
    /* struct design's settings are the file's keys, in file order. */
    size_t n = 0;
    for (; d->settings[n]; n++) {
      char kv[600];
      snprintf(kv, sizeof kv, "%s=%s", s.settings[n].key, s.settings[n].value);
      ck_assert_str_eq(d->settings[n], kv);
    }
    ck_assert_uint_eq(n, s.nsettings);
    struct config c;
    ck_assert_int_eq(config_from_design(&c, em->name, err, sizeof err), 0);
    assert_same_config(&c, &s.cfg, em->name);
    scenario_free(&s);
  }
}
END_TEST

/* Every file of sim/scenario/designs/ is embedded, byte for byte: the
 * installed files and the program's designs are the same. */
START_TEST(test_design_files_embedded) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/sim/scenario/designs", NICSIM_SOURCE_DIR);
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  size_t files = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
      continue;
    files++;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(n - 5), e->d_name);
    const struct design *des = design_find(name);
    ck_assert_msg(des != NULL, "%s is not embedded (add it to NICSIM_DESIGNS in sim/CMakeLists.txt)", e->d_name);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    ck_assert_msg(strcmp(buf, des->yaml) == 0, "%s differs from the embedded copy", e->d_name);
  }
  closedir(d);
  ck_assert_uint_eq(files, design_count());
}
END_TEST

static Suite *scenario_suite(void) {
  Suite *s = suite_create("scenario");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_nested);
  tcase_add_test(tc, test_dotted_and_mixed);
  tcase_add_test(tc, test_quoting_comments_documents);
  tcase_add_test(tc, test_design_base_anywhere);
  tcase_add_test(tc, test_faults_kept);
  tcase_add_test(tc, test_value_errors);
  tcase_add_test(tc, test_shape_errors);
  tcase_add_test(tc, test_key_errors);
  tcase_add_test(tc, test_document_errors);
  tcase_add_test(tc, test_syntax_errors);
  tcase_add_test(tc, test_anchors_aliases_tags);
  tcase_add_test(tc, test_validation_errors);
  tcase_add_test(tc, test_files);
  tcase_add_test(tc, test_designs_equal_old_table);
  tcase_add_test(tc, test_embedded_designs_load);
  tcase_add_test(tc, test_design_files_embedded);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  Suite *s = scenario_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
