/*
 * test_linux_impl.c — libmmlinux.so through the contract, as the suite
 * loads it (dlopen + mmcert_impl), on this machine's node 0: capabilities
 * and why_not; what is refused (stepped clock, emulated nodes, salts,
 * reservations, unsupported settings); the VM lifecycle and the vCPU side
 * (pointers are base + offset); the balloon (frames gone by mincore); and,
 * as root where the kernel has them, KSM merging two VMs (frame identity by
 * pagemap PFNs, copy-on-write), host swapping of a host over its memory
 * (contents intact, /proc/swaps clean afterwards), and the working-set
 * window. Each probe is the kernel's, never the implementation's counters.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "machine_state.h"

#include "mmcert/impl.h"
#include "test_util.h"

#define MIB (1024ull * 1024ull)

static const mmc_impl_t *im;
static uint32_t node0_cpus[CPU_SETSIZE];
static mmc_node_t node0;
static mmc_topology_t topo;

/* node 0's CPUs from sysfs ("0-3,8"), or every online CPU. */
static uint32_t read_cpus(uint32_t *out) {
  char buf[1024] = "";
  FILE *f = fopen("/sys/devices/system/node/node0/cpulist", "r");
  if (!f || !fgets(buf, sizeof buf, f))
    snprintf(buf, sizeof buf, "0-%ld", sysconf(_SC_NPROCESSORS_ONLN) - 1);
  if (f)
    fclose(f);
  uint32_t n = 0;
  for (char *s = buf; *s && *s != '\n';) {
    unsigned a, b;
    int k = 0;
    if (sscanf(s, "%u-%u%n", &a, &b, &k) == 2 && k)
      for (unsigned c = a; c <= b && n < CPU_SETSIZE; c++)
        out[n++] = c;
    else if (sscanf(s, "%u%n", &a, &k) == 1 && k)
      out[n++] = a;
    else
      break;
    s += k + (s[k] == ',');
  }
  return n;
}

static int setup(void **state) {
  (void)state;
  void *dl = dlopen(MMCERT_BUILD_DIR "/libmmlinux.so", RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return -1;
  }
  im = dlsym(dl, MMCERT_IMPL_SYMBOL);
  uint32_t n = read_cpus(node0_cpus);
  node0 = (mmc_node_t){.os_index = 0,
                       .memory_bytes = 256 * MIB,
                       .ncpus = n,
                       .cpus = node0_cpus,
                       .ncores = n,
                       .real = true};
  topo = (mmc_topology_t){.nnodes = 1, .nodes = &node0, .ncores = n, .name = "node 0"};
  return im ? 0 : -1;
}

/* The host a test has open: a failed assertion leaves the test without
 * destroying it, and its borrow of the machine's knobs and swap files would
 * stay open for the rest of the process, so every later test's
 * machine_quiet() waited for it and other runs compared knobs it held. */
static mmc_host_t *open_host;

static mmc_host_t *host_with(uint64_t mem, const mmc_setting_value_t *s, size_t ns) {
  node0.memory_bytes = mem;
  mmc_host_config_t cfg = {
      .topology = &topo, .clock = MMC_CLOCK_LIVE, .seed = 1, .settings = s, .nsettings = ns};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  int rc = im->host_create(&cfg, &h, &err);
  if (rc)
    fail_msg("host_create: %s", err.msg);
  open_host = h;
  return h;
}

/* The vCPUs a test entered and has not left: a test that fails or skips
 * (cmocka jumps out of it) leaves them entered, and the host cannot be
 * destroyed under them (ASAN reported the records leaked when the KSM test
 * skipped on a busy ksmd). */
enum { max_open_vcpus = 8 };
static mmc_vcpu_t *open_vcpus[max_open_vcpus];

static void enter_vcpu(mmc_host_t *h, mmc_vm_id_t id, uint32_t index, mmc_vcpu_t **out) {
  mmc_error_t err = {0};
  if (im->vcpu_enter(h, id, index, out, &err))
    fail_msg("vcpu_enter: %s", err.msg);
  for (int i = 0; i < max_open_vcpus; i++)
    if (!open_vcpus[i]) {
      open_vcpus[i] = *out;
      return;
    }
  fail_msg("more than %d vCPUs entered at once", max_open_vcpus);
}

static void exit_vcpu(mmc_vcpu_t *v) {
  for (int i = 0; i < max_open_vcpus; i++)
    if (open_vcpus[i] == v)
      open_vcpus[i] = NULL;
  im->vcpu_exit(v);
}

