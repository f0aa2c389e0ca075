/*
 * prng: the project's one pseudo-random generator. Everything random in a
 * run (the trace generator, fault draws, benchmark offsets) comes from here,
 * seeded from --seed, so a run is reproducible; nothing calls rand().
 *
 * prng_splitmix64: one 64-bit state, one step per call (Steele, Lea and
 * Flood's SplitMix64, the seeding generator Vigna recommends); cheap streams
 * and the seeding of prng_next. prng_next: xoshiro256** (Blackman and
 * Vigna), for long streams (the generator's frames). Header-only: every
 * layer may use it.
 */
#ifndef NICSIM_PRNG_H
#define NICSIM_PRNG_H

#include <stdint.h>

#define PRNG_GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15) /* SplitMix64's increment, 2^64 / phi */

static inline uint64_t prng_splitmix64(uint64_t *state) {
  uint64_t z = (*state += PRNG_GOLDEN_GAMMA);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

struct prng {
  uint64_t s[4];
};

/* The four words of state from splitmix64 over seed. */
static inline void prng_seed(struct prng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = prng_splitmix64(&x);
}

static inline uint64_t prng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* xoshiro256**: the next 64 bits. */
static inline uint64_t prng_next(struct prng *r) {
  uint64_t *s = r->s;
  uint64_t result = prng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = prng_rotl(s[3], 45);
  return result;
}

/* Uniform in [0, 1): the top 53 bits. */
static inline double prng_unit(struct prng *r) { return (double)(prng_next(r) >> 11) * 0x1.0p-53; }

#endif
