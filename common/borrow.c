/*
 * borrow.c — machine-wide kernel state borrowed and given back (see
 * mmc_borrow.h for what and why).
 *
 * The protocol, one step at a time:
 *  1. Every operation opens borrow.lock afresh and takes flock(LOCK_EX) on
 *     it (a fresh open file description each time, so threads of one
 *     process exclude each other too), reads borrow.state, changes it,
 *     writes it back whole (temporary file + rename) and only then touches
 *     the kernel, so a crash at any point leaves a state that says what to
 *     undo.
 *  2. An owner is (pid, start time of the process, copy): the start time
 *     tells a reused pid from its owner; the copy (the address of this
 *     module's static state) tells apart the static copies of this file
 *     that mmcert and a dlopen()ed implementation each link.
 *  3. Before anything else, every operation prunes: owners that are dead
 *     (or of an earlier boot) go, their swap files are swapped off and
 *     removed, and when no owner is left every recorded knob is written
 *     back in the reverse order of recording, then forgotten.
 *  4. A knob is recorded once, by its first borrower; later borrowers
 *     write it without recording, and its original comes back when the
 *     last owner is gone.
 *
 * Invariants:
 *  - the state file is never absent while a knob differs from its recorded
 *    original or a recorded swap file exists (recorded before, forgotten
 *    after);
 *  - the code that runs from signal handlers (release, prune, restore) uses
 *    only system calls and this file's own string helpers: no stdio, no
 *    malloc, no locks other than flock with a deadline;
 *  - ksm/merge_across_nodes can only be written while KSM holds no pages:
 *    restoring it on EBUSY first writes 2 to ksm/run (unmerge everything),
 *    and run itself, recorded first, is restored after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <time.h>
#include <unistd.h>

#include "mmc_borrow.h"
#include "mmc_error.h"

#define BR_MAX 64
#define BR_PATH 256
#define BR_FILE_MAX 32768
#define BR_BOOT 48
#define BR_LOCK_WAIT_MS 30000
#define BR_SIGNAL_LOCK_WAIT_MS 2000
#define BR_DEFAULT_DIR "/run/mmcert"

typedef enum br_kind { BR_OWNER = 1, BR_KNOB = 2, BR_SWAP = 3 } br_kind_t;

/* One line of the state file. */
typedef struct br_entry {
  int kind;                 /* br_kind_t */
  long pid;                 /* OWNER, SWAP: the owner */
  unsigned long long start; /* OWNER, SWAP: the owner's start time (clock ticks since boot) */
  unsigned long long copy;  /* OWNER, SWAP: which static copy of this module */
  char path[BR_PATH];       /* KNOB, SWAP */
  char value[MMC_BORROW_VALUE_MAX]; /* KNOB: the original value */
} br_entry_t;

typedef struct br_state {
  char boot[BR_BOOT]; /* boot id the state was written under */
  int n;
  br_entry_t e[BR_MAX];
} br_state_t;

