/*
 * The direct pcap reader (traces/pcap_map.c) against libpcap's: every
 * capture under tests/ and traces/samples/ and in the shared corpus
 * (../shared/corpus, when present), and torn and hostile variants built
 * from them, are read twice through trace_open2, once with the direct
 * reader and once with libpcap reading the records (libpcap_records), and
 * must give the same records (every field and every byte), the same counts,
 * the same end (clean, or the same error text on the same record), again
 * after a rewind. A standard pcap file must actually be read directly.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"

#define CORPUS NICSIM_SOURCE_DIR "/../shared/corpus"

static char tmpdir[] = "/tmp/nicsim-test-pcap-map-XXXXXX";

static struct trace *open_way(const char *path, int libpcap, int skip, char *err, size_t n) {
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  o.skip_unsupported = skip;
  o.libpcap_records = libpcap;
  return trace_open2(path, &o, err, n);
}

static void same_record(const struct trace_record *a, const struct trace_record *b) {
  ck_assert_uint_eq(a->index, b->index);
  ck_assert_uint_eq(a->ts_ps, b->ts_ps);
  ck_assert_uint_eq(a->caplen, b->caplen);
  ck_assert_uint_eq(a->origlen, b->origlen);
  ck_assert_int_eq(memcmp(a->data, b->data, a->caplen), 0);
  ck_assert_int_eq(a->ts_sec, b->ts_sec);
  ck_assert_uint_eq(a->ts_nsec, b->ts_nsec);
  ck_assert_uint_eq(a->flags, b->flags);
  ck_assert_uint_eq(a->orig_caplen, b->orig_caplen);
  ck_assert_uint_eq(a->orig_origlen, b->orig_origlen);
  ck_assert_int_eq(memcmp(a->orig_data, b->orig_data, a->orig_caplen), 0);
  ck_assert_int_eq(a->orig_linktype, b->orig_linktype);
  ck_assert_int_eq(a->orig_ts_sec, b->orig_ts_sec);
  ck_assert_uint_eq(a->orig_ts_nsec, b->orig_ts_nsec);
}

/* Read PATH both ways and compare, in `passes` passes (rewinding between
 * them). mapped: 1 the direct reader must take it, 0 it must not, -1
 * either. Returns the records read (first pass). */
static uint64_t read_both_ways(const char *path, int skip, int mapped, int passes) {
  char ea[1024], eb[1024];
  struct trace *a = open_way(path, 0, skip, ea, sizeof ea);
  struct trace *b = open_way(path, 1, skip, eb, sizeof eb);
  if (a == NULL || b == NULL) {
    ck_assert_msg(a == NULL && b == NULL, "%s: opened one way only: %s", path,
                  a ? eb : ea);
    ck_assert_str_eq(ea, eb);
    return 0;
  }
  if (mapped >= 0)
    ck_assert_msg(trace_direct(a) == mapped, "%s: direct %d, expected %d", path, trace_direct(a),
                  mapped);
  ck_assert_int_eq(trace_direct(b), 0);
  uint64_t n = 0;
  for (int pass = 0; pass < passes; pass++) {
    struct trace_record ra, rb;
    int rca, rcb;
    do {
      ea[0] = eb[0] = '\0';
      rca = trace_next(a, &ra, ea, sizeof ea);
      rcb = trace_next(b, &rb, eb, sizeof eb);
      ck_assert_msg(rca == rcb, "%s: %d (%s) against libpcap's %d (%s)", path, rca, ea, rcb, eb);
      if (rca == 1) {
        same_record(&ra, &rb);
        n += pass == 0;
      }
    } while (rca == 1);
    if (rca < 0)
      ck_assert_str_eq(ea, eb);
    ck_assert_int_eq(memcmp(trace_stats(a), trace_stats(b), sizeof(struct trace_stats)), 0);
    if (pass + 1 == passes)
      break;
    ck_assert_int_eq(trace_rewind(a, ea, sizeof ea), 0);
    ck_assert_int_eq(trace_rewind(b, eb, sizeof eb), 0);
    if (mapped >= 0)
      ck_assert_int_eq(trace_direct(a), mapped);
  }
  trace_close(a);
  trace_close(b);
  return n;
}

static uint64_t both_ways(const char *path, int skip, int mapped) {
  return read_both_ways(path, skip, mapped, 2);
}

/* A variant: one pass is enough (the files themselves are read twice). */
static void variant(const char *path, int mapped) { read_both_ways(path, 0, mapped, 1); }

/* ---- standard pcap files as a header and records, to vary them ---- */

