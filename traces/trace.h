/*
 * traces: capture reading through libpcap, flow parsing, BPF ownership and the
 * trace generator. Knows nothing but libpcap (standard pcap records may be
 * read directly from the file, by libpcap's rules: trace_open_opts).
 *
 * Reading is streaming: one record at a time, memory independent of the
 * trace's length. Records may be read ahead on a second thread
 * (trace_open_opts.read_ahead); the caller sees the same records, counts
 * and errors either way. Errors fill a caller's buffer with one line that names the
 * file and the problem ("FILE: what is wrong"); nothing is printed here and
 * nothing exits.
 *
 * Every record reaches the caller as an Ethernet frame, because that is what
 * the NIC model receives. Ethernet captures pass unchanged; Linux cooked
 * (SLL, SLL2), raw IP (DLT_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6) and BSD
 * loopback (DLT_NULL, DLT_LOOP) records get a synthetic 14-byte Ethernet
 * header in place of their own link-layer header (docs/traces.md says which
 * MAC addresses and EtherType); the record's own bytes stay available in
 * orig_data. Other link types (802.11, radiotap, DSA tags, anything unknown)
 * are refused, or skipped record by record when the caller asks.
 *
 * Record numbers are counted from 0, in the order libpcap returns the
 * records, skipped ones included: trace_record.index, the "record N" of error
 * messages and the report's packet_index are the same number (Wireshark's
 * frame number minus one).
 */
#ifndef NICSIM_TRACE_H
#define NICSIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct trace;

/* trace_record.flags: what was done to, or noticed about, the record. */
enum {
  TRACE_REC_CONVERTED = 1u << 0,       /* synthetic Ethernet header (data != orig_data) */
  TRACE_REC_TRUNCATED = 1u << 1,       /* caplen < origlen: bytes past caplen were not captured */
  TRACE_REC_ORIGLEN_ZERO = 1u << 2,    /* the file's wire length was 0: taken as caplen */
  TRACE_REC_ORIGLEN_SHORT = 1u << 3,   /* the file's wire length was below caplen (not 0):
                                          raised to caplen */
  TRACE_REC_TS_BACKWARDS = 1u << 4,    /* earlier than the record delivered before it */
  TRACE_REC_TS_OUT_OF_RANGE = 1u << 5, /* the timestamp could not be used (see trace_next);
                                          ts_* hold a substitute, orig_ts_* the file's */
};

struct trace_record {
  uint64_t index;       /* position in the trace, from 0, counting skipped records */
  uint64_t ts_ps;       /* capture timestamp [ps since the epoch] MODULO 2^64:
                           sec*10^12 + nsec*1000 wraps every 2^64 ps (~213.5
                           days), and any date after 1970-08-01 already has.
                           The difference of two records (unsigned
                           subtraction, b->ts_ps - a->ts_ps) is exact when
                           they are less than ~213 days apart; do not compare
                           ts_ps values with < or use them as absolute times:
                           use ts_sec/ts_nsec for that. */
  uint32_t caplen;      /* bytes present in data */
  uint32_t origlen;     /* bytes of the Ethernet frame on the wire (>= caplen);
                           for a converted record, the file's wire length
                           adjusted by the same header-length difference as
                           caplen */
  const uint8_t *data;  /* the frame as an Ethernet frame; valid until the
                           next trace_next(), trace_rewind() or trace_close() */
  int64_t ts_sec;       /* capture timestamp, exact: seconds since the epoch */
  uint32_t ts_nsec;     /* and nanoseconds (0..999999999) */
  /* Added with link-type conversion; zero-initialising callers stay valid. */
  uint32_t flags;             /* TRACE_REC_* */
  const uint8_t *orig_data;   /* the record as in the file (== data for Ethernet);
                                 same lifetime as data */
  uint32_t orig_caplen;       /* bytes in orig_data */
  uint32_t orig_origlen;      /* the wire length as the file gives it (0, or below
                                 orig_caplen, in hostile files) */
  int orig_linktype;          /* libpcap DLT_ value of orig_data */
  int64_t orig_ts_sec;        /* the timestamp as the file gives it (a pcap
                                 file's seconds unsigned, see trace_next) */
  uint32_t orig_ts_nsec;      /* its fraction in ns (a microsecond file's
                                 scaled up); 2^32 - 1 when larger than that
                                 or negative */
};

/* Counts over the records read since trace_open or the last trace_rewind
 * (a rewind starts them again, so after each full pass they describe the
 * whole trace once). Wire and captured bytes are those of the Ethernet
 * frames delivered. */
