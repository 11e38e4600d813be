/*
 * supervise.c — mmcert's children (see supervise.h for the rules and what
 * each answers).
 *
 * A child is watched with poll() on its pipe and on a pidfd, against a
 * deadline, never with sleep. When it ends: its process group is killed,
 * it is reaped, then every process re-parented to mmcert (the subreaper)
 * is killed and reaped until none is left; those not in the child's group
 * are reported as escaped. Its private $TMPDIR is removed last, when nothing
 * can write there any more.
 *
 * Removal of a directory tree uses openat/getdents64/unlinkat only, so the
 * same code runs in a signal handler (async-signal-safe: no malloc, no
 * stdio).
 */
#include "supervise.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mmc_borrow.h"
#include "mmc_tmpdir.h"
#include "runner.h"

enum { LOAD_TIMEOUT_S = 30, RM_DEPTH = 24, ESCAPE_ROUNDS = 64 };

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
static const char RUN_PREFIX[] = "mmcert-run-";

/* The child running now: an interrupted mmcert takes its group along. */
static volatile sig_atomic_t current_child;
/* The run directory, made with the first child: its parent directory (open,
 * so a signal handler can remove it) and its name there. */
static int tmp_fd = -1;
static char run_name[NAME_MAX + 1];
static char run_path[PATH_MAX];
static int lock_fd = -1;
static pid_t owner; /* mmcert itself: a child never removes the run directory */
static unsigned children_made;

/* ------------------------------------------------------------ removal */

struct dirent64_raw {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Remove `name` in directory `dfd`, whatever it is; async-signal-safe. */
static void rm_tree_at(int dfd, const char *name, int depth) {
  if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT || depth > RM_DEPTH)
    return;
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return;
  char buf[2048] __attribute__((aligned(8)));
  /* Entries removed while reading may be skipped: read again until a pass
   * finds nothing (bounded). */
  for (int pass = 0; pass < 8; pass++) {
    bool any = false;
    lseek(fd, 0, SEEK_SET);
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
      for (long off = 0; off < n;) {
        struct dirent64_raw *e = (struct dirent64_raw *)(buf + off);
        off += e->d_reclen;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
          continue;
        any = true;
        rm_tree_at(fd, e->d_name, depth + 1);
      }
    if (!any)
      break;
  }
  close(fd);
  unlinkat(dfd, name, AT_REMOVEDIR);
}

static void remove_run_dir(void) {
  if (tmp_fd < 0 || !run_name[0] || getpid() != owner)
    return;
  rm_tree_at(tmp_fd, run_name, 0);
  run_name[0] = '\0';
}

/* ------------------------------------------------------------ signals */

static void on_fatal_signal(int sig) {
  pid_t pid = (pid_t)current_child;
  if (pid > 0) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  /* A swap file the child swapped on may be in the run directory: off
   * first (borrow.c's recovery is safe in a signal handler), then remove. */
  mmc_borrow_recover(NULL, NULL, 0, NULL);
  remove_run_dir();
  raise(sig); /* SA_RESETHAND restored the default action */
}

static void set_handlers(void (*handler)(int)) {
  struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESETHAND};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
    sigaction(fatal_signals[i], &sa, NULL);
}

/* ------------------------------------------------------------ leftovers */

/* Is the run that made directory `name` (in dfd) gone? Its lock is free;
 * a directory without a lock (killed between mkdtemp and flock) is judged
 * by the pid in its name. */
static bool owner_gone(int dfd, const char *name) {
  int lfd = openat(dfd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (lfd >= 0) {
    bool free_lock = flock(lfd, LOCK_EX | LOCK_NB) == 0;
    close(lfd);
    return free_lock;
  }
  long pid = strtol(name + sizeof RUN_PREFIX - 1, NULL, 10);
  return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Remove the run directories of this user whose owner is gone. */
static void sweep(const char *base) {
  DIR *d = opendir(base);
  if (!d)
    return;
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, RUN_PREFIX, sizeof RUN_PREFIX - 1))
      continue;
    int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
      continue;
    bool mine = fstat(fd, &st) == 0 && st.st_uid == geteuid();
    bool gone = mine && owner_gone(fd, e->d_name);
    close(fd);
    if (!gone)
      continue;
    rm_tree_at(dirfd(d), e->d_name, 0);
    fprintf(stderr,
            "mmcert: removed %s/%s, left by an earlier mmcert that did not end cleanly "
            "(killed?)\n",
            base, e->d_name);
  }
  closedir(d);
}

/* What every child needs: mmcert the subreaper, its run directory removed
 * at exit. */
