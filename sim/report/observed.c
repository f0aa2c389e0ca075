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

struct observed_file {
  char tmp[4096], path[4096];
  pcap_dumper_t *dumper;
};

struct observed {
  pcap_t *dead;
  unsigned n;
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

void observed_abort(struct observed *o) {
  if (!o)
    return;
  for (unsigned i = 0; i < o->n; i++) {
    if (o->f[i].dumper)
      pcap_dump_close(o->f[i].dumper);
    unlink(o->f[i].tmp);
    if (o->r[i].dumper) {
      pcap_dump_close(o->r[i].dumper);
      unlink(o->r[i].tmp);
    }
  }
  if (o->w.dumper) {
    pcap_dump_close(o->w.dumper);
    unlink(o->w.tmp);
  }
  if (o->dead)
    pcap_close(o->dead);
  free(o);
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
  if (!o) {
    snprintf(err, errlen, "%s: out of memory", dir);
    return NULL;
  }
  o->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
  if (!o->dead) {
    snprintf(err, errlen, "%s: libpcap cannot write captures", dir);
    free(o);
    return NULL;
  }
  for (unsigned p = 0; p < pol->nprincipals && p < MEM_MAX_PRINCIPALS; p++) {
    char name[64];
    sanitise(pol->names[p], name, sizeof name);
    /* Two principals that sanitise alike get distinct files. */
    for (unsigned q = 0; q < p; q++) {
      char other[64];
      sanitise(pol->names[q], other, sizeof other);
      if (strcmp(other, name) == 0) {
        size_t l = strlen(name);
        snprintf(name + l, sizeof name - l, "-%u", p);
        break;
      }
    }
    struct observed_file *f = &o->f[p];
    snprintf(f->path, sizeof f->path, "%s/%s.pcap", dir, name);
    snprintf(f->tmp, sizeof f->tmp, "%s/.%s.pcap.tmp.%ld", dir, name, (long)getpid());
    o->n = p + 1;
    f->dumper = pcap_dump_open(o->dead, f->tmp);
    if (!f->dumper) {
      snprintf(err, errlen, "%s: cannot write: %s", f->path, pcap_geterr(o->dead));
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
  struct observed_file *f = &o->f[principal], *r = &o->r[principal];
  if (r->dumper)
    return 0;
  /* Beside PRINCIPAL.pcap: PRINCIPAL.read.pcap and its temporary name. */
  size_t pl = strlen(f->path) - strlen(".pcap");
  char path[sizeof r->path], tmp[sizeof r->tmp];
  snprintf(path, sizeof path, "%.*s.read.pcap", (int)pl, f->path);
  snprintf(tmp, sizeof tmp, "%s.read", f->tmp);
  memcpy(r->path, path, sizeof path);
  memcpy(r->tmp, tmp, sizeof tmp);
  r->dumper = pcap_dump_open(o->dead, r->tmp);
  if (!r->dumper) {
    snprintf(err, errlen, "%s: cannot write: %s", r->path, pcap_geterr(o->dead));
    return -1;
  }
  return 0;
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
  snprintf(w->path, sizeof w->path, "%s/wire.pcap", dir);
  snprintf(w->tmp, sizeof w->tmp, "%s/.wire.pcap.tmp.%ld", dir, (long)getpid());
  w->dumper = pcap_dump_open(o->dead, w->tmp);
  if (!w->dumper) {
    snprintf(err, errlen, "%s: cannot write: %s", w->path, pcap_geterr(o->dead));
    return -1;
  }
  return 0;
}

void observed_record_wire(struct observed *o, const uint8_t *data, uint32_t len, uint64_t time_ps) {
  if (o && o->w.dumper && len)
    dump(o->w.dumper, data, len, time_ps);
}

int observed_close(struct observed *o, char *err, size_t errlen) {
  int rc = 0;
  for (unsigned j = 0; j < 2 * o->n + 1; j++) {
    struct observed_file *f = j < o->n ? &o->f[j] : j < 2 * o->n ? &o->r[j - o->n] : &o->w;
    if (!f->dumper)
      continue;
    if (pcap_dump_flush(f->dumper) != 0 && rc == 0) {
      snprintf(err, errlen, "%s: cannot write", f->path);
      rc = -1;
    }
    pcap_dump_close(f->dumper);
    f->dumper = NULL;
    if (rc == 0 && rename(f->tmp, f->path) != 0) {
      snprintf(err, errlen, "%s: cannot write: %s", f->path, strerror(errno));
      rc = -1;
    }
    if (rc)
      unlink(f->tmp);
  }
  pcap_close(o->dead);
  free(o);
  return rc;
}
