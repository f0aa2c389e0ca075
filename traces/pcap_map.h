/*
 * The record reader for standard pcap files on disk, without libpcap's
 * per-record copy: the file is read in large blocks and each record's
 * header and bytes are parsed where they lie in the block.
 * Internal to traces (trace.c is its only user; trace.h stays the module's
 * interface).
 *
 * It takes over from libpcap after libpcap has opened the file and checked
 * its header, and only for what it reproduces exactly: a regular file whose
 * magic is the standard pcap one (microsecond or nanosecond, either byte
 * order), of a link type libpcap does not post-process (pcap_post_process
 * touches only USB and NFLOG records, which the simulator does not take).
 * Every other format (pcapng, the modified formats of other magics) and
 * every other input (pipes, standard input) stays with libpcap.
 *
 * Records come out as libpcap's pcap_next_ex gives them: the same header
 * fields (timestamps scaled up to nanoseconds for microsecond files, as
 * libpcap does when opened with PCAP_TSTAMP_PRECISION_NANO), the same bytes,
 * and for a torn or hostile record the same failure and libpcap's very text
 * (sf-pcap.c, pcap_next_packet: truncated header or data, a caplen above
 * the link type's maximum, a caplen above the snaplen cut to it).
 */
#ifndef NICSIM_PCAP_MAP_H
#define NICSIM_PCAP_MAP_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

struct pcap_map;

/* Read the file behind fd (a regular file; a duplicate of the descriptor
 * is kept, read with pread, so fd's offset does not matter) from after the
 * file header, for the capture libpcap opened as p. NULL when this reader
 * does not take the file (see above; also link types whose records may be
 * larger than MAXIMUM_SNAPLEN) or memory runs out: the caller goes on with
 * libpcap. */
struct pcap_map *pcap_map_open(int fd, pcap_t *p);

/* Next record, as pcap_next_ex: 1 with *hdr and *data filled (data valid
 * until the next call or pcap_map_close), 0 at the end of the file, -1 with
 * libpcap's text for the record in errbuf (PCAP_ERRBUF_SIZE bytes). */
int pcap_map_next(struct pcap_map *m, struct pcap_pkthdr *hdr, const uint8_t **data,
                  char *errbuf);

void pcap_map_close(struct pcap_map *m);

#endif
