// simk.cpp: the C API of simk.h over the SystemC 2.3.4 kernel.
//
// Ordering. SystemC's timed-event queue (sc_ppq) is a heap that is not stable
// for equal times, and the order in which processes made runnable by one
// delta notification phase run is an implementation detail (2.3.4 runs the
// methods of delta-notified events last-notified first). So the shim keeps
// its own order: an indexed 4-ary min-heap keyed (due_ps, notify sequence),
// at most one entry per simk_event, so re-notify is a key update and cancel
// a removal (no stale entries, no spurious time advance, no allocation per
// notify).
//
// SystemC still owns time, and every callback runs from its event's own
// SC_METHOD, in a chain that holds a single token:
//  - "armed": only the heap top is ever handed to SystemC's timed queue, by
//    a timed notification of its own sc_event at its due time (a delta
//    notification if due now). When SystemC advances time to it and runs the
//    method, the method pops itself and runs its callback;
//  - "released": after a callback, the next entry due at the current time is
//    popped and its sc_event notified IMMEDIATELY; IEEE 1666-2011 5.10.6
//    (notify()) makes the sensitive method runnable in the current
//    evaluation phase, so it runs right after the notifier returns, with no
//    delta cycle;
//  - otherwise the new heap top is armed and the chain ends until then.
// A callback's notify(0) lands in the heap behind everything already due, so
// it runs later in the same time step, in FIFO order. An immediate
// notification never makes the notifying process itself runnable (same
// clause; 2.3.4 also warns), so an event that re-notified itself with 0 and
// is next is armed with a delta notification instead.
// With one token, stop takes effect exactly after the current callback: the
// chain does not release anything and calls sc_pause().
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "simk.h"

using namespace sc_core;

// libsystemc.so defines main() (calling sc_elab_and_sim, then sc_main) and so
// references sc_main; an executable linking it must define the symbol even
// though nicsim has its own main() and never calls this.
int sc_main(int, char **) { return 1; }

struct simk_event {
  simk_callback cb;
  void *arg;
  uint32_t id;    // index in kernel::events and kernel::pos
  sc_event sc_ev; // the spawned method's only (static) sensitivity
  std::string name;
};

