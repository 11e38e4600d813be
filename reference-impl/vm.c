/*
 * vm.c — VM lifecycle, vCPUs and guest memory of the reference host
 * (NUMA-1, -3, -8, -9, -11, ALLOC-1, SEC-1; contract calls vm_*, vcpu_*,
 * page, quiesce, vm_stats, move_range).
 *
 * Memory: one frame pool per node with memory (mech.h), created with the
 * host. Each VM has a page map whose first touch of a page allocates a frame
 * on the home node of the NUMA client owning that gpfn (the guest-physical
 * range is split into contiguous per-client ranges by placement.c); when that
 * node is full, the nearest node by distance with a free frame serves it
 * (counted in remote_fallback_pages; MMC_EV_FALLBACK is emitted when a VM
 * starts falling back, not for every page). Frames come zeroed from the pool
 * (SEC-1). numa.nodeAffinity confines the fallback too (NUMA-9): with every
 * allowed node full, the touch fails with MMC_ENOMEM.
 *
 * Placement (placement.c) runs at power-on unless Numa.RebalanceEnable=0
 * (NUMA-8): then the VM has no home (home_node = client_home = REF_NO_NODE,
 * nclients = 0), its vCPUs are not bound, and its first touches go round robin
 * over the allowed nodes with memory, first fit from there.
 *
 * Numa.RebalanceEnable is read at each power-on: changing it affects VMs
 * powered on afterwards, never running ones.
 *
 * vCPUs: vcpu_enter binds the calling thread with sched_setaffinity to its
 * client's home node CPUs when that node is real (binding_applied), records
 * the node otherwise; the thread's previous affinity is restored when the
 * last vCPU it entered exits (stepped mode drives every vCPU from one
 * thread). A vCPU counts Ref.VcpuDemandDefault permille of CPU demand in the
 * placement aggregates until vcpu_set_demand says otherwise.
 *
 * move_range: batches of Ref.MoveBatchPages through ref_pmap_remap (copy to a
 * frame on the target node, publish, free the old frame); pages a vCPU used
 * while marked are retried up to Ref.MoveRetries times, then left where they
 * are. Moved pages count in pages_migrated. The calling thread must hold no
 * page pointer of that VM (a remap waits for every active vCPU).
 *
 * Admission control (ALLOC-1): the reservations of all running VMs plus the
 * new one must fit the host's frame capacity (sum of the pools); a
 * reservation raised by reconfigure is checked the same way. Only
 * reservations count, not configured sizes: memory above reservations may be
 * overcommitted. (Reserved frames are accounted, not allocated up front.)
 *
 * Locking (ref.h, "Lock ordering"): control calls hold h->lock; the
 * placement aggregates have their own short place_lock so vcpu_set_demand
 * never takes h->lock (L2: move_range holds h->lock while it waits for the
 * VM's vCPUs to quiesce). The fault path here takes only the leaf locks
 * (a pool's, to allocate a frame; the event ring's).
 *
 * Invariants:
 *  - pages_per_node[n] = guest pages of the VM whose private frame is on n;
 *  - a powered-off VM holds no frame (power-off walks the page map), so pool
 *    used counts return to what other VMs hold;
 *  - mem->reserved_pages = sum of the reservations of running VMs <= capacity;
 *  - a refused power-on or reconfigure changes nothing.
 */
#include "ref.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mech.h"
#include "mmc_clock.h"
#include "placement.h"
#include "reclaim.h"
#include "twin.h"

typedef struct ref_mem {
  ref_vm_t **vms; /* by id - 1; NULL once powered off */
  size_t cap;
  mmc_vm_id_t next_id;
  uint32_t nvms;
  uint64_t capacity_pages;
  uint64_t reserved_pages;
  pthread_mutex_t place_lock;
  placement_host_t place;
} ref_mem_t;

static ref_mem_t *mem_of(ref_host_t *h) {
  return h->mem;
}

/* ---------------------------------------------------------------- host memory */

int ref_mem_init(ref_host_t *h, mmc_error_t *err) {
  ref_mem_t *m = calloc(1, sizeof *m);
  if (!m)
    return mmc_fail(err, MMC_ENOMEM, "host_create: out of memory");
  pthread_mutex_init(&m->place_lock, NULL);
  m->next_id = 1;
  m->place.nnodes = h->nnodes;
  m->place.distance = h->distance;
  h->mem = m;
  for (uint32_t n = 0; n < h->nnodes; n++) {
    const mmc_node_t *node = &h->nodes[n];
    uint64_t pages = node->memory_bytes / MMC_PAGE_SIZE;
    m->place.node[n].ncores = node->ncpus ? (node->ncores ? node->ncores : node->ncpus) : 0;
    m->place.node[n].mem_pages = pages;
    if (pages == 0)
      continue;
    int rc = ref_pool_create(n, node->os_index, node->real, pages, &h->pools[n], err);
    if (rc) {
      ref_mem_fini(h);
      return rc;
    }
    h->pool_bases[n] = ref_pool_base(h->pools[n]);
    m->capacity_pages += pages;
  }
  return 0;
}

static void vm_destroy(ref_host_t *h, ref_vm_t *vm);

void ref_mem_fini(ref_host_t *h) {
  ref_mem_t *m = mem_of(h);
  if (!m)
    return;
  ref_host_lock(h); /* no other thread is left; held as by every power-off */
  for (size_t i = 0; i < m->cap; i++)
    if (m->vms[i])
      vm_destroy(h, m->vms[i]);
  ref_host_unlock(h);
  for (uint32_t n = 0; n < h->nnodes; n++) {
    if (h->pools[n])
      ref_pool_destroy(h->pools[n]);
    h->pools[n] = NULL;
    h->pool_bases[n] = NULL;
  }
  free(m->vms);
  pthread_mutex_destroy(&m->place_lock);
  free(m);
  h->mem = NULL;
}

void ref_mem_host_stats(ref_host_t *h, mmc_host_stats_t *out) {
  for (uint32_t n = 0; n < h->nnodes; n++) {
    if (!h->pools[n])
      continue;
    out->node_capacity_pages[n] = ref_pool_capacity(h->pools[n]);
    out->node_free_pages[n] = ref_pool_free(h->pools[n]);
  }
  out->nvms = mem_of(h)->nvms;
}

/* ---------------------------------------------------------------- lookup */

static int vm_find(ref_host_t *h, mmc_vm_id_t id, ref_vm_t **out, mmc_error_t *err) {
  ref_mem_t *m = mem_of(h);
  if (id == 0 || id >= m->next_id)
    return mmc_fail(err, MMC_ENOENT, "VM %u does not exist", id);
  if (!m->vms[id - 1])
    return mmc_fail(err, MMC_ESTATE, "VM %u is powered off", id);
  *out = m->vms[id - 1];
  return 0;
}

ref_vm_t *ref_vm_get(ref_host_t *h, mmc_vm_id_t id) {
  ref_mem_t *m = mem_of(h);
  return id == 0 || id >= m->next_id ? NULL : m->vms[id - 1];
}

