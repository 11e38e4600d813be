/*
 * vm.c — VM lifecycle, vCPUs and guest memory of the reference host.
 *
 * Placeholder until the mechanism layer (frame pools, page map: mech.h) is
 * merged: every VM call says so with MMC_ENOTSUP, and REF_MEM_CAPS is 0, so
 * the suite SKIPs what needs VMs while settings, clocks and events work.
 */
#include "ref.h"

#define NOT_YET "VMs are not available yet in this build (mechanism layer pending)"

int ref_mem_init(ref_host_t *h, mmc_error_t *err) {
  return 0;
}
void ref_mem_fini(ref_host_t *h) {}

void ref_mem_host_stats(ref_host_t *h, mmc_host_stats_t *out) {
  for (uint32_t n = 0; n < h->nnodes; n++) {
    out->node_capacity_pages[n] = h->nodes[n].memory_bytes / MMC_PAGE_SIZE;
    out->node_free_pages[n] = out->node_capacity_pages[n];
  }
}

int ref_vm_power_on(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out, mmc_error_t *err) {
  return mmc_fail(err, MMC_ENOTSUP, "vm_power_on: " NOT_YET);
}
int ref_vm_reconfigure(mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *cfg,
                       mmc_error_t *err) {
  return mmc_fail(err, MMC_ENOTSUP, "vm_reconfigure: " NOT_YET);
}
int ref_vm_power_off(mmc_host_t *h, mmc_vm_id_t vm, mmc_error_t *err) {
  return mmc_fail(err, MMC_ENOTSUP, "vm_power_off: " NOT_YET);
}
int ref_vcpu_enter(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_t **out,
                   mmc_error_t *err) {
  return mmc_fail(err, MMC_ENOTSUP, "vcpu_enter: " NOT_YET);
}
void *ref_vcpu_page(mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err) {
  mmc_fail(err, MMC_ENOTSUP, "page: " NOT_YET);
  return NULL;
}
void ref_vcpu_quiesce(mmc_vcpu_t *v) {}
void ref_vcpu_set_demand(mmc_vcpu_t *v, uint32_t permille) {}
void ref_vcpu_exit(mmc_vcpu_t *v) {}
int ref_vcpu_info(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_info_t *out,
                  mmc_error_t *err) {
  return mmc_fail(err, MMC_ENOTSUP, "vcpu_info: " NOT_YET);
}
int ref_vm_stats(mmc_host_t *h, mmc_vm_id_t vm, mmc_vm_stats_t *out, mmc_error_t *err) {
  return mmc_fail(err, MMC_ENOTSUP, "vm_stats: " NOT_YET);
}
int ref_move_range(mmc_host_t *h, mmc_vm_id_t vm, uint64_t gpfn, uint64_t count, uint32_t node,
                   uint64_t *moved, mmc_error_t *err) {
  return mmc_fail(err, MMC_ENOTSUP, "move_range: " NOT_YET);
}
