/*
 * traces/trace.c: reading captures through libpcap, errors, rewind, standard
 * input, BPF filters. Uses the bundled sample and real captures
 * shipped under tests/captures (read-only); scratch files go to $TMPDIR (or /tmp) and are removed.
 */
#define _GNU_SOURCE /* posix_openpt, ptsname_r */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gen.h"
#include "trace.h"

/* Real captures shipped with the tests (tests/captures/README.md). */
#define CORPUS NICSIM_SOURCE_DIR "/tests/captures/"
#define SAMPLE NICSIM_SOURCE_DIR "/traces/samples/mixed.pcap"

/* The bundled sample (traces/samples/README.md). */
#define SAMPLE_PACKETS 600u
#define SAMPLE_BYTES 202538u

static char err[1024];

/* ---- helpers ---- */

struct summary {
  uint64_t packets, bytes, caplen_sum;
  uint64_t digest; /* over timestamps, lengths and data, in order */
  int rc;          /* last trace_next result */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

static uint64_t record_digest(uint64_t h, const struct trace_record *r) {
  h = fnv(h, &r->index, sizeof r->index);
  h = fnv(h, &r->ts_ps, sizeof r->ts_ps);
  h = fnv(h, &r->ts_sec, sizeof r->ts_sec);
  h = fnv(h, &r->ts_nsec, sizeof r->ts_nsec);
  h = fnv(h, &r->caplen, sizeof r->caplen);
  h = fnv(h, &r->origlen, sizeof r->origlen);
  return fnv(h, r->data, r->caplen);
}

/* Read to the end (or the first error) from where t is. */
static struct summary read_all(struct trace *t) {
  struct summary s = {0, 0, 0, UINT64_C(0xcbf29ce484222325), 0};
  struct trace_record r;
  uint64_t expect_index = 0;
  while ((s.rc = trace_next(t, &r, err, sizeof err)) == 1) {
    ck_assert_uint_eq(r.index, expect_index);
    expect_index++;
    ck_assert_uint_le(r.caplen, r.origlen);
    ck_assert_ptr_nonnull(r.data);
    s.packets++;
    s.bytes += r.origlen;
    s.caplen_sum += r.caplen;
    s.digest = record_digest(s.digest, &r);
  }
  return s;
}

static struct trace *must_open(const char *path) {
  struct trace *t = trace_open(path, err, sizeof err);
  ck_assert_msg(t != NULL, "trace_open(%s): %s", path, err);
  return t;
}

static void tmp_path(char *buf, size_t n, const char *suffix) {
  const char *dir = getenv("TMPDIR");
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  char tmpl[512];
  snprintf(tmpl, sizeof tmpl, "%s/nicsim_test_trace_XXXXXX", dir);
  int fd = mkstemp(tmpl);
  ck_assert_int_ge(fd, 0);
  close(fd);
  unlink(tmpl);
  snprintf(buf, n, "%s%s", tmpl, suffix);
}

/* Write n Ethernet/IPv4/UDP frames of len bytes with libpcap's dumper
 * (microsecond pcap). Record i: ts = 1000+i s, 10*i us; wire length
 * origlen (or len when origlen is 0). */
static void write_pcap(const char *path, int n, uint32_t len, uint32_t origlen) {
  pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
  ck_assert_ptr_nonnull(dead);
  pcap_dumper_t *d = pcap_dump_open(dead, path);
  ck_assert_msg(d != NULL, "%s", pcap_geterr(dead));
  uint8_t frame[2048];
  ck_assert_uint_le(len, sizeof frame);
  for (int i = 0; i < n; i++) {
    memset(frame, 0, sizeof frame);
    memcpy(frame, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
    frame[14] = 0x45;
    frame[23] = 17;
    for (uint32_t j = 42; j < len; j++)
      frame[j] = (uint8_t)(i + j);
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = 1000 + i;
    h.ts.tv_usec = 10 * i;
    h.caplen = len;
    h.len = origlen ? origlen : len;
    pcap_dump((u_char *)d, &h, frame);
  }
  pcap_dump_close(d);
  pcap_close(dead);
}

static off_t file_size(const char *path) {
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  return st.st_size;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

/* Feed bytes to a fresh trace_open("-") through a pipe on fd 0 (a forked
 * writer), then put the real standard input back. */
static struct trace *open_stdin_with(const uint8_t *bytes, size_t n, char *e, size_t elen) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(p[0]);
    size_t off = 0;
    while (off < n) {
      ssize_t w = write(p[1], bytes + off, n - off);
      if (w <= 0)
        _exit(1);
      off += (size_t)w;
    }
    _exit(0);
  }
  close(p[1]);
  int saved = dup(STDIN_FILENO);
  ck_assert_int_ge(saved, 0);
  ck_assert_int_ge(dup2(p[0], STDIN_FILENO), 0);
  close(p[0]);
  struct trace *t = trace_open("-", e, elen);
  ck_assert_int_ge(dup2(saved, STDIN_FILENO), 0);
  close(saved);
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return t;
}

/* ---- reading ---- */

START_TEST(sample_counts) {
  struct trace *t = must_open(SAMPLE);
  ck_assert_int_eq(trace_linktype(t), DLT_EN10MB);
  ck_assert_str_eq(trace_linktype_name(t), "EN10MB");
  ck_assert_str_eq(trace_path(t), SAMPLE);
  struct summary s = read_all(t);
  ck_assert_msg(s.rc == 0, "%s", err);
  ck_assert_uint_eq(s.packets, SAMPLE_PACKETS);
  ck_assert_uint_eq(s.bytes, SAMPLE_BYTES);
  ck_assert_uint_eq(s.caplen_sum, SAMPLE_BYTES);
  ck_assert_int_eq(trace_file_linktype(t), DLT_EN10MB);
  ck_assert_str_eq(trace_file_linktype_name(t), "EN10MB");
  ck_assert_int_eq(trace_converts(t), 0);
  const struct trace_stats *st = trace_stats(t);
  ck_assert_uint_eq(st->records, SAMPLE_PACKETS);
  ck_assert_uint_eq(st->packets, SAMPLE_PACKETS);
  ck_assert_uint_eq(st->bytes, SAMPLE_BYTES);
  ck_assert_uint_eq(st->captured_bytes, SAMPLE_BYTES);
  ck_assert_uint_eq(st->truncated_packets + st->uncaptured_bytes + st->origlen_zero +
                        st->origlen_short + st->ts_backwards + st->ts_out_of_range +
                        st->skipped_unsupported + st->converted,
                    0);
  /* at the end it stays at the end */
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
  trace_close(t);
}
END_TEST

START_TEST(corpus_tcpreplay) {
  struct trace *t = must_open(CORPUS "tcpreplay/test/test.pcap");
  struct summary s = read_all(t);
  ck_assert_msg(s.rc == 0, "%s", err);
  ck_assert_uint_eq(s.packets, 179);
  trace_close(t);
}
END_TEST

START_TEST(corpus_pcapng) {
  struct trace *t = must_open(CORPUS "tcpdump/tests/of13_ericsson.pcapng");
  ck_assert_int_eq(trace_linktype(t), DLT_EN10MB);
  struct summary s = read_all(t);
  ck_assert_msg(s.rc == 0, "%s", err);
  ck_assert_uint_eq(s.packets, 174);
  trace_close(t);
}
END_TEST

START_TEST(corpus_empty) {
  struct trace *t = must_open(CORPUS "tcpdump/tests/empty.pcap");
  struct summary s = read_all(t);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_uint_eq(s.packets, 0);
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  s = read_all(t);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_uint_eq(s.packets, 0);
  trace_close(t);
}
END_TEST

/* Nanosecond pcap: every timestamp equals what libpcap itself gives with
 * nanosecond precision, and the first one equals the bytes in the file. */
START_TEST(corpus_nanosecond) {
  const char *path = CORPUS "scapy/test/pcaps/netflowv9.pcap";
  char pe[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, pe);
  ck_assert_msg(p != NULL, "%s", pe);
  struct trace *t = must_open(path);
  struct trace_record r;
  struct pcap_pkthdr *h;
  const u_char *d;
  int n = 0, sub_us = 0;
  while (pcap_next_ex(p, &h, &d) == 1) {
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    ck_assert_int_eq(r.ts_sec, (int64_t)h->ts.tv_sec);
    ck_assert_uint_eq(r.ts_nsec, (uint32_t)h->ts.tv_usec);
    ck_assert_uint_eq(r.ts_ps, (uint64_t)h->ts.tv_sec * UINT64_C(1000000000000) +
                                   (uint64_t)h->ts.tv_usec * 1000u);
    ck_assert_uint_eq(r.caplen, h->caplen);
    ck_assert_uint_eq(r.origlen, h->len);
    ck_assert_int_eq(memcmp(r.data, d, h->caplen), 0);
    if (r.ts_nsec % 1000 != 0)
      sub_us++;
    n++;
  }
  pcap_close(p);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
  ck_assert_int_eq(n, 5);
  ck_assert_int_gt(sub_us, 0); /* really nanoseconds, not microseconds * 1000 */

  /* First record header, straight from the file (little-endian, magic
   * a1b23c4d): sec 0x59e8820d, nsec 0x2250c653. */
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_int_eq(r.ts_sec, 1508409869);
  ck_assert_uint_eq(r.ts_nsec, 575718995);
  /* ts_ps is modulo 2^64 (see trace.h): the difference is exact. */
  struct trace_record r2;
  ck_assert_int_eq(trace_next(t, &r2, err, sizeof err), 1);
  ck_assert_uint_eq(r2.ts_ps - r.ts_ps,
                    (uint64_t)((r2.ts_sec - r.ts_sec) * 1000000000 +
                               ((int64_t)r2.ts_nsec - (int64_t)r.ts_nsec)) * 1000u);
  ck_assert_uint_eq(r2.ts_ps - r.ts_ps, UINT64_C(64490) * 1000); /* .575783485 - .575718995 */
  trace_close(t);
}
END_TEST

/* A big-endian (swapped) nanosecond pcap reads the same as the original. */
START_TEST(swapped_byte_order) {
  size_t n;
  uint8_t *b = slurp(SAMPLE, &n);
  ck_assert_uint_ge(n, 24);
  ck_assert_int_eq(memcmp(b, "\x4d\x3c\xb2\xa1", 4), 0); /* LE nanosecond */
  /* File header: magic (4), version 2+2, thiszone 4, sigfigs 4, snaplen 4, linktype 4. */
  static const int fields[] = {4, 2, 2, 4, 4, 4, 4};
  size_t off = 0;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    for (int j = 0; j < fields[i] / 2; j++) {
      uint8_t x = b[off + j];
      b[off + j] = b[off + fields[i] - 1 - j];
      b[off + fields[i] - 1 - j] = x;
    }
    off += (size_t)fields[i];
  }
  while (off + 16 <= n) {
    uint32_t caplen = (uint32_t)b[off + 8] | (uint32_t)b[off + 9] << 8 |
                      (uint32_t)b[off + 10] << 16 | (uint32_t)b[off + 11] << 24;
    for (int k = 0; k < 4; k++)
      for (int j = 0; j < 2; j++) {
        uint8_t x = b[off + 4 * k + j];
        b[off + 4 * k + j] = b[off + 4 * k + 3 - j];
        b[off + 4 * k + 3 - j] = x;
      }
    off += 16 + caplen;
  }
  ck_assert_uint_eq(off, n);
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  spit(path, b, n);
  free(b);
  struct trace *a = must_open(SAMPLE), *s = must_open(path);
  struct summary sa = read_all(a), ss = read_all(s);
  ck_assert_int_eq(sa.rc, 0);
  ck_assert_msg(ss.rc == 0, "%s", err);
  ck_assert_uint_eq(ss.packets, SAMPLE_PACKETS);
  ck_assert_uint_eq(ss.digest, sa.digest);
  trace_close(a);
  trace_close(s);
  unlink(path);
}
END_TEST

