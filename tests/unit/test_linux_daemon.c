/*
 * test_linux_daemon.c — the Linux implementation's daemon thread and its
 * lock (host.c, lx.h "Locking"): a job that outlasts its period runs back
 * to back with h->lock held, so without let_callers_in a control call
 * waiting in lx_lock would wait until the jobs stopped (seen in the TCG
 * guest: vm_reconfigure waited minutes). The tests run the real daemon on
 * a host holding only what the daemon reads (lock, condition variables,
 * clock, settings, jobs), with a job of their own in place of the kernel
 * observations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lx.h"
#include "test_util.h"

/* Longer than the period (Linux.ObservePeriod at its minimum, 10 ms): the
 * job is due again the moment it returns. */
#define SLOW_JOB_US 30000
/* A job that never stopped would starve a caller for good; this many runs
 * and it returns at once, so a broken lock fails the test instead of
 * hanging it. */
#define SLOW_JOB_RUNS_MAX 100
/* Without the yield the caller still wins some races for the mutex (the
 * daemon lets it go for an instant between runs): many calls, so that a
 * daemon that stopped yielding loses at least one. */
#define CALLS 30

static atomic_uint runs;

static void slow_job(lx_host_t *h, uint64_t now) {
  (void)h;
  (void)now;
  if (atomic_fetch_add(&runs, 1) < SLOW_JOB_RUNS_MAX)
    usleep(SLOW_JOB_US); /* h->lock held, as the kernel observations hold it */
}

static lx_host_t *daemon_host(void) {
  lx_host_t *h = calloc(1, sizeof *h);
  assert_non_null(h);
  mmc_error_t err = {0};
  assert_int_equal(lx_host_sync_init(h, &err), 0);
  clock_gettime(CLOCK_MONOTONIC, &h->t0);
  for (int i = 0; i < LX_SET_COUNT; i++)
    h->set[i] = lx_setting_def((lx_setting_id_t)i)->def[LX_PROFILE_ESXI67];
  h->set[LX_SET_OBSERVE_PERIOD] = lx_setting_def(LX_SET_OBSERVE_PERIOD)->min;
  h->jobs[0] = (lx_job_t){.name = "slow", .period = LX_SET_OBSERVE_PERIOD, .run = slow_job};
  h->njobs = 1;
  atomic_store(&runs, 0);
  assert_int_equal(lx_daemon_start(h, &err), 0);
  return h;
}

static void daemon_host_free(lx_host_t *h) {
  lx_daemon_stop(h);
  pthread_mutex_destroy(&h->lock);
  pthread_cond_destroy(&h->wake);
  pthread_cond_destroy(&h->callers_gone);
  free(h);
}

static void wait_for_runs(unsigned n) {
  while (atomic_load(&runs) < n)
    usleep(1000);
}

/* A control call gets the lock before the daemon's next job: at most the
 * run under way when it asked finishes first. */
static void control_call_goes_before_the_next_job(void **state) {
  (void)state;
  lx_host_t *h = daemon_host();
  for (int k = 0; k < CALLS; k++) {
    wait_for_runs(atomic_load(&runs) + 2); /* back to back by now */
    unsigned asked = atomic_load(&runs);
    lx_lock(h);
    unsigned got = atomic_load(&runs);
    lx_unlock(h);
    if (got > asked + 1)
      fail_msg("call %d: the daemon ran its job %u more times while a control call waited "
               "(at most 1: the run under way)",
               k, got - asked);
  }
  daemon_host_free(h);
}

/* The other way round: a caller taking the lock again and again, without
 * pause, does not keep the jobs out for good (LX_YIELD_MAX_NS). */
static void jobs_still_run_under_a_polling_caller(void **state) {
  (void)state;
  lx_host_t *h = daemon_host();
  wait_for_runs(1);
  unsigned before = atomic_load(&runs);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    lx_lock(h);
    lx_unlock(h);
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000000L);
  unsigned after = atomic_load(&runs);
  daemon_host_free(h);
  if (after <= before)
    fail_msg("the job never ran in 1 s of a caller polling the lock");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(control_call_goes_before_the_next_job),
      cmocka_unit_test(jobs_still_run_under_a_polling_caller),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
