/*
 * machine_state.h — for tests that look at machine-wide kernel state (swap
 * areas, KSM knobs): the kernel's own list of swap areas, and a quiet
 * machine to compare knobs on.
 *
 * Several `make check` may run at once on a shared machine (other
 * worktrees), and any mmcert run may borrow KSM or swap meanwhile
 * (common/borrow.c). A test that compares a knob before and after must hold
 * machine_quiet(): an exclusive flock on tests.lock in the borrow directory
 * (the same one `flock` takes in tests/cli/borrow.t), and no borrow open by
 * anyone (no borrow.state), waited for with a deadline. false: the machine
 * stayed busy; the test skips rather than compare someone else's values.
 */
#ifndef TEST_MACHINE_STATE_H
#define TEST_MACHINE_STATE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline bool proc_swaps_has(const char *needle) {
  char buf[8192];
  FILE *f = fopen("/proc/swaps", "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

/* Hold until the process ends (the lock goes with it). A second call keeps
 * the lock it has: flock on a new descriptor would wait for our own.
 * wait false: one try, no waiting (a test that can do without). */
static inline bool machine_quiet_wait(bool wait) {
  static int held = -1;
  const char *dir = getenv("MMCERT_BORROW_DIR");
  char lock[512], state[512];
  dir = dir && *dir ? dir : "/run/mmcert";
  mkdir(dir, 0755);
  snprintf(lock, sizeof lock, "%s/tests.lock", dir);
  snprintf(state, sizeof state, "%s/borrow.state", dir);
  struct timespec ms = {0, 10000000};
  int fd = held;
  if (fd < 0) {
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int locked = -1;
    for (int i = 0; fd >= 0 && (locked = flock(fd, LOCK_EX | LOCK_NB)) != 0 && wait && i < 30000;
         i++)
      nanosleep(&ms, NULL); /* up to 5 minutes: another make check's machine tests */
    if (locked != 0) {
      if (fd >= 0)
        close(fd);
      return false;
    }
    held = fd;
  }
  for (int i = 0; wait && i < 6000 && access(state, F_OK) == 0; i++)
    nanosleep(&ms, NULL); /* up to a minute: a borrow of someone's run */
  return access(state, F_OK) != 0;
}

/* Whether anyone's borrow is open now (the state file exists). */
static inline bool machine_borrowed_now(void) {
  const char *dir = getenv("MMCERT_BORROW_DIR");
  char state[512];
  snprintf(state, sizeof state, "%s/borrow.state", dir && *dir ? dir : "/run/mmcert");
  return access(state, F_OK) == 0;
}

static inline bool machine_quiet(void) {
  return machine_quiet_wait(true);
}
static inline bool machine_quiet_now(void) {
  return machine_quiet_wait(false);
}

#endif
