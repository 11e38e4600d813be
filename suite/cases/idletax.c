/*
 * idletax.c — shares and the idle memory tax, checked through the
 * allocation targets an implementation reports (vm_stats.target_pages,
 * vm_stats.wss_estimate_pages), never by calling the reference's policy:
 * ALLOC-2..6 and the OSDI02 idle-tax experiment (Waldspurger 2002, §5.3
 * figure "Idle Memory Tax"). Stepped clock, a host capped to 64 MiB
 * (memsim.h), working-set workloads with known touched sets.
 *
 * The formula (SPEC ALLOC-3): rho = S / (P (f + k (1 - f))), k = 1/(1 - tau),
 * f = active fraction of what the VM holds. Min-funding revocation takes
 * memory from the lowest rho first, so at the targets every VM strictly
 * between its bounds has the same rho. To read consistent inputs the cases
 * "freeze" the VMs (exit their vCPUs: no execution time, estimates stop
 * moving), make the implementation recompute (a setting_set, then one
 * Mem.BalancePeriod of stepped time for implementations that only
 * recompute periodically) and read targets and estimates together.
 *
 * Targets only: reclamation (balloon, swap) is reclaim.c's; the workloads
 * keep what they touch within the host's memory, and Mem.MemMinFreePct is
 * raised where a case needs VMs active above their share, so what VMs are
 * entitled to stays below what the host holds.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "memsim.h"

#define NS_PER_S 1000000000ull
enum { host_mib = 64 };

/* sched.mem.shares as a number: 5 / 10 / 20 per MB of configured memory. */
static double shares_of(const mmc_vm_config_t *cfg) {
  double mb = (double)cfg->memory_bytes / (double)MS_MIB;
  switch (cfg->shares) {
  case MMC_SHARES_LOW: return 5.0 * mb;
  case MMC_SHARES_NORMAL: return 10.0 * mb;
  case MMC_SHARES_HIGH: return 20.0 * mb;
  default: return (double)cfg->shares;
  }
}

/* The SPEC's formula, flat rate tau. */
static double rho_of(double s, double pages, double f, double tau) {
  return s / (pages * (f + (1.0 - f) / (1.0 - tau)));
}

typedef struct snap {
  double target, est, size, shares; /* pages; shares */
} snap_t;

/* Stop every VM (estimates freeze), set name = value (which must make the
 * implementation recompute), pass one balance period, read every VM. */
static void freeze_and_read(ms_env_t *e, const char *name, int64_t value, snap_t *out) {
  for (size_t i = 0; i < e->n; i++)
    if (e->running[i])
      ms_stop(e, i);
  ms_set(e, name, value);
  ms_run(e, e->bp_ns, NULL, NULL);
  for (size_t i = 0; i < e->n; i++) {
    mmc_vm_stats_t s = ms_stats(e, i);
    out[i] = (snap_t){.target = (double)s.target_pages,
                      .est = (double)s.wss_estimate_pages,
                      .size = (double)s.configured_pages,
                      .shares = shares_of(&e->cfg[i])};
  }
}

static double frac_at(const snap_t *s) {
  return s->target > 0 ? fmin(1.0, s->est / s->target) : 1.0;
}

/* ---------------------------------------------------------------- ALLOC-2 */

