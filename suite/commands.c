/*
 * commands.c — `mmcert results import FILE...`, `mmcert results list`,
 * `mmcert compare OLD NEW` and `mmcert report SIDE -o DIR`.
 *
 * A side is a results file or a history selection "db:KEY=VALUE,...". Every
 * problem with the input (file not JSON, truncated, other schema version;
 * database missing, locked, corrupt; selection empty or unknown key;
 * comparing different topologies or modes without --force) is one message
 * on stderr and exit status 2, with nothing written.
 */
#include "commands.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"
#include "fleet.h"
#include "history.h"
#include "matrix.h"
#include "report.h"
#include "results_read.h"
#include "runner.h"

__attribute__((format(printf, 2, 3))) static int fail_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "mmcert %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return SUITE_EXIT_USAGE;
}

/* A missing value, an unknown option or one given twice (cli.h). */
static int bad_opt(const char *cmd, int o, int argc, char **argv, const struct option *opts) {
  char why[256];
  return fail_usage(cmd, "%s; try 'mmcert help'",
                    suite_cli_why(o, argc, argv, opts, why, sizeof why));
}

/* `mkdir -p` of the directory part of the default database path only. */
static void make_results_dir(const char *db) {
  if (!strcmp(db, SUITE_HIST_DEFAULT_PATH))
    mkdir("results", 0755);
}

/* --db, else $MMCERT_DB, else results/history.db. */
static const char *db_or_default(const char *db) {
  return db ? db : suite_hist_default();
}

/* ------------------------------------------------------------ sides */

static int suite_side_open(const char *arg, const char *db, suite_rr_t *out, mmc_error_t *err) {
  *out = (suite_rr_t){0};
  if (strncmp(arg, "db:", 3))
    return suite_rr_open_file(arg, out, err);
  char buf[512];
  suite_hist_filter_t f;
  int rc = suite_hist_parse_filter(arg + 3, buf, sizeof buf, &f, err);
  suite_hist_t *h = NULL;
  if (!rc)
    rc = suite_hist_open(db, false, stderr, &h, err);
  json_t *docs = NULL;
  if (!rc)
    rc = suite_hist_select(h, &f, &docs, err);
  char label[600];
  snprintf(label, sizeof label, "%s (in %s)", arg, h ? suite_hist_label(h) : db);
  suite_hist_close(h);
  if (rc)
    return rc;
  return suite_rr_from_docs(docs, label, out, err);
}

/* ------------------------------------------------------------ results */

/* An SQLite history this import made and then could not fill is removed:
 * "nothing imported" must leave nothing behind, not an empty history. */
static bool is_file_db(const char *db) {
  return strncmp(db, "postgresql://", 13) && strncmp(db, "postgres://", 11);
}

static void remove_made_db(const char *db) {
  char side[PATH_MAX + 16];
  unlink(db);
  snprintf(side, sizeof side, "%s-journal", db);
  unlink(side);
}

static int results_import(int argc, char **argv, const char *db) {
  if (argc < 1)
    return fail_usage("results import", "expected one or more results files");
  make_results_dir(db);
  bool made = is_file_db(db) && access(db, F_OK) != 0;
  suite_hist_t *h;
  mmc_error_t err = {0};
  if (suite_hist_open(db, true, stderr, &h, &err) != 0) {
    if (made)
      remove_made_db(db);
    return fail_usage("results import", "%s", err.msg);
  }
  size_t imported, skipped;
  int rc = suite_hist_import(h, (const char *const *)argv, (size_t)argc, stdout, &imported,
                             &skipped, &err);
  char where[256];
  snprintf(where, sizeof where, "%s", suite_hist_label(h));
  suite_hist_close(h);
  if (rc && made)
    remove_made_db(db);
  if (rc)
    return fail_usage("results import", "%s (nothing imported: %s)", err.msg,
                      made ? "no history was made" : "the history is unchanged");
  printf("%zu imported, %zu already present, into %s\n", imported, skipped, where);
  return SUITE_EXIT_OK;
}

static int results_list(int argc, char **argv, const char *db, suite_hist_filter_t *f) {
  if (argc > 0)
    return fail_usage("results list", "unexpected argument '%s'", argv[0]);
  suite_hist_t *h;
  mmc_error_t err = {0};
  if (suite_hist_open(db, false, stderr, &h, &err) != 0)
    return fail_usage("results list", "%s", err.msg);
  int rc = suite_hist_list(h, f, stdout, &err);
  suite_hist_close(h);
  return rc ? fail_usage("results list", "%s", err.msg) : SUITE_EXIT_OK;
}

