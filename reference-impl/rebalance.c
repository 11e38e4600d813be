/*
 * rebalance.c — the NUMA rebalancer's per-period decision (NUMA-4, -5, -6,
 * -8, -12). The policy section is documented in rebalance.h; the mechanism
 * (running it every Numa.RebalancePeriod, applying home changes) is in
 * migrate.c.
 *
 * Invariants of a decision: at most one balance or locality move, or one
 * swap; every moved VM is allowed on and fits its destination; a balance
 * move satisfies both thresholds against the imbalance it measured.
 */
#include "rebalance.h"
#include "twin.h"

#include <math.h>

/* ================================================================ policy */

_Static_assert(MMC_MAX_NODES <= 64, "affinity masks are 64-bit");

#define RB_EPS 1e-9 /* slack for comparisons of sums of doubles */
#define RB_NONE UINT32_MAX
#define RB_EXTREMES 3u /* top/bottom nodes kept: enough to skip the two a move changes */

/* Documented defaults (doc/spec.md, "Advanced settings"). */
#define RB_DEF_IMBALANCE 10u
#define RB_DEF_MIG 2u
#define RB_DEF_THRASH 50u
#define RB_DEF_LOCALITY_WEIGHT 1u
#define RB_DEF_SWAP_INTERVAL 3u
#define RB_DEF_CORES_TOTAL 4u
#define RB_DEF_CORES_NODE 2u

void rebalance_settings_default(rebalance_settings_t *s) {
  *s = (rebalance_settings_t){.enable = true,
                              .imbalance_threshold = RB_DEF_IMBALANCE,
                              .mig_threshold = RB_DEF_MIG,
                              .thrash_threshold = RB_DEF_THRASH,
                              .locality_weight = RB_DEF_LOCALITY_WEIGHT,
                              .swap_interval = RB_DEF_SWAP_INTERVAL,
                              .cores_total_min = RB_DEF_CORES_TOTAL,
                              .cores_node_min = RB_DEF_CORES_NODE};
}

typedef struct rb_ctx {
  const rebalance_settings_t *s;
  const rebalance_node_t *nodes;
  uint32_t nn;
  const rebalance_vm_t *vms;
  uint32_t nv;
  double u[MMC_MAX_NODES];    /* utilisation */
  double resv[MMC_MAX_NODES]; /* CPU reservations, cores */
  uint32_t top[RB_EXTREMES];  /* most loaded nodes, descending */
  uint32_t bot[RB_EXTREMES];  /* least loaded nodes, ascending */
  uint32_t next;              /* entries in top/bot */
  double pre;                 /* imbalance now, points */
} rb_ctx_t;

/* A candidate decision and its ranking keys. */
typedef struct rb_pick {
  uint32_t a, b;       /* VM indices (b: swap partner or RB_NONE) */
  uint32_t to_a, to_b; /* destinations */
  double score;        /* larger is better */
  uint64_t dst_pages;  /* pages already at the destination (tie-break) */
  uint64_t age_key;    /* smaller = moved longer ago (tie-break) */
  double post;
} rb_pick_t;

static double rb_load(const rebalance_vm_t *v) {
  double d = v->cpu_demand > 0.0 ? v->cpu_demand : 0.0;
  return v->cpu_entitlement > 0.0 && v->cpu_entitlement < d ? v->cpu_entitlement : d;
}

static uint64_t rb_pages_on(const rebalance_vm_t *v, uint32_t n) {
  return v->pages_per_node ? v->pages_per_node[n] : 0;
}

static uint64_t rb_pages(const rebalance_vm_t *v, uint32_t nn) {
  uint64_t t = 0;
  for (uint32_t n = 0; v->pages_per_node && n < nn; n++)
    t += v->pages_per_node[n];
  return t;
}

static bool rb_allowed(const rb_ctx_t *c, const rebalance_vm_t *v, uint32_t n) {
  return (!v->affinity || (v->affinity >> n) & 1u) && v->vcpus <= c->nodes[n].cores;
}

/* Locality change, in points, of moving v's home from a to b. */
static double rb_dloc(const rebalance_vm_t *v, uint32_t nn, uint32_t a, uint32_t b) {
  uint64_t t = rb_pages(v, nn);
  if (!t)
    return 0.0;
  return 100.0 * ((double)rb_pages_on(v, b) - (double)rb_pages_on(v, a)) / (double)t;
}