void case_alloc_2(suite_ctx_t *c) {
  mmc_setting_value_t set[] = {{"Mem.MemMinFreePct", 25}, {"Mem.IdleTax", 0}};
  ms_env_t e;
  ms_host(&e, c, host_mib, set, 2);
  enum { vm_mib = 40 };
  wl_ws_cfg_t none = {.shape = WL_WS_STEADY, .f0_permille = 0, .write = true};
  ms_vm(&e, "alloc2-normal", vm_mib, MMC_SHARES_NORMAL, &none);
  ms_vm(&e, "alloc2-high", vm_mib, MMC_SHARES_HIGH, &none);
  /* tau = 0: strictly by shares, whatever the activity. */
  mmc_vm_stats_t a = ms_stats(&e, 0), b = ms_stats(&e, 1);
  double p0a = (double)a.target_pages, p0b = (double)b.target_pages;
  sc_diag(c, "tau = 0: targets %.1f / %.1f MiB of %d MiB each", ms_mib(a.target_pages),
          ms_mib(b.target_pages), vm_mib);
  sc_check(c, p0b < (double)b.configured_pages && p0a + p0b <= (double)e.cap_bytes / MMC_PAGE_SIZE,
           "contention: targets below configured sizes and within host memory",
           "targets %.0f + %.0f pages, configured %llu each, host %llu pages", p0a, p0b,
           (unsigned long long)b.configured_pages,
           (unsigned long long)(e.cap_bytes / MMC_PAGE_SIZE));
  sc_check_range(c, "tau = 0: high/normal target ratio = 2 (shares 20/10 per MB)", 1.98, 2.02,
                 p0b / p0a);
  /* Make both active above their share: touch share + 10 % of the size. */
  double wa = fmin(1.0, p0a / (double)a.configured_pages + 0.1);
  double wb = fmin(1.0, p0b / (double)b.configured_pages + 0.1);
  if ((wa + wb) * vm_mib * MS_MIB > 0.92 * (double)e.cap_bytes)
    sc_skip(c,
            "the host keeps too little memory free (targets %.0f + %.0f pages) to make both "
            "VMs active above their share without reclamation",
            p0a, p0b);
  mmc_error_t err = {0};
  wl_ws_cfg_t ws = {.shape = WL_WS_STEADY, .write = true};
  ws.f0_permille = (uint32_t)(wa * 1000);
  sc_require(c, wl_ws_set_cfg(e.vm[0], &ws, &err), &err, "working set of VM a");
  ws.f0_permille = (uint32_t)(wb * 1000);
  sc_require(c, wl_ws_set_cfg(e.vm[1], &ws, &err), &err, "working set of VM b");
  ms_set(&e, "Mem.IdleTax", 75);
  if (!ms_reported(&e, 0, MMC_VMSTAT_TARGET | MMC_VMSTAT_WSS_ESTIMATE,
                   "ALLOC-2 allocation targets")) {
    ms_free(&e);
    return;
  }
  ms_run(&e, 10 * e.sp_ns + 2 * e.bp_ns, NULL, NULL);
  snap_t s[2];
  freeze_and_read(&e, "Mem.IdleTax", 75, s);
  sc_diag(c,
          "tau = 0.75, both active (%.0f %% / %.0f %% touched): targets %.1f / %.1f MiB, "
          "estimates %.1f / %.1f MiB",
          100 * wa, 100 * wb, ms_mib((uint64_t)s[0].target), ms_mib((uint64_t)s[1].target),
          ms_mib((uint64_t)s[0].est), ms_mib((uint64_t)s[1].est));
  sc_check(c, s[0].est >= s[0].target && s[1].est >= s[1].target,
           "both VMs estimated active above their targets (the case's premise)",
           "estimates %.0f / %.0f pages, targets %.0f / %.0f", s[0].est, s[1].est, s[0].target,
           s[1].target);
  sc_check_range(c, "active under contention: high/normal target ratio = 2 within 10 %", 1.8, 2.2,
                 s[1].target / s[0].target);
  sc_metric(c, "target_ratio_high_normal", "", "", s[1].target / s[0].target);
  ms_free(&e);
}

/* ------------------------------------------------------ ALLOC-3/4, ALLOC-5 */

/* Four equal VMs (16 MiB, normal shares) with active fractions 1, 0.5,
 * 0.25 and idle after boot, on a host where their entitlements (minFree
 * 50 %) force all four below their size. */
enum { q_vms = 4, q_mib = 16 };
static const char *const q_names[q_vms] = {"full", "half", "quarter", "idle"};

