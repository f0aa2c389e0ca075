/*
 * num: the one parser of numbers written as text, for the command line,
 * scenario keys, fault specs and campaign specs. Strict: the whole text is
 * the number (no sign for whole numbers, no blanks, no trailing bytes), and
 * a value that does not fit is refused rather than clamped. Range checks and
 * messages stay with the caller, which knows what the number means.
 */
#ifndef NICSIM_NUM_H
#define NICSIM_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Decimal digits only, at most UINT64_MAX. len bytes of text (no NUL
 * needed). 0 with *out set, or -1. */
int num_u64_n(const char *text, size_t len, uint64_t *out);
int num_u64(const char *text, uint64_t *out);

/* A finite number as strtod reads it (decimal or exponent form; "inf",
 * "nan" and hexadecimal forms are refused). 0 with *out set, or -1. */
int num_double_n(const char *text, size_t len, double *out);
int num_double(const char *text, double *out);

/* Copy text into buf (n > 0) for an error message: unchanged when it fits
 * in n - 1 bytes, else its head and tail around "...", so that the reason
 * after it is never cut off. Control bytes become '?'. Returns buf. */
const char *num_elide(const char *text, char *buf, size_t n);

#endif