namespace {

constexpr uint32_t NOT_QUEUED = UINT32_MAX;

struct entry {
  uint64_t due_ps;
  uint64_t seq; // notify order: the FIFO tie-break for equal due times
  uint32_t id;
};

struct kernel {
  // The heap and the positions are small arrays apart from the (large)
  // events: sifting then never touches an event, which measured ~2x faster
  // with a thousand events than keeping the position inside simk_event.
  entry *heap = nullptr;
  size_t n = 0, cap = 0;
  std::vector<uint32_t> pos;        // heap index of each event, or NOT_QUEUED
  std::vector<simk_event *> events; // by id; also keeps them reachable (LSan)
  uint64_t seq = 0, dispatched = 0, final_now = 0;
  simk_event *released = nullptr; // the chain token (see the top comment),
  simk_event *armed = nullptr;    // at most one of these two is set
  simk_event *current = nullptr;  // event whose method is running
  // Time does not move during a callback: it is read once before it runs
  // (sc_time_stamp() is a library call; models ask for the time often).
  bool in_cb = false;
  uint64_t cb_now = 0;
  sc_trace_file *tf = nullptr;
  std::string vcd_written, vcd_final; // file SystemC writes / user's path
  bool run_called = false, in_run = false;
  bool stop_req = false, paused = false, finish_req = false;
  bool finished = false, failed = false;
  char last_err[256] = "";
};

// Allocated once, never freed: nothing SystemC-related is destroyed at exit
// (the default sc_simcontext is never destroyed either).
kernel *K = nullptr;

void fmt_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fmt_err(char *err, size_t errlen, const char *fmt, ...) {
  char buf[sizeof K->last_err];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (K) snprintf(K->last_err, sizeof K->last_err, "%s", buf);
  if (err && errlen) snprintf(err, errlen, "%s", buf);
}

inline uint64_t now_ps() { return sc_time_stamp().value(); } // 1 ps units

// ---- indexed 4-ary min-heap keyed (due_ps, seq) ----
inline bool before(const entry &a, const entry &b) {
  // Non-short-circuit: the heap compares random keys, and branches on them
  // mispredict half the time.
  return (a.due_ps < b.due_ps) | ((a.due_ps == b.due_ps) & (a.seq < b.seq));
}
// 4-ary: half the depth of a binary heap, and the four children of a node
// are adjacent (96 bytes), so a sift touches fewer cache lines.
void sift_up(size_t i) {
  entry *h = K->heap, e = h[i];
  uint32_t *pos = K->pos.data();
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!before(e, h[p])) break;
    h[i] = h[p];
    pos[h[i].id] = static_cast<uint32_t>(i);
    i = p;
  }
  h[i] = e;
  pos[e.id] = static_cast<uint32_t>(i);
}
void sift_down(size_t i) {
  entry *h = K->heap, e = h[i];
  uint32_t *pos = K->pos.data();
  const size_t n = K->n;
  for (size_t c; (c = 4 * i + 1) < n; i = c) {
    if (c + 3 < n) { // branch-free minimum of four
      size_t a = c + before(h[c + 1], h[c]), b = c + 2 + before(h[c + 3], h[c + 2]);
      c = before(h[b], h[a]) ? b : a;
    } else {
      for (size_t k = c + 1; k < n; k++) c = before(h[k], h[c]) ? k : c;
    }
    if (!before(h[c], e)) break;
    h[i] = h[c];
    pos[h[i].id] = static_cast<uint32_t>(i);
  }
  h[i] = e;
  pos[e.id] = static_cast<uint32_t>(i);
}
void heap_remove(size_t i) {
  K->pos[K->heap[i].id] = NOT_QUEUED;
  if (i != --K->n) { // move the last entry into the hole, then restore order
    uint32_t moved = K->heap[K->n].id;
    K->heap[i] = K->heap[K->n];
    sift_down(i);
    sift_up(K->pos[moved]);
  }
}
inline simk_event *top_event() { return K->events[K->heap[0].id]; }

// ---- the chain ----
// Hand ev (the heap top) to SystemC for delay_ps from now. A timed or delta
// notification of a method's own static event is fine from inside it.
void arm(simk_event *ev, uint64_t delay_ps) {
  K->armed = ev;
  ev->sc_ev.notify(sc_time::from_value(delay_ps)); // 0: delta notification
}

void release_next() {
  if (K->stop_req || K->finish_req) {
    // sc_pause: sc_start returns at the end of this delta cycle and, unlike a
    // plain starvation exit, keeps the time (no SC_RUN_TO_TIME advance).
    K->paused = true;
    sc_pause();
    return;
  }
  if (K->n == 0) return;
  simk_event *ev = top_event();
  uint64_t now = now_ps(), due = K->heap[0].due_ps;
  if (due > now || ev == K->current) {
    arm(ev, due - now);
    return;
  }
  heap_remove(0);
  K->released = ev;
  ev->sc_ev.notify(); // immediate: runnable in this evaluation phase
}

void run_event(simk_event *ev) {
  if (K->released == ev) { // popped by the method that ran just before this
    K->released = nullptr; // one: no C code ran in between to cancel it
  } else if (K->armed == ev) {
    K->armed = nullptr;
    // Nothing touches the heap between the end of a chain and the armed
    // notification (simk_run* re-arms on entry), so ev is still the top and
    // due now; check anyway and fall back to releasing whatever is due.
    if (K->pos[ev->id] != 0 || K->heap[0].due_ps != now_ps()) {
      K->current = ev;
      release_next();
      K->current = nullptr;
      return;
    }
    heap_remove(0);
  } else {
    return; // not holding the token: spurious trigger
  }
  K->current = ev;
  K->dispatched++;
  K->cb_now = now_ps();
  K->in_cb = true;
  ev->cb(ev->arg);
  K->in_cb = false;
  release_next();
  K->current = nullptr;
}

