/*
 * observed.c: see observed.h.
 */
#include "observed.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

struct observed_file {
  struct outfile *out;
  pcap_dumper_t *dumper; /* on a duplicate of out's descriptor */
};

struct observed {
  pcap_t *dead;
  unsigned n;
  char *dir;
  char name[MEM_MAX_PRINCIPALS][64]; /* sanitised, distinct */
  struct observed_file f[MEM_MAX_PRINCIPALS];
  struct observed_file r[MEM_MAX_PRINCIPALS]; /* PRINCIPAL.read.pcap (app.hostile_read) */
  struct observed_file w;                     /* wire.pcap (TX) */
};

static void sanitise(const char *name, char *out, size_t n) {
  size_t k = 0;
  for (; *name && k + 1 < n; name++) {
    char ch = *name;
    int okch = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
               ch == '_';
    out[k++] = okch ? ch : '_';
  }
  out[k] = '\0';
  if (k == 0)
    snprintf(out, n, "principal");
}

static void file_abort(struct observed_file *f) {
  if (f->dumper)
    pcap_dump_close(f->dumper);
  f->dumper = NULL;
  outfile_abort(f->out);
  f->out = NULL;
}

void observed_abort(struct observed *o) {
  if (!o)
    return;
  for (unsigned i = 0; i < o->n; i++) {
    file_abort(&o->f[i]);
    file_abort(&o->r[i]);
  }
  file_abort(&o->w);
  if (o->dead)
    pcap_close(o->dead);
  free(o->dir);
  free(o);
}

/* DIR/NAME + suffix, never cut. */
static char *file_path(const char *dir, const char *name, const char *suffix) {
  size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s%s", dir, name, suffix);
  return p;
}

int observed_check(const char *dir, char *err, size_t errlen) {
  struct stat st;
  if (stat(dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "%s: not a directory", dir);
      return -1;
    }
    /* The longest file name it will hold: the checker's principals are
     * sanitised to at most 63 bytes, plus ".read.pcap". */
    char probe[64 + 16];
    memset(probe, 'x', 63);
    snprintf(probe + 63, sizeof probe - 63, ".read.pcap");
    char *p = file_path(dir, probe, "");
    int rc = p ? outfile_check(p, err, errlen) : -1;
    free(p);
    return rc;
  }
  /* To be created: its parent must take it. */
  return outfile_check(dir, err, errlen);
}

static int file_open(struct observed *o, struct observed_file *f, const char *path, char *err, size_t errlen) {
  /* Not an input, nor another output (--json, --vcd) of the run. */
  char why[1024];
  if (outfile_claim(path, "--observed", why, sizeof why)) {
    snprintf(err, errlen, "--observed %s", why);
    return -1;
  }
  f->out = outfile_open(path, 0666, err, errlen);
  if (!f->out)
    return -1;
  int fd = dup(fileno(outfile_stream(f->out)));
  FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
  f->dumper = fp ? pcap_dump_fopen(o->dead, fp) : NULL;
  if (!f->dumper) {
    snprintf(err, errlen, "%s: cannot write: %s", path, fp ? pcap_geterr(o->dead) : strerror(errno));
    if (fp)
      fclose(fp);
    else if (fd >= 0)
      close(fd);
    return -1;
  }
  return 0;
}

struct observed *observed_open(const char *dir, const struct policy *pol, char *err, size_t errlen) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "%s: cannot create the directory: %s", dir, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: not a directory", dir);
    return NULL;
  }
  struct observed *o = calloc(1, sizeof *o);
  if (!o || !(o->dir = strdup(dir))) {
    free(o);
    snprintf(err, errlen, "%s: out of memory", dir);
    return NULL;
  }
  o->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
  if (!o->dead) {
    snprintf(err, errlen, "%s: libpcap cannot write captures", dir);
    observed_abort(o);
    return NULL;
  }
  for (unsigned p = 0; p < pol->nprincipals && p < MEM_MAX_PRINCIPALS; p++) {
    char *name = o->name[p];
    sanitise(pol->names[p], name, sizeof o->name[p] - 8);
    /* Two principals that sanitise alike get distinct files. */
    for (unsigned q = 0; q < p; q++) {
      if (strcmp(o->name[q], name) == 0) {
        size_t l = strlen(name);
        snprintf(name + l, sizeof o->name[p] - l, "-%u", p);
        break;
      }
    }
    o->n = p + 1;
    char *path = file_path(dir, name, ".pcap");
    int rc = path ? file_open(o, &o->f[p], path, err, errlen) : -1;
    if (!path)
      snprintf(err, errlen, "%s: out of memory", dir);
    free(path);
    if (rc) {
      observed_abort(o);
      return NULL;
    }
  }
  return o;
}

