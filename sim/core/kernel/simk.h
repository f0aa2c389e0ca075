/*
 * simk: the C API over the SystemC kernel (sim/core/kernel/simk.cpp is the only
 * C++ file of nicsim).
 *
 * SystemC owns simulated time and the event queue. Models see events bound to
 * C callbacks: each event is a spawned SC_METHOD process, statically sensitive
 * to its own sc_event, that calls the callback when the event fires.
 *
 * Time is a uint64_t in picoseconds everywhere (names end in _ps); the shim
 * sets the SystemC time resolution to 1 ps.
 *
 * Ordering: events due at the same simulated time run in the order of the
 * simk_event_notify() calls that scheduled them (first notified, first run).
 * This is stronger than SystemC's own guarantee and makes runs reproducible.
 *
 * One simulation per process: SystemC cannot restart after sc_stop(), so
 * simk_finish() is final. simk_stop() only pauses: a later simk_run() or
 * simk_run_until() continues from where it stopped.
 *
 * Library code: never prints, never exits. SystemC's own info reports (for
 * example "Simulation stopped by user.") and its copyright banner are silenced.
 */
#ifndef NICSIM_SIMK_H
#define NICSIM_SIMK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct simk_event;
typedef void (*simk_callback)(void *arg);

/* Prepare the kernel (idempotent). 0, or -1 with a message in err. */
int simk_init(char *err, size_t errlen);

/* The message of the most recent failure of a simk call ("" if none yet);
 * it says why a run returned SIMK_RUN_ERROR. */
const char *simk_last_error(void);

/* A new event that runs cb(arg) each time it fires. The name is copied (it
 * need not be unique). Events live until the process ends. NULL on failure. */
struct simk_event *simk_event_new(const char *name, simk_callback cb, void *arg);

/* The name given to simk_event_new. */
const char *simk_event_name(const struct simk_event *ev);

/* Schedule ev to fire delay_ps after now (0: later in the current time step,
 * after every callback already due now). A pending notification of the same
 * event is replaced by this one. */
void simk_event_notify(struct simk_event *ev, uint64_t delay_ps);

/* Drop ev's pending notification, if any. */
void simk_event_cancel(struct simk_event *ev);

/* 1 when ev has a pending notification, else 0. */
int simk_event_pending(const struct simk_event *ev);

/* Current simulated time [ps] (after simk_finish: the time it finished). */
uint64_t simk_now_ps(void);

/* Number of event callbacks run so far. */
uint64_t simk_events_dispatched(void);

enum simk_run_result {
  SIMK_RUN_IDLE = 0,    /* no notification is pending any more */
  SIMK_RUN_STOPPED = 1, /* a callback called simk_stop() */
  SIMK_RUN_TIME = 2,    /* the time limit was reached */
  SIMK_RUN_ERROR = -1,  /* the kernel cannot run (finished, or failed) */
};

/* Run until no notification is pending or a callback calls simk_stop(). */
enum simk_run_result simk_run(void);

/* Run every event due at or before until_ps; simulated time is then until_ps
 * (or the time at which a callback stopped the run). Returns SIMK_RUN_TIME
 * when the limit is reached, whether or not notifications are still pending;
 * SIMK_RUN_ERROR if until_ps is before now. */
enum simk_run_result simk_run_until(uint64_t until_ps);

/* From a callback: return from simk_run*() once the current callback is done
 * (no further callback runs). Outside a run it does nothing. */
void simk_stop(void);

/* End the simulation for good (closes the VCD file). Idempotent. From a
 * callback it acts as simk_stop() and the run then finishes the simulation. */
void simk_finish(void);

/* VCD tracing. Open before the first run; values are sampled by SystemC at
 * the end of each time step in which they may have changed.
 * simk_vcd_add_u64 registers *value (which must outlive the simulation) as a
 * signal of width_bits (1..64) named name. 0, or -1 with err filled.
 * The file is written at exactly path and is complete after simk_finish()
 * (its last line is then a timestamp 1 ps after the final time: SystemC
 * 2.3.4 writes a time step's values only once time moves past it). */
int simk_vcd_open(const char *path, char *err, size_t errlen);
int simk_vcd_add_u64(const char *name, const uint64_t *value, unsigned width_bits,
                     char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
