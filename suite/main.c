/*
 * main.c — the `mmcert` command: run, list, topology, bench, qualify, help,
 * --version (bad input: a message and exit 2).
 *
 * Every usage error is one line on stderr naming what was wrong and what is
 * allowed, then exit status 2 (SUITE_EXIT_USAGE), before anything is run or
 * written. stdout of `mmcert run` is pure TAP for prove.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "explain.h"
#include "mmc_borrow.h"
#include "mmc_error.h"
#include "qualify.h"
#include "results.h"
#include "runner.h"
#include "supervise.h"
#include "topology_load.h"

enum { MAX_REPEAT = 1000000, MAX_RUN_REPEAT = 1000 };
static const double MAX_TIMEOUT_SCALE = 1000.0;

static const char usage_text[] =
    "Usage: mmcert COMMAND [OPTION]...\n"
    "\n"
    "Commands:\n"
    "  run       run conformance cases against an implementation (TAP on stdout)\n"
    "  list      list the cases with their SPEC ids, needs, clock forms (stepped,\n"
    "            live), variants and titles, then those without a live-clock form and\n"
    "            why; list --spec lists the SPEC ids with the cases that judge them;\n"
    "            list --variants lists one row per variant (CASE/VARIANT)\n"
    "  explain   what a SPEC id states, its documented source, its settings, the cases\n"
    "            and checks that judge it: mmcert explain ID|GLOB... (doc/spec.md)\n"
    "  topology  print the topology a run would use\n"
    "  bench     run benchmarks: mmcert bench [NAME]... [--impl PATH] [--repeat N]\n"
    "            [--json FILE] (--list names them); the figures also go to a results\n"
    "            file (mode bench, default results/runs/<time>-<impl>-bench.json) that\n"
    "            results, compare and report read; a missed target makes its benchmark\n"
    "            'fail' there\n"
    "  results   the results history: import FILE... (results files and qualify\n"
    "            reports), list [--impl N] [--version V] [--machine CLASS] [--mode M];\n"
    "            both take --db WHERE: an SQLite file or postgresql://USER@HOST/DB\n"
    "            (default $MMCERT_DB, else results/history.db); show FILE... prints a\n"
    "            file's key facts\n"
    "  compare   compare two runs: mmcert compare OLD NEW, each a results file or a\n"
    "            history selection db:KEY=VALUE,... (keys impl, version, machine, mode,\n"
    "            topology, run, host, file, last); --alpha A (0.05) --min-effect PCT (5%)\n"
    "            --single-effect PCT|off (50%) --force --report-only --db WHERE\n"
    "  report    HTML report with plots: mmcert report FILE|db:SELECTION -o DIR [--db WHERE];\n"
    "            --fleet db:machine=CLASS,... compares the machines of a class and flags\n"
    "            those outside its spread (median +- k MAD, --mad-k K, default 3.5;\n"
    "            host=, file=PREFIX and run= narrow qualifications and runs alike);\n"
    "            --matrix FILE... [-o FILE.md]: certificates side by side, one row per SPEC id\n"
    "  qualify   measure this machine's NUMA hardware and write a report\n"
    "            (mmcert qualify --help)\n"
    "  help      show this help (also --help); --version shows the version\n"
    "\n"
    "mmcert run [OPTION]...\n"
    "  --impl PATH            implementation shared object (default: libmmref.so next to\n"
    "                         mmcert, else " MMCERT_LIBDIR "/libmmref.so)\n"
    "  --topology SPEC        this machine (default), builtin:N, synthetic:..., or an\n"
    "                         hwloc XML file\n"
    "  --case GLOB            run the cases whose id matches (repeatable; default all);\n"
    "                         CASE/VARIANT runs one variant: --case NUMA-2/builtin-4,\n"
    "                         NUMA-2 every variant of NUMA-2\n"
    "  --spec GLOB            run every case that checks a matching SPEC id, e.g.\n"
    "                         --spec SEC-2 (repeatable; with --case: either matches)\n"
    "  --clock stepped|live   run every case in this clock form (default: per case,\n"
    "                         stepped when the case and the implementation have it)\n"
    "  --mode quick|full      quick (default) or full (documented periods, 20x timeouts)\n"
    "  --json FILE            results file (default results/runs/<time>-<impl>.json)\n"
    "  --set NAME=VALUE       set an advanced setting for every host (repeatable)\n"
    "  --seed N               seed, 0..9223372036854775807 (default: from the time;\n"
    "                         always printed as '# seed: N')\n"
    "  --host-memory SIZE     cap the memory the implementation may use (e.g. 4G)\n"
    "  --profile esxi-6.7|osdi02  defaults profile (default esxi-6.7)\n"
    "  --timeout-scale X      multiply every case timeout by X (0 < X <= 1000)\n"
    "  --repeat N             run every selected case N times (1..1000); every metric\n"
    "                         sample is kept, a case's verdict is its worst\n"
    "  --no-perf              do not record perf_event counters (perf.* metrics) of cases\n"
    "\n"
    "mmcert topology [--topology SPEC] [--host-memory SIZE]\n"
    "\n"
    "After the TAP stream `run` prints its certificate: every SPEC id of the run's scope\n"
    "shown (its cases passed), failed (case and check named) or not shown (with the\n"
    "reason: capability absent, clock form, topology, machine, not applicable, unprobed,\n"
    "not selected). A --case/--spec subset certifies only the ids it selected.\n"
    "  certify   combine the certificates of several runs of one implementation:\n"
    "            mmcert certify FILE... (an id shown in one run and failed in none is shown)\n"
    "\n"
    "Exit status of run and certify: 0 CERTIFIED (every SPEC id shown), 1 NOT CERTIFIED\n"
    "(a case failed or broke), 4 INCOMPLETE (nothing failed, some ids not shown), 2 bad\n"
    "usage or input.\n"
    "compare: 0 nothing regressed or newly failing (always with --report-only), 1 something\n"
    "did, 2 bad input (not JSON, truncated, other schema version, locked or corrupt\n"
    "database, different topologies or modes without --force).\n"
    "Results schema: doc/results-schema.md.\n";

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt,
                                                             ...) {
  va_list ap;
  fprintf(stderr, "mmcert%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'mmcert help'.\n");
  return SUITE_EXIT_USAGE;
}

/* The option getopt refused (opterr is 0; optstrings start with ':' so a
 * missing value is told apart from an unknown option), or one given twice
 * (cli.h). */
