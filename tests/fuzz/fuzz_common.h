/*
 * Shared by the fuzz targets: bytes as a file the library opens by path
 * (a memfd, so nothing touches the disk), without the target knowing.
 */
#ifndef NICSIM_FUZZ_COMMON_H
#define NICSIM_FUZZ_COMMON_H


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Write data to a new memfd; returns its fd (and its path in path) or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t n) {
  int fd = memfd_create("nicsim-fuzz", 0);
  if (fd < 0)
    return -1;
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0) {
      close(fd);
      return -1;
    }
    done += (size_t)w;
  }
  snprintf(path, n, "/proc/self/fd/%d", fd);
  return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