void ref_vm_for_each(ref_host_t *h, ref_vm_fn fn, void *ctx) {
  ref_mem_t *m = mem_of(h);
  ref_assert(ref_lock_held(REF_LC_HOST));
  for (size_t i = 0; i < m->cap; i++)
    if (m->vms[i])
      fn(h, m->vms[i], ctx);
}

static uint32_t client_of_gpfn(const ref_vm_t *vm, uint64_t gpfn) {
  uint32_t lo = 0, hi = vm->nclients; /* last client with first_gpfn <= gpfn */
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (vm->client[mid].first_gpfn <= gpfn)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* ---------------------------------------------------------------- first touch */

static bool node_allowed(const ref_vm_t *vm, uint32_t n) {
  uint64_t mask = atomic_load_explicit(&vm->affinity, memory_order_relaxed);
  return !mask || (mask & (1ull << n));
}

/* The node first touches of this page should use: its client's home, or the
 * next round-robin node when the VM has no home. */
static uint32_t preferred_node(ref_host_t *h, ref_vm_t *vm, uint64_t gpfn) {
#ifdef REF_TWINS
  if (vm->placed && REF_TWIN(NUMA7_NEW_MEMORY_FROM_OLD_HOME))
    return vm->client[client_of_gpfn(vm, gpfn)].twin_first_home;
#endif
  if (vm->placed)
    return atomic_load_explicit(&vm->client[client_of_gpfn(vm, gpfn)].home, memory_order_acquire);
  for (uint32_t i = 0; i < h->nnodes; i++) {
    uint32_t n = atomic_fetch_add_explicit(&vm->rr, 1, memory_order_relaxed) % h->nnodes;
    if (h->pools[n] && node_allowed(vm, n))
      return n;
  }
  return 0;
}

static void note_fallback(ref_host_t *h, ref_vm_t *vm, uint32_t want, uint32_t got) {
  if (!vm->placed)
    return;
  if (got == want) {
    if (atomic_load_explicit(&vm->falling_back, memory_order_relaxed))
      atomic_store_explicit(&vm->falling_back, false, memory_order_relaxed);
    return;
  }
  atomic_fetch_add_explicit(&vm->remote_fallback, 1, memory_order_relaxed);
  if (!atomic_exchange_explicit(&vm->falling_back, true, memory_order_relaxed))
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_FALLBACK,
                                    .vm = vm->id,
                                    .node_from = (int32_t)want,
                                    .node_to = (int32_t)got,
                                    .count = 1,
                                    .reason = "home node full"});
}

/* A zeroed frame on `want`, else on the nearest allowed node with a free one. */
static int alloc_frame(ref_host_t *h, ref_vm_t *vm, uint32_t want, uint32_t *node_out,
                       uint64_t *frame_out, mmc_error_t *err) {
  for (uint32_t i = 0; i < h->nnodes; i++) {
    uint32_t n = h->near[want][i];
    if (!h->pools[n] || !node_allowed(vm, n))
      continue;
    uint64_t f = ref_frame_alloc(h->pools[n]);
    if (f == REF_NO_FRAME)
      continue;
    *node_out = n;
    *frame_out = f;
    note_fallback(h, vm, want, n);
    return 0;
  }
  return mmc_fail(err, MMC_ENOMEM, "VM %u: no free frame on any node it may use (affinity 0x%llx)",
                  vm->id, (unsigned long long)atomic_load(&vm->affinity));
}

int ref_vm_alloc_frame(ref_host_t *h, ref_vm_t *vm, uint32_t want, uint32_t *node_out,
                       uint64_t *frame_out, mmc_error_t *err) {
  if (want >= h->nnodes)
    want = preferred_node(h, vm, 0);
  return alloc_frame(h, vm, want, node_out, frame_out, err);
}

uint64_t ref_vm_running_demand(ref_host_t *h, const ref_vm_t *vm) {
  ref_mem_t *m = mem_of(h);
  uint64_t sum = 0;
  ref_lock(&m->place_lock, REF_LC_PLACE); /* guards the vCPUs' demand */
  for (uint32_t v = 0; v < vm->cfg.vcpus; v++)
    if (atomic_load(&vm->vcpus[v].entered))
      sum += vm->vcpus[v].demand;
  ref_unlock(&m->place_lock, REF_LC_PLACE);
  return sum;
}

bool ref_mem_quiescent(ref_host_t *h) {
  ref_mem_t *m = mem_of(h);
  for (size_t i = 0; i < m->cap; i++)
    if (m->vms[i] && !ref_pmap_quiescent(m->vms[i]->pmap))
      return false;
  return true;
}

uint64_t ref_mem_capacity_pages(ref_host_t *h) {
  return mem_of(h)->capacity_pages;
}

uint32_t ref_vm_home_of(const ref_vm_t *vm, uint64_t gpfn) {
  return vm->placed ? atomic_load(&vm->client[client_of_gpfn(vm, gpfn)].home) : REF_NO_NODE;
}

/* First touch: a zeroed frame on the home of the page's client, through
 * the low-memory gate of memstate.c (reclaim.h): in the low state a VM above
 * target waits (bounded) or fails, and so does a touch finding every pool
 * full, instead of failing at once. */
static int first_touch(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, uint64_t gpfn, uint64_t *pte,
                       mmc_error_t *err) {
  uint32_t node = 0, want = preferred_node(h, vm, gpfn);
  uint64_t frame = 0;
  if (REF_TWIN(NUMA1_FIRST_TOUCH_NEXT_NODE) && h->nnodes > 1)
    want = h->near[want][1]; /* twin: the nearest node but the home */
  int rc = ref_memstate_gate(h, vm, vcpu, false, err);
  if (rc == 0 && (rc = alloc_frame(h, vm, want, &node, &frame, err)) == MMC_ENOMEM)
    rc = ref_memstate_gate(h, vm, vcpu, true, err);
  if (rc)
    return rc;
  ref_memstate_gate_passed(vm, vcpu);
  atomic_fetch_add_explicit(&vm->pages_per_node[node], 1, memory_order_relaxed);
  *pte = ref_pte_make(REF_PTE_PRIVATE, node, frame);
  return 0;
}

/* The vCPU slow path: a sampled entry is first counted by the mechanisms that
 * sample (WSS), then the entry's state goes to the mechanism that owns it
 * (first touch here; COW, swap-in, balloon elsewhere). */
