/*
 * fault: fault specifications (`--fault NAME[:KEY=VALUE,...]`, contract.md)
 * and when each one fires. What a fault does is carried out by the models
 * (the NIC for device faults, the IOMMU for its mode, the driver for
 * userspace behaviour, the feeder for frames); this module parses, decides
 * the moment from the run's seed, and keeps the record of what happened.
 *
 * When: `packet=N` fires at the N-th frame of the trace (from 0), once;
 * `at_us=T` at the first chance at or after simulated time T, once; `prob=P`
 * at each frame with probability P (drawn from the run's seed, so the same
 * seed fires at the same frames); none of these: once, at the first chance.
 */
#ifndef NICSIM_FAULT_H
#define NICSIM_FAULT_H

#include <stddef.h>
#include <stdint.h>

enum fault_kind {
  FAULT_RANDOM_DMA = 0,   /* the device writes len bytes to a random IOVA */
  FAULT_MALICIOUS_DMA,    /* past its buffer to the end of the mapped page */
  FAULT_BAD_DESCRIPTOR,   /* a fetched descriptor's address or length is corrupted */
  FAULT_LATE_DMA,         /* the device writes a buffer again delay_us after it completed */
  FAULT_IOMMU_PASSTHROUGH,
  FAULT_IOMMU_OFF,
  FAULT_FRAME_DROP,
  FAULT_FRAME_BITFLIP,
  FAULT_USER_WRITE,       /* a principal writes into a packet the stack validated */
  FAULT_USER_HOARD,       /* a principal stops returning pages */
  FAULT_TX_OVERREAD,      /* the device reads past a TX frame's last buffer to the end of its page */
  FAULT_TX_COMPLETION_LOST,  /* the device never reports a TX frame's completion */
  FAULT_TX_COMPLETION_EARLY, /* the device reports a TX completion before reading the buffers */
  FAULT_TX_LATE_READ,     /* the device reads a sent frame's buffers again delay_us later, and sends them */
  FAULT_KIND_COUNT
};

enum fault_when { FAULT_FIRST_CHANCE = 0, FAULT_AT_PACKET, FAULT_AT_TIME, FAULT_PROB };

struct fault {
  char spec[256];       /* as given */
  uint8_t kind;         /* enum fault_kind */
  uint8_t when;         /* enum fault_when */
  uint64_t packet;      /* FAULT_AT_PACKET */
  uint64_t at_ps;       /* FAULT_AT_TIME */
  double prob;          /* FAULT_PROB */
  /* kind-specific */
  uint32_t len;         /* random_dma, user_write: bytes (64) */
  uint64_t delay_ps;    /* late_dma: after completion (50 us); tx_late_read: after the frame left */
  int field_len;        /* bad_descriptor: 0 corrupt the address, 1 the length */
  int bit;              /* frame_bitflip: bit to flip, -1 from the seed */
  char principal[33];   /* user_write, user_hoard: "app", "other" or a principal of the scenario */
  /* state */
  uint64_t rng;
  int done;             /* a one-shot fault that fired */
  uint64_t fired;       /* times it fired */
  uint64_t first_ps, first_packet;
  char effect[256];     /* what it did the first time */
};

/* Parse one spec. 0, or -1 with err filled ("--fault 'X': ..."). */
int fault_parse(const char *spec, struct fault *f, char *err, size_t errlen);

/* Seed each fault's draws from the run's seed and its position. */
void fault_seed(struct fault *f, uint64_t run_seed, unsigned position);

/* Does f fire at the frame with this trace index arriving at now_ps? Marks
 * one-shot faults done. */
int fault_fires_at_frame(struct fault *f, uint64_t index, uint64_t now_ps);

/* A pseudo-random 64-bit number from the fault's own stream. */
uint64_t fault_random(struct fault *f);

/* Record that f fired (the first time: when, at which packet, with what effect). */
void fault_note(struct fault *f, uint64_t now_ps, uint64_t packet, const char *effect);

const char *fault_kind_name(enum fault_kind k);

#endif
