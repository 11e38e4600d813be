/*
 * mmc_tmpdir.h — where temporary files go, the same for the suite's cases,
 * its benchmarks and the reference's swap files: $TMPDIR when set and not
 * empty, else /tmp. common/tmpdir.c.
 */
#ifndef MMC_TMPDIR_H
#define MMC_TMPDIR_H

const char *mmc_tmpdir(void);

#endif
