/*
 * Read-ahead of capture records on a second thread. Internal to traces
 * (trace.c is its only user; trace.h stays the module's interface).
 *
 * A reader thread calls the record source (pcap_next_ex, or the direct
 * reader of pcap_map.h) ahead of the caller and copies each record, header
 * and bytes, into one of a few fixed batches; the caller takes them in
 * order with the source's very results: the same records, then the same end
 * (the end of the file, or the error with its text), after the records that
 * came before it. Memory is the batches, whatever the length of the trace.
 *
 * The source belongs to the reader thread from readahead_start until
 * readahead_stop returns: the caller must not touch it in between. The
 * reader thread blocks every signal, so that signals keep reaching the
 * thread that runs the simulation.
 */
#ifndef NICSIM_READAHEAD_H
#define NICSIM_READAHEAD_H

#include <pcap/pcap.h>

/* The record source, with pcap_next_ex's results: 1 with *hdr and *data
 * set (valid until the next call; buf is room the source may use for the
 * header), PCAP_ERROR_BREAK at the end, anything else an error with *why
 * set to its text (valid until the next call). */
typedef int (*readahead_source)(void *ctx, struct pcap_pkthdr *buf, struct pcap_pkthdr **hdr,
                                const u_char **data, const char **why);

struct readahead;

/* The reader thread's name (/proc/PID/task/TID/comm, ps -L, top -H). */
#define READAHEAD_THREAD_NAME "trace-reader"

/* Start reading src ahead. NULL when no thread or memory can be had: the
 * caller then reads the source itself. */
struct readahead *readahead_start(readahead_source src, void *ctx);

/* The source's next result, in order, as the source gave it: *hdr and
 * *data valid until the next call or readahead_stop. After the end or an
 * error, every further call gives the same again. */
int readahead_next(struct readahead *ra, struct pcap_pkthdr **hdr, const u_char **data,
                   const char **why);

/* Stop the reader thread wherever it is, wait for it, free everything.
 * NULL is allowed. */
void readahead_stop(struct readahead *ra);

#endif
