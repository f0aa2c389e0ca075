/* Fuzz target: the fault-specification parser. */
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *spec = malloc(size + 1);
  if (!spec)
    return 0;
  memcpy(spec, data, size);
  spec[size] = '\0';
  struct fault f;
  char err[600];
  if (fault_parse(spec, &f, err, sizeof err) == 0) {
    fault_seed(&f, 1, 0);
    for (uint64_t i = 0; i < 4; i++)
      fault_fires_at_frame(&f, i, i * 1000);
  }
  free(spec);
  return 0;
}
