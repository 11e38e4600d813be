/*
 * placement.c — initial NUMA placement (NUMA-1, -2, -3, -9, -11); the model,
 * the search and its limits are described in placement.h.
 *
 * Invariants: a decision's clients are on distinct candidate nodes (CPU nodes
 * inside the affinity mask); their vCPU and page ranges are contiguous, cover
 * the VM exactly and do not overlap; the decision depends only on the
 * aggregates and the request (deterministic, ties by node index); nothing
 * here allocates or scans VMs.
 */
#include "placement.h"
#include "twin.h"

#include <string.h>

/* Loads are compared with a tolerance so that sums computed in different
 * orders do not break ties differently. */
#define LOAD_EPS 1e-12

typedef struct cand {
  uint32_t n;
  uint32_t node[MMC_MAX_NODES];
} cand_t;

double placement_node_load(const placement_host_t *h, uint32_t n, int64_t cpu, int64_t mem) {
  const placement_node_t *x = &h->node[n];
  double cpu_cap = x->ncores ? (double)x->ncores * 1000.0 : 1.0;
  double mem_cap = x->mem_pages ? (double)x->mem_pages : 1.0;
  double c = (double)(x->cpu_load + cpu) / cpu_cap;
  double m = (double)(x->mem_load + mem) / mem_cap;
  return c > m ? c : m;
}

/* A node that can be a home: CPUs for the vCPUs, memory for their pages. */
static bool home_capable(const placement_node_t *x) {
  return x->ncores > 0 && x->mem_pages > 0;
}

static double cpu_cap(const placement_node_t *x) {
  return x->ncores ? (double)x->ncores * 1000.0 : 1.0;
}

static double dev_in(double frac, double mean, double unit) {
  double d = frac > mean ? frac - mean : mean - frac;
  return unit > 0 ? d / unit : 0;
}

/* Capacity-weighted means over the homes after `k` clients of (cpu, mem). */
static void means_after(const placement_host_t *h, uint32_t k, int64_t cpu, int64_t mem, double *mc,
                        double *mm) {
  double cl = (double)cpu * k, cc = 0, ml = (double)mem * k, cm = 0;
  for (uint32_t n = 0; n < h->nnodes; n++) {
    const placement_node_t *x = &h->node[n];
    if (!home_capable(x))
      continue;
    cl += (double)x->cpu_load;
    cc += cpu_cap(x);
    ml += (double)x->mem_load;
    cm += (double)x->mem_pages;
  }
  *mc = cc > 0 ? cl / cc : 0;
  *mm = cm > 0 ? ml / cm : 0;
}

/* The host's balance if one client of (cpu, mem) were added on each of the
 * k nodes of `set` (see the model in placement.h): nodes of the set the
 * client does not fit, the largest deviation of any home from a resource's
 * mean in client units, and the sum of the squared deviations. */
typedef struct place_eval {
  uint32_t misfits;
  double peak;
  double spread;
} place_eval_t;

static place_eval_t place_evaluate(const placement_host_t *h, const uint32_t *set, uint32_t k,
                                   int64_t cpu, int64_t mem) {
  place_eval_t e = {0, 0.0, 0.0};
  double mc, mm, uc = h->cpu_unit, um = h->mem_unit;
  means_after(h, k, cpu, mem, &mc, &mm);
  bool in[MMC_MAX_NODES] = {false};
  for (uint32_t i = 0; i < k; i++) {
    const placement_node_t *x = &h->node[set[i]];
    in[set[i]] = true;
    e.misfits += !(x->mem_pages > 0 && x->mem_load + mem <= (int64_t)x->mem_pages);
    double c = (double)cpu / cpu_cap(x), m = x->mem_pages ? (double)mem / x->mem_pages : 0;
    uc = c > uc ? c : uc;
    um = m > um ? m : um;
  }
  for (uint32_t n = 0; n < h->nnodes; n++) {
    const placement_node_t *x = &h->node[n];
    if (!home_capable(x))
      continue;
    double dc = dev_in((double)(x->cpu_load + (in[n] ? cpu : 0)) / cpu_cap(x), mc, uc);
    double dm = dev_in((double)(x->mem_load + (in[n] ? mem : 0)) / (double)x->mem_pages, mm, um);
    double d = dc > dm ? dc : dm;
    e.peak = d > e.peak ? d : e.peak;
    e.spread += dc * dc + dm * dm;
  }
  return e;
}

uint32_t placement_vnuma_nodes(uint32_t vcpus, uint32_t vcpu_min, uint32_t max_per_vnode) {
  if (vcpus < vcpu_min + (REF_TWIN(NUMA11_VCPU_MIN_OFF_BY_ONE) ? 1 : 0) || max_per_vnode == 0)
    return 1;
  uint32_t n = (vcpus + max_per_vnode - 1) / max_per_vnode;
  return n ? n : 1;
}

static void candidates(const placement_host_t *h, uint64_t affinity, cand_t *c) {
  c->n = 0;
  for (uint32_t i = 0; i < h->nnodes; i++) {
    if (h->node[i].ncores == 0)
      continue;
    if (affinity && !(affinity & (1ull << i)))
      continue;
    c->node[c->n++] = i;
  }
}