static int vm_fault(void *owner, uint32_t vcpu, uint64_t gpfn, bool write, uint64_t *pte,
                    mmc_error_t *err) {
  ref_vm_t *vm = owner;
  ref_host_t *h = vm->vcpus[0].h;
  if (*pte & REF_PTE_SAMPLED) {
    for (unsigned i = 0; i < REF_MECH_COUNT; i++) {
      const ref_mech_t *mc = ref_mechs[i];
      int rc;
      if (mc && mc->fault && (mc->fault_states & REF_FAULT_SAMPLED) &&
          (rc = mc->fault(h, vm, vcpu, gpfn, write, pte, err)))
        return rc;
    }
    *pte &= ~REF_PTE_SAMPLED;
  }
  unsigned st = ref_pte_state(*pte);
  if (st == REF_PTE_PRIVATE || (st == REF_PTE_SHARED && !write))
    return 0;
  if (st == REF_PTE_UNBACKED)
    return first_touch(h, vm, vcpu, gpfn, pte, err);
  for (unsigned i = 0; i < REF_MECH_COUNT; i++) {
    const ref_mech_t *mc = ref_mechs[i];
    if (mc && mc->fault && (mc->fault_states & REF_STATE_BIT(st)))
      return mc->fault(h, vm, vcpu, gpfn, write, pte, err);
  }
  return mmc_fail(err, MMC_ENOTSUP, "VM %u page %llu: no mechanism handles state %u", vm->id,
                  (unsigned long long)gpfn, st);
}

static const ref_fault_ops_t fault_ops = {.fault = vm_fault};

/* ---------------------------------------------------------------- validation */

static int check_config(ref_host_t *h, const mmc_vm_config_t *c, mmc_error_t *err) {
  if (!c)
    return mmc_fail(err, MMC_EINVAL, "VM config is NULL");
  if (c->name && strlen(c->name) >= MMC_NAME_MAX)
    return mmc_fail(err, MMC_EINVAL, "VM name is %zu bytes long (max %u)", strlen(c->name),
                    MMC_NAME_MAX - 1);
  if (c->vcpus < 1 || c->vcpus > MMC_MAX_VCPUS)
    return mmc_fail(err, MMC_EINVAL, "vcpus %u is out of range 1..%u", c->vcpus, MMC_MAX_VCPUS);
  if (c->memory_bytes == 0 || c->memory_bytes % MMC_PAGE_SIZE)
    return mmc_fail(err, MMC_EINVAL,
                    "memory_bytes %llu must be a positive multiple of the %u-byte page",
                    (unsigned long long)c->memory_bytes, MMC_PAGE_SIZE);
  if (c->reservation_bytes > c->memory_bytes)
    return mmc_fail(err, MMC_EINVAL, "sched.mem.min (reservation) %llu exceeds memory %llu bytes",
                    (unsigned long long)c->reservation_bytes, (unsigned long long)c->memory_bytes);
  if (c->limit_bytes && c->limit_bytes < c->reservation_bytes)
    return mmc_fail(err, MMC_EINVAL,
                    "sched.mem.max (limit) %llu is below sched.mem.min (reservation) %llu bytes",
                    (unsigned long long)c->limit_bytes, (unsigned long long)c->reservation_bytes);
  if (c->shares <= 0 && c->shares != MMC_SHARES_LOW && c->shares != MMC_SHARES_NORMAL &&
      c->shares != MMC_SHARES_HIGH)
    return mmc_fail(err, MMC_EINVAL,
                    "sched.mem.shares %lld: use a positive number or MMC_SHARES_LOW/NORMAL/HIGH",
                    (long long)c->shares);
  if (c->maxmemctl_bytes < -1)
    return mmc_fail(err, MMC_EINVAL, "sched.mem.maxmemctl %lld: use -1 (unset) or bytes >= 0",
                    (long long)c->maxmemctl_bytes);
  uint64_t all = h->nnodes >= 64 ? UINT64_MAX : (1ull << h->nnodes) - 1;
  if (c->node_affinity & ~all)
    return mmc_fail(err, MMC_ENOENT,
                    "numa.nodeAffinity 0x%llx names node %d; the host has nodes 0..%u",
                    (unsigned long long)c->node_affinity, __builtin_ctzll(c->node_affinity & ~all),
                    h->nnodes - 1);
  bool mem_ok = false;
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (h->pools[n] && (!c->node_affinity || (c->node_affinity & (1ull << n))))
      mem_ok = true;
  if (!mem_ok)
    return mmc_fail(err, MMC_EINVAL, "numa.nodeAffinity 0x%llx contains no node with memory",
                    (unsigned long long)c->node_affinity);
  /* NUMA-9 confines vCPUs too: they must be able to run somewhere, with or
   * without placement (memory-only nodes: KNL MCDRAM, CXL expanders). */
  uint64_t cpu_nodes = 0;
  for (uint32_t n = 0; n < h->nnodes && n < 64; n++)
    if (h->nodes[n].ncpus)
      cpu_nodes |= 1ull << n;
  if (c->node_affinity && !(c->node_affinity & cpu_nodes))
    return mmc_fail(err, MMC_EINVAL,
                    "numa.nodeAffinity 0x%llx names only memory-only nodes (no CPUs), where no "
                    "vCPU can run; include a node with CPUs (mask 0x%llx)",
                    (unsigned long long)c->node_affinity, (unsigned long long)cpu_nodes);
  return 0;
}

static uint64_t pages_up(uint64_t bytes) {
  return (bytes + MMC_PAGE_SIZE - 1) / MMC_PAGE_SIZE;
}

static int admit(ref_host_t *h, uint64_t add_pages, uint64_t old_pages, mmc_error_t *err) {
  ref_mem_t *m = mem_of(h);
  uint64_t others = REF_TWIN(ALLOC1_RESERVATIONS_NOT_SUMMED) ? 0 : m->reserved_pages - old_pages;
  if (others + add_pages <= m->capacity_pages)
    return 0;
  return mmc_fail(err, MMC_EADMISSION,
                  "admission control: reservation %llu MB + %llu MB reserved by running VMs "
                  "exceeds host memory %llu MB",
                  (unsigned long long)(add_pages * MMC_PAGE_SIZE / MMC_MIB),
                  (unsigned long long)(others * MMC_PAGE_SIZE / MMC_MIB),
                  (unsigned long long)(m->capacity_pages * MMC_PAGE_SIZE / MMC_MIB));
}

/* ---------------------------------------------------------------- power on */

static uint32_t demand_default(ref_host_t *h) {
  return (uint32_t)ref_set(h, REF_SET_REF_VCPU_DEMAND_DEFAULT);
}

static int vm_alloc(ref_host_t *h, const mmc_vm_config_t *c, ref_vm_t **out, mmc_error_t *err) {
  ref_vm_t *vm = calloc(1, sizeof *vm);
  mmc_vcpu_t *vcpus = calloc(c->vcpus, sizeof *vcpus);
  char *salt = c->salt ? strdup(c->salt) : NULL;
  if (!vm || !vcpus || (c->salt && !salt)) {
    free(vm);
    free(vcpus);
    free(salt);
    return mmc_fail(err, MMC_ENOMEM, "vm_power_on: out of memory");
  }
  vm->vcpus = vcpus;
  vm->salt = salt;
  vm->cfg = *c;
  atomic_init(&vm->affinity, c->node_affinity);
  snprintf(vm->name, sizeof vm->name, "%s", c->name ? c->name : "");
  vm->cfg.name = c->name ? vm->name : NULL;
  vm->cfg.salt = vm->salt;
  vm->npages = c->memory_bytes / MMC_PAGE_SIZE;
  vm->reserved_pages = pages_up(c->reservation_bytes);
  *out = vm;
  return 0;
}

