/*
 * integrity.c — INT-1, first form: through remapping under concurrent guest
 * writes every guest page keeps exactly the last value written.
 *
 * Live clock. 4 VMs x 2 vCPU threads run the workloads' writer-verifier
 * (each vCPU owns a stripe of pages, writes the next version of random own
 * pages and re-reads others, checking the version it wrote last) for a
 * bounded time, while a control thread (this one) remaps their pages
 * underneath them: move_range() of random ranges to random nodes
 * (MMC_CAP_MOVE_RANGE; every node with memory, memory-only ones included)
 * and numa.nodeAffinity flipped between two nodes with CPUs and memory (a VM
 * must be able to run on its affinity) with vm_reconfigure. Afterwards wl_verify reads every page
 * of every VM against the ground truth: zero mismatches, in the run and at the end.
 *
 * Independent probe: with move_range and a page locator, one whole VM is
 * finally moved to one node and /proc/self/maps (or move_pages) must find
 * every page there.
 *
 * The topology: the run's when it has two nodes with CPUs and memory or
 * more, else builtin:2 (emulated), so pages really change pools; an
 * implementation that runs only on real nodes has no such choice, and on a
 * machine of one node the case is not shown (topology).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_util.h"
#include "cases_list.h"
#include "mmc_error.h"
#include "workload.h"

#define MIB (1024ull * 1024ull)
enum {
  int1_vms = 4,
  int1_vcpus = 2,
  int1_quick_vm_mib = 32,
  int1_full_vm_mib = 64,
  int1_writes_per_step = 8,
  int1_reads_per_step = 8,
  int1_max_range = 512,       /* pages per move_range */
  int1_reconfigure_every = 2, /* control iterations between affinity flips */
};
#define INT1_QUICK_NS 3000000000ull
#define INT1_FULL_NS 60000000000ull

typedef struct int1_stress {
  uint64_t moves, pages_moved, move_errors, reconfigures;
  int first_rc;
  mmc_error_t first_err;
} int1_stress_t;

static void note_error(int1_stress_t *s, int rc, const mmc_error_t *err) {
  if (s->first_rc == 0) {
    s->first_rc = rc;
    s->first_err = *err;
  }
}

/* One control iteration: a move of a random range, and sometimes an
 * affinity flip of one VM between node a and node b. */
static void stress_once(suite_ctx_t *c, mmc_host_t *h, wl_vm_t *const *vms,
                        const mmc_vm_config_t *cfgs, uint64_t *rng, uint32_t na, uint32_t nb,
                        const uint32_t *targets, uint32_t ntargets, uint64_t iter,
                        int1_stress_t *s) {
  const mmc_impl_t *im = sc_impl(c);
  uint32_t k = (uint32_t)(cu_rand(rng) % int1_vms);
  mmc_error_t err = {0};
  if (im->capabilities & MMC_CAP_MOVE_RANGE) {
    uint64_t npages = vms[k]->truth.npages;
    uint64_t count = 1 + cu_rand(rng) % int1_max_range;
    uint64_t gpfn = cu_rand(rng) % npages;
    if (gpfn + count > npages)
      count = npages - gpfn;
    uint32_t node = targets[cu_rand(rng) % ntargets];
    uint64_t moved = 0;
    int rc = im->move_range(h, vms[k]->id, gpfn, count, node, &moved, &err);
    s->moves++;
    if (rc != 0) {
      s->move_errors++;
      note_error(s, rc, &err);
    }
    s->pages_moved += moved;
  }
  if (iter % int1_reconfigure_every == 0) {
    mmc_vm_config_t cfg = cfgs[k];
    cfg.node_affinity = (iter / int1_reconfigure_every) % 2 ? 1ull << nb : 1ull << na;
    int rc = im->vm_reconfigure(h, vms[k]->id, &cfg, &err);
    if (rc != 0)
      note_error(s, rc, &err);
    else
      s->reconfigures++;
  }
}

/* wl_verify of one VM from a vCPU this thread enters. */
static void verify_vm(suite_ctx_t *c, mmc_host_t *h, wl_vm_t *vm, uint64_t *mismatches) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  sc_require(c, im->vcpu_enter(h, vm->id, 0, &v, &err), &err, "vcpu_enter for verify");
  wl_verify_report_t rep;
  int rc = wl_verify(im, v, &vm->truth, 0, &rep, &err);
  im->vcpu_exit(v);
  sc_require(c, rc, &err, "wl_verify");
  char line[512], name[96];
  wl_verify_format(&rep, line, sizeof line);
  snprintf(name, sizeof name, "VM %u: every page holds the last version written", vm->id);
  sc_check(c, rep.mismatches == 0 && rep.pages_checked == vm->truth.npages, name, "%s", line);
  *mismatches += rep.mismatches;
}

