/*
 * mmc_borrow.h — machine-wide kernel state, borrowed and given back
 * (common/borrow.c, prefix mmc_borrow_).
 *
 * KSM (/sys/kernel/mm/ksm), swap areas, zswap (/sys/module/zswap/
 * parameters), kernel.numa_balancing, transparent hugepages
 * (/sys/kernel/mm/transparent_hugepage) and DAMON kdamonds' on/off state
 * (/sys/kernel/mm/damon/admin/kdamonds/N/state) belong to the whole machine and
 * to everyone on it. Code of this project changes them only through these
 * functions, which record each knob's value before its first change and
 * each swap file before it is swapped on, in a state file, so that:
 *  - the process restores them when it ends the borrow (mmc_borrow_end),
 *    at exit, and on SIGINT, SIGTERM, SIGHUP and SIGQUIT;
 *  - a process killed with SIGKILL is cleaned up by the next one: every
 *    mmc_borrow_* call, and mmc_borrow_recover() which mmcert runs at start
 *    and after each case's child, finds owners that are dead, swaps off and
 *    removes their swap files, and restores the knobs once no live owner
 *    is left.
 * Several processes (and the several static copies of this module in one
 * process: mmcert and a dlopen()ed implementation) may borrow at once:
 * each is an owner; a knob's original value is the one recorded by its first
 * borrower and comes back when the last owner is gone. Values written while
 * two owners overlap are the last writer's (the machine is shared).
 *
 * The state lives in $MMCERT_BORROW_DIR, else /run/mmcert: "borrow.state"
 * (rewritten whole, atomically, before every change) and "borrow.lock"
 * (flock(2), held only while the state is read and changed, so two runs
 * never interleave their updates). A state file from an earlier boot is
 * cleared without writing knobs (the reboot reset them); its swap files are
 * removed.
 *
 * Errors follow common/mmc_error.h: 0 or a negative mmc_status_t with err
 * filled; MMC_EIO carries the path and errno text, MMC_EINVAL a path outside
 * the knobs this module may change (the list above, plus files under
 * $MMCERT_BORROW_DIR when that is set, for tests).
 */
#ifndef MMC_BORROW_H
#define MMC_BORROW_H

#include <stdbool.h>
#include <stddef.h>

#include "mmcert/impl.h"

#define MMC_BORROW_VALUE_MAX 128

/* Become an owner (nested calls count). Cleans up dead owners first.
 * MMC_EIO when the state directory cannot be made (not root). */
int mmc_borrow_begin(mmc_error_t *err);
/* Undo one begin; the last one swaps off and removes this owner's swap
 * files and, when no other live owner is left, restores every knob. */
void mmc_borrow_end(void);

/* Write `value` to the knob at `path`, recording its current value first
 * when nobody has yet. Needs an open borrow (MMC_ESTATE otherwise). */
int mmc_borrow_knob(const char *path, const char *value, mmc_error_t *err);
/* A knob's current value as it would be recorded: the text without its
 * newline, or the bracketed choice of a list ("always [madvise] never" ->
 * "madvise"). MMC_EIO when it cannot be read. */
int mmc_borrow_read(const char *path, char *buf, size_t len, mmc_error_t *err);

/* Record a swap file this owner made (before it is swapped on), so a crash
 * leaves nothing behind. */
int mmc_borrow_swap_add(const char *path, mmc_error_t *err);
/* swapon(2) of a recorded file with priority `prio` (0..32767). */
int mmc_borrow_swapon(const char *path, int prio, mmc_error_t *err);
/* swapoff(2) when on, unlink, forget. */
int mmc_borrow_swap_remove(const char *path, mmc_error_t *err);

/* Clean up after dead owners (no begin needed). *restored (may be NULL)
 * gets the number of knobs written back and swap files removed; `what`
 * (may be NULL) a short list of them for a message. */
int mmc_borrow_recover(unsigned *restored, char *what, size_t whatlen, mmc_error_t *err);

/* The state directory in use ($MMCERT_BORROW_DIR or /run/mmcert). */
const char *mmc_borrow_dir(void);

#endif