static void vm_free(ref_vm_t *vm) {
  free(vm->vcpus);
  free(vm->salt);
  free(vm);
}

static int place(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  ref_mem_t *m = mem_of(h);
  const mmc_vm_config_t *c = &vm->cfg;
  placement_request_t r = {
      .vcpus = c->vcpus,
      .mem_pages = vm->npages,
      .affinity = c->node_affinity,
      .vcpu_demand = demand_default(h),
      .vcpu_min = c->vcpu_min ? c->vcpu_min : ref_vm_defaults.vcpu_min,
      .max_per_vnode = c->max_per_vnode ? c->max_per_vnode : ref_vm_defaults.max_per_vnode,
      .exact_sets_max = (uint64_t)ref_set(h, REF_SET_REF_PLACEMENT_EXACT_SETS)};
  vm->vnuma_nodes = placement_vnuma_nodes(r.vcpus, r.vcpu_min, r.max_per_vnode);
  if (!ref_set(h, REF_SET_NUMA_REBALANCE_ENABLE) && !REF_TWIN(NUMA8_ENABLE_IGNORED_AT_POWER_ON)) {
    vm->placed = false; /* NUMA-8: no home; memory round robin, vCPUs unbound */
    vm->nclients = 0;
    return 0;
  }
  placement_decision_t d;
  ref_lock(&m->place_lock, REF_LC_PLACE);
  int rc = placement_decide(&m->place, &r, &d, err);
  if (rc == 0)
    placement_commit(&m->place, &d, r.vcpu_demand, +1);
  ref_unlock(&m->place_lock, REF_LC_PLACE);
  if (rc)
    return rc;
  vm->placed = true;
  vm->nclients = d.nclients;
  for (uint32_t i = 0; i < d.nclients; i++) {
    atomic_init(&vm->client[i].home, d.client[i].node);
#ifdef REF_TWINS
    vm->client[i].twin_first_home = d.client[i].node;
    vm->client[i].twin_shown_home = REF_NO_NODE;
#endif
    vm->client[i].first_vcpu = d.client[i].first_vcpu;
    vm->client[i].nvcpus = d.client[i].nvcpus;
    vm->client[i].first_gpfn = d.client[i].first_gpfn;
    vm->client[i].npages = d.client[i].npages;
    for (uint32_t v = 0; v < d.client[i].nvcpus; v++)
      vm->vcpus[d.client[i].first_vcpu + v].client = i;
  }
  return 0;
}

/* Remove the VM's load from the placement aggregates. */
static void unplace(ref_host_t *h, ref_vm_t *vm) {
  if (!vm->placed)
    return;
  ref_mem_t *m = mem_of(h);
  ref_lock(&m->place_lock, REF_LC_PLACE);
  for (uint32_t i = 0; i < vm->nclients; i++)
    placement_add(&m->place, atomic_load(&vm->client[i].home), 0, -(int64_t)vm->client[i].npages);
  for (uint32_t v = 0; v < vm->cfg.vcpus; v++)
    placement_add(&m->place, atomic_load(&vm->client[vm->vcpus[v].client].home),
                  -(int64_t)vm->vcpus[v].demand, 0);
  ref_unlock(&m->place_lock, REF_LC_PLACE);
}

static int table_slot(ref_mem_t *m, mmc_error_t *err) {
  if (m->next_id - 1 < m->cap)
    return 0;
  size_t cap = m->cap ? m->cap * 2 : 64;
  ref_vm_t **v = realloc(m->vms, cap * sizeof *v);
  if (!v)
    return mmc_fail(err, MMC_ENOMEM, "vm_power_on: out of memory for the VM table");
  memset(v + m->cap, 0, (cap - m->cap) * sizeof *v);
  m->vms = v;
  m->cap = cap;
  return 0;
}

static void emit_power_on(ref_host_t *h, ref_vm_t *vm) {
  ref_event_emit(h, (mmc_event_t){.type = MMC_EV_POWER_ON,
                                  .vm = vm->id,
                                  .node_from = -1,
                                  .node_to = -1,
                                  .count = vm->npages});
  for (uint32_t i = 0; i < vm->nclients; i++)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_PLACEMENT,
                                    .vm = vm->id,
                                    .node_from = -1,
                                    .node_to = (int32_t)atomic_load(&vm->client[i].home),
                                    .client = i,
                                    .count = vm->client[i].npages,
                                    .reason = "initial"});
}

static void mechs_vm_off(ref_host_t *h, ref_vm_t *vm, unsigned upto) {
  for (unsigned i = upto; i-- > 0;)
    if (ref_mechs[i] && ref_mechs[i]->vm_off)
      ref_mechs[i]->vm_off(h, vm);
}

static int mechs_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  for (unsigned i = 0; i < REF_MECH_COUNT; i++) {
    int rc;
    if (ref_mechs[i] && ref_mechs[i]->vm_on && (rc = ref_mechs[i]->vm_on(h, vm, err))) {
      mechs_vm_off(h, vm, i);
      return rc;
    }
  }
  return 0;
}

