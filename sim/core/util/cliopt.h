/*
 * cliopt: what every command's getopt_long loop shares: the start of a
 * parse, and the one line for an option getopt_long refused.
 */
#ifndef NICSIM_CLIOPT_H
#define NICSIM_CLIOPT_H

/* What an option's value is, for "OPTION needs ..." when it is missing.
 * Lists end with {NULL, NULL}. */
struct cliopt_need {
  const char *option;
  const char *needs;
};

/* Start a getopt_long parse of a command's argv (argv[0] its name);
 * getopt_long prints nothing itself. Pass an optstring starting with ':'. */
void cliopt_reset(void);

struct option;

/* getopt_long(argc, argv, optstring, longs, NULL), except that a long
 * option must be written in full: an abbreviation (--out for --output) is
 * returned as '?', unknown, so that every command takes exactly the options
 * its help names. */
int cliopt_next(int argc, char **argv, const char *optstring, const struct option *longs);

/* getopt_long returned c ('?': unknown or ambiguous, ':' no value) for
 * argv[optind - 1]. Prints one line "nicsim: ..." and returns 2. */
int cliopt_refused(const char *cmd, int c, char **argv, const struct cliopt_need *needs);

#endif
