/*
 * Standard pcap records read from a mapping of the file (pcap_map.h).
 *
 * The rules are libpcap 1.10's, from sf-pcap.c (pcap_check_header and
 * pcap_next_packet) and savefile.c (pcap_adjust_snapshot), and its error
 * texts are reproduced word for word; tests/unit/test_pcap_map.c reads every
 * capture of the tests and of the shared corpus, and torn and hostile
 * variants of them, both ways and compares record by record.
 *
 * Memory: the mapping is the size of the file, but pages already read are
 * released from this process every TRACE_MAP_RELEASE_BYTES (they stay in
 * the page cache), so the resident set does not grow with the trace.
 */
#include "pcap_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* sf-pcap.c */
#define TCPDUMP_MAGIC 0xa1b2c3d4u
#define NSEC_TCPDUMP_MAGIC 0xa1b23c4du
enum {
  FILE_HDR_BYTES = 24, /* struct pcap_file_header */
  REC_HDR_BYTES = 16,  /* struct pcap_sf_pkthdr: ts.tv_sec, ts.tv_usec, caplen, len */
  MAXIMUM_SNAPLEN = 262144, /* pcap-int.h */
};
#define TRACE_MAP_RELEASE_BYTES ((size_t)8 << 20)

/* How the caplen and len fields are ordered (sf-pcap.c: "We interchanged
 * the caplen and len fields at version 2.3"). */
enum lengths { LENGTHS_NOT_SWAPPED, LENGTHS_SWAPPED, LENGTHS_MAYBE_SWAPPED };

struct pcap_map {
  const uint8_t *base;
  size_t size;
  size_t off;      /* the next record header */
  size_t released; /* pages below this offset were given back */
  int swapped;     /* the file's byte order is not ours */
  int scale_up;    /* microsecond file: tv_usec * 1000 */
  enum lengths lengths;
  uint32_t snapshot; /* pcap_snapshot(): the file's snaplen, adjusted */
  uint32_t max_caplen;
};

static uint32_t swap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

static uint32_t rd32(const struct pcap_map *m, const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return m->swapped ? swap32(v) : v;
}

/* pcap-common.c, max_snaplen_for_dlt. */
static uint32_t max_snaplen_for_dlt(int dlt) {
  switch (dlt) {
  case DLT_DBUS:
    return 128u * 1024 * 1024;
#ifdef DLT_EBHSCR
  case DLT_EBHSCR:
    return 8u * 1024 * 1024;
#endif
#ifdef DLT_USBPCAP
  case DLT_USBPCAP:
    return 1024u * 1024;
#endif
  default:
    return MAXIMUM_SNAPLEN;
  }
}

/* Link types whose records libpcap rewrites after reading them
 * (pcap-util.c, pcap_post_process: swap_pseudo_headers for a file of the
 * other byte order, fixup_pcap_pkthdr for USB_LINUX_MMAPPED). */
static int libpcap_rewrites(int dlt, int swapped) {
  if (dlt == DLT_USB_LINUX_MMAPPED)
    return 1;
  if (!swapped)
    return 0;
  switch (dlt) {
  case DLT_PFLOG:
  case DLT_LINUX_SLL:
  case DLT_LINUX_SLL2:
  case DLT_USB_LINUX:
  case DLT_NFLOG:
    return 1;
  default:
    return 0;
  }
}