static void quad_setup(suite_ctx_t *c, ms_env_t *e, int tax_type) {
  mmc_setting_value_t set[] = {
      {"Mem.MemMinFreePct", 50}, {"Mem.IdleTax", 75}, {"Mem.IdleTaxType", tax_type}};
  ms_host(e, c, host_mib, set, 3);
  static const uint32_t f[q_vms - 1] = {1000, 500, 250};
  for (unsigned i = 0; i < q_vms - 1; i++) {
    wl_ws_cfg_t ws = {.shape = WL_WS_STEADY, .f0_permille = f[i], .write = true};
    ms_vm(e, q_names[i], q_mib, MMC_SHARES_NORMAL, &ws);
  }
  wl_ws_cfg_t idle = {
      .shape = WL_WS_BOOT_IDLE, .f0_permille = 100, .ramp_ns = e->sp_ns, .write = true};
  ms_vm(e, q_names[q_vms - 1], q_mib, MMC_SHARES_NORMAL, &idle);
  /* An estimate starting anywhere in 0..1 settles within 1 % in 16
   * periods at a slow gain of 0.25; then two balance periods. */
  ms_run(e, 16 * e->sp_ns + 2 * e->bp_ns, NULL, NULL);
}

static bool interior(const snap_t *s) {
  return s->target > 0 && s->target < s->size;
}