struct event_method {
  simk_event *ev;
  void operator()() const { run_event(ev); }
};

int ensure_init(char *err, size_t errlen) {
  if (K) return 0;
  try {
    K = new kernel;
    // Only sc_elab_and_sim() (libsystemc's main) prints the banner, which we
    // never call; the variable also covers other entry points.
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
    // Before any sc_time is made: the resolution is fixed on first use.
    sc_set_time_resolution(1, SC_PS);
    // Info and warnings (e.g. "Simulation stopped by user.", the VCD
    // time-unit note) would be printed on stdout; errors and fatals throw an
    // sc_report that the shim catches instead of displaying and aborting.
    sc_report_handler::set_actions(SC_INFO, SC_DO_NOTHING);
    sc_report_handler::set_actions(SC_WARNING, SC_DO_NOTHING);
    sc_report_handler::set_actions(SC_ERROR, SC_THROW);
    sc_report_handler::set_actions(SC_FATAL, SC_THROW);
  } catch (const std::exception &e) {
    fmt_err(err, errlen, "simk: SystemC initialisation failed: %s", e.what());
    if (!K) return -1;
    K->failed = true;
    return -1;
  }
  return 0;
}

bool can_run() {
  if (ensure_init(nullptr, 0) != 0) return false;
  if (K->finished) {
    fmt_err(nullptr, 0, "simk: the simulation is finished");
    return false;
  }
  if (K->failed) return false; // last_err already says why
  if (K->in_run) {
    fmt_err(nullptr, 0, "simk: simk_run* called from a callback");
    return false;
  }
  return true;
}

// On entry to a run: the C program may have changed the heap since the last
// chain ended, so withdraw the old arming and arm the current top.
void rearm() {
  if (K->armed) K->armed->sc_ev.cancel();
  K->armed = nullptr;
  if (K->n) arm(top_event(), K->heap[0].due_ps - now_ps());
}

enum simk_run_result run_common(bool bounded, uint64_t until_ps) {
  K->run_called = true;
  K->stop_req = K->paused = false;
  K->in_run = true;
  try {
    rearm();
    uint64_t now = now_ps();
    if (bounded ? until_ps > now : K->n != 0) {
      if (bounded)
        sc_start(sc_time::from_value(until_ps - now), SC_RUN_TO_TIME);
      else
        sc_start(); // SC_EXIT_ON_STARVATION: time stays at the last event
    }
    // 2.3.4's sc_start(d) triggers timed notifications due exactly at the
    // end time but leaves their processes runnable for the next sc_start
    // ("hold off on the delta for the until_t time"); also the first run may
    // have only a delta-armed event. Each sc_start(SC_ZERO_TIME) runs
    // one delta cycle, so repeat until nothing is left at this time.
    while (!K->paused && sc_pending_activity_at_current_time()) {
      sc_start(SC_ZERO_TIME);
    }
  } catch (const std::exception &e) { // sc_report derives from it
    fmt_err(nullptr, 0, "simk: SystemC error: %s", e.what());
    K->failed = true;
  }
  K->in_cb = false; // a callback left by an exception
  K->in_run = false;
  if (K->failed) return SIMK_RUN_ERROR;
  if (K->finish_req) {
    simk_finish();
    return SIMK_RUN_STOPPED;
  }
  if (K->paused) return SIMK_RUN_STOPPED;
  return bounded ? SIMK_RUN_TIME : SIMK_RUN_IDLE;
}

} // namespace

