/*
 * Standard pcap records parsed where they lie in blocks of the file (pcap_map.h).
 *
 * The rules are libpcap 1.10's, from sf-pcap.c (pcap_check_header and
 * pcap_next_packet) and savefile.c (pcap_adjust_snapshot), and its error
 * texts are reproduced word for word; tests/unit/test_pcap_map.c reads every
 * capture of the tests and of the shared corpus, and torn and hostile
 * variants of them, both ways and compares record by record.
 *
 * How the bytes are fetched: by pread(2) into one 272 KiB window that
 * slides over the file (a record is parsed where it lies in the window,
 * never copied on its own), not by mmap(2). Both were measured: with the
 * file mapped, a replay of 1,514-byte frames took about 20% more CPU time
 * (page faults and cold cache lines taken in the simulator's own loop);
 * the kernel's bulk copy into a window small enough to stay in cache costs
 * less than what it saves, and a 1 MiB window did worse than 272 KiB.
 * Memory is the window, whatever the length of the trace.
 */
#include "pcap_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
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
/* The window: a record header and the largest record this reader takes
 * (MAXIMUM_SNAPLEN), with room to spare. */
#define PCAP_MAP_WINDOW_BYTES ((size_t)272 << 10)

/* How the caplen and len fields are ordered (sf-pcap.c: "We interchanged
 * the caplen and len fields at version 2.3"). */
enum lengths { LENGTHS_NOT_SWAPPED, LENGTHS_SWAPPED, LENGTHS_MAYBE_SWAPPED };

struct pcap_map {
  int fd;
  uint8_t *buf;      /* the window */
  size_t pos, end;   /* the next record header is at buf[pos]; bytes up to end */
  uint64_t file_off; /* where the next pread starts */
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
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < FILE_HDR_BYTES)
    return NULL;
  int dlt = pcap_datalink(p);
  int swapped = pcap_is_swapped(p) == 1;
  int snapshot = pcap_snapshot(p);
  if (libpcap_rewrites(dlt, swapped) || snapshot <= 0 ||
      max_snaplen_for_dlt(dlt) > MAXIMUM_SNAPLEN)
    return NULL;
  struct pcap_map *m = calloc(1, sizeof *m);
  if (m == NULL)
    return NULL;
  m->fd = dup(fd);
  m->buf = malloc(PCAP_MAP_WINDOW_BYTES);
  if (m->fd < 0 || m->buf == NULL || pread(fd, m->buf, FILE_HDR_BYTES, 0) != FILE_HDR_BYTES) {
    pcap_map_close(m);
    return NULL;
  }
  m->swapped = swapped;
  /* The magic as libpcap took it: only the two standard ones are ours. */
  uint32_t magic = rd32(m, m->buf);
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
  m->file_off = FILE_HDR_BYTES;
  (void)posix_fadvise(m->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return m;
}

/* At least need bytes from the next record header on in the window, unless
 * the file ends first: returns the bytes there (need <= the window), or -1
 * with libpcap's text on a read error. */
static long long window(struct pcap_map *m, size_t need, char *errbuf) {
  if (m->end - m->pos >= need)
    return (long long)(m->end - m->pos);
  memmove(m->buf, m->buf + m->pos, m->end - m->pos);
  m->end -= m->pos;
  m->pos = 0;
  while (m->end < need) {
    ssize_t n = pread(m->fd, m->buf + m->end, PCAP_MAP_WINDOW_BYTES - m->end, (off_t)m->file_off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(errbuf, PCAP_ERRBUF_SIZE, "error reading dump file: %s", strerror(errno));
      return -1;
    }
    if (n == 0)
      break;
    m->end += (size_t)n;
    m->file_off += (uint64_t)n;
  }
  return (long long)m->end;
}

int pcap_map_next(struct pcap_map *m, struct pcap_pkthdr *hdr, const uint8_t **data,
                  char *errbuf) {
  long long have = window(m, REC_HDR_BYTES, errbuf);
  if (have < 0)
    return -1;
  size_t left = (size_t)have;
  if (left < REC_HDR_BYTES) {
    if (left == 0)
      return 0;
    snprintf(errbuf, PCAP_ERRBUF_SIZE,
             "truncated dump file; tried to read %zu header bytes, only got %zu",
             (size_t)REC_HDR_BYTES, left);
    return -1;
  }
  const uint8_t *h = m->buf + m->pos;
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
  if (caplen <= m->max_caplen) {
    /* caplen <= MAXIMUM_SNAPLEN here: header and data fit the window. */
    have = window(m, REC_HDR_BYTES + (size_t)caplen, errbuf);
    if (have < 0)
      return -1;
    h = m->buf + m->pos;
    left = (size_t)have;
  }
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
  m->pos += REC_HDR_BYTES + (size_t)caplen;
  return 1;
}

void pcap_map_close(struct pcap_map *m) {
  if (m == NULL)
    return;
  if (m->fd >= 0)
    close(m->fd);
  free(m->buf);
  free(m);
}
