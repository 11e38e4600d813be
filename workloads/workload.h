/*
 * workload.h — libworkloads: guests that run on ANY implementation through
 * the contract (mmcert/impl.h) only, with exact ground truth.
 *
 * SPEC ids served: INT-1 (every page keeps the last value written: content is
 * derived from (seed, gpfn, version) and checked whole), SEC-1 (a page never
 * written must read zero; anything else is another VM's data), WSS-* (the
 * working-set generator exposes the true set at any time), TPS-8 (the clone
 * generator writes image/zero/unique pages in exact proportions and exposes
 * the expected savings), NUMA-4..12 (CPU-demand model, churn generator).
 *
 * Conventions stated once: functions returning int return 0 or a negative
 * mmc_status_t and fill `err` (may be NULL) via mmc_fail(). Prefix: wl_.
 *
 * Layers:
 *   content  wl_page_fill/wl_page_check: a page's 4096 bytes as a pure
 *            function of (content seed, gpfn, version); version 0 = zeros.
 *   truth    wl_truth_t: per VM, the version each page must hold now and
 *            whether its content comes from the VM seed or a shared image
 *            seed. wl_verify() walks a VM through the contract against it.
 *   framework wl_vm_t/wl_vcpu_t + wl_ops_t { init, step, fini }; page
 *            access helpers that handle MMC_ERETRY (quiesce, redo the access
 *            from scratch); drivers: stepped (one thread, each vCPU quiesced
 *            after its step and all before advance()) and live (one thread
 *            per vCPU, vcpu_enter on that thread, quiesce after every step).
 *   generators idle, touch-all, working set with phases, clone,
 *            writer-verifier, CPU demand; churn (wl_churn_*).
 *
 * Invariants:
 *   - A page of the truth table is written by at most one vCPU during a run
 *     (generators partition pages among vCPUs), so the table needs no locks;
 *     read it from another thread only after the run (join).
 *   - The framework never holds a guest pointer across two accesses, so on
 *     MMC_ERETRY quiescing and redoing the single access is "from scratch".
 *   - Stepped mode is deterministic: the same seeds give the same accesses
 *     in the same order (wl_vcpu_t.trace_hash witnesses it).
 */
#ifndef WL_WORKLOAD_H
#define WL_WORKLOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmcert/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- rng */

/* splitmix64: tiny, seedable, good enough to pick pages; never shared
 * between threads. */
typedef struct wl_rng {
  uint64_t s;
} wl_rng_t;

void wl_rng_seed(wl_rng_t *r, uint64_t seed);
uint64_t wl_rng_next(wl_rng_t *r);
/* Uniform in [0, n); n > 0. */
uint64_t wl_rng_below(wl_rng_t *r, uint64_t n);
/* Mix several words into one derived seed (for per-vCPU/per-VM streams). */
uint64_t wl_seed_mix(uint64_t a, uint64_t b);

/* ---------------------------------------------------------------- content */

/* "mmcWLpg1": first word of every page a workload writes with content. */
#define WL_PAGE_MAGIC 0x3167704c57636d6dull

/* The first 32 bytes of a written page; the rest is a pseudo-random fill
 * seeded by XXH3 of this header. */
typedef struct wl_page_hdr {
  uint64_t magic;   /* WL_PAGE_MAGIC */
  uint64_t seed;    /* content seed: the VM's seed, or an image seed */
  uint64_t gpfn;    /* guest page number the content was made for */
  uint32_t version; /* >= 1; 0 is never written (the page is all zeros) */
  uint32_t check;   /* low 32 bits of XXH3 over the 28 bytes above */
} wl_page_hdr_t;

/* What a checked page turned out to hold. */
typedef enum wl_page_verdict {
  WL_PAGE_OK = 0,
  WL_PAGE_GARBAGE, /* zero expected (never written) but not zero: SEC-1 */
  WL_PAGE_STALE,   /* an intact earlier/other version of this very page, or
                      zeros where data was written: a lost write (INT-1) */
  WL_PAGE_FOREIGN, /* an intact page made for another seed (another VM:
                      SEC-1) or another gpfn (a mapping error: INT-1) */
  WL_PAGE_CORRUPT, /* none of the above: torn or flipped bytes (INT-1) */
} wl_page_verdict_t;

