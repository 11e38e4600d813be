/*
 * evring.c — the contract's event stream as a ring (see mmc_evring.h).
 *
 * Invariants: next only grows; ev[s % cap] holds event s for every s in
 * [max(0, next - cap), next); a reader's cursor below that window gets one
 * MMC_EV_LOST with the count it missed, then the oldest kept event.
 */
#include <stdlib.h>

#include "mmc_error.h"
#include "mmc_evring.h"

int mmc_evring_init(mmc_evring_t *r, uint64_t cap, mmc_error_t *err) {
  r->cap = cap ? cap : 1;
  r->next = 0;
  r->ev = calloc(r->cap, sizeof *r->ev);
  if (!r->ev)
    return mmc_fail(err, MMC_ENOMEM, "out of memory for %llu events", (unsigned long long)cap);
  if (pthread_mutex_init(&r->lock, NULL) != 0) {
    free(r->ev);
    r->ev = NULL;
    return mmc_fail(err, MMC_ENOMEM, "cannot initialise the event ring's lock");
  }
  return 0;
}

void mmc_evring_fini(mmc_evring_t *r) {
  if (!r->ev)
    return;
  pthread_mutex_destroy(&r->lock);
  free(r->ev);
  r->ev = NULL;
}

void mmc_evring_emit(mmc_evring_t *r, mmc_event_t ev, uint64_t now_ns) {
  pthread_mutex_lock(&r->lock);
  ev.seq = r->next++;
  ev.time_ns = now_ns;
  r->ev[ev.seq % r->cap] = ev;
  pthread_mutex_unlock(&r->lock);
}

size_t mmc_evring_read(mmc_evring_t *r, uint64_t *cursor, mmc_event_t *buf, size_t max,
                       uint64_t now_ns) {
  size_t n = 0;
  if (!cursor || !buf || max == 0)
    return 0;
  pthread_mutex_lock(&r->lock);
  uint64_t oldest = r->next > r->cap ? r->next - r->cap : 0;
  if (*cursor < oldest) {
    buf[n++] = (mmc_event_t){.seq = *cursor,
                             .time_ns = now_ns,
                             .type = MMC_EV_LOST,
                             .node_from = -1,
                             .node_to = -1,
                             .count = oldest - *cursor,
                             .reason = "reader fell behind"};
    *cursor = oldest;
  }
  while (n < max && *cursor < r->next)
    buf[n++] = r->ev[(*cursor)++ % r->cap];
  pthread_mutex_unlock(&r->lock);
  return n;
}

int mmc_evring_resize(mmc_evring_t *r, uint64_t cap, mmc_error_t *err) {
  mmc_event_t *ev = calloc(cap ? cap : 1, sizeof *ev);
  if (!ev)
    return mmc_fail(err, MMC_ENOMEM, "out of memory for %llu events", (unsigned long long)cap);
  cap = cap ? cap : 1;
  pthread_mutex_lock(&r->lock);
  uint64_t first = r->next > cap ? r->next - cap : 0;
  uint64_t old_first = r->next > r->cap ? r->next - r->cap : 0;
  for (uint64_t s = first > old_first ? first : old_first; s < r->next; s++)
    ev[s % cap] = r->ev[s % r->cap];
  mmc_event_t *old = r->ev;
  r->ev = ev;
  r->cap = cap;
  pthread_mutex_unlock(&r->lock);
  free(old);
  return 0;
}
