/*
 * test_borrow.c — common/borrow.c: machine state borrowed and given back.
 *
 * Most tests run on knob files of a temporary MMCERT_BORROW_DIR (the module
 * accepts knobs there for tests), so they need no root and touch nothing of
 * the machine: recorded before the first change, restored by the last
 * owner, by a SIGTERM handler, and by the next process after a SIGKILL; a
 * state of an earlier boot clears without writing knobs; paths outside the
 * allowed knobs are refused. As root, one test does it for real: a KSM knob
 * and a swap file swapped on, the borrower killed with SIGKILL, and the next
 * run's recovery restores the knob and swaps the file off (/proc/swaps).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "machine_state.h"

#include "mmc_borrow.h"
#include "test_util.h"

static char dir[256], knob[300], swapfile[300];

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static const char *get(const char *path) {
  static char buf[256];
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (f) {
    if (!fgets(buf, sizeof buf, f))
      buf[0] = '\0';
    fclose(f);
  }
  buf[strcspn(buf, "\n")] = '\0';
  return buf;
}

static bool state_exists(void) {
  char p[300];
  snprintf(p, sizeof p, "%s/borrow.state", dir);
  return access(p, F_OK) == 0;
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "%s/mmcert-borrow-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir))
    return -1;
  setenv("MMCERT_BORROW_DIR", dir, 1);
  snprintf(knob, sizeof knob, "%s/knob", dir);
  snprintf(swapfile, sizeof swapfile, "%s/vm1.swap", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int each(void **state) {
  (void)state;
  put(knob, "5\n");
  unlink(swapfile);
  return 0;
}

static void recorded_then_restored(void **state) {
  (void)state;
  mmc_error_t err = {0};
  assert_int_equal(mmc_borrow_begin(&err), 0);
  assert_int_equal(mmc_borrow_knob(knob, "7", &err), 0);
  assert_string_equal(get(knob), "7");
  assert_true(state_exists());
  assert_int_equal(mmc_borrow_knob(knob, "8", &err), 0); /* recorded once: 5 stays the original */
  mmc_borrow_end();
  assert_string_equal(get(knob), "5");
  assert_false(state_exists());
}

static void bracketed_choice(void **state) {
  (void)state;
  put(knob, "always [madvise] never\n");
  char v[64];
  assert_int_equal(mmc_borrow_read(knob, v, sizeof v, NULL), 0);
  assert_string_equal(v, "madvise");
  assert_int_equal(mmc_borrow_begin(NULL), 0);
  assert_int_equal(mmc_borrow_knob(knob, "never", NULL), 0);
  mmc_borrow_end();
  assert_string_equal(get(knob), "madvise");
}

static void nested_and_refused(void **state) {
  (void)state;
  mmc_error_t err = {0};
  assert_int_equal(mmc_borrow_knob(knob, "7", &err), MMC_ESTATE); /* no borrow open */
  assert_int_equal(mmc_borrow_begin(&err), 0);
  assert_int_equal(mmc_borrow_begin(&err), 0);
  assert_int_equal(mmc_borrow_knob("/etc/hostname", "x", &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "/etc/hostname"));
  assert_int_equal(mmc_borrow_knob(knob, "7", &err), 0);
  mmc_borrow_end();
  assert_string_equal(get(knob), "7"); /* one begin still open */
  mmc_borrow_end();
  assert_string_equal(get(knob), "5");
}

/* A child that borrows the knob (and records the swap file), says so on
 * `ready`, then waits to be killed or told to end. */
static pid_t borrower(const char *value, bool with_file, int *ready_fd, int *go_fd) {
  int ready[2], go[2];
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(go), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    close(go[1]);
    char ok = mmc_borrow_begin(NULL) == 0 && mmc_borrow_knob(knob, value, NULL) == 0;
    if (with_file && ok) {
      ok = mmc_borrow_swap_add(swapfile, NULL) == 0;
      put(swapfile, "not really swap");
    }
    if (write(ready[1], &ok, 1) != 1)
      _exit(2);
    char c;
    while (read(go[0], &c, 1) < 0 && errno == EINTR) {
    }
    mmc_borrow_end();
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  char ok = 0;
  assert_int_equal(read(ready[0], &ok, 1), 1);
  assert_true(ok);
  *ready_fd = ready[0];
  *go_fd = go[1];
  return pid;
}

static void two_owners_last_restores(void **state) {
  (void)state;
  int r, g;
  pid_t child = borrower("9", false, &r, &g);
  assert_int_equal(mmc_borrow_begin(NULL), 0);
  assert_int_equal(mmc_borrow_knob(knob, "8", NULL), 0);
  mmc_borrow_end();
  assert_string_equal(get(knob), "8"); /* the child still owns it */
  close(g);                            /* the child ends its borrow */
  int status;
  waitpid(child, &status, 0);
  close(r);
  assert_string_equal(get(knob), "5");
}

static void sigkill_restored_by_the_next(void **state) {
  (void)state;
  int r, g;
  pid_t child = borrower("9", true, &r, &g);
  kill(child, SIGKILL);
  int status;
  waitpid(child, &status, 0);
  close(r);
  close(g);
  assert_string_equal(get(knob), "9"); /* nobody restored it: the premise */
  assert_int_equal(access(swapfile, F_OK), 0);
  unsigned restored = 0;
  char what[256];
  mmc_error_t err = {0};
  assert_int_equal(mmc_borrow_recover(&restored, what, sizeof what, &err), 0);
  assert_string_equal(get(knob), "5");
  assert_int_equal(access(swapfile, F_OK), -1);
  assert_int_equal(restored, 2);
  assert_non_null(strstr(what, "knob"));
  assert_non_null(strstr(what, "vm1.swap"));
  assert_false(state_exists());
}