const char *wl_page_verdict_name(wl_page_verdict_t v);

/* Detail of a check; `seen_*` are valid when the header was intact. */
typedef struct wl_page_seen {
  wl_page_verdict_t verdict;
  bool header_intact;
  uint64_t seen_seed;
  uint64_t seen_gpfn;
  uint32_t seen_version; /* 0 when the page was all zeros */
} wl_page_seen_t;

/* Write the content of (seed, gpfn, version) into page; version 0 writes
 * zeros. */
void wl_page_fill(void *page, uint64_t seed, uint64_t gpfn, uint32_t version);
/* Check page against (seed, gpfn, version); returns the verdict (also in
 * *seen when not NULL). Reads the whole page. */
wl_page_verdict_t wl_page_check(const void *page, uint64_t seed, uint64_t gpfn, uint32_t version,
                                wl_page_seen_t *seen);

/* ---------------------------------------------------------------- truth */

/* Which seed a page's content derives from. */
enum { WL_SRC_VM = 0, WL_SRC_IMAGE = 1 };

/* Ground truth of one VM: what every page must hold now. */
typedef struct wl_truth {
  uint64_t seed;       /* the VM's content seed */
  uint64_t image_seed; /* content seed of WL_SRC_IMAGE pages (clone) */
  uint64_t npages;     /* configured pages */
  uint32_t *version;   /* npages entries; 0 = never written: reads zero */
  uint8_t *src;        /* npages entries; WL_SRC_* */
} wl_truth_t;

int wl_truth_init(wl_truth_t *t, uint64_t seed, uint64_t npages, mmc_error_t *err);
void wl_truth_fini(wl_truth_t *t);
/* Expected (seed, version) of a page. */
static inline uint64_t wl_truth_seed(const wl_truth_t *t, uint64_t gpfn) {
  return t->src[gpfn] == WL_SRC_IMAGE ? t->image_seed : t->seed;
}

/* How many mismatches a report keeps in detail. */
#define WL_VERIFY_FIRST 8u

typedef struct wl_mismatch {
  uint64_t gpfn;
  wl_page_verdict_t verdict;
  uint32_t expected_version;
  uint32_t seen_version; /* valid when header_intact (0 = zeros) */
  bool header_intact;
  uint64_t seen_seed; /* valid when header_intact */
  uint64_t seen_gpfn; /* valid when header_intact */
} wl_mismatch_t;

typedef struct wl_verify_report {
  uint64_t pages_checked;
  uint64_t mismatches;                      /* sum of the per-verdict counts */
  uint64_t by_verdict[WL_PAGE_CORRUPT + 1]; /* index: wl_page_verdict_t */
  uint64_t retries;                         /* MMC_ERETRY met on the way */
  size_t nfirst;                            /* entries valid in first[] */
  wl_mismatch_t first[WL_VERIFY_FIRST];     /* the first mismatches by gpfn */
} wl_verify_report_t;

/* One mismatch as a report keeps it. */
static inline wl_mismatch_t wl_mismatch_make(uint64_t gpfn, uint32_t expected,
                                             const wl_page_seen_t *s) {
  return (wl_mismatch_t){.gpfn = gpfn,
                         .verdict = s->verdict,
                         .expected_version = expected,
                         .seen_version = s->seen_version,
                         .header_intact = s->header_intact,
                         .seen_seed = s->seen_seed,
                         .seen_gpfn = s->seen_gpfn};
}
/* Count a mismatch in rep, keeping the first WL_VERIFY_FIRST in detail. */
void wl_verify_report_add(wl_verify_report_t *rep, uint64_t gpfn, uint32_t expected,
                          const wl_page_seen_t *s);

/* The default for wl_verify's quiesce_every: often enough not to hold up a
 * remapper for long, rarely enough to cost nothing. */
#define WL_VERIFY_QUIESCE_EVERY 64u

/* Call it while no workload step of that VM runs (the truth would change
 * under it): stepped, between steps; live, after wl_live_join.
 * Walk pages [0, t->npages) of the VM through impl->page(vcpu, gpfn, read)
 * and check each against the truth; quiesce every `quiesce_every` pages (0 =
 * WL_VERIFY_QUIESCE_EVERY) and at the end. `vcpu` is a handle of that VM the
 * calling thread may use. Returns 0 when every page could be read (the
 * report says whether they matched), negative when an access failed. */
