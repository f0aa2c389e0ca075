/*
 * html.c: see html.h.
 */
#include "html.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* A property's name for people: the report name with spaces. */
static void prop_label(FILE *f, int p) {
  for (const char *s = checker_property_name((enum checker_property)p); *s; s++)
    fputc(*s == '_' ? ' ' : *s, f);
}

static uint64_t total_violations(const struct review_row *r) {
  uint64_t t = 0;
  for (int p = 0; p < PROP_COUNT; p++)
    t += r->props[p];
  return t;
}

static unsigned violated(const struct review_row *r) {
  unsigned k = 0;
  for (int p = 0; p < PROP_COUNT; p++)
    k += r->props[p] > 0;
  return k;
}

static const char *verdict_colour(const char *v) {
  if (strcmp(v, "safe") == 0)
    return "#2e7d32";
  if (strcmp(v, "unsafe") == 0)
    return "#c62828";
  if (strcmp(v, "inconclusive") == 0)
    return "#e69f00";
  return "#777777";
}

/* ---- the chart ---- */

#define CH_W 960.0
#define CH_H 520.0
#define CH_LEFT 80.0
#define CH_RIGHT 30.0
#define CH_TOP 40.0
#define CH_BOTTOM 60.0
#define LABEL_CHAR_PX 7.2 /* width of a character of the labels (12 px sans), generous */
#define LABEL_H_PX 15.0
#define POINT_R_PX 6.0
#define LABEL_NEAR_MARGIN_PX 6.0 /* a label's own point is nearer than any other by this */