int ref_vm_power_on(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out, mmc_error_t *err) {
  ref_mem_t *m = mem_of(h);
  ref_vm_t *vm = NULL;
  ref_host_lock(h);
  int rc = check_config(h, cfg, err);
  if (rc == 0)
    rc = admit(h, pages_up(cfg->reservation_bytes), 0, err);
  if (rc == 0)
    rc = table_slot(m, err);
  if (rc == 0)
    rc = vm_alloc(h, cfg, &vm, err);
  if (rc)
    goto out_unlock;
  vm->id = m->next_id;
  for (uint32_t v = 0; v < cfg->vcpus; v++)
    vm->vcpus[v] = (mmc_vcpu_t){.h = h, .vm = vm, .index = v, .demand = demand_default(h)};
  if ((rc = place(h, vm, err)))
    goto out_free;
  rc = ref_pmap_create(vm->npages, cfg->vcpus, h->pool_bases, &fault_ops, vm, &vm->pmap, err);
  if (rc)
    goto out_unplace;
  for (uint32_t v = 0; v < cfg->vcpus; v++)
    vm->vcpus[v].q = ref_pmap_vcpu(vm->pmap, v);
  if ((rc = mechs_vm_on(h, vm, err)))
    goto out_pmap;
  m->vms[vm->id - 1] = vm;
  m->next_id++;
  m->nvms++;
  m->reserved_pages += vm->reserved_pages;
  emit_power_on(h, vm);
  if (out)
    *out = vm->id;
  ref_host_unlock(h);
  return 0;
out_pmap:
  ref_pmap_destroy(vm->pmap);
out_unplace:
  unplace(h, vm);
out_free:
  vm_free(vm);
out_unlock:
  ref_host_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- power off */

/* Private frames are given back in bulk: one punch per run of contiguous
 * frames (ref_frame_free_many) instead of one per page, which made the
 * power-off of a large VM cost a system call per page. */
enum { release_batch = 4096 };

typedef struct release_walk {
  ref_host_t *h;
  ref_vm_t *vm;
  uint64_t freed;
  uint32_t node; /* of the frames in batch */
  size_t nbatch;
  uint64_t *batch; /* NULL when out of memory: frames then go one by one */
} release_walk_t;

static void release_flush(release_walk_t *w) {
  if (w->nbatch == 0)
    return;
  ref_frame_free_many(w->h->pools[w->node], w->batch, w->nbatch);
  atomic_fetch_sub_explicit(&w->vm->pages_per_node[w->node], w->nbatch, memory_order_relaxed);
  w->freed += w->nbatch;
  w->nbatch = 0;
}

static void release_private(release_walk_t *w, uint32_t n, uint64_t frame) {
  if (!w->batch) {
    ref_frame_free(w->h->pools[n], frame);
    atomic_fetch_sub_explicit(&w->vm->pages_per_node[n], 1, memory_order_relaxed);
    w->freed++;
    return;
  }
  if (w->nbatch == release_batch || (w->nbatch && n != w->node))
    release_flush(w);
  w->node = n;
  w->batch[w->nbatch++] = frame;
}

static void release_page(void *ctx, uint64_t g, uint64_t pte) {
  release_walk_t *w = ctx;
  unsigned st = ref_pte_state(pte);
  if (st == REF_PTE_PRIVATE) {
    release_private(w, ref_pte_node(pte), ref_pte_frame(pte));
    return;
  }
  for (unsigned i = 0; i < REF_MECH_COUNT; i++) {
    const ref_mech_t *mc = ref_mechs[i];
    if (mc && mc->release && (mc->release_states & REF_STATE_BIT(st))) {
      mc->release(w->h, w->vm, g, pte);
      return;
    }
  }
}

/* Free every frame of the VM: private frames here, every other state by the
 * mechanism that owns it (shared frames, swap slots, ...). Only the written
 * parts of the page map are walked. Returns the private frames freed. */
static uint64_t release_memory(ref_host_t *h, ref_vm_t *vm) {
  release_walk_t w = {.h = h, .vm = vm, .batch = malloc(release_batch * sizeof(uint64_t))};
  ref_pmap_for_each_populated(vm->pmap, release_page, &w);
  release_flush(&w);
  free(w.batch);
  return w.freed;
}

/* ---------------------------------------------------------------- debug checks */

/* The VM's entries counted by state, and by node for those with a frame. */
typedef struct census {
  uint64_t state[REF_PTE_STATE_MASK + 1];
  uint64_t node[MMC_MAX_NODES];
} census_t;

static void census_visit(void *ctx, uint64_t gpfn, uint64_t pte) {
  census_t *c = ctx;
  unsigned st = ref_pte_state(pte);
  c->state[st]++;
  if (st == REF_PTE_PRIVATE || st == REF_PTE_SHARED)
    c->node[ref_pte_node(pte)]++;
}

/* A VM at rest (no vCPU entered): its page map is valid and idle, and the
 * counters the mechanisms report agree with its entries: pages per node
 * (vm.c), shared (share.c), ballooned (balloon.c), swapped and compressed
 * (swap.c). One walk of the written part of the map, as power-off makes. */
static bool vm_is_valid(ref_host_t *h, ref_vm_t *vm) {
  census_t c = {0};
  ref_pmap_for_each_populated(vm->pmap, census_visit, &c);
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (c.node[n] != atomic_load(&vm->pages_per_node[n]))
      return false;
  mmc_vm_stats_t st = {0};
  for (unsigned i = 0; i < REF_MECH_COUNT; i++)
    if (ref_mechs[i] && ref_mechs[i]->vm_stats)
      ref_mechs[i]->vm_stats(h, vm, &st);
  return ref_pmap_is_valid(vm->pmap, true) && st.shared_pages == c.state[REF_PTE_SHARED] &&
         st.ballooned_pages == c.state[REF_PTE_BALLOONED] &&
         st.swapped_pages == c.state[REF_PTE_SWAPPED] &&
         st.compressed_pages == c.state[REF_PTE_COMPRESSED];
}

static bool pools_are_valid(ref_host_t *h) {
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (h->pools[n] && !ref_pool_is_valid(h->pools[n]))
      return false;
  return true;
}

/* After release_memory: no frame of any node is the VM's any more. */
static bool vm_holds_nothing(const ref_host_t *h, const ref_vm_t *vm) {
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (atomic_load(&vm->pages_per_node[n]))
      return false;
  return true;
}

static void vm_destroy(ref_host_t *h, ref_vm_t *vm) {
  ref_mem_t *m = mem_of(h);
  ref_assert(atomic_load(&vm->nentered) == 0);
  ref_assert_walk(vm_is_valid(h, vm));
  mechs_vm_off(h, vm, REF_MECH_COUNT);
  uint64_t freed = release_memory(h, vm);
  ref_assert(vm_holds_nothing(h, vm));
  ref_assert_walk(pools_are_valid(h));
  ref_pmap_destroy(vm->pmap);
  unplace(h, vm);
  m->reserved_pages -= vm->reserved_pages;
  m->vms[vm->id - 1] = NULL;
  m->nvms--;
  ref_event_emit(
      h,
      (mmc_event_t){
          .type = MMC_EV_POWER_OFF, .vm = vm->id, .node_from = -1, .node_to = -1, .count = freed});
  vm_free(vm);
}

int ref_vm_power_off(mmc_host_t *h, mmc_vm_id_t id, mmc_error_t *err) {
  ref_vm_t *vm;
  ref_host_lock(h);
  int rc = vm_find(h, id, &vm, err);
  if (rc == 0 && atomic_load(&vm->nentered))
    rc = mmc_fail(err, MMC_EBUSY, "vm_power_off: VM %u still has %u vCPUs entered", id,
                  atomic_load(&vm->nentered));
  if (rc == 0)
    vm_destroy(h, vm);
  ref_host_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- vCPU binding */

/* The thread's affinity before its first enter, restored when its last vCPU
 * exits (stepped mode drives several vCPUs from one thread). */
static _Thread_local uint32_t bind_depth;
static _Thread_local cpu_set_t bind_saved;
static _Thread_local bool bind_saved_ok;

static bool bind_thread(pid_t tid, const mmc_node_t *node) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < node->ncpus; i++)
    if (node->cpus[i] < CPU_SETSIZE)
      CPU_SET(node->cpus[i], &set);
  return sched_setaffinity(tid, sizeof set, &set) == 0;
}

static uint32_t vcpu_node(const ref_vm_t *vm, const mmc_vcpu_t *v) {
  return vm->placed ? atomic_load(&vm->client[v->client].home) : REF_NO_NODE;
}

