/*
 * grow: the one way an array that grows with its input gets room.
 *
 * Capacity doubles, so n appends cost O(n) copying in all: growing by one
 * element per append (realloc to n + 1) copies the array every time under
 * allocators that move blocks (AddressSanitizer's always does), which made
 * `merge` of 100,000 property names quadratic.
 */
#ifndef NICSIM_GROW_H
#define NICSIM_GROW_H

#include <stddef.h>

/* Room for at least need elements of elem bytes in p, whose capacity is
 * *cap elements: p itself when it fits, else a larger block (capacity
 * doubled, at least 16) with *cap updated. NULL when out of memory or when
 * the size would overflow; p is then still valid and *cap unchanged. */
void *grow_array(void *p, size_t *cap, size_t need, size_t elem);

/* The same for a ring buffer of n elements starting at index *first in p:
 * p itself when n < *cap, else a block of twice the capacity (at least
 * min) holding the n elements in order from index 0, with *first 0 and
 * *cap updated, p freed. NULL when out of memory (p still valid). */
void *grow_ring(void *p, size_t *cap, size_t *first, size_t n, size_t elem, size_t min);

#endif
