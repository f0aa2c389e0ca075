/* Fuzz target: the scenario (YAML) parser. */
#include "fuzz_common.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct scenario s;
  char err[1200];
  if (scenario_load_text("fuzz.yaml", (const char *)data, size, &s, err, sizeof err) == 0)
    scenario_free(&s);
  return 0;
}