int wl_verify(const mmc_impl_t *impl, mmc_vcpu_t *vcpu, const wl_truth_t *t, uint32_t quiesce_every,
              wl_verify_report_t *rep, mmc_error_t *err);
/* One line: "N pages, M mismatches (garbage a, stale b, ...); first: gpfn G
 * expected vE seen vS (stale), ...". */
void wl_verify_format(const wl_verify_report_t *rep, char *buf, size_t len);

/* ---------------------------------------------------------------- framework */

typedef struct wl_vm wl_vm_t;
typedef struct wl_vcpu wl_vcpu_t;

/* Per-vCPU counters: written by the vCPU's thread (relaxed), readable from
 * any thread at any time to wait on progress. */
typedef struct wl_counters {
  _Atomic uint64_t steps;
  _Atomic uint64_t pages_written;
  _Atomic uint64_t pages_read;
  _Atomic uint64_t pages_verified; /* pages checked against the truth (reads,
                                      and first writes: see wl_write_next) */
  _Atomic uint64_t mismatches;     /* checked pages that did not match */
  _Atomic uint64_t retries;        /* MMC_ERETRY met and retried */
  _Atomic uint64_t busy_ns;        /* live: time spent stepping */
  _Atomic uint64_t cpu_ns;         /* live: CPU time of the vCPU's threads, every live
                                      run together (a probe of its execution time) */
} wl_counters_t;

/* A plain copy of wl_counters_t. */
typedef struct wl_counts {
  uint64_t steps, pages_written, pages_read, pages_verified, mismatches, retries, busy_ns, cpu_ns;
} wl_counts_t;

struct wl_vcpu {
  wl_vm_t *vm;
  uint32_t index;           /* vCPU index within the VM */
  mmc_vcpu_t *handle;       /* valid while entered (stepped: wl_vm_enter_all;
                               live: inside the driver's thread) */
  wl_rng_t rng;             /* per-vCPU stream, from the VM seed and index */
  uint32_t demand_permille; /* CPU demand model: busy fraction of one core */
  wl_counters_t c;
  uint64_t trace_hash;          /* running hash of (gpfn, write) of every access */
  wl_mismatch_t first_mismatch; /* valid when c.mismatches > 0 */
  int status;                   /* live: first error of the thread, else 0 */
  mmc_error_t err;              /* valid when status != 0 */
};

/* A workload: per-VM state in vm->state, built by init, freed by fini.
 * step() runs one step of vCPU v at workload time t_ns (stepped: host clock
 * since the VM's wl_vm_create; live: CLOCK_MONOTONIC since the VM's first
 * wl_live_start, so a VM run live again carries on where it stopped)
 * covering dt_ns. It accesses pages only through wl_access and the
 * wl_write_next, wl_write_image, wl_write_zero and wl_read_check helpers,
 * only pages it owns (see the invariants), and may leave pointers held: the
 * driver quiesces after it. */
typedef struct wl_ops {
  const char *name;
  int (*init)(wl_vm_t *vm, const void *cfg, mmc_error_t *err);
  int (*step)(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err);
  void (*fini)(wl_vm_t *vm);
} wl_ops_t;

struct wl_vm {
  const mmc_impl_t *impl;
  mmc_host_t *host;
  mmc_vm_id_t id;
  uint32_t nvcpus;
  wl_vcpu_t *vcpus; /* nvcpus entries */
  uint64_t seed;
  wl_truth_t truth;
  uint64_t t0_ns;      /* host clock at creation: workload time 0 (stepped) */
  uint64_t live_t0_ns; /* CLOCK_MONOTONIC at its first live run: workload time 0
                          there (0 = never run live) */
  const wl_ops_t *ops;
  void *state; /* the workload's, from init */
};

typedef struct wl_vm_params {
  const mmc_impl_t *impl;
  mmc_host_t *host;
  mmc_vm_id_t id;  /* a VM powered on by the caller */
  uint32_t nvcpus; /* as configured */
  uint64_t npages; /* memory_bytes / MMC_PAGE_SIZE as configured */
  uint64_t seed;   /* content and choice seed of this VM */
  const wl_ops_t *ops;
  const void *cfg; /* the workload's config (copied by init) */
} wl_vm_params_t;