/* ---- refusals ---- */

START_TEST(missing_file) {
  const char *path = CORPUS "no/such/file.pcap";
  err[0] = '\0';
  ck_assert_ptr_null(trace_open(path, err, sizeof err));
  char want[1024];
  snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
  ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(directory) {
  ck_assert_ptr_null(trace_open(NICSIM_SOURCE_DIR, err, sizeof err));
  ck_assert_str_eq(err, NICSIM_SOURCE_DIR ": cannot open: Is a directory");
}
END_TEST

START_TEST(invalid_version) {
  const char *path = CORPUS "libpcap/tests/pcap-invalid-version-1.pcap";
  ck_assert_ptr_null(trace_open(path, err, sizeof err));
  char want[1024];
  snprintf(want, sizeof want, "%s: not a capture file libpcap can read: ", path);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
  ck_assert_uint_gt(strlen(err), strlen(want)); /* libpcap's reason follows */
  ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(not_a_capture) {
  char path[600];
  tmp_path(path, sizeof path, ".txt");
  spit(path, (const uint8_t *)"hello, world\n", 13);
  ck_assert_ptr_null(trace_open(path, err, sizeof err));
  char want[1024];
  snprintf(want, sizeof want, "%s: not a capture file libpcap can read: ", path);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
  spit(path, (const uint8_t *)"", 0);
  ck_assert_ptr_null(trace_open(path, err, sizeof err));
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
  unlink(path);
}
END_TEST

static void check_refused_linktype(const char *path) {
  ck_assert_ptr_null(trace_open(path, err, sizeof err));
  char want[1024];
  snprintf(want, sizeof want,
           "%s: link type IEEE802_11_RADIO (127) is not supported (the NIC model takes Ethernet "
           "frames; Linux cooked, raw IP and BSD loopback captures are converted)",
           path);
  ck_assert_str_eq(err, want);
}

START_TEST(non_ethernet_radiotap) {
  check_refused_linktype(CORPUS "scapy/test/pcaps/bad_rsn_parsing_overrides_ssid.pcap");
  check_refused_linktype(CORPUS "libpcap/tests/filter/wpa-Induction.pcap");
  /* plain 802.11, and a link type libpcap has no name for */
  const char *path = CORPUS "libpcap/tests/filter/Network_Join_Nokia_Mobile.pcap";
  ck_assert_ptr_null(trace_open(path, err, sizeof err));
  ck_assert_ptr_nonnull(strstr(err, ": link type IEEE802_11 (105) is not supported"));
  ck_assert_int_eq(strncmp(err, path, strlen(path)), 0);
  path = CORPUS "libpcap/tests/linktype-reserved-field-not-zero.pcap";
  ck_assert_ptr_null(trace_open(path, err, sizeof err));
  char want[1024];
  snprintf(want, sizeof want, "%s: link type 3145728 is not supported", path);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
}
END_TEST

/* With skip_unsupported, a capture of a link type without an Ethernet form
 * opens and reads as no packets, every record counted as skipped. */
START_TEST(skip_unsupported_linktype) {
  struct trace_open_opts o;
  memset(&o, 0x5a, sizeof o);
  trace_open_opts_default(&o);
  ck_assert_int_eq(o.skip_unsupported, 0);
  o.skip_unsupported = 1;
  const char *path = CORPUS "libpcap/tests/filter/wpa-Induction.pcap";
  struct trace *t = trace_open2(path, &o, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  ck_assert_int_eq(trace_file_linktype(t), DLT_IEEE802_11_RADIO);
  ck_assert_str_eq(trace_file_linktype_name(t), "IEEE802_11_RADIO");
  ck_assert_int_eq(trace_linktype(t), DLT_EN10MB);
  ck_assert_int_eq(trace_converts(t), 0);
  struct summary s = read_all(t);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_uint_eq(s.packets, 0);
  const struct trace_stats *st = trace_stats(t);
  ck_assert_uint_eq(st->records, 10);
  ck_assert_uint_eq(st->skipped_unsupported, 10);
  ck_assert_uint_eq(st->packets, 0);
  ck_assert_uint_eq(st->bytes, 0);
  /* the torn radiotap file: skipped, then libpcap's error on record 1 */
  trace_close(t);
  path = CORPUS "scapy/test/pcaps/bad_rsn_parsing_overrides_ssid.pcap";
  t = trace_open2(path, &o, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  s = read_all(t);
  ck_assert_int_eq(s.rc, -1);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: record 1: truncated dump file; tried to read 16 header bytes, only got 1", path);
  ck_assert_str_eq(err, want);
  ck_assert_uint_eq(trace_stats(t)->skipped_unsupported, 1);
  trace_close(t);
  /* an Ethernet capture is not affected */
  t = trace_open2(SAMPLE, &o, err, sizeof err);
  s = read_all(t);
  ck_assert_uint_eq(s.packets, SAMPLE_PACKETS);
  ck_assert_uint_eq(trace_stats(t)->skipped_unsupported, 0);
  trace_close(t);
}
END_TEST

/* ---- torn and hostile records ---- */

START_TEST(torn_last_record) {
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  write_pcap(path, 5, 100, 0);
  ck_assert_int_eq(file_size(path), 24 + 5 * (16 + 100));
  ck_assert_int_eq(truncate(path, 24 + 5 * (16 + 100) - 7), 0);
  struct trace *t = must_open(path);
  struct summary s = read_all(t);
  ck_assert_int_eq(s.rc, -1);
  ck_assert_uint_eq(s.packets, 4);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: record 4: truncated dump file; tried to read 100 captured bytes, only got 93",
           path);
  ck_assert_str_eq(err, want);
  /* the error sticks */
  struct trace_record r;
  err[0] = '\0';
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), -1);
  ck_assert_str_eq(err, want);
  /* rewind starts over */
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  s = read_all(t);
  ck_assert_int_eq(s.rc, -1);
  ck_assert_uint_eq(s.packets, 4);
  trace_close(t);

  /* A record header cut after 1 byte. */
  write_pcap(path, 3, 60, 0);
  ck_assert_int_eq(truncate(path, 24 + 2 * (16 + 60) + 1), 0);
  t = must_open(path);
  s = read_all(t);
  ck_assert_int_eq(s.rc, -1);
  ck_assert_uint_eq(s.packets, 2);
  snprintf(want, sizeof want,
           "%s: record 2: truncated dump file; tried to read 16 header bytes, only got 1", path);
  ck_assert_str_eq(err, want);
  trace_close(t);
  unlink(path);
}
END_TEST

/* A record with nothing captured (caplen 0, whatever its wire length) is
 * counted and skipped, never delivered as a frame; numbering goes on. */
START_TEST(zero_length_record_counted_not_delivered) {
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  for (uint32_t wire = 0; wire <= 60; wire += 60) {
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    ck_assert_ptr_nonnull(d);
    uint8_t frame[60];
    memset(frame, 0, sizeof frame);
    memcpy(frame, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    h.ts.tv_sec = 1000;
    h.caplen = 60;
    h.len = 60;
    pcap_dump((u_char *)d, &h, frame);
    h.caplen = 0;
    h.len = wire;
    pcap_dump((u_char *)d, &h, frame);
    h.caplen = 60;
    h.len = 60;
    pcap_dump((u_char *)d, &h, frame);
    pcap_dump_close(d);
    pcap_close(dead);
    struct trace *t = must_open(path);
    struct trace_record r;
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    ck_assert_uint_eq(r.index, 0);
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    ck_assert_uint_eq(r.index, 2);
    ck_assert_uint_eq(r.caplen, 60);
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
    const struct trace_stats *st = trace_stats(t);
    ck_assert_uint_eq(st->records, 3);
    ck_assert_uint_eq(st->packets, 2);
    ck_assert_uint_eq(st->zero_length, 1);
    ck_assert_uint_eq(st->bytes, 120);
    trace_close(t);
  }
  unlink(path);
}
END_TEST

START_TEST(origlen_below_caplen) {
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  for (uint32_t orig = 0; orig <= 10; orig += 10) { /* 0, then 10 < 60 */
    write_pcap(path, 2, 60, orig ? orig : 1);
    /* pcap_dump writes what it is given; patch the first record to orig */
    size_t n;
    uint8_t *b = slurp(path, &n);
    b[24 + 12] = (uint8_t)orig;
    b[24 + 13] = b[24 + 14] = b[24 + 15] = 0;
    spit(path, b, n);
    free(b);
    struct trace *t = must_open(path);
    struct trace_record r;
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    ck_assert_uint_eq(r.caplen, 60);
    ck_assert_uint_eq(r.origlen, 60);
    ck_assert_uint_eq(r.orig_origlen, orig); /* what the file says */
    ck_assert_uint_eq(r.flags, orig == 0 ? TRACE_REC_ORIGLEN_ZERO : TRACE_REC_ORIGLEN_SHORT);
    ck_assert_ptr_eq(r.data, r.orig_data);
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    ck_assert_uint_eq(r.origlen, 60); /* written with 1 or 10 */
    ck_assert_uint_eq(r.flags, TRACE_REC_ORIGLEN_SHORT);
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
    const struct trace_stats *st = trace_stats(t);
    ck_assert_uint_eq(st->origlen_zero, orig == 0);
    ck_assert_uint_eq(st->origlen_short, orig == 0 ? 1 : 2);
    ck_assert_uint_eq(st->truncated_packets, 0);
    ck_assert_uint_eq(st->bytes, 120);
    trace_close(t);
  }
  /* caplen < origlen is kept as is, and counted */
  write_pcap(path, 1, 60, 1500);
  struct trace *t = must_open(path);
  struct trace_record r;
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_uint_eq(r.caplen, 60);
  ck_assert_uint_eq(r.origlen, 1500);
  ck_assert_uint_eq(r.flags, TRACE_REC_TRUNCATED);
  ck_assert_uint_eq(r.ts_sec, 1000);
  ck_assert_uint_eq(r.ts_nsec, 0);
  ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 0);
  const struct trace_stats *st = trace_stats(t);
  ck_assert_uint_eq(st->truncated_packets, 1);
  ck_assert_uint_eq(st->uncaptured_bytes, 1440);
  ck_assert_uint_eq(st->bytes, 1500);
  ck_assert_uint_eq(st->captured_bytes, 60);
  trace_close(t);
  unlink(path);
}
END_TEST

/* A microsecond pcap's timestamps come out in nanoseconds. */
START_TEST(microsecond_scaled) {
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  write_pcap(path, 3, 60, 0);
  struct trace *t = must_open(path);
  struct trace_record r;
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
    ck_assert_int_eq(r.ts_sec, 1000 + i);
    ck_assert_uint_eq(r.ts_nsec, 10000u * (unsigned)i);
    ck_assert_uint_eq(r.ts_ps, (uint64_t)(1000 + i) * UINT64_C(1000000000000) +
                                   UINT64_C(10000000) * (unsigned)i);
  }
  trace_close(t);
  unlink(path);
}
END_TEST

