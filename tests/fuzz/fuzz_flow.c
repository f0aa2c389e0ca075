/* Fuzz target: flow parsing of one frame, the canonical key, its text and
 * a flow table. */
#include "flow.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65535)
    return 0;
  struct flow_parse fp;
  if (flow_parse(data, (uint32_t)size, &fp) != 0)
    return 0;
  struct flow_key c;
  flow_key_canonical(&fp.key, &c);
  char buf[160];
  flow_key_format(&fp.key, buf, sizeof buf);
  struct flow_table *ft = flow_table_new();
  if (ft) {
    flow_table_add(ft, &fp.key, (uint32_t)size);
    flow_table_add(ft, &c, 1);
    if (flow_table_find(ft, &c) == UINT32_MAX)
      __builtin_trap(); /* both directions are one flow */
    flow_table_free(ft);
  }
  return 0;
}