/* Move all of `vm` to `node` with no vCPU running, then find every page
 * there through the probe. */
static void probe_final_move(suite_ctx_t *c, mmc_host_t *h, const mmc_topology_t *t, wl_vm_t *vm,
                             const mmc_vm_config_t *vm_cfg, uint32_t node) {
  const mmc_impl_t *im = sc_impl(c);
  cu_locator_t loc;
  if (!(im->capabilities & MMC_CAP_MOVE_RANGE) ||
      !cu_locator_try(c, &loc, t, "moving pages between nodes"))
    return;
  uint64_t npages = vm->truth.npages, moved = 0;
  mmc_error_t err = {0};
  /* Home there first, so migration toward the home does not undo the move. */
  mmc_vm_config_t cfg = *vm_cfg;
  cfg.node_affinity = 1ull << node;
  cu_reconfigure(c, h, vm->id, &cfg, "vm_reconfigure");
  sc_require(c, im->move_range(h, vm->id, 0, npages, node, &moved, &err), &err,
             "move_range of the whole VM");
  void **ptrs = calloc(npages, sizeof *ptrs);
  int *where = calloc(npages, sizeof *where);
  if (!ptrs || !where)
    sc_broken(c, "out of memory for page pointers");
  mmc_vcpu_t *v = NULL;
  sc_require(c, im->vcpu_enter(h, vm->id, 0, &v, &err), &err, "vcpu_enter");
  /* Only written pages: a never-written page may read from a shared zero
   * frame that lives anywhere. */
  uint64_t n = 0;
  for (uint64_t g = 0; g < npages; g++) {
    if (vm->truth.version[g] == 0)
      continue;
    ptrs[n] = cu_page(im, v, g, false, &err);
    if (!ptrs[n++]) {
      im->vcpu_exit(v);
      sc_broken(c, "page %llu: %s", (unsigned long long)g, err.msg);
    }
  }
  /* Still entered: the pointers stay valid while the probe reads them. */
  cu_locate(c, &loc, ptrs, n, where);
  im->vcpu_exit(v);
  uint64_t off = 0;
  for (uint64_t i = 0; i < n; i++)
    off += where[i] != (int)node;
  char name[128];
  snprintf(name, sizeof name, "VM %u moved whole to node %u: every written page there (probe %s)",
           vm->id, node, cu_locator_name(&loc));
  sc_check(c, off == 0 && n > 0, name,
           "%llu of %llu written pages elsewhere (move_range said %llu moved)",
           (unsigned long long)off, (unsigned long long)n, (unsigned long long)moved);
  free(ptrs);
  free(where);
  cu_locator_free(&loc);
}