static void sigterm_restores_in_the_handler(void **state) {
  (void)state;
  int r, g;
  pid_t child = borrower("9", false, &r, &g);
  kill(child, SIGTERM);
  int status;
  waitpid(child, &status, 0);
  close(r);
  close(g);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  assert_string_equal(get(knob), "5");
  assert_false(state_exists());
}

static void earlier_boot_clears_without_writing(void **state) {
  (void)state;
  char path[300], text[1024];
  snprintf(path, sizeof path, "%s/borrow.state", dir);
  put(swapfile, "left by a run before the reboot");
  snprintf(text, sizeof text,
           "mmcert-borrow 1\nboot 00000000-old-boot\nowner %d 1 1\nknob %s\t3\nswap %d 1 1 %s\n",
           (int)getpid(), knob, (int)getpid(), swapfile);
  put(path, text);
  assert_int_equal(mmc_borrow_recover(NULL, NULL, 0, NULL), 0);
  assert_string_equal(get(knob), "5"); /* the reboot reset the knob: not written */
  assert_int_equal(access(swapfile, F_OK), -1);
  assert_false(state_exists());
}

static void state_directory_made_with_parents(void **state) {
  (void)state;
  char deep[300], saved[256];
  snprintf(saved, sizeof saved, "%s", getenv("MMCERT_BORROW_DIR"));
  snprintf(deep, sizeof deep, "%s/run/mmcert", dir); /* an initramfs has no /run */
  setenv("MMCERT_BORROW_DIR", deep, 1);
  mmc_error_t err = {0};
  int rc = mmc_borrow_begin(&err);
  mmc_borrow_end();
  setenv("MMCERT_BORROW_DIR", saved, 1);
  assert_int_equal(rc, 0);
  struct stat st;
  assert_int_equal(stat(deep, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
}

/* ---- as root: a real KSM knob and a real swap file */

static void make_swap_file(const char *path, unsigned pages) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(fallocate(fd, 0, 0, (off_t)pages * 4096), 0);
  unsigned char hdr[4096] = {0};
  uint32_t version = 1, last = pages - 1;
  memcpy(hdr + 1024, &version, 4);
  memcpy(hdr + 1028, &last, 4);
  memcpy(hdr + 4096 - 10, "SWAPSPACE2", 10);
  assert_int_equal(pwrite(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
  close(fd);
}

static void real_knob_and_swap_after_sigkill(void **state) {
  (void)state;
  const char *ksm = "/sys/kernel/mm/ksm/pages_to_scan";
  if (geteuid() != 0 || access(ksm, W_OK) != 0 || access("/proc/swaps", F_OK) != 0)
    test_skip("the machine's KSM and swap need root and a kernel with both");
  char saved_env[256];
  snprintf(saved_env, sizeof saved_env, "%s", getenv("MMCERT_BORROW_DIR"));
  unsetenv("MMCERT_BORROW_DIR"); /* the machine's own state: others see this borrow */
  if (!machine_quiet()) {
    setenv("MMCERT_BORROW_DIR", saved_env, 1);
    test_skip("another run holds tests.lock or an open borrow: the machine is not quiet");
  }
  char before[64], path[300];
  assert_int_equal(mmc_borrow_read(ksm, before, sizeof before, NULL), 0);
  snprintf(path, sizeof path, "%s/real.swap", saved_env);
  const char *odd = strcmp(before, "123") ? "123" : "124";
  pid_t pid = fork();
  if (pid == 0) {
    bool ok = mmc_borrow_begin(NULL) == 0 && mmc_borrow_knob(ksm, odd, NULL) == 0 &&
              mmc_borrow_swap_add(path, NULL) == 0;
    if (ok) {
      make_swap_file(path, 64);
      ok = mmc_borrow_swapon(path, 5, NULL) == 0;
    }
    kill(getpid(), ok ? SIGKILL : SIGABRT); /* dies with its borrow open */
    _exit(3);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  char now[64];
  assert_int_equal(mmc_borrow_read(ksm, now, sizeof now, NULL), 0);
  bool premise = !strcmp(now, odd) && proc_swaps_has("real.swap");
  unsigned restored = 0;
  assert_int_equal(mmc_borrow_recover(&restored, NULL, 0, NULL), 0);
  /* tests.lock keeps out other tests, not other runs: a borrow someone
   * opened meanwhile keeps the knob as they set it until the last owner
   * goes, so only the swap file's removal is judged then. */
  bool others = machine_borrowed_now();
  assert_int_equal(mmc_borrow_read(ksm, now, sizeof now, NULL), 0);
  others |= machine_borrowed_now();
  setenv("MMCERT_BORROW_DIR", saved_env, 1);
  assert_true(premise); /* the kill left them changed */
  assert_false(proc_swaps_has("real.swap"));
  assert_int_equal(access(path, F_OK), -1);
  if (others) {
    test_skip("another run's borrow is open: the knob is not compared");
  }
  assert_string_equal(now, before);
  assert_true(restored >= 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(recorded_then_restored, each),
      cmocka_unit_test_setup(bracketed_choice, each),
      cmocka_unit_test_setup(nested_and_refused, each),
      cmocka_unit_test_setup(two_owners_last_restores, each),
      cmocka_unit_test_setup(sigkill_restored_by_the_next, each),
      cmocka_unit_test_setup(sigterm_restores_in_the_handler, each),
      cmocka_unit_test_setup(earlier_boot_clears_without_writing, each),
      cmocka_unit_test_setup(state_directory_made_with_parents, each),
      cmocka_unit_test_setup(real_knob_and_swap_after_sigkill, each),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
