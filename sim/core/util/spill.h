/*
 * spill: a sequence of 32-bit numbers written once, then read back once in
 * the same order, kept in an unnamed temporary file instead of memory.
 *
 * For what one pass over a trace learns per record and a later pass needs
 * again (the flow of each frame): memory stays a fixed buffer however long
 * the trace. The first SPILL_MEMORY_NUMBERS stay in that buffer; the file
 * is made only when more come (outfile_anon_tmp: unnamed, in $TMPDIR), and
 * it goes when the spill is freed.
 */
#ifndef NICSIM_SPILL_H
#define NICSIM_SPILL_H

#include <stdint.h>

struct spill;

/* Numbers kept in memory (64 KiB) before the file is made. */
#define SPILL_MEMORY_NUMBERS 16384u

/* An empty spill, or NULL when out of memory. */
struct spill *spill_new(void);
void spill_free(struct spill *sp);

/* Append v. 0, or -1 when the file cannot be made or written (no
 * temporary folder, disk full...): the spill is then broken, and
 * spill_rewind fails. */
int spill_put(struct spill *sp, uint32_t v);

/* Done writing: what follows reads from the first number. 0, or -1 when a
 * write failed (now or in spill_put). */
int spill_rewind(struct spill *sp);

/* The next number into *v: 1, or 0 when all were read (or reading fails). */
int spill_get(struct spill *sp, uint32_t *v);

/* How many numbers were put. */
uint64_t spill_count(const struct spill *sp);

#endif
