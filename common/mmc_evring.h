/*
 * mmc_evring.h — the contract's event stream as a ring (common/evring.c,
 * prefix mmc_evring_), for implementations: seq numbers 0,1,2,... without
 * gaps, the newest `cap` events kept, and a reader that fell further behind
 * told so by one MMC_EV_LOST carrying the number of events it missed
 * (impl.h, events_read). Thread-safe: one mutex, held only inside these
 * calls, so a caller may emit while holding its own locks.
 */
#ifndef MMC_EVRING_H
#define MMC_EVRING_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "mmcert/impl.h"

typedef struct mmc_evring {
  pthread_mutex_t lock;
  mmc_event_t *ev; /* cap entries; event seq lives at ev[seq % cap] */
  uint64_t cap;
  uint64_t next; /* seq of the next event */
} mmc_evring_t;

/* MMC_ENOMEM (message names the size) when the ring cannot be allocated. */
int mmc_evring_init(mmc_evring_t *r, uint64_t cap, mmc_error_t *err);
void mmc_evring_fini(mmc_evring_t *r);
/* Append `ev` with the next seq and time `now_ns`. */
void mmc_evring_emit(mmc_evring_t *r, mmc_event_t ev, uint64_t now_ns);
/* events_read(): up to `max` events with seq >= *cursor, MMC_EV_LOST first
 * (stamped `now_ns`) when some were overwritten. */
size_t mmc_evring_read(mmc_evring_t *r, uint64_t *cursor, mmc_event_t *buf, size_t max,
                       uint64_t now_ns);
/* A new capacity keeping the newest events (seq numbers unchanged). */
int mmc_evring_resize(mmc_evring_t *r, uint64_t cap, mmc_error_t *err);

#endif