extern "C" {

int simk_init(char *err, size_t errlen) {
  if (ensure_init(err, errlen) != 0) return -1;
  if (K->failed) {
    fmt_err(err, errlen, "%s", K->last_err);
    return -1;
  }
  return 0;
}

const char *simk_last_error(void) { return K ? K->last_err : ""; }

struct simk_event *simk_event_new(const char *name, simk_callback cb, void *arg) {
  if (!cb || ensure_init(nullptr, 0) != 0 || K->finished || K->failed) return nullptr;
  simk_event *ev = nullptr;
  try {
    ev = new simk_event;
    ev->cb = cb;
    ev->arg = arg;
    ev->id = static_cast<uint32_t>(K->events.size());
    ev->name = name ? name : "";
    // SystemC object names must be unique and free of '.' and blanks
    // (otherwise it warns and renames); the user's name need not be.
    std::string pn = "simk_";
    for (char c : ev->name)
      pn += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
    pn += "_" + std::to_string(ev->id);
    sc_spawn_options o;
    o.spawn_method();
    o.dont_initialize();
    o.set_sensitivity(&ev->sc_ev);
    sc_spawn(event_method{ev}, pn.c_str(), &o);
    K->pos.push_back(NOT_QUEUED);
    K->events.push_back(ev);
  } catch (const std::exception &e) {
    fmt_err(nullptr, 0, "simk: cannot create event '%s': %s", name ? name : "", e.what());
    return nullptr; // ev is leaked on purpose: its sc_event may be registered
  }
  return ev;
}

const char *simk_event_name(const struct simk_event *ev) { return ev->name.c_str(); }

void simk_event_notify(struct simk_event *ev, uint64_t delay_ps) {
  uint64_t now = now_ps();
  entry e{delay_ps > UINT64_MAX - now ? UINT64_MAX : now + delay_ps, K->seq++, ev->id};
  if (K->pos[ev->id] != NOT_QUEUED) {
    K->heap[K->pos[ev->id]] = e; // the key may move either way
    sift_up(K->pos[ev->id]);
    sift_down(K->pos[ev->id]);
    return;
  }
  if (K->n == K->cap) {
    size_t cap = K->cap ? 2 * K->cap : 64;
    void *p = std::realloc(K->heap, cap * sizeof(entry));
    if (!p) std::abort(); // out of memory: nothing sensible left to do
    K->heap = static_cast<entry *>(p);
    K->cap = cap;
  }
  K->heap[K->n++] = e;
  sift_up(K->n - 1);
}

void simk_event_cancel(struct simk_event *ev) {
  if (K->pos[ev->id] != NOT_QUEUED) heap_remove(K->pos[ev->id]);
}

int simk_event_pending(const struct simk_event *ev) {
  return K->pos[ev->id] != NOT_QUEUED;
}

uint64_t simk_now_ps(void) {
  if (K && K->in_cb) return K->cb_now;
  if (ensure_init(nullptr, 0) != 0) return 0;
  return K->finished ? K->final_now : now_ps();
}

uint64_t simk_events_dispatched(void) { return K ? K->dispatched : 0; }

enum simk_run_result simk_run(void) {
  if (!can_run()) return SIMK_RUN_ERROR;
  return run_common(false, 0);
}

enum simk_run_result simk_run_until(uint64_t until_ps) {
  if (!can_run()) return SIMK_RUN_ERROR;
  if (until_ps < now_ps()) {
    fmt_err(nullptr, 0, "simk: run_until(%llu ps) is before now (%llu ps)",
            (unsigned long long)until_ps, (unsigned long long)now_ps());
    return SIMK_RUN_ERROR;
  }
  return run_common(true, until_ps);
}

void simk_stop(void) {
  if (K && K->in_run) K->stop_req = true; // outside a run: nothing to stop
}

void simk_finish(void) {
  if (ensure_init(nullptr, 0) != 0 || K->finished) return;
  if (K->in_run) { // from a callback: stop the chain, finish after sc_start
    K->finish_req = true;
    return;
  }
  K->finished = true;
  K->final_now = now_ps();
  try {
    // 2.3.4 traces a time step when time advances past it (do_timestep), so
    // the values of the last step would be lost, and a never-run simulation
    // would leave an empty file. One more picosecond with nothing scheduled
    // writes them; simk_now_ps() keeps reporting the time of the finish.
    if (K->tf && !K->failed) {
      if (K->armed) K->armed->sc_ev.cancel();
      K->armed = nullptr;
      sc_start(sc_time::from_value(1), SC_RUN_TO_TIME);
    }
    // sc_stop() is final (a later sc_start is error E546, which the
    // `finished` flag prevents); its "stopped by user" info is silenced.
    if (sc_get_status() != SC_STOPPED) sc_stop();
  } catch (const std::exception &e) {
    fmt_err(nullptr, 0, "simk: SystemC error while finishing: %s", e.what());
  }
  if (K->tf) {
    try {
      sc_close_vcd_trace_file(K->tf); // flushes and closes the file
    } catch (const std::exception &e) {
      fmt_err(nullptr, 0, "simk: closing the VCD file failed: %s", e.what());
    }
    K->tf = nullptr;
    if (K->vcd_written != K->vcd_final &&
        std::rename(K->vcd_written.c_str(), K->vcd_final.c_str()) != 0)
      fmt_err(nullptr, 0, "simk: cannot rename %s to %s: %s", K->vcd_written.c_str(),
              K->vcd_final.c_str(), std::strerror(errno));
  }
}

int simk_vcd_open(const char *path, char *err, size_t errlen) {
  if (ensure_init(err, errlen) != 0) return -1;
  if (!path || !*path) {
    fmt_err(err, errlen, "simk: empty VCD path");
    return -1;
  }
  if (K->run_called || K->finished) {
    fmt_err(err, errlen, "simk: VCD tracing must be opened before the first run");
    return -1;
  }
  if (K->tf) {
    fmt_err(err, errlen, "simk: a VCD file is already open");
    return -1;
  }
  // Fail now, with errno, rather than inside the first sc_start.
  FILE *f = std::fopen(path, "w");
  if (!f) {
    fmt_err(err, errlen, "simk: cannot create %s: %s", path, std::strerror(errno));
    return -1;
  }
  std::fclose(f);
  // sc_create_vcd_trace_file(name) writes "<name>.vcd". For a path ending in
  // .vcd pass it without the extension; otherwise write "<path>.vcd" and
  // rename it to the path in simk_finish.
  std::string p(path), base = p;
  size_t len = p.size();
  if (len > 4 && p.compare(len - 4, 4, ".vcd") == 0) base = p.substr(0, len - 4);
  try {
    K->tf = sc_create_vcd_trace_file(base.c_str());
    K->tf->set_time_unit(1, SC_PS);
  } catch (const std::exception &e) {
    fmt_err(err, errlen, "simk: cannot create VCD trace %s: %s", path, e.what());
    K->tf = nullptr;
    return -1;
  }
  K->vcd_written = base + ".vcd";
  K->vcd_final = p;
  return 0;
}

int simk_vcd_add_u64(const char *name, const uint64_t *value, unsigned width_bits,
                     char *err, size_t errlen) {
  if (ensure_init(err, errlen) != 0) return -1;
  if (!K->tf) {
    fmt_err(err, errlen, "simk: no VCD file is open");
    return -1;
  }
  if (K->run_called || K->finished) {
    fmt_err(err, errlen, "simk: VCD signals must be added before the first run");
    return -1;
  }
  if (!name || !*name || !value || width_bits < 1 || width_bits > 64) {
    fmt_err(err, errlen, "simk: bad VCD signal (name '%s', width %u; need 1..64)",
            name ? name : "", width_bits);
    return -1;
  }
  try {
    // uint64_t is unsigned long on LP64 Linux: sc_trace has that overload, so
    // no cast is needed; SystemC samples *value at each trace cycle.
    sc_trace(K->tf, *value, std::string(name), static_cast<int>(width_bits));
  } catch (const std::exception &e) {
    fmt_err(err, errlen, "simk: cannot trace %s: %s", name, e.what());
    return -1;
  }
  return 0;
}

} // extern "C"