/* KEY=VALUE lines a script can read (tests/baseline.sh, run-suite.sh). */
static int results_show(int argc, char **argv) {
  if (argc < 1)
    return fail_usage("results show", "expected one or more results files");
  for (int i = 0; i < argc; i++) {
    suite_rr_t rr;
    mmc_error_t err = {0};
    if (suite_rr_open_file(argv[i], &rr, &err) != 0)
      return fail_usage("results show", "%s", err.msg);
    printf("file=%s\nrun_id=%s\nimpl=%s\nversion=%s\nmachine_class=%s\nmode=%s\nseed=%lld\n"
           "topology_hash=%s\ntopology=%s\ncases=%zu\nchecks=%zu\nmetrics=%zu\n",
           argv[i], rr.run_id, rr.impl, rr.version, rr.machine_class, rr.mode, rr.seed,
           rr.topo_hash, rr.topo_summary, rr.ncases, rr.nchecks, rr.nmetrics);
    suite_rr_free(&rr);
  }
  return SUITE_EXIT_OK;
}

int suite_cmd_results(int argc, char **argv) {
  enum { O_DB = 256, O_IMPL, O_VERSION, O_MACHINE, O_MODE };
  static const struct option opts[] = {{"db", required_argument, NULL, O_DB},
                                       {"impl", required_argument, NULL, O_IMPL},
                                       {"version", required_argument, NULL, O_VERSION},
                                       {"machine", required_argument, NULL, O_MACHINE},
                                       {"mode", required_argument, NULL, O_MODE},
                                       {0}};
  if (argc < 2)
    return fail_usage("results", "expected a subcommand: import FILE..., list or show FILE...");
  const char *sub = argv[1], *db = NULL;
  if (!strcmp(sub, "show"))
    return results_show(argc - 2, argv + 2);
  bool import = !strcmp(sub, "import"), list = !strcmp(sub, "list");
  if (!import && !list)
    return fail_usage("results", "unknown subcommand '%s': expected import, list or show", sub);
  suite_hist_filter_t f = {0};
  int o;
  uint64_t seen = 0;
  optind = 1;
  argc--, argv++;
  while ((o = suite_cli_getopt(argc, argv, ":", opts, NULL, &seen)) != -1) {
    if (o == O_DB)
      db = optarg;
    else if (list && o == O_IMPL)
      f.impl = optarg;
    else if (list && o == O_VERSION)
      f.version = optarg;
    else if (list && o == O_MACHINE)
      f.machine = optarg;
    else if (list && o == O_MODE)
      f.mode = optarg;
    else
      return bad_opt(import ? "results import" : "results list", o, argc, argv, opts);
  }
  db = db_or_default(db);
  return import ? results_import(argc - optind, argv + optind, db)
                : results_list(argc - optind, argv + optind, db, &f);
}

/* ------------------------------------------------------------ compare */

/* "5", "5%" or "5.5 %" -> 0.05; false unless 0 <= v <= 1000 %. */
static bool parse_percent(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  while (*end == ' ')
    end++;
  if (*end == '%')
    end++;
  if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1000)
    return false;
  *out = v / 100;
  return true;
}

int suite_cmd_compare(int argc, char **argv) {
  enum { O_ALPHA = 256, O_EFFECT, O_SINGLE, O_FORCE, O_REPORT_ONLY, O_DB };
  static const struct option opts[] = {{"alpha", required_argument, NULL, O_ALPHA},
                                       {"min-effect", required_argument, NULL, O_EFFECT},
                                       {"single-effect", required_argument, NULL, O_SINGLE},
                                       {"force", no_argument, NULL, O_FORCE},
                                       {"report-only", no_argument, NULL, O_REPORT_ONLY},
                                       {"db", required_argument, NULL, O_DB},
                                       {0}};
  suite_cmp_opts_t co = SUITE_CMP_OPTS_DEFAULT;
  bool report_only = false;
  const char *db = NULL;
  int o;
  char *end;
  uint64_t seen = 0;
  while ((o = suite_cli_getopt(argc, argv, ":", opts, NULL, &seen)) != -1) {
    switch (o) {
    case O_ALPHA:
      errno = 0;
      co.alpha = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(co.alpha > 0 && co.alpha < 1))
        return fail_usage("compare", "--alpha '%s': expected a number between 0 and 1, e.g. 0.05",
                          optarg);
      break;
    case O_EFFECT:
      if (!parse_percent(optarg, &co.min_effect))
        return fail_usage("compare", "--min-effect '%s': expected a percentage 0..1000, e.g. 5%%",
                          optarg);
      break;
    case O_SINGLE:
      if (!strcmp(optarg, "off"))
        co.single_effect = -1;
      else if (!parse_percent(optarg, &co.single_effect))
        return fail_usage("compare",
                          "--single-effect '%s': expected a percentage 0..1000, e.g. 50%%, or "
                          "off",
                          optarg);
      break;
    case O_FORCE: co.force = true; break;
    case O_REPORT_ONLY: report_only = true; break;
    case O_DB: db = optarg; break;
    default: return bad_opt("compare", o, argc, argv, opts);
    }
  }
  if (argc - optind != 2)
    return fail_usage("compare",
                      "expected OLD and NEW (results files or history selections such as "
                      "db:impl=reference,version=0.1.0), got %d argument%s",
                      argc - optind, argc - optind == 1 ? "" : "s");
  db = db_or_default(db);
  suite_rr_t a, b;
  mmc_error_t err = {0};
  if (suite_side_open(argv[optind], db, &a, &err) != 0)
    return fail_usage("compare", "OLD %s", err.msg);
  if (suite_side_open(argv[optind + 1], db, &b, &err) != 0) {
    suite_rr_free(&a);
    return fail_usage("compare", "NEW %s", err.msg);
  }
  int rc = suite_cmp_run(&a, &b, &co, stdout, &err);
  suite_rr_free(&a);
  suite_rr_free(&b);
  if (rc < 0)
    return fail_usage("compare", "%s", err.msg);
  return report_only ? SUITE_EXIT_OK : rc;
}

