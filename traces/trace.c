/*
 * Capture reading through libpcap.
 *
 * The capture is opened once as a file descriptor (the "master"); every
 * (re)open hands libpcap a dup() of it, rewound to offset 0, so trace_rewind
 * works the same for files and for standard input (which is first spooled to
 * an unnamed temporary file in $TMPDIR). libpcap reads one record at a time
 * into its own buffer, and a converted record is built in one per-trace
 * buffer that only grows to the largest record, so memory does not grow
 * with the length of the trace.
 *
 * One exception, for speed: once libpcap has opened a standard pcap file
 * given by path and checked its header, its records are read where they lie
 * in blocks read from the file (pcap_map.h), with libpcap's rules and
 * error texts, instead of being copied one by one into libpcap's buffer.
 * pcapng, other formats, standard input and pipes stay with libpcap.
 *
 * With read_ahead, both readers run on a second thread ahead of trace_next
 * (readahead.h), which takes their results in order, raw; everything after
 * the reader (conversion, timestamps, counts, the failure text and its
 * record number) is done here, in trace_next, either way.
 *
 * libpcap does the file format: pcap in both byte orders, microsecond and
 * nanosecond pcap (we always ask for nanoseconds, and libpcap scales
 * microsecond files up), pcapng with several sections and interfaces and
 * each interface's if_tsresol/if_tsoffset. It also does the hostile-length
 * checks of sf-pcap.c/sf-pcapng.c: a caplen above the link type's maximum
 * snapshot length is an error; in pcap, a caplen above the file's snaplen
 * but within that maximum is cut to the snaplen (a Solaris 2.3 BUFMOD
 * workaround kept for old files); in pcapng it is an error. We surface its
 * text unchanged after "FILE: record N: ".
 *
 * libpcap 1.10 gives one link type per capture: a pcapng file whose
 * interfaces differ in link type fails when the second interface's block is
 * read ("an interface has a type 101 different from the type of the first
 * interface"). So link-type support is decided at open; the per-record
 * refusals are those a supported link type can still carry (a Linux cooked
 * record of CAN or netlink, a raw-IP record that is not IP...).
 */
#include "trace.h"

#include "cpus.h"
#include "outfile.h"
#include "pcap_map.h"
#include "readahead.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
  ETH_HLEN_ = 14,
  ETH_P_IPV4_ = 0x0800,
  ETH_P_IPV6_ = 0x86dd,
  ETH_MIN_TYPE = 0x0600, /* EtherType values start here (IEEE 802.3 clause 3.2.6);
                            below is an 802.3 length */
  ETH_MAX_8023_LEN = 1500,
  /* Linux cooked captures (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html,
   * LINKTYPE_LINUX_SLL2.html, libpcap's pcap/sll.h). */
  SLL_HLEN = 16,
  SLL2_HLEN = 20,
  SLL_PKT_BROADCAST = 1,
  SLL_PKT_MULTICAST = 2,
  SLL_P_802_3 = 0x0001,   /* Novell 802.3 frame without an 802.2 LLC header */
  SLL_P_ETHERNET = 0x0003, /* the payload is a whole Ethernet frame */
  SLL_P_802_2 = 0x0004,   /* the payload starts with an 802.2 LLC header */
  /* ARPHRD_ types whose protocol field is not an EtherType, or whose
   * payload is another link layer (linux/if_arp.h). */
  ARPHRD_FRAD_ = 770,
  ARPHRD_IEEE80211_ = 801,
  ARPHRD_IEEE80211_PRISM_ = 802,
  ARPHRD_IEEE80211_RADIOTAP_ = 803,
  ARPHRD_IEEE802154_ = 804,
  ARPHRD_IEEE802154_MONITOR_ = 805,
  ARPHRD_NETLINK_ = 824,
  /* BSD loopback: the address family in the first 4 bytes
   * (https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html). IPv6 has a
   * different value on each BSD. */
  NULL_HLEN = 4,
  BSD_AF_INET = 2,
  BSD_AF_INET6_BSD = 24,     /* NetBSD, OpenBSD, BSD/OS; also Npcap's loopback */
  BSD_AF_INET6_FREEBSD = 28, /* FreeBSD, DragonFly BSD */
  BSD_AF_INET6_DARWIN = 30,  /* macOS, iOS */
};

/* Synthetic MAC addresses for converted records: locally administered
 * (bit 1 of the first octet set), unicast, and spelling "ns" (nicsim) so
 * they stand out in a hex dump. docs/traces.md lists them. */
static const uint8_t SYN_SRC_MAC[6] = {0x02, 0x6e, 0x73, 0x00, 0x00, 0x01};
static const uint8_t SYN_DST_MAC[6] = {0x02, 0x6e, 0x73, 0x00, 0x00, 0x02};
static const uint8_t BROADCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Timestamps: 2^63 ps in ns (9223372.036854775808 s), the farthest two
 * records may be apart for ts_ps differences to keep their sign. */
#define TS_SPAN_NS INT64_C(9223372036854775)
#define TS_MAX_SEC INT64_C(4294967295)

