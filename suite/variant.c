/*
 * variant.c — the variants a case declares in its row (case.h, "Variants"):
 * counting, finding by name, and the one way a variant is named, so TAP,
 * the results file, the certificate and --case agree ("NUMA-2/builtin-4").
 *
 * Invariant: a case's variant names are unique and made of [a-z0-9-]
 * (tests/unit/test_variants.c checks the suite's table), so "CASE/VARIANT"
 * splits at its one '/'.
 */
#include <stdio.h>
#include <string.h>

#include "case.h"

size_t suite_case_nvariants(const suite_case_t *c) {
  size_t n = 0;
  while (c->variants && c->variants[n].name)
    n++;
  return n;
}

const suite_variant_t *suite_case_variant(const suite_case_t *c, const char *name) {
  for (size_t i = 0; name && i < suite_case_nvariants(c); i++)
    if (!strcmp(c->variants[i].name, name))
      return &c->variants[i];
  return NULL;
}

void suite_case_name(const suite_case_t *c, const suite_variant_t *v, char *buf, size_t cap) {
  if (v)
    snprintf(buf, cap, "%s/%s", c->id, v->name);
  else
    snprintf(buf, cap, "%s", c->id);
}

/* A case with variants has the forms some variant of it has: a form no
 * variant belongs to would run nothing. */
uint32_t suite_case_clocks(const suite_case_t *c, const suite_variant_t *v) {
  uint32_t forms = c->clocks ? c->clocks : SUITE_CLOCKS_BOTH;
  if (v)
    return v->clocks ? v->clocks & forms : forms;
  uint32_t some = 0;
  for (size_t k = 0; k < suite_case_nvariants(c); k++)
    some |= suite_case_clocks(c, &c->variants[k]);
  return c->variants && some ? some : forms;
}

const char *suite_clocks_name(uint32_t forms) {
  if (forms == SUITE_CLOCKS_BOTH)
    return "stepped,live";
  return forms == SUITE_CLOCKS_LIVE ? "live" : forms == SUITE_CLOCKS_STEPPED ? "stepped" : "none";
}
