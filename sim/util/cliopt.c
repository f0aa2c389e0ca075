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

int cliopt_refused(const char *cmd, int c, char **argv, const struct cliopt_need *needs) {
  char shown[160], opt[8];
  const char *arg = optind > 0 ? argv[optind - 1] : "?";
  if (optopt > 0 && optopt < 128 && (c == ':' || strncmp(arg, "--", 2) != 0)) {
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