struct trace {
  char *path;        /* as given */
  const char *label; /* for messages: path, or "<stdin>" for "-" */
  int master_fd;     /* the capture file (or the spool), never read directly */
  pcap_t *pcap;      /* NULL after a failed reopen */
  char *iobuf;       /* stdio buffer of pcap's FILE (outlives it; one per trace) */
  int file_linktype; /* libpcap's DLT_ for the capture */
  int supported;     /* 1: the link type has an Ethernet form */
  int skip_unsupported;
  int map_ok;              /* records may be read directly: a standard pcap
                              file opened by path (pcap_map.h) */
  int pcap_seconds;        /* 1: a pcap file (not pcapng), whose 32-bit seconds
                              are unsigned and libpcap sign-extends */
  uint32_t fcs_bytes;      /* each frame ends with an FCS of this many bytes
                              (pcap's link-type field: LT_FCS_LENGTH), or 0 */
  int watch;               /* 1: a file given by path, which must stay as it
                              was when opened (trace_unchanged) */
  struct stat opened;      /* its size and modification time then */
  struct pcap_map *map;    /* NULL: libpcap reads the records */
  char map_err[PCAP_ERRBUF_SIZE];
  int read_ahead;          /* 1: records are read on a second thread */
  struct readahead *ra;    /* that thread, from the first trace_next of a
                              pass; it owns pcap and map while it runs */
  uint64_t index;    /* index of the next record */
  int failed;        /* 1 after an error: trace_next repeats it */
  char failure[512];
  struct trace_stats stats;
  /* the previous delivered record's timestamp, and the first one's */
  int have_prev;
  int64_t prev_sec, first_sec;
  uint32_t prev_nsec, first_nsec;
  uint8_t *frame;    /* converted records are built here */
  size_t frame_cap;
};

struct trace_filter {
  struct bpf_program prog;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  /* One line: libpcap's texts have no newline, but strerror() or a path
   * could in theory carry one. */
  for (char *c = err; *c; c++)
    if (*c == '\n' || *c == '\r')
      *c = ' ';
}