/* The home a client reports: its real one, or the twin's (twin.h). */
static uint32_t reported_home(const ref_vm_t *vm, uint32_t i) {
#ifdef REF_TWINS
  if (vm->client[i].twin_shown_home != REF_NO_NODE)
    return vm->client[i].twin_shown_home;
#endif
  return atomic_load(&vm->client[i].home);
}

/* The calling thread's CPU time (0 when unreadable: then nothing before
 * the first accounting or after the last is counted, as without it). */
static uint64_t thread_cpu_now(void) {
  struct timespec ts;
  return clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 ? mmc_timespec_ns(&ts) : 0;
}

int ref_vcpu_enter(mmc_host_t *h, mmc_vm_id_t id, uint32_t index, mmc_vcpu_t **out,
                   mmc_error_t *err) {
  ref_vm_t *vm;
  ref_host_lock(h);
  int rc = vm_find(h, id, &vm, err);
  if (rc)
    goto out;
  if (index >= vm->cfg.vcpus) {
    rc = mmc_fail(err, MMC_ERANGE, "vcpu_enter: vCPU %u is out of range 0..%u of VM %u", index,
                  vm->cfg.vcpus - 1, id);
    goto out;
  }
  mmc_vcpu_t *v = &vm->vcpus[index];
  bool expected = false;
  if (!atomic_compare_exchange_strong(&v->entered, &expected, true)) {
    rc = mmc_fail(err, MMC_EBUSY, "vcpu_enter: vCPU %u of VM %u is already entered", index, id);
    goto out;
  }
  v->tid = gettid();
  v->enter_cpu_ns = thread_cpu_now();
  v->binding_applied = false;
  uint32_t node = vcpu_node(vm, v);
  if (node != REF_NO_NODE && h->nodes[node].real && h->nodes[node].ncpus) {
    if (bind_depth == 0)
      bind_saved_ok = sched_getaffinity(0, sizeof bind_saved, &bind_saved) == 0;
    v->binding_applied = bind_thread(0, &h->nodes[node]);
    if (!v->binding_applied)
      ref_event_emit(h, (mmc_event_t){.type = MMC_EV_ERROR,
                                      .vm = id,
                                      .node_from = -1,
                                      .node_to = (int32_t)node,
                                      .client = v->client,
                                      .reason = "sched_setaffinity failed"});
  }
  bind_depth++;
  atomic_fetch_add(&vm->nentered, 1);
  *out = v;
out:
  ref_host_unlock(h);
  return rc;
}

void ref_vcpu_exit(mmc_vcpu_t *v) {
  if (!v || !atomic_load(&v->entered))
    return;
  ref_pmap_vcpu_offline(v->q);
  if (bind_depth && --bind_depth == 0 && bind_saved_ok)
    sched_setaffinity(0, sizeof bind_saved, &bind_saved);
  atomic_store(&v->exit_cpu_ns, thread_cpu_now());
  atomic_store(&v->exit_tid, v->tid);
  atomic_store(&v->entered, false); /* after the exit record: readers see both */
  atomic_fetch_sub(&v->vm->nentered, 1);
}

void *ref_vcpu_page(mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err) {
  if (!v || !atomic_load_explicit(&v->entered, memory_order_relaxed)) {
    mmc_fail(err, MMC_ESTATE, "page: the vCPU handle is not entered");
    return NULL;
  }
  if (gpfn >= v->vm->npages) {
    mmc_fail(err, MMC_ERANGE, "page: gpfn %llu is out of range 0..%llu of VM %u",
             (unsigned long long)gpfn, (unsigned long long)(v->vm->npages - 1), v->vm->id);
    return NULL;
  }
  return ref_pmap_page(v->vm->pmap, v->q, gpfn, write, err);
}

void ref_vcpu_quiesce(mmc_vcpu_t *v) {
  if (v && atomic_load_explicit(&v->entered, memory_order_relaxed))
    ref_pmap_quiesce(v->q);
}

void ref_vcpu_set_demand(mmc_vcpu_t *v, uint32_t permille) {
  if (!v)
    return;
  ref_vm_t *vm = v->vm;
  ref_mem_t *m = mem_of(v->h);
  ref_lock(&m->place_lock, REF_LC_PLACE);
  if (vm->placed)
    placement_add(&m->place, vcpu_node(vm, v), (int64_t)permille - (int64_t)v->demand, 0);
  v->demand = permille;
  ref_unlock(&m->place_lock, REF_LC_PLACE);
}

