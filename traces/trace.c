/*
 * Capture reading through libpcap (never a hand-written parser).
 *
 * The capture is opened once as a file descriptor (the "master"); every
 * (re)open hands libpcap a dup() of it, rewound to offset 0, so trace_rewind
 * works the same for files and for standard input (which is first spooled to
 * an unlinked temporary file). libpcap reads one record at a time into its own
 * buffer, so memory does not grow with the length of the trace.
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct trace {
  char *path;        /* as given */
  const char *label; /* for messages: path, or "<stdin>" for "-" */
  int master_fd;     /* the capture file (or the spool), never read directly */
  pcap_t *pcap;      /* NULL after a failed reopen */
  int linktype;
  uint64_t index;    /* index of the next record */
  int failed;        /* 1 after an error: trace_next repeats it */
  char failure[512];
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

/* Copy standard input to an unlinked temporary file. -1 with errno set. */
static int spool_fd(int in_fd) {
  FILE *tmp = tmpfile();
  if (tmp == NULL)
    return -1;
  int fd = dup(fileno(tmp));
  int saved = errno;
  fclose(tmp);
  if (fd < 0) {
    errno = saved;
    return -1;
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(in_fd, buf, sizeof buf);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      saved = errno;
      close(fd);
      errno = saved;
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
        return -1;
      }
      off += w;
    }
  }
  return fd;
}

/* Open libpcap on a fresh dup of the master descriptor, from offset 0. */
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

static void free_trace(struct trace *t) {
  if (t == NULL)
    return;
  if (t->pcap != NULL)
    pcap_close(t->pcap);
  if (t->master_fd >= 0)
    close(t->master_fd);
  free(t->path);
  free(t);
}

/*
 * The link types the NIC model can be fed. Today only Ethernet, passed
 * through unchanged. A later change synthesises an Ethernet header for
 * DLT_LINUX_SLL / DLT_LINUX_SLL2 / DLT_RAW / DLT_IPV4 / DLT_IPV6 / DLT_NULL
 * records: accept them here, keep a per-trace frame buffer in struct trace,
 * and build the frame in trace_next() at the marked place.
 */
static int linktype_supported(int linktype) {
  switch (linktype) {
  case DLT_EN10MB:
    return 1;
  default:
    return 0;
  }
}

struct trace *trace_open(const char *path, char *err, size_t errlen) {
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
  t->path = strdup(path);
  if (t->path == NULL) {
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(ENOMEM));
    free(t);
    return NULL;
  }
  int is_stdin = strcmp(path, "-") == 0;
  t->label = is_stdin ? "<stdin>" : t->path;

  if (is_stdin) {
    t->master_fd = spool_fd(STDIN_FILENO);
    if (t->master_fd < 0) {
      set_err(err, errlen, "%s: cannot read standard input: %s", t->label, strerror(errno));
      free_trace(t);
      return NULL;
    }
  } else {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
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
    } else {
      /* A pipe or a device (e.g. /dev/stdin, <(cmd)): spool it too, so that
       * trace_rewind works. */
      t->master_fd = spool_fd(fd);
      int saved = errno;
      close(fd);
      if (t->master_fd < 0) {
        set_err(err, errlen, "%s: cannot read: %s", t->label, strerror(saved));
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
  t->linktype = pcap_datalink(t->pcap);
  if (!linktype_supported(t->linktype)) {
    const char *name = pcap_datalink_val_to_name(t->linktype);
    if (name != NULL)
      set_err(err, errlen,
              "%s: link type %s (%d) is not supported (the NIC model takes Ethernet frames)",
              t->label, name, t->linktype);
    else
      set_err(err, errlen,
              "%s: link type %d is not supported (the NIC model takes Ethernet frames)",
              t->label, t->linktype);
    free_trace(t);
    return NULL;
  }
  return t;
}

int trace_next(struct trace *t, struct trace_record *rec, char *err, size_t errlen) {
  if (t->failed) {
    set_err(err, errlen, "%s", t->failure);
    return -1;
  }
  struct pcap_pkthdr *hdr = NULL;
  const u_char *data = NULL;
  int rc = pcap_next_ex(t->pcap, &hdr, &data);
  if (rc == PCAP_ERROR_BREAK) /* end of file */
    return 0;
  if (rc != 1) {
    /* PCAP_ERROR: a torn or corrupt record. (0, a timeout, cannot happen on
     * a savefile; treat it like an error rather than loop.) */
    const char *why = rc == PCAP_ERROR ? pcap_geterr(t->pcap) : "unexpected result from pcap_next_ex";
    snprintf(t->failure, sizeof t->failure, "%s: record %llu: %s", t->label,
             (unsigned long long)t->index, why && why[0] ? why : "read error");
    t->failed = 1;
    set_err(err, errlen, "%s", t->failure);
    return -1;
  }
  /* libpcap bounds caplen (<= the link type's maximum snapshot length). A
   * hostile file can still claim fewer bytes on the wire than it captured, or
   * 0: the wire length is never less than what is there. */
  uint32_t caplen = hdr->caplen;
  uint32_t origlen = hdr->len;
  if (origlen < caplen)
    origlen = caplen;

  /* Link-type conversion goes here (see linktype_supported): for Ethernet
   * the record is the frame. */
  rec->index = t->index++;
  rec->ts_sec = (int64_t)hdr->ts.tv_sec;
  rec->ts_nsec = (uint32_t)hdr->ts.tv_usec; /* nanoseconds: opened with nano precision */
  /* Unsigned arithmetic: defined, modulo 2^64 (see trace.h). */
  rec->ts_ps = (uint64_t)rec->ts_sec * UINT64_C(1000000000000) + (uint64_t)rec->ts_nsec * UINT64_C(1000);
  rec->caplen = caplen;
  rec->origlen = origlen;
  rec->data = data;
  return 1;
}

int trace_rewind(struct trace *t, char *err, size_t errlen) {
  if (t->pcap != NULL) {
    pcap_close(t->pcap); /* the old handle shares the file offset: close first */
    t->pcap = NULL;
  }
  t->index = 0;
  t->failed = 0;
  t->pcap = open_pcap(t, t->failure, sizeof t->failure);
  if (t->pcap == NULL) {
    t->failed = 1; /* trace_next repeats the message */
    set_err(err, errlen, "%s", t->failure);
    return -1;
  }
  return 0;
}

const char *trace_path(const struct trace *t) { return t->path; }

int trace_linktype(const struct trace *t) { return t->linktype; }

const char *trace_linktype_name(const struct trace *t) {
  const char *name = pcap_datalink_val_to_name(t->linktype);
  return name != NULL ? name : "unknown";
}

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