struct pcap_map *pcap_map_open(int fd, pcap_t *p) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < FILE_HDR_BYTES ||
      (uint64_t)st.st_size > SIZE_MAX)
    return NULL;
  int dlt = pcap_datalink(p);
  int swapped = pcap_is_swapped(p) == 1;
  int snapshot = pcap_snapshot(p);
  if (libpcap_rewrites(dlt, swapped) || snapshot <= 0)
    return NULL;
  size_t size = (size_t)st.st_size;
  void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (base == MAP_FAILED)
    return NULL;
  struct pcap_map *m = calloc(1, sizeof *m);
  if (m == NULL) {
    munmap(base, size);
    return NULL;
  }
  m->base = base;
  m->size = size;
  m->swapped = swapped;
  /* The magic as libpcap took it: only the two standard ones are ours. */
  uint32_t magic = rd32(m, m->base);
  int major = pcap_major_version(p), minor = pcap_minor_version(p);
  if (magic != TCPDUMP_MAGIC && magic != NSEC_TCPDUMP_MAGIC) {
    pcap_map_close(m);
    return NULL;
  }
  m->scale_up = magic == TCPDUMP_MAGIC;
  if (major == 2)
    m->lengths = minor < 3    ? LENGTHS_SWAPPED
                 : minor == 3 ? LENGTHS_MAYBE_SWAPPED
                              : LENGTHS_NOT_SWAPPED;
  else if (major == 543)
    m->lengths = LENGTHS_SWAPPED;
  else
    m->lengths = LENGTHS_NOT_SWAPPED;
  m->snapshot = (uint32_t)snapshot;
  m->max_caplen = max_snaplen_for_dlt(dlt);
  m->off = FILE_HDR_BYTES;
  (void)madvise(base, size, MADV_SEQUENTIAL);
  return m;
}

/* Give back the pages wholly below the current record. */
static void release_behind(struct pcap_map *m) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t upto = m->off / page * page;
  if (upto > m->released) {
    (void)madvise((void *)(m->base + m->released), upto - m->released, MADV_DONTNEED);
    m->released = upto;
  }
}

int pcap_map_next(struct pcap_map *m, struct pcap_pkthdr *hdr, const uint8_t **data,
                  char *errbuf) {
  if (m->off - m->released >= TRACE_MAP_RELEASE_BYTES)
    release_behind(m);
  size_t left = m->size - m->off;
  if (left < REC_HDR_BYTES) {
    if (left == 0)
      return 0;
    snprintf(errbuf, PCAP_ERRBUF_SIZE,
             "truncated dump file; tried to read %zu header bytes, only got %zu",
             (size_t)REC_HDR_BYTES, left);
    return -1;
  }
  const uint8_t *h = m->base + m->off;
  /* struct pcap_timeval holds two bpf_int32: sign-extended into the
   * struct timeval, and tv_usec scaled in its own width. */
  hdr->ts.tv_sec = (int32_t)rd32(m, h);
  hdr->ts.tv_usec = (int32_t)rd32(m, h + 4);
  if (m->scale_up)
    hdr->ts.tv_usec = hdr->ts.tv_usec * 1000;
  uint32_t caplen = rd32(m, h + 8), len = rd32(m, h + 12);
  if (m->lengths == LENGTHS_SWAPPED || (m->lengths == LENGTHS_MAYBE_SWAPPED && caplen > len)) {
    uint32_t t = caplen;
    caplen = len;
    len = t;
  }
  hdr->len = len;
  left -= REC_HDR_BYTES;
  if (caplen > m->max_caplen) {
    if (caplen > m->snapshot)
      snprintf(errbuf, PCAP_ERRBUF_SIZE,
               "invalid packet capture length %u, bigger than snaplen of %d", caplen,
               (int)m->snapshot);
    else
      snprintf(errbuf, PCAP_ERRBUF_SIZE,
               "invalid packet capture length %u, bigger than maximum of %u", caplen,
               m->max_caplen);
    return -1;
  }
  if (caplen > m->snapshot) {
    /* Read snapshot bytes, discard the rest, report snapshot bytes. */
    if (left < m->snapshot) {
      snprintf(errbuf, PCAP_ERRBUF_SIZE,
               "truncated dump file; tried to read %d captured bytes, only got %zu",
               (int)m->snapshot, left);
      return -1;
    }
    if (left < caplen) {
      snprintf(errbuf, PCAP_ERRBUF_SIZE,
               "truncated dump file; tried to read %u captured bytes, only got %zu", caplen,
               left);
      return -1;
    }
    hdr->caplen = m->snapshot;
  } else {
    if (left < caplen) {
      snprintf(errbuf, PCAP_ERRBUF_SIZE,
               "truncated dump file; tried to read %u captured bytes, only got %zu", caplen,
               left);
      return -1;
    }
    hdr->caplen = caplen;
  }
  *data = h + REC_HDR_BYTES;
  m->off += REC_HDR_BYTES + (size_t)caplen;
  return 1;
}

void pcap_map_close(struct pcap_map *m) {
  if (m == NULL)
    return;
  munmap((void *)m->base, m->size);
  free(m);
}