/* ---- rewind, standard input ---- */

START_TEST(rewind_same_sequence) {
  struct trace *t = must_open(CORPUS "tcpreplay/test/test.pcap");
  struct summary a = read_all(t);
  ck_assert_int_eq(a.rc, 0);
  struct trace_stats first = *trace_stats(t);
  ck_assert_uint_eq(first.packets, 179);
  ck_assert_uint_eq(first.bytes, a.bytes);
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  /* a rewind starts the counts again: each full pass counts the trace once */
  ck_assert_uint_eq(trace_stats(t)->packets, 0);
  ck_assert_uint_eq(trace_stats(t)->records, 0);
  struct summary b = read_all(t);
  ck_assert_int_eq(b.rc, 0);
  ck_assert_int_eq(memcmp(trace_stats(t), &first, sizeof first), 0);
  ck_assert_uint_eq(a.packets, b.packets);
  ck_assert_uint_eq(a.digest, b.digest);
  /* rewind half way */
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  struct trace_record r;
  for (int i = 0; i < 50; i++)
    ck_assert_int_eq(trace_next(t, &r, err, sizeof err), 1);
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  struct summary c = read_all(t);
  ck_assert_uint_eq(c.packets, 179);
  ck_assert_uint_eq(c.digest, a.digest);
  trace_close(t);
}
END_TEST