static uint64_t rb_age_key(const rebalance_vm_t *v) {
  return v->last_move_period == REBALANCE_NEVER ? 0 : v->last_move_period + 1;
}

static void rb_insert(uint32_t *arr, uint32_t *len, uint32_t n, const double *u, bool desc) {
  uint32_t k = *len < RB_EXTREMES ? (*len)++ : RB_EXTREMES;
  /* shift worse entries right; strict comparison keeps lower indices first on ties */
  while (k > 0 && (desc ? u[n] > u[arr[k - 1]] : u[n] < u[arr[k - 1]])) {
    if (k < RB_EXTREMES)
      arr[k] = arr[k - 1];
    k--;
  }
  if (k < RB_EXTREMES)
    arr[k] = n;
}

static void rb_measure(rb_ctx_t *c) {
  for (uint32_t n = 0; n < c->nn; n++)
    c->u[n] = c->resv[n] = 0.0;
  for (uint32_t i = 0; i < c->nv; i++) {
    const rebalance_vm_t *v = &c->vms[i];
    c->u[v->home] += rb_load(v);
    c->resv[v->home] += v->cpu_reservation;
  }
  uint32_t ltop = 0, lbot = 0;
  for (uint32_t n = 0; n < c->nn; n++) {
    c->u[n] /= c->nodes[n].cpu_capacity;
    rb_insert(c->top, &ltop, n, c->u, true);
    rb_insert(c->bot, &lbot, n, c->u, false);
  }
  c->next = ltop;
  c->pre = 100.0 * (c->u[c->top[0]] - c->u[c->bot[0]]);
}

/* Imbalance if nodes x and y had utilisations ux and uy, others unchanged. */
static double rb_post(const rb_ctx_t *c, uint32_t x, double ux, uint32_t y, double uy) {
  double hi = fmax(ux, uy), lo = fmin(ux, uy);
  for (uint32_t k = 0; k < c->next; k++)
    if (c->top[k] != x && c->top[k] != y) {
      hi = fmax(hi, c->u[c->top[k]]);
      break;
    }
  for (uint32_t k = 0; k < c->next; k++)
    if (c->bot[k] != x && c->bot[k] != y) {
      lo = fmin(lo, c->u[c->bot[k]]);
      break;
    }
  return 100.0 * (hi - lo);
}

/* The destination keeps its reservations and, unless the source was itself
 * above capacity, its capacity (NUMA-5). */
static bool rb_entitled(const rb_ctx_t *c, uint32_t dst, double extra_resv, double u_dst_new,
                        double u_src_old) {
  if (c->resv[dst] + extra_resv > c->nodes[dst].cpu_capacity + RB_EPS)
    return false;
  return !(u_dst_new > 1.0 + RB_EPS && u_src_old <= 1.0 + RB_EPS);
}

static bool rb_memory_fits(const rb_ctx_t *c, const rebalance_vm_t *v, uint32_t dst) {
  if (REF_TWIN(NUMA5_MEMORY_FIT_NOT_CHECKED))
    return true;
  uint64_t to_move = rb_pages(v, c->nn) - rb_pages_on(v, dst);
  return to_move <= c->nodes[dst].mem_free_pages;
}

static bool rb_better(const rb_pick_t *x, const rb_pick_t *best) {
  if (best->a == RB_NONE)
    return true;
  if (fabs(x->score - best->score) > RB_EPS)
    return x->score > best->score;
  if (x->dst_pages != best->dst_pages)
    return x->dst_pages > best->dst_pages;
  return x->age_key < best->age_key; /* equal: the earlier (lower index) candidate stays */
}

static rb_pick_t rb_none(void) {
  return (rb_pick_t){.a = RB_NONE, .b = RB_NONE, .to_a = RB_NONE, .to_b = RB_NONE};
}

