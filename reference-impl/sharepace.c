/*
 * sharepace.c — pacing of the page-sharing scanner (TPS-3, TPS-6): the
 * pure policy of sharepace.h (the rates, the carry and the host's cut are
 * described there). No host, no locks, no allocation.
 *
 * Invariants: sharepace.h (sharepace_is_valid).
 */
#include "sharepace.h"

#define PAGES_PER_MB 256u /* 4 KB pages */
#define MHZ_PER_GHZ 1000u

uint64_t sharepace_host_mhz(uint32_t cpu_mhz, uint64_t cores) {
  return (uint64_t)(cpu_mhz ? cpu_mhz : SHAREPACE_MHZ_UNKNOWN) * (cores ? cores : 1);
}

bool sharepace_enabled(uint64_t scan_ghz, uint64_t rate_max) {
  return scan_ghz && rate_max;
}

/* Host pages earned in dt_ns, in nano-pages: ShareScanGHz MB/s per GHz x
 * the host's GHz x 256 pages per MB x dt. */
static uint64_t host_credit_for(const sharepace_params_t *p, uint64_t dt_ns) {
  unsigned __int128 c =
      (unsigned __int128)p->scan_ghz * p->host_mhz * PAGES_PER_MB * dt_ns / MHZ_PER_GHZ;
  return c > UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)c;
}

/* Each VM's pages for the run; returns their sum. */
static uint64_t vm_quotas(const sharepace_params_t *p, sharepace_vm_t *const *vms, size_t n,
                          uint64_t dt_ns) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    sharepace_vm_t *v = vms[i];
    v->quota = 0;
    if (!v->enabled)
      continue;
    unsigned __int128 by_time = (unsigned __int128)v->npages * dt_ns * 1000 / p->scan_time_ms;
    unsigned __int128 by_cap = (unsigned __int128)p->rate_max * dt_ns;
    v->credit += (uint64_t)(by_time < by_cap ? by_time : by_cap);
    v->quota = v->credit / SHAREPACE_NS_PER_S;
    v->credit -= v->quota * SHAREPACE_NS_PER_S;
    if (v->quota > v->npages)
      v->quota = v->npages;
    sum += v->quota;
  }
  return sum;
}

/* The host budget binds: proportional floors, then the pages left one each
 * to the VMs in turn, starting one further every run. */
static void cut_quotas(sharepace_host_t *host, sharepace_vm_t *const *vms, size_t n, uint64_t sum,
                       uint64_t host_q) {
  uint64_t given = 0;
  for (size_t i = 0; i < n; i++) {
    sharepace_vm_t *v = vms[i];
    v->want = v->quota;
    v->quota = (uint64_t)((unsigned __int128)v->want * host_q / sum);
    given += v->quota;
  }
  for (size_t k = 0; given < host_q && k < n; k++) {
    sharepace_vm_t *v = vms[(host->turn + k) % n];
    if (v->quota < v->want) {
      v->quota++;
      given++;
    }
  }
  host->turn++;
}

void sharepace_run(const sharepace_params_t *p, sharepace_host_t *host, sharepace_vm_t *const *vms,
                   size_t n, uint64_t dt_ns) {
  host->credit += host_credit_for(p, dt_ns);
  uint64_t host_q = host->credit / SHAREPACE_NS_PER_S;
  host->credit -= host_q * SHAREPACE_NS_PER_S;
  uint64_t sum = vm_quotas(p, vms, n, dt_ns);
  if (sum > host_q)
    cut_quotas(host, vms, n, sum, host_q);
}

bool sharepace_is_valid(const sharepace_host_t *host, sharepace_vm_t *const *vms, size_t n) {
  if (host->credit >= SHAREPACE_NS_PER_S)
    return false;
  for (size_t i = 0; i < n; i++)
    if (vms[i]->credit >= SHAREPACE_NS_PER_S || vms[i]->quota > vms[i]->npages)
      return false;
  return true;
}
