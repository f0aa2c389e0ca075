/* Fuzz target: a short simulation from fuzzed scenario and trace bytes.
 * The input is a scenario (YAML) and a capture, separated by the first
 * "\n---pcap---\n". SystemC runs one simulation per process, so each input
 * runs in a child; a child that dies of a signal (a crash, a sanitizer
 * report) makes this process abort, which the fuzzer reports. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fuzz_common.h"
#include "scenario.h"
#include "system.h"

static const char SEP[] = "\n---pcap---\n";

static int run(const uint8_t *data, size_t size) {
  const uint8_t *sep = NULL;
  for (size_t i = 0; i + sizeof SEP - 1 <= size; i++)
    if (memcmp(data + i, SEP, sizeof SEP - 1) == 0) {
      sep = data + i;
      break;
    }
  if (!sep)
    return 0;
  struct scenario s;
  char err[1200];
  if (scenario_load_text("fuzz.yaml", (const char *)data, (size_t)(sep - data), &s, err, sizeof err))
    return 0;
  /* Keep runs short and small. */
  if (s.cfg.pool_pages > 2048 || s.cfg.nic_queues > 8 || s.cfg.nic_ring_size > 1024) {
    scenario_free(&s);
    return 0;
  }
  char path[64];
  const uint8_t *pcap = sep + sizeof SEP - 1;
  int fd = fuzz_memfile(pcap, size - (size_t)(pcap - data), path, sizeof path);
  if (fd < 0) {
    scenario_free(&s);
    return 0;
  }
  static struct fault faults[8];
  unsigned nf = 0;
  for (size_t i = 0; i < s.nfaults && nf < 8; i++)
    if (fault_parse(s.faults[i], &faults[nf], err, sizeof err) == 0)
      nf++;
  struct replay_opts o;
  memset(&o, 0, sizeof o);
  o.cfg = s.cfg;
  o.trace_path = path;
  o.design = "fuzz";
  o.seed = 1;
  o.ram_bytes = 256ull << 20;
  o.faults = faults;
  o.nfaults = nf;
  struct replay_result *res = malloc(sizeof *res);
  if (res)
    system_replay(&o, res, err, sizeof err);
  free(res);
  close(fd);
  scenario_free(&s);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 20)
    return 0;
  pid_t pid = fork();
  if (pid < 0)
    return 0;
  if (pid == 0)
    _exit(run(data, size));
  int st;
  if (waitpid(pid, &st, 0) == pid && (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0)))
    abort();
  return 0;
}