void case_alloc_3(suite_ctx_t *c) {
  /* The worked table (tau = 0.75, S = P): the formula the checks use. */
  static const double tf[4] = {1.0, 0.5, 0.25, 0.0}, tv[4] = {1.0, 0.4, 0.3077, 0.25};
  double worst = 0;
  for (int i = 0; i < 4; i++)
    worst = fmax(worst, fabs(rho_of(1.0, 1.0, tf[i], 0.75) - tv[i]));
  sc_check(c, worst < 1e-4, "formula: worked values tau = 0.75, S = P: 1, 0.4, 0.3077, 0.25",
           "off by %g", worst);
  ms_env_t e;
  quad_setup(c, &e, 0);
  snap_t t[q_vms], p0[q_vms], slight[q_vms];
  freeze_and_read(&e, "Mem.IdleTax", 75, t);
  /* ALLOC-3: rho equal among the VMs strictly between their bounds. */
  double lo = INFINITY, hi = 0;
  unsigned nin = 0;
  for (unsigned i = 0; i < q_vms; i++) {
    double r = rho_of(t[i].shares, t[i].target, frac_at(&t[i]), 0.75);
    sc_diag(c, "%-7s target %6.2f MiB, estimate %6.2f MiB, f %.3f, rho %.4f", q_names[i],
            ms_mib((uint64_t)t[i].target), ms_mib((uint64_t)t[i].est), frac_at(&t[i]), r);
    if (!interior(&t[i]))
      continue;
    nin++;
    lo = fmin(lo, r), hi = fmax(hi, r);
  }
  sc_check(c, nin >= 3 && hi / lo <= 1.03,
           "tau = 0.75: rho = S / (P (f + k (1 - f))) equal (within 3 %) for every VM between "
           "its bounds",
           "%u VMs between bounds, rho from %.5f to %.5f", nin, lo, hi);
  /* ALLOC-4: tau = 0 strictly by shares (all equal here). */
  freeze_and_read(&e, "Mem.IdleTax", 0, p0);
  double pmin = INFINITY, pmax = 0;
  for (unsigned i = 0; i < q_vms; i++)
    pmin = fmin(pmin, p0[i].target), pmax = fmax(pmax, p0[i].target);
  sc_check(c, pmax - pmin <= 1.0, "tau = 0: equal shares, equal targets whatever the activity",
           "targets from %.0f to %.0f pages", pmin, pmax);
  /* Reclamation order: lower rho at the shares-only allocation, larger
   * share of it taken. */
  unsigned bad = 0;
  for (unsigned i = 0; i < q_vms; i++)
    for (unsigned j = 0; j < q_vms; j++) {
      double ri = rho_of(p0[i].shares, p0[i].target, fmin(1, p0[i].est / p0[i].target), 0.75);
      double rj = rho_of(p0[j].shares, p0[j].target, fmin(1, p0[j].est / p0[j].target), 0.75);
      if (ri < rj && t[i].target / p0[i].target > t[j].target / p0[j].target + 0.005)
        bad++;
    }
  sc_check(c, bad == 0, "the lower a VM's rho, the more of its memory is reclaimed",
           "%u pairs out of order", bad);
  /* At most tau of idle memory taken; tau = 0.75 takes most of the idle VM's. */
  unsigned over = 0;
  for (unsigned i = 0; i < q_vms; i++) {
    double idle0 = fmax(0.0, p0[i].target - p0[i].est), taken = p0[i].target - t[i].target;
    if (taken > 0.75 * idle0 + 2.0) {
      over++;
      sc_diag(c, "%s: %.0f pages taken, idle %.0f, bound %.0f", q_names[i], taken, idle0,
              0.75 * idle0);
    }
  }
  sc_check(c, over == 0, "no VM loses more than tau = 0.75 of its idle memory", "%u VMs did", over);
  unsigned k = q_vms - 1;
  double idle_k = p0[k].target - p0[k].est, taken_k = p0[k].target - t[k].target;
  sc_check_range(c, "tau = 0.75: most of the idle VM's idle memory reclaimed (fraction)", 0.5,
                 0.75 + 1e-3, taken_k / idle_k);
  sc_metric(c, "idle_vm_idle_memory_reclaimed", "fraction", "", taken_k / idle_k);
  /* Slight contention (minFree back to its default): memory comes from
   * the lowest rho first. The idle VM has the lowest rho at full size, so
   * it must give; every VM that gave has a rho no higher than any VM that
   * kept its full size. */
  ms_set(&e, "Mem.IdleTax", 75);
  freeze_and_read(&e, "Mem.MemMinFreePct", 0, slight);
  double gave_max = 0, kept_min = INFINITY;
  unsigned gave = 0;
  for (unsigned i = 0; i < q_vms; i++) {
    double r = rho_of(slight[i].shares, slight[i].target, frac_at(&slight[i]), 0.75);
    if (slight[i].target < slight[i].size)
      gave++, gave_max = fmax(gave_max, r);
    else
      kept_min = fmin(kept_min, r);
    sc_diag(c, "slight contention: %-7s %6.2f of %.0f MiB, rho %.4f", q_names[i],
            ms_mib((uint64_t)slight[i].target), ms_mib((uint64_t)slight[i].size), r);
  }
  sc_check(c, slight[k].target < slight[k].size && gave < q_vms && gave_max <= kept_min * 1.03,
           "slight contention: the idle VM gives first; VMs that gave have no higher rho than "
           "those that kept their size",
           "idle VM %.0f of %.0f pages; %u VMs gave (highest rho %.5f), lowest rho kept %.5f",
           slight[k].target, slight[k].size, gave, gave_max, kept_min);
  ms_free(&e);
}