/* This copy's own state. `refs` counts nested begins of this process. */
static struct {
  pthread_mutex_t mu;
  int refs;
  long pid;
  unsigned long long start;
  int hooks_installed;
  char dir[BR_PATH];
  struct sigaction old[4];
} me = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const int caught_signals[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* ---------------------------------------------------------------- strings (AS-safe) */

typedef struct sb {
  char *p;
  size_t len, cap;
  int over;
} sb_t;

static void sb_str(sb_t *b, const char *s) {
  while (*s) {
    if (b->len + 1 >= b->cap) {
      b->over = 1;
      break;
    }
    b->p[b->len++] = *s++;
  }
  b->p[b->len] = '\0';
}

static void sb_u64(sb_t *b, unsigned long long v) {
  char d[24];
  int i = (int)sizeof d - 1;
  d[i] = '\0';
  do {
    d[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v && i > 0);
  sb_str(b, d + i);
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n) {
  size_t k = n < cap - 1 ? n : cap - 1;
  memcpy(dst, src, k);
  dst[k] = '\0';
}

/* Parse an unsigned decimal at *s, moving *s past it and one space. */
static unsigned long long parse_u64(const char **s) {
  unsigned long long v = 0;
  while (**s >= '0' && **s <= '9')
    v = v * 10 + (unsigned long long)(*(*s)++ - '0');
  if (**s == ' ')
    (*s)++;
  return v;
}

static int path_join(char *out, size_t cap, const char *dir, const char *name) {
  sb_t b = {out, 0, cap, 0};
  sb_str(&b, dir);
  sb_str(&b, "/");
  sb_str(&b, name);
  return b.over ? -1 : 0;
}

/* ---------------------------------------------------------------- small I/O (AS-safe) */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Read a whole small file; -1 with errno on failure. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t got = 0;
  while (got + 1 < cap) {
    ssize_t r = read(fd, buf + got, cap - 1 - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  int e = errno;
  close(fd);
  errno = e;
  buf[got] = '\0';
  return (ssize_t)got;
}

/* Write `value` to a sysfs/procfs knob in one write(2); -1 with errno. */
static int write_knob(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* as `echo v > knob` */
  if (fd < 0)
    return -1;
  size_t n = strlen(value);
  ssize_t w = write(fd, value, n);
  int e = errno;
  close(fd);
  errno = e;
  return w == (ssize_t)n ? 0 : -1;
}

/* The knob's value as recorded: without the newline, or the bracketed
 * choice of a list. */
static int read_knob(const char *path, char *out, size_t cap) {
  char buf[512];
  if (read_small(path, buf, sizeof buf) < 0)
    return -1;
  const char *lb = strchr(buf, '['), *rb = lb ? strchr(lb, ']') : NULL;
  if (lb && rb) {
    copy_str(out, cap, lb + 1, (size_t)(rb - lb - 1));
    return 0;
  }
  copy_str(out, cap, buf, strcspn(buf, "\n"));
  return 0;
}

static void boot_id(char *out, size_t cap) {
  char buf[BR_BOOT];
  if (read_small("/proc/sys/kernel/random/boot_id", buf, sizeof buf) < 0)
    buf[0] = '\0';
  copy_str(out, cap, buf, strcspn(buf, "\n"));
}

/* Start time of process `pid` (field 22 of /proc/PID/stat); 0 when gone. */
static unsigned long long proc_start(long pid) {
  char path[64], buf[1024];
  sb_t b = {path, 0, sizeof path, 0};
  sb_str(&b, "/proc/");
  sb_u64(&b, (unsigned long long)pid);
  sb_str(&b, "/stat");
  if (read_small(path, buf, sizeof buf) <= 0)
    return 0;
  const char *s = strrchr(buf, ')');
  if (!s)
    return 0;
  /* ") S ppid ..." : field 3 is the state; field 22 is 19 spaces later. */
  s += 2;
  for (int field = 3; field < 22 && *s; s++)
    if (*s == ' ')
      field++;
  return parse_u64(&s);
}

static int owner_alive(long pid, unsigned long long start) {
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
    return 0;
  return proc_start(pid) == start;
}

/* ---------------------------------------------------------------- the state file */

static const char *state_dir(void) {
  return me.dir[0] ? me.dir : BR_DEFAULT_DIR;
}

/* Fill me.dir from the environment (getenv is not AS-safe: never called
 * from a handler, which uses the last value). */
static void init_dir(void) {
  if (me.refs > 0 && me.dir[0])
    return; /* an open borrow keeps its directory */
  const char *d = getenv("MMCERT_BORROW_DIR");
  copy_str(me.dir, sizeof me.dir, d && *d ? d : BR_DEFAULT_DIR,
           strlen(d && *d ? d : BR_DEFAULT_DIR));
}

const char *mmc_borrow_dir(void) {
  init_dir();
  return state_dir();
}

static void parse_line(br_state_t *st, const char *s) {
  if (st->n >= BR_MAX)
    return;
  br_entry_t *e = &st->e[st->n];
  memset(e, 0, sizeof *e);
  if (!strncmp(s, "boot ", 5)) {
    copy_str(st->boot, sizeof st->boot, s + 5, strlen(s + 5));
    return;
  }
  if (!strncmp(s, "owner ", 6) || !strncmp(s, "swap ", 5)) {
    e->kind = s[0] == 'o' ? BR_OWNER : BR_SWAP;
    s += e->kind == BR_OWNER ? 6 : 5;
    e->pid = (long)parse_u64(&s);
    e->start = parse_u64(&s);
    e->copy = parse_u64(&s);
    if (e->kind == BR_SWAP)
      copy_str(e->path, sizeof e->path, s, strlen(s));
  } else if (!strncmp(s, "knob ", 5)) {
    const char *tab = strchr(s + 5, '\t');
    if (!tab)
      return;
    e->kind = BR_KNOB;
    copy_str(e->path, sizeof e->path, s + 5, (size_t)(tab - s - 5));
    copy_str(e->value, sizeof e->value, tab + 1, strlen(tab + 1));
  } else {
    return; /* header or an unknown line */
  }
  st->n++;
}

/* Load the state (an absent file is an empty state). */
static int load(br_state_t *st, char *file) {
  char path[BR_PATH];
  memset(st, 0, sizeof *st);
  if (path_join(path, sizeof path, state_dir(), "borrow.state"))
    return -1;
  ssize_t n = read_small(path, file, BR_FILE_MAX);
  if (n < 0)
    return errno == ENOENT ? 0 : -1;
  for (char *line = file; *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    parse_line(st, line);
    if (!nl)
      break;
    line = nl + 1;
  }
  return 0;
}

static void format_entry(sb_t *b, const br_entry_t *e) {
  if (e->kind == BR_KNOB) {
    sb_str(b, "knob ");
    sb_str(b, e->path);
    sb_str(b, "\t");
    sb_str(b, e->value);
  } else {
    sb_str(b, e->kind == BR_OWNER ? "owner " : "swap ");
    sb_u64(b, (unsigned long long)e->pid);
    sb_str(b, " ");
    sb_u64(b, e->start);
    sb_str(b, " ");
    sb_u64(b, e->copy);
    if (e->kind == BR_SWAP) {
      sb_str(b, " ");
      sb_str(b, e->path);
    }
  }
  sb_str(b, "\n");
}

/* Write the state whole (temporary file, fsync, rename); an empty state
 * removes the file, and a temporary file an owner killed mid-write left
 * (every save holds the lock, so none is being written now). */
static int save(const br_state_t *st, char *file) {
  char path[BR_PATH], tmp[BR_PATH];
  if (path_join(path, sizeof path, state_dir(), "borrow.state") ||
      path_join(tmp, sizeof tmp, state_dir(), "borrow.state.tmp"))
    return -1;
  if (st->n == 0) {
    unlink(tmp);
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
  }
  sb_t b = {file, 0, BR_FILE_MAX, 0};
  sb_str(&b, "mmcert-borrow 1\n# machine state borrowed by mmcert (common/borrow.c)\nboot ");
  sb_str(&b, st->boot);
  sb_str(&b, "\n");
  for (int i = 0; i < st->n; i++)
    format_entry(&b, &st->e[i]);
  if (b.over) {
    errno = ENOSPC;
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  ssize_t w = write(fd, file, b.len);
  int ok = w == (ssize_t)b.len && fsync(fd) == 0;
  int e = errno;
  close(fd);
  if (!ok || rename(tmp, path) != 0) {
    errno = ok ? errno : e;
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int lock_state(long wait_ms) {
  char path[BR_PATH];
  if (path_join(path, sizeof path, state_dir(), "borrow.lock"))
    return -1;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  for (long waited = 0;; waited++) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
      return fd;
    if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= wait_ms) {
      int e = errno;
      close(fd);
      errno = e == EWOULDBLOCK ? ETIMEDOUT : e;
      return -1;
    }
    sleep_ms(1);
  }
}

static void unlock_state(int fd) {
  flock(fd, LOCK_UN);
  close(fd);
}

static void remove_entry(br_state_t *st, int i) {
  memmove(&st->e[i], &st->e[i + 1], (size_t)(st->n - i - 1) * sizeof st->e[0]);
  st->n--;
}

static int find_knob(const br_state_t *st, const char *path) {
  for (int i = 0; i < st->n; i++)
    if (st->e[i].kind == BR_KNOB && !strcmp(st->e[i].path, path))
      return i;
  return -1;
}

static int owner_listed(const br_state_t *st, long pid, unsigned long long start,
                        unsigned long long copy) {
  for (int i = 0; i < st->n; i++)
    if (st->e[i].kind == BR_OWNER && st->e[i].pid == pid && st->e[i].start == start &&
        st->e[i].copy == copy)
      return 1;
  return 0;
}

/* ---------------------------------------------------------------- undoing */

/* Append "name" to a report list. */
static void note(sb_t *what, const char *path) {
  if (!what)
    return;
  const char *slash = strrchr(path, '/');
  if (what->len)
    sb_str(what, ", ");
  sb_str(what, slash ? slash + 1 : path);
}

static int restore_knob(const br_entry_t *e) {
  if (write_knob(e->path, e->value) == 0)
    return 0;
  static const char mac[] = "ksm/merge_across_nodes";
  size_t pl = strlen(e->path), ml = sizeof mac - 1;
  if (errno != EBUSY || pl < ml || strcmp(e->path + pl - ml, mac))
    return -1;
  /* KSM still holds pages: unmerge them all, then the knob can change. */
  char run[BR_PATH];
  copy_str(run, sizeof run, e->path, pl - strlen("merge_across_nodes"));
  sb_t b = {run, strlen(run), sizeof run, 0};
  sb_str(&b, "run");
  write_knob(run, "2");
  return write_knob(e->path, e->value);
}

static void drop_swap(const br_entry_t *e, int same_boot) {
  if (same_boot)
    swapoff(e->path); /* EINVAL: it was never on; nothing else to do */
  unlink(e->path);
}

/* Step 3 of the protocol: dead owners go, then their swap files, then (no
 * owner left) the knobs. Returns how many things were undone. */
static unsigned prune(br_state_t *st, sb_t *what) {
  char boot[BR_BOOT];
  boot_id(boot, sizeof boot);
  int same_boot = st->boot[0] == '\0' || !strcmp(st->boot, boot);
  unsigned undone = 0;
  for (int i = st->n - 1; i >= 0; i--)
    if (st->e[i].kind == BR_OWNER && (!same_boot || !owner_alive(st->e[i].pid, st->e[i].start)))
      remove_entry(st, i);
  for (int i = st->n - 1; i >= 0; i--) {
    br_entry_t *e = &st->e[i];
    if (e->kind == BR_SWAP && !owner_listed(st, e->pid, e->start, e->copy)) {
      drop_swap(e, same_boot);
      note(what, e->path);
      undone++;
      remove_entry(st, i);
    }
  }
  int owners = 0;
  for (int i = 0; i < st->n; i++)
    owners += st->e[i].kind == BR_OWNER;
  for (int i = st->n - 1; !owners && i >= 0; i--) {
    if (st->e[i].kind != BR_KNOB)
      continue;
    if (same_boot && restore_knob(&st->e[i]) == 0) {
      note(what, st->e[i].path);
      undone++;
    }
    remove_entry(st, i);
  }
  copy_str(st->boot, sizeof st->boot, boot, strlen(boot));
  return undone;
}

/* This owner leaves: its swap files go, then prune. No stdio, no malloc:
 * also the signal path. */
static void release_self(long wait_ms) {
  static char file[BR_FILE_MAX]; /* one release at a time: the flock serialises */
  br_state_t st;
  int fd = lock_state(wait_ms);
  if (load(&st, file) != 0) {
    if (fd >= 0)
      unlock_state(fd);
    return;
  }
  unsigned long long copy = (unsigned long long)(uintptr_t)&me;
  for (int i = st.n - 1; i >= 0; i--) {
    br_entry_t *e = &st.e[i];
    if (e->pid != me.pid || e->start != me.start || e->copy != copy)
      continue;
    if (e->kind == BR_SWAP)
      drop_swap(e, 1);
    if (e->kind == BR_SWAP || e->kind == BR_OWNER)
      remove_entry(&st, i);
  }
  prune(&st, NULL);
  save(&st, file);
  if (fd >= 0)
    unlock_state(fd);
}

static void on_signal(int sig) {
  int saved = errno;
  if (me.refs > 0 && me.pid == (long)getpid()) {
    me.refs = 0;
    release_self(BR_SIGNAL_LOCK_WAIT_MS);
  }
  for (int i = 0; i < 4; i++)
    if (caught_signals[i] == sig)
      sigaction(sig, &me.old[i], NULL);
  errno = saved;
  raise(sig);
}

static void at_exit(void) {
  pthread_mutex_lock(&me.mu);
  if (me.refs > 0 && me.pid == (long)getpid()) {
    me.refs = 0;
    release_self(BR_LOCK_WAIT_MS);
  }
  pthread_mutex_unlock(&me.mu);
}

/* A forked child is not an owner: it starts with no borrow of its own. */
static void at_fork_child(void) {
  me.refs = 0;
  me.pid = 0;
  pthread_mutex_init(&me.mu, NULL);
}

static void install_hooks(void) {
  if (me.hooks_installed)
    return;
  me.hooks_installed = 1;
  atexit(at_exit);
  pthread_atfork(NULL, NULL, at_fork_child);
  for (int i = 0; i < 4; i++) {
    struct sigaction sa, old;
    if (sigaction(caught_signals[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
      continue; /* an ignored signal ends nothing: leave it ignored */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    me.old[i] = old;
    sigaction(caught_signals[i], &sa, NULL);
  }
}

/* ---------------------------------------------------------------- the API */

static int io_fail(mmc_error_t *err, const char *what, const char *path) {
  int e = errno;
  return mmc_fail(err, MMC_EIO, "%s %s: %s%s", what, path, strerror(e),
                  e == EACCES || e == EPERM ? " (changing machine state needs root)" : "");
}

/* mkdir -p of the state directory (a minimal root, as an initramfs, may
 * have no /run yet). */
static int ensure_dir(mmc_error_t *err) {
  init_dir();
  char path[BR_PATH];
  copy_str(path, sizeof path, state_dir(), strlen(state_dir()));
  for (char *s = path + 1;; s++) {
    char c = *s;
    if (c != '/' && c != '\0')
      continue;
    *s = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
      return io_fail(err, "cannot create the borrow state directory", path);
    *s = c;
    if (!c)
      return 0;
  }
}

/* Run `op` on the loaded, pruned state under the lock, then save. */
typedef int (*br_op_t)(br_state_t *st, void *arg, mmc_error_t *err);

static int with_state(br_op_t op, void *arg, mmc_error_t *err) {
  static char file[BR_FILE_MAX]; /* under the flock: one user at a time */
  int rc = ensure_dir(err);
  if (rc)
    return rc;
  int fd = lock_state(BR_LOCK_WAIT_MS);
  if (fd < 0)
    return io_fail(err, "cannot lock", state_dir());
  br_state_t st;
  if (load(&st, file) != 0) {
    unlock_state(fd);
    return io_fail(err, "cannot read the borrow state in", state_dir());
  }
  prune(&st, NULL);
  rc = op(&st, arg, err);
  if (save(&st, file) != 0 && rc == 0)
    rc = io_fail(err, "cannot write the borrow state in", state_dir());
  unlock_state(fd);
  return rc;
}

static int add_owner(br_state_t *st, void *arg, mmc_error_t *err) {
  (void)arg;
  if (st->n >= BR_MAX)
    return mmc_fail(err, MMC_ENOMEM, "borrow state is full (%d entries)", BR_MAX);
  st->e[st->n++] = (br_entry_t){.kind = BR_OWNER,
                                .pid = me.pid,
                                .start = me.start,
                                .copy = (unsigned long long)(uintptr_t)&me};
  return 0;
}

int mmc_borrow_begin(mmc_error_t *err) {
  pthread_mutex_lock(&me.mu);
  if (me.pid != (long)getpid())
    me.refs = 0;
  int rc = 0;
  if (me.refs == 0) {
    me.pid = (long)getpid();
    me.start = proc_start(me.pid);
    rc = with_state(add_owner, NULL, err);
    if (rc == 0)
      install_hooks();
  }
  if (rc == 0)
    me.refs++;
  pthread_mutex_unlock(&me.mu);
  return rc;
}

void mmc_borrow_end(void) {
  pthread_mutex_lock(&me.mu);
  if (me.refs > 0 && me.pid == (long)getpid() && --me.refs == 0)
    release_self(BR_LOCK_WAIT_MS);
  pthread_mutex_unlock(&me.mu);
}

static int knob_allowed(const char *path) {
  static const char *const prefixes[] = {"/sys/kernel/mm/ksm/", "/sys/module/zswap/parameters/",
                                         "/sys/kernel/mm/transparent_hugepage/"};
  if (strstr(path, "/../") || strlen(path) >= BR_PATH || strchr(path, '\t') || strchr(path, '\n'))
    return 0;
  if (!strcmp(path, "/proc/sys/kernel/numa_balancing"))
    return 1;
  /* a DAMON kdamond's state only (on/off), none of its parameters */
  static const char damon[] = "/sys/kernel/mm/damon/admin/kdamonds/", state[] = "/state";
  size_t pl = strlen(path), sl = sizeof state - 1;
  if (!strncmp(path, damon, sizeof damon - 1) && pl > sl && !strcmp(path + pl - sl, state))
    return 1;
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (!strncmp(path, prefixes[i], strlen(prefixes[i])))
      return 1;
  const char *test = getenv("MMCERT_BORROW_DIR");
  size_t tl = test ? strlen(test) : 0;
  return tl && !strncmp(path, test, tl) && path[tl] == '/';
}

typedef struct knob_arg {
  const char *path, *value;
} knob_arg_t;

static int record_and_write(br_state_t *st, void *arg, mmc_error_t *err) {
  knob_arg_t *k = arg;
  int added = -1;
  if (find_knob(st, k->path) < 0) {
    if (st->n >= BR_MAX)
      return mmc_fail(err, MMC_ENOMEM, "borrow state is full (%d entries)", BR_MAX);
    br_entry_t *e = &st->e[st->n];
    *e = (br_entry_t){.kind = BR_KNOB};
    copy_str(e->path, sizeof e->path, k->path, strlen(k->path));
    if (read_knob(k->path, e->value, sizeof e->value) != 0)
      return io_fail(err, "cannot read", k->path);
    added = st->n++;
  }
  /* Recorded on disk before the kernel sees the new value. */
  char file[BR_FILE_MAX];
  if (added >= 0 && save(st, file) != 0)
    return io_fail(err, "cannot write the borrow state in", state_dir());
  if (write_knob(k->path, k->value) != 0) {
    int rc = io_fail(err, "cannot write", k->path);
    mmc_error_prefix(err, "value \"%s\"", k->value);
    if (added >= 0)
      remove_entry(st, added);
    return rc;
  }
  return 0;
}

int mmc_borrow_knob(const char *path, const char *value, mmc_error_t *err) {
  if (!path || !value || !knob_allowed(path))
    return mmc_fail(err, MMC_EINVAL,
                    "%s is not a knob mmcert may borrow (KSM, zswap, numa_balancing, "
                    "transparent_hugepage, a DAMON kdamond's state)",
                    path ? path : "(null)");
  pthread_mutex_lock(&me.mu);
  int open_borrow = me.refs > 0 && me.pid == (long)getpid();
  pthread_mutex_unlock(&me.mu);
  if (!open_borrow)
    return mmc_fail(err, MMC_ESTATE, "borrowing %s outside mmc_borrow_begin/end", path);
  knob_arg_t k = {path, value};
  return with_state(record_and_write, &k, err);
}

int mmc_borrow_read(const char *path, char *buf, size_t len, mmc_error_t *err) {
  if (read_knob(path, buf, len) != 0)
    return io_fail(err, "cannot read", path);
  return 0;
}

static int add_swap(br_state_t *st, void *arg, mmc_error_t *err) {
  const char *path = arg;
  if (st->n >= BR_MAX)
    return mmc_fail(err, MMC_ENOMEM, "borrow state is full (%d entries)", BR_MAX);
  br_entry_t *e = &st->e[st->n++];
  *e = (br_entry_t){.kind = BR_SWAP,
                    .pid = me.pid,
                    .start = me.start,
                    .copy = (unsigned long long)(uintptr_t)&me};
  copy_str(e->path, sizeof e->path, path, strlen(path));
  return 0;
}

static int find_own_swap(const br_state_t *st, const char *path) {
  for (int i = 0; i < st->n; i++)
    if (st->e[i].kind == BR_SWAP && !strcmp(st->e[i].path, path) && st->e[i].pid == me.pid &&
        st->e[i].copy == (unsigned long long)(uintptr_t)&me)
      return i;
  return -1;
}

int mmc_borrow_swap_add(const char *path, mmc_error_t *err) {
  if (!path || path[0] != '/' || strlen(path) >= BR_PATH || strchr(path, '\n'))
    return mmc_fail(err, MMC_EINVAL, "swap file path \"%s\" must be absolute, one line, < %d bytes",
                    path ? path : "(null)", BR_PATH);
  pthread_mutex_lock(&me.mu);
  int open_borrow = me.refs > 0 && me.pid == (long)getpid();
  pthread_mutex_unlock(&me.mu);
  if (!open_borrow)
    return mmc_fail(err, MMC_ESTATE, "recording swap file %s outside mmc_borrow_begin/end", path);
  return with_state(add_swap, (void *)path, err);
}

typedef struct swapon_arg {
  const char *path;
  int prio;
} swapon_arg_t;

static int do_swapon(br_state_t *st, void *arg, mmc_error_t *err) {
  swapon_arg_t *a = arg;
  if (find_own_swap(st, a->path) < 0)
    return mmc_fail(err, MMC_EINVAL, "swapon %s: not recorded by mmc_borrow_swap_add", a->path);
  int flags = SWAP_FLAG_PREFER | ((a->prio << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK);
  if (swapon(a->path, flags) != 0)
    return io_fail(err, "swapon", a->path);
  return 0;
}

int mmc_borrow_swapon(const char *path, int prio, mmc_error_t *err) {
  if (prio < 0 || prio > 32767)
    return mmc_fail(err, MMC_EINVAL, "swap priority %d is out of range 0..32767", prio);
  swapon_arg_t a = {path, prio};
  return with_state(do_swapon, &a, err);
}

static int do_swap_remove(br_state_t *st, void *arg, mmc_error_t *err) {
  const char *path = arg;
  int i = find_own_swap(st, path);
  if (i < 0)
    return mmc_fail(err, MMC_EINVAL, "swap file %s was not recorded by this process", path);
  if (swapoff(path) != 0 && errno != EINVAL)
    return io_fail(err, "swapoff", path); /* still recorded: the next run retries */
  if (unlink(path) != 0 && errno != ENOENT)
    return io_fail(err, "cannot remove", path);
  remove_entry(st, i);
  return 0;
}

int mmc_borrow_swap_remove(const char *path, mmc_error_t *err) {
  return with_state(do_swap_remove, (void *)path, err);
}

int mmc_borrow_recover(unsigned *restored, char *what, size_t whatlen, mmc_error_t *err) {
  static char file[BR_FILE_MAX];
  char path[BR_PATH];
  if (restored)
    *restored = 0;
  if (what && whatlen)
    what[0] = '\0';
  init_dir();
  if (path_join(path, sizeof path, state_dir(), "borrow.state") || access(path, F_OK) != 0)
    return 0; /* nothing borrowed: the common case costs one access(2) */
  int fd = lock_state(BR_LOCK_WAIT_MS);
  if (fd < 0)
    return io_fail(err, "cannot lock", state_dir());
  br_state_t st;
  int rc = 0;
  if (load(&st, file) != 0) {
    rc = io_fail(err, "cannot read the borrow state in", state_dir());
  } else {
    sb_t b = {what, 0, whatlen, 0};
    unsigned n = prune(&st, what && whatlen ? &b : NULL);
    if (restored)
      *restored = n;
    if (save(&st, file) != 0)
      rc = io_fail(err, "cannot write the borrow state in", state_dir());
  }
  unlock_state(fd);
  return rc;
}