struct rec {
  uint32_t sec, usec, caplen, len;
  const uint8_t *data;
  uint32_t stored; /* bytes of data written after the header */
};

struct pcapf {
  int swapped;
  uint32_t magic;
  uint16_t major, minor;
  uint32_t zone, sigfigs, snaplen, linktype;
  struct rec *recs;
  size_t nrecs;
};

static uint32_t sw32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}
static uint16_t sw16(uint16_t v) { return (uint16_t)(v >> 8 | v << 8); }

static uint32_t get32(const uint8_t *p, int swapped) {
  uint32_t v;
  memcpy(&v, p, 4);
  return swapped ? sw32(v) : v;
}

/* Parse a standard pcap file's bytes; 0 when it is not one. Records are
 * taken while their stored lengths fit; the rest is ignored. */
static int parse(const uint8_t *b, size_t n, struct pcapf *f) {
  memset(f, 0, sizeof *f);
  if (n < 24)
    return 0;
  uint32_t m;
  memcpy(&m, b, 4);
  if (m != 0xa1b2c3d4u && m != 0xa1b23c4du) {
    m = sw32(m);
    if (m != 0xa1b2c3d4u && m != 0xa1b23c4du)
      return 0;
    f->swapped = 1;
  }
  f->magic = m;
  uint16_t v[2];
  memcpy(v, b + 4, 4);
  f->major = f->swapped ? sw16(v[0]) : v[0];
  f->minor = f->swapped ? sw16(v[1]) : v[1];
  f->zone = get32(b + 8, f->swapped);
  f->sigfigs = get32(b + 12, f->swapped);
  f->snaplen = get32(b + 16, f->swapped);
  f->linktype = get32(b + 20, f->swapped);
  size_t cap = 16, off = 24;
  f->recs = malloc(cap * sizeof *f->recs);
  ck_assert_ptr_nonnull(f->recs);
  while (off + 16 <= n) {
    struct rec r;
    r.sec = get32(b + off, f->swapped);
    r.usec = get32(b + off + 4, f->swapped);
    r.caplen = get32(b + off + 8, f->swapped);
    r.len = get32(b + off + 12, f->swapped);
    if (r.caplen > n - off - 16)
      break;
    r.data = b + off + 16;
    r.stored = r.caplen;
    if (f->nrecs == cap) {
      cap *= 2;
      f->recs = realloc(f->recs, cap * sizeof *f->recs);
      ck_assert_ptr_nonnull(f->recs);
    }
    f->recs[f->nrecs++] = r;
    off += 16 + (size_t)r.caplen;
  }
  return 1;
}

static void put32(FILE *o, uint32_t v, int swapped) {
  v = swapped ? sw32(v) : v;
  ck_assert_uint_eq(fwrite(&v, 4, 1, o), 1);
}

/* Write f to PATH, then cut the file to `cut` bytes (SIZE_MAX: no cut). */
static void emit(const struct pcapf *f, const char *path, size_t cut) {
  FILE *o = fopen(path, "wb");
  ck_assert_msg(o != NULL, "%s: %s", path, strerror(errno));
  put32(o, f->magic, f->swapped);
  uint16_t v[2] = {f->swapped ? sw16(f->major) : f->major,
                   f->swapped ? sw16(f->minor) : f->minor};
  ck_assert_uint_eq(fwrite(v, 2, 2, o), 2);
  put32(o, f->zone, f->swapped);
  put32(o, f->sigfigs, f->swapped);
  put32(o, f->snaplen, f->swapped);
  put32(o, f->linktype, f->swapped);
  for (size_t i = 0; i < f->nrecs; i++) {
    const struct rec *r = &f->recs[i];
    put32(o, r->sec, f->swapped);
    put32(o, r->usec, f->swapped);
    put32(o, r->caplen, f->swapped);
    put32(o, r->len, f->swapped);
    if (r->stored)
      ck_assert_uint_eq(fwrite(r->data, 1, r->stored, o), r->stored);
  }
  ck_assert_int_eq(fclose(o), 0);
  if (cut != SIZE_MAX)
    ck_assert_int_eq(truncate(path, (off_t)cut), 0);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  uint8_t *b = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      b = realloc(b, cap);
      ck_assert_ptr_nonnull(b);
    }
    size_t got = fread(b + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
  }
  fclose(f);
  *len = n;
  return b;
}

