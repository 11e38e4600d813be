/*
 * test_perf.c — the perf_event probes (suite/probes/perf.c): software
 * counters give real readings (minor faults after touching N new pages are
 * at least N, a thread blocked on a pipe context-switches, task clock
 * advances), on a given thread and on the whole process including threads
 * started later; hardware events either read a value or are unsupported
 * with a reason naming the errno (this machine has no PMU); unknown names
 * are refused; the reason texts for every refusal class say which; a case
 * using sc_perf_begin/sc_perf_end records perf.* metrics (readings, or
 * unsupported with the reason in TAP and JSON).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "probes/perf.h"
#include "results.h"
#include "runner.h"
#include "test_util.h"

#include "suite_run_util.h" /* the reference (libmmref.a) run in memory */

enum { TOUCH_PAGES = 512 };

static const perf_probe_reading_t *find(const perf_probe_reading_t *r, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(r[i].name, name))
      return &r[i];
  fail_msg("event %s not in the readings", name);
  return NULL;
}

/* Touch `npages` pages never touched before: each is one minor fault. */
static void touch_new_pages(size_t npages) {
  long page = sysconf(_SC_PAGESIZE);
  char *buf =
      mmap(NULL, npages * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(buf != MAP_FAILED);
  for (size_t i = 0; i < npages; i++)
    buf[i * (size_t)page] = 1;
  munmap(buf, npages * (size_t)page);
}

/* A worker thread: tells its tid, waits for a byte, touches pages, waits
 * for a second byte (blocking on a pipe is a voluntary context switch). */
typedef struct worker {
  int go[2];
  int done[2];
  pid_t tid;
} worker_t;

static void *worker_main(void *arg) {
  worker_t *w = arg;
  char b;
  w->tid = (pid_t)syscall(SYS_gettid);
  if (write(w->done[1], "t", 1) != 1 || read(w->go[0], &b, 1) != 1)
    return NULL;
  touch_new_pages(TOUCH_PAGES);
  if (write(w->done[1], "d", 1) != 1 || read(w->go[0], &b, 1) != 1)
    return NULL;
  return NULL;
}

static void wait_byte(int fd) {
  char b;
  assert_int_equal(read(fd, &b, 1), 1);
}

static void test_software_on_thread(void **state) {
  (void)state;
  worker_t w;
  pthread_t th;
  assert_int_equal(pipe(w.go), 0);
  assert_int_equal(pipe(w.done), 0);
  assert_int_equal(pthread_create(&th, NULL, worker_main, &w), 0);
  wait_byte(w.done[0]); /* tid is set, the worker now blocks on go */
  perf_probe_t *p = NULL;
  mmc_error_t err = {0};
  assert_int_equal(perf_probe_open(&p, NULL, 0, &w.tid, 1, &err), 0);
  assert_int_equal(write(w.go[1], "g", 1), 1);
  wait_byte(w.done[0]); /* pages touched */
  size_t n = perf_probe_count(p);
  perf_probe_reading_t *r = calloc(n, sizeof *r);
  perf_probe_read(p, r);
  const perf_probe_reading_t *minor = find(r, n, "minor-faults");
  const perf_probe_reading_t *all = find(r, n, "page-faults");
  const perf_probe_reading_t *cs = find(r, n, "context-switches");
  const perf_probe_reading_t *clk = find(r, n, "task-clock");
  assert_true(minor->supported);
  assert_true(minor->value >= TOUCH_PAGES);
  assert_true(all->supported && all->value >= minor->value);
  assert_true(cs->supported && cs->value >= 1); /* it blocked on the pipe */
  assert_true(clk->supported && clk->value > 0);
  assert_string_equal(clk->unit, "ns");
  /* The main thread's own faults are not the worker's. */
  uint64_t before = minor->value;
  touch_new_pages(TOUCH_PAGES);
  perf_probe_read(p, r);
  assert_true(find(r, n, "minor-faults")->value < before + TOUCH_PAGES);
  assert_int_equal(write(w.go[1], "g", 1), 1);
  pthread_join(th, NULL);
  free(r);
  perf_probe_close(p);
  close(w.go[0]), close(w.go[1]), close(w.done[0]), close(w.done[1]);
}

static void *toucher(void *arg) {
  (void)arg;
  touch_new_pages(TOUCH_PAGES);
  return NULL;
}

static void test_whole_process_inherits(void **state) {
  (void)state;
  const char *names[] = {"minor-faults", "task-clock"};
  perf_probe_t *p = NULL;
  mmc_error_t err = {0};
  assert_int_equal(perf_probe_open(&p, names, 2, NULL, 0, &err), 0);
  assert_int_equal(perf_probe_count(p), 2);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, toucher, NULL), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL); /* an exited thread's counts join its parent's counter */
  perf_probe_reading_t r[2];
  perf_probe_read(p, r);
  assert_true(r[0].supported);
  assert_true(r[0].value >= 2 * TOUCH_PAGES);
  assert_true(r[1].supported && r[1].value > 0);
  perf_probe_close(p);
}