/* ------------------------------------------------------------ report */

/* `report --fleet db:machine=CLASS,...`: the machines of a class side by side. */
static int fleet_report(const char *sel, const char *db, const char *dir, double k) {
  if (strncmp(sel, "db:", 3))
    return fail_usage("report",
                      "--fleet '%s': expected a history selection db:machine=CLASS[,KEY=VALUE...] "
                      "(a fleet report reads the history, not a file)",
                      sel);
  char buf[512];
  suite_hist_filter_t f;
  mmc_error_t err = {0};
  suite_hist_t *h = NULL;
  int rc = suite_hist_parse_filter(sel + 3, buf, sizeof buf, &f, &err);
  if (!rc)
    rc = suite_hist_open(db, false, stderr, &h, &err);
  suite_fleet_opts_t fo = {.dir = dir, .selection = sel, .k = k, .out = stdout, .err = stderr};
  if (!rc)
    rc = suite_fleet_report(h, &f, &fo, &err);
  suite_hist_close(h);
  if (rc)
    return fail_usage("report", "%s", err.msg);
  printf("report: %s/index.html\n", dir);
  return SUITE_EXIT_OK;
}

int suite_cmd_report(int argc, char **argv) {
  enum { O_OUT = 256, O_DB, O_FLEET, O_MAD_K, O_MATRIX };
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                       {"db", required_argument, NULL, O_DB},
                                       {"fleet", no_argument, NULL, O_FLEET},
                                       {"mad-k", required_argument, NULL, O_MAD_K},
                                       {"matrix", no_argument, NULL, O_MATRIX},
                                       {0}};
  const char *dir = NULL, *db = NULL;
  bool db_given = getenv(SUITE_HIST_ENV) && *getenv(SUITE_HIST_ENV), fleet = false,
       matrix = false;
  double k = SUITE_FLEET_K;
  char *end;
  int o;
  uint64_t seen = 0;
  while ((o = suite_cli_getopt(argc, argv, ":o:", opts, NULL, &seen)) != -1) {
    if (o == 'o')
      dir = optarg;
    else if (o == O_DB)
      db = optarg, db_given = true;
    else if (o == O_FLEET)
      fleet = true;
    else if (o == O_MAD_K) {
      errno = 0;
      k = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(k > 0 && k <= 100))
        return fail_usage("report",
                          "--mad-k '%s': expected a number above 0 and at most 100, "
                          "e.g. 3.5",
                          optarg);
    } else if (o == O_MATRIX)
      matrix = true;
    else
      return bad_opt("report", o, argc, argv, opts);
  }
  if (matrix)
    return suite_matrix_main((const char *const *)argv + optind, (size_t)(argc - optind), dir);
  if (argc - optind != 1 || !dir)
    return fail_usage("report", "expected: mmcert report FILE|db:SELECTION -o DIR [--db WHERE], "
                                "or mmcert report --fleet db:machine=CLASS,... -o DIR [--db "
                                "WHERE] [--mad-k K], or mmcert report --matrix FILE... "
                                "[-o FILE.md]");
  db = db_or_default(db);
  if (fleet)
    return fleet_report(argv[optind], db, dir, k);
  suite_rr_t rr;
  mmc_error_t err = {0};
  if (suite_side_open(argv[optind], db, &rr, &err) != 0)
    return fail_usage("report", "%s", err.msg);
  suite_report_opts_t ro = {.dir = dir, .db = db, .db_required = db_given, .err = stderr};
  int rc = suite_report_write(&rr, &ro, &err);
  suite_rr_free(&rr);
  if (rc)
    return fail_usage("report", "%s", err.msg);
  printf("report: %s/index.html\n", dir);
  return SUITE_EXIT_OK;
}
