/*
 * html.c: see html.h.
 */
#include "html.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outfile.h"

static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* Text safe inside a gnuplot single-quoted string and a data file field. */
static void plain(FILE *f, const char *s) {
  for (; s && *s; s++)
    fputc((*s == '\'' || *s == '"' || *s == '\n' || *s == ' ' || *s == '\\') ? '_' : *s, f);
}

static unsigned violated(const struct review_row *r) {
  unsigned k = 0;
  for (int p = 0; p < PROP_COUNT; p++)
    k += r->props[p] > 0;
  return k;
}

/* Run gnuplot on script; 0 or -1 with err. */
static int run_gnuplot(const char *script, char *err, size_t errlen) {
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "--html: cannot start gnuplot: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    execlp("gnuplot", "gnuplot", script, (char *)NULL);
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
      snprintf(err, errlen, "--html: gnuplot is not installed (Debian package gnuplot-nox)");
    else
      snprintf(err, errlen, "--html: gnuplot failed to draw the chart");
    return -1;
  }
  return 0;
}

int review_html(const char *path, const char *trace, const struct review_row *rows, size_t n, char *err,
                size_t errlen) {
  char dir[256];
  if (outfile_mkdtemp("nicsim-html", dir, sizeof dir)) {
    snprintf(err, errlen, "--html: cannot create a temporary directory: %s", strerror(errno));
    return -1;
  }
  char data[272], script[272], svg[272];
  snprintf(data, sizeof data, "%s/d.dat", dir);
  snprintf(script, sizeof script, "%s/p.gp", dir);
  snprintf(svg, sizeof svg, "%s/c.svg", dir);
  int rc = -1;
  char *svgtext = NULL;
  FILE *f = fopen(data, "w");
  if (!f) {
    snprintf(err, errlen, "--html: cannot write %s: %s", data, strerror(errno));
    goto out;
  }
  /* Labels of designs with the same number of violated properties are
   * stacked above each other so that they do not overprint. */
  unsigned stacked[PROP_COUNT + 1] = {0};
  for (size_t i = 0; i < n; i++) {
    if (strcmp(rows[i].verdict, "error") == 0)
      continue;
    unsigned v = violated(&rows[i]);
    plain(f, rows[i].design);
    fprintf(f, " %.3f %u %.2f\n", rows[i].cycles_per_packet, v, v + 0.28 * stacked[v]++);
  }
  fclose(f);
  f = fopen(script, "w");
  if (!f) {
    snprintf(err, errlen, "--html: cannot write %s: %s", script, strerror(errno));
    goto out;
  }
  fprintf(f,
          "set terminal svg size 900,520 dynamic enhanced font 'sans,12' background '#ffffff'\n"
          "set output '%s'\n"
          "set title 'Cost against safety per design'\n"
          "set xlabel 'CPU cycles per packet (lower is cheaper)'\n"
          "set ylabel 'safety properties violated (of 8)'\n"
          "set xrange [0:*]\nset yrange [-0.5:8.5]\nset ytics 0,1,8\nset grid\nset offsets 0, graph 0.25, 0, 0\n"
          "set style line 1 pt 7 ps 1.4 lc rgb '#c0392b'\nset key off\n"
          "plot '%s' using 2:3 with points ls 1, '' using 2:4:1 with labels offset char 1,0.3 left "
          "font 'sans,10'\n",
          svg, data);
  fclose(f);
  if (run_gnuplot(script, err, errlen))
    goto out;
  f = fopen(svg, "r");
  if (!f) {
    snprintf(err, errlen, "--html: gnuplot wrote no chart");
    goto out;
  }
  size_t cap = 1 << 16, len = 0;
  svgtext = malloc(cap + 1);
  while (svgtext) {
    size_t got = fread(svgtext + len, 1, cap - len, f);
    len += got;
    if (len < cap)
      break;
    char *nb = realloc(svgtext, cap * 2 + 1);
    if (!nb) {
      free(svgtext);
      svgtext = NULL;
      break;
    }
    svgtext = nb;
    cap *= 2;
  }
  fclose(f);
  if (!svgtext) {
    snprintf(err, errlen, "--html: out of memory");
    goto out;
  }
  svgtext[len] = '\0';
  /* Inline the <svg> element only (the page is the document). */
  char *start = strstr(svgtext, "<svg");
  if (!start) {
    snprintf(err, errlen, "--html: gnuplot's output is not SVG");
    goto out;
  }

  struct outfile *page = outfile_open(path, 0666, err, errlen);
  if (!page)
    goto out;
  f = outfile_stream(page);
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>nicsim design review</title>\n"
        "<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\n"
        "table{border-collapse:collapse;margin:1em 0}\n"
        "th,td{border:1px solid #bbb;padding:3px 6px;text-align:right;font-size:13px}\n"
        "td:first-child{white-space:nowrap}\n"
        "th:first-child,td:first-child,td.verdict{text-align:left}\n"
        "tr.unsafe td.verdict{color:#b00;font-weight:bold}\n"
        "tr.safe td.verdict{color:#070;font-weight:bold}\n"
        "td.hit{background:#fde2e2}\nfigure{margin:1em 0}\n</style>\n</head>\n<body>\n", f);
  fputs("<h1>nicsim design review</h1>\n<p>Trace: <code>", f);
  esc(f, trace);
  fputs("</code>. Each row is one run of the simulator; a count is the number of violations of that safety "
        "property the checker found.</p>\n<table id=\"review\">\n<thead><tr><th>design</th><th>verdict</th>", f);
  static const char *const shortname[PROP_COUNT] = {"cross flow", "stale data", "kernel pointer",
                                                     "kernel tamper", "write after validation",
                                                     "outside grant", "after unmap", "pool exhaustion"};
  for (int p = 0; p < PROP_COUNT; p++) {
    fputs("<th title=\"", f);
    esc(f, checker_property_name((enum checker_property)p));
    fputs("\">", f);
    esc(f, shortname[p]);
    fputs("</th>", f);
  }
  fputs("<th>cycles/packet</th><th>delivered Gb/s</th><th>drops</th></tr></thead>\n<tbody>\n", f);
  for (size_t i = 0; i < n; i++) {
    const struct review_row *r = &rows[i];
    fprintf(f, "<tr class=\"%s\"><td>", r->verdict);
    esc(f, r->design);
    fprintf(f, "</td><td class=\"verdict\">%s</td>", r->verdict);
    for (int p = 0; p < PROP_COUNT; p++)
      fprintf(f, "<td%s>%" PRIu64 "</td>", r->props[p] ? " class=\"hit\"" : "", r->props[p]);
    fprintf(f, "<td>%.1f</td><td>%.3f</td><td>%" PRId64 "</td></tr>\n", r->cycles_per_packet, r->delivered_gbps,
            r->drops);
  }
  fputs("</tbody>\n</table>\n<figure id=\"chart\">\n", f);
  fputs(start, f);
  fputs("\n<figcaption>Each point is a design: how much CPU it costs per packet, and how many of the eight "
        "safety properties it violates on this trace.</figcaption>\n</figure>\n</body>\n</html>\n", f);
  if (outfile_commit(page, err, errlen))
    goto out;
  rc = 0;
out:
  free(svgtext);
  unlink(data);
  unlink(script);
  unlink(svg);
  rmdir(dir);
  return rc;
}