void case_alloc_5(suite_ctx_t *c) {
  ms_env_t e;
  quad_setup(c, &e, 1);
  snap_t t[q_vms];
  freeze_and_read(&e, "Mem.IdleTax", 75, t);
  /* The fully active VM holds no idle memory: its cost is its pages. With
   * rho equal, every other VM between its bounds reveals its k: T_R S_i /
   * S_R = T_i (f_i + k_i (1 - f_i)), tau_eff = 1 - 1/k. */
  const snap_t *r = &t[0];
  if (!interior(r) || frac_at(r) < 1.0)
    sc_check(c, false, "the fully active VM is between its bounds and fully active",
             "target %.0f of %.0f pages, estimate %.0f", r->target, r->size, r->est);
  double prev_ratio = -1, prev_tau = -1;
  unsigned bad_order = 0, above = 0, n = 0;
  for (unsigned i = 1; i < q_vms; i++) {
    double f = frac_at(&t[i]);
    if (!interior(&t[i]) || f >= 1.0)
      continue;
    double kk = (r->target * t[i].shares / r->shares / t[i].target - f) / (1.0 - f);
    double tau = 1.0 - 1.0 / kk, ratio = (1.0 - f) / f;
    sc_diag(c, "%-7s idle/active %.2f: effective tax rate %.3f", q_names[i], ratio, tau);
    char name[64];
    snprintf(name, sizeof name, "effective_tax_%s", q_names[i]);
    sc_metric(c, name, "fraction", "", tau);
    n++;
    above += tau > 0.75 + 0.01 || tau < -0.01;
    /* VMs come in increasing idle/active order (0.5, 0.25, idle). The rate
     * must rise, by a point at least: a flat tax (the same rate for every
     * VM, Mem.IdleTaxType ignored) does not. */
    if (prev_ratio >= 0 && ratio > prev_ratio && tau < prev_tau + 0.01)
      bad_order++;
    prev_ratio = ratio, prev_tau = tau;
  }
  sc_check(c, n >= 2 && bad_order == 0,
           "Mem.IdleTaxType=1: the effective rate rises with the idle/active ratio",
           "%u VMs measured, %u not above the previous by a point", n, bad_order);
  sc_check(c, above == 0, "the effective rate stays within 0..tau (0.75)", "%u VMs outside", above);
  ms_free(&e);
}

/* ---------------------------------------------------------------- ALLOC-6 */

typedef struct a6_obs {
  uint64_t last[2];
  uint64_t when[64];
  unsigned n;
} a6_obs_t;

static void a6_observe(ms_env_t *e, uint64_t now, void *arg) {
  a6_obs_t *o = arg;
  uint64_t t0 = ms_stats(e, 0).target_pages, t1 = ms_stats(e, 1).target_pages;
  if ((t0 != o->last[0] || t1 != o->last[1]) && o->n < 64)
    o->when[o->n++] = now;
  o->last[0] = t0, o->last[1] = t1;
}

/* Did any target change across `what` (no clock movement)? */
static void a6_immediate(suite_ctx_t *c, ms_env_t *e, a6_obs_t *o, const char *what) {
  uint64_t t0 = ms_stats(e, 0).target_pages, t1 = ms_stats(e, 1).target_pages;
  char name[128];
  snprintf(name, sizeof name, "%s: targets recomputed at once (no clock movement)", what);
  sc_check(c, t0 != o->last[0] || t1 != o->last[1], name, "targets stayed %llu / %llu pages",
           (unsigned long long)t0, (unsigned long long)t1);
  o->last[0] = t0, o->last[1] = t1;
}