static bool have_cpu_pmu(void) {
  struct stat st;
  return stat("/sys/bus/event_source/devices/cpu", &st) == 0;
}

/* Hardware events: a value, or unsupported with a reason naming the errno
 * (on this machine, without a PMU, always the latter). */
static void test_hardware_value_or_reason(void **state) {
  (void)state;
  perf_probe_t *p = NULL;
  mmc_error_t err = {0};
  assert_int_equal(perf_probe_open(&p, NULL, 0, NULL, 0, &err), 0);
  size_t n = perf_probe_count(p), hw = 0;
  perf_probe_reading_t *r = calloc(n, sizeof *r);
  touch_new_pages(16);
  perf_probe_read(p, r);
  for (size_t i = 0; i < n; i++) {
    if (r[i].kind == PERF_PROBE_SOFTWARE) {
      assert_true(r[i].supported);
      continue;
    }
    hw++;
    if (r[i].supported) {
      print_message("# %s = %llu\n", r[i].name, (unsigned long long)r[i].value);
      if (!strcmp(r[i].name, "cycles") || !strcmp(r[i].name, "instructions"))
        assert_true(r[i].value > 0);
      continue;
    }
    print_message("# %s unsupported: %s\n", r[i].name, r[i].reason);
    assert_true(r[i].reason[0] != '\0');
    assert_true(r[i].value == 0);
    assert_non_null(strchr(r[i].reason, '(')); /* "ENOENT (No such file...)" */
    if (!have_cpu_pmu())
      assert_non_null(strstr(r[i].reason, "no hardware PMU"));
  }
  assert_int_equal(hw, 5);
  if (!have_cpu_pmu())
    assert_false(find(r, n, "cycles")->supported);
  free(r);
  perf_probe_close(p);
}

static void test_unknown_names_refused(void **state) {
  (void)state;
  mmc_error_t err = {0};
  perf_probe_t *p = (perf_probe_t *)&err; /* must be reset to NULL */
  const char *bad[] = {"minor-faults", "cyclez"};
  assert_int_equal(perf_probe_open(&p, bad, 2, NULL, 0, &err), MMC_EINVAL);
  assert_null(p);
  assert_non_null(strstr(err.msg, "unknown event 'cyclez'"));
  assert_non_null(strstr(err.msg, "node-load-misses")); /* lists the built-ins */
  assert_int_equal(perf_probe_check_name("node-loads", &err), 0);
  int rc = perf_probe_check_name("pfm:NO_SUCH_EVENT_XYZ", &err);
  assert_int_equal(rc, MMC_EINVAL);
  assert_non_null(strstr(err.msg, "NO_SUCH_EVENT_XYZ"));
#if !MMCERT_HAVE_LIBPFM
  assert_non_null(strstr(err.msg, "libpfm4"));
#endif
}

static void test_reason_texts(void **state) {
  (void)state;
  char b[PERF_PROBE_REASON_MAX];
  perf_probe_reason(ENOENT, PERF_PROBE_HARDWARE, 2, true, "software tracepoint", b, sizeof b);
  assert_non_null(strstr(b, "ENOENT"));
  assert_non_null(strstr(b, "no hardware PMU"));
  assert_non_null(strstr(b, "software tracepoint"));
  perf_probe_reason(EOPNOTSUPP, PERF_PROBE_CACHE, 2, true, NULL, b, sizeof b);
  assert_non_null(strstr(b, "EOPNOTSUPP"));
  assert_non_null(strstr(b, "no hardware PMU"));
  perf_probe_reason(EACCES, PERF_PROBE_SOFTWARE, 3, false, NULL, b, sizeof b);
  assert_non_null(strstr(b, "perf_event_paranoid is 3"));
  assert_non_null(strstr(b, "any unprivileged counter"));
  perf_probe_reason(EACCES, PERF_PROBE_HARDWARE, 2, false, NULL, b, sizeof b);
  assert_non_null(strstr(b, "perf_event_paranoid is 2"));
  assert_non_null(strstr(b, "kernel-side"));
  perf_probe_reason(EPERM, PERF_PROBE_HARDWARE, 1, true, NULL, b, sizeof b);
  assert_non_null(strstr(b, "EPERM"));
  assert_non_null(strstr(b, "no permission although perf_event_paranoid is 1"));
  perf_probe_reason(ESRCH, PERF_PROBE_SOFTWARE, 1, true, NULL, b, sizeof b);
  assert_non_null(strstr(b, "thread is gone"));
}

/* A thread that no longer exists: unsupported with ESRCH, not an error. */
static void test_gone_thread(void **state) {
  (void)state;
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0)
    _exit(0);
  waitpid(child, NULL, 0);
  const char *names[] = {"task-clock"};
  perf_probe_t *p = NULL;
  mmc_error_t err = {0};
  assert_int_equal(perf_probe_open(&p, names, 1, &child, 1, &err), 0);
  perf_probe_reading_t r;
  perf_probe_read(p, &r);
  assert_false(r.supported);
  assert_non_null(strstr(r.reason, "ESRCH"));
  perf_probe_close(p);
}

