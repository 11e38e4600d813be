/*
 * churn_live.c — NUMA-10's live form (SPEC NUMA-10: after a workload
 * change the system reaches a steady state, no more home changes, within
 * seconds to minutes), on numa_live.h's vCPU threads; the stepped form is
 * case_numa_10 in rebalance.c.
 *
 * The churn: a schedule drawn from the run's seed before anything runs
 * (printed; the same seed gives the same schedule, while the
 * implementation's answers in real time may differ), then played in real
 * time on an emulated 2-node host of 2 cores per node: VMs arriving (one
 * vCPU, 0.5-2 MiB written at boot, placed by the implementation), leaving
 * (thread stopped, powered off) and changing phase (busy, half busy,
 * idle), one event every half to one and a half rebalancer periods, for
 * CL_CHURN_PERIODS periods (at most CL_CHURN_MAX_NS), at most CL_MAX_ALIVE
 * VMs at once, so the threads stay within what a 2-core machine runs.
 * Then the VMs alive run on unchanged and the case waits for the steady
 * state: no home change seen by any VM's probe for CL_STEADY_PERIODS
 * periods, within the limit (quick mode CL_LIMIT_QUICK_NS; full mode the
 * stepped form's 10 minutes: "seconds to minutes"). The time from the last
 * workload change to the last home change seen is the convergence time.
 *
 * Home changes are what each VM's thread sees: it writes a never-written
 * page CL_PROBES_PER_PERIOD times a period and locates it (where its new
 * memory comes from). The implementation's MMC_EV_HOME_CHANGE events after
 * the churn are only cross-checked against them. A busy VM's demand is
 * what its thread asks for, whatever the machine grants it (the reference
 * reads run time plus run-queue wait), so the churn's imbalance does not
 * depend on how busy the machine is.
 *
 * The lone busy VM (as the stepped form): on 1-core nodes (the cores
 * thresholds lowered to the host, as NUMA-12's contended scenarios do),
 * one busy VM pinned on node 0 beside the idle node 1, then released.
 * Moving it only puts the same imbalance on node 1, so a rebalancer whose
 * moves must gain (Numa.MigThreshold) and must not flip the imbalance
 * (Numa.MigThrashThreshold) moves it at most once and never after the
 * second period; one without those margins moves it back and forth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases_list.h"
#include "numa_live.h"
#include "numa_scen.h"

#define CL_CHURN_PERIODS 20u
#define CL_CHURN_MAX_NS (30000ull * NL_MS)
#define CL_STEADY_PERIODS 10u
#define CL_LIMIT_QUICK_NS (120000ull * NL_MS)
#define CL_LIMIT_FULL_NS (600000ull * NL_MS) /* the stepped form's limit */
#define CL_PROBES_PER_PERIOD 8u
#define CL_MAX_ALIVE 4u
#define CL_MAX_EVENTS 64u
#define CL_MIN_PAGES 128u
#define CL_MAX_PAGES 512u
#define CL_LONE_PERIODS 12u

/* A VM's CPU use, permille of a core: busy, half busy, idle. */
static const uint32_t cl_loads[] = {1000, 500, 0};
enum { cl_nloads = sizeof cl_loads / sizeof cl_loads[0] };

typedef enum cl_kind { CL_ARRIVE, CL_LEAVE, CL_PHASE } cl_kind_t;

typedef struct cl_event {
  uint64_t at; /* ns after the churn's start */
  cl_kind_t kind;
  uint32_t vm;    /* the scenario's VM index */
  uint32_t load;  /* arrive, phase: permille of a core */
  uint64_t pages; /* arrive: pages written at boot */
} cl_event_t;

typedef struct cl_plan {
  cl_event_t ev[CL_MAX_EVENTS];
  size_t n;
  uint32_t nvms; /* VMs powered on in all */
} cl_plan_t;

/* VMs alive in the plan so far, and their loads (index into cl_loads). */
typedef struct cl_alive {
  uint32_t vm[CL_MAX_ALIVE], load[CL_MAX_ALIVE], n;
} cl_alive_t;

static void cl_arrive(cl_plan_t *p, cl_alive_t *a, wl_rng_t *r, cl_event_t *e) {
  /* busy twice as often as half busy or idle */
  uint32_t roll = (uint32_t)wl_rng_below(r, 4), li = roll < 2 ? 0 : roll - 1;
  *e = (cl_event_t){.at = e->at,
                    .kind = CL_ARRIVE,
                    .vm = p->nvms++,
                    .load = cl_loads[li],
                    .pages = CL_MIN_PAGES + wl_rng_below(r, CL_MAX_PAGES - CL_MIN_PAGES + 1)};
  a->vm[a->n] = e->vm;
  a->load[a->n++] = li;
}

static void cl_leave(cl_alive_t *a, wl_rng_t *r, cl_event_t *e) {
  uint32_t i = (uint32_t)wl_rng_below(r, a->n);
  *e = (cl_event_t){.at = e->at, .kind = CL_LEAVE, .vm = a->vm[i]};
  a->vm[i] = a->vm[a->n - 1];
  a->load[i] = a->load[--a->n];
}

