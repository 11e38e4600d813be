/*
 * numa_live.h — live-clock scenarios of the rebalancer and migration cases
 * (NUMA-5..7, NUMA-10, NUMA-12, MIG-1, MIG-2, MIG-5, SET-2; prefix nl_), the
 * live counterpart of numa_scen.h.
 *
 * A live scenario is a live host (MMC_CLOCK_LIVE) on a topology of the
 * case's choosing, quick mode at Numa.RebalancePeriod = NL_QUICK_PERIOD_MS
 * where honoured (unless the case sets Numa.RebalancePeriod itself, as
 * SET-2 does); VMs placed and written exactly as the stepped scenarios
 * do (pinned with numa.nodeAffinity while their pages are written, then
 * released; or placed by the implementation, never pinned: NUMA-10's churn), and
 * each VM that runs has its one vCPU entered by a thread of
 * its own, which
 *  - uses the CPU as the case declares: a busy vCPU spins between its
 *    probes (it runs or waits to run all the time: a full core of demand,
 *    whatever share the machine grants it), or for its duty's share of
 *    each pace and sleeps the rest; an idle one sleeps; nl_set_load
 *    changes which (a phase change of NUMA-10's churn);
 *  - every NL_PROBE_NS (or every probe_every-th pace) writes a never-written page (pages
 *    [data, npages) are kept for this) and locates it with the case's
 *    locator: the node its new memory comes from, its home as the kernel
 *    sees it (NUMA-1, -7). Each change is recorded with the interval it
 *    happened in (after the probe before, at the latest when seen);
 *  - when asked, writes a burst of never-written pages between two home
 *    probes (NUMA-7: all new memory, not one page, from the new home);
 *  - when asked, counts where pages [0, n) are now (the arrivals of a
 *    migration, MIG-1/-2), with the time of the first one seen there.
 * While pacing, each thread also records the longest the machine kept it
 * from running (outside the implementation's calls): the machine's delay as
 * this scenario sees it, by which a late result is excused as "not shown
 * (machine ...)" and never otherwise.
 * Verdicts come from these probes and wl_verify; events and statistics are
 * only cross-checked (case_util's audit list). Setup failures end the case as
 * broken; a thread's failure is reported when the threads are joined.
 */
#ifndef SUITE_NUMA_LIVE_H
#define SUITE_NUMA_LIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "case_util.h"
#include "workload.h"

/* VMs a scenario powers on in all (NUMA-10's churn: at most CL_MAX_ALIVE at
 * once); arrays are sized by it. */
#define NL_MAX_VMS 12u
#define NL_MAX_CHANGES 16u
#define NL_MS 1000000ull
/* Quick mode's rebalancer period: a quarter of the documented 2000 ms, so a
 * scenario takes seconds of real time, and long enough that the probes
 * (NL_PROBE_NS apart) place a change well within one period. */
#define NL_QUICK_PERIOD_MS 500
#define NL_PROBE_NS (10 * NL_MS)

/* A home change seen by a VM's probe: it happened in (t_lo, t] (CLOCK_MONOTONIC
 * ns); pages [0, page) of the VM were written before it was seen. */
typedef struct nl_change {
  uint64_t t_lo, t, page;
  int from, to;
} nl_change_t;

/* A burst of never-written pages [first, first + n) written at once,
 * between two home probes: `before` and `after`, with no change seen
 * between them when `steady`. */
typedef struct nl_burst {
  uint64_t first, n;
  int before, after;
  bool steady, done;
} nl_burst_t;

/* One count of a tracked range: pages on the node, counted from t0 to t1
 * (a page counted arrived by t1; one not counted had not by t0). */
typedef struct nl_sample {
  uint64_t t0, t1, on;
} nl_sample_t;
#define NL_MAX_SAMPLES 8192u