int ref_vcpu_info(mmc_host_t *h, mmc_vm_id_t id, uint32_t index, mmc_vcpu_info_t *out,
                  mmc_error_t *err) {
  ref_vm_t *vm;
  ref_host_lock(h);
  int rc = vm_find(h, id, &vm, err);
  if (rc == 0 && index >= vm->cfg.vcpus)
    rc = mmc_fail(err, MMC_ERANGE, "vcpu_info: vCPU %u is out of range 0..%u of VM %u", index,
                  vm->cfg.vcpus - 1, id);
  if (rc == 0) {
    const mmc_vcpu_t *v = &vm->vcpus[index];
    uint32_t per = (vm->cfg.vcpus + vm->vnuma_nodes - 1) / vm->vnuma_nodes;
    *out = (mmc_vcpu_info_t){.node = vm->placed ? reported_home(vm, v->client) : REF_NO_NODE,
                             .binding_applied = atomic_load(&v->entered) && v->binding_applied,
                             .vnode = index / per};
  }
  ref_host_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- reconfigure */

/* Sum of the demand of client i's vCPUs (place_lock held). */
static int64_t client_demand(const ref_vm_t *vm, uint32_t i) {
  const ref_client_t *cl = &vm->client[i];
  int64_t cpu = 0;
  for (uint32_t v = 0; v < cl->nvcpus; v++)
    cpu += vm->vcpus[cl->first_vcpu + v].demand;
  return cpu;
}

/* Client i's new home is `to` (or, when `to` is REF_NO_NODE, the least loaded
 * node of `mask`): move its load, rebind its entered vCPUs on real nodes,
 * count and report the change. New memory of the client comes from `to`
 * from now on (NUMA-7); pages already placed stay where they are. */
static void move_client(ref_host_t *h, ref_vm_t *vm, uint32_t i, uint32_t to, uint64_t mask,
                        const char *reason) {
  ref_mem_t *m = mem_of(h);
  ref_client_t *cl = &vm->client[i];
  uint32_t from = atomic_load(&cl->home);
  ref_lock(&m->place_lock, REF_LC_PLACE); /* guards the vCPUs' demand too */
  int64_t cpu = client_demand(vm, i);
  placement_add(&m->place, from, -cpu, -(int64_t)cl->npages);
  if (to == REF_NO_NODE)
    to = placement_pick_node(&m->place, mask, cpu, (int64_t)cl->npages);
  placement_add(&m->place, to, cpu, (int64_t)cl->npages);
  atomic_store_explicit(&cl->home, to, memory_order_release);
  ref_unlock(&m->place_lock, REF_LC_PLACE);
  atomic_fetch_add(&vm->home_changes, 1);
  for (uint32_t v = 0; v < cl->nvcpus; v++) {
    mmc_vcpu_t *vc = &vm->vcpus[cl->first_vcpu + v];
    if (atomic_load(&vc->entered) && h->nodes[to].real && h->nodes[to].ncpus)
      vc->binding_applied = bind_thread(vc->tid, &h->nodes[to]);
    else
      vc->binding_applied = false;
  }
  mmc_event_t ev = {.type = MMC_EV_HOME_CHANGE,
                    .vm = vm->id,
                    .node_from = (int32_t)from,
                    .node_to = (int32_t)to,
                    .client = i};
  snprintf(ev.reason, sizeof ev.reason, "%s", reason);
  ref_event_emit(h, ev);
}

/* ---------------------------------------------------------------- for policies */

#ifdef REF_TWINS
void ref_vm_twin_report_home(ref_host_t *h, mmc_vm_id_t id, uint32_t client, uint32_t node,
                             const char *reason) {
  ref_vm_t *vm = ref_vm_get(h, id);
  if (!vm || !vm->placed || client >= vm->nclients)
    return;
  mmc_event_t ev = {.type = MMC_EV_HOME_CHANGE,
                    .vm = id,
                    .node_from = (int32_t)reported_home(vm, client),
                    .node_to = (int32_t)node,
                    .client = client};
  snprintf(ev.reason, sizeof ev.reason, "%s", reason);
  vm->client[client].twin_shown_home = node;
  atomic_fetch_add(&vm->home_changes, 1);
  ref_event_emit(h, ev);
}
#endif

void ref_vm_for_each_client(ref_host_t *h, ref_client_fn fn, void *ctx) {
  ref_mem_t *m = mem_of(h);
  ref_assert(ref_lock_held(REF_LC_HOST));
  for (size_t k = 0; k < m->cap; k++) {
    ref_vm_t *vm = m->vms[k];
    for (uint32_t i = 0; vm && i < vm->nclients; i++) {
      ref_client_view_t c = {.vm = vm->id,
                             .client = i,
                             .home = reported_home(vm, i),
                             .vcpus = vm->client[i].nvcpus,
                             .npages = vm->client[i].npages,
                             .affinity = atomic_load(&vm->affinity),
                             .reserved_pages = vm->reserved_pages,
                             .vm_pages_per_node = vm->pages_per_node,
                             .home_changes = atomic_load(&vm->home_changes)};
      ref_lock(&m->place_lock, REF_LC_PLACE);
      c.demand_permille = (uint64_t)client_demand(vm, i);
      ref_unlock(&m->place_lock, REF_LC_PLACE);
      fn(ctx, &c);
    }
  }
}

int ref_vm_set_home(ref_host_t *h, mmc_vm_id_t id, uint32_t client, uint32_t node,
                    const char *reason, mmc_error_t *err) {
  ref_vm_t *vm;
  ref_assert(ref_lock_held(REF_LC_HOST));
  int rc = vm_find(h, id, &vm, err);
  if (rc)
    return rc;
  if (!vm->placed)
    return mmc_fail(err, MMC_ESTATE, "set_home: VM %u has no home (placement was disabled)", id);
  if (client >= vm->nclients)
    return mmc_fail(err, MMC_ERANGE, "set_home: client %u is out of range 0..%u of VM %u", client,
                    vm->nclients - 1, id);
  if (node >= h->nnodes || mem_of(h)->place.node[node].ncores == 0 || !node_allowed(vm, node))
    return mmc_fail(err, MMC_EINVAL,
                    "set_home: node %u cannot be VM %u's home (no such node, no CPUs, or "
                    "outside its affinity 0x%llx)",
                    node, id, (unsigned long long)atomic_load(&vm->affinity));
  if (atomic_load(&vm->client[client].home) != node)
    move_client(h, vm, client, node, 0, reason ? reason : "");
  return 0;
}

static int check_reconfig(ref_host_t *h, const ref_vm_t *vm, const mmc_vm_config_t *c,
                          mmc_error_t *err) {
  int rc = check_config(h, c, err);
  if (rc)
    return rc;
  bool same_name = (!c->name && !vm->cfg.name) ||
                   (c->name && vm->cfg.name && strcmp(c->name, vm->cfg.name) == 0);
  if (!same_name || c->vcpus != vm->cfg.vcpus || c->memory_bytes != vm->cfg.memory_bytes)
    return mmc_fail(err, MMC_EINVAL,
                    "vm_reconfigure: name, vcpus and memory_bytes cannot change (VM %u)", vm->id);
  if (vm->placed && c->node_affinity) {
    ref_mem_t *m = mem_of(h);
    if (placement_pick_node(&m->place, c->node_affinity, 0, 0) == UINT32_MAX)
      return mmc_fail(err, MMC_EINVAL,
                      "numa.nodeAffinity 0x%llx has no node with CPUs for the VM's vCPUs",
                      (unsigned long long)c->node_affinity);
  }
  return admit(h, pages_up(c->reservation_bytes), vm->reserved_pages, err);
}

static int apply_reconfig(ref_host_t *h, ref_vm_t *vm, const mmc_vm_config_t *c, mmc_error_t *err) {
  char *salt = NULL;
  if (c->salt && !(salt = strdup(c->salt)))
    return mmc_fail(err, MMC_ENOMEM, "vm_reconfigure: out of memory");
  ref_mem_t *m = mem_of(h);
  uint64_t res = pages_up(c->reservation_bytes);
  m->reserved_pages = m->reserved_pages - vm->reserved_pages + res;
  vm->reserved_pages = res;
  free(vm->salt);
  vm->salt = salt;
  vm->cfg = *c;
  vm->cfg.name = c->name ? vm->name : NULL;
  vm->cfg.salt = vm->salt;
  atomic_store(&vm->affinity, c->node_affinity);
  for (uint32_t i = 0; vm->placed && i < vm->nclients && !REF_TWIN(NUMA9_RECONFIGURE_KEEPS_HOME);
       i++)
    if (!node_allowed(vm, atomic_load(&vm->client[i].home)))
      move_client(h, vm, i, REF_NO_NODE, c->node_affinity, "affinity");
  return 0;
}

int ref_vm_reconfigure(mmc_host_t *h, mmc_vm_id_t id, const mmc_vm_config_t *cfg,
                       mmc_error_t *err) {
  ref_vm_t *vm;
  ref_host_lock(h);
  int rc = vm_find(h, id, &vm, err);
  if (rc == 0)
    rc = check_reconfig(h, vm, cfg, err);
  if (rc == 0)
    rc = apply_reconfig(h, vm, cfg, err);
  if (rc == 0)
    ref_event_emit(
        h, (mmc_event_t){.type = MMC_EV_RECONFIGURE, .vm = id, .node_from = -1, .node_to = -1});
  for (unsigned i = 0; rc == 0 && i < REF_MECH_COUNT; i++)
    if (ref_mechs[i] && ref_mechs[i]->vm_reconfigured)
      ref_mechs[i]->vm_reconfigured(h, vm);
  ref_host_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- stats */

int ref_vm_stats(mmc_host_t *h, mmc_vm_id_t id, mmc_vm_stats_t *out, mmc_error_t *err) {
  ref_vm_t *vm;
  if (!out)
    return mmc_fail(err, MMC_EINVAL, "vm_stats: output pointer is NULL");
  ref_host_lock(h);
  int rc = vm_find(h, id, &vm, err);
  if (rc == 0) {
    memset(out, 0, sizeof *out);
    out->configured_pages = vm->npages;
    out->nclients = vm->nclients;
    out->home_node = vm->placed ? reported_home(vm, 0) : REF_NO_NODE;
    for (uint32_t i = 0; i < MMC_MAX_NODES; i++)
      out->client_home[i] = i < vm->nclients ? reported_home(vm, i) : REF_NO_NODE;
    out->vnuma_nodes = vm->vnuma_nodes;
    for (uint32_t n = 0; n < h->nnodes; n++) {
      out->pages_per_node[n] = atomic_load(&vm->pages_per_node[n]);
      out->resident_pages += out->pages_per_node[n];
    }
    if (REF_TWIN(NUMA1_FIRST_TOUCH_NEXT_NODE) && vm->placed) { /* twin: all "at home" */
      memset(out->pages_per_node, 0, sizeof out->pages_per_node);
      out->pages_per_node[out->home_node] = out->resident_pages;
    }
    out->home_changes = atomic_load(&vm->home_changes);
    out->pages_migrated = atomic_load(&vm->pages_migrated);
    out->remote_fallback_pages = atomic_load(&vm->remote_fallback);
    for (unsigned i = 0; i < REF_MECH_COUNT; i++)
      if (ref_mechs[i] && ref_mechs[i]->vm_stats)
        ref_mechs[i]->vm_stats(h, vm, out);
  }
  ref_host_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- move_range */

typedef struct move_ctx {
  ref_host_t *h;
  ref_vm_t *vm;
  uint32_t node;
} move_ctx_t;

static bool move_eligible(void *ctx, uint64_t gpfn, uint64_t pte) {
  move_ctx_t *c = ctx;
  return ref_pte_state(pte) == REF_PTE_PRIVATE && ref_pte_node(pte) != c->node;
}

static bool move_transform(void *ctx, uint64_t gpfn, uint64_t old_pte, uint64_t *new_pte) {
  move_ctx_t *c = ctx;
  if (ref_pte_state(old_pte) != REF_PTE_PRIVATE)
    return false;
  uint64_t f = ref_frame_alloc(c->h->pools[c->node]);
  if (f == REF_NO_FRAME)
    return false;
  const uint8_t *src =
      c->h->pool_bases[ref_pte_node(old_pte)] + ref_pte_frame(old_pte) * MMC_PAGE_SIZE;
  memcpy(c->h->pool_bases[c->node] + f * MMC_PAGE_SIZE, src, MMC_PAGE_SIZE);
  *new_pte = ref_pte_make(REF_PTE_PRIVATE, c->node, f);
  return true;
}

static void move_release(void *ctx, uint64_t gpfn, uint64_t old_pte) {
  move_ctx_t *c = ctx;
  uint32_t from = ref_pte_node(old_pte);
  ref_frame_free(c->h->pools[from], ref_pte_frame(old_pte));
  atomic_fetch_sub_explicit(&c->vm->pages_per_node[from], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->vm->pages_per_node[c->node], 1, memory_order_relaxed);
}

static const ref_remap_ops_t move_ops = {
    .transform = move_transform, .release = move_release, .eligible = move_eligible};

static int check_move(ref_host_t *h, ref_vm_t *vm, uint64_t gpfn, uint64_t count, uint32_t node,
                      mmc_error_t *err) {
  if (node >= h->nnodes)
    return mmc_fail(err, MMC_ENOENT, "move_range: node %u does not exist (nodes 0..%u)", node,
                    h->nnodes - 1);
  if (!h->pools[node])
    return mmc_fail(err, MMC_EINVAL, "move_range: node %u has no memory", node);
  if (gpfn >= vm->npages || count > vm->npages - gpfn)
    return mmc_fail(err, MMC_ERANGE, "move_range: pages %llu+%llu exceed VM %u's 0..%llu",
                    (unsigned long long)gpfn, (unsigned long long)count, vm->id,
                    (unsigned long long)(vm->npages - 1));
  return 0;
}

int ref_move_range(mmc_host_t *h, mmc_vm_id_t id, uint64_t gpfn, uint64_t count, uint32_t node,
                   uint64_t *moved, mmc_error_t *err) {
  ref_vm_t *vm;
  uint64_t total = 0;
  ref_host_lock(h);
  int rc = vm_find(h, id, &vm, err);
  if (rc == 0)
    rc = check_move(h, vm, gpfn, count, node, err);
  uint64_t batch = (uint64_t)ref_set(h, REF_SET_REF_MOVE_BATCH_PAGES);
  int64_t retries = ref_set(h, REF_SET_REF_MOVE_RETRIES);
  uint64_t *gpfns = rc ? NULL : malloc(batch * sizeof *gpfns);
  if (rc == 0 && !gpfns)
    rc = mmc_fail(err, MMC_ENOMEM, "move_range: out of memory");
  move_ctx_t ctx = {.h = h, .vm = vm, .node = node};
  unsigned slow_pct = ref_slow_copy_pct(); /* test knob (ref.h) */
  for (uint64_t at = 0; rc == 0 && at < count; at += batch) {
    size_t n = 0;
    for (uint64_t g = gpfn + at; g < gpfn + count && n < batch; g++)
      gpfns[n++] = g;
    uint64_t done = 0;
    ref_remap_result_t res = {.cancelled = 1};
    /* The batch's copies are timed whole: a clock read per 4 KB page would
     * cost a sizeable share of the copy itself. */
    uint64_t cpu0 = slow_pct ? ref_thread_cpu_ns() : 0;
    /* Pages a vCPU used while marked are cancelled, not moved: try again
     * (already moved ones are no longer eligible). */
    for (int64_t a = 0; a <= retries && res.cancelled; a++) {
      ref_pmap_remap(vm->pmap, gpfns, n, &move_ops, &ctx, &res);
      done += res.remapped;
    }
    if (slow_pct)
      ref_slow_copy(slow_pct, ref_thread_cpu_ns() - cpu0);
    total += done;
    if (done)
      ref_event_emit(h, (mmc_event_t){.type = MMC_EV_MIGRATION_BATCH,
                                      .vm = id,
                                      .node_from = -1,
                                      .node_to = (int32_t)node,
                                      .count = done,
                                      .reason = "move_range"});
  }
  free(gpfns);
  if (rc == 0)
    atomic_fetch_add(&vm->pages_migrated, total);
  ref_host_unlock(h);
  if (moved)
    *moved = total;
  return rc;
}
