/*
 * spec.c — look-ups over the generated specification tables (spec.h; the
 * tables themselves are build/gen/spec_table.c, made from doc/spec.md).
 */
#include "spec.h"

#include <string.h>

const suite_spec_t *suite_spec_find(const char *id) {
  if (!id)
    return NULL;
  for (const suite_spec_t *s = suite_spec; s->id; s++)
    if (!strcmp(s->id, id))
      return s;
  return NULL;
}

size_t suite_spec_count(void) {
  size_t n = 0;
  while (suite_spec[n].id)
    n++;
  return n;
}

const suite_spec_setting_t *suite_spec_setting_find(const char *name) {
  if (!name)
    return NULL;
  for (const suite_spec_setting_t *s = suite_spec_settings; s->name; s++)
    if (!strcmp(s->name, name))
      return s;
  return NULL;
}