struct trace_stats {
  uint64_t records;             /* records libpcap returned, skipped ones included */
  uint64_t packets;             /* records delivered by trace_next */
  uint64_t bytes;               /* sum of their origlen (wire bytes, no FCS) */
  uint64_t captured_bytes;      /* sum of their caplen */
  uint64_t truncated_packets;   /* delivered with caplen < origlen */
  uint64_t uncaptured_bytes;    /* sum of origlen - caplen over those */
  uint64_t origlen_zero;        /* wire length 0 in the file, taken as caplen */
  uint64_t origlen_short;       /* wire length below caplen (not 0), raised to caplen */
  uint64_t ts_backwards;        /* timestamp earlier than the previous delivered record's */
  uint64_t ts_out_of_range;     /* timestamp replaced (TRACE_REC_TS_OUT_OF_RANGE) */
  uint64_t skipped_unsupported; /* records skipped: no Ethernet form (skip_unsupported) */
  uint64_t converted;           /* delivered with a synthetic Ethernet header */
  uint64_t zero_length;         /* records skipped: no byte captured (caplen 0) */
};

struct trace_open_opts {
  /* 0 (default): a capture whose link type has no Ethernet form is refused
   * by trace_open2, and a record that cannot be converted (a Linux cooked
   * record carrying CAN or netlink, a raw-IP record that is not IPv4 or
   * IPv6, a loopback record of another address family) is an error of
   * trace_next. 1: such records are skipped, counted in
   * trace_stats.skipped_unsupported; a capture of an unsupported link type
   * then opens and reads as no packets. */
  int skip_unsupported;
  /* 0 (default): records of a standard pcap file opened by path are read
   * directly, in large blocks, with libpcap's rules and texts (libpcap
   * still opens the file and checks its header); pcapng, other formats, standard
   * input and pipes are read by libpcap. 1: libpcap reads every record
   * (the reference the direct reader is tested against). */
  int libpcap_records;
  /* Most bytes read from standard input, a pipe or a device (they are
   * spooled to a temporary file so that the trace can be read twice);
   * 0: TRACE_SPOOL_MAX_BYTES. Past it, trace_open2 fails with a message. */
  uint64_t spool_max_bytes;
  /* TRACE_READ_AHEAD_OFF (0, default): trace_next reads each record when
   * asked. TRACE_READ_AHEAD_ON: a second thread reads and checks records
   * ahead of trace_next (into a few fixed batches of about 256 KiB, so
   * memory stays independent of the trace's length), from the first
   * trace_next after trace_open2 or trace_rewind until the end of the pass,
   * trace_rewind or trace_close, which stop it wherever it is. Every
   * record, count, error text and the record an error comes at are the
   * same as without; the thread blocks every signal. TRACE_READ_AHEAD_AUTO:
   * on when a CPU is free for the thread (cpus_spare: the process may run
   * on 2 CPUs or more and the load average leaves one idle), else off;
   * decided at trace_open2. If no thread can be started, records are read
   * without one. */
  int read_ahead;
};

enum { TRACE_READ_AHEAD_OFF = 0, TRACE_READ_AHEAD_ON = 1, TRACE_READ_AHEAD_AUTO = 2 };

#define TRACE_SPOOL_MAX_BYTES (1ull << 30) /* 1 GiB; a larger trace is given as a file */

void trace_open_opts_default(struct trace_open_opts *o);

/* Open PATH ("-" for standard input, spooled to an unlinked temporary file so
 * that the trace can be read twice; a path that is a pipe or a device, e.g.
 * <(cmd), is spooled the same way). NULL with err filled on failure: a
 * missing or unreadable file, a file libpcap does not open, a link type the
 * simulator cannot feed to an Ethernet NIC. Messages start with the path as
 * given ("<stdin>" for "-") and ": ":
 *   "FILE: cannot open: No such file or directory"
 *   "FILE: not a capture file libpcap can read: <libpcap's text>"
 *   "FILE: link type IEEE802_11_RADIO (127) is not supported (the NIC model
 *    takes Ethernet frames; Linux cooked, raw IP and BSD loopback captures
 *    are converted)"                                (all on one line)
 * opts may be NULL (the defaults). trace_open(p, e, n) is
 * trace_open2(p, NULL, e, n). */
struct trace *trace_open2(const char *path, const struct trace_open_opts *opts, char *err,
                          size_t errlen);
struct trace *trace_open(const char *path, char *err, size_t errlen);