static void dump(pcap_dumper_t *d, const uint8_t *data, uint32_t len, uint64_t time_ps) {
  struct pcap_pkthdr h;
  memset(&h, 0, sizeof h);
  uint64_t ns = time_ps / 1000;
  h.ts.tv_sec = (time_t)(ns / 1000000000ull);
  h.ts.tv_usec = (suseconds_t)(ns % 1000000000ull); /* nanoseconds: the file is a nanosecond pcap */
  h.caplen = h.len = len;
  pcap_dump((u_char *)d, &h, data);
}

void observed_record(struct observed *o, unsigned principal, const uint8_t *data, uint32_t len, uint64_t time_ps) {
  if (!o || principal >= o->n || !o->f[principal].dumper || len == 0)
    return;
  dump(o->f[principal].dumper, data, len, time_ps);
}

int observed_open_reads(struct observed *o, unsigned principal, char *err, size_t errlen) {
  if (principal >= o->n || !o->f[principal].dumper) {
    snprintf(err, errlen, "observed: no principal %u", principal);
    return -1;
  }
  struct observed_file *r = &o->r[principal];
  if (r->dumper)
    return 0;
  /* Beside PRINCIPAL.pcap: PRINCIPAL.read.pcap. */
  char *path = file_path(o->dir, o->name[principal], ".read.pcap");
  if (!path) {
    snprintf(err, errlen, "%s: out of memory", o->dir);
    return -1;
  }
  int rc = file_open(o, r, path, err, errlen);
  free(path);
  if (rc)
    file_abort(r);
  return rc;
}

void observed_record_read(struct observed *o, unsigned principal, const uint8_t *data, uint32_t len,
                          uint64_t time_ps) {
  if (!o || principal >= o->n || !o->r[principal].dumper || len == 0)
    return;
  dump(o->r[principal].dumper, data, len, time_ps);
}

int observed_open_wire(struct observed *o, const char *dir, char *err, size_t errlen) {
  struct observed_file *w = &o->w;
  if (w->dumper)
    return 0;
  char *path = file_path(dir, "wire", ".pcap");
  if (!path) {
    snprintf(err, errlen, "%s: out of memory", dir);
    return -1;
  }
  int rc = file_open(o, w, path, err, errlen);
  free(path);
  if (rc)
    file_abort(w);
  return rc;
}

void observed_record_wire(struct observed *o, const uint8_t *data, uint32_t len, uint64_t time_ps) {
  if (o && o->w.dumper && len)
    dump(o->w.dumper, data, len, time_ps);
}

int observed_close(struct observed *o, char *err, size_t errlen) {
  int rc = 0;
  /* Every file written whole first, then all renamed into place. */
  for (unsigned j = 0; j < 2 * o->n + 1 && rc == 0; j++) {
    struct observed_file *f = j < o->n ? &o->f[j] : j < 2 * o->n ? &o->r[j - o->n] : &o->w;
    if (!f->dumper)
      continue;
    errno = 0;
    FILE *fp = pcap_dump_file(f->dumper);
    if (pcap_dump_flush(f->dumper) != 0 || ferror(fp)) {
      snprintf(err, errlen, "%s: cannot write: %s", outfile_path(f->out), errno ? strerror(errno) : "I/O error");
      rc = -1;
    }
    pcap_dump_close(f->dumper);
    f->dumper = NULL;
  }
  for (unsigned j = 0; j < 2 * o->n + 1 && rc == 0; j++) {
    struct observed_file *f = j < o->n ? &o->f[j] : j < 2 * o->n ? &o->r[j - o->n] : &o->w;
    struct outfile *out = f->out;
    f->out = NULL;
    if (out && outfile_commit(out, err, errlen))
      rc = -1;
  }
  observed_abort(o);
  return rc;
}