static uint16_t rd16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32be(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t rd32le(const uint8_t *p) {
  return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

enum { MAGIC_NONE = 0, MAGIC_PCAP, MAGIC_PCAPNG };

/* What the first four bytes of a capture libpcap reads say: pcap in either
 * byte order (micro- or nanosecond times, or the modified format of
 * 0xa1b2cd34), pcapng's section header, or neither. */
static int capture_magic(const uint8_t *p) {
  static const uint32_t pcap_magics[] = {0xa1b2c3d4u, 0xa1b23c4du, 0xa1b2cd34u};
  uint32_t be = rd32be(p), le = rd32le(p);
  for (size_t i = 0; i < sizeof pcap_magics / sizeof pcap_magics[0]; i++)
    if (be == pcap_magics[i] || le == pcap_magics[i])
      return MAGIC_PCAP;
  return be == 0x0a0d0d0au ? MAGIC_PCAPNG : MAGIC_NONE;
}

/* Copy a pipe or device to an unnamed temporary file (outfile_anon_tmp),
 * at most max bytes. -1 with errno set: EFBIG past max, ENOEXEC when the
 * first bytes are no capture's (so that /dev/zero is refused at once),
 * EINTR when a signal interrupted a read (the caller stops), ENOTTY when
 * in_fd is a terminal (nobody types a capture: waiting for one would look
 * like a hang); *to_tmp is 1 when the temporary file could not be made or
 * written. */
static int spool_fd(int in_fd, uint64_t max, int *to_tmp) {
  *to_tmp = 0;
  if (isatty(in_fd)) {
    errno = ENOTTY;
    return -1;
  }
  *to_tmp = 1;
  int fd = outfile_anon_tmp();
  if (fd < 0)
    return -1;
  *to_tmp = 0;
  int saved;
  char buf[65536];
  uint8_t head[4];
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(in_fd, buf, sizeof buf);
    if (n == 0)
      break;
    if (n < 0) {
      saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (total < sizeof head) {
      size_t k = sizeof head - (size_t)total < (size_t)n ? sizeof head - (size_t)total : (size_t)n;
      memcpy(head + total, buf, k);
      if (total + k == sizeof head && !capture_magic(head)) {
        close(fd);
        errno = ENOEXEC;
        return -1;
      }
    }
    total += (uint64_t)n;
    if (total > max) {
      close(fd);
      errno = EFBIG;
      return -1;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w < 0) {
        if (errno == EINTR)
          continue;
        saved = errno;
        close(fd);
        errno = saved;
        *to_tmp = 1;
        return -1;
      }
      off += w;
    }
  }
  return fd;
}

/* The message for a failed spool_fd. */
static void spool_err(const struct trace *t, uint64_t max, int e, int to_tmp, char *err, size_t errlen) {
  const char *dir = getenv("TMPDIR");
  if (to_tmp)
    set_err(err, errlen, "%s: cannot copy it to a temporary file in %s: %s", t->label,
            dir && *dir ? dir : "/tmp", strerror(e));
  else if (e == EFBIG)
    set_err(err, errlen, "%s: more than %" PRIu64 " bytes from a pipe or device (give a trace that large as a "
            "file)", t->label, max);
  else if (e == ENOEXEC)
    set_err(err, errlen, "%s: not a capture file libpcap can read: it does not start like a pcap or pcapng file",
            t->label);
  else if (e == EINTR)
    set_err(err, errlen, "%s: reading stopped by a signal", t->label);
  else if (e == ENOTTY)
    set_err(err, errlen, "%s: is a terminal, not a capture (give a file, or redirect one to it)", t->label);
  else
    set_err(err, errlen, "%s: cannot read: %s", t->label, strerror(e));
}

/* Open libpcap on a fresh dup of the master descriptor, from offset 0. */
#define TRACE_IOBUF_BYTES (256u * 1024u)

static pcap_t *open_pcap(struct trace *t, char *err, size_t errlen) {
  int fd = dup(t->master_fd);
  if (fd < 0) {
    set_err(err, errlen, "%s: cannot open: %s", t->label, strerror(errno));
    return NULL;
  }
  if (lseek(fd, 0, SEEK_SET) < 0) {
    set_err(err, errlen, "%s: cannot rewind: %s", t->label, strerror(errno));
    close(fd);
    return NULL;
  }
  FILE *fp = fdopen(fd, "rb");
  if (fp == NULL) {
    set_err(err, errlen, "%s: cannot open: %s", t->label, strerror(errno));
    close(fd);
    return NULL;
  }
  /* A larger stdio buffer than the default (st_blksize, 4 KiB): libpcap
   * reads each record with fread, and 64-byte records would otherwise cost
   * a read(2) every 50 records. glibc ignores the size unless given the
   * buffer. Only one FILE is open at a time (trace_rewind closes the old
   * one first), so one buffer serves them all. Not fatal if refused. */
  if (!t->iobuf)
    t->iobuf = malloc(TRACE_IOBUF_BYTES);
  if (t->iobuf)
    (void)setvbuf(fp, t->iobuf, _IOFBF, TRACE_IOBUF_BYTES);
  char errbuf[PCAP_ERRBUF_SIZE];
  errbuf[0] = '\0';
  pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (p == NULL) {
    /* pcap_fopen_offline* leaves fp to the caller on failure. */
    fclose(fp);
    set_err(err, errlen, "%s: not a capture file libpcap can read: %s", t->label,
            errbuf[0] ? errbuf : "unknown error");
    return NULL;
  }
  /* On success pcap_close() closes fp (and so fd). */
  return p;
}

/* After libpcap (re)opened the capture and checked its header: read the
 * records directly when pcap_map takes the file. */
static void attach_map(struct trace *t) {
  pcap_map_close(t->map);
  t->map = t->map_ok ? pcap_map_open(t->master_fd, t->pcap) : NULL;
}

/* The next record of the file, directly or through libpcap, with
 * pcap_next_ex's results (readahead_source): on an error, *why is the
 * reader's text. */
static int read_record(void *ctx, struct pcap_pkthdr *buf, struct pcap_pkthdr **hdr,
                       const u_char **data, const char **why) {
  struct trace *t = ctx;
  int rc;
  if (t->map) {
    const uint8_t *d = NULL;
    rc = pcap_map_next(t->map, buf, &d, t->map_err);
    *hdr = buf;
    *data = d;
    rc = rc == 1 ? 1 : rc == 0 ? PCAP_ERROR_BREAK : PCAP_ERROR;
  } else {
    rc = pcap_next_ex(t->pcap, hdr, data);
  }
  /* PCAP_ERROR: a torn or corrupt record, or one libpcap refuses (its text
   * says which). 0, a timeout, cannot happen on a savefile; treat it like an
   * error rather than loop. */
  if (rc != 1 && rc != PCAP_ERROR_BREAK)
    *why = rc != PCAP_ERROR ? "unexpected result from pcap_next_ex"
           : t->map         ? t->map_err
                            : pcap_geterr(t->pcap);
  return rc;
}

static void free_trace(struct trace *t) {
  if (t == NULL)
    return;
  readahead_stop(t->ra); /* first: it reads through map and pcap */
  pcap_map_close(t->map);
  if (t->pcap != NULL)
    pcap_close(t->pcap);
  if (t->master_fd >= 0)
    close(t->master_fd);
  free(t->iobuf); /* after pcap_close closed the FILE using it */
  free(t->frame);
  free(t->path);
  free(t);
}

/* The link types the NIC model can be fed: Ethernet as it is, and those
 * whose records carry something an Ethernet frame carries (IP, or an
 * EtherType-labelled payload) behind a header we can replace. DLT_RAW is 12
 * on Linux (14 on OpenBSD); libpcap maps LINKTYPE_RAW (101) in a file to
 * it. DLT_LOOP is 108 except on OpenBSD. */
static int linktype_supported(int dlt) {
  switch (dlt) {
  case DLT_EN10MB:
  case DLT_LINUX_SLL:
  case DLT_LINUX_SLL2:
  case DLT_RAW:
  case DLT_IPV4:
  case DLT_IPV6:
  case DLT_NULL:
  case DLT_LOOP:
    return 1;
  default:
    return 0;
  }
}

void trace_open_opts_default(struct trace_open_opts *o) { memset(o, 0, sizeof *o); }

struct trace *trace_open(const char *path, char *err, size_t errlen) {
  return trace_open2(path, NULL, err, errlen);
}

struct trace *trace_open2(const char *path, const struct trace_open_opts *opts, char *err,
                          size_t errlen) {
  struct trace_open_opts defaults;
  if (opts == NULL) {
    trace_open_opts_default(&defaults);
    opts = &defaults;
  }
  if (path == NULL || path[0] == '\0') {
    set_err(err, errlen, "%s: cannot open: no file name given", path ? path : "(null)");
    return NULL;
  }
  struct trace *t = calloc(1, sizeof *t);
  if (t == NULL) {
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(ENOMEM));
    return NULL;
  }
  t->master_fd = -1;
  t->skip_unsupported = opts->skip_unsupported != 0;
  t->read_ahead = opts->read_ahead == TRACE_READ_AHEAD_ON ||
                  (opts->read_ahead == TRACE_READ_AHEAD_AUTO && cpus_spare());
  t->path = strdup(path);
  if (t->path == NULL) {
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(ENOMEM));
    free(t);
    return NULL;
  }
  int is_stdin = strcmp(path, "-") == 0;
  t->label = is_stdin ? "<stdin>" : t->path;

  uint64_t spool_max = opts->spool_max_bytes ? opts->spool_max_bytes : TRACE_SPOOL_MAX_BYTES;
  if (is_stdin) {
    int to_tmp;
    t->master_fd = spool_fd(STDIN_FILENO, spool_max, &to_tmp);
    if (t->master_fd < 0) {
      spool_err(t, spool_max, errno, to_tmp, err, errlen);
      free_trace(t);
      return NULL;
    }
  } else {
    /* A FIFO blocks here until a writer comes; a signal ends the wait. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR)
        set_err(err, errlen, "%s: opening stopped by a signal", t->label);
      else
        set_err(err, errlen, "%s: cannot open: %s", t->label, strerror(errno));
      free_trace(t);
      return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      set_err(err, errlen, "%s: cannot open: %s", t->label, strerror(errno));
      close(fd);
      free_trace(t);
      return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
      set_err(err, errlen, "%s: cannot open: %s", t->label, strerror(EISDIR));
      close(fd);
      free_trace(t);
      return NULL;
    }
    if (S_ISREG(st.st_mode)) {
      t->master_fd = fd;
      t->map_ok = !opts->libpcap_records;
      t->watch = 1;
      t->opened = st;
    } else {
      /* A pipe or a device (e.g. /dev/stdin, <(cmd)): spool it too, so that
       * trace_rewind works. */
      int to_tmp;
      t->master_fd = spool_fd(fd, spool_max, &to_tmp);
      int saved = errno;
      close(fd);
      if (t->master_fd < 0) {
        spool_err(t, spool_max, saved, to_tmp, err, errlen);
        free_trace(t);
        return NULL;
      }
    }
  }

  t->pcap = open_pcap(t, err, errlen);
  if (t->pcap == NULL) {
    free_trace(t);
    return NULL;
  }
  attach_map(t);
  uint8_t magic[4];
  t->pcap_seconds = pread(t->master_fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
                    capture_magic(magic) == MAGIC_PCAP;
  t->file_linktype = pcap_datalink(t->pcap);
  /* A pcap file's link-type field may say that every frame ends with its
   * FCS, and how long it is, in 16-bit words (pcap.h, LT_FCS_LENGTH;
   * https://www.tcpdump.org/linktypes.html, the FCS length bits). */
  int ext = pcap_datalink_ext(t->pcap);
  t->fcs_bytes = LT_FCS_LENGTH_PRESENT(ext) ? (uint32_t)LT_FCS_LENGTH(ext) * 2u : 0;
  t->supported = linktype_supported(t->file_linktype);
  if (!t->supported && !t->skip_unsupported) {
    const char *name = pcap_datalink_val_to_name(t->file_linktype);
    char what[96];
    if (name != NULL)
      snprintf(what, sizeof what, "%s (%d)", name, t->file_linktype);
    else
      snprintf(what, sizeof what, "%d", t->file_linktype);
    set_err(err, errlen,
            "%s: link type %s is not supported (the NIC model takes Ethernet frames; Linux "
            "cooked, raw IP and BSD loopback captures are converted)",
            t->label, what);
    free_trace(t);
    return NULL;
  }
  return t;
}

