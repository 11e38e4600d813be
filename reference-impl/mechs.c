/*
 * mechs.c — the table of the reference implementation's mechanisms, by id
 * (ref.h ref_mech_id_t). One row per documented mechanism file; a NULL row
 * is a mechanism not built yet, whose capability flag stays clear so the
 * suite SKIPs its checks with that reason.
 *
 * Invariant (checked by ref_mechs_check at host creation): the OR of the
 * rows' caps equals REF_MECH_CAPS, the constant the contract table
 * advertises, so no capability is claimed without a mechanism behind it.
 */
#include "idletax.h"
#include "ref.h"
#include "reclaim.h"
#include "share.h"
#include "wss.h"

extern const ref_mech_t ref_mech_rebalance; /* rebalancer.c */
extern const ref_mech_t ref_mech_migrate;   /* migrate.c */

const ref_mech_t *const ref_mechs[REF_MECH_COUNT] = {
    [REF_MECH_REBALANCE] = &ref_mech_rebalance,

    [REF_MECH_MIGRATE] = &ref_mech_migrate,

    [REF_MECH_SHARE] = &ref_mech_share,

    [REF_MECH_WSS] = &ref_mech_wss,

    [REF_MECH_ALLOC] = &ref_mech_alloc,

    [REF_MECH_MEMSTATE] = &ref_mech_memstate,

    [REF_MECH_BALLOON] = &ref_mech_balloon,

    [REF_MECH_SWAP] = &ref_mech_swap,
};

int ref_mechs_check(mmc_error_t *err) {
  uint64_t caps = 0;
  for (unsigned i = 0; i < REF_MECH_COUNT; i++)
    if (ref_mechs[i])
      caps |= ref_mechs[i]->caps;
  if (caps != (uint64_t)REF_MECH_CAPS)
    return mmc_fail(err, MMC_EINVAL,
                    "reference build error: mechanisms provide capabilities 0x%llx but the "
                    "contract table claims 0x%llx",
                    (unsigned long long)caps, (unsigned long long)REF_MECH_CAPS);
  return 0;
}