int wl_vm_create(wl_vm_t **out, const wl_vm_params_t *p, mmc_error_t *err);
/* Exits entered vCPUs, runs fini, frees; does not power the VM off. */
void wl_vm_destroy(wl_vm_t *vm);
/* Convenience for cases: power a VM on with `cfg` through the contract and
 * create its workload (npages and vCPUs from cfg); on failure nothing is left
 * powered on. wl_vm_shutdown: wl_vm_destroy, then vm_power_off. */
int wl_vm_boot(wl_vm_t **out, const mmc_impl_t *impl, mmc_host_t *host, const mmc_vm_config_t *cfg,
               uint64_t seed, const wl_ops_t *ops, const void *wcfg, mmc_error_t *err);
int wl_vm_shutdown(wl_vm_t *vm, mmc_error_t *err);
/* wl_verify of the whole VM with vCPU 0: its handle when entered (stepped),
 * else entered and exited around the walk on the calling thread (after a
 * live run). */
int wl_vm_verify(wl_vm_t *vm, wl_verify_report_t *rep, mmc_error_t *err);
/* Stepped mode: enter every vCPU on the calling thread / exit them. */
int wl_vm_enter_all(wl_vm_t *vm, mmc_error_t *err);
void wl_vm_exit_all(wl_vm_t *vm);
/* CPU-demand model: busy fraction of one core, 0..1000 permille. Stepped:
 * declared via impl->vcpu_set_demand before each step; live: the thread
 * busy-steps that fraction of each period and sleeps the rest. */
int wl_vm_set_demand(wl_vm_t *vm, uint32_t vcpu, uint32_t permille, mmc_error_t *err);
/* Sum of every vCPU's counters. */
void wl_vm_counts(const wl_vm_t *vm, wl_counts_t *out);
void wl_vcpu_counts(const wl_vcpu_t *v, wl_counts_t *out);

/* A cap on MMC_ERETRY retries of one access: the contract says page() never
 * blocks indefinitely, so this many in a row means the implementation is
 * stuck; the access then fails with MMC_ERETRY. */
#define WL_RETRY_MAX 1000000u

/* Run fn on a pointer to page gpfn (writable when `write`), handling
 * MMC_ERETRY: quiesce, count a retry, redo from scratch. fn returns 0 or a
 * negative status (passed up). */
typedef int (*wl_access_fn)(void *page, void *arg);
int wl_access(wl_vcpu_t *v, uint64_t gpfn, bool write, wl_access_fn fn, void *arg,
              mmc_error_t *err);
/* Writes update the truth once the page is written. A page that must read
 * zero (truth version 0) is checked before it is overwritten, so every
 * first write is also a SEC-1 probe: garbage there counts as a mismatch
 * (verdict WL_PAGE_GARBAGE) and a verified page.
 * Write the next version of gpfn with VM-seed content. */
int wl_write_next(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err);
/* Write image content (image seed, version 1) / zeros. */
int wl_write_image(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err);
int wl_write_zero(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err);
/* Read gpfn and check it against the truth; counts, and records the vCPU's
 * first mismatch. *verdict (may be NULL) gets the verdict. */
int wl_read_check(wl_vcpu_t *v, uint64_t gpfn, wl_page_verdict_t *verdict, mmc_error_t *err);

/* One step of every vCPU of vm in turn (stepped mode, vCPUs entered): set
 * demand, step, quiesce. t_ns is the host clock. */
int wl_vm_step_all(wl_vm_t *vm, uint64_t now_ns, uint64_t dt_ns, mmc_error_t *err);

/* Stepped driver: from the host clock now for duration_ns in ticks of
 * tick_ns (ceil(duration/tick) ticks; the last may end past duration): each
 * tick steps every vCPU of every VM (wl_vm_step_all, in array
 * order) then calls impl->advance(host, end of tick) when `advance`. The
 * vCPUs must be entered (wl_vm_enter_all). All VMs share one host. */
typedef struct wl_stepped_cfg {
  uint64_t duration_ns;
  uint64_t tick_ns; /* > 0 */
  bool advance;
} wl_stepped_cfg_t;
int wl_run_stepped(wl_vm_t *const *vms, size_t nvms, const wl_stepped_cfg_t *cfg, mmc_error_t *err);

