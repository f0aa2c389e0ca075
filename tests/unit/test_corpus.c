/*
 * The shared corpus ($NICSIM_CORPUS, by default ../shared/corpus beside the
 * source tree; read-only): every capture a user might point the simulator
 * at. Where it is absent (a plain clone), the test says so and is skipped
 * (exit status 77, CTest's SKIP_RETURN_CODE). For each file of MANIFEST.tsv, libpcap itself is
 * the reference, run here at test time (pcap_open_offline + pcap_next_ex to
 * the end, never a count from the manifest):
 * - a file libpcap does not open: trace_open fails with one line naming the
 *   file and carrying libpcap's reason;
 * - a file libpcap opens, of a link type we convert or pass: read in
 *   lockstep with libpcap, every record is there with the same index, bytes,
 *   lengths and timestamp, and the end is the same: a clean end, or
 *   libpcap's error on the same record, named "FILE: record N: <libpcap's
 *   text>". A record of a supported link type that has no Ethernet form is
 *   an error naming the file and the record, or skipped and counted with
 *   skip_unsupported: delivered + skipped = libpcap's count, always;
 * - a file of another link type: refused with one line naming the file and
 *   the link type, or, with skip_unsupported, read as no packets with every
 *   record counted as skipped.
 * Each file is its own test (Check forks), with a timeout: no crash, no
 * hang.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "trace.h"

#define CORPUS_DEFAULT NICSIM_SOURCE_DIR "/../shared/corpus"
#define MAX_FILES 512
#define EXIT_SKIPPED 77

static const char *corpus = CORPUS_DEFAULT;

static char *files[MAX_FILES];
static int nfiles;
static char manifest_err[1100];

/* The first column of every row but the header. */
static void load_manifest(void) {
  char manifest[1024];
  snprintf(manifest, sizeof manifest, "%s/MANIFEST.tsv", corpus);
  FILE *f = fopen(manifest, "r");
  if (f == NULL) {
    snprintf(manifest_err, sizeof manifest_err, "cannot open %s", manifest);
    return;
  }
  char line[8192];
  int row = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (row++ == 0)
      continue; /* header */
    char *tab = strchr(line, '\t');
    if (tab == NULL || tab == line)
      continue;
    *tab = '\0';
    if (nfiles < MAX_FILES)
      files[nfiles++] = strdup(line);
  }
  fclose(f);
}

struct reference {
  int opened;          /* libpcap opened it */
  char open_err[PCAP_ERRBUF_SIZE];
  int dlt;
  uint64_t records;    /* records pcap_next_ex returned */
  int clean;           /* the last call returned PCAP_ERROR_BREAK */
  char read_err[PCAP_ERRBUF_SIZE + 64];
};

static pcap_t *ref_open(const char *path, char *errbuf) {
  return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
}

static struct reference reference(const char *path) {
  struct reference ref;
  memset(&ref, 0, sizeof ref);
  pcap_t *p = ref_open(path, ref.open_err);
  if (p == NULL)
    return ref;
  ref.opened = 1;
  ref.dlt = pcap_datalink(p);
  struct pcap_pkthdr *h;
  const u_char *d;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1)
    ref.records++;
  ref.clean = rc == PCAP_ERROR_BREAK;
  if (!ref.clean)
    snprintf(ref.read_err, sizeof ref.read_err, "%s", pcap_geterr(p));
  pcap_close(p);
  return ref;
}

static void one_line(const char *err, const char *path) {
  ck_assert_ptr_null(strchr(err, '\n'));
  ck_assert_msg(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
                "error does not start with the file name: %s", err);
}

/* N of an error "PATH: record N: ...", or -1. */
static long long record_of(const char *err, const char *path) {
  size_t n = strlen(path);
  if (strncmp(err, path, n) != 0 || strncmp(err + n, ": record ", 9) != 0)
    return -1;
  char *end;
  long long v = strtoll(err + n + 9, &end, 10);
  return end != err + n + 9 && end[0] == ':' && end[1] == ' ' ? v : -1;
}

/* Read the file with our reader and libpcap side by side; skip: the
 * skip_unsupported option. */