typedef struct nl_vcpu {
  struct nl *s;
  uint32_t k;
  uint32_t probe_every; /* paces between two home probes (1: every pace) */
  pthread_t tid;
  bool started;
  atomic_bool stop;
  atomic_bool probe_homes;            /* write and locate a never-written page each pace */
  pthread_mutex_t lock;               /* guards what follows */
  bool busy;                          /* spins between its probes (else sleeps) */
  uint32_t duty;                      /* busy: permille of each pace it spins (0: all of it) */
  bool load_changed;                  /* busy or duty changed since the thread declared them */
  uint64_t fresh;                     /* next never-written page */
  int home;                           /* node of the latest probe page, -2 before the first */
  nl_change_t change[NL_MAX_CHANGES]; /* the first NL_MAX_CHANGES changes */
  uint32_t nchanges;
  nl_change_t last_change; /* the latest change, however many came before */
  uint64_t all_changes;    /* every change seen */
  uint64_t track_n;        /* count pages [0, track_n) on track_node; 0 = off */
  int track_node;          /* */
  uint64_t on, t_on;       /* the latest count and when */
  nl_sample_t *hist;       /* every count since nl_track (NL_MAX_SAMPLES) */
  uint32_t nhist;
  uint64_t t_first, t_first_lo;  /* first count > 0 in (t_first_lo, t_first] */
  uint64_t max_late_ns;          /* longest the machine kept it off the CPU while pacing,
                                    since nl_reset_late (nl_pace) */
  uint64_t cpu_ns;               /* CPU time the thread used (its CPU clock) */
  uint64_t demand_ns;            /* time it ran or waited to run (schedstat; 0: unknown) */
  uint64_t burst_n;              /* asked: write this many never-written pages at once */
  nl_burst_t burst;              /* the last burst written */
  char err[MMC_ERRMSG_MAX + 64]; /* the thread's failure, once `failed` */
  atomic_bool failed;
} nl_vcpu_t;

typedef struct nl {
  suite_ctx_t *c;
  const mmc_impl_t *im;
  mmt_topology_t *topo; /* owned */
  mmc_host_t *h;
  cu_locator_t loc;
  uint64_t period_ns;    /* Numa.RebalancePeriod in ns */
  uint64_t periods_from; /* CLOCK_MONOTONIC when periods of period_ns begin */
  wl_vm_t *vm[NL_MAX_VMS];
  mmc_vm_config_t cfg[NL_MAX_VMS];
  uint64_t data[NL_MAX_VMS];   /* pages [0, data) written at boot */
  int64_t mem_off[NL_MAX_VMS]; /* of those, not on its `mem` node (-1 unattributed) */
  int home0[NL_MAX_VMS];       /* its first home probe, pinned (-2: never run) */
  bool keep_pin[NL_MAX_VMS];
  nl_vcpu_t cpu[NL_MAX_VMS];
  uint32_t nvms;
} nl_t;

/* A live host on topology `spec` with `set` after the run's settings, and
 * its page locator; false (after cu_not_shown) when no probe can locate
 * pages here. */
bool nl_init(nl_t *s, suite_ctx_t *c, const char *spec, const mmc_setting_value_t *set,
             size_t nset);
/* Stops and joins the threads still running, powers every VM off. */
void nl_fini(nl_t *s);
/* A scenario VM: 1 vCPU, `bytes`, of which the last `spare` pages are kept
 * never-written; its other pages written on node `mem`, then homed on
 * `home` (numa.nodeAffinity both times) until nl_release_all. */
typedef struct nl_vm_cfg {
  uint64_t bytes, spare;
  uint32_t mem, home;
  bool busy;            /* its thread spins between probes */
  uint32_t duty;        /* busy: permille of each pace it spins (0: all of it) */
  bool run;             /* false: no thread, never entered (no demand) */
  bool keep_pin;        /* stays on `home` through nl_release_all */
  bool placed;          /* never pinned: the implementation places it (mem, home unused) */
  uint32_t probe_every; /* paces between two home probes (0 or 1: every pace) */
} nl_vm_cfg_t;
/* Power the VM on, write it, pin it home, start its thread and wait for its
 * first home probe (s->home0). Returns its index. */
uint32_t nl_vm(nl_t *s, const nl_vm_cfg_t *vc);
/* Stop VM k's thread (broken when it failed) and power the VM off; its
 * slot stays used. */
void nl_vm_off(nl_t *s, uint32_t k);
/* VM k's thread changes how it uses the CPU from its next pace: busy
 * (spinning `duty` permille of each pace, 0: all of it) or idle; it
 * declares the new demand itself (vcpu_set_demand, where offered). */
void nl_set_load(nl_t *s, uint32_t k, bool busy, uint32_t duty);
/* VM k's latest home change and how many its probes saw in all (0: none,
 * *last untouched). */
uint64_t nl_last_change(nl_t *s, uint32_t k, nl_change_t *last);
/* numa.nodeAffinity of VM k := mask (0 releases the pin). */
void nl_pin(nl_t *s, uint32_t k, uint64_t mask, const char *what);
/* Release every VM's pin at once, once periods of s->period_ns have begun
 * (the scenario starts). */