/* Live driver: one thread per vCPU of every VM; each enters its vCPU, steps
 * in a loop (quiescing after every step) until wl_live_stop or the deadline,
 * then exits its vCPU. vCPUs must not be entered by the caller. */
#define WL_DEMAND_PERIOD_NS 10000000ull /* default duty-cycle period: 10 ms */
typedef struct wl_live_cfg {
  uint64_t duration_ns;      /* 0 = until wl_live_stop */
  uint64_t demand_period_ns; /* 0 = WL_DEMAND_PERIOD_NS */
} wl_live_cfg_t;
typedef struct wl_live wl_live_t;
/* Returns once every thread has entered its vCPU (or failed: then all are
 * stopped and joined and the first error is returned). */
int wl_live_start(wl_live_t **out, wl_vm_t *const *vms, size_t nvms, const wl_live_cfg_t *cfg,
                  mmc_error_t *err);
void wl_live_stop(wl_live_t *l);
/* Wait for every thread (stop it first or let the deadline pass), free the
 * driver; returns the first thread error. Counters stay in the wl_vcpu_t. */
int wl_live_join(wl_live_t *l, mmc_error_t *err);

/* ---------------------------------------------------------------- generators */

/* idle: touches nothing after boot; optionally writes every page once. */
typedef struct wl_idle_cfg {
  bool write_at_boot;
  uint32_t pages_per_step; /* boot writing pace per vCPU; 0 = all at once */
} wl_idle_cfg_t;
extern const wl_ops_t wl_idle_ops;

/* touch-all: vCPU i writes pages g with g % nvcpus == i in ascending order,
 * pages_per_step a step (0 = all); after one pass stops, or with `rewrite`
 * starts the next pass (next versions). */
typedef struct wl_touch_cfg {
  uint32_t pages_per_step;
  bool rewrite;
} wl_touch_cfg_t;
extern const wl_ops_t wl_touch_ops;
/* Passes completed by the whole VM (min over vCPUs). */
uint64_t wl_touch_passes(const wl_vm_t *vm);

/* working set with phases. The set at time t is the first n(t) pages of a
 * permutation of all gpfns drawn from the VM seed, so sets are nested. Each
 * step of vCPU i touches exactly the set's pages at positions p with
 * p % nvcpus == i (writes the next version, or reads and checks). */
typedef enum wl_ws_shape {
  WL_WS_STEADY = 0, /* f0 forever */
  WL_WS_RISING,     /* f0 -> f1 linearly over ramp_ns, then f1 (f1 > f0) */
  WL_WS_FALLING,    /* same shape, f1 < f0 */
  WL_WS_STEPS,      /* levels[k] during [k*level_ns, (k+1)*level_ns), last holds */
  WL_WS_BOOT_IDLE,  /* idle after boot: f0 during [0, ramp_ns) (boot), then 0 forever */
  WL_WS_ALTERNATE,  /* toucher (OSDI02 §5.3): f0 for level_ns, f1 for level_ns, repeat */
} wl_ws_shape_t;
/* Shapes by use (WSS-*, ALLOC-*): steady f (STEADY), step up / step down
 * (STEPS with two levels), ramp (RISING / FALLING: linear over ramp_ns), an
 * idle VM after boot (BOOT_IDLE), a toucher whose touched memory varies
 * between two sizes over time (ALTERNATE). */
#define WL_WS_MAX_LEVELS 16u
typedef struct wl_ws_cfg {
  wl_ws_shape_t shape;
  uint32_t f0_permille;
  uint32_t f1_permille;
  uint64_t ramp_ns;
  uint32_t nlevels;
  uint32_t levels_permille[WL_WS_MAX_LEVELS];
  uint64_t level_ns;
  bool write; /* true: write next version; false: read and check */
} wl_ws_cfg_t;
extern const wl_ops_t wl_ws_ops;
/* Ground truth: touched fraction (permille) and page count at workload time
 * t; whether gpfn is in the set at t; the set itself (out: n entries). */
uint32_t wl_ws_permille_at(const wl_ws_cfg_t *c, uint64_t t_ns);
uint64_t wl_ws_pages_at(const wl_ws_cfg_t *c, uint64_t npages, uint64_t t_ns);
bool wl_ws_in_set(const wl_vm_t *vm, uint64_t gpfn, uint64_t t_ns);
uint64_t wl_ws_true_set(const wl_vm_t *vm, uint64_t t_ns, uint64_t *out, uint64_t max);
/* Change the phase of a VM (churn, cases); takes effect next step. Stepped
 * mode or between live runs only: live threads read the config unlocked. */