static void init_basic(void) {
  if (owner)
    return;
  owner = getpid();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  atexit(remove_run_dir);
}

void suite_sup_start(void) {
  static bool started;
  if (started)
    return;
  started = true;
  init_basic();
  set_handlers(on_fatal_signal);
  sweep(mmc_tmpdir());
}

/* The run directory, made on first use: 0, or -1 with errno. */
static int make_run_dir(void) {
  if (run_name[0])
    return 0;
  init_basic();
  const char *base = mmc_tmpdir();
  snprintf(run_path, sizeof run_path, "%s/%s%ld-XXXXXX", base, RUN_PREFIX, (long)getpid());
  if (!mkdtemp(run_path))
    return -1;
  char lock[PATH_MAX + 8];
  snprintf(lock, sizeof lock, "%s/lock", run_path);
  lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0)
    return -1;
  if (tmp_fd < 0)
    tmp_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  snprintf(run_name, sizeof run_name, "%s", strrchr(run_path, '/') + 1);
  return tmp_fd < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ children */

pid_t suite_sup_fork(void) {
  pid_t parent = getpid();
  fflush(NULL); /* nothing buffered may be printed twice */
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) /* mmcert died before the line above */
    _exit(127);
  set_handlers(SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  return 0;
}

double suite_sup_load_timeout(void) {
  const char *e = getenv("MMCERT_LOAD_TIMEOUT");
  char *end;
  double t = e ? strtod(e, &end) : 0;
  return e && end != e && !*end && t > 0 ? t : LOAD_TIMEOUT_S;
}

/* The processes whose parent is mmcert, with their group and command. */
typedef struct kid {
  pid_t pid, pgid;
  char comm[32];
} kid_t;

static size_t list_children(kid_t *kids, size_t max) {
  DIR *d = opendir("/proc");
  size_t n = 0;
  pid_t me = getpid();
  for (struct dirent *e; d && n < max && (e = readdir(d));) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    char path[300], line[512];
    snprintf(path, sizeof path, "/proc/%.255s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    size_t len = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[len] = '\0';
    /* pid (comm) state ppid pgrp: comm may hold spaces and ')'. */
    char *lp = strchr(line, '('), *rp = strrchr(line, ')');
    int ppid = 0, pgrp = 0;
    char state;
    if (!lp || !rp || sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || ppid != me)
      continue;
    kids[n] = (kid_t){.pid = (pid_t)atoi(line), .pgid = pgrp};
    snprintf(kids[n].comm, sizeof kids[n].comm, "%.*s", (int)(rp - lp - 1), lp + 1);
    n++;
  }
  if (d)
    closedir(d);
  return n;
}

/* Kill and reap every process re-parented to mmcert; name those that were
 * outside `group` (escaped) in end->escaped. Members of the killed group
 * that are not mmcert's children yet (their parent is dying too) are waited
 * for with a deadline: their own children come to mmcert when they go. */
static void reap_descendants(pid_t group, suite_sup_end_t *end) {
  double deadline = suite_mono_now() + 2;
  for (int round = 0; round < ESCAPE_ROUNDS; round++) {
    while (waitpid(-1, NULL, WNOHANG) > 0) /* zombies of the killed group */
      ;
    kid_t kids[64];
    size_t n = list_children(kids, 64);
    if (!n) {
      if (kill(-group, 0) != 0 || suite_mono_now() > deadline)
        return;
      nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); /* polled, with a deadline */
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      if (kids[i].pgid != group) {
        size_t o = strlen(end->escaped);
        snprintf(end->escaped + o, sizeof end->escaped - o, "%spid %d (%s)", o ? ", " : "",
                 (int)kids[i].pid, kids[i].comm);
        end->nescaped++;
      }
      kill(kids[i].pid, SIGKILL);
    }
    for (size_t i = 0; i < n; i++)
      while (waitpid(kids[i].pid, NULL, 0) < 0 && errno == EINTR)
        ;
  }
}

typedef struct reader {
  unsigned char *buf;
  size_t len, cap;
} reader_t;

enum { READ_DATA, READ_EOF, READ_AGAIN, READ_ERROR };

/* Append what the pipe holds. */
static int read_some(int fd, reader_t *r) {
  if (r->cap - r->len < 65536) {
    size_t ncap = r->cap * 2 + 65536;
    unsigned char *n = realloc(r->buf, ncap);
    if (!n)
      abort(); /* the parent itself is out of memory: nothing sensible is left */
    r->buf = n;
    r->cap = ncap;
  }
  ssize_t n = read(fd, r->buf + r->len, r->cap - r->len);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN ? READ_AGAIN : READ_ERROR;
  r->len += (size_t)n;
  return n == 0 ? READ_EOF : READ_DATA;
}