START_TEST(stdin_pipe) {
  size_t n;
  uint8_t *bytes = slurp(SAMPLE, &n);
  struct trace *t = open_stdin_with(bytes, n, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  free(bytes);
  ck_assert_str_eq(trace_path(t), "-");
  struct summary a = read_all(t);
  ck_assert_msg(a.rc == 0, "%s", err);
  ck_assert_uint_eq(a.packets, SAMPLE_PACKETS);
  ck_assert_uint_eq(a.bytes, SAMPLE_BYTES);
  ck_assert_int_eq(trace_rewind(t, err, sizeof err), 0);
  struct summary b = read_all(t);
  ck_assert_uint_eq(b.packets, SAMPLE_PACKETS);
  ck_assert_uint_eq(b.digest, a.digest);
  trace_close(t);

  /* the same records as from the file */
  t = must_open(SAMPLE);
  struct summary c = read_all(t);
  ck_assert_uint_eq(c.digest, a.digest);
  trace_close(t);
}
END_TEST

/* What is spooled from a pipe is bounded: one byte less than the trace is
 * refused with a message, the trace's own size is read. */
static struct trace *open_pipe_max(const uint8_t *bytes, size_t n, uint64_t max, char *e, size_t elen) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(p[0]);
    signal(SIGPIPE, SIG_DFL);
    for (size_t off = 0; off < n;) {
      ssize_t w = write(p[1], bytes + off, n - off);
      if (w <= 0)
        _exit(1);
      off += (size_t)w;
    }
    _exit(0);
  }
  close(p[1]);
  char dev[64];
  snprintf(dev, sizeof dev, "/dev/fd/%d", p[0]);
  struct trace_open_opts o;
  trace_open_opts_default(&o);
  o.spool_max_bytes = max;
  struct trace *t = trace_open2(dev, &o, e, elen);
  close(p[0]);
  waitpid(pid, NULL, 0);
  return t;
}