/* -1, 0, 1 as placement a is better than, as good as, worse than b. */
static int compare_eval(place_eval_t a, place_eval_t b) {
  if (a.misfits != b.misfits)
    return a.misfits < b.misfits ? -1 : 1;
  if (a.peak < b.peak - LOAD_EPS)
    return -1;
  if (a.peak > b.peak + LOAD_EPS)
    return 1;
  if (a.spread < b.spread - LOAD_EPS)
    return -1;
  return a.spread > b.spread + LOAD_EPS ? 1 : 0;
}

static uint32_t pick(const placement_host_t *h, const cand_t *c, int64_t cpu, int64_t mem) {
  uint32_t best = UINT32_MAX;
  place_eval_t be = {0, 0.0, 0.0};
  for (uint32_t i = 0; i < c->n; i++) {
    uint32_t n = c->node[i];
    place_eval_t e = place_evaluate(h, &n, 1, cpu, mem);
    if (best == UINT32_MAX || compare_eval(e, be) < 0) { /* ties: lower index */
      best = n;
      be = e;
    }
  }
  return best;
}

uint32_t placement_pick_node(const placement_host_t *h, uint64_t allowed, int64_t cpu,
                             int64_t mem) {
  cand_t c;
  candidates(h, allowed, &c);
  return pick(h, &c, cpu, mem);
}

static uint32_t dist(const placement_host_t *h, uint32_t a, uint32_t b) {
  return h->distance[a * h->nnodes + b] + h->distance[b * h->nnodes + a];
}

/* C(m, k), saturated at cap + 1. */
static uint64_t choose_capped(uint32_t m, uint32_t k, uint64_t cap) {
  if (k > m)
    return 0;
  if (k > m - k)
    k = m - k;
  uint64_t r = 1;
  for (uint32_t i = 1; i <= k; i++) {
    r = r * (m - k + i) / i; /* exact: r * (m-k+i) is divisible by i */
    if (r > cap)
      return cap + 1;
  }
  return r;
}

typedef struct set_cost {
  uint32_t dist;
  place_eval_t eval;
} set_cost_t;

static bool better_set(set_cost_t a, set_cost_t b) {
  if (a.dist != b.dist && !REF_TWIN(NUMA3_DISTANCE_IGNORED))
    return a.dist < b.dist;
  return compare_eval(a.eval, b.eval) < 0;
}

static set_cost_t cost_of(const placement_host_t *h, const uint32_t *set, uint32_t k, int64_t cpu,
                          int64_t mem) {
  set_cost_t c = {0, place_evaluate(h, set, k, cpu, mem)};
  for (uint32_t i = 0; i < k; i++)
    for (uint32_t j = i + 1; j < k; j++)
      c.dist += dist(h, set[i], set[j]);
  return c;
}

/* Every k-subset of the candidates, in lexicographic order. */
static set_cost_t search_exact(const placement_host_t *h, const cand_t *c, uint32_t k, int64_t cpu,
                               int64_t mem, uint32_t *best) {
  uint32_t idx[MMC_MAX_NODES], set[MMC_MAX_NODES];
  set_cost_t bc = {UINT32_MAX, {0, 0.0, 0.0}};
  for (uint32_t i = 0; i < k; i++)
    idx[i] = i;
  for (;;) {
    for (uint32_t i = 0; i < k; i++)
      set[i] = c->node[idx[i]];
    set_cost_t sc = cost_of(h, set, k, cpu, mem);
    if (bc.dist == UINT32_MAX || better_set(sc, bc)) {
      bc = sc;
      memcpy(best, set, k * sizeof *set);
    }
    int i = (int)k - 1;
    while (i >= 0 && idx[i] == c->n - k + (uint32_t)i)
      i--;
    if (i < 0)
      break;
    idx[i]++;
    for (uint32_t j = (uint32_t)i + 1; j < k; j++)
      idx[j] = idx[j - 1] + 1;
  }
  return bc;
}

/* Greedy growth from every seed; add[] keeps each candidate's distance to the
 * set so far, so one growth costs O(k * m). */