static void host_done(mmc_host_t *h) {
  for (int i = 0; i < max_open_vcpus; i++)
    if (open_vcpus[i])
      exit_vcpu(open_vcpus[i]);
  im->host_destroy(h);
  open_host = NULL;
}

/* After every test: the host (and vCPUs) a failed or skipped one left open. */
static int close_host(void **state) {
  (void)state;
  if (open_host)
    host_done(open_host);
  return 0;
}

static mmc_vm_id_t power_on(mmc_host_t *h, uint64_t bytes, bool share) {
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.name = "t";
  c.memory_bytes = bytes;
  c.pshare_enable = share;
  mmc_vm_id_t id = 0;
  mmc_error_t err = {0};
  if (im->vm_power_on(h, &c, &id, &err))
    fail_msg("power on: %s", err.msg);
  return id;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* pagemap entry of a pointer (PFN visible to root only). */
static uint64_t pagemap_of(const void *p) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  uint64_t e = 0;
  if (fd >= 0) {
    if (pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
      e = 0;
    close(fd);
  }
  return e;
}
#define PM_PFN(e) ((e) & ((1ull << 55) - 1))
#define PM_PRESENT(e) ((e) >> 63 & 1)
#define PM_SWAPPED(e) ((e) >> 62 & 1)

static bool can(uint64_t cap) {
  return geteuid() == 0 && (im->capabilities & cap);
}

/* The reason a test of `cap` cannot run here: the implementation's own. */
static const char *why_not_here(uint64_t cap) {
  if (!(im->capabilities & cap) && im->why_not && im->why_not(cap))
    return im->why_not(cap);
  return geteuid() ? "not root: the kernel's daemons and swap need root" : "capability clear";
}

/* ---------------------------------------------------------------- the table */

static void capabilities_and_reasons(void **state) {
  (void)state;
  assert_int_equal(im->abi_version, MMCERT_ABI_VERSION);
  assert_string_equal(im->name, "linux");
  uint64_t must = MMC_CAP_CLOCK_LIVE | MMC_CAP_REAL_NODES_ONLY | MMC_CAP_BALLOON;
  uint64_t never = MMC_CAP_CLOCK_STEPPED | MMC_CAP_PLACEMENT | MMC_CAP_REBALANCE |
                   MMC_CAP_ALLOC_TARGETS | MMC_CAP_MEMSTATE | MMC_CAP_VNUMA |
                   MMC_CAP_NODE_MAPPINGS | MMC_CAP_SALTING | MMC_CAP_FAULT_INJECTION;
  assert_int_equal(im->capabilities & must, must);
  assert_int_equal(im->capabilities & never, 0);
  for (int b = 0; b < 19; b++) {
    uint64_t cap = 1ull << b;
    const char *why = im->why_not(cap);
    if (im->capabilities & cap)
      assert_null(why);
    else if (!why || strlen(why) < 20)
      fail_msg("capability bit %d is clear without a reason", b);
  }
  assert_non_null(strstr(im->why_not(MMC_CAP_SALTING), "Linux has no"));
  if (geteuid() == 0 && access("/sys/kernel/mm/ksm/run", F_OK) == 0)
    assert_true(im->capabilities & MMC_CAP_SHARING);
  if (geteuid() != 0)
    assert_non_null(strstr(im->why_not(MMC_CAP_SHARING), "root"));
}

static void refusals(void **state) {
  (void)state;
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  mmc_host_config_t cfg = {.topology = &topo, .clock = MMC_CLOCK_STEPPED};
  node0.memory_bytes = 64 * MIB;
  assert_int_equal(im->host_create(&cfg, &h, &err), MMC_ENOTSUP);
  assert_non_null(strstr(err.msg, "real time"));
  cfg.clock = MMC_CLOCK_LIVE;
  node0.real = false;
  assert_int_equal(im->host_create(&cfg, &h, &err), MMC_ENOTSUP);
  assert_non_null(strstr(err.msg, "own nodes"));
  node0.real = true;
  node0.os_index = 63;
  assert_int_equal(im->host_create(&cfg, &h, &err), MMC_ENOTSUP);
  node0.os_index = 0;
  mmc_setting_value_t tax = {"Mem.IdleTax", 50};
  cfg.settings = &tax;
  cfg.nsettings = 1;
  assert_int_equal(im->host_create(&cfg, &h, &err), MMC_ENOTSUP);
  assert_non_null(strstr(err.msg, "idle memory tax"));
  assert_int_equal(im->advance(NULL, 1, &err), MMC_ENOTSUP);
}

static void settings_through_the_contract(void **state) {
  (void)state;
  mmc_host_t *h = host_with(64 * MIB, NULL, 0);
  mmc_error_t err = {0};
  int64_t v = 0;
  assert_int_equal(im->setting_get(h, "Mem.SamplePeriod", &v, &err), 0);
  assert_int_equal(v, 60);
  assert_int_equal(im->setting_get(h, "Numa.RebalancePeriod", &v, &err), MMC_ENOTSUP);
  assert_non_null(strstr(err.msg, "Numa.RebalancePeriod"));
  assert_int_equal(im->setting_set(h, "Mem.SamplePeriod", 0, &err), MMC_ERANGE);
  assert_int_equal(im->setting_get(h, "Mem.SamplePeriod", &v, &err), 0);
  assert_int_equal(v, 60);
  size_t n = 0;
  mmc_setting_info_t info;
  while (im->setting_info(h, n, &info) == 0)
    n++;
  assert_true(n >= 25);
  host_done(h);
}

/* ---------------------------------------------------------------- VMs */

static void vm_configs_refused(void **state) {
  (void)state;
  mmc_host_t *h = host_with(64 * MIB, NULL, 0);
  mmc_vm_config_t c;
  mmc_vm_id_t id = 0;
  mmc_error_t err = {0};
  mmc_vm_config_init(&c);
  c.memory_bytes = 4 * MIB;
  c.salt = "a";
  assert_int_equal(im->vm_power_on(h, &c, &id, &err), MMC_ENOTSUP);
  c.salt = NULL;
  c.node_affinity = 2;
  assert_int_equal(im->vm_power_on(h, &c, &id, &err), MMC_ENOENT);
  c.node_affinity = 0;
  c.memory_bytes = 4095;
  assert_int_equal(im->vm_power_on(h, &c, &id, &err), MMC_EINVAL);
  mmc_host_stats_t hs;
  assert_int_equal(im->host_stats(h, &hs, &err), 0);
  assert_int_equal(hs.nvms, 0);
  /* nothing was used: the first VM gets id 1 */
  assert_int_equal(power_on(h, MIB, true), 1);
  host_done(h);
}

/* Reservations are mlock()ed memory and admission control holds their sum
 * to the host's memory; a refused power-on leaves nothing behind. */
static void reservations_and_admission(void **state) {
  (void)state;
  mmc_host_t *h = host_with(64 * MIB, NULL, 0);
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = 48 * MIB;
  c.reservation_bytes = 40 * MIB;
  mmc_vm_id_t a = 0, b = 0;
  mmc_error_t err = {0};
  if (im->vm_power_on(h, &c, &a, &err) == MMC_EADMISSION && geteuid() != 0)
    test_skip("not root: RLIMIT_MEMLOCK lets a process lock little");
  assert_int_equal(err.code, 0);
  c.reservation_bytes = 30 * MIB; /* 40 + 30 > 64 */
  assert_int_equal(im->vm_power_on(h, &c, &b, &err), MMC_EADMISSION);
  assert_non_null(strstr(err.msg, "reservation"));
  mmc_host_stats_t hs;
  assert_int_equal(im->host_stats(h, &hs, &err), 0);
  assert_int_equal(hs.nvms, 1);
  mmc_vcpu_t *v;
  enter_vcpu(h, a, 0, &v);
  uint8_t *base = im->page(v, 0, false, &err);
  unsigned char vec[48 * MIB / 4096];
  assert_int_equal(mincore(base, 48 * MIB, vec), 0);
  uint64_t resident = 0;
  for (size_t i = 0; i < sizeof vec; i++)
    resident += vec[i] & 1;
  assert_int_equal(resident, 40 * MIB / 4096); /* the reservation is there, untouched */
  uint64_t g = 3;
  assert_int_equal(im->balloon_give(h, a, &g, 1, &err), MMC_EINVAL); /* locked */
  exit_vcpu(v);
  c.reservation_bytes = 20 * MIB; /* after a power-off the room is there again */
  assert_int_equal(im->vm_power_off(h, a, &err), 0);
  assert_int_equal(im->vm_power_on(h, &c, &b, &err), 0);
  c.reservation_bytes = 30 * MIB;
  assert_int_equal(im->vm_power_on(h, &c, &a, &err), 0);
  host_done(h);
}

static void lifecycle_and_vcpu_side(void **state) {
  (void)state;
  mmc_host_t *h = host_with(64 * MIB, NULL, 0);
  mmc_error_t err = {0};
  mmc_vm_id_t id = power_on(h, MIB, false);
  mmc_vcpu_t *v = NULL, *v2 = NULL;
  enter_vcpu(h, id, 0, &v);
  assert_int_equal(im->vcpu_enter(h, id, 0, &v2, &err), MMC_EBUSY);
  uint8_t *p0 = im->page(v, 0, true, &err), *p1 = im->page(v, 1, true, &err);
  assert_ptr_equal(p1, p0 + 4096); /* one mapping: base + offset */
  for (int g = 0; g < 100; g++)
    memset((uint8_t *)im->page(v, (uint64_t)g, true, &err), g + 1, 4096);
  assert_null(im->page(v, 256, false, &err));
  assert_int_equal(err.code, MMC_ERANGE);
  assert_int_equal(im->vm_power_off(h, id, &err), MMC_EBUSY);
  im->quiesce(v);
  mmc_vm_stats_t st;
  assert_int_equal(im->vm_stats(h, id, &st, &err), 0);
  assert_int_equal(st.configured_pages, 256);
  assert_int_equal(st.resident_pages, 100); /* the kernel's pagemap: 100 pages present */
  assert_true(st.unobserved & MMC_VMSTAT_HOME_NODE);
  assert_true(st.unobserved & MMC_VMSTAT_WSS_ESTIMATE); /* no window yet */
  if (!(st.unobserved & MMC_VMSTAT_PAGES_PER_NODE))
    assert_int_equal(st.pages_per_node[0], 100);
  exit_vcpu(v);
  assert_int_equal(im->vm_power_off(h, id, &err), 0);
  assert_int_equal(im->vm_stats(h, id, &st, &err), MMC_ENOENT);
  mmc_event_t ev[16];
  uint64_t cur = 0;
  size_t n = im->events_read(h, &cur, ev, 16);
  assert_true(n >= 2);
  assert_int_equal(ev[0].type, MMC_EV_POWER_ON);
  assert_int_equal(ev[n - 1].type, MMC_EV_POWER_OFF);
  mmc_host_stats_t hs;
  assert_int_equal(im->host_stats(h, &hs, &err), 0);
  assert_true(hs.unobserved_events & (1ull << MMC_EV_HOME_CHANGE));
  assert_false(hs.unobserved_events & (1ull << MMC_EV_POWER_ON));
  assert_int_equal(hs.node_capacity_pages[0], 64 * MIB / 4096);
  assert_int_equal(power_on(h, MIB, false), 2); /* ids not reused */
  host_done(h);
}

static void balloon_frees_frames(void **state) {
  (void)state;
  mmc_host_t *h = host_with(64 * MIB, NULL, 0);
  mmc_error_t err = {0};
  mmc_vm_id_t id = power_on(h, MIB, false);
  mmc_vcpu_t *v = NULL;
  enter_vcpu(h, id, 0, &v);
  uint8_t *base = im->page(v, 0, true, &err);
  memset(base, 0x5a, MIB);
  uint64_t target = 1;
  assert_int_equal(im->balloon_target(h, id, &target, &err), 0);
  assert_int_equal(target, 0); /* the kernel never asks */
  uint64_t give[4] = {3, 4, 5, 9};
  assert_int_equal(im->balloon_give(h, id, give, 4, &err), 0);
  unsigned char vec[256];
  assert_int_equal(mincore(base, MIB, vec), 0);
  assert_int_equal(vec[3] & 1, 0);
  assert_int_equal(vec[9] & 1, 0);
  assert_int_equal(vec[6] & 1, 1);
  uint64_t again[2] = {8, 9}; /* 9 twice: refused, 8 stays the guest's */
  assert_int_equal(im->balloon_give(h, id, again, 2, &err), MMC_EINVAL);
  assert_int_equal(mincore(base, MIB, vec), 0);
  assert_int_equal(vec[8] & 1, 1);
  assert_int_equal(im->balloon_take(h, id, give, 2, &err), 0);
  assert_int_equal(base[3 * 4096], 0); /* taken back: reads zero */
  assert_int_equal(im->balloon_take(h, id, give, 1, &err), MMC_EINVAL);
  mmc_vm_stats_t st;
  assert_int_equal(im->vm_stats(h, id, &st, &err), 0);
  assert_int_equal(st.ballooned_pages, 2);
  exit_vcpu(v);
  host_done(h);
}

static void move_range_on_one_node(void **state) {
  (void)state;
  if (!(im->capabilities & MMC_CAP_MOVE_RANGE))
    test_skip("%s", why_not_here(MMC_CAP_MOVE_RANGE));
  mmc_host_t *h = host_with(64 * MIB, NULL, 0);
  mmc_error_t err = {0};
  mmc_vm_id_t id = power_on(h, MIB, false);
  uint64_t moved = 99;
  assert_int_equal(im->move_range(h, id, 0, 256, 0, &moved, &err), 0);
  assert_int_equal(moved, 0); /* everything is on node 0 already */
  assert_int_equal(im->move_range(h, id, 0, 1, 1, &moved, &err), MMC_ENOENT);
  assert_int_equal(im->move_range(h, id, 200, 57, 0, &moved, &err), MMC_ERANGE);
  host_done(h);
}

static void affinity_binds_and_is_given_back(void **state) {
  (void)state;
  if (!(im->capabilities & MMC_CAP_NODE_AFFINITY))
    test_skip("%s", why_not_here(MMC_CAP_NODE_AFFINITY));
  mmc_host_t *h = host_with(64 * MIB, NULL, 0);
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = MIB;
  c.node_affinity = 1;
  mmc_vm_id_t id;
  mmc_error_t err = {0};
  assert_int_equal(im->vm_power_on(h, &c, &id, &err), 0);
  cpu_set_t before, during, after;
  sched_getaffinity(0, sizeof before, &before);
  mmc_vcpu_t *v = NULL;
  enter_vcpu(h, id, 0, &v);
  sched_getaffinity(0, sizeof during, &during);
  assert_int_equal(CPU_COUNT(&during), node0.ncpus);
  mmc_vcpu_info_t info;
  assert_int_equal(im->vcpu_info(h, id, 0, &info, &err), 0);
  assert_true(info.binding_applied);
  exit_vcpu(v);
  sched_getaffinity(0, sizeof after, &after);
  assert_true(CPU_EQUAL(&before, &after));
  host_done(h);
}

/* ---------------------------------------------------------------- the kernel's daemons (root) */

static void fill(uint8_t *p, uint64_t g, uint8_t salt) {
  memset(p, (int)(g * 7 + salt), 4096);
  memcpy(p, &g, sizeof g);
}

static uint64_t ksm_full_scans(void) {
  unsigned long long n = 0;
  FILE *f = fopen("/sys/kernel/mm/ksm/full_scans", "r");
  if (f) {
    if (fscanf(f, "%llu", &n) != 1)
      n = 0;
    fclose(f);
  }
  return n;
}

static void ksm_merges_and_cow_breaks(void **state) {
  (void)state;
  if (!can(MMC_CAP_SHARING))
    test_skip("%s", why_not_here(MMC_CAP_SHARING));
  const mmc_setting_value_t fast[] = {{"Mem.ShareScanGHz", 32}, {"Linux.ObservePeriod", 20}};
  mmc_host_t *h = host_with(64 * MIB, fast, 2);
  mmc_error_t err = {0};
  enum { pages = 64 };
  mmc_vm_id_t a = power_on(h, pages * 4096, true), b = power_on(h, pages * 4096, true);
  mmc_vcpu_t *va, *vb;
  enter_vcpu(h, a, 0, &va);
  enter_vcpu(h, b, 0, &vb);
  uint8_t *pa = im->page(va, 0, true, &err), *pb = im->page(vb, 0, true, &err);
  for (uint64_t g = 0; g < pages; g++) {
    fill(pa + g * 4096, g, 1);
    fill(pb + g * 4096, g, 1);
  }
  uint64_t scans0 = ksm_full_scans(), merged = 0, deadline = now_ms() + 30000;
  while (merged < pages && now_ms() < deadline) {
    nap_ms(20);
    merged = 0;
    for (uint64_t g = 0; g < pages; g++) {
      uint64_t ea = pagemap_of(pa + g * 4096), eb = pagemap_of(pb + g * 4096);
      merged += PM_PRESENT(ea) && PM_PFN(ea) && PM_PFN(ea) == PM_PFN(eb);
    }
  }
  /* ksmd is machine-wide: another run's mergeable memory, or its slower
   * pages_to_scan (the last writer's), can keep it from enough whole passes
   * over ours in the time; that says nothing about the merge. Enough is
   * three: the pass under way when our pages were written, one that records
   * their checksums, one that finds them unchanged and merges them
   * (mm/ksm.c: a page enters the unstable tree only with a stable checksum). */
  if (merged < pages && ksm_full_scans() < scans0 + 3) {
    test_skip("ksmd finished %llu full scans in 30 s (a busy machine, or other processes' "
              "mergeable memory, e.g. a QEMU guest's RAM, in every pass): not judged",
              (unsigned long long)(ksm_full_scans() - scans0));
  }
  assert_int_equal(merged, pages); /* one frame for both VMs' page g: pagemap says so */
  mmc_vm_stats_t st;
  assert_int_equal(im->vm_stats(h, a, &st, &err), 0);
  assert_int_equal(st.shared_pages, pages);
  pa[5 * 4096 + 100] ^= 0xff; /* copy-on-write */
  assert_int_not_equal(PM_PFN(pagemap_of(pa + 5 * 4096)), PM_PFN(pagemap_of(pb + 5 * 4096)));
  uint8_t want[4096];
  fill(want, 5, 1);
  assert_memory_equal(pb + 5 * 4096, want, 4096);
  nap_ms(60); /* one observation period and more */
  mmc_event_t ev[64];
  uint64_t cur = 0, shares = 0;
  size_t n;
  while ((n = im->events_read(h, &cur, ev, 64)) > 0)
    for (size_t i = 0; i < n; i++)
      shares += ev[i].type == MMC_EV_SHARE ? ev[i].count : 0;
  if (shares < pages)
    fail_msg("SHARE events counted %llu pages, %d merged", (unsigned long long)shares, pages);
  exit_vcpu(va);
  exit_vcpu(vb);
  host_done(h);
}

/* A knob as text, for before/after comparisons. */
static void knob_text(const char *path, char *out, size_t len) {
  FILE *f = fopen(path, "r");
  out[0] = '\0';
  if (f) {
    if (!fgets(out, (int)len, f))
      out[0] = '\0';
    fclose(f);
  }
}

/* Whether the machine's first kdamond runs a page-out scheme (a system
 * DAMON reclaimer: it would page out the VM's idle pages behind the host). */
static bool pageout_kdamond_running(void) {
  char state[16], action[16];
  knob_text("/sys/kernel/mm/damon/admin/kdamonds/0/state", state, sizeof state);
  knob_text("/sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/0/action", action,
            sizeof action);
  return !strcmp(state, "on\n") && !strcmp(action, "pageout\n");
}

static void host_over_its_memory_pages_out(void **state) {
  (void)state;
  if (!can(MMC_CAP_SWAP))
    test_skip("%s", why_not_here(MMC_CAP_SWAP));
  /* Another run's borrow may hold a kdamond off now and give it back
   * meanwhile: compare its state before and after only on a machine quiet
   * now (not waited for: the rest of the test needs no quiet machine, and a
   * whole-suite run may hold tests.lock for many minutes). */
  bool quiet = machine_quiet_now();
  bool kdamond_before = pageout_kdamond_running();
  const mmc_setting_value_t fast[] = {{"Linux.PressurePeriod", 20}};
  mmc_host_t *h = host_with(2 * MIB, fast, 1); /* the host has 2 MiB */
  mmc_error_t err = {0};
  enum { pages = 1024 }; /* the VM writes 4 MiB */
  mmc_vm_id_t id = power_on(h, pages * 4096, false);
  mmc_vcpu_t *v;
  enter_vcpu(h, id, 0, &v);
  uint8_t *p = im->page(v, 0, true, &err);
  for (uint64_t g = 0; g < pages; g++)
    fill(p + g * 4096, g, 3);
  uint64_t swapped = 0, deadline = now_ms() + 20000;
  while (swapped < pages / 2 - 64 && now_ms() < deadline) {
    nap_ms(20);
    swapped = 0;
    for (uint64_t g = 0; g < pages; g++)
      swapped += PM_SWAPPED(pagemap_of(p + g * 4096));
  }
  assert_true(swapped >= pages / 2 - 64);  /* about the excess, by pagemap */
  assert_false(pageout_kdamond_running()); /* paused while our area is on */
  mmc_event_t ev[256];
  uint64_t cur = 0, outs = 0;
  size_t n;
  while ((n = im->events_read(h, &cur, ev, 256)) > 0)
    for (size_t i = 0; i < n; i++)
      outs += ev[i].type == MMC_EV_SWAP_OUT && strstr(ev[i].reason, "us=") ? ev[i].count : 0;
  assert_true(outs >= pages / 2 - 64); /* each page-out told, with its time */
  assert_true(proc_swaps_has("mmcert-linux-swap/"));
  uint8_t want[4096];
  for (uint64_t g = 0; g < pages; g++) { /* every page back with its contents */
    fill(want, g, 3);
    if (memcmp(p + g * 4096, want, 4096))
      fail_msg("page %llu lost its contents", (unsigned long long)g);
  }
  exit_vcpu(v);
  host_done(h);
  assert_false(proc_swaps_has("mmcert-linux-swap/")); /* swapped off, removed */
  if (quiet)
    assert_int_equal(pageout_kdamond_running(), kdamond_before); /* and given back */
}

/* A host that borrowed KSM and swapped on its VM's file, killed with
 * SIGKILL: the next mmcert to start gives everything back. */
static void killed_host_given_back_by_the_next_mmcert(void **state) {
  (void)state;
  const char *mmcert = getenv("MMCERT");
  if (!can(MMC_CAP_SWAP) || !can(MMC_CAP_SHARING))
    test_skip("%s", why_not_here(can(MMC_CAP_SWAP) ? MMC_CAP_SHARING : MMC_CAP_SWAP));
  if (!mmcert)
    test_skip("MMCERT is not set (make check sets it): no mmcert to start");
  if (!machine_quiet())
    test_skip("another run holds tests.lock or an open borrow: the machine is not quiet");
  const char *knobs[] = {"/sys/kernel/mm/ksm/run", "/sys/kernel/mm/ksm/pages_to_scan",
                         "/sys/kernel/mm/ksm/use_zero_pages",
                         "/sys/module/zswap/parameters/enabled",
                         "/sys/kernel/mm/damon/admin/kdamonds/0/state"}; /* empty if none */
  enum { nk = sizeof knobs / sizeof knobs[0] };
  char before[nk][64], after[nk][64];
  for (int i = 0; i < nk; i++)
    knob_text(knobs[i], before[i], sizeof before[i]);
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    const mmc_setting_value_t s[] = {{"Linux.PressurePeriod", 20}, {"Mem.ShareScanGHz", 1}};
    mmc_host_t *h = host_with(2 * MIB, s, 2);
    mmc_vm_id_t id = power_on(h, 4 * MIB, true);
    mmc_vcpu_t *v;
    mmc_error_t err = {0};
    if (im->vcpu_enter(h, id, 0, &v, &err) == 0)
      for (uint64_t g = 0; g < 1024; g++)
        fill((uint8_t *)im->page(v, g, true, &err), g, 9);
    for (int k = 0; k < 1000 && !proc_swaps_has("mmcert-linux-swap/"); k++)
      nap_ms(10);
    char c = proc_swaps_has("mmcert-linux-swap/");
    if (write(ready[1], &c, 1) != 1)
      _exit(1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  assert_int_equal(read(ready[0], &c, 1), 1);
  close(ready[0]);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  char run_now[64];
  knob_text(knobs[0], run_now, sizeof run_now);
  bool premise = c && proc_swaps_has("mmcert-linux-swap/") && strcmp(run_now, "1\n") == 0;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "'%s' list >/dev/null 2>&1", mmcert);
  int rc = system(cmd);
  bool others = machine_borrowed_now();
  for (int i = 0; i < nk; i++)
    knob_text(knobs[i], after[i], sizeof after[i]);
  others |= machine_borrowed_now();
  assert_true(premise); /* the kill left KSM on and the file swapped on */
  assert_int_equal(rc, 0);
  assert_false(proc_swaps_has("mmcert-linux-swap/"));
  /* tests.lock keeps out other tests, not other runs: a borrow opened
   * meanwhile by anyone else keeps the knobs as that owner set them (the
   * originals come back with the last owner), so they prove nothing. */
  if (others) {
    test_skip("another run's borrow is open: the knobs are not compared");
  }
  for (int i = 0; i < nk; i++)
    if (strcmp(before[i], after[i]))
      fail_msg("%s: %s before, %s after", knobs[i], before[i], after[i]);
}

/* sched.mem.max: what a VM holds above its limit is paged out. */
static void limit_held_by_paging_out(void **state) {
  (void)state;
  if (!can(MMC_CAP_SWAP))
    test_skip("%s", why_not_here(MMC_CAP_SWAP));
  const mmc_setting_value_t fast[] = {{"Linux.PressurePeriod", 20}};
  mmc_host_t *h = host_with(64 * MIB, fast, 1); /* room enough: only the limit presses */
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = 4 * MIB;
  c.limit_bytes = 2 * MIB;
  mmc_vm_id_t id;
  mmc_error_t err = {0};
  assert_int_equal(im->vm_power_on(h, &c, &id, &err), 0);
  mmc_vcpu_t *v;
  enter_vcpu(h, id, 0, &v);
  uint8_t *p = im->page(v, 0, true, &err);
  for (uint64_t g = 0; g < 1024; g++)
    fill(p + g * 4096, g, 5);
  uint64_t swapped = 0, deadline = now_ms() + 20000;
  while (swapped < 512 - 64 && now_ms() < deadline) {
    nap_ms(20);
    swapped = 0;
    for (uint64_t g = 0; g < 1024; g++)
      swapped += PM_SWAPPED(pagemap_of(p + g * 4096));
  }
  assert_true(swapped >= 512 - 64);
  uint8_t want[4096];
  for (uint64_t g = 0; g < 1024; g++) {
    fill(want, g, 5);
    assert_memory_equal(p + g * 4096, want, 4096);
  }
  exit_vcpu(v);
  host_done(h);
  assert_false(proc_swaps_has("mmcert-linux-swap/"));
}

typedef struct toucher {
  uint8_t *base;
  uint64_t pages;
  volatile int stop;
} toucher_t;

static void *touch_loop(void *arg) {
  toucher_t *t = arg;
  while (!t->stop)
    for (uint64_t g = 0; g < t->pages; g++)
      t->base[g * 4096] += 1;
  return NULL;
}

static void working_set_window(void **state) {
  (void)state;
  if (!(im->capabilities & MMC_CAP_WSS))
    test_skip("%s", why_not_here(MMC_CAP_WSS));
  const mmc_setting_value_t one[] = {{"Mem.SamplePeriod", 1}};
  mmc_host_t *h = host_with(64 * MIB, one, 1);
  mmc_error_t err = {0};
  mmc_vm_id_t id = power_on(h, 256 * 4096, false);
  mmc_vcpu_t *v;
  enter_vcpu(h, id, 0, &v);
  uint8_t *p = im->page(v, 0, true, &err);
  memset(p, 1, 256 * 4096); /* all resident, then only 64 used */
  toucher_t t = {p, 64, 0};
  pthread_t th;
  pthread_create(&th, NULL, touch_loop, &t);
  mmc_vm_stats_t st = {.unobserved = MMC_VMSTAT_WSS_ESTIMATE};
  uint64_t deadline = now_ms() + 5000;
  while ((st.unobserved & MMC_VMSTAT_WSS_ESTIMATE) && now_ms() < deadline) {
    nap_ms(100);
    assert_int_equal(im->vm_stats(h, id, &st, &err), 0);
  }
  t.stop = 1;
  pthread_join(th, NULL);
  assert_false(st.unobserved & MMC_VMSTAT_WSS_ESTIMATE);
  assert_in_range(st.wss_estimate_pages, 64, 72);
  exit_vcpu(v);
  host_done(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(capabilities_and_reasons, close_host),
      cmocka_unit_test_teardown(refusals, close_host),
      cmocka_unit_test_teardown(settings_through_the_contract, close_host),
      cmocka_unit_test_teardown(vm_configs_refused, close_host),
      cmocka_unit_test_teardown(reservations_and_admission, close_host),
      cmocka_unit_test_teardown(lifecycle_and_vcpu_side, close_host),
      cmocka_unit_test_teardown(balloon_frees_frames, close_host),
      cmocka_unit_test_teardown(move_range_on_one_node, close_host),
      cmocka_unit_test_teardown(affinity_binds_and_is_given_back, close_host),
      cmocka_unit_test_teardown(ksm_merges_and_cow_breaks, close_host),
      cmocka_unit_test_teardown(host_over_its_memory_pages_out, close_host),
      cmocka_unit_test_teardown(limit_held_by_paging_out, close_host),
      cmocka_unit_test_teardown(working_set_window, close_host),
      cmocka_unit_test_teardown(killed_host_given_back_by_the_next_mmcert, close_host),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