void case_alloc_6(suite_ctx_t *c) {
  mmc_setting_value_t set[] = {{"Mem.MemMinFreePct", 50}, {"Mem.IdleTax", 75}};
  ms_env_t e;
  ms_host(&e, c, host_mib, set, 2);
  enum { vm_mib = 24 };
  wl_ws_cfg_t idle = {
      .shape = WL_WS_BOOT_IDLE, .f0_permille = 300, .ramp_ns = e.sp_ns, .write = true};
  wl_ws_cfg_t steady = {.shape = WL_WS_STEADY, .f0_permille = 600, .write = true};
  ms_vm(&e, "alloc6-idle", vm_mib, MMC_SHARES_NORMAL, &idle);
  ms_vm(&e, "alloc6-active", vm_mib, MMC_SHARES_NORMAL, &steady);
  a6_obs_t o = {.last = {ms_stats(&e, 0).target_pages, ms_stats(&e, 1).target_pages}};
  /* Estimates move every tick; targets may change only on one phase of
   * Mem.BalancePeriod. */
  uint64_t span = 8 * (e.bp_ns > e.sp_ns ? e.bp_ns : e.sp_ns); /* estimates settle */
  if (!ms_reported(&e, 0, MMC_VMSTAT_TARGET | MMC_VMSTAT_WSS_ESTIMATE,
                   "ALLOC-3 allocation targets")) {
    ms_free(&e);
    return;
  }
  if (!ms_reported(&e, 0, MMC_VMSTAT_TARGET | MMC_VMSTAT_WSS_ESTIMATE,
                   "ALLOC-5 allocation targets")) {
    ms_free(&e);
    return;
  }
  if (!ms_reported(&e, 0, MMC_VMSTAT_TARGET | MMC_VMSTAT_WSS_ESTIMATE,
                   "ALLOC-6 allocation targets")) {
    ms_free(&e);
    return;
  }
  ms_run(&e, span, a6_observe, &o);
  unsigned off = 0;
  for (unsigned i = 1; i < o.n; i++)
    off += (o.when[i] - o.when[0]) % e.bp_ns != 0;
  sc_check(c, o.n >= 2 && off == 0,
           "while estimates move, targets change only Mem.BalancePeriod apart",
           "%u changes in %llu s, %u off the balance phase", o.n,
           (unsigned long long)(span / NS_PER_S), off);
  sc_diag(c, "%u target changes while running, first at %.2f s", o.n,
          o.n ? (double)o.when[0] / NS_PER_S : -1.0);
  /* Move half a balance period off that phase, then act without advancing. */
  if (o.n) {
    uint64_t now = e.im->now(e.h);
    uint64_t into = (now - o.when[0]) % e.bp_ns, half = e.bp_ns / 2;
    ms_run(&e, (half + e.bp_ns - into) % e.bp_ns, a6_observe, &o);
  }
  unsigned before = o.n;
  wl_ws_cfg_t none = {.shape = WL_WS_STEADY, .f0_permille = 0, .write = true};
  size_t z = ms_vm(&e, "alloc6-new", vm_mib, MMC_SHARES_NORMAL, &none);
  a6_immediate(c, &e, &o, "power-on");
  ms_set(&e, "Mem.IdleTax", 25);
  a6_immediate(c, &e, &o, "setting Mem.IdleTax 75 -> 25");
  mmc_vm_config_t cfg = e.cfg[1];
  cfg.shares = MMC_SHARES_HIGH;
  mmc_error_t err = {0};
  cu_reconfigure(c, e.h, e.vm[1]->id, &cfg, "vm_reconfigure");
  e.cfg[1] = cfg;
  a6_immediate(c, &e, &o, "reconfigure shares normal -> high");
  ms_stop(&e, z);
  sc_require(c, wl_vm_shutdown(e.vm[z], &err), &err, "power-off");
  e.vm[z] = NULL;
  e.n--;
  a6_immediate(c, &e, &o, "power-off");
  sc_check(c, o.n == before, "off-phase: no change from the clock before those actions",
           "%u changes", o.n - before);
  sc_diag(c, "memory-state changes: not exercised (moving the free-memory state needs "
             "reclamation or overcommitted touches)");
  ms_free(&e);
}

/* ---------------------------------------------------- OSDI02 experiment */