int wl_ws_set_cfg(wl_vm_t *vm, const wl_ws_cfg_t *c, mmc_error_t *err);

/* clone: exact proportions of image pages (image seed, identical in every
 * VM with that image seed), zero pages (written as zeros) and unique pages
 * (VM seed). Which gpfn is which derives from the image seed, so every clone
 * has the same layout. Written once at boot (pages_per_step pace); then, as
 * a COW writer (TPS-2), each vCPU rewrites cow_writes_per_step of its image
 * pages a step (ascending gpfn) with VM-seed content, making them unique. */
typedef struct wl_clone_cfg {
  uint64_t image_seed;
  uint32_t image_permille;
  uint32_t zero_permille;       /* image + zero <= 1000; unique is the rest */
  uint32_t pages_per_step;      /* 0 = all at once */
  uint32_t cow_writes_per_step; /* after boot; 0 = idle after boot */
} wl_clone_cfg_t;
extern const wl_ops_t wl_clone_ops;
typedef struct wl_clone_expect {
  uint64_t image_pages;  /* per VM */
  uint64_t zero_pages;   /* per VM */
  uint64_t unique_pages; /* per VM */
  /* For n VMs of npages: guest pages whose content exists elsewhere too
   * (image pages when n >= 2, zero pages when there are >= 2 in all). */
  uint64_t sharable_pages;
  /* Frames needed with perfect sharing: one per distinct content. */
  uint64_t min_frames;
  /* n * npages - min_frames: the TPS-8 ideal savings. */
  uint64_t ideal_saved_pages;
} wl_clone_expect_t;
int wl_clone_expected(const wl_clone_cfg_t *c, uint64_t npages, uint32_t nvms,
                      wl_clone_expect_t *out, mmc_error_t *err);
/* Page kind of gpfn in the clone layout: WL_CLONE_IMAGE/ZERO/UNIQUE. */
enum { WL_CLONE_IMAGE = 0, WL_CLONE_ZERO = 1, WL_CLONE_UNIQUE = 2 };
int wl_clone_kind(const wl_vm_t *vm, uint64_t gpfn);
/* True once every vCPU has written its share of the layout. */
bool wl_clone_booted(const wl_vm_t *vm);
/* Ground truth now (meaningful once booted), from the truth table: pages
 * holding image content, zero pages of the layout, and pages holding VM-seed
 * content (unique pages plus image pages rewritten by the COW writer). */
typedef struct wl_clone_census {
  uint64_t image_intact;
  uint64_t zero;
  uint64_t vm_content;
} wl_clone_census_t;
int wl_clone_census(const wl_vm_t *vm, wl_clone_census_t *out, mmc_error_t *err);

/* writer-verifier (INT-1): vCPU i owns the stripe [i*npages/n,
 * (i+1)*npages/n); each step writes `writes_per_step` random own pages
 * (next version) and re-reads `reads_per_step` random own pages, checking
 * the version it last wrote (mismatches counted in the vCPU's counters). */
typedef struct wl_wv_cfg {
  uint32_t writes_per_step;
  uint32_t reads_per_step;
} wl_wv_cfg_t;
extern const wl_ops_t wl_wv_ops;

/* ---------------------------------------------------------------- churn */

/* Churn generator (stepped mode, NUMA-10): VMs arrive (vm_power_on through
 * the contract, a working-set workload, a CPU demand) and leave (power off)
 * with sizes, lifetimes, demands and phase changes drawn from the seed. Every
 * event it caused is logged with the host time and the contract's status. */
typedef struct wl_churn_cfg {
  uint64_t seed;
  uint32_t max_vms;                  /* alive at once */
  uint64_t min_pages, max_pages;     /* VM size, uniform */
  uint32_t max_vcpus;                /* vCPUs uniform in 1..max_vcpus */
  uint64_t mean_interarrival_ns;     /* arrivals: uniform in [0, 2*mean] apart */
  uint64_t min_life_ns, max_life_ns; /* lifetime, uniform */
  uint64_t phase_ns;                 /* a VM changes phase every phase_ns; 0 = never */
  uint32_t max_demand_permille;      /* demand uniform in 0..max per phase */
} wl_churn_cfg_t;

