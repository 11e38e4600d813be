/*
 * sharepace.h — pacing of the page-sharing scanner (TPS-3, TPS-6;
 * Mem.ShareScanTime, Mem.ShareRateMax, Mem.ShareScanGHz: vSphere Resource
 * Management, "Memory Sharing" and the advanced memory attributes).
 *
 * ======================================================================
 * POLICY: pure functions over a small per-VM and per-host state. The
 * caller passes the setting values, the host's clock rate and the time
 * since the last run. The mechanism (visiting the pages, hashing, the
 * tables, merging) is share.c; each run it asks sharepace_run() how many
 * pages each VM may have scanned.
 * ======================================================================
 *
 * What the documentation says: a VM's memory is scanned once per
 * Mem.ShareScanTime (minutes), at most Mem.ShareRateMax pages per second
 * per VM; the host scans at most Mem.ShareScanGHz MB per second per GHz of
 * its CPUs; sharing builds up gradually, not in a burst (TPS-3);
 * Mem.ShareScanGHz = 0 or Mem.ShareRateMax = 0 stop the scanner, and a VM
 * with sched.mem.pshare.enable = FALSE is not scanned (TPS-6).
 *
 * Rates, per second of host time:
 *   VM:   min(npages / ShareScanTime, ShareRateMax)            pages/s
 *   host: ShareScanGHz x (MHz x cores / 1000) x 256            pages/s
 * (a topology without a frequency counts SHAREPACE_MHZ_UNKNOWN per core,
 * ours). Credits are kept in nano-pages (rate x dt in ns) and carry only
 * the fraction of a page from run to run, so nothing is hoarded: a pause
 * never saves up a burst. A VM's pages in one run never exceed its size.
 * When the VMs' pages of a run exceed the host's, each VM gets its
 * proportional share (floor), and the pages the floors leave go one each
 * to the VMs in turn, starting one further every run: no VM is favoured
 * and the host budget is used whole.
 *
 * Invariants (sharepace_is_valid): every credit is below one page
 * (SHAREPACE_NS_PER_S nano-pages); every quota is at most its VM's pages.
 */
#ifndef REF_SHAREPACE_H
#define REF_SHAREPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHAREPACE_MHZ_UNKNOWN 1000u /* per core, when the topology has no frequency (ours) */
#define SHAREPACE_UNLIMITED UINT64_MAX
#define SHAREPACE_NS_PER_S 1000000000ull

typedef struct sharepace_params {
  uint64_t scan_time_ms; /* Mem.ShareScanTime in ms (> 0): minutes x 60000 as documented */
  uint64_t rate_max;     /* Mem.ShareRateMax, pages/s per VM; SHAREPACE_UNLIMITED: no cap */
  uint64_t scan_ghz;     /* Mem.ShareScanGHz, MB/s per GHz */
  uint64_t host_mhz;     /* the host's clock x cores (sharepace_host_mhz) */
} sharepace_params_t;

/* One VM as the policy sees it. */
typedef struct sharepace_vm {
  uint64_t npages; /* in: the VM's configured pages */
  bool enabled;    /* in: sched.mem.pshare.enable */
  uint64_t credit; /* state: nano-pages carried to the next run, < one page */
  uint64_t quota;  /* out: pages to scan in this run */
  uint64_t want;   /* out: the quota before the host's cut (valid when a cut was made) */
} sharepace_vm_t;

typedef struct sharepace_host {
  uint64_t credit; /* nano-pages carried to the next run, < one page */
  uint64_t turn;   /* who gets the pages a proportional cut leaves first */
} sharepace_host_t;

/* The host's MHz x cores: cpu_mhz 0 (unknown) counts SHAREPACE_MHZ_UNKNOWN,
 * cores 0 counts 1. */
uint64_t sharepace_host_mhz(uint32_t cpu_mhz, uint64_t cores);

/* Whether the scanner runs at all (TPS-6): ShareScanGHz and ShareRateMax
 * both non-zero. */
bool sharepace_enabled(uint64_t scan_ghz, uint64_t rate_max);

/* One run dt_ns after the last: earns the host's and each VM's credits and
 * sets each VM's quota (0 for a VM not enabled, whose credit is left as
 * it was). */
void sharepace_run(const sharepace_params_t *p, sharepace_host_t *host, sharepace_vm_t *const *vms,
                   size_t n, uint64_t dt_ns);

bool sharepace_is_valid(const sharepace_host_t *host, sharepace_vm_t *const *vms, size_t n);

#endif