START_TEST(spool_bounded) {
  size_t n;
  uint8_t *bytes = slurp(SAMPLE, &n);
  struct trace *t = open_pipe_max(bytes, n, n - 1, err, sizeof err);
  ck_assert_ptr_null(t);
  ck_assert_msg(strstr(err, "more than") && strstr(err, "as a file"), "got: %s", err);
  t = open_pipe_max(bytes, n, n, err, sizeof err);
  ck_assert_msg(t != NULL, "%s", err);
  ck_assert_uint_eq(read_all(t).packets, SAMPLE_PACKETS);
  trace_close(t);
  /* bytes that are no capture's are refused after the first four */
  static const uint8_t zeros[65536];
  t = open_pipe_max(zeros, sizeof zeros, 1024, err, sizeof err);
  ck_assert_ptr_null(t);
  ck_assert_msg(strstr(err, "does not start like a pcap or pcapng file"), "got: %s", err);
  free(bytes);
}
END_TEST

START_TEST(stdin_errors_say_stdin) {
  const char junk[] = "this is not a capture";
  struct trace *t = open_stdin_with((const uint8_t *)junk, sizeof junk - 1, err, sizeof err);
  ck_assert_ptr_null(t);
  const char *want = "<stdin>: not a capture file libpcap can read: ";
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);

  /* a torn record read from standard input */
  char path[600];
  tmp_path(path, sizeof path, ".pcap");
  write_pcap(path, 3, 80, 0);
  ck_assert_int_eq(truncate(path, 24 + 3 * (16 + 80) - 3), 0);
  size_t n;
  uint8_t *bytes = slurp(path, &n);
  unlink(path);
  t = open_stdin_with(bytes, n, err, sizeof err);
  free(bytes);
  ck_assert_msg(t != NULL, "%s", err);
  struct summary s = read_all(t);
  ck_assert_int_eq(s.rc, -1);
  ck_assert_uint_eq(s.packets, 2);
  ck_assert_msg(strncmp(err, "<stdin>: record 2: truncated dump file", 38) == 0, "got: %s", err);
  trace_close(t);
}
END_TEST