void nl_release_all(nl_t *s);
/* Wait until some VM's probe saw a home change (true, *mv, *k) or `deadline`
 * (CLOCK_MONOTONIC) passed (false). */
bool nl_wait_change(nl_t *s, uint64_t deadline, uint32_t *k, nl_change_t *mv);
/* The base imbalance of the stepped scenarios, live: A and B (busy, pages
 * [0, bytes) written on node 0) and C (4 MiB on node 1, never run: no
 * demand), released. A and B keep enough never-written pages for
 * NL_BASE_PERIODS periods of home probes and `extra` more for the case. */
#define NL_BASE_PERIODS 10u
void nl_base(nl_t *s, uint64_t bytes, uint64_t extra);
/* Never-written pages a busy VM keeps for NL_BASE_PERIODS periods of home
 * probes. */
uint64_t nl_probe_pages(const nl_t *s);
/* Wait up to `wait` ns for the first home change the probes see. NL_MOVED
 * with it (*k, *mv). When none came: NL_MACHINE after cu_not_shown when the
 * busy VMs together did not use the CPU the imbalance needs (twice
 * `imbalance_pct` of node 0's cores, by their threads' CPU clocks: the
 * machine too loaded to create it), else NL_NO_MOVE with *why saying what
 * was seen. */
typedef enum nl_base { NL_MOVED, NL_NO_MOVE, NL_MACHINE } nl_base_t;
nl_base_t nl_await(nl_t *s, uint64_t wait, double imbalance_pct, uint32_t *k, nl_change_t *mv,
                   char *why, size_t len);
/* nl_base, then nl_await for NL_BASE_PERIODS periods with the host's
 * Numa.MigImbalanceThreshold. */
nl_base_t nl_base_move(nl_t *s, uint64_t bytes, uint64_t extra, uint32_t *k, nl_change_t *mv,
                       char *why, size_t len);
/* CPU time VM k's thread used so far (its CPU clock, as it last read it). */
uint64_t nl_cpu_ns(nl_t *s, uint32_t k);
/* Time VM k's thread ran or waited in the run queue so far, as the kernel
 * accounts it (/proc/thread-self/schedstat: run time plus run delay): its
 * CPU demand, whatever the machine granted; 0 when the kernel does not
 * account it. */
uint64_t nl_demand_ns(nl_t *s, uint32_t k);
/* The home changes VM k's probes saw so far (at most max copied). */
uint32_t nl_changes(nl_t *s, uint32_t k, nl_change_t *out, uint32_t max);
/* Stop every thread's home probes (their pages then stay for the case). */
void nl_homes_off(nl_t *s);
/* Ask VM k's thread to write n never-written pages at once between two home
 * probes; wait for it (false when `deadline` passed first). */
bool nl_burst(nl_t *s, uint32_t k, uint64_t n, uint64_t deadline, nl_burst_t *out);
/* Ask VM k's thread to count pages [0, n) on `node` each pace. */
void nl_track(nl_t *s, uint32_t k, uint64_t n, int node);
/* After nl_stop: VM k's counts since nl_track (at most max copied). */
uint32_t nl_samples(nl_t *s, uint32_t k, nl_sample_t *out, uint32_t max);
/* The latest count and its time; the first arrival (0 = none yet). */
void nl_tracked(nl_t *s, uint32_t k, uint64_t *on, uint64_t *t_first, uint64_t *t_first_lo);
void nl_reset_late(nl_t *s);
/* The longest the machine kept a running thread off the CPU since the
 * reset. */
uint64_t nl_max_late(nl_t *s);
/* Stop and join every thread (broken when one failed). Afterwards the case
 * thread may use the VMs' vCPUs (the functions below). */
void nl_stop(nl_t *s);
/* After nl_stop: where new memory of VM k comes from now (a never-written
 * page, located); -1 unattributed. */
int nl_home_now(nl_t *s, uint32_t k);
/* After nl_stop: write the next version of pages [first, first + n) of VM
 * k (never-written ones are then used up). */
void nl_write(nl_t *s, uint32_t k, uint64_t first, uint64_t n);
/* After nl_stop: pages [first, first + n) of VM k not on `node` (-1 when
 * some are unattributed). */
int64_t nl_pages_off(nl_t *s, uint32_t k, uint64_t first, uint64_t n, uint32_t node);
/* After nl_stop: next never-written page of VM k. */
uint64_t nl_fresh(nl_t *s, uint32_t k);
/* After nl_stop: wl_verify of VM k; true when every page matches. */
bool nl_verify(nl_t *s, uint32_t k, char *line, size_t len);

#endif