/* A round step for about n ticks over [0, max]. */
static double nice_step(double max, int n) {
  double raw = max / n, mag = pow(10, floor(log10(raw)));
  double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

struct box {
  double x0, y0, x1, y1;
};

static int overlap(const struct box *a, const struct box *b) {
  return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Distance from a point to a box (0 inside). */
static double box_dist(const struct box *b, double x, double y) {
  double dx = x < b->x0 ? b->x0 - x : x > b->x1 ? x - b->x1 : 0;
  double dy = y < b->y0 ? b->y0 - y : y > b->y1 ? y - b->y1 : 0;
  return sqrt(dx * dx + dy * dy);
}

struct placed {
  double px, py;     /* the point */
  double lx, ly;     /* the label's text anchor (start or end) */
  int anchor_end;    /* text-anchor: end (label left of the point) */
  int leader;        /* a line joins the point to a label set apart from it */
  struct box b;
  char text[160];
};

void review_chart_svg(FILE *f, const struct review_row *rows, size_t n) {
  double xmax_data = 0;
  uint64_t vmax = 0;
  size_t shown = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(rows[i].verdict, "error") == 0)
      continue;
    shown++;
    if (rows[i].cycles_per_packet > xmax_data)
      xmax_data = rows[i].cycles_per_packet;
    if (total_violations(&rows[i]) > vmax)
      vmax = total_violations(&rows[i]);
  }
  /* x: cycles per packet from 0 to a round number above the largest. */
  double xstep = nice_step(xmax_data > 0 ? xmax_data * 1.08 : 1, 8);
  double xmax = ceil(xmax_data * 1.08 / xstep) * xstep;
  if (xmax <= 0)
    xmax = xstep;
  /* y: violations on a log scale with 0 at the bottom: 0, 1, 10, ... */
  int decades = vmax > 0 ? (int)ceil(log10((double)vmax) + 1e-9) : 1;
  if (decades < 1)
    decades = 1;
  double pw = CH_W - CH_LEFT - CH_RIGHT, ph = CH_H - CH_TOP - CH_BOTTOM;
#define XPOS(v) (CH_LEFT + (v) / xmax * pw)
#define YFRAC(c) ((c) == 0 ? 0.0 : (1.0 + log10((double)(c))) / (1.0 + decades))
#define YPOS(c) (CH_TOP + ph - YFRAC(c) * ph)

  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"chart-svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
             "height=\"%.0f\" role=\"img\" aria-labelledby=\"chart-title\" font-family=\"sans-serif\" font-size=\"12\">\n",
          CH_W, CH_H, CH_W, CH_H);
  fprintf(f, "<title id=\"chart-title\">Cost against violations per design</title>\n");
  fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", CH_W, CH_H);
  fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Cost against violations per design</text>\n",
          CH_LEFT);
  /* grid and ticks */
  fprintf(f, "<g class=\"axis x\" stroke=\"#dddddd\">\n");
  for (double v = 0; v <= xmax + xstep / 2; v += xstep)
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", XPOS(v), CH_TOP, XPOS(v), CH_TOP + ph);
  fprintf(f, "</g>\n<g class=\"ticks x\" text-anchor=\"middle\" fill=\"#333333\">\n");
  for (double v = 0; v <= xmax + xstep / 2; v += xstep)
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%g</text>\n", XPOS(v), CH_TOP + ph + 18, v);
  fprintf(f, "</g>\n<g class=\"axis y\" stroke=\"#dddddd\">\n");
  for (int d = -1; d < decades + 1; d++) {
    uint64_t c = d < 0 ? 0 : (uint64_t)llround(pow(10, d));
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", CH_LEFT, YPOS(c), CH_LEFT + pw, YPOS(c));
  }
  fprintf(f, "</g>\n<g class=\"ticks y\" text-anchor=\"end\" fill=\"#333333\">\n");
  for (int d = -1; d < decades + 1; d++) {
    uint64_t c = d < 0 ? 0 : (uint64_t)llround(pow(10, d));
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%" PRIu64 "</text>\n", CH_LEFT - 8, YPOS(c) + 4, c);
  }
  fprintf(f, "</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888888\"/>\n",
          CH_LEFT, CH_TOP, pw, ph);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">CPU cycles per packet (lower is cheaper)</text>\n",
          CH_LEFT + pw / 2, CH_H - 18);
  fprintf(f, "<text transform=\"translate(22 %.1f) rotate(-90)\" text-anchor=\"middle\">violations found "
             "(all properties, log scale; 0 at the bottom)</text>\n", CH_TOP + ph / 2);

  /* Labels: each beside its point where there is room (right, left, above,
   * below), else moved up or down until free and joined to its point by a
   * line. A label overlaps no other label and no other point. */
  struct placed *pl = calloc(shown ? shown : 1, sizeof *pl);
  size_t np = 0;
  for (size_t i = 0; i < n && pl; i++) {
    const struct review_row *r = &rows[i];
    if (strcmp(r->verdict, "error") == 0)
      continue;
    struct placed *p = &pl[np++];
    p->px = XPOS(r->cycles_per_packet);
    p->py = YPOS(total_violations(r));
    snprintf(p->text, sizeof p->text, "%s (%" PRIu64 ")", r->design, total_violations(r));
  }
  /* Right to left: a label set apart goes up and right of its point, so
   * the leaders of neighbours do not cross the labels placed before. */
  size_t *order = calloc(np ? np : 1, sizeof *order);
  for (size_t i = 0; order && i < np; i++) {
    size_t j = i;
    while (j > 0 && (pl[order[j - 1]].px < pl[i].px || (pl[order[j - 1]].px == pl[i].px && pl[order[j - 1]].py < pl[i].py))) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  for (size_t oi = 0; order && oi < np; oi++) {
    struct placed *p = &pl[order[oi]];
    double w = (double)strlen(p->text) * LABEL_CHAR_PX;
    int done = 0;
    for (int step = 0; step < 4 + 4 * 60 && !done; step++) {
      /* 0: right, 1: left, 2: above, 3: below; then right up, right down,
       * left up, left down, ever farther. */
      double dy = 0;
      int side = step < 4 ? step : ((step - 4) % 4) / 2;
      if (step >= 4)
        dy = ((step - 4) % 2 ? 1 : -1) * ((step - 4) / 4 + 1) * (LABEL_H_PX * 0.7);
      struct box b;
      double lx, ly;
      int end = 0;
      if (side == 0 || side == 1) {
        end = side == 1;
        lx = end ? p->px - POINT_R_PX - 4 : p->px + POINT_R_PX + 4;
        ly = p->py + 4 + dy;
        b.x0 = end ? lx - w : lx;
        b.x1 = end ? lx : lx + w;
      } else {
        lx = p->px - w / 2;
        ly = side == 2 ? p->py - POINT_R_PX - 5 : p->py + POINT_R_PX + LABEL_H_PX - 2;
        b.x0 = lx;
        b.x1 = lx + w;
      }
      b.y0 = ly - LABEL_H_PX + 3;
      b.y1 = ly + 3;
      int ok = b.x0 >= 2 && b.x1 <= CH_W - 2 && b.y0 >= CH_TOP - 14 && b.y1 <= CH_TOP + ph + 2;
      for (size_t j = 0; j < oi && ok; j++) {
        const struct placed *q = &pl[order[j]];
        ok = !overlap(&b, &q->b);
        /* nor across a leader drawn before */
        for (int t = 0; t <= 16 && ok && q->leader; t++) {
          double ex = q->anchor_end ? q->b.x1 : q->b.x0, ey = (q->b.y0 + q->b.y1) / 2;
          double x = q->px + (ex - q->px) * t / 16, y = q->py + (ey - q->py) * t / 16;
          ok = !(x > b.x0 && x < b.x1 && y > b.y0 && y < b.y1);
        }
      }
      for (size_t j = 0; j < np && ok; j++) {
        struct box pb = {pl[j].px - POINT_R_PX - 2, pl[j].py - POINT_R_PX - 2, pl[j].px + POINT_R_PX + 2,
                         pl[j].py + POINT_R_PX + 2};
        ok = !overlap(&b, &pb);
        /* Without a leader, the label's own point is clearly the nearest. */
        if (ok && dy == 0 && &pl[j] != p)
          ok = box_dist(&b, pl[j].px, pl[j].py) > box_dist(&b, p->px, p->py) + LABEL_NEAR_MARGIN_PX;
      }
      if (!ok)
        continue;
      p->b = b;
      p->lx = lx;
      p->ly = ly;
      p->anchor_end = end;
      p->leader = dy != 0;
      done = 1;
    }
    if (!done) { /* nowhere free: right of the point, as it is */
      p->lx = p->px + POINT_R_PX + 4;
      p->ly = p->py + 4;
      p->b = (struct box){p->lx, p->ly - LABEL_H_PX + 3, p->lx + w, p->ly + 3};
    }
  }
  free(order);

  /* Leaders first, then points, then labels (on top). */
  fprintf(f, "<g class=\"leaders\" stroke=\"#555555\" stroke-width=\"1\">\n");
  size_t k = 0;
  for (size_t i = 0; i < n && pl; i++) {
    if (strcmp(rows[i].verdict, "error") == 0)
      continue;
    struct placed *p = &pl[k++];
    if (!p->leader)
      continue;
    double ex = p->anchor_end ? p->b.x1 + 1 : p->b.x0 - 1, ey = (p->b.y0 + p->b.y1) / 2;
    fprintf(f, "<line class=\"leader\" data-design=\"");
    esc(f, rows[i].design);
    fprintf(f, "\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->px, p->py, ex, ey);
  }
  fprintf(f, "</g>\n<g class=\"points\">\n");
  k = 0;
  for (size_t i = 0; i < n && pl; i++) {
    const struct review_row *r = &rows[i];
    if (strcmp(r->verdict, "error") == 0)
      continue;
    struct placed *p = &pl[k++];
    fprintf(f, "<circle class=\"point %s\" data-design=\"", r->verdict);
    esc(f, r->design);
    fprintf(f, "\" data-verdict=\"%s\" data-violations=\"%" PRIu64 "\" data-cycles=\"%.1f\" cx=\"%.1f\" cy=\"%.1f\" "
               "r=\"%.0f\" fill=\"%s\" fill-opacity=\"0.85\" stroke=\"#ffffff\" stroke-width=\"1.5\"><title>",
            r->verdict, total_violations(r), r->cycles_per_packet, p->px, p->py, POINT_R_PX,
            verdict_colour(r->verdict));
    esc(f, r->design);
    fprintf(f, ": %s, %" PRIu64 " violations of %u properties, %.1f cycles per packet</title></circle>\n", r->verdict,
            total_violations(r), violated(r), r->cycles_per_packet);
  }
  fprintf(f, "</g>\n<g class=\"labels\" fill=\"#111111\">\n");
  k = 0;
  for (size_t i = 0; i < n && pl; i++) {
    if (strcmp(rows[i].verdict, "error") == 0)
      continue;
    struct placed *p = &pl[k++];
    fprintf(f, "<text class=\"label\" data-design=\"");
    esc(f, rows[i].design);
    fprintf(f, "\" x=\"%.1f\" y=\"%.1f\"%s>", p->lx, p->ly, p->anchor_end ? " text-anchor=\"end\"" : "");
    esc(f, p->text);
    fprintf(f, "</text>\n");
  }
  fprintf(f, "</g>\n");
  /* Legend: the verdicts, top right inside the plot. */
  static const char *const verdicts[] = {"safe", "unsafe", "inconclusive"};
  double lx = CH_LEFT + pw - 130, ly = CH_TOP + 10;
  fprintf(f, "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"124\" height=\"66\" fill=\"#ffffff\" "
             "fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n", lx, ly);
  for (int v = 0; v < 3; v++) {
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.0f\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
            lx + 14, ly + 14 + 19 * v, POINT_R_PX, verdict_colour(verdicts[v]), lx + 26, ly + 18 + 19 * v,
            verdicts[v]);
  }
  fprintf(f, "</g>\n</svg>\n");
  free(pl);
#undef XPOS
#undef YFRAC
#undef YPOS
}