/* The direct reader takes what libpcap does not rewrite (pcap_map.h):
 * USB_LINUX_MMAPPED always, and in a file of the other byte order the
 * pseudo-headers of PFLOG, LINUX_SLL, LINUX_SLL2, USB_LINUX and NFLOG
 * (LINKTYPE values, the same as Linux's DLT values for these). */
static int expect_mapped(const struct pcapf *f) {
  uint32_t lt = f->linktype & 0x03ffffffu;
  if (lt == 220)
    return 0;
  if (f->swapped && (lt == 117 || lt == 113 || lt == 276 || lt == 189 || lt == 239))
    return 0;
  return 1;
}

/* Torn and hostile variants of a standard pcap file: each is read both
 * ways. At most `limit` records are varied. */
static void variants(const struct pcapf *orig, size_t limit) {
  char path[512];
  snprintf(path, sizeof path, "%s/v.pcap", tmpdir);
  struct pcapf f = *orig;
  size_t nrec = f.nrecs < limit ? f.nrecs : limit;
  f.nrecs = nrec;
  f.recs = malloc((nrec ? nrec : 1) * sizeof *f.recs);
  ck_assert_ptr_nonnull(f.recs);
  memcpy(f.recs, orig->recs, nrec * sizeof *f.recs);
  int m = expect_mapped(&f);

  /* Cut at and around every record boundary, inside headers and data. */
  size_t off = 24;
  for (size_t i = 0; i <= nrec; i++) {
    size_t cuts[] = {off, off + 1, off + 8, off + 15, off + 16, off + 17,
                     i < nrec ? off + 16 + f.recs[i].caplen / 2 : off,
                     i < nrec && f.recs[i].caplen ? off + 16 + f.recs[i].caplen - 1 : off};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
      emit(&f, path, cuts[c]);
      variant(path, m);
    }
    if (i < nrec)
      off += 16 + f.recs[i].caplen;
  }
  /* Byte order, timestamp resolution, versions whose lengths are swapped
   * (2.2) or maybe swapped (2.3), the 543.0 of DG/UX. */
  struct pcapf g = f;
  g.swapped = !f.swapped;
  emit(&g, path, SIZE_MAX);
  variant(path, expect_mapped(&g));
  g = f;
  g.magic = f.magic == 0xa1b2c3d4u ? 0xa1b23c4du : 0xa1b2c3d4u;
  emit(&g, path, SIZE_MAX);
  variant(path, m);
  uint16_t versions[][2] = {{2, 0}, {2, 2}, {2, 3}, {543, 0}, {2, 5}, {1, 0}, {3, 0}};
  for (size_t k = 0; k < sizeof versions / sizeof versions[0]; k++) {
    g = f;
    g.major = versions[k][0];
    g.minor = versions[k][1];
    emit(&g, path, SIZE_MAX);
    variant(path, -1);
  }
  /* Snaplens: small (records above it are cut, and a cut file tears in the
   * discarded part or before), 0 and above INT_MAX (the link type's
   * maximum), INT_MAX. */
  uint32_t snaps[] = {1, 60, 0, 0x80000000u, 0x7fffffffu};
  for (size_t k = 0; k < sizeof snaps / sizeof snaps[0]; k++) {
    g = f;
    g.snaplen = snaps[k];
    emit(&g, path, SIZE_MAX);
    variant(path, m);
    if (nrec > 0 && f.recs[0].caplen > 2) {
      emit(&g, path, 24 + 16 + f.recs[0].caplen - 1);
      variant(path, m);
      emit(&g, path, 24 + 16 + 1);
      variant(path, m);
    }
  }
  /* Hostile lengths and timestamps on the first and the last record: wire length 0, below caplen, caplen above the snaplen, above
   * the maximum, huge; negative and overlong timestamps. */
  if (nrec > 0) {
    size_t which[] = {0, nrec - 1};
    for (size_t w = 0; w < 2; w++) {
      struct rec saved = f.recs[which[w]];
      struct rec *r = &f.recs[which[w]];
      uint32_t lens[][2] = {{saved.caplen, 0}, {saved.caplen, saved.caplen / 2},
                            {262145, 262145}, {0xffffffffu, 0xffffffffu},
                            {300000, 300000}, {0, 0}};
      for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        r->caplen = lens[k][0];
        r->len = lens[k][1];
        emit(&f, path, SIZE_MAX);
        variant(path, m);
        g = f;
        g.snaplen = 0x7fffffffu;
        emit(&g, path, SIZE_MAX);
        variant(path, m);
        *r = saved;
      }
      uint32_t ts[][2] = {{0x80000000u, 0xffffffffu}, {0xffffffffu, 999999},
                          {5, 1000000}, {0x7fffffffu, 0x7fffffffu}, {0, 0x80000000u}};
      for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
        r->sec = ts[k][0];
        r->usec = ts[k][1];
        for (int nano = 0; nano < 2; nano++) {
          g = f;
          g.magic = nano ? 0xa1b23c4du : 0xa1b2c3d4u;
          emit(&g, path, SIZE_MAX);
          variant(path, m);
        }
        *r = saved;
      }
    }
  }
  free(f.recs);
}

