/*
 * cliopt.c: see cliopt.h.
 */
#include "cliopt.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "num.h"

void cliopt_reset(void) {
  optind = 0; /* glibc: also forget the state of the previous parse */
  opterr = 0;
}

int cliopt_next(int argc, char **argv, const char *optstring, const struct option *longs) {
  int li = -1;
  int c = getopt_long(argc, argv, optstring, longs, &li);
  if (c == ':' && optind > 0 && strncmp(argv[optind - 1], "--", 2) == 0) {
    /* A value is missing: of the option written, or of one it abbreviates? */
    const char *name = argv[optind - 1] + 2;
    size_t n = strcspn(name, "=");
    for (const struct option *o = longs; o->name; o++)
      if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
        return c;
    optopt = 0;
    return '?';
  }
  if (c == -1 || c == '?' || c == ':' || li < 0)
    return c;
  /* The element that held the option: the one before its separate value. */
  int at = optarg && optind >= 2 && optarg == argv[optind - 1] ? optind - 2 : optind - 1;
  const char *arg = at > 0 ? argv[at] : "";
  if (strncmp(arg, "--", 2) != 0)
    return c;
  size_t n = strcspn(arg + 2, "=");
  if (strlen(longs[li].name) != n || strncmp(longs[li].name, arg + 2, n) != 0) {
    optopt = 0;
    optind = at + 1; /* cliopt_refused names argv[optind - 1] */
    return '?';
  }
  return c;
}

int cliopt_refused(const char *cmd, int c, char **argv, const struct cliopt_need *needs) {
  char shown[160], opt[8];
  const char *arg = optind > 0 ? argv[optind - 1] : "?";
  if (optopt > 0 && optopt < 128 && strncmp(arg, "--", 2) != 0) {
    snprintf(opt, sizeof opt, "-%c", optopt);
    arg = opt;
  }
  num_elide(arg, shown, sizeof shown);
  if (c == ':') {
    const char *eq = strchr(shown, '=');
    size_t n = eq ? (size_t)(eq - shown) : strlen(shown);
    for (const struct cliopt_need *k = needs; k && k->option; k++)
      if (strlen(k->option) == n && strncmp(k->option, shown, n) == 0) {
        fprintf(stderr, "nicsim: %s needs %s\n", k->option, k->needs);
        return 2;
      }
    fprintf(stderr, "nicsim: %s needs a value (nicsim %s --help)\n", shown, cmd);
    return 2;
  }
  fprintf(stderr, "nicsim: %s: unknown option '%s' (nicsim %s --help)\n", cmd, shown, cmd);
  return 2;
}
