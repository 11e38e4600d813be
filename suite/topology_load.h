/*
 * topology_load.h — the topology a user names, read in a child process
 * (suite/topology_load.c): what mmt_load answers, except that a crash or a
 * hang of hwloc on a corrupt file is an error (MMC_EINVAL, naming the input)
 * instead of mmcert's own death.
 */
#ifndef SUITE_TOPOLOGY_LOAD_H
#define SUITE_TOPOLOGY_LOAD_H

#include "mmc_topology.h"

int suite_topology_load(const char *spec, mmt_topology_t **out, mmc_error_t *err);

#endif