static void cl_phase(cl_alive_t *a, wl_rng_t *r, cl_event_t *e) {
  uint32_t i = (uint32_t)wl_rng_below(r, a->n);
  a->load[i] = (a->load[i] + 1 + (uint32_t)wl_rng_below(r, cl_nloads - 1)) % cl_nloads;
  *e = (cl_event_t){.at = e->at, .kind = CL_PHASE, .vm = a->vm[i], .load = cl_loads[a->load[i]]};
}

/* The churn, from the seed alone: at least two VMs alive after the second
 * event, at most CL_MAX_ALIVE, NL_MAX_VMS in all. */
static void cl_plan_make(cl_plan_t *p, uint64_t seed, uint64_t period, uint64_t length) {
  wl_rng_t r;
  wl_rng_seed(&r, seed);
  cl_alive_t a = {.n = 0};
  memset(p, 0, sizeof *p);
  for (uint64_t t = 0; t < length && p->n < CL_MAX_EVENTS;
       t += period / 2 + wl_rng_below(&r, period + 1)) {
    cl_event_t *e = &p->ev[p->n++];
    e->at = t;
    uint32_t roll = (uint32_t)wl_rng_below(&r, 10);
    bool can_arrive = a.n < CL_MAX_ALIVE && p->nvms < NL_MAX_VMS;
    if (can_arrive && (a.n < 2 || roll < 4))
      cl_arrive(p, &a, &r, e);
    else if (a.n > 2 && roll < 7)
      cl_leave(&a, &r, e);
    else
      cl_phase(&a, &r, e);
  }
}

/* Never-written pages a VM keeps for its home probes from the churn's
 * start to the end of the limit. */
static uint64_t cl_spare(uint32_t probe_every, uint64_t churn, uint64_t limit) {
  return (churn + limit) / (probe_every * NL_PROBE_NS) + 256;
}

/* Home changes VM k's probes saw so far, and the latest one's time into
 * *last when later. */
static uint64_t cl_seen(nl_t *s, uint32_t k, uint64_t *last) {
  nl_change_t lc;
  uint64_t n = nl_last_change(s, k, &lc);
  if (n && lc.t > *last)
    *last = lc.t;
  return n;
}

typedef struct cl_run {
  nl_t s;
  cl_plan_t plan;
  uint32_t probe_every;
  uint64_t churn_ns, limit_ns, spare;
  uint64_t churn_moves;        /* home changes seen during the churn */
  uint64_t end;                /* when the last workload change was made */
  uint64_t end_host;           /* the same instant on the host's clock (now()) */
  uint64_t at_end[NL_MAX_VMS]; /* each alive VM's changes seen by then */
} cl_run_t;

static void cl_apply(cl_run_t *r, const cl_event_t *e) {
  nl_t *s = &r->s;
  if (e->kind == CL_ARRIVE) {
    const nl_vm_cfg_t vc = {.bytes = (e->pages + r->spare) * MMC_PAGE_SIZE,
                            .spare = r->spare,
                            .busy = e->load > 0,
                            .duty = e->load,
                            .run = true,
                            .placed = true,
                            .probe_every = r->probe_every};
    uint32_t k = nl_vm(s, &vc);
    if (k != e->vm)
      sc_broken(s->c, "live churn: VM %u powered on as index %u", e->vm, k);
    return;
  }
  if (e->kind == CL_LEAVE) {
    uint64_t ignored = 0;
    r->churn_moves += cl_seen(s, e->vm, &ignored);
    nl_vm_off(s, e->vm);
    return;
  }
  nl_set_load(s, e->vm, e->load > 0, e->load);
}

static void cl_play(cl_run_t *r) {
  uint64_t t0 = cu_now_ns();
  for (size_t i = 0; i < r->plan.n; i++) {
    cu_sleep_until_ns(t0 + r->plan.ev[i].at);
    cl_apply(r, &r->plan.ev[i]);
  }
  r->end = cu_now_ns();
  r->end_host = r->s.im->now(r->s.h);
  for (uint32_t k = 0; k < r->s.nvms; k++)
    if (r->s.cpu[k].started) {
      uint64_t ignored = 0;
      r->at_end[k] = cl_seen(&r->s, k, &ignored);
      r->churn_moves += r->at_end[k];
    }
}

/* Wait for CL_STEADY_PERIODS periods without a home change, until the
 * limit; *last is the latest change seen (r->end when none came after
 * it), *after the changes seen after the churn. */
static bool cl_wait_steady(cl_run_t *r, uint64_t *last, uint64_t *after) {
  nl_t *s = &r->s;
  uint64_t quiet = CL_STEADY_PERIODS * s->period_ns, deadline = r->end + r->limit_ns;
  *last = r->end;
  for (;;) {
    *after = 0;
    for (uint32_t k = 0; k < s->nvms; k++) {
      if (!s->cpu[k].started)
        continue;
      if (atomic_load(&s->cpu[k].failed))
        return false; /* nl_stop reports it */
      *after += cl_seen(s, k, last) - r->at_end[k];
    }
    uint64_t now = cu_now_ns();
    if (now >= *last + quiet)
      return true;
    if (now >= deadline)
      return false;
    cu_sleep_until_ns(now + s->period_ns / CL_PROBES_PER_PERIOD);
  }
}