/* A terminal as standard input, or given by path: refused at once, not
 * waited on for a capture nobody will type (the old code blocked in
 * read(2): this test then ends by Check's timeout). */
START_TEST(terminal_refused) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0)
    return; /* no pseudo-terminals here */
  ck_assert_int_eq(grantpt(master), 0);
  ck_assert_int_eq(unlockpt(master), 0);
  char name[256];
  ck_assert_int_eq(ptsname_r(master, name, sizeof name), 0);
  int tty = open(name, O_RDWR | O_NOCTTY);
  ck_assert_int_ge(tty, 0);
  int saved = dup(STDIN_FILENO);
  ck_assert_int_ge(dup2(tty, STDIN_FILENO), 0);
  struct trace *t = trace_open("-", err, sizeof err);
  ck_assert_int_ge(dup2(saved, STDIN_FILENO), 0);
  close(saved);
  ck_assert_ptr_null(t);
  ck_assert_str_eq(err, "<stdin>: is a terminal, not a capture (give a file, or redirect one to it)");
  t = trace_open(name, err, sizeof err);
  ck_assert_ptr_null(t);
  char want[400];
  snprintf(want, sizeof want, "%s: is a terminal, not a capture (give a file, or redirect one to it)", name);
  ck_assert_str_eq(err, want);
  close(tty);
  close(master);
}
END_TEST

