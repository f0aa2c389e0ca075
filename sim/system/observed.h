/*
 * observed: `--observed DIR`: DIR/PRINCIPAL.pcap for each userspace
 * principal, one record per exposure that is a violation (the bytes it could
 * observe, as they were, time-stamped with simulated time), so what leaked
 * opens in Wireshark. A leaked packet shows as its original frame.
 * Principal names are sanitised for the file name (letters, digits, '-' and
 * '_'), so the files always land inside DIR. Files are written as outfile
 * writes (temporary names renamed into place when every file is complete).
 */
#ifndef NICSIM_OBSERVED_H
#define NICSIM_OBSERVED_H

#include <stddef.h>
#include <stdint.h>

#include "checker.h"

struct observed;

/* Can DIR (existing, or to be created) take the files? 0, or -1 with err
 * filled. */
int observed_check(const char *dir, char *err, size_t errlen);
/* Creates DIR if it does not exist. NULL with err filled. */
struct observed *observed_open(const char *dir, const struct policy *pol, char *err, size_t errlen);
void observed_record(struct observed *o, unsigned principal, const uint8_t *data, uint32_t len,
                     uint64_t time_ps);
/* app.hostile_read: also write DIR/PRINCIPAL.read.pcap for principal, one
 * record per read its hostile reader made (the bytes it got, time-stamped
 * with simulated time: a whole page when it was mapped, the bytes written
 * into a mapped page). 0, or -1 with err filled. */
int observed_open_reads(struct observed *o, unsigned principal, char *err, size_t errlen);
void observed_record_read(struct observed *o, unsigned principal, const uint8_t *data, uint32_t len,
                          uint64_t time_ps);
/* TX: also write DIR/wire.pcap, one record per frame the device
 * transmitted, byte for byte as it read them from host memory, time-stamped
 * with simulated time. 0, or -1 with err filled. */
int observed_open_wire(struct observed *o, const char *dir, char *err, size_t errlen);
void observed_record_wire(struct observed *o, const uint8_t *data, uint32_t len, uint64_t time_ps);
/* Finish the files (rename into place). 0, or -1 with err filled. */
int observed_close(struct observed *o, char *err, size_t errlen);
/* Give up: remove the temporary files. */
void observed_abort(struct observed *o);

#endif