static rb_pick_t rb_balance(const rb_ctx_t *c) {
  rb_pick_t best = rb_none();
  const rebalance_settings_t *s = c->s;
  /* twin NUMA5_MIG_THRESHOLD_FOR_IMBALANCE: the wrong setting compared */
  uint32_t threshold =
      REF_TWIN(NUMA5_MIG_THRESHOLD_FOR_IMBALANCE) ? s->mig_threshold : s->imbalance_threshold;
  if (c->pre < (double)threshold - RB_EPS)
    return best; /* NUMA-5: under the threshold nothing moves */
  uint32_t src = c->top[0], dst = c->bot[0];
  double cs = c->nodes[src].cpu_capacity, cd = c->nodes[dst].cpu_capacity;
  for (uint32_t i = 0; i < c->nv; i++) {
    const rebalance_vm_t *v = &c->vms[i];
    double l = rb_load(v);
    if (v->home != src || l <= 0.0 || !rb_allowed(c, v, dst))
      continue;
    double us = c->u[src] - l / cs, ud = c->u[dst] + l / cd;
    double pair = 100.0 * fabs(us - ud), gain = c->pre - pair;
    /* twin NUMA10_MARGINS_DROPPED: any move that does not make the pair worse */
    bool margins = !REF_TWIN(NUMA10_MARGINS_DROPPED);
    if (gain < (margins ? (double)s->mig_threshold : 0.0) - RB_EPS)
      continue; /* not enough improvement */
    if (ud > us && pair > (double)s->thrash_threshold * c->pre / 100.0 + RB_EPS && margins)
      continue; /* anti-thrash: the move would flip the imbalance */
    if (!rb_entitled(c, dst, v->cpu_reservation, ud, c->u[src]) || !rb_memory_fits(c, v, dst))
      continue;
    rb_pick_t p = {.a = i,
                   .b = RB_NONE,
                   .to_a = dst,
                   .to_b = RB_NONE,
                   .score = gain + s->locality_weight * (REF_TWIN(NUMA6_LOCALITY_SIGN_SWAPPED)
                                                             ? rb_dloc(v, c->nn, dst, src)
                                                             : rb_dloc(v, c->nn, src, dst)),
                   .dst_pages = rb_pages_on(v, dst),
                   .age_key = rb_age_key(v),
                   .post = rb_post(c, src, us, dst, ud)};
    if (rb_better(&p, &best))
      best = p;
  }
  return best;
}

/* The allowed node holding most of v's memory; the home wins ties, then
 * the lower index. */
static uint32_t rb_memory_node(const rb_ctx_t *c, const rebalance_vm_t *v) {
  uint32_t m = v->home;
  for (uint32_t n = 0; n < c->nn; n++)
    if (n != v->home && rb_allowed(c, v, n) && rb_pages_on(v, n) > rb_pages_on(v, m))
      m = n;
  return m;
}

/* No contention results and the balance step will not want to undo it. */
static bool rb_post_ok(const rb_ctx_t *c, double post) {
  return post < (double)c->s->imbalance_threshold - RB_EPS || post <= c->pre + RB_EPS;
}

static rb_pick_t rb_locality(const rb_ctx_t *c) {
  rb_pick_t best = rb_none();
  const rebalance_settings_t *s = c->s;
  for (uint32_t i = 0; i < c->nv; i++) {
    const rebalance_vm_t *v = &c->vms[i];
    if (!v->pages_per_node)
      continue;
    uint32_t h = v->home, m = rb_memory_node(c, v);
    if (m == h)
      continue;
    double benefit = s->locality_weight * rb_dloc(v, c->nn, h, m);
    if (benefit < (double)s->mig_threshold - RB_EPS)
      continue;
    double l = rb_load(v);
    double uh = c->u[h] - l / c->nodes[h].cpu_capacity, um = c->u[m] + l / c->nodes[m].cpu_capacity;
    bool cpu = !REF_TWIN(NUMA12_LOCALITY_IGNORES_CPU); /* twin: CPU left out */
    if (cpu &&
        (um > 1.0 + RB_EPS || c->resv[m] + v->cpu_reservation > c->nodes[m].cpu_capacity + RB_EPS))
      continue; /* would create CPU contention on m */
    double post = rb_post(c, h, uh, m, um);
    if ((cpu && !rb_post_ok(c, post)) || !rb_memory_fits(c, v, m))
      continue;
    rb_pick_t p = {.a = i,
                   .b = RB_NONE,
                   .to_a = m,
                   .to_b = RB_NONE,
                   .score = benefit,
                   .dst_pages = rb_pages_on(v, m),
                   .post = post};
    if (rb_better(&p, &best))
      best = p;
  }
  return best;
}