/* ---- BPF ---- */

static uint64_t count_matches(const char *path, const char *expr) {
  struct trace *t = must_open(path);
  struct trace_filter *f = trace_filter_new(trace_linktype(t), expr, err, sizeof err);
  ck_assert_msg(f != NULL, "%s", err);
  struct trace_record r;
  uint64_t n = 0;
  int rc;
  while ((rc = trace_next(t, &r, err, sizeof err)) == 1)
    n += (uint64_t)trace_filter_match(f, &r);
  ck_assert_int_eq(rc, 0);
  trace_filter_free(f);
  trace_close(t);
  return n;
}

START_TEST(filter_udp_port) {
  /* tcpdump -r test.pcap 'udp port 53' | wc -l: 28; 'udp port 60392': 4 */
  ck_assert_uint_eq(count_matches(CORPUS "tcpreplay/test/test.pcap", "udp port 53"), 28);
  ck_assert_uint_eq(count_matches(CORPUS "tcpreplay/test/test.pcap", "udp port 60392"), 4);
  ck_assert_uint_eq(count_matches(CORPUS "tcpreplay/test/test.pcap", "udp port 60393"), 0);
  ck_assert_uint_eq(count_matches(CORPUS "tcpreplay/test/test.pcap", ""), 179);
  /* the sample: every generator flow by its client address and port
   * (traces/samples/README.md's parameters) */
  struct gen_params gp;
  gen_params_default(&gp);
  gp.flows = 12;
  gp.seed = 1;
  uint64_t all = 0;
  for (uint32_t i = 0; i < gp.flows; i++) {
    struct flow_key k;
    ck_assert_int_eq(gen_flow_key(&gp, i, &k, err, sizeof err), 0);
    char expr[128];
    snprintf(expr, sizeof expr, "udp and src host %u.%u.%u.%u and src port %u and dst port 4000",
             k.src[0], k.src[1], k.src[2], k.src[3], (unsigned)k.sport);
    uint64_t n = count_matches(SAMPLE, expr);
    ck_assert_uint_gt(n, 0);
    all += n;
  }
  ck_assert_uint_eq(all, SAMPLE_PACKETS);
  ck_assert_uint_eq(count_matches(SAMPLE, "tcp"), 0);
}
END_TEST