void case_alloc_osdi02(suite_ctx_t *c) {
  /* Flat tax as in OSDI02 (all idle memory taxed equally), tau = 0 first. */
  mmc_setting_value_t set[] = {{"Mem.IdleTax", 0}, {"Mem.IdleTaxType", 0}};
  ms_env_t e;
  ms_host(&e, c, host_mib, set, 2);
  enum { vm_mib = 48 };
  double cap = (double)e.cap_bytes / MMC_PAGE_SIZE;
  /* VM1 boots touching a quarter of its memory and stays idle; VM2 touches
   * 75 % (36 MiB): more than half the host. Both configured 48 MiB, equal
   * shares; the host (64 MiB) cannot hold both. */
  wl_ws_cfg_t idle = {
      .shape = WL_WS_BOOT_IDLE, .f0_permille = 250, .ramp_ns = 2 * e.sp_ns, .write = true};
  wl_ws_cfg_t active = {.shape = WL_WS_STEADY, .f0_permille = 750, .write = true};
  ms_vm(&e, "osdi02-vm1-idle", vm_mib, MMC_SHARES_NORMAL, &idle);
  ms_vm(&e, "osdi02-vm2-active", vm_mib, MMC_SHARES_NORMAL, &active);
  if (!ms_reported(&e, 0, MMC_VMSTAT_TARGET | MMC_VMSTAT_WSS_ESTIMATE,
                   "ALLOC-4 allocation targets")) {
    ms_free(&e);
    return;
  }
  ms_run(&e, 16 * e.sp_ns + 2 * e.bp_ns, NULL, NULL);
  mmc_vm_stats_t a0 = ms_stats(&e, 0), b0 = ms_stats(&e, 1);
  sc_diag(c, "tau = 0:    VM1 (idle) %.1f MiB, VM2 (active) %.1f MiB; estimates %.1f / %.1f MiB",
          ms_mib(a0.target_pages), ms_mib(b0.target_pages), ms_mib(a0.wss_estimate_pages),
          ms_mib(b0.wss_estimate_pages));
  sc_check_range(c, "tau = 0: VM1 ends near half the host", 0.4 * cap, 0.55 * cap,
                 (double)a0.target_pages);
  sc_check_range(c, "tau = 0: VM2 ends near half the host", 0.4 * cap, 0.55 * cap,
                 (double)b0.target_pages);
  ms_set(&e, "Mem.IdleTax", 75);
  ms_run(&e, 8 * e.sp_ns + 2 * e.bp_ns, NULL, NULL);
  mmc_vm_stats_t a1 = ms_stats(&e, 0), b1 = ms_stats(&e, 1);
  sc_diag(c, "tau = 0.75: VM1 (idle) %.1f MiB, VM2 (active) %.1f MiB; estimates %.1f / %.1f MiB",
          ms_mib(a1.target_pages), ms_mib(b1.target_pages), ms_mib(a1.wss_estimate_pages),
          ms_mib(b1.wss_estimate_pages));
  sc_check(c, a1.target_pages < a0.target_pages && b1.target_pages > b0.target_pages,
           "tau = 0.75: memory moves from the idle VM to the active one",
           "VM1 %llu -> %llu pages, VM2 %llu -> %llu", (unsigned long long)a0.target_pages,
           (unsigned long long)a1.target_pages, (unsigned long long)b0.target_pages,
           (unsigned long long)b1.target_pages);
  double idle0 = fmax(0.0, (double)a0.target_pages - (double)a1.wss_estimate_pages);
  double taken = (double)a0.target_pages - (double)a1.target_pages;
  sc_check(c, taken <= 0.75 * idle0 + 2.0, "at most tau (0.75) of the idle VM's idle memory taken",
           "%.0f pages taken of %.0f idle (bound %.0f)", taken, idle0, 0.75 * idle0);
  sc_metric(c, "tau0_vm1_idle_target", "MiB", "", ms_mib(a0.target_pages));
  sc_metric(c, "tau0_vm2_active_target", "MiB", "", ms_mib(b0.target_pages));
  sc_metric(c, "tau75_vm1_idle_target", "MiB", "", ms_mib(a1.target_pages));
  sc_metric(c, "tau75_vm2_active_target", "MiB", "", ms_mib(b1.target_pages));
  sc_metric(c, "tau75_idle_memory_reclaimed", "fraction", "", idle0 > 0 ? taken / idle0 : 0.0);
  /* The progressive rate of today's ESX, for the record. */
  ms_set(&e, "Mem.IdleTaxType", 1);
  ms_run(&e, e.bp_ns, NULL, NULL);
  mmc_vm_stats_t a2 = ms_stats(&e, 0), b2 = ms_stats(&e, 1);
  sc_diag(c, "tau = 0.75 progressive: VM1 %.1f MiB, VM2 %.1f MiB", ms_mib(a2.target_pages),
          ms_mib(b2.target_pages));
  sc_metric(c, "tau75_progressive_vm1_idle_target", "MiB", "", ms_mib(a2.target_pages));
  sc_metric(c, "tau75_progressive_vm2_active_target", "MiB", "", ms_mib(b2.target_pages));
  ms_free(&e);
}