/* Room for a converted frame of n bytes: the buffer only grows, up to the
 * largest record (libpcap bounds caplen by the link type's maximum). */
static int frame_room(struct trace *t, size_t n) {
  if (n <= t->frame_cap)
    return 0;
  size_t cap = t->frame_cap ? t->frame_cap : 2048;
  while (cap < n)
    cap *= 2;
  uint8_t *f = realloc(t->frame, cap);
  if (f == NULL)
    return -1;
  t->frame = f;
  t->frame_cap = cap;
  return 0;
}

/* How a record becomes an Ethernet frame: drop hdr bytes of its own header
 * and, unless the payload is Ethernet already, put dst/src/type in front. */
struct conversion {
  uint32_t hdr;           /* bytes of the record's own header to drop */
  int raw_ethernet;       /* 1: what follows the header is an Ethernet frame */
  uint16_t type;          /* EtherType, or an 802.3 length when < 0x0600 */
  int length_field;       /* 1: type is an 802.3 length, set from the wire length */
  const uint8_t *src_mac; /* NULL: the synthetic one */
  int pkttype;            /* Linux packet type, -1 when unknown */
};

/* Decide the conversion of one record. 0, or -1 with why filled. */
static int plan(int dlt, const uint8_t *d, uint32_t caplen, struct conversion *c, char *why,
                size_t whylen) {
  memset(c, 0, sizeof *c);
  c->pkttype = -1;
  uint16_t proto, hatype;
  uint32_t halen;
  const uint8_t *addr;
  switch (dlt) {
  case DLT_LINUX_SLL:
  case DLT_LINUX_SLL2: {
    int two = dlt == DLT_LINUX_SLL2;
    uint32_t hlen = two ? SLL2_HLEN : SLL_HLEN;
    if (caplen < hlen) {
      snprintf(why, whylen, "%u captured bytes, fewer than the %u-byte Linux cooked header",
               (unsigned)caplen, (unsigned)hlen);
      return -1;
    }
    if (two) { /* protocol, reserved, ifindex, hatype, pkttype, halen, addr[8] */
      proto = rd16be(d);
      hatype = rd16be(d + 8);
      c->pkttype = d[10];
      halen = d[11];
      addr = d + 12;
    } else { /* pkttype, hatype, halen, addr[8], protocol */
      c->pkttype = rd16be(d);
      hatype = rd16be(d + 2);
      halen = rd16be(d + 4);
      addr = d + 6;
      proto = rd16be(d + 14);
    }
    c->hdr = hlen;
    /* Which device types put something else than an EtherType in the
     * protocol field, or another link layer behind the header: the
     * LINKTYPE_LINUX_SLL page and libpcap's pcap/sll.h. */
    switch (hatype) {
    case ARPHRD_NETLINK_:
      snprintf(why, whylen, "Linux cooked record of a netlink socket (ARPHRD %u) has no "
               "Ethernet form", (unsigned)hatype);
      return -1;
    case ARPHRD_FRAD_:
    case ARPHRD_IEEE80211_:
    case ARPHRD_IEEE80211_PRISM_:
    case ARPHRD_IEEE80211_RADIOTAP_:
    case ARPHRD_IEEE802154_:
    case ARPHRD_IEEE802154_MONITOR_:
      snprintf(why, whylen, "Linux cooked record of device type ARPHRD %u (not Ethernet-like) "
               "has no Ethernet form", (unsigned)hatype);
      return -1;
    default:
      break;
    }
    if (halen == 6)
      c->src_mac = addr;
    if (proto >= ETH_MIN_TYPE) {
      c->type = proto;
    } else if (proto == SLL_P_ETHERNET) {
      c->raw_ethernet = 1;
    } else if (proto == SLL_P_802_2 || proto == SLL_P_802_3) {
      /* An 802.3 frame: the type field is the payload's length. */
      c->length_field = 1;
    } else {
      snprintf(why, whylen, "Linux cooked record of protocol 0x%04x (ARPHRD %u) has no "
               "Ethernet form", (unsigned)proto, (unsigned)hatype);
      return -1;
    }
    return 0;
  }
  case DLT_RAW:
    if (caplen < 1) {
      snprintf(why, whylen, "empty raw IP record");
      return -1;
    }
    /* DLT_RAW carries IPv4 or IPv6, told apart by the version nibble. */
    if (d[0] >> 4 == 4) {
      c->type = ETH_P_IPV4_;
    } else if (d[0] >> 4 == 6) {
      c->type = ETH_P_IPV6_;
    } else {
      snprintf(why, whylen, "raw IP record of IP version %u (only 4 and 6 have an EtherType)",
               (unsigned)(d[0] >> 4));
      return -1;
    }
    return 0;
  case DLT_IPV4:
    c->type = ETH_P_IPV4_;
    return 0;
  case DLT_IPV6:
    c->type = ETH_P_IPV6_;
    return 0;
  case DLT_NULL:
  case DLT_LOOP: {
    if (caplen < NULL_HLEN) {
      snprintf(why, whylen, "%u captured bytes, fewer than the 4-byte loopback header",
               (unsigned)caplen);
      return -1;
    }
    /* DLT_LOOP's family is in network byte order; DLT_NULL's in the byte
     * order of the machine that wrote it, which the file does not say:
     * families are small, so a value with its upper half set was written
     * the other way round (tcpdump's print-null.c does the same). */
    uint32_t af = dlt == DLT_LOOP ? rd32be(d) : rd32le(d);
    if (dlt == DLT_NULL && (af & 0xffff0000u) != 0)
      af = rd32be(d);
    c->hdr = NULL_HLEN;
    if (af == BSD_AF_INET) {
      c->type = ETH_P_IPV4_;
    } else if (af == BSD_AF_INET6_BSD || af == BSD_AF_INET6_FREEBSD || af == BSD_AF_INET6_DARWIN) {
      c->type = ETH_P_IPV6_;
    } else {
      snprintf(why, whylen, "loopback record of address family %u (not IPv4 or IPv6)",
               (unsigned)af);
      return -1;
    }
    return 0;
  }
  default:
    snprintf(why, whylen, "link type %d has no Ethernet form", dlt);
    return -1;
  }
}