/* ---- the captures ---- */

#define MAX_FILES 1024
static char *files[MAX_FILES];
static int nfiles;

static int looks_like_capture(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return 0;
  uint8_t b[4];
  int ok = fread(b, 1, 4, f) == 4;
  fclose(f);
  if (!ok)
    return 0;
  uint32_t m;
  memcpy(&m, b, 4);
  return m == 0xa1b2c3d4u || m == 0xa1b23c4du || sw32(m) == 0xa1b2c3d4u ||
         sw32(m) == 0xa1b23c4du || m == 0x0a0d0d0au || sw32(m) == 0xa1b2cd34u ||
         m == 0xa1b2cd34u;
}

static void collect(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode))
      collect(path);
    else if (S_ISREG(st.st_mode) && nfiles < MAX_FILES && looks_like_capture(path))
      files[nfiles++] = strdup(path);
  }
  closedir(d);
}

START_TEST(every_capture) {
  ck_assert_int_lt(_i, nfiles);
  const char *path = files[_i];
  size_t n;
  uint8_t *b = slurp(path, &n);
  ck_assert_ptr_nonnull(b);
  struct pcapf f;
  int standard = parse(b, n, &f);
  /* The file itself, both ways; a standard pcap file libpcap opens is read
   * mapped (unless libpcap rewrites its records). */
  both_ways(path, 0, standard ? expect_mapped(&f) : 0);
  both_ways(path, 1, standard ? expect_mapped(&f) : 0);
  if (standard) {
    variants(&f, 6);
    free(f.recs);
  }
  free(b);
}
END_TEST

/* The direct reader is there: a generated capture is read directly, and
 * its records lie one after the other in the reader's window, not each in
 * a copy of its own. */
START_TEST(generated_is_mapped) {
  char path[512];
  snprintf(path, sizeof path, "%s/g.pcap", tmpdir);
  struct pcapf f;
  memset(&f, 0, sizeof f);
  f.magic = 0xa1b23c4du;
  f.major = 2;
  f.minor = 4;
  f.snaplen = 65535;
  f.linktype = 1;
  uint8_t frame[1514];
  for (size_t i = 0; i < sizeof frame; i++)
    frame[i] = (uint8_t)(i * 7);
  struct rec recs[64];
  for (int i = 0; i < 64; i++)
    recs[i] = (struct rec){.sec = 1700000000u + (uint32_t)i, .usec = (uint32_t)i * 1000,
                           .caplen = 60u + (uint32_t)i * 20, .len = 60u + (uint32_t)i * 20,
                           .data = frame, .stored = 60u + (uint32_t)i * 20};
  f.recs = recs;
  f.nrecs = 64;
  emit(&f, path, SIZE_MAX);
  ck_assert_uint_eq(both_ways(path, 0, 1), 64);
  char err[512];
  struct trace *t = open_way(path, 0, 0, err, sizeof err);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(trace_direct(t), 1);
  struct trace_record r1, r2;
  ck_assert_int_eq(trace_next(t, &r1, err, sizeof err), 1);
  const uint8_t *first = r1.data;
  ck_assert_int_eq(trace_next(t, &r2, err, sizeof err), 1);
  /* consecutive records lie consecutively: 60 bytes and a 16-byte header */
  ck_assert_ptr_eq(r2.data, first + 60 + 16);
  trace_close(t);
  variants(&f, 16);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("pcap_map");
  TCase *tc = tcase_create("files");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, generated_is_mapped);
  tcase_add_loop_test(tc, every_capture, 0, nfiles);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return EXIT_FAILURE;
  }
  collect(NICSIM_SOURCE_DIR "/tests");
  collect(NICSIM_SOURCE_DIR "/traces/samples");
  collect(CORPUS);
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  for (int i = 0; i < nfiles; i++)
    free(files[i]);
  char path[600];
  snprintf(path, sizeof path, "%s/v.pcap", tmpdir);
  unlink(path);
  snprintf(path, sizeof path, "%s/g.pcap", tmpdir);
  unlink(path);
  rmdir(tmpdir);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