START_TEST(filter_bad_expression) {
  ck_assert_ptr_null(trace_filter_new(DLT_EN10MB, "udp port", err, sizeof err));
  const char *want = "app.owns: cannot compile filter 'udp port': ";
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got: %s", err);
  ck_assert_uint_gt(strlen(err), strlen(want));
  ck_assert_ptr_null(trace_filter_new(DLT_EN10MB, "port 99999", err, sizeof err));
  ck_assert_ptr_nonnull(strstr(err, "'port 99999'"));
  trace_filter_free(NULL);
}
END_TEST

static Suite *trace_suite(void) {
  Suite *s = suite_create("trace");
  TCase *tc = tcase_create("read");
  tcase_add_test(tc, sample_counts);
  tcase_add_test(tc, corpus_tcpreplay);
  tcase_add_test(tc, corpus_pcapng);
  tcase_add_test(tc, corpus_empty);
  tcase_add_test(tc, corpus_nanosecond);
  tcase_add_test(tc, swapped_byte_order);
  tcase_add_test(tc, microsecond_scaled);
  suite_add_tcase(s, tc);
  tc = tcase_create("refuse");
  tcase_add_test(tc, missing_file);
  tcase_add_test(tc, directory);
  tcase_add_test(tc, invalid_version);
  tcase_add_test(tc, not_a_capture);
  tcase_add_test(tc, non_ethernet_radiotap);
  tcase_add_test(tc, skip_unsupported_linktype);
  tcase_add_test(tc, torn_last_record);
  tcase_add_test(tc, origlen_below_caplen);
  tcase_add_test(tc, zero_length_record_counted_not_delivered);
  suite_add_tcase(s, tc);
  tc = tcase_create("rewind");
  tcase_add_test(tc, rewind_same_sequence);
  tcase_add_test(tc, stdin_pipe);
  tcase_add_test(tc, stdin_errors_say_stdin);
  tcase_add_test(tc, terminal_refused);
  tcase_add_test(tc, spool_bounded);
  suite_add_tcase(s, tc);
  tc = tcase_create("filter");
  tcase_add_test(tc, filter_udp_port);
  tcase_add_test(tc, filter_bad_expression);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(trace_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
