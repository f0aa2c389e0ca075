/* Fuzz target: capture reading (libpcap through traces/) and flow parsing
 * of every record, including a rewind. */
#include <string.h>

#include "flow.h"
#include "fuzz_common.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64], err[512];
  int fd = fuzz_memfile(data, size, path, sizeof path);
  if (fd < 0)
    return 0;
  struct trace_open_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.skip_unsupported = size & 1;
  struct trace *t = trace_open2(path, &opts, err, sizeof err);
  if (t) {
    for (int pass = 0; pass < 2; pass++) {
      struct trace_record r;
      unsigned n = 0;
      while (n++ < 10000 && trace_next(t, &r, err, sizeof err) == 1) {
        struct flow_parse fp;
        if (flow_parse(r.data, r.caplen, &fp) == 0) {
          char buf[128];
          flow_key_format(&fp.key, buf, sizeof buf);
        }
      }
      if (trace_rewind(t, err, sizeof err))
        break;
    }
    trace_close(t);
  }
  close(fd);
  return 0;
}