static set_cost_t search_greedy(const placement_host_t *h, const cand_t *c, uint32_t k, int64_t cpu,
                                int64_t mem, uint32_t *best) {
  set_cost_t bc = {UINT32_MAX, {0, 0.0, 0.0}};
  double load[MMC_MAX_NODES];
  for (uint32_t i = 0; i < c->n; i++)
    load[i] = place_evaluate(h, &c->node[i], 1, cpu, mem).peak;
  for (uint32_t s = 0; s < c->n; s++) {
    uint32_t add[MMC_MAX_NODES], set[MMC_MAX_NODES];
    bool in[MMC_MAX_NODES] = {false};
    in[s] = true;
    set[0] = c->node[s];
    for (uint32_t i = 0; i < c->n; i++)
      add[i] = dist(h, c->node[s], c->node[i]);
    for (uint32_t step = 1; step < k; step++) {
      uint32_t pickd = UINT32_MAX;
      for (uint32_t i = 0; i < c->n; i++) {
        if (in[i])
          continue;
        if (pickd == UINT32_MAX || add[i] < add[pickd] ||
            (add[i] == add[pickd] && load[i] < load[pickd] - LOAD_EPS))
          pickd = i;
      }
      in[pickd] = true;
      set[step] = c->node[pickd];
      for (uint32_t i = 0; i < c->n; i++)
        add[i] += dist(h, c->node[pickd], c->node[i]);
    }
    /* report the set in node order, like the exact search */
    for (uint32_t i = 1; i < k; i++)
      for (uint32_t j = i; j > 0 && set[j - 1] > set[j]; j--) {
        uint32_t t = set[j];
        set[j] = set[j - 1];
        set[j - 1] = t;
      }
    set_cost_t sc = cost_of(h, set, k, cpu, mem);
    if (bc.dist == UINT32_MAX || better_set(sc, bc)) {
      bc = sc;
      memcpy(best, set, k * sizeof *set);
    }
  }
  return bc;
}

static uint32_t client_count(const placement_host_t *h, const cand_t *c,
                             const placement_request_t *r) {
  uint32_t cores_max = 0;
  uint64_t mem_max = 0;
  for (uint32_t i = 0; i < c->n; i++) {
    const placement_node_t *x = &h->node[c->node[i]];
    if (x->ncores > cores_max)
      cores_max = x->ncores;
    if (x->mem_pages > mem_max)
      mem_max = x->mem_pages;
  }
  uint64_t k = (r->vcpus + cores_max - 1) / cores_max;
  uint64_t km = mem_max ? (r->mem_pages + mem_max - 1) / mem_max : 1;
  if (km > k)
    k = km;
  if (k > c->n)
    k = c->n;
  return k ? (uint32_t)k : 1;
}

static void split(const placement_request_t *r, placement_decision_t *d) {
  uint32_t k = d->nclients;
  for (uint32_t i = 0; i < k; i++) {
    placement_client_t *cl = &d->client[i];
    cl->first_vcpu = (uint32_t)((uint64_t)r->vcpus * i / k);
    cl->nvcpus = (uint32_t)((uint64_t)r->vcpus * (i + 1) / k) - cl->first_vcpu;
    uint64_t q = r->mem_pages / k, rem = r->mem_pages % k;
    cl->first_gpfn = q * i + (i < rem ? i : rem);
    cl->npages = q + (i < rem ? 1 : 0);
  }
}

int placement_decide(const placement_host_t *h, const placement_request_t *r,
                     placement_decision_t *d, mmc_error_t *err) {
  if (r->vcpus == 0 || r->mem_pages == 0)
    return mmc_fail(err, MMC_EINVAL, "placement: a VM needs at least one vCPU and one page");
  cand_t c;
  candidates(h, r->affinity, &c);
  if (c.n == 0)
    return mmc_fail(err, MMC_EINVAL,
                    "placement: no node with CPUs in numa.nodeAffinity 0x%llx (memory-only "
                    "nodes cannot host vCPUs)",
                    (unsigned long long)r->affinity);
  memset(d, 0, sizeof *d);
  d->vnuma_nodes = placement_vnuma_nodes(r->vcpus, r->vcpu_min, r->max_per_vnode);
  d->nclients = client_count(h, &c, r);
  split(r, d);
  uint32_t k = d->nclients;
  int64_t cpu = ((int64_t)r->vcpus * r->vcpu_demand + k - 1) / k;
  int64_t mem = (int64_t)((r->mem_pages + k - 1) / k);
  if (k == 1) {
    d->client[0].node = pick(h, &c, cpu, mem);
    d->exact = true;
    return 0;
  }
  uint32_t set[MMC_MAX_NODES];
  set_cost_t sc;
  if (choose_capped(c.n, k, r->exact_sets_max) <= r->exact_sets_max) {
    sc = search_exact(h, &c, k, cpu, mem, set);
    d->exact = true;
  } else {
    sc = search_greedy(h, &c, k, cpu, mem, set);
  }
  d->dist_sum = sc.dist;
  for (uint32_t i = 0; i < k; i++)
    d->client[i].node = set[i];
  return 0;
}

void placement_commit(placement_host_t *h, const placement_decision_t *d, uint32_t vcpu_demand,
                      int sign) {
  for (uint32_t i = 0; i < d->nclients; i++) {
    const placement_client_t *cl = &d->client[i];
    int64_t pages = REF_TWIN(NUMA2_MEMORY_NOT_COMMITTED) ? 0 : (int64_t)cl->npages;
    placement_add(h, cl->node, sign * (int64_t)cl->nvcpus * vcpu_demand, sign * pages);
    const placement_node_t *x = &h->node[cl->node];
    double c = x->ncores ? (double)cl->nvcpus * vcpu_demand / ((double)x->ncores * 1000.0) : 0;
    double m = x->mem_pages ? (double)cl->npages / (double)x->mem_pages : 0;
    if (sign > 0 && c > h->cpu_unit)
      h->cpu_unit = c;
    if (sign > 0 && m > h->mem_unit)
      h->mem_unit = m;
  }
}