/* Next record: 1 with *rec filled, 0 at the end, -1 with err filled (a torn
 * or corrupt record: the message names the file and the record index, from 0
 * like trace_record.index, then libpcap's own text: "FILE: record 7:
 * truncated dump file; tried to read 60 captured bytes, only got 20"; or a
 * record that cannot be converted, without skip_unsupported; or a file that
 * changed since it was opened, see trace_unchanged). After -1 every
 * further call returns -1 with the same message until trace_rewind().
 *
 * Hostile values are made usable and counted (trace_stats, rec->flags):
 * - caplen <= origlen always: a wire length of 0, or below caplen, becomes
 *   caplen. caplen < origlen is a truncated capture; the bytes past caplen
 *   are unknown to the simulator.
 * - A timestamp earlier than the previous record's is passed on as it is
 *   (TRACE_REC_TS_BACKWARDS); replay places such a frame right after the
 *   previous one.
 * - A pcap file's seconds are its unsigned 32-bit field (libpcap reads the
 *   field as signed, so it would put 2038..2106 before 1970).
 * - A timestamp is out of range when its nanoseconds are 10^9 or more (a
 *   microsecond field of 10^6 or more included), its seconds are negative
 *   or past 2^32 - 1 (2106-02-07, the end of the pcap format's field), or it lies 2^63 ps (about 106.75 days) or more from
 *   the first delivered record's, where ts_ps differences stop being
 *   meaningful. It is replaced by the previous delivered record's timestamp
 *   (for the first record: seconds clamped to 0..2^32-1, nanoseconds 0 when
 *   invalid). */
int trace_next(struct trace *t, struct trace_record *rec, char *err, size_t errlen);

/* Start again from the first record (reopens the capture from offset 0) and
 * reset the counts. 0, or -1 with err filled (the file changed since it was
 * opened, see trace_unchanged). */
int trace_rewind(struct trace *t, char *err, size_t errlen);

/* 0 when the file is as it was at trace_open2, -1 with err filled when its
 * size or modification time has moved since: "FILE: changed while it was
 * read (...); replay a copy that nothing writes to". trace_next checks this
 * at the end of each pass and on a torn record, trace_rewind before it
 * starts again; a caller that stops before the end (a limit) asks here.
 * Standard input and pipes are read from a copy and never change. */
int trace_unchanged(struct trace *t, char *err, size_t errlen);

/* The counts so far; the pointer stays valid until trace_close(). */
const struct trace_stats *trace_stats(const struct trace *t);

/* The path as given ("-" for standard input). */
const char *trace_path(const struct trace *t);

/* The link type of trace_record.data: always DLT_EN10MB (1) and "EN10MB",
 * whatever the file holds, since records are delivered as Ethernet frames.
 * This is the link type to compile BPF filters for (trace_filter_new). */
int trace_linktype(const struct trace *t);
const char *trace_linktype_name(const struct trace *t);

/* The capture's own link type, as libpcap reports it: a DLT_ value, which
 * for a few types differs from the LINKTYPE_ number in the file
 * (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux). The name is libpcap's
 * ("LINUX_SLL", "RAW", "NULL"...), or "unknown" when libpcap has none. */
int trace_file_linktype(const struct trace *t);
const char *trace_file_linktype_name(const struct trace *t);
/* 1 when records of this capture get a synthetic Ethernet header. */
int trace_converts(const struct trace *t);
/* 1 when the records are read directly, in blocks (a standard pcap
 * file opened by path), 0 when libpcap reads them (trace_open_opts). */
int trace_direct(const struct trace *t);
/* 1 when the records are read ahead on a second thread (trace_open_opts:
 * read_ahead on, or auto with a CPU free), 0 when trace_next reads them
 * itself. */
int trace_reads_ahead(const struct trace *t);

void trace_close(struct trace *t);

/* A BPF filter expression compiled by libpcap for the trace's link type
 * (app.owns). It is applied to trace_record.data, so pass the link type of
 * that data (trace_linktype(): DLT_EN10MB). NULL with err filled when the
 * expression does not compile:
 *   "app.owns: cannot compile filter 'EXPR': <libpcap's text>"
 * (no file name: the caller prefixes where the expression came from). */
struct trace_filter;
struct trace_filter *trace_filter_new(int linktype, const char *expr, char *err, size_t errlen);
/* 1 when the record matches, else 0. */
int trace_filter_match(const struct trace_filter *f, const struct trace_record *rec);
/* The same compiled for another use (xdp.rules): err is libpcap's text alone,
 * for the caller to prefix with the key and the rule. */
struct trace_filter *trace_filter_compile(int linktype, const char *expr, char *err, size_t errlen);
/* 1 when caplen bytes of data (a frame of wire_len bytes on the wire, of the
 * link type the filter was compiled for) match, else 0: the filter reads no
 * byte past caplen (pcap_offline_filter). */
int trace_filter_match_bytes(const struct trace_filter *f, const uint8_t *data, uint32_t caplen,
                             uint32_t wire_len);
void trace_filter_free(struct trace_filter *f);

#endif