/* Really unprivileged under perf_event_paranoid 2: kernel-side counting is
 * refused, the probe falls back to user space and says so. Needs root to
 * drop to nobody in a child. */
static void test_unprivileged_user_only(void **state) {
  (void)state;
  if (geteuid() != 0 || perf_probe_paranoid() != 2)
    test_skip("needs root (to drop to nobody in a child) and perf_event_paranoid 2 (euid %u, "
              "paranoid %d)",
              (unsigned)geteuid(), perf_probe_paranoid());
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    char msg[PERF_PROBE_REASON_MAX + 8] = "setuid failed";
    if (setgid(65534) == 0 && setuid(65534) == 0) {
      const char *names[] = {"minor-faults"};
      perf_probe_t *p = NULL;
      mmc_error_t err = {0};
      perf_probe_reading_t r = {0};
      if (perf_probe_open(&p, names, 1, NULL, 0, &err) == 0) {
        touch_new_pages(TOUCH_PAGES);
        perf_probe_read(p, &r);
        snprintf(msg, sizeof msg, "%d %d %llu %s", r.supported, r.user_only,
                 (unsigned long long)r.value, r.reason);
      }
    }
    ssize_t w = write(fd[1], msg, strlen(msg) + 1);
    _exit(w > 0 ? 0 : 1);
  }
  close(fd[1]);
  char got[PERF_PROBE_REASON_MAX + 8] = "";
  ssize_t n = read(fd[0], got, sizeof got - 1);
  close(fd[0]);
  waitpid(child, NULL, 0);
  assert_true(n > 0);
  print_message("# unprivileged: %s\n", got);
  int sup = 0, user = 0;
  unsigned long long v = 0;
  assert_int_equal(sscanf(got, "%d %d %llu", &sup, &user, &v), 3);
  assert_int_equal(sup, 1);
  assert_int_equal(user, 1);
  assert_true(v >= TOUCH_PAGES);
  assert_non_null(strstr(got, "user space only (perf_event_paranoid 2)"));
}

/* ---- sc_perf through the runner: a case's threads become perf.* metrics */

static void *case_toucher(void *arg) {
  (void)arg;
  touch_new_pages(TOUCH_PAGES);
  return NULL;
}

static void perf_case(suite_ctx_t *c) {
  sc_perf_t *p = sc_perf_begin(c, NULL, 0); /* before the "vCPU" threads start */
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&th[i], NULL, case_toucher, NULL) != 0)
      sc_broken(c, "pthread_create");
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  sc_perf_end(c, p);
  sc_check(c, true, "ran", NULL);
}

static const suite_case_t perf_cases[] = {
    {.id = "T-PERF", .spec_ids = "", .title = "perf metrics", .timeout_s = 30, .run = perf_case},
    {0}};

static const suite_rec_t *metric(const suite_result_t *res, const char *name) {
  for (size_t i = 0; i < res->nrecs; i++)
    if (res->recs[i].kind == SUITE_REC_METRIC && !strcmp(res->recs[i].name, name))
      return &res->recs[i];
  fail_msg("metric %s not recorded", name);
  return NULL;
}

static void test_case_metrics(void **state) {
  (void)state;
  test_run_t r;
  test_run_init(&r, perf_cases);
  r.run.topology_spec = NULL;
  assert_int_equal(test_run_go(&r), SUITE_EXIT_OK);
  const suite_result_t *res = &r.run.results[0];
  const suite_rec_t *minor = metric(res, "perf.minor-faults");
  assert_string_equal(minor->text, ""); /* a reading */
  assert_string_equal(minor->unit, "faults");
  assert_true(minor->value >= 2 * TOUCH_PAGES);
  const suite_rec_t *cyc = metric(res, "perf.cycles");
  if (!have_cpu_pmu()) {
    assert_true(cyc->text[0] != '\0'); /* unsupported, with the reason */
    assert_non_null(strstr(r.out, "# metric perf.cycles unsupported: "));
    const suite_rec_t *frac = metric(res, "perf.remote_access_fraction");
    assert_non_null(strstr(frac->text, "node-loads: ENOENT"));
    json_t *doc = suite_results_json(&r.run);
    json_t *ms = json_object_get(json_array_get(json_object_get(doc, "cases"), 0), "metrics");
    bool seen = false;
    for (size_t i = 0; i < json_array_size(ms); i++) {
      json_t *m = json_array_get(ms, i);
      if (strcmp(json_string_value(json_object_get(m, "name")), "perf.cycles"))
        continue;
      seen = true;
      assert_true(json_is_null(json_object_get(m, "value")));
      assert_non_null(strstr(json_string_value(json_object_get(m, "unsupported")), "ENOENT"));
    }
    assert_true(seen);
    json_decref(doc);
  }
  test_run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_software_on_thread),
      cmocka_unit_test(test_whole_process_inherits),
      cmocka_unit_test(test_hardware_value_or_reason),
      cmocka_unit_test(test_unknown_names_refused),
      cmocka_unit_test(test_reason_texts),
      cmocka_unit_test(test_gone_thread),
      cmocka_unit_test(test_unprivileged_user_only),
      cmocka_unit_test(test_case_metrics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