static int bad_option(const char *cmd, int o, int argc, char **argv, const struct option *opts) {
  char why[256];
  return usage_error(cmd, "%s", suite_cli_why(o, argc, argv, opts, why, sizeof why));
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!*s || *s == '-' || *s == '+')
    return false;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end)
    return false;
  *out = v;
  return true;
}

static uint64_t time_seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  /* splitmix64 finaliser: nearby times give unrelated seeds. */
  uint64_t z =
      (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (z ^ (z >> 31)) & (uint64_t)INT64_MAX; /* JSON integers are signed */
}

static void default_impl(char *buf, size_t cap) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    snprintf(buf, cap, "%s/libmmref.so", dirname(exe));
    if (access(buf, R_OK) == 0)
      return;
  }
  snprintf(buf, cap, "%s/libmmref.so", MMCERT_LIBDIR);
}

/* ------------------------------------------------------------ topology */

static int load_topology(const char *cmd, const char *spec, const char *host_memory,
                         mmt_topology_t **out, uint64_t *bytes) {
  mmc_error_t err = {0};
  *bytes = 0;
  if (host_memory && mmt_parse_size(host_memory, bytes, &err) != 0)
    return usage_error(cmd, "--host-memory: %s", err.msg);
  if (suite_topology_load(spec, out, &err) != 0) /* in a child: hwloc may crash on a file */
    return usage_error(cmd, "--topology %s: %s", spec ? spec : "(this machine)", err.msg);
  if (host_memory && mmt_cap_memory(*out, *bytes, &err) != 0) {
    mmt_free(*out);
    *out = NULL;
    return usage_error(cmd, "--host-memory %s: %s", host_memory, err.msg);
  }
  return 0;
}

