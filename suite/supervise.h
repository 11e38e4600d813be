/*
 * supervise.h — the processes mmcert starts to run code it does not trust
 * (prefix suite_sup_): a case, the preflight, a benchmark, the inspection of
 * an implementation object, the reading of a topology file. The parent never
 * calls into an implementation and never parses an hwloc XML file itself;
 * what goes wrong in a child (a crash, a hang, garbage on its pipe) ends that
 * child, and the parent reports it.
 *
 * Rules, each for a failure seen from outside (a run killed with SIGKILL
 * left its case running under init; helpers an implementation moved out of
 * the case's process group outlived every run; interrupted runs left swap
 * files of guest data in $TMPDIR):
 *  1. Every child gets PR_SET_PDEATHSIG(SIGKILL): it dies with mmcert, even
 *     when mmcert is killed with SIGKILL.
 *  2. mmcert is a child subreaper (PR_SET_CHILD_SUBREAPER): a process a child
 *     started that outlives it is re-parented to mmcert, not to init. After
 *     each child mmcert kills and reaps every such descendant, and reports
 *     the ones that had left the child's process group ("escaped": a timeout
 *     or the end of the case would not have reached them).
 *  3. Each child runs in its own process group (a timeout kills all of it)
 *     with a private $TMPDIR, a directory in mmcert's run directory that is
 *     removed when the child ends, however it ends, after the machine state
 *     it borrowed (common/borrow.c: KSM, swap files it swapped on) is given
 *     back.
 *  4. The run directory, $TMPDIR/mmcert-run-<pid>-XXXXXX (TMPDIR as given,
 *     else /tmp), holds a file "lock" that mmcert keeps flock()ed for its
 *     life (its children share the lock). It is removed at exit and on INT,
 *     TERM, HUP and PIPE (after the running child's group is killed and
 *     reaped and borrowed state given back); mmcert then dies of the same
 *     signal. A later mmcert removes
 *     every mmcert-run-* directory of its user whose lock it can take: its
 *     owner is gone (SIGKILL, power loss).
 * What is not covered: a descendant that escaped the process group while
 * mmcert itself is killed with SIGKILL (it goes to init; the next run does
 * not look for processes, only for directories).
 */
#ifndef SUITE_SUPERVISE_H
#define SUITE_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

#include "mmc_error.h"

/* At the start of mmcert run and bench: subreaper, signal handlers, and
 * the sweep of dead runs' directories (each removed one is named on
 * stderr); idempotent. A command with handlers of its own (qualify) does
 * not call it: its children still die with it, are reaped, and have their
 * directory removed at exit. */
void suite_sup_start(void);

/* fork(2) for a child of mmcert: in the child, PR_SET_PDEATHSIG(SIGKILL)
 * (it exits at once if mmcert is already gone) and the default action for
 * the signals mmcert catches. stdio is flushed first. */
pid_t suite_sup_fork(void);

/* A child's work: write to fd what the parent's consume() reads; never
 * returns (_exit). */
typedef void (*suite_sup_child_fn)(void *arg, int fd);
/* The parent side of the pipe: take what it can from buf[0..len), say how
 * much in *used (the rest is offered again with more); -1 when the stream is
 * malformed (the child is then not read any more). */
typedef int (*suite_sup_consume_fn)(void *ctx, const unsigned char *buf, size_t len, size_t *used);

typedef struct suite_sup_job {
  const char *what;         /* "case NUMA-1": for reports */
  suite_sup_child_fn child; /* runs in the child */
  void *arg;
  suite_sup_consume_fn consume; /* runs in the parent as bytes arrive */
  void *ctx;
  double timeout_s;   /* <= 0: none */
  bool stdout_to_err; /* the child's stdout goes to stderr (stdout is TAP) */
  /* When set and it becomes non-zero (a command's own signal handler), the
   * child is ended as at a timeout; NULL: only the deadline ends it. */
  const volatile sig_atomic_t *stop;
} suite_sup_job_t;

typedef struct suite_sup_end {
  int status;        /* wait status; -1 when the child could not be started */
  bool timed_out;    /* killed (with its group) at the deadline */
  bool malformed;    /* consume() refused what it sent */
  double duration_s; /* start to end, monotonic */
  char error[256];   /* why it could not be started */
  char escaped[512]; /* descendants that had left its process group: "pid 12 (sleep), ..." */
  unsigned nescaped; /* how many (all killed and reaped) */
} suite_sup_end_t;

/* Start the job's child, feed what it writes to consume() until it exits or
 * the deadline passes, kill its group, reap it and every descendant left,
 * remove its $TMPDIR. 0, or -1 when it could not be started (end->error). */
int suite_sup_run(const suite_sup_job_t *job, suite_sup_end_t *end);

/* Seconds the inspection of an object or the reading of a topology file may
 * take: MMCERT_LOAD_TIMEOUT (seconds, > 0), else 30. */
double suite_sup_load_timeout(void);

#endif