static void lockstep(const char *path, const struct reference *ref, int skip) {
  char err[1024], want[2048];
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  o.skip_unsupported = skip;
  struct trace *t = trace_open2(path, &o, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  char pe[PCAP_ERRBUF_SIZE];
  pcap_t *p = ref_open(path, pe);
  ck_assert_ptr_nonnull(p);
  struct pcap_pkthdr *h;
  const u_char *d;
  struct trace_record r;
  uint64_t k = 0, delivered = 0, ip = 0;
  int have = 0;          /* r holds the next record we delivered */
  long long failed = -1; /* the record our reader's error names */
  int converts = trace_converts(t);
  while (pcap_next_ex(p, &h, &d) == 1) {
    if (!have && failed < 0) {
      int rc = trace_next(t, &r, err, sizeof err);
      if (rc == -1) {
        one_line(err, path);
        failed = record_of(err, path);
        ck_assert_msg(failed >= (long long)k, "error names no record at or after %llu: %s",
                      (unsigned long long)k, err);
      }
      have = rc == 1;
    }
    if (failed == (long long)k) {
      /* a record of a supported link type with no Ethernet form: none in
       * this corpus (every SLL, raw IP and loopback record carries IPv4,
       * IPv6 or an EtherType), so a refusal here means a broken
       * conversion. A new capture with, say, CAN records in an SLL file
       * would be listed here with its expected count. */
      ck_assert_msg(!skip, "refused with skip_unsupported: %s", err);
      ck_assert_msg(0, "a record libpcap reads was refused: %s", err);
      break;
    }
    if (have && r.index == k) {
      ck_assert_uint_eq(r.orig_caplen, h->caplen);
      ck_assert_uint_eq(r.orig_origlen, h->len);
      ck_assert_int_eq(memcmp(r.orig_data, d, h->caplen), 0);
      ck_assert_int_eq(r.orig_ts_sec, (int64_t)h->ts.tv_sec);
      ck_assert_uint_eq(r.orig_ts_nsec, (uint32_t)h->ts.tv_usec);
      if (!(r.flags & TRACE_REC_TS_OUT_OF_RANGE)) {
        ck_assert_int_eq(r.ts_sec, (int64_t)h->ts.tv_sec);
        ck_assert_uint_eq(r.ts_nsec, (uint32_t)h->ts.tv_usec);
      }
      ck_assert_uint_le(r.caplen, r.origlen);
      ck_assert_int_eq(!!(r.flags & TRACE_REC_CONVERTED), converts);
      if (!converts) {
        ck_assert_ptr_eq(r.data, r.orig_data);
        ck_assert_uint_eq(r.caplen, h->caplen);
      }
      struct flow_parse fp;
      if (flow_parse(r.data, r.caplen, &fp) == 0) {
        ck_assert_uint_le(fp.payload_offset, r.caplen);
        ip += fp.key.af != FLOW_AF_NONE;
      }
      delivered++;
      have = 0;
    } else {
      /* libpcap returned record k and we did not deliver it: skipped */
      ck_assert_msg(skip, "record %llu missing without skip_unsupported", (unsigned long long)k);
      ck_assert(!have || r.index > k);
    }
    k++;
  }
  ck_assert_uint_le(k, ref->records);
  if (failed >= 0 && failed < (long long)ref->records) {
    pcap_close(p); /* refused on a record libpcap reads: checked above */
    trace_close(t);
    return;
  }
  ck_assert_msg(!have, "our reader delivered record %llu past libpcap's end",
                (unsigned long long)r.index);
  int rc = -1;
  if (failed < 0)
    rc = trace_next(t, &r, err, sizeof err);
  if (ref->clean) {
    ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
  } else {
    /* libpcap's error after its last good record, in its words */
    ck_assert_int_eq(rc, -1);
    snprintf(want, sizeof want, "%s: record %llu: %s", path, (unsigned long long)ref->records,
             ref->read_err);
    ck_assert_str_eq(err, want);
    one_line(err, path);
  }
  const struct trace_stats *st = trace_stats(t);
  ck_assert_uint_eq(st->records, ref->records);
  ck_assert_uint_eq(st->packets, delivered);
  ck_assert_uint_eq(st->packets + st->skipped_unsupported, ref->records);
  ck_assert_uint_eq(st->converted, converts ? delivered : 0);
  /* skipped only when the whole link type is unsupported (see above) */
  ck_assert_uint_eq(st->skipped_unsupported, trace_file_linktype(t) == ref->dlt &&
                                                      !trace_converts(t) &&
                                                      trace_file_linktype(t) != DLT_EN10MB
                                                  ? ref->records
                                                  : 0);
  /* a converted capture of IP traffic is IP to the flow parser */
  if (converts && delivered > 0)
    ck_assert_msg(ip * 10 >= delivered * 9, "%llu of %llu converted frames parse as IP",
                  (unsigned long long)ip, (unsigned long long)delivered);
  /* a second pass counts the same */
  struct trace_stats first = *st;
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  while (trace_next(t, &r, err, sizeof err) == 1)
    ;
  ck_assert_int_eq(memcmp(trace_stats(t), &first, sizeof first), 0);
  pcap_close(p);
  trace_close(t);
}

START_TEST(manifest) {
  ck_assert_msg(manifest_err[0] == '\0', "%s", manifest_err);
  ck_assert_int_ge(nfiles, 50); /* 53 rows when this was written */
  for (int i = 0; i < nfiles; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", corpus, files[i]);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s is in the manifest but cannot be opened", path);
    fclose(f);
  }
}
END_TEST