/* Neither node pushed above capacity (or, if above already, not made worse). */
static bool rb_swap_cpu_ok(const rb_ctx_t *c, uint32_t n, double u_new, double resv_new) {
  if (resv_new > c->nodes[n].cpu_capacity + RB_EPS)
    return false;
  return u_new <= 1.0 + RB_EPS || u_new <= c->u[n] + RB_EPS;
}

static rb_pick_t rb_swap_pair(const rb_ctx_t *c, uint32_t x, uint32_t y, uint32_t a, uint32_t b) {
  const rebalance_vm_t *va = &c->vms[a], *vb = &c->vms[b];
  double la = rb_load(va), lb = rb_load(vb);
  double cx = c->nodes[x].cpu_capacity, cy = c->nodes[y].cpu_capacity;
  double ux = c->u[x] + (lb - la) / cx, uy = c->u[y] + (la - lb) / cy;
  rb_pick_t none = rb_none();
  if (!rb_swap_cpu_ok(c, x, ux, c->resv[x] - va->cpu_reservation + vb->cpu_reservation) ||
      !rb_swap_cpu_ok(c, y, uy, c->resv[y] - vb->cpu_reservation + va->cpu_reservation))
    return none;
  double post = rb_post(c, x, ux, y, uy);
  if (!rb_post_ok(c, post) || !rb_memory_fits(c, va, y) || !rb_memory_fits(c, vb, x))
    return none;
  double gain = rb_dloc(va, c->nn, x, y) + rb_dloc(vb, c->nn, y, x);
  double benefit = c->s->locality_weight * gain + (c->pre - post);
  if (benefit < (double)c->s->mig_threshold - RB_EPS)
    return none;
  return (rb_pick_t){.a = a,
                     .b = b,
                     .to_a = y,
                     .to_b = x,
                     .score = benefit,
                     .dst_pages = rb_pages_on(va, y) + rb_pages_on(vb, x),
                     .post = post};
}

static rb_pick_t rb_swap(const rb_ctx_t *c) {
  /* [x * nn + y]: the VM on x with the largest locality gain toward y.
   * 48 KB of stack at most (64 nodes); no allocation in the policy. */
  uint32_t cand[MMC_MAX_NODES * MMC_MAX_NODES];
  double gain[MMC_MAX_NODES * MMC_MAX_NODES];
  uint32_t nn = c->nn;
  for (uint32_t k = 0; k < nn * nn; k++)
    cand[k] = RB_NONE, gain[k] = 0.0;
  for (uint32_t i = 0; i < c->nv; i++) {
    const rebalance_vm_t *v = &c->vms[i];
    if (!v->pages_per_node)
      continue;
    for (uint32_t y = 0; y < nn; y++) {
      if (y == v->home || !rb_allowed(c, v, y))
        continue;
      double g = rb_dloc(v, nn, v->home, y);
      uint32_t k = v->home * nn + y;
      if (g > gain[k] + RB_EPS)
        cand[k] = i, gain[k] = g;
    }
  }
  rb_pick_t best = rb_none();
  for (uint32_t x = 0; x < nn; x++)
    for (uint32_t y = x + 1; y < nn; y++) {
      uint32_t a = cand[x * nn + y], b = cand[y * nn + x];
      if (a == RB_NONE || b == RB_NONE)
        continue;
      rb_pick_t p = rb_swap_pair(c, x, y, a, b);
      if (p.a != RB_NONE && rb_better(&p, &best))
        best = p;
    }
  return best;
}

static bool rb_disabled(const rebalance_settings_t *s, const rebalance_node_t *nodes,
                        uint32_t nnodes) {
  if (!s->enable || nnodes < 2)
    return true;
  uint64_t total = 0;
  for (uint32_t n = 0; n < nnodes; n++) {
    if (nodes[n].cores < s->cores_node_min + (REF_TWIN(NUMA8_CORES_NODE_OFF_BY_ONE) ? 1 : 0))
      return true;
    total += nodes[n].cores;
  }
  return total < s->cores_total_min;
}

