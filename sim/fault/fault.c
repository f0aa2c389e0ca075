/*
 * fault.c: fault specifications and their firing. See fault.h.
 */
#include "fault.h"
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prng.h"

static const char *const names[FAULT_KIND_COUNT] = {
    "random_dma", "malicious_dma", "bad_descriptor", "late_dma",   "iommu_passthrough",
    "iommu_off",  "frame_drop",    "frame_bitflip",  "user_write", "user_hoard",
    "tx_overread", "tx_completion_lost", "tx_completion_early", "tx_late_read",
};

/* Keys each kind takes besides packet, at_us, prob. */
static const char *const extra_keys[FAULT_KIND_COUNT] = {
    "len", "", "field", "delay_us", "", "", "", "bit", "principal, len", "principal", "", "", "", "delay_us",
};

const char *fault_kind_name(enum fault_kind k) { return (unsigned)k < FAULT_KIND_COUNT ? names[k] : "?"; }

static int parse_u64(const char *s, uint64_t *out) { return num_u64(s, out); }

static int parse_double(const char *s, double *out) { return num_double(s, out); }

static int bad(char *err, size_t errlen, const char *spec, const char *what, const char *detail) {
  snprintf(err, errlen, "--fault '%s': %s%s", spec, what, detail);
  return -1;
}

int fault_parse(const char *spec, struct fault *f, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  f->len = 64;
  f->delay_ps = 50ull * 1000 * 1000; /* 50 us */
  f->bit = -1;
  snprintf(f->principal, sizeof f->principal, "app");
  if (strlen(spec) >= sizeof f->spec)
    return bad(err, errlen, "...", "the specification is too long", "");
  snprintf(f->spec, sizeof f->spec, "%s", spec);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec);
  char *colon = strchr(buf, ':');
  if (colon)
    *colon = '\0';
  int kind = -1;
  for (int i = 0; i < FAULT_KIND_COUNT; i++)
    if (strcmp(buf, names[i]) == 0)
      kind = i;
  if (kind < 0) {
    char list[400] = "";
    for (int i = 0; i < FAULT_KIND_COUNT; i++) {
      size_t l = strlen(list);
      snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
    }
    snprintf(err, errlen, "--fault '%s': unknown fault '%s' (known: %s)", spec, buf, list);
    return -1;
  }
  f->kind = (uint8_t)kind;
  if (!colon)
    return 0;
  char *rest = colon + 1;
  if (!*rest)
    return bad(err, errlen, spec, "nothing after ':'", "");
  int have_when = 0;
  char *p = rest;
  while (p) {
    char *comma = strchr(p, ',');
    if (comma)
      *comma = '\0';
    char *eq = strchr(p, '=');
    if (!eq || eq == p) {
      snprintf(err, errlen, "--fault '%s': '%s' is not KEY=VALUE", spec, p);
      return -1;
    }
    *eq = '\0';
    const char *key = p, *val = eq + 1;
    uint64_t u;
    double d;
    if (strcmp(key, "packet") == 0 || strcmp(key, "at_us") == 0 || strcmp(key, "prob") == 0) {
      if (have_when++)
        return bad(err, errlen, spec, "give at most one of packet, at_us, prob", "");
      if (key[0] == 'p' && key[1] == 'a') {
        if (parse_u64(val, &u))
          return bad(err, errlen, spec, "packet: expected a frame index from 0", "");
        f->when = FAULT_AT_PACKET;
        f->packet = u;
      } else if (key[0] == 'a') {
        if (parse_double(val, &d) || d < 0 || d > 1e12)
          return bad(err, errlen, spec, "at_us: expected a time in microseconds >= 0", "");
        f->when = FAULT_AT_TIME;
        f->at_ps = (uint64_t)(d * 1e6 + 0.5);
      } else {
        if (parse_double(val, &d) || d < 0 || d > 1)
          return bad(err, errlen, spec, "prob: expected a probability 0..1", "");
        f->when = FAULT_PROB;
        f->prob = d;
      }
    } else if (strcmp(key, "len") == 0 && (kind == FAULT_RANDOM_DMA || kind == FAULT_USER_WRITE)) {
      if (parse_u64(val, &u) || u < 1 || u > 4096)
        return bad(err, errlen, spec, "len: expected 1..4096 bytes", "");
      f->len = (uint32_t)u;
    } else if (strcmp(key, "delay_us") == 0 && (kind == FAULT_LATE_DMA || kind == FAULT_TX_LATE_READ)) {
      if (parse_double(val, &d) || d < 0 || d > 1e9)
        return bad(err, errlen, spec, "delay_us: expected microseconds >= 0", "");
      f->delay_ps = (uint64_t)(d * 1e6 + 0.5);
    } else if (strcmp(key, "field") == 0 && kind == FAULT_BAD_DESCRIPTOR) {
      if (strcmp(val, "addr") == 0)
        f->field_len = 0;
      else if (strcmp(val, "len") == 0)
        f->field_len = 1;
      else
        return bad(err, errlen, spec, "field: expected addr or len", "");
    } else if (strcmp(key, "bit") == 0 && kind == FAULT_FRAME_BITFLIP) {
      if (parse_u64(val, &u) || u > 65535 * 8)
        return bad(err, errlen, spec, "bit: expected a bit index in the frame", "");
      f->bit = (int)u;
    } else if (strcmp(key, "principal") == 0 && (kind == FAULT_USER_WRITE || kind == FAULT_USER_HOARD)) {
      /* app, other or a scenario's principal (the replay checks it is one). */
      size_t n = strlen(val);
      if (n == 0 || n >= sizeof f->principal || strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                            "0123456789_-") != n)
        return bad(err, errlen, spec, "principal: expected app, other or a principal's name ([A-Za-z0-9_-], "
                   "1..32 characters)", "");
      snprintf(f->principal, sizeof f->principal, "%s", val);
    } else {
      snprintf(err, errlen, "--fault '%s': unknown key '%s' for %s (allowed: packet, at_us, prob%s%s)", spec,
               key, names[kind], extra_keys[kind][0] ? ", " : "", extra_keys[kind]);
      return -1;
    }
    p = comma ? comma + 1 : NULL;
  }
  return 0;
}

void fault_seed(struct fault *f, uint64_t run_seed, unsigned position) {
  f->rng = run_seed * 0x100000001b3ull ^ ((uint64_t)position + 1) * PRNG_GOLDEN_GAMMA ^ f->kind;
}

uint64_t fault_random(struct fault *f) { return prng_splitmix64(&f->rng); }

int fault_fires_at_frame(struct fault *f, uint64_t index, uint64_t now_ps) {
  if (f->done)
    return 0;
  switch (f->when) {
  case FAULT_AT_PACKET:
    if (index != f->packet)
      return 0;
    f->done = 1;
    return 1;
  case FAULT_AT_TIME:
    if (now_ps < f->at_ps)
      return 0;
    f->done = 1;
    return 1;
  case FAULT_PROB:
    /* 53 random bits as a uniform number in [0, 1). */
    return (double)(fault_random(f) >> 11) * 0x1.0p-53 < f->prob;
  default:
    f->done = 1;
    return 1;
  }
}

void fault_note(struct fault *f, uint64_t now_ps, uint64_t packet, const char *effect) {
  if (f->fired++ == 0) {
    f->first_ps = now_ps;
    f->first_packet = packet;
    snprintf(f->effect, sizeof f->effect, "%s", effect);
  }
}
