/*
 * mmc_units.h — the units mmcert counts in, defined once: binary sizes
 * (memory is sized in powers of two: pages, nodes, VMs) and nanoseconds
 * (every clock of the contract and the suite). Header only; prefix MMC_.
 */
#ifndef MMC_UNITS_H
#define MMC_UNITS_H

#define MMC_KIB 1024ull
#define MMC_MIB (1024ull * MMC_KIB)
#define MMC_GIB (1024ull * MMC_MIB)

#define MMC_NS_PER_US 1000ull
#define MMC_NS_PER_MS (1000ull * MMC_NS_PER_US)
#define MMC_NS_PER_S (1000ull * MMC_NS_PER_MS)

#endif
