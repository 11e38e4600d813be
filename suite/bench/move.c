/*
 * move.c — `mmcert bench move`: what the migration engine costs per page
 * (MIG-1, MIG-2), measured so that the machine's other load stays out of
 * the figure (a figure repeatable to a few per cent, so `compare`
 * can catch a small regression with few rounds).
 *
 * One VM of move_vm_mib on a host of two pools (this machine's first two
 * nodes when they are real, else the emulated MOVE_TOPO_EMULATED), every
 * page written, no vCPU running. Each round moves the whole VM to the other
 * node with move_range() and back, timed in the calling thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID, nanoseconds): with a stepped clock the engine
 * copies, frees and remaps on this very thread inside the call (the
 * reference does), so that is its whole cost, and time spent preempted by
 * other work is not in it. The wall-clock rate is shown beside it. The
 * peer, measured right after in the same round on the same thread, is the
 * kernel work of the same move without a page map (floor.c: pwritev(2) of
 * as many pages into fresh frames of a memfd, then the sources punched in
 * runs of MOVE_RUN_PAGES): the engine can at best approach it. A round's
 * sample is the faster of its two moves and of its two floors.
 * move_rounds_default rounds (--repeat N: N, also 1); every round is a sample
 * of the figure, the peer and their ratio in the results file; the table
 * shows the medians. The ratio is judged (higher is better): on a loaded
 * machine the per-CPU rates of both drift together from one run to the
 * next (the kernel's page allocation and freeing cost more; seen: 9 %
 * between two runs a minute apart), while their ratio in the same round
 * stays put, so it is the figure that shows a slower engine. An implementation whose move_range
 * works on other threads (a live clock) is measured the same way and the table says the figure then
 * counts the calling thread only.
 *
 * Checked every time (a fast wrong move is a failure, not a figure): each
 * move reports the whole VM moved, and afterwards every page holds what was
 * written (read back through page()).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "mmc_error.h"

#define MOVE_MIB (1024ull * 1024ull)
#define MOVE_TOPO_EMULATED "synthetic:node:2 core:2 pu:1;memory=1G"
#define MOVE_SEED 0x6d6f7665ull
enum {
  move_vm_mib = 32,
  move_rounds_default = 10,
  move_rounds_max = 1000,
  move_quiesce_every = 64,
  MOVE_RUN_PAGES = 4096, /* the floor punches its sources in runs like an engine's batch */
};

typedef struct move_ctx {
  const suite_bench_opts_t *o;
  const mmc_impl_t *im;
  mmc_host_t *h;
  mmc_vm_id_t vm;
  uint64_t pages;
} move_ctx_t;

static uint64_t page_word(uint64_t g) {
  return (g + 1) * 0x9e3779b97f4a7c15ull ^ MOVE_SEED;
}

static void *page_retry(const mmc_impl_t *im, mmc_vcpu_t *v, uint64_t g, bool write,
                        mmc_error_t *err) {
  for (;;) {
    void *p = im->page(v, g, write, err);
    if (p || err->code != MMC_ERETRY)
      return p;
    im->quiesce(v);
  }
}

/* Write (fill) or check every page from vCPU 0; *bad counts mismatches. */
static int walk(move_ctx_t *x, bool fill, uint64_t *bad, mmc_error_t *err) {
  mmc_vcpu_t *v;
  int rc = x->im->vcpu_enter(x->h, x->vm, 0, &v, err);
  if (rc)
    return rc;
  for (uint64_t g = 0; g < x->pages && !rc; g++) {
    uint64_t *p = page_retry(x->im, v, g, fill, err);
    if (!p) {
      rc = err->code ? err->code : MMC_EINVAL;
      break;
    }
    for (size_t k = 0; k < MMC_PAGE_SIZE / sizeof *p; k += 64) {
      if (fill)
        p[k] = page_word(g) + k;
      else
        *bad += p[k] != page_word(g) + k;
    }
    if ((g + 1) % move_quiesce_every == 0)
      x->im->quiesce(v);
  }
  x->im->vcpu_exit(v);
  return rc;
}

/* One move of the whole VM to `node`: CPU and wall seconds. */
static int move_once(move_ctx_t *x, uint32_t node, double *cpu_s, double *wall_s,
                     mmc_error_t *err) {
  uint64_t moved = 0, w0 = bu_now_ns(), c0 = bu_thread_cpu_ns();
  int rc = x->im->move_range(x->h, x->vm, 0, x->pages, node, &moved, err);
  uint64_t c1 = bu_thread_cpu_ns(), w1 = bu_now_ns();
  if (rc)
    return rc;
  if (moved != x->pages)
    return mmc_fail(err, MMC_EINVAL, "move_range to node %u moved %llu of %llu pages", node,
                    (unsigned long long)moved, (unsigned long long)x->pages);
  *cpu_s = (double)(c1 - c0) / 1e9;
  *wall_s = (double)(w1 - w0) / 1e9;
  return 0;
}

