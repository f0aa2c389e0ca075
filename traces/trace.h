/*
 * traces: capture reading through libpcap, flow parsing, BPF ownership and the
 * trace generator. Knows nothing but libpcap.
 *
 * Reading is streaming: one record at a time, memory independent of the
 * trace's length. Errors fill a caller's buffer with one line that names the
 * file and the problem ("FILE: what is wrong"); nothing is printed here and
 * nothing exits.
 */
#ifndef NICSIM_TRACE_H
#define NICSIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct trace;

struct trace_record {
  uint64_t index;       /* position in the trace, from 0 */
  uint64_t ts_ps;       /* capture timestamp [ps since the epoch] MODULO 2^64:
                           sec*10^12 + nsec*1000 wraps every 2^64 ps (~213.5
                           days), and any date after 1970-08-01 already has.
                           The difference of two records (unsigned
                           subtraction, b->ts_ps - a->ts_ps) is exact when
                           they are less than ~213 days apart; do not compare
                           ts_ps values with < or use them as absolute times:
                           use ts_sec/ts_nsec for that. */
  uint32_t caplen;      /* bytes present in data */
  uint32_t origlen;     /* bytes on the wire (>= caplen) */
  const uint8_t *data;  /* the frame as an Ethernet frame; valid until the
                           next trace_next(), trace_rewind() or trace_close() */
  int64_t ts_sec;       /* capture timestamp, exact: seconds since the epoch */
  uint32_t ts_nsec;     /* and nanoseconds (0..999999999 in sane files) */
};

/* Open PATH ("-" for standard input, spooled to an unlinked temporary file so
 * that the trace can be read twice; a path that is a pipe or a device, e.g.
 * <(cmd), is spooled the same way). NULL with err filled on failure: a
 * missing or unreadable file, a file libpcap does not open, a link type the
 * simulator cannot feed to an Ethernet NIC. Messages start with the path as
 * given ("<stdin>" for "-") and ": ":
 *   "FILE: cannot open: No such file or directory"
 *   "FILE: not a capture file libpcap can read: <libpcap's text>"
 *   "FILE: link type IEEE802_11_RADIO (127) is not supported (the NIC model
 *    takes Ethernet frames)"                       (all on one line) */
struct trace *trace_open(const char *path, char *err, size_t errlen);

/* Next record: 1 with *rec filled, 0 at the end, -1 with err filled (a torn
 * or corrupt record: the message names the file and the record index, from 0
 * like trace_record.index: "FILE: record 7: truncated dump file; tried to
 * read 60 captured bytes, only got 20"). After -1 every further call returns
 * -1 with the same message until trace_rewind(). caplen <= origlen always
 * (a record claiming fewer wire bytes than captured gets origlen = caplen). */
int trace_next(struct trace *t, struct trace_record *rec, char *err, size_t errlen);

/* Start again from the first record (reopens the capture from offset 0).
 * 0, or -1 with err filled. */
int trace_rewind(struct trace *t, char *err, size_t errlen);

/* The path as given ("-" for standard input). */
const char *trace_path(const struct trace *t);
/* libpcap's link-type value and name (e.g. "EN10MB"): a DLT_ value, which for
 * a few types differs from the LINKTYPE_ number in the file (LINKTYPE_RAW 101
 * is DLT_RAW, 12 on Linux). The name is "unknown" when libpcap has none. */
int trace_linktype(const struct trace *t);
const char *trace_linktype_name(const struct trace *t);

void trace_close(struct trace *t);

/* A BPF filter expression compiled by libpcap for the trace's link type
 * (app.owns). It is applied to trace_record.data, so pass the link type of
 * that data (DLT_EN10MB, 1, while only Ethernet is read). NULL with err
 * filled when the expression does not compile:
 *   "app.owns: cannot compile filter 'EXPR': <libpcap's text>"
 * (no file name: the caller prefixes where the expression came from). */
struct trace_filter;
struct trace_filter *trace_filter_new(int linktype, const char *expr, char *err, size_t errlen);
/* 1 when the record matches, else 0. */
int trace_filter_match(const struct trace_filter *f, const struct trace_record *rec);
void trace_filter_free(struct trace_filter *f);

#endif
