/*
 * sim/tool/report/html: the review page from given rows (html.h): who reached
 * whose bytes when a report has by_pair, the first violation's explanation,
 * escaping, and the chart's labels for points that coincide (each joined to
 * its own point by a leader line).
 */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "suite_run.h"

static json_object *report_with_pairs(void) {
  return json_tokener_parse(
      "{\"violations\": {\"cross_flow_leak\": {\"count\": 3, \"bytes\": 300,"
      " \"first\": {\"explanation\": \"60 bytes of packet 2 <of flow x>\"},"
      " \"by_pair\": [{\"principal\": \"web\", \"owner\": \"db\", \"count\": 2, \"bytes\": 200},"
      "               {\"principal\": \"app\", \"owner\": \"kernel\", \"count\": 1, \"bytes\": 100}]}}}");
}

static struct review_row row(const char *design, const char *verdict, uint64_t xflow, double cpp) {
  struct review_row r;
  memset(&r, 0, sizeof r);
  r.design = design;
  r.verdict = verdict;
  r.props[PROP_CROSS_FLOW_LEAK] = xflow;
  r.cycles_per_packet = cpp;
  r.summary = "a summary";
  r.settings = "design: copy\n";
  return r;
}

#define HAS(page, text) ck_assert_msg(strstr(page, text) != NULL, "the page lacks %s", text)
#define LACKS(page, text) ck_assert_msg(strstr(page, text) == NULL, "the page has %s", text)

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

START_TEST(by_pair_rendered) {
  json_object *rep = report_with_pairs();
  struct review_row rows[2] = {row("zc", "unsafe", 3, 1500), row("copy", "safe", 0, 800)};
  rows[0].report = rep;
  const char *sets[] = {"pool.clear=on_recycle"};
  struct review_meta m = {"t.pcap", "zc,copy", NULL, 7, sets, 1, 0};
  char *page = review_html(&m, rows, 2);
  ck_assert_ptr_nonnull(page);
  HAS(page, "<table class=\"pairs\">");
  HAS(page, "<td>cross flow leak</td><td>web</td><td>db</td><td>2</td><td>200</td>");
  HAS(page, "<td>app</td><td>kernel</td><td>1</td><td>100</td>");
  ck_assert_int_eq(count(page, "class=\"pairs\""), 1); /* the safe design has none */
  HAS(page, "first: 60 bytes of packet 2 &lt;of flow x&gt;");
  HAS(page, "id=\"meta-seed\">7<");
  HAS(page, "<code>pool.clear=on_recycle</code>");
  HAS(page, "nicsim review t.pcap --designs zc,copy --seed 7 --set 'pool.clear=on_recycle'");
  free(page);
  json_object_put(rep);
}
END_TEST

START_TEST(coincident_points_have_leaders) {
  /* Four designs on one spot: at most one label beside it, the others
   * joined to it by leaders; every design has one point and one label. */
  struct review_row rows[4] = {row("a", "safe", 0, 1000), row("b", "safe", 0, 1000), row("c", "safe", 0, 1000),
                               row("d", "unsafe", 5, 1000)};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  review_chart_svg(f, rows, 4);
  fclose(f);
  ck_assert_int_eq(count(buf, "<circle class=\"point"), 4);
  ck_assert_int_eq(count(buf, "<text class=\"label\""), 4);
  ck_assert_int_ge(count(buf, "<line class=\"leader\""), 2);
  HAS(buf, "data-design=\"d\" data-verdict=\"unsafe\" data-violations=\"5\"");
  free(buf);
}
END_TEST

START_TEST(names_escaped) {
  struct review_row rows[1] = {row("<x&\"y>", "error", 0, 0)};
  struct review_meta m = {"a<b>.pcap", "all", NULL, 1, NULL, 0, 0};
  char *page = review_html(&m, rows, 1);
  ck_assert_ptr_nonnull(page);
  LACKS(page, "<x&");
  LACKS(page, "a<b>");
  HAS(page, "&lt;x&amp;&quot;y&gt;");
  HAS(page, "The run failed");
  free(page);
}
END_TEST

int main(void) {
  Suite *s = suite_create("html");
  TCase *tc = tcase_create("page");
  tcase_add_test(tc, by_pair_rendered);
  tcase_add_test(tc, coincident_points_have_leaders);
  tcase_add_test(tc, names_escaped);
  suite_add_tcase(s, tc);
  return suite_run(s);
}