/* ---- the page ---- */

static json_object *jget(json_object *o, const char *k) {
  json_object *v = NULL;
  return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static void header(FILE *f, const struct review_meta *m, size_t n) {
  fputs("<h1>nicsim design review</h1>\n<dl class=\"meta\" id=\"meta\">\n<dt>trace</dt><dd><code>", f);
  esc(f, m->trace);
  fputs("</code>", f);
  json_object *t = m->trace_info;
  if (t)
    fprintf(f, " (link type %s, %" PRId64 " bytes)", json_object_get_string(jget(t, "linktype")),
            json_object_get_int64(jget(t, "bytes")));
  fputs("</dd>\n", f);
  fprintf(f, "<dt>frames</dt><dd id=\"meta-frames\">%" PRId64 "</dd>\n<dt>flows</dt><dd id=\"meta-flows\">%" PRId64
             "</dd>\n", t ? json_object_get_int64(jget(t, "packets")) : 0, t ? json_object_get_int64(jget(t, "flows")) : 0);
  if (m->limit_frames)
    fprintf(f, "<dt>limit</dt><dd id=\"meta-limit\">the first %" PRIu64 " frames of the trace (--limit)</dd>\n",
            m->limit_frames);
  fprintf(f, "<dt>designs</dt><dd>%zu</dd>\n<dt>nicsim</dt><dd id=\"meta-version\">%s</dd>\n"
             "<dt>seed</dt><dd id=\"meta-seed\">%" PRIu64 "</dd>\n<dt>settings</dt><dd id=\"meta-set\">",
          n, NICSIM_VERSION_STRING, m->seed);
  if (!m->nsets)
    fputs("each design's own (no --set)", f);
  for (size_t i = 0; i < m->nsets; i++) {
    fputs(i ? ", <code>" : "<code>", f);
    esc(f, m->sets[i]);
    fputs("</code>", f);
  }
  fputs("</dd>\n<dt>to reproduce</dt><dd><code>nicsim review ", f);
  esc(f, m->trace);
  if (m->designs && strcmp(m->designs, "all") != 0) {
    fputs(" --designs ", f);
    esc(f, m->designs);
  }
  fprintf(f, " --seed %" PRIu64, m->seed);
  if (m->limit_frames)
    fprintf(f, " --limit %" PRIu64, m->limit_frames);
  for (size_t i = 0; i < m->nsets; i++) {
    fputs(" --set '", f);
    esc(f, m->sets[i]);
    fputs("'", f);
  }
  fputs(" --html review.html</code></dd>\n</dl>\n", f);
}

static void table(FILE *f, const struct review_row *rows, size_t n) {
  fputs("<table id=\"review\">\n<thead><tr><th>design</th><th>verdict</th>", f);
  for (int p = 0; p < PROP_COUNT; p++) {
    fprintf(f, "<th title=\"%s\">", checker_property_name((enum checker_property)p));
    prop_label(f, p);
    fputs("</th>", f);
  }
  fputs("<th>cycles/packet</th><th>delivered Gb/s</th><th>drops</th></tr></thead>\n<tbody>\n", f);
  for (size_t i = 0; i < n; i++) {
    const struct review_row *r = &rows[i];
    fprintf(f, "<tr class=\"%s\" data-design=\"", r->verdict);
    esc(f, r->design);
    fputs("\"><td><a href=\"#d-", f);
    esc(f, r->design);
    fputs("\">", f);
    esc(f, r->design);
    fprintf(f, "</a></td><td class=\"verdict\">%s</td>", r->verdict);
    for (int p = 0; p < PROP_COUNT; p++)
      fprintf(f, "<td%s>%" PRIu64 "</td>", r->props[p] ? " class=\"hit\"" : "", r->props[p]);
    fprintf(f, "<td>%.1f</td><td>%.3f</td><td>%" PRId64 "</td></tr>\n", r->cycles_per_packet, r->delivered_gbps,
            r->drops);
  }
  fputs("</tbody>\n</table>\n", f);
}

/* Who leaked to whom (by_pair of each property), when the report has it. */
static void pairs(FILE *f, json_object *viol) {
  int any = 0;
  for (int p = 0; p < PROP_COUNT; p++) {
    json_object *bp = jget(jget(viol, checker_property_name((enum checker_property)p)), "by_pair");
    size_t len = bp && json_object_is_type(bp, json_type_array) ? json_object_array_length(bp) : 0;
    for (size_t i = 0; i < len; i++) {
      json_object *e = json_object_array_get_idx(bp, i);
      if (!any)
        fputs("<table class=\"pairs\"><caption>who reached whose bytes</caption>\n<thead><tr><th>property</th>"
              "<th>principal (saw, wrote or sent)</th><th>whose bytes</th><th>count</th><th>bytes</th></tr></thead>"
              "\n<tbody>\n", f);
      any = 1;
      fputs("<tr><td>", f);
      prop_label(f, p);
      fputs("</td><td>", f);
      esc(f, json_object_get_string(jget(e, "principal")));
      fputs("</td><td>", f);
      esc(f, json_object_get_string(jget(e, "owner")));
      fprintf(f, "</td><td>%" PRId64 "</td><td>%" PRId64 "</td></tr>\n", json_object_get_int64(jget(e, "count")),
              json_object_get_int64(jget(e, "bytes")));
    }
  }
  if (any)
    fputs("</tbody></table>\n", f);
}

static void design_section(FILE *f, const struct review_row *r, const struct review_meta *m) {
  fputs("<section class=\"design\" id=\"d-", f);
  esc(f, r->design);
  fputs("\" data-design=\"", f);
  esc(f, r->design);
  fprintf(f, "\" data-verdict=\"%s\">\n<h3>", r->verdict);
  esc(f, r->design);
  fprintf(f, " <span class=\"badge\" style=\"background:%s\">%s</span></h3>\n", verdict_colour(r->verdict),
          r->verdict);
  if (r->summary) {
    fputs("<p class=\"summary\">", f);
    esc(f, r->summary);
    fputs("</p>\n", f);
  }
  if (strcmp(r->verdict, "error") == 0) {
    fputs("<p>The run failed: no report.</p>\n", f);
  } else {
    fprintf(f, "<p class=\"figures\">%" PRIu64 " violation%s of %u propert%s; %.1f CPU cycles per packet; %.3f Gb/s "
               "delivered; %" PRId64 " frames dropped.</p>\n",
            total_violations(r), total_violations(r) == 1 ? "" : "s", violated(r), violated(r) == 1 ? "y" : "ies",
            r->cycles_per_packet, r->delivered_gbps, r->drops);
  }
  json_object *viol = jget(r->report, "violations");
  if (violated(r)) {
    fputs("<dl class=\"first\">\n", f);
    for (int p = 0; p < PROP_COUNT; p++) {
      if (!r->props[p])
        continue;
      json_object *e = jget(viol, checker_property_name((enum checker_property)p));
      fprintf(f, "<dt data-property=\"%s\">", checker_property_name((enum checker_property)p));
      prop_label(f, p);
      fprintf(f, ": %" PRIu64 " (%" PRId64 " bytes)</dt>\n<dd>", r->props[p], json_object_get_int64(jget(e, "bytes")));
      const char *ex = json_object_get_string(jget(jget(e, "first"), "explanation"));
      if (ex) {
        fputs("first: ", f);
        esc(f, ex);
      }
      fputs("</dd>\n", f);
    }
    fputs("</dl>\n", f);
  }
  pairs(f, viol);
  fputs("<details class=\"settings\"><summary>settings that define it</summary>\n<pre>", f);
  if (r->settings)
    esc(f, r->settings);
  for (size_t i = 0; i < m->nsets; i++) {
    fputs(i ? "\n" : "\n# and for every design of this review (--set):\n", f);
    esc(f, m->sets[i]);
  }
  fputs("</pre>\n</details>\n</section>\n", f);
}

char *review_html(const struct review_meta *m, const struct review_row *rows, size_t n) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>nicsim design review: ", f);
  esc(f, m->trace);
  fputs("</title>\n<style>\n"
        "body{font-family:sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;line-height:1.4}\n"
        "dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 1em}\n"
        "dl.meta dt{font-weight:bold}\ndl.meta dd{margin:0}\n"
        "table{border-collapse:collapse;margin:1em 0}\n"
        "th,td{border:1px solid #bbb;padding:3px 6px;text-align:right;font-size:13px}\n"
        "td:first-child{white-space:nowrap}\n"
        "th:first-child,td:first-child,td.verdict,table.pairs td{text-align:left}\n"
        "tr.unsafe td.verdict{color:#c62828;font-weight:bold}\n"
        "tr.safe td.verdict{color:#2e7d32;font-weight:bold}\n"
        "tr.inconclusive td.verdict{color:#b07800;font-weight:bold}\n"
        "td.hit{background:#fde2e2}\nfigure{margin:1em 0}\nsvg{max-width:100%;height:auto}\n"
        "section.design{border-top:1px solid #ddd;margin-top:1.5em}\n"
        ".badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:13px;vertical-align:middle}\n"
        "dl.first dt{font-weight:bold;margin-top:.5em}\ndl.first dd{margin-left:1.5em}\n"
        "details pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:12px}\n"
        "</style>\n</head>\n<body>\n", f);
  header(f, m, n);
  fputs("<figure id=\"chart\">\n", f);
  review_chart_svg(f, rows, n);
  fputs("<figcaption>Each point is a design: its CPU cost per packet, and how many violations of the safety "
        "properties the checker found on this trace (colour: the verdict). The label gives the count.</figcaption>\n"
        "</figure>\n<h2>Results</h2>\n<p>Each row is one run of the simulator; a count is the number of violations of "
        "that safety property.</p>\n", f);
  table(f, rows, n);
  fputs("<h2>Designs</h2>\n", f);
  for (size_t i = 0; i < n; i++)
    design_section(f, &rows[i], m);
  fputs("</body>\n</html>\n", f);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}