void case_int_1(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  const mmt_topology_t *run = sc_topology(c);
  /* The affinity flips need two nodes a VM can run on (CPUs) with memory;
   * memory-only nodes are move targets only. */
  uint64_t homes = cu_home_nodes(&run->desc);
  if (__builtin_popcountll(homes) < 2 && (im->capabilities & MMC_CAP_REAL_NODES_ONLY))
    sc_skip_kind(c, SUITE_NOTSHOWN_TOPOLOGY,
                 "INT-1 remaps pages between two nodes with CPUs and memory; topology '%s' has "
                 "%d and the implementation runs only on real nodes (MMC_CAP_REAL_NODES_ONLY), "
                 "so no emulated pair can stand in",
                 run->source, __builtin_popcountll(homes));
  mmt_topology_t *own = __builtin_popcountll(homes) >= 2 ? NULL : cu_topology(c, "builtin:2");
  const mmt_topology_t *mt = own ? own : run;
  const mmc_topology_t *t = &mt->desc;
  mmc_host_t *h = sc_host(c, mt, MMC_CLOCK_LIVE, NULL, 0);
  bool full = sc_mode(c) == SUITE_MODE_FULL;
  uint64_t bytes = (full ? int1_full_vm_mib : int1_quick_vm_mib) * MIB;
  if (bytes > cu_min_node_memory(t) / (2 * int1_vms))
    bytes = cu_min_node_memory(t) / (2 * int1_vms);
  homes = cu_home_nodes(t);
  uint32_t na = (uint32_t)__builtin_ctzll(homes), nb = 63u - (uint32_t)__builtin_clzll(homes);
  uint32_t targets[MMC_MAX_NODES], ntargets = 0; /* every node with memory */
  for (uint32_t n = 0; n < t->nnodes; n++)
    if (t->nodes[n].memory_bytes)
      targets[ntargets++] = n;
  mmc_vm_config_t cfgs[int1_vms];
  wl_vm_t *vms[int1_vms] = {0};
  wl_wv_cfg_t wv = {.writes_per_step = int1_writes_per_step, .reads_per_step = int1_reads_per_step};
  mmc_error_t err = {0};
  for (int k = 0; k < int1_vms; k++) {
    cfgs[k] = cu_vm("int1", int1_vcpus, bytes);
    cfgs[k].node_affinity = 1ull << (k % 2 ? nb : na);
    mmc_vm_id_t id = cu_power_on(c, h, &cfgs[k]);
    wl_vm_params_t p = {.impl = im,
                        .host = h,
                        .id = id,
                        .nvcpus = int1_vcpus,
                        .npages = cfgs[k].memory_bytes / MMC_PAGE_SIZE,
                        .seed = wl_seed_mix(sc_seed(c), (uint64_t)k),
                        .ops = &wl_wv_ops,
                        .cfg = &wv};
    sc_require(c, wl_vm_create(&vms[k], &p, &err), &err, "wl_vm_create");
  }
  wl_live_t *live = NULL;
  wl_live_cfg_t lc = {0};
  sc_require(c, wl_live_start(&live, vms, int1_vms, &lc, &err), &err, "wl_live_start");
  uint64_t rng = sc_seed(c) ^ 0x1417u,
           deadline = cu_now_ns() + (full ? INT1_FULL_NS : INT1_QUICK_NS);
  int1_stress_t s = {0};
  for (uint64_t iter = 0; cu_now_ns() < deadline; iter++) {
    stress_once(c, h, vms, cfgs, &rng, na, nb, targets, ntargets, iter, &s);
    sched_yield(); /* the vCPU threads share the cores with this loop */
  }
  wl_live_stop(live);
  int rc = wl_live_join(live, &err);
  sc_require(c, rc, &err, "writer-verifier vCPU thread");
  sc_check(c, s.first_rc == 0, "every move_range and vm_reconfigure succeeded",
           "%llu of %llu moves failed; first error %s: %s", (unsigned long long)s.move_errors,
           (unsigned long long)s.moves, mmc_status_name(s.first_rc), s.first_err.msg);
  uint64_t ops = 0, run_mismatches = 0, idle_vcpus = 0, final_mismatches = 0;
  for (int k = 0; k < int1_vms; k++)
    for (uint32_t i = 0; i < int1_vcpus; i++) {
      wl_counts_t n;
      wl_vcpu_counts(&vms[k]->vcpus[i], &n);
      ops += n.pages_written + n.pages_read;
      run_mismatches += n.mismatches;
      idle_vcpus += n.pages_written == 0;
    }
  sc_check_int(c, "no mismatch seen by the verifying vCPUs during the run", 0,
               (long long)run_mismatches);
  sc_check_int(c, "every vCPU thread made progress", 0, (long long)idle_vcpus);
  if (im->capabilities & MMC_CAP_MOVE_RANGE)
    sc_check(c, s.pages_moved > 0, "pages were moved underneath the writers",
             "%llu move_range calls moved nothing", (unsigned long long)s.moves);
  else
    sc_diag(c, "no MMC_CAP_MOVE_RANGE: remapping by nodeAffinity flips only");
  for (int k = 0; k < int1_vms; k++)
    verify_vm(c, h, vms[k], &final_mismatches);
  probe_final_move(c, h, t, vms[0], &cfgs[0], nb);
  verify_vm(c, h, vms[0], &final_mismatches);
  sc_metric(c, "page_operations", "pages", "higher", (double)ops);
  sc_metric(c, "pages_moved", "pages", "", (double)s.pages_moved);
  /* Pages move_range moved per second of the stress, with writers running:
   * the suite's live migration-throughput figure (the regression gate of `mmcert compare`). */
  sc_metric(c, "migration_throughput", "pages/s", "higher",
            (double)s.pages_moved / ((full ? INT1_FULL_NS : INT1_QUICK_NS) / 1e9));
  sc_metric(c, "affinity_flips", "calls", "", (double)s.reconfigures);
  sc_diag(c,
          "%llu page operations, %llu moves (%llu pages), %llu affinity flips, %llu "
          "mismatches at the end",
          (unsigned long long)ops, (unsigned long long)s.moves, (unsigned long long)s.pages_moved,
          (unsigned long long)s.reconfigures, (unsigned long long)final_mismatches);
  for (int k = 0; k < int1_vms; k++)
    wl_vm_destroy(vms[k]);
  sc_host_destroy(c, h);
  if (own)
    mmt_free(own);
}