static int cmd_topology(int argc, char **argv) {
  static const struct option opts[] = {{"topology", required_argument, NULL, 't'},
                                       {"host-memory", required_argument, NULL, 'm'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0}};
  const char *spec = NULL, *mem = NULL;
  int o;
  uint64_t seen = 0;
  while ((o = suite_cli_getopt(argc, argv, ":", opts, NULL, &seen)) != -1) {
    switch (o) {
    case 't': spec = optarg; break;
    case 'm': mem = optarg; break;
    case 'h': fputs(usage_text, stdout); return 0;
    default: return bad_option("topology", o, argc, argv, opts);
    }
  }
  if (optind < argc)
    return usage_error("topology", "unexpected argument '%s'", argv[optind]);
  mmt_topology_t *t = NULL;
  uint64_t bytes;
  int rc = load_topology("topology", spec, mem, &t, &bytes);
  if (rc)
    return rc;
  mmt_print(stdout, t);
  mmt_free(t);
  /* This machine's, whatever --topology says: what results, history and
   * baselines are grouped by (tests/run-suite.sh finds its baseline so). */
  char cls[192];
  suite_machine_class(cls, sizeof cls);
  printf("machine class: %s\n", cls);
  return 0;
}

/* ------------------------------------------------------------ list */

/* "REBALANCE,nodes>=2" for the list: capabilities, machine needs, nodes;
 * "-" when none. */
static void needs_text(const suite_case_t *c, char *buf, size_t cap) {
  static const char *const need_names[] = {"real-numa", "root", "pmu", "ksm"};
  size_t o = 0;
  buf[0] = '\0';
  for (int b = 0; b < 64; b++)
    if (c->needs_caps & (1ull << b) && o < cap) {
      const char *n = suite_cap_name(1ull << b);
      o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "," : "", n ? n : "?");
    }
  for (size_t b = 0; b < sizeof need_names / sizeof need_names[0]; b++)
    if (c->needs & (1u << b) && o < cap)
      o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "," : "", need_names[b]);
  if (c->min_nodes && o < cap)
    o += (size_t)snprintf(buf + o, cap - o, "%snodes>=%u", o ? "," : "", c->min_nodes);
  if (!o)
    snprintf(buf, cap, "-");
}

