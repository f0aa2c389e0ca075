#!/usr/bin/env python3
"""Compare builds of nicsim by CPU time on one replay (a script, not a test).

    tests/bench/ab.py [-n RUNS] TRACE DESIGN NICSIM_A NICSIM_B [...] [-- REPLAY_ARGS...]

Runs `NICSIM replay TRACE --design DESIGN --quiet [REPLAY_ARGS]` with each
build in turn (A, B, ..., then A, B, ... again), RUNS times (default 7), and
prints each build's minimum and median CPU time (user + system, from
wait4(2)) and the change of each against the first. Alternating spreads the
load of other processes over every build alike; on a shared machine the
minimum is the steadier figure (builds that differ only in code layout can
move by a few percent either way: compare instruction counts with callgrind
for small changes). A run that exits with a status other than 0 or 1 stops
the comparison.
"""
import os
import statistics
import sys


def main(argv):
    runs = 7
    if argv[:1] == ["-n"]:
        runs = int(argv[1])
        argv = argv[2:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    if len(argv) < 4 or runs < 1:
        sys.stderr.write(__doc__)
        return 2
    trace, design, builds = argv[0], argv[1], argv[2:]
    times = [[] for _ in builds]  # by position: a build may be given twice
    for _ in range(runs):
        for k, b in enumerate(builds):
            pid = os.fork()
            if pid == 0:
                fd = os.open(os.devnull, os.O_WRONLY)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                try:
                    os.execv(b, [b, "replay", trace, "--design", design, "--quiet"] + extra)
                finally:
                    os._exit(127)
            _, status, ru = os.wait4(pid, 0)
            rc = os.waitstatus_to_exitcode(status)
            if rc not in (0, 1):
                sys.stderr.write("ab: %s exited %d\n" % (b, rc))
                return 2
            times[k].append(ru.ru_utime + ru.ru_stime)
    base = min(times[0])
    for k, b in enumerate(builds):
        t = sorted(times[k])
        print("%-40s min %.3f s  median %.3f s  min vs first %+.1f%%"
              % (b, t[0], statistics.median(t), 100.0 * (t[0] / base - 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