/* The destination MAC the NIC sees: from the Linux packet type when there
 * is one (broadcast, or the IPv4/IPv6 multicast mapping of RFC 1112 6.4 and
 * RFC 2464 7 when the destination address is captured), else the synthetic
 * unicast address of the simulated NIC. */
static void dst_mac(const struct conversion *c, const uint8_t *l3, uint32_t l3len, uint8_t *out) {
  memcpy(out, SYN_DST_MAC, 6);
  if (c->pkttype == SLL_PKT_BROADCAST) {
    memcpy(out, BROADCAST_MAC, 6);
  } else if (c->pkttype == SLL_PKT_MULTICAST) {
    if (c->type == ETH_P_IPV4_ && l3len >= 20) {
      static const uint8_t pfx[3] = {0x01, 0x00, 0x5e};
      memcpy(out, pfx, 3);
      out[3] = l3[17] & 0x7f;
      out[4] = l3[18];
      out[5] = l3[19];
    } else if (c->type == ETH_P_IPV6_ && l3len >= 40) {
      out[0] = 0x33;
      out[1] = 0x33;
      memcpy(out + 2, l3 + 36, 4);
    } else {
      out[0] |= 0x01; /* the group bit */
    }
  }
}

static void fail(struct trace *t, char *err, size_t errlen, uint64_t index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Record a sticky failure naming the file and the record. */
static void fail(struct trace *t, char *err, size_t errlen, uint64_t index, const char *fmt, ...) {
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(t->failure, sizeof t->failure, "%s: record %llu: %s", t->label,
           (unsigned long long)index, what);
  for (char *c = t->failure; *c; c++)
    if (*c == '\n' || *c == '\r')
      *c = ' ';
  t->failed = 1;
  set_err(err, errlen, "%s", t->failure);
}

/* Has the file changed since trace_open2 (its size or its modification
 * time moved)? The replay reads it twice, a first pass and the replay, and
 * both must read the same records. 1 with the failure recorded (sticky, as
 * for a torn record), else 0. Standard input and pipes are read from a
 * copy nothing else writes. */
static int file_changed(struct trace *t) {
  struct stat st;
  if (!t->watch || fstat(t->master_fd, &st) != 0)
    return 0;
  const struct stat *o = &t->opened;
  if (st.st_size != o->st_size)
    snprintf(t->failure, sizeof t->failure,
             "%s: changed while it was read (%lld bytes when opened, %lld now); replay a copy that "
             "nothing writes to",
             t->label, (long long)o->st_size, (long long)st.st_size);
  else if (st.st_mtim.tv_sec != o->st_mtim.tv_sec || st.st_mtim.tv_nsec != o->st_mtim.tv_nsec)
    snprintf(t->failure, sizeof t->failure,
             "%s: changed while it was read (written to since it was opened); replay a copy that "
             "nothing writes to",
             t->label);
  else
    return 0;
  t->failed = 1;
  return 1;
}

int trace_unchanged(struct trace *t, char *err, size_t errlen) {
  if (!file_changed(t))
    return 0;
  set_err(err, errlen, "%s", t->failure);
  return -1;
}

/* Timestamps: count what is odd, replace what cannot be used (trace.h).
 * ts: the record's time as the reader gave it (in nanoseconds). */
static void check_time(struct trace *t, struct trace_record *rec, const struct timeval *ts) {
  int64_t sec = (int64_t)ts->tv_sec;
  /* pcap's seconds field is unsigned 32-bit (draft-ietf-opsawg-pcap,
   * section 5); libpcap reads it as bpf_int32 and sign-extends it
   * (sf-pcap.c, pcap_next_packet), as the direct reader does. */
  if (t->pcap_seconds && sec < 0 && sec >= INT32_MIN)
    sec += INT64_C(1) << 32;
  /* Scaled up from microseconds, the fraction may not fit 32 bits: a
   * field of 4294968 us would wrap to 704 ns. Judge it whole. */
  int64_t frac = (int64_t)ts->tv_usec;
  rec->orig_ts_sec = sec;
  rec->orig_ts_nsec = frac >= 0 && frac <= UINT32_MAX ? (uint32_t)frac : UINT32_MAX;
  uint32_t nsec = rec->orig_ts_nsec;
  int bad = frac < 0 || frac > 999999999 || sec < 0 || sec > TS_MAX_SEC;
  if (!bad && t->have_prev) {
    /* Both within 0..2^32-1 s: the difference in ns fits in 63 bits. */
    int64_t d =
        (sec - t->first_sec) * INT64_C(1000000000) + ((int64_t)nsec - (int64_t)t->first_nsec);
    bad = d >= TS_SPAN_NS || d <= -TS_SPAN_NS;
  }
  if (bad) {
    rec->flags |= TRACE_REC_TS_OUT_OF_RANGE;
    t->stats.ts_out_of_range++;
    if (t->have_prev) {
      sec = t->prev_sec;
      nsec = t->prev_nsec;
    } else {
      sec = sec < 0 ? 0 : sec > TS_MAX_SEC ? TS_MAX_SEC : sec;
      if (nsec > 999999999u)
        nsec = 0;
    }
  } else if (t->have_prev && (sec < t->prev_sec || (sec == t->prev_sec && nsec < t->prev_nsec))) {
    rec->flags |= TRACE_REC_TS_BACKWARDS;
    t->stats.ts_backwards++;
  }
  if (!t->have_prev) {
    t->first_sec = sec;
    t->first_nsec = nsec;
    t->have_prev = 1;
  }
  t->prev_sec = sec;
  t->prev_nsec = nsec;
  rec->ts_sec = sec;
  rec->ts_nsec = nsec;
  /* Unsigned arithmetic: defined, modulo 2^64 (see trace.h). */
  rec->ts_ps = (uint64_t)sec * UINT64_C(1000000000000) + (uint64_t)nsec * UINT64_C(1000);
}

int trace_next(struct trace *t, struct trace_record *rec, char *err, size_t errlen) {
  if (t->failed) {
    set_err(err, errlen, "%s", t->failure);
    return -1;
  }
  if (t->read_ahead && t->ra == NULL) {
    t->ra = readahead_start(read_record, t);
    if (t->ra == NULL)
      t->read_ahead = 0; /* no thread to be had: read here */
  }
  for (;;) {
    struct pcap_pkthdr *hdr = NULL, room;
    const u_char *data = NULL;
    const char *why = NULL;
    int rc = t->ra ? readahead_next(t->ra, &hdr, &data, &why)
                   : read_record(t, &room, &hdr, &data, &why);
    if (rc == PCAP_ERROR_BREAK) /* end of file */
      return trace_unchanged(t, err, errlen);
    if (rc != 1) {
      /* A record torn by a writer is no fault of the capture. */
      if (file_changed(t)) {
        set_err(err, errlen, "%s", t->failure);
        return -1;
      }
      fail(t, err, errlen, t->index, "%s", why && why[0] ? why : "read error");
      return -1;
    }
    uint64_t index = t->index++;
    t->stats.records++;
    if (!t->supported) { /* only opened so with skip_unsupported */
      t->stats.skipped_unsupported++;
      continue;
    }
    if (hdr->caplen == 0) {
      /* Nothing captured, not even a link header: nothing a NIC could
       * receive. Counted, skipped, its number kept. */
      t->stats.zero_length++;
      continue;
    }
    uint32_t caplen = hdr->caplen;
    uint32_t file_len = hdr->len;
    const uint8_t *frame = data;
    uint32_t flags = 0;
    /* The wire length is never less than what is there: a hostile or
     * careless writer may store 0, or less than caplen. */
    uint32_t wire = file_len;
    if (file_len == 0 && caplen > 0) {
      flags |= TRACE_REC_ORIGLEN_ZERO;
      wire = caplen;
    } else if (file_len < caplen) {
      flags |= TRACE_REC_ORIGLEN_SHORT;
      wire = caplen;
    }
    /* Frames that end with their FCS (the file says so): the NIC gets the
     * frame without it, as from a capture without one. The FCS is the last
     * fcs_bytes of the wire length; what of it was captured goes too. */
    if (t->fcs_bytes) {
      wire = wire > t->fcs_bytes ? wire - t->fcs_bytes : 0;
      if (caplen > wire)
        caplen = wire;
      if (caplen == 0) { /* nothing but an FCS */
        t->stats.zero_length++;
        continue;
      }
    }
    uint32_t fcaplen = caplen, forig = wire;
    if (t->file_linktype != DLT_EN10MB) {
      struct conversion c;
      char why[256];
      if (plan(t->file_linktype, data, caplen, &c, why, sizeof why) != 0) {
        if (t->skip_unsupported) {
          t->stats.skipped_unsupported++;
          continue;
        }
        fail(t, err, errlen, index, "%s", why);
        return -1;
      }
      uint32_t body = caplen - c.hdr, wire_body = wire - c.hdr; /* wire >= caplen >= hdr */
      if (c.length_field && wire_body > ETH_MAX_8023_LEN) {
        if (t->skip_unsupported) {
          t->stats.skipped_unsupported++;
          continue;
        }
        fail(t, err, errlen, index,
             "Linux cooked 802.2/802.3 record of %u bytes is longer than an 802.3 length "
             "field allows (1500)",
             (unsigned)wire_body);
        return -1;
      }
      uint32_t add = c.raw_ethernet ? 0 : ETH_HLEN_;
      if (frame_room(t, (size_t)body + add) != 0) {
        fail(t, err, errlen, index, "%s", strerror(ENOMEM));
        return -1;
      }
      uint8_t *f = t->frame;
      if (!c.raw_ethernet) {
        dst_mac(&c, data + c.hdr, body, f);
        memcpy(f + 6, c.src_mac ? c.src_mac : SYN_SRC_MAC, 6);
        uint16_t type = c.length_field ? (uint16_t)wire_body : c.type;
        f[12] = (uint8_t)(type >> 8);
        f[13] = (uint8_t)type;
      }
      if (body > 0)
        memcpy(f + add, data + c.hdr, body);
      frame = f;
      fcaplen = body + add;
      forig = wire_body + add;
      flags |= TRACE_REC_CONVERTED;
      t->stats.converted++;
    }
    if (fcaplen < forig)
      flags |= TRACE_REC_TRUNCATED;

    memset(rec, 0, sizeof *rec);
    rec->index = index;
    rec->caplen = fcaplen;
    rec->origlen = forig;
    rec->data = frame;
    rec->flags = flags;
    rec->orig_data = data;
    rec->orig_caplen = hdr->caplen;
    rec->orig_origlen = file_len;
    rec->orig_linktype = t->file_linktype;
    check_time(t, rec, &hdr->ts); /* nanoseconds: opened with nano precision */

    t->stats.packets++;
    t->stats.bytes += forig;
    t->stats.captured_bytes += fcaplen;
    if (flags & TRACE_REC_TRUNCATED) {
      t->stats.truncated_packets++;
      t->stats.uncaptured_bytes += forig - fcaplen;
    }
    t->stats.origlen_zero += (flags & TRACE_REC_ORIGLEN_ZERO) != 0;
    t->stats.origlen_short += (flags & TRACE_REC_ORIGLEN_SHORT) != 0;
    return 1;
  }
}

int trace_rewind(struct trace *t, char *err, size_t errlen) {
  readahead_stop(t->ra); /* wherever it is: it reads through map and pcap */
  t->ra = NULL;
  if (t->pcap != NULL) {
    pcap_close(t->pcap); /* the old handle shares the file offset: close first */
    t->pcap = NULL;
  }
  t->index = 0;
  t->failed = 0;
  memset(&t->stats, 0, sizeof t->stats);
  t->have_prev = 0;
  pcap_map_close(t->map);
  t->map = NULL;
  if (file_changed(t)) {
    set_err(err, errlen, "%s", t->failure);
    return -1;
  }
  t->pcap = open_pcap(t, t->failure, sizeof t->failure);
  if (t->pcap == NULL) {
    t->failed = 1; /* trace_next repeats the message */
    set_err(err, errlen, "%s", t->failure);
    return -1;
  }
  attach_map(t);
  return 0;
}

const struct trace_stats *trace_stats(const struct trace *t) { return &t->stats; }

const char *trace_path(const struct trace *t) { return t->path; }

int trace_linktype(const struct trace *t) {
  (void)t;
  return DLT_EN10MB;
}

const char *trace_linktype_name(const struct trace *t) {
  (void)t;
  return "EN10MB";
}

int trace_file_linktype(const struct trace *t) { return t->file_linktype; }

const char *trace_file_linktype_name(const struct trace *t) {
  const char *name = pcap_datalink_val_to_name(t->file_linktype);
  return name != NULL ? name : "unknown";
}

int trace_converts(const struct trace *t) {
  return t->supported && t->file_linktype != DLT_EN10MB;
}

int trace_direct(const struct trace *t) { return t->map != NULL; }

int trace_reads_ahead(const struct trace *t) { return t->read_ahead; }

void trace_close(struct trace *t) { free_trace(t); }

struct trace_filter *trace_filter_new(int linktype, const char *expr, char *err, size_t errlen) {
  if (expr == NULL)
    expr = "";
  struct trace_filter *f = calloc(1, sizeof *f);
  if (f == NULL) {
    set_err(err, errlen, "app.owns: cannot compile filter '%s': %s", expr, strerror(ENOMEM));
    return NULL;
  }
  pcap_t *dead = pcap_open_dead(linktype, 262144);
  if (dead == NULL) {
    set_err(err, errlen, "app.owns: cannot compile filter '%s': %s", expr, strerror(ENOMEM));
    free(f);
    return NULL;
  }
  if (pcap_compile(dead, &f->prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    set_err(err, errlen, "app.owns: cannot compile filter '%s': %s", expr, pcap_geterr(dead));
    pcap_close(dead);
    free(f);
    return NULL;
  }
  pcap_close(dead); /* the compiled program does not refer to the handle */
  return f;
}

struct trace_filter *trace_filter_compile(int linktype, const char *expr, char *err, size_t errlen) {
  struct trace_filter *f = calloc(1, sizeof *f);
  pcap_t *dead = f ? pcap_open_dead(linktype, 262144) : NULL;
  if (dead == NULL) {
    set_err(err, errlen, "%s", strerror(ENOMEM));
    free(f);
    return NULL;
  }
  if (pcap_compile(dead, &f->prog, expr ? expr : "", 1, PCAP_NETMASK_UNKNOWN) != 0) {
    set_err(err, errlen, "%s", pcap_geterr(dead));
    pcap_close(dead);
    free(f);
    return NULL;
  }
  pcap_close(dead);
  return f;
}

int trace_filter_match_bytes(const struct trace_filter *f, const uint8_t *data, uint32_t caplen,
                             uint32_t wire_len) {
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  h.caplen = caplen;
  h.len = wire_len > caplen ? wire_len : caplen;
  return pcap_offline_filter(&f->prog, &h, data) != 0;
}

int trace_filter_match(const struct trace_filter *f, const struct trace_record *rec) {
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  h.caplen = rec->caplen;
  h.len = rec->origlen;
  return pcap_offline_filter(&f->prog, &h, rec->data) != 0;
}

void trace_filter_free(struct trace_filter *f) {
  if (f == NULL)
    return;
  pcap_freecode(&f->prog);
  free(f);
}