/* "builtin-2,builtin-4" or "-". */
static void variants_text(const suite_case_t *c, char *buf, size_t cap) {
  size_t o = 0;
  snprintf(buf, cap, "-");
  for (size_t k = 0; k < suite_case_nvariants(c) && o < cap; k++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%s", k ? "," : "", c->variants[k].name);
}

/* One row per test point: a case without variants, or each variant. */
static int list_variants(void) {
  printf("%-24s %-20s %-12s %s\n", "CASE/VARIANT", "SPEC IDS", "CLOCKS", "TITLE");
  for (const suite_case_t *c = suite_cases; c->id; c++) {
    size_t nv = suite_case_nvariants(c);
    for (size_t k = 0; k < (nv ? nv : 1); k++) {
      const suite_variant_t *v = nv ? &c->variants[k] : NULL;
      char name[96];
      suite_case_name(c, v, name, sizeof name);
      printf("%-24s %-20s %-12s %s\n", name, c->spec_ids ? c->spec_ids : "",
             suite_clocks_name(suite_case_clocks(c, v)), v && v->title ? v->title : c->title);
    }
  }
  return 0;
}

static int cmd_list(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--spec"))
    return suite_cmd_list_spec(stdout);
  if (argc == 2 && !strcmp(argv[1], "--variants"))
    return list_variants();
  if (argc > 1)
    return usage_error("list", "unexpected argument '%s' (list takes none, --spec or --variants)",
                       argv[1]);
  /* The title last: it is the one column of free length. */
  printf("%-10s %-20s %-26s %-12s %-14s %s\n", "CASE", "SPEC IDS", "NEEDS", "CLOCKS", "VARIANTS",
         "TITLE");
  for (const suite_case_t *c = suite_cases; c->id; c++) {
    char needs[256], variants[512];
    needs_text(c, needs, sizeof needs);
    variants_text(c, variants, sizeof variants);
    printf("%-10s %-20s %-26s %-12s %-14s %s\n", c->id, c->spec_ids ? c->spec_ids : "", needs,
           suite_clocks_name(suite_case_clocks(c, NULL)), variants, c->title);
  }
  /* What a live-only implementation (or --clock live) will see for them. */
  printf("\nWithout a live form (not shown [clock] on the live clock):\n");
  for (const suite_case_t *c = suite_cases; c->id; c++)
    if (c->clocks == SUITE_CLOCKS_STEPPED)
      printf("%-10s %s\n", c->id, c->no_live ? c->no_live : "(no reason given)");
  return 0;
}

/* ------------------------------------------------------------ bench */

static const suite_bench_t *find_bench(const char *name) {
  for (const suite_bench_t *b = suite_benches; b->name; b++)
    if (!strcmp(b->name, name))
      return b;
  return NULL;
}

/* ------------------------------------------------------------ run */

typedef struct run_args {
  const char *impl;
  const char *topology;
  const char *host_memory;
  const char *json;
  const char *profile;
  suite_mode_t mode;
  uint64_t seed;
  bool seed_given;
  double timeout_scale;
  unsigned repeat;
  bool no_perf;
  const char **globs;
  size_t nglobs;
  const char **spec_globs;
  size_t nspec_globs;
  int clock; /* -1: per case */
  mmc_setting_value_t *sets;
  size_t nsets;
} run_args_t;

/* Append a --case/--spec glob. */
static int add_glob(const char ***list, size_t *n, const char *glob) {
  const char **g = realloc(*list, (*n + 1) * sizeof *g);
  if (!g)
    return usage_error("run", "out of memory");
  *list = g;
  (*list)[(*n)++] = glob;
  return 0;
}

static int add_set(run_args_t *a, const char *arg) {
  char why[256], *name;
  int64_t v;
  if (suite_cli_parse_set(arg, &name, &v, why, sizeof why) != 0)
    return usage_error("run", "%s", why);
  mmc_setting_value_t *n = realloc(a->sets, (a->nsets + 1) * sizeof *n);
  if (!n) {
    free(name);
    return usage_error("run", "out of memory");
  }
  a->sets = n;
  a->sets[a->nsets++] = (mmc_setting_value_t){.name = name, .value = v};
  return 0;
}

/* --json FILE, or the default results directory, can be written: found out
 * before anything runs, not after (cli.h). */
static int check_json_path(const char *cmd, const char *path) {
  char why[PATH_MAX + 256];
  return suite_cli_check_output(path, why, sizeof why) ? usage_error(cmd, "%s", why) : 0;
}

static int parse_run(int argc, char **argv, run_args_t *a) {
  enum {
    O_IMPL = 256,
    O_TOPO,
    O_CASE,
    O_MODE,
    O_JSON,
    O_SET,
    O_SEED,
    O_MEM,
    O_PROFILE,
    O_TS,
    O_REPEAT,
    O_NO_PERF,
    O_SPEC,
    O_CLOCK
  };
  static const struct option opts[] = {{"impl", required_argument, NULL, O_IMPL},
                                       {"topology", required_argument, NULL, O_TOPO},
                                       {"case", required_argument, NULL, O_CASE},
                                       {"mode", required_argument, NULL, O_MODE},
                                       {"json", required_argument, NULL, O_JSON},
                                       {"set", required_argument, NULL, O_SET},
                                       {"seed", required_argument, NULL, O_SEED},
                                       {"host-memory", required_argument, NULL, O_MEM},
                                       {"profile", required_argument, NULL, O_PROFILE},
                                       {"timeout-scale", required_argument, NULL, O_TS},
                                       {"repeat", required_argument, NULL, O_REPEAT},
                                       {"no-perf", no_argument, NULL, O_NO_PERF},
                                       {"spec", required_argument, NULL, O_SPEC},
                                       {"clock", required_argument, NULL, O_CLOCK},
                                       {"help", no_argument, NULL, 'h'},
                                       {0}};
  static const int repeatable[] = {O_CASE, O_SET, O_SPEC, 0};
  int o, rc = 0;
  char *end;
  uint64_t seen = 0;
  while (!rc && (o = suite_cli_getopt(argc, argv, ":", opts, repeatable, &seen)) != -1) {
    switch (o) {
    case O_IMPL: a->impl = optarg; break;
    case O_TOPO: a->topology = optarg; break;
    case O_MEM: a->host_memory = optarg; break;
    case O_JSON: a->json = optarg; break;
    case O_NO_PERF: a->no_perf = true; break;
    case O_SET: rc = add_set(a, optarg); break;
    case O_CASE: rc = add_glob(&a->globs, &a->nglobs, optarg); break;
    case O_SPEC: rc = add_glob(&a->spec_globs, &a->nspec_globs, optarg); break;
    case O_CLOCK:
      if (!strcmp(optarg, "stepped"))
        a->clock = MMC_CLOCK_STEPPED;
      else if (!strcmp(optarg, "live"))
        a->clock = MMC_CLOCK_LIVE;
      else
        rc = usage_error("run", "--clock '%s': expected stepped or live", optarg);
      break;
    case O_MODE:
      if (!strcmp(optarg, "quick"))
        a->mode = SUITE_MODE_QUICK;
      else if (!strcmp(optarg, "full"))
        a->mode = SUITE_MODE_FULL;
      else
        rc = usage_error("run", "--mode '%s': expected quick or full", optarg);
      break;
    case O_PROFILE:
      if (strcmp(optarg, "esxi-6.7") && strcmp(optarg, "osdi02"))
        rc = usage_error("run", "--profile '%s': expected esxi-6.7 or osdi02", optarg);
      a->profile = optarg;
      break;
    case O_SEED:
      if (!parse_u64(optarg, &a->seed) || a->seed > (uint64_t)INT64_MAX)
        rc = usage_error("run", "--seed '%s': expected an integer 0..%lld", optarg,
                         (long long)INT64_MAX);
      a->seed_given = true;
      break;
    case O_TS:
      errno = 0;
      a->timeout_scale = strtod(optarg, &end);
      if (errno || end == optarg || *end || !isfinite(a->timeout_scale) || a->timeout_scale <= 0 ||
          a->timeout_scale > MAX_TIMEOUT_SCALE)
        rc = usage_error("run", "--timeout-scale '%s': expected a number > 0 and <= %g", optarg,
                         MAX_TIMEOUT_SCALE);
      break;
    case O_REPEAT: {
      uint64_t r;
      if (!parse_u64(optarg, &r) || r < 1 || r > MAX_RUN_REPEAT)
        rc = usage_error("run", "--repeat '%s': expected an integer 1..%d", optarg, MAX_RUN_REPEAT);
      else
        a->repeat = (unsigned)r;
      break;
    }
    case 'h': fputs(usage_text, stdout); return -1;
    default: return bad_option("run", o, argc, argv, opts);
    }
  }
  if (!rc && optind < argc)
    rc = usage_error("run",
                     "unexpected argument '%s' (cases are chosen with --case GLOB or --spec GLOB)",
                     argv[optind]);
  if (!rc)
    rc = check_json_path("run", a->json);
  return rc;
}

static void free_run_args(run_args_t *a) {
  for (size_t i = 0; i < a->nsets; i++)
    free((char *)a->sets[i].name);
  free(a->sets);
  free(a->globs);
  free(a->spec_globs);
}

/* The results file of a run or bench: `json`, else the default path
 * (results/runs/<time>-<impl>.json, <impl>-bench for a bench). */
static int write_results(const char *cmd, const char *json, const suite_run_t *run) {
  char path[PATH_MAX], name[MMC_NAME_MAX + 8];
  mmc_error_t err = {0};
  snprintf(name, sizeof name, "%s%s", run->si->impl->name,
           run->mode == SUITE_MODE_BENCH ? "-bench" : "");
  if (json)
    snprintf(path, sizeof path, "%s", json);
  else if (suite_results_default_path(name, run->start_time, path, sizeof path, &err) != 0) {
    fprintf(stderr, "mmcert %s: %s\n", cmd, err.msg);
    return -1;
  }
  /* --json FILE is replaced as asked; a default name is never reused. */
  if ((json ? suite_results_write(path, run, &err)
            : suite_results_write_run_new(path, sizeof path, run, &err)) != 0) {
    fprintf(stderr, "mmcert %s: %s\n", cmd, err.msg);
    return -1;
  }
  fprintf(stderr, "results: %s\n", path);
  return 0;
}

static int cmd_run(int argc, char **argv) {
  run_args_t a = {.profile = "esxi-6.7", .timeout_scale = 1.0, .clock = -1};
  int rc = parse_run(argc, argv, &a);
  if (rc) {
    free_run_args(&a);
    return rc < 0 ? 0 : rc;
  }
  char impl_path[PATH_MAX];
  if (a.impl)
    snprintf(impl_path, sizeof impl_path, "%s", a.impl);
  else
    default_impl(impl_path, sizeof impl_path);
  suite_impl_t si;
  mmc_error_t err = {0};
  mmt_topology_t *topo = NULL;
  uint64_t mem = 0;
  if (suite_impl_load(impl_path, &si, &err) != 0) {
    rc = usage_error("run", "%s", err.msg);
    goto out_args;
  }
  rc = load_topology("run", a.topology, a.host_memory, &topo, &mem);
  if (rc)
    goto out_impl;
  suite_run_t run = {.si = &si,
                     .topology_spec = a.topology,
                     .topo = topo,
                     .host_memory = mem,
                     .mode = a.mode,
                     .seed = a.seed_given ? a.seed : time_seed(),
                     .profile = a.profile,
                     .timeout_scale = a.timeout_scale,
                     .repeat = a.repeat,
                     .perf = !a.no_perf,
                     .progress = isatty(STDERR_FILENO) == 1,
                     .sets = a.sets,
                     .nsets = a.nsets,
                     .globs = a.globs,
                     .nglobs = a.nglobs,
                     .spec_globs = a.spec_globs,
                     .nspec_globs = a.nspec_globs,
                     .clock_forced = a.clock >= 0,
                     .clock_force = a.clock >= 0 ? (mmc_clock_mode_t)a.clock : MMC_CLOCK_STEPPED,
                     .out = stdout,
                     .err = stderr};
  rc = suite_run(&run);
  if (rc != SUITE_EXIT_USAGE && write_results("run", a.json, &run) != 0)
    rc = SUITE_EXIT_FAIL; /* a certificate nobody can read back is not one */
  suite_run_free(&run);
  mmt_free(topo);
out_impl:
  suite_impl_unload(&si);
out_args:
  free_run_args(&a);
  return rc;
}

/* ------------------------------------------------------------ bench */

/* The benchmarks to run, as the "cases" of a results file (mode bench):
 * id "bench.NAME", at most max. Returns how many; cases[] and ids[] filled. */
static size_t bench_cases(int first, int argc, char **argv, size_t max, suite_case_t *cases,
                          const suite_bench_t **which, char (*ids)[64]) {
  size_t n = 0;
  for (const suite_bench_t *b = suite_benches; b->name; b++) {
    bool want = first == argc;
    for (int i = first; i < argc && !want; i++)
      want = !strcmp(argv[i], b->name);
    if (!want || n == max)
      continue;
    snprintf(ids[n], sizeof ids[n], "bench.%s", b->name);
    cases[n] = (suite_case_t){.id = ids[n], .spec_ids = "", .title = b->title};
    which[n++] = b;
  }
  return n;
}

/* Run one benchmark, its table on stdout, its rows recorded into r:
 * broken when it could not measure, fail when a target was missed. */
static void bench_one(const suite_bench_t *b, const suite_bench_opts_t *bo, suite_result_t *r) {
  printf("== %s: %s\n", b->name, b->title);
  fflush(stdout);
  suite_bench_run(b, bo, r); /* in its own process: a crash keeps what it measured */
  if (r->verdict == SUITE_BROKEN)
    fprintf(stderr, "mmcert bench %s: broken: %s\n", b->name, r->reason);
}

static int cmd_bench(int argc, char **argv) {
  static const struct option opts[] = {
      {"repeat", required_argument, NULL, 'r'}, {"impl", required_argument, NULL, 'i'},
      {"json", required_argument, NULL, 'j'},   {"list", no_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},         {0}};
  uint64_t repeat = 0; /* not given: each benchmark's own default */
  bool list = false;
  const char *impl = NULL, *json = NULL;
  int o;
  uint64_t seen = 0;
  while ((o = suite_cli_getopt(argc, argv, ":", opts, NULL, &seen)) != -1) {
    switch (o) {
    case 'r':
      if (!parse_u64(optarg, &repeat) || repeat < 1 || repeat > MAX_REPEAT)
        return usage_error("bench", "--repeat '%s': expected an integer 1..%d", optarg, MAX_REPEAT);
      break;
    case 'i': impl = optarg; break;
    case 'j': json = optarg; break;
    case 'l': list = true; break;
    case 'h': fputs(usage_text, stdout); return 0;
    default: return bad_option("bench", o, argc, argv, opts);
    }
  }
  if (!suite_benches[0].name) {
    fprintf(stderr, "mmcert bench: no benchmark is built into this mmcert yet "
                    "(suite/bench/table.c registers none)\n");
    return SUITE_EXIT_USAGE;
  }
  if (list && optind < argc)
    return usage_error("bench", "--list runs no benchmark: give it no names ('%s' given)",
                       argv[optind]);
  if (list) {
    /* One benchmark a line, its name first: scripts (tests/numa/check-numa.sh)
     * check names against this before they spend a guest boot on them. */
    for (const suite_bench_t *b = suite_benches; b->name; b++)
      printf("%-10s %s\n", b->name, b->title);
    return SUITE_EXIT_OK;
  }
  for (int i = optind; i < argc; i++)
    if (!find_bench(argv[i])) {
      fprintf(stderr, "mmcert bench: unknown benchmark '%s'; built in:", argv[i]);
      for (const suite_bench_t *b = suite_benches; b->name; b++)
        fprintf(stderr, " %s", b->name);
      fprintf(stderr, "\n");
      return SUITE_EXIT_USAGE;
    }
  if (check_json_path("bench", json))
    return SUITE_EXIT_USAGE;
  char impl_path[PATH_MAX];
  const char *env_impl = getenv("MMCERT_IMPL");
  if (impl)
    snprintf(impl_path, sizeof impl_path, "%s", impl);
  else if (env_impl && *env_impl)
    snprintf(impl_path, sizeof impl_path, "%s", env_impl);
  else
    default_impl(impl_path, sizeof impl_path);
  suite_impl_t si;
  mmc_error_t err = {0};
  if (suite_impl_load(impl_path, &si, &err) != 0)
    return usage_error("bench", "%s", err.msg);
  mmt_topology_t *topo = NULL;
  uint64_t mem = 0;
  int rc = load_topology("bench", NULL, NULL, &topo, &mem);
  if (rc) {
    suite_impl_unload(&si);
    return rc;
  }
  enum { max_benches = 32 };
  suite_case_t cases[max_benches];
  const suite_bench_t *which[max_benches];
  char ids[max_benches][64];
  size_t n = bench_cases(optind, argc, argv, max_benches, cases, which, ids);
  /* Each benchmark makes its own hosts and topologies; the results file
   * names this machine, the implementation's settings on it, and the
   * benchmarks as its cases, so history and compare track them. */
  suite_run_t run = {.si = &si,
                     .topo = topo,
                     .mode = SUITE_MODE_BENCH,
                     .profile = "esxi-6.7",
                     .timeout_scale = 1.0,
                     .repeat = repeat ? (unsigned)repeat : 1,
                     .out = stdout,
                     .err = stderr,
                     .results = calloc(n ? n : 1, sizeof *run.results)};
  if (!run.results) {
    fprintf(stderr, "mmcert bench: out of memory\n");
    mmt_free(topo);
    suite_impl_unload(&si);
    return SUITE_EXIT_FAIL;
  }
  run.start_time = suite_real_now();
  suite_run_preflight(&run);
  suite_bench_opts_t bo = {
      .si = &si, .impl_path = si.path, .repeat = (unsigned)repeat, .out = stdout, .err = stderr};
  for (size_t i = 0; i < n; i++) {
    suite_result_t *r = &run.results[run.nresults++];
    r->c = &cases[i];
    suite_case_name(r->c, NULL, r->name, sizeof r->name); /* a benchmark has no variants */
    bench_one(which[i], &bo, r);
    run.totals[r->verdict]++;
  }
  run.end_time = suite_real_now();
  rc = run.totals[SUITE_BROKEN] ? SUITE_EXIT_FAIL : SUITE_EXIT_OK;
  if (write_results("bench", json, &run) != 0)
    rc = SUITE_EXIT_FAIL;
  suite_run_free(&run);
  mmt_free(topo);
  suite_impl_unload(&si);
  return rc;
}

/* Every VM of the reference holds its swap file open (SWAP-1), so a host
 * with 1000 VMs powered on (the migration benchmark's rebalancer part)
 * needs more descriptors than the soft limit a fresh kernel or Debian login
 * gives (1024; hard 4096 for a guest's init, 524288 for a login): lift the
 * soft limit to the hard one, which any process may do. Nothing here uses
 * select(2), which cannot watch descriptors past 1023. */
static void raise_open_file_limit(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r); /* a refusal leaves the limit, named on EMFILE */
  }
}

