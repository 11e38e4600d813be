/*
 * mmc_clock.h — reading the kernel's clocks in nanoseconds, defined once:
 * CLOCK_MONOTONIC for deadlines and durations, a thread's CPU-time clock
 * for the CPU a vCPU thread consumed, a thread's CPU demand (what it ran
 * plus what it waited to run), and the timespec conversions a timed wait
 * needs. Header only (static inline); prefix mmc_.
 *
 * Conventions: times are uint64_t nanoseconds since the clock's epoch; a
 * clock that cannot be read reads as 0 (mmc_clock_ns) or says so
 * (mmc_thread_cpu_ns returns false).
 */
#ifndef MMC_CLOCK_H
#define MMC_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "mmc_units.h"

static inline uint64_t mmc_timespec_ns(const struct timespec *ts) {
  return (uint64_t)ts->tv_sec * MMC_NS_PER_S + (uint64_t)ts->tv_nsec;
}

static inline struct timespec mmc_ns_timespec(uint64_t ns) {
  return (struct timespec){.tv_sec = (time_t)(ns / MMC_NS_PER_S),
                           .tv_nsec = (long)(ns % MMC_NS_PER_S)};
}

/* The clock `id` now; 0 when it cannot be read. */
static inline uint64_t mmc_clock_ns(clockid_t id) {
  struct timespec ts;
  return clock_gettime(id, &ts) == 0 ? mmc_timespec_ns(&ts) : 0;
}

/* CLOCK_MONOTONIC now: the clock of deadlines, durations and timed waits. */
static inline uint64_t mmc_mono_ns(void) {
  return mmc_clock_ns(CLOCK_MONOTONIC);
}

/* The CPU time thread `tid` of this process has consumed. Linux encodes a
 * thread's CPU clock as a clockid (what pthread_getcpuclockid builds:
 * ~tid << 3 | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED), so a thread known only
 * by its tid (a vCPU thread, read by the clock thread) can be measured.
 * false when the thread is gone. */
static inline bool mmc_thread_cpu_ns(pid_t tid, uint64_t *out) {
  struct timespec ts;
  if (clock_gettime((clockid_t)((~(unsigned)tid << 3) | 6u), &ts) != 0)
    return false;
  *out = mmc_timespec_ns(&ts);
  return true;
}

/* The CPU thread `tid` of this process asked for: the time it ran plus the
 * time it waited runnable in a run queue, as the scheduler accounts it
 * (/proc/self/task/TID/schedstat, its first two fields; kernels built
 * without CONFIG_SCHED_INFO lack the file). This is a vCPU's demand in the
 * sense a hypervisor's NUMA scheduler balances by: what it would use were
 * no other thread in its way. Its CPU time alone is what the machine
 * granted, which falls as the machine gets busier: a rebalancer fed with
 * it would see two vCPUs fighting for one core as one core's load. false
 * when the kernel does not account it or the thread is gone. */
static inline bool mmc_thread_demand_ns(pid_t tid, uint64_t *out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
  FILE *f = fopen(path, "re");
  if (!f)
    return false;
  unsigned long long run = 0, wait = 0;
  int got = fscanf(f, "%llu %llu", &run, &wait);
  fclose(f);
  if (got != 2)
    return false;
  *out = (uint64_t)(run + wait);
  return true;
}

#endif