/* Offer what is buffered to consume(); keep what it did not take. */
static int offer(const suite_sup_job_t *job, reader_t *r) {
  size_t used = 0;
  if (r->len && job->consume(job->ctx, r->buf, r->len, &used) != 0)
    return -1;
  memmove(r->buf, r->buf + used, r->len - used);
  r->len -= used;
  return 0;
}

static _Noreturn void child_start(const suite_sup_job_t *job, int fd, const char *tmp) {
  setpgid(0, 0);
  if (tmp[0])
    setenv("TMPDIR", tmp, 1);
  if (job->stdout_to_err)
    dup2(STDERR_FILENO, STDOUT_FILENO);
  job->child(job->arg, fd);
  _exit(0); /* child functions do not return; if one does, it said all */
}

/* Read the child until it exits or the deadline passes. */
static void watch(const suite_sup_job_t *job, pid_t pid, int rfd, double t0, suite_sup_end_t *end) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  reader_t r = {0};
  bool pipe_open = true, exited = false;
  while (!exited) {
    double left = job->timeout_s > 0 ? t0 + job->timeout_s - suite_mono_now() : 3600;
    if (left <= 0) {
      end->timed_out = true;
      break;
    }
    if (job->stop && *job->stop)
      break; /* the command was interrupted: end the child now */
    struct pollfd fds[2] = {{.fd = pipe_open ? rfd : -1, .events = POLLIN},
                            {.fd = pidfd, .events = POLLIN}};
    if (poll(fds, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
      break; /* cannot watch it any more: end it */
    if (pipe_open && fds[0].revents) {
      int rr = read_some(rfd, &r);
      pipe_open = rr != READ_EOF && rr != READ_ERROR;
      if (offer(job, &r) != 0)
        pipe_open = false, end->malformed = true;
    }
    exited = pidfd >= 0 ? fds[1].revents != 0 : !pipe_open; /* no pidfd: EOF ends it */
  }
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, &end->status, 0) < 0 && errno == EINTR)
    ;
  current_child = 0;
  /* What it wrote before it ended is still in the pipe. Non-blocking: a
   * process that escaped the group may still hold the write end. */
  fcntl(rfd, F_SETFL, O_NONBLOCK);
  while (pipe_open && !end->malformed && read_some(rfd, &r) == READ_DATA)
    if (offer(job, &r) != 0)
      end->malformed = true;
  if (!end->malformed && offer(job, &r) != 0)
    end->malformed = true;
  free(r.buf);
  if (pidfd >= 0)
    close(pidfd);
}

/* Machine state (KSM, swap files, ...) a killed child borrowed cannot be
 * given back by it: do it now, before its files go (a swap file still on
 * must be swapped off by its path), so the next child starts from the
 * machine's own state (common/borrow.c). */
static void give_back_borrowed(const char *what) {
  unsigned n = 0;
  char list[256];
  mmc_error_t err = {0};
  if (mmc_borrow_recover(&n, list, sizeof list, &err) != 0)
    fprintf(stderr, "mmcert: %s: %s\n", what, err.msg);
  else if (n)
    fprintf(stderr, "mmcert: %s ended with machine state borrowed; given back: %s\n", what, list);
}

int suite_sup_run(const suite_sup_job_t *job, suite_sup_end_t *end) {
  *end = (suite_sup_end_t){.status = -1};
  char tmp[PATH_MAX + 32] = "";
  if (make_run_dir() == 0) {
    snprintf(tmp, sizeof tmp, "%s/%u", run_path, ++children_made);
    if (mkdir(tmp, 0700) != 0)
      tmp[0] = '\0';
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    snprintf(end->error, sizeof end->error, "pipe: %s", strerror(errno));
    return -1;
  }
  double t0 = suite_mono_now();
  pid_t pid = suite_sup_fork();
  if (pid < 0) {
    snprintf(end->error, sizeof end->error, "fork: %s", strerror(errno));
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[0]);
    child_start(job, p[1], tmp);
  }
  setpgid(pid, pid); /* also done by the child: whichever runs first wins */
  current_child = pid;
  close(p[1]);
  watch(job, pid, p[0], t0, end);
  close(p[0]);
  reap_descendants(pid, end);
  give_back_borrowed(job->what ? job->what : "a child");
  if (tmp[0])
    rm_tree_at(AT_FDCWD, tmp, 0);
  end->duration_s = suite_mono_now() - t0;
  return 0;
}