/* Home changes the implementation reported after `end`, on the host's clock
 * (events are stamped with now(), not with the case's CLOCK_MONOTONIC). */
static long long cl_reported_after(nl_t *s, uint64_t end) {
  uint64_t cursor = 0;
  size_t nev;
  mmc_event_t *ev = cu_read_events(s->c, s->h, &cursor, &nev);
  long long n = 0;
  for (size_t i = 0; i < nev; i++)
    n += ev[i].type == MMC_EV_HOME_CHANGE && ev[i].time_ns > end;
  free(ev);
  return n;
}

static void cl_churn(suite_ctx_t *c) {
  cl_run_t *r = calloc(1, sizeof *r);
  if (!r)
    sc_broken(c, "out of memory for the live churn");
  if (!nl_init(&r->s, c, SCEN_TOPO2, NULL, 0)) {
    free(r);
    return;
  }
  nl_t *s = &r->s;
  uint64_t p = s->period_ns;
  r->churn_ns = CL_CHURN_PERIODS * p < CL_CHURN_MAX_NS ? CL_CHURN_PERIODS * p : CL_CHURN_MAX_NS;
  r->limit_ns = sc_mode(c) == SUITE_MODE_QUICK ? CL_LIMIT_QUICK_NS : CL_LIMIT_FULL_NS;
  uint64_t every = p / CL_PROBES_PER_PERIOD / NL_PROBE_NS;
  r->probe_every = every ? (uint32_t)every : 1;
  r->spare = cl_spare(r->probe_every, r->churn_ns, r->limit_ns);
  cl_plan_make(&r->plan, sc_seed(c), p, r->churn_ns);
  sc_diag(c,
          "live churn: %zu events over %.1f s (%u VMs, at most %u at once), seed %llu; steady "
          "after %u periods without a home change, within %.0f s",
          r->plan.n, (double)r->churn_ns / 1e9, r->plan.nvms, CL_MAX_ALIVE,
          (unsigned long long)sc_seed(c), CL_STEADY_PERIODS, (double)r->limit_ns / 1e9);
  cl_play(r);
  uint64_t last = r->end, after = 0;
  bool steady = cl_wait_steady(r, &last, &after);
  uint64_t waited = cu_now_ns() - r->end;
  nl_stop(s);
  sc_metric(c, "live: home changes during churn", "", "", (double)r->churn_moves);
  sc_metric(c, "live: convergence time", "s", "lower", (double)(last - r->end) / 1e9);
  char name[200];
  snprintf(name, sizeof name,
           "live: steady state (no home change for %u periods) within %.0f s of the churn (probe)",
           CL_STEADY_PERIODS, (double)r->limit_ns / 1e9);
  sc_check(c, steady, name,
           "%llu home changes after the churn, the latest %.1f s after it; %.0f s waited",
           (unsigned long long)after, (double)(last - r->end) / 1e9, (double)waited / 1e9);
  cu_crosscheck_events(c, s->h, MMC_EV_HOME_CHANGE, "live: NUMA-10 home changes after the churn",
                       (long long)after, cl_reported_after(s, r->end_host), 1);
  nl_fini(s);
  free(r);
}

static void cl_lone(suite_ctx_t *c) {
  const mmc_setting_value_t set[] = {{"Numa.RebalanceCoresNode", 1},
                                     {"Numa.RebalanceCoresTotal", 2}};
  nl_t s;
  if (!nl_init(&s, c, SCEN_TOPO2_ONE_CORE, set, 2))
    return;
  uint64_t p = s.period_ns, spare = (CL_LONE_PERIODS + 4) * p / NL_PROBE_NS + 256;
  const nl_vm_cfg_t vc = {
      .bytes = 4 * SCEN_MIB + spare * MMC_PAGE_SIZE, .spare = spare, .busy = true, .run = true};
  uint32_t k = nl_vm(&s, &vc);
  nl_release_all(&s);
  uint64_t t0 = cu_now_ns();
  cu_sleep_until_ns(t0 + CL_LONE_PERIODS * p);
  nl_change_t ch[NL_MAX_CHANGES];
  nl_change_t lc = {0};
  uint64_t n = nl_last_change(&s, k, &lc), late = 0;
  uint32_t kept = nl_changes(&s, k, ch, NL_MAX_CHANGES);
  for (uint32_t i = 0; i < kept; i++)
    late += ch[i].t_lo > t0 + 2 * p; /* surely after the second period */
  if (n > kept && lc.t_lo > t0 + 2 * p)
    late++;
  nl_stop(&s);
  sc_check(c, n <= 1 && late == 0,
           "live: a lone busy VM beside an idle node: steady (at most one home change, none after "
           "the second period; probe)",
           "%llu home changes in %u periods, %llu surely after the second", (unsigned long long)n,
           CL_LONE_PERIODS, (unsigned long long)late);
  nl_fini(&s);
}

void case_numa_10_live(suite_ctx_t *c) {
  cl_churn(c);
  cl_lone(c);
}