/* Machine state (KSM, swap files, zswap, NUMA balancing, THP) an earlier
 * run borrowed and could not give back, because it was killed, is given
 * back by whichever mmcert starts next (common/borrow.c). */
static void give_back_borrowed(void) {
  unsigned n = 0;
  char what[256];
  mmc_error_t err = {0};
  if (mmc_borrow_recover(&n, what, sizeof what, &err) != 0)
    fprintf(stderr, "mmcert: %s\n", err.msg);
  else if (n)
    fprintf(stderr, "mmcert: gave back machine state an earlier run left: %s\n", what);
}

/* The commands, in the order the messages name them. */
static const struct command {
  const char *name;
  int (*main)(int argc, char **argv);
} commands[] = {
    {"run", cmd_run},
    {"list", cmd_list},
    {"explain", suite_cmd_explain},
    {"topology", cmd_topology},
    {"bench", cmd_bench},
    {"results", suite_cmd_results},
    {"compare", suite_cmd_compare},
    {"report", suite_cmd_report},
    {"certify", suite_cmd_certify},
    {"qualify", suite_qualify_main},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* "run, list, ..., qualify or help". */
static void command_names(char *buf, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < NCOMMANDS && o < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%s, ", commands[i].name);
  if (o < cap)
    snprintf(buf + o - 2, cap - (o - 2), " or help");
}

int main(int argc, char **argv) {
  raise_open_file_limit();
  give_back_borrowed();
  char names[256];
  command_names(names, sizeof names);
  if (argc < 2)
    return usage_error(NULL, "missing command: %s", names);
  const char *cmd = argv[1];
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("mmcert %s (contract ABI %u)\n", MMCERT_VERSION, MMCERT_ABI_VERSION);
    return 0;
  }
  opterr = 0; /* our own messages, in the same form for every command */
  if (!strcmp(cmd, "run") || !strcmp(cmd, "bench"))
    suite_sup_start(); /* children die with mmcert; a dead run's files are removed */
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(cmd, commands[i].name))
      return commands[i].main(argc - 1, argv + 1);
  return usage_error(NULL, "unknown command '%s': expected %s", cmd, names);
}