static int rb_check(const rebalance_settings_t *s, const rebalance_node_t *nodes, uint32_t nnodes,
                    const rebalance_vm_t *vms, uint32_t nvms, mmc_error_t *err) {
  if (nnodes < 1 || nnodes > MMC_MAX_NODES)
    return mmc_fail(err, MMC_EINVAL, "rebalance: %u nodes; allowed 1..%u", nnodes, MMC_MAX_NODES);
  if (s->swap_interval < 1)
    return mmc_fail(err, MMC_EINVAL, "Numa.SwapInterval: 0 is out of range 1..10000");
  for (uint32_t n = 0; n < nnodes; n++)
    if (!(nodes[n].cpu_capacity > 0.0))
      return mmc_fail(err, MMC_EINVAL, "rebalance: node %u has CPU capacity %g; must be > 0", n,
                      nodes[n].cpu_capacity);
  for (uint32_t i = 0; i < nvms; i++)
    if (vms[i].home >= nnodes)
      return mmc_fail(err, MMC_EINVAL, "rebalance: VM %u has home node %u; allowed 0..%u", i,
                      vms[i].home, nnodes - 1);
  return 0;
}

static void rb_emit(rebalance_result_t *out, const rb_ctx_t *c, uint32_t vm, uint32_t to,
                    rebalance_reason_t why) {
  out->moves[out->nmoves++] =
      (rebalance_move_t){.vm = vm, .from = c->vms[vm].home, .to = to, .reason = why};
}

int rebalance_step(const rebalance_settings_t *s, const rebalance_node_t *nodes, uint32_t nnodes,
                   const rebalance_vm_t *vms, uint32_t nvms, uint64_t period,
                   rebalance_result_t *out, mmc_error_t *err) {
  int rc = rb_check(s, nodes, nnodes, vms, nvms, err);
  if (rc)
    return rc;
  *out = (rebalance_result_t){0};
  rb_ctx_t c = {.s = s, .nodes = nodes, .nn = nnodes, .vms = vms, .nv = nvms};
  rb_measure(&c);
  out->imbalance = out->imbalance_after = c.pre;
  if (rb_disabled(s, nodes, nnodes)) {
    out->disabled = true;
    return 0;
  }
  rb_pick_t p = rb_balance(&c);
  rebalance_reason_t why = REBALANCE_BALANCE;
  if (p.a == RB_NONE)
    p = rb_locality(&c), why = REBALANCE_LOCALITY;
  if (p.a == RB_NONE && period % s->swap_interval == 0)
    p = rb_swap(&c), why = REBALANCE_SWAP;
  if (p.a == RB_NONE)
    return 0;
  rb_emit(out, &c, p.a, p.to_a, why);
  if (p.b != RB_NONE)
    rb_emit(out, &c, p.b, p.to_b, why);
  out->imbalance_after = p.post;
  return 0;
}

static bool rb_move_ok(const rebalance_move_t *m, const rebalance_node_t *nodes, uint32_t nnodes,
                       const rebalance_vm_t *vms, uint32_t nvms) {
  if (m->vm >= nvms || m->to >= nnodes || m->from != vms[m->vm].home || m->to == m->from)
    return false;
  const rebalance_vm_t *v = &vms[m->vm];
  return (!v->affinity || (v->affinity >> m->to) & 1u) && v->vcpus <= nodes[m->to].cores;
}

bool rebalance_result_is_valid(const rebalance_result_t *r, const rebalance_node_t *nodes,
                               uint32_t nnodes, const rebalance_vm_t *vms, uint32_t nvms) {
  if (r->nmoves > REBALANCE_MAX_MOVES || (r->disabled && r->nmoves))
    return false;
  for (uint32_t k = 0; k < r->nmoves; k++)
    if (!rb_move_ok(&r->moves[k], nodes, nnodes, vms, nvms))
      return false;
  if (r->nmoves == 1)
    return r->moves[0].reason == REBALANCE_BALANCE || r->moves[0].reason == REBALANCE_LOCALITY;
  if (r->nmoves == 2) {
    const rebalance_move_t *a = &r->moves[0], *b = &r->moves[1];
    return a->reason == REBALANCE_SWAP && b->reason == REBALANCE_SWAP && a->vm != b->vm &&
           a->from == b->to && a->to == b->from;
  }
  return true;
}