START_TEST(corpus_file) {
  ck_assert_int_lt(_i, nfiles);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", corpus, files[_i]);
  struct reference ref = reference(path);
  char err[1024], want[2048];
  struct trace *t = trace_open(path, err, sizeof err);
  if (!ref.opened) {
    ck_assert_msg(t == NULL, "%s: libpcap refuses it (%s), we opened it", path, ref.open_err);
    snprintf(want, sizeof want, "%s: not a capture file libpcap can read: %s", path, ref.open_err);
    ck_assert_str_eq(err, want);
    one_line(err, path);
    return;
  }
  if (t == NULL) {
    /* refused: the link type, named */
    const char *name = pcap_datalink_val_to_name(ref.dlt);
    if (name != NULL)
      snprintf(want, sizeof want, "%s: link type %s (%d) is not supported (", path, name, ref.dlt);
    else
      snprintf(want, sizeof want, "%s: link type %d is not supported (", path, ref.dlt);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s; wanted %s...", err, want);
    one_line(err, path);
    ck_assert(ref.dlt != DLT_EN10MB && ref.dlt != DLT_LINUX_SLL && ref.dlt != DLT_RAW &&
              ref.dlt != DLT_NULL && ref.dlt != DLT_IPV4 && ref.dlt != DLT_IPV6);
    /* skipped: every record counted, none delivered */
    lockstep(path, &ref, 1);
    return;
  }
  ck_assert_int_eq(trace_file_linktype(t), ref.dlt);
  ck_assert_int_eq(trace_linktype(t), DLT_EN10MB);
  trace_close(t);
  lockstep(path, &ref, 0);
  lockstep(path, &ref, 1);
}
END_TEST

static Suite *corpus_suite(void) {
  Suite *s = suite_create("corpus");
  TCase *tc = tcase_create("manifest");
  tcase_add_test(tc, manifest);
  suite_add_tcase(s, tc);
  tc = tcase_create("files");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, corpus_file, 0, nfiles > 0 ? nfiles : 1);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  const char *env = getenv("NICSIM_CORPUS");
  if (env && *env)
    corpus = env;
  char manifest[1024];
  snprintf(manifest, sizeof manifest, "%s/MANIFEST.tsv", corpus);
  FILE *probe = fopen(manifest, "r");
  if (probe == NULL) {
    printf("skipped: corpus not present (%s)\n", manifest);
    return EXIT_SKIPPED;
  }
  fclose(probe);
  load_manifest();
  SRunner *sr = srunner_create(corpus_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  for (int i = 0; i < nfiles; i++)
    free(files[i]);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