typedef enum wl_churn_kind {
  WL_CHURN_ARRIVE = 0,
  WL_CHURN_LEAVE,
  WL_CHURN_PHASE,
  WL_CHURN_REFUSED, /* power-on refused (admission...): status says why */
} wl_churn_kind_t;

typedef struct wl_churn_event {
  uint64_t time_ns;
  wl_churn_kind_t kind;
  mmc_vm_id_t vm; /* 0 for a refused arrival */
  uint64_t pages;
  uint32_t vcpus;
  uint32_t demand_permille; /* after the event */
  uint32_t ws_permille;     /* after the event */
  int status;               /* the contract's return code */
} wl_churn_event_t;

typedef struct wl_churn wl_churn_t;
int wl_churn_create(wl_churn_t **out, const mmc_impl_t *impl, mmc_host_t *host,
                    const wl_churn_cfg_t *cfg, mmc_error_t *err);
/* Run until host time `until_ns` in ticks of tick_ns: due arrivals/leaves/
 * phase changes, then one step of every vCPU of every live VM, then
 * impl->advance(). */
int wl_churn_run(wl_churn_t *c, uint64_t until_ns, uint64_t tick_ns, mmc_error_t *err);
size_t wl_churn_nevents(const wl_churn_t *c);
const wl_churn_event_t *wl_churn_events(const wl_churn_t *c);
/* VMs alive now; wl_churn_vm(i) for i < that. */
size_t wl_churn_nalive(const wl_churn_t *c);
wl_vm_t *wl_churn_vm(const wl_churn_t *c, size_t i);
/* Powers off every VM still alive, frees. */
void wl_churn_destroy(wl_churn_t *c);

/* ---------------------------------------------------------------- guest */

/* guest OS model with a balloon driver (wl_guest.c: BAL-1, BAL-3). Layout:
 * [0, anon) anonymous pages kept, then page cache (droppable), then free.
 * The driver (on vCPU 0) polls balloon_target every poll_ns of workload time
 * (0 = 1 s), moves the balloon by at most rate_pages_per_s x poll period per
 * poll, gives free pages first, then cache pages, never anonymous ones, and
 * never touches a given page. A VM may run without a driver. */
#define WL_GUEST_RATE_DEFAULT 4096ull /* pages/s (16 MB/s) when rate is 0 */
typedef struct wl_guest_cfg {
  uint32_t anon_permille;                   /* anonymous memory */
  uint32_t cache_permille;                  /* page cache; free = 1000 - anon - cache */
  uint32_t boot_pages_per_step;             /* 0 = all in the first step */
  uint32_t writes_per_step, reads_per_step; /* per vCPU, own anonymous stripe */
  uint32_t cache_reads_per_step;            /* vCPU 0 */
  bool driver;
  uint64_t poll_ns;
  uint64_t rate_pages_per_s;
} wl_guest_cfg_t;
extern const wl_ops_t wl_guest_ops;
/* The three standard guests (writes/reads per step and driver set by the caller). */
#define WL_GUEST_FREE_MEMORY ((wl_guest_cfg_t){.anon_permille = 400, .cache_permille = 0})
#define WL_GUEST_PAGE_CACHE ((wl_guest_cfg_t){.anon_permille = 400, .cache_permille = 600})
#define WL_GUEST_NO_FREE ((wl_guest_cfg_t){.anon_permille = 1000, .cache_permille = 0})
typedef struct wl_guest_stats {
  uint64_t polls, given, taken, balloon, last_target;
  uint64_t short_polls; /* polls after which the balloon was still short of the target */
  uint64_t anon_pages, cache_pages;
} wl_guest_stats_t;
bool wl_guest_booted(const wl_vm_t *vm);
void wl_guest_stats(const wl_vm_t *vm, wl_guest_stats_t *out);
bool wl_guest_is_ballooned(const wl_vm_t *vm, uint64_t gpfn);
/* wl_vm_verify minus the pages the balloon holds (never touched). */
int wl_guest_verify(wl_vm_t *vm, wl_verify_report_t *rep, mmc_error_t *err);

#ifdef __cplusplus
}
#endif
#endif /* WL_WORKLOAD_H */
