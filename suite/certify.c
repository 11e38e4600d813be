/*
 * certify.c — `mmcert certify FILE... [--json OUT]`: one certificate from
 * the certificates of several runs of one implementation (certificate.h,
 * suite_cert_combine). `make suite` runs the suite on this machine and, on
 * a one-node machine, on an emulated 4-node topology: together they show
 * the NUMA ids a single node cannot.
 *
 * Refused with exit 2 (nothing written): a file that is not a valid results
 * file, a file without a certificate (a bench run, an older mmcert), runs
 * of different implementations or versions (a certificate covers one).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certificate.h"
#include "cli.h"
#include "commands.h"
#include "results.h"
#include "results_read.h"

static int usage(const char *fmt, const char *arg) {
  fprintf(stderr, "mmcert certify: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nUsage: mmcert certify FILE... [--json OUT] (results files of `mmcert run`)\n");
  return SUITE_EXIT_USAGE;
}

static const char *doc_str(const json_t *doc, const char *obj, const char *key) {
  const char *s = json_string_value(json_object_get(json_object_get(doc, obj), key));
  return s ? s : "?";
}

/* Load every file and its certificate; the same implementation throughout. */
static int load_all(char **files, size_t n, json_t **docs, suite_cert_t *certs, char (*labels)[160]) {
  for (size_t i = 0; i < n; i++) {
    mmc_error_t err = {0};
    if (suite_rr_load_file(files[i], &docs[i], NULL, 0, &err) != 0 ||
        suite_cert_from_json(docs[i], &certs[i], &err) != 0) {
      fprintf(stderr, "mmcert certify: %s: %s\n", files[i], err.msg);
      return SUITE_EXIT_USAGE;
    }
    const char *impl = doc_str(docs[i], "implementation", "name");
    const char *ver = doc_str(docs[i], "implementation", "version");
    if (i && (strcmp(impl, doc_str(docs[0], "implementation", "name")) ||
              strcmp(ver, doc_str(docs[0], "implementation", "version")))) {
      fprintf(stderr,
              "mmcert certify: %s is a run of %s %s, %s of %s %s: a certificate covers one "
              "implementation and version\n",
              files[i], impl, ver, files[0], doc_str(docs[0], "implementation", "name"),
              doc_str(docs[0], "implementation", "version"));
      return SUITE_EXIT_USAGE;
    }
    snprintf(labels[i], sizeof labels[i], "%s", doc_str(docs[i], "topology", "source"));
  }
  return 0;
}

static int write_json(const char *out, json_t *docs0, const suite_cert_t *cert, char **files,
                      size_t n) {
  json_t *runs = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(runs, json_string(files[i]));
  json_t *doc = json_pack("{s:s, s:O, s:o, s:o}", "schema", "mmcert-certificate", "implementation",
                          json_object_get(docs0, "implementation"), "runs", runs, "certificate",
                          suite_cert_json(cert));
  mmc_error_t err = {0};
  int rc = doc ? suite_results_write_file(out, doc, &err) : MMC_ENOMEM;
  json_decref(doc);
  if (rc) {
    fprintf(stderr, "mmcert certify: --json %s: %s\n", out, err.msg[0] ? err.msg : "out of memory");
    return SUITE_EXIT_USAGE;
  }
  return 0;
}

int suite_cmd_certify(int argc, char **argv) {
  static const struct option opts[] = {{"json", required_argument, NULL, 'j'}, {0}};
  const char *json_out = NULL;
  int o;
  uint64_t seen = 0;
  char why[256];
  optind = 1;
  while ((o = suite_cli_getopt(argc, argv, ":", opts, NULL, &seen)) != -1) {
    if (o == 'j')
      json_out = optarg;
    else
      return usage("%s", suite_cli_why(o, argc, argv, opts, why, sizeof why));
  }
  size_t n = (size_t)(argc - optind);
  if (n == 0)
    return usage("%s", "no results file given");
  char **files = argv + optind;
  json_t **docs = calloc(n, sizeof *docs);
  suite_cert_t *certs = calloc(n, sizeof *certs);
  char(*labels)[160] = calloc(n, sizeof *labels);
  const char **label_ptrs = calloc(n, sizeof *label_ptrs);
  suite_cert_t all = {0};
  int rc = SUITE_EXIT_USAGE;
  if (!docs || !certs || !labels || !label_ptrs) {
    fprintf(stderr, "mmcert certify: out of memory\n");
    goto out;
  }
  if ((rc = load_all(files, n, docs, certs, labels)))
    goto out;
  for (size_t i = 0; i < n; i++) {
    label_ptrs[i] = labels[i];
    printf("# run %zu: %s on %s: %s\n", i + 1, files[i], labels[i],
           suite_cert_verdict_name(suite_cert_verdict(&certs[i])));
  }
  mmc_error_t err = {0};
  if (suite_cert_combine(certs, label_ptrs, n, &all, &err) != 0) {
    fprintf(stderr, "mmcert certify: %s\n", err.msg);
    rc = SUITE_EXIT_FAIL;
    goto out;
  }
  char title[256];
  snprintf(title, sizeof title, "%s %s, %zu run%s combined", doc_str(docs[0], "implementation", "name"),
           doc_str(docs[0], "implementation", "version"), n, n == 1 ? "" : "s");
  suite_cert_print(stdout, &all, title);
  rc = json_out ? write_json(json_out, docs[0], &all, files, n) : 0;
  if (!rc)
    rc = suite_cert_exit(&all);
out:
  for (size_t i = 0; docs && i < n; i++) {
    json_decref(docs[i]);
    suite_cert_free(&certs[i]);
  }
  suite_cert_free(&all);
  free(docs);
  free(certs);
  free(labels);
  free(label_ptrs);
  return rc;
}