static int setup(move_ctx_t *x, const mmt_topology_t *topo, mmc_error_t *err) {
  if (bu_host(x->o, x->im, topo, MOVE_SEED, &x->h))
    return mmc_fail(err, MMC_EINVAL, "no host (message above)");
  mmc_vm_config_t cfg;
  mmc_vm_config_init(&cfg);
  cfg.name = "bench-move";
  cfg.memory_bytes = move_vm_mib * MOVE_MIB;
  x->pages = cfg.memory_bytes / MMC_PAGE_SIZE;
  int rc = x->im->vm_power_on(x->h, &cfg, &x->vm, err);
  uint64_t bad = 0;
  if (!rc)
    rc = walk(x, true, &bad, err);
  double c, w;
  if (!rc) /* every page on node 0 first: each timed round moves all of them */
    rc = x->im->move_range(x->h, x->vm, 0, x->pages, 0, NULL, err);
  if (!rc)
    rc = move_once(x, 1, &c, &w, err) || move_once(x, 0, &c, &w, err); /* warm, not kept */
  return rc;
}

/* A round: two moves (there and back) and the floor twice, alternating;
 * the faster of each pair is the round's sample, so a hiccup of the machine
 * in one of them (an interrupt storm, another process thrashing the
 * caches) does not become the round's figure. */
static int measure(move_ctx_t *x, const mmt_topology_t *topo, unsigned rounds, double *rate,
                   double *wall, double *floor_rate, mmc_error_t *err) {
  for (unsigned r = 0; r < rounds; r++) {
    rate[r] = wall[r] = floor_rate[r] = 0;
    for (uint32_t node = 1; node <= 2; node++) {
      double c = 0, w = 0;
      int rc = move_once(x, node % 2, &c, &w, err);
      if (rc)
        return rc;
      rate[r] = fmax(rate[r], c > 0 ? (double)x->pages / c : 0);
      wall[r] = fmax(wall[r], w > 0 ? (double)x->pages / w : 0);
      double fl = bu_copy_free_cpu_rate(&topo->desc, x->pages, MOVE_RUN_PAGES);
      if (!(fl > 0))
        return mmc_fail(err, MMC_EIO,
                        "the copy + punch floor failed (memfd, pwritev or fallocate)");
      floor_rate[r] = fmax(floor_rate[r], fl);
    }
  }
  return 0;
}

static void report(const move_ctx_t *x, const mmt_topology_t *topo, unsigned rounds,
                   const double *rate, const double *wall, const double *floor_rate) {
  FILE *f = x->o->out;
  fprintf(f,
          "  %s %s: a resting VM of %d MB (%llu pages) moved whole between nodes 0 and 1 of "
          "%s\n  by move_range(), %u rounds of there and back (the faster of each, medians "
          "shown); the figure is the calling thread's CPU time%s\n",
          x->im->name, x->im->version, move_vm_mib, (unsigned long long)x->pages, topo->source,
          rounds,
          (x->im->capabilities & MMC_CAP_CLOCK_STEPPED)
              ? " (stepped clock: the engine works inside the call)"
              : " (live clock: work on other threads is not counted)");
  fprintf(f,
          "  peer: the same pages by pwritev(2) into fresh frames of a memfd, then the sources "
          "punched\n  in %d-page runs (no page map): what a move costs the kernel alone\n",
          MOVE_RUN_PAGES);
  bu_header(f);
  bu_row_rounds(f, "move_range per CPU-second", rate, "pages/s", "copy + punch, per CPU-second",
                floor_rate, rounds, rounds, "", true);
  bu_row_rounds(f, "move_range, wall clock", wall, "pages/s", "-", NULL, rounds, rounds, "", false);
}

int suite_bench_move(const suite_bench_opts_t *o) {
  suite_impl_t si;
  if (bu_load_impl(o, &si))
    return 1;
  const mmc_impl_t *im = si.impl;
  if (!(im->capabilities & MMC_CAP_MOVE_RANGE)) {
    fprintf(o->err, "mmcert bench move: %s lacks MMC_CAP_MOVE_RANGE: nothing to measure\n",
            im->name);
    suite_impl_unload(&si);
    return 1;
  }
  mmt_topology_t *topo = NULL;
  if (bu_load_topology(o, NULL, &topo)) {
    suite_impl_unload(&si);
    return 1;
  }
  if (!bu_two_real_nodes(&topo->desc)) {
    mmt_free(topo);
    topo = NULL;
    if (bu_load_topology(o, MOVE_TOPO_EMULATED, &topo)) {
      suite_impl_unload(&si);
      return 1;
    }
  }
  unsigned rounds = o->repeat ? o->repeat : move_rounds_default;
  rounds = rounds < move_rounds_max ? rounds : move_rounds_max;
  double *rate = calloc(rounds, sizeof *rate), *wall = calloc(rounds, sizeof *wall);
  double *floor_rate = calloc(rounds, sizeof *floor_rate);
  move_ctx_t x = {.o = o, .im = im};
  mmc_error_t err = {0};
  uint64_t bad = 0;
  int rc = rate && wall && floor_rate ? setup(&x, topo, &err) : MMC_ENOMEM;
  if (!rc)
    rc = measure(&x, topo, rounds, rate, wall, floor_rate, &err);
  if (!rc)
    rc = walk(&x, false, &bad, &err);
  if (!rc && bad)
    rc = mmc_fail(&err, MMC_EINVAL, "%llu words differ from what was written after the moves",
                  (unsigned long long)bad);
  if (!rc)
    report(&x, topo, rounds, rate, wall, floor_rate);
  else
    fprintf(o->err, "mmcert bench move: %s\n", err.msg[0] ? err.msg : "out of memory");
  if (x.h)
    im->host_destroy(x.h);
  free(rate);
  free(wall);
  free(floor_rate);
  mmt_free(topo);
  suite_impl_unload(&si);
  return rc ? 1 : 0;
}
