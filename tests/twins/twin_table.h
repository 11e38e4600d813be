/*
 * twin_table.h — the twins of reference-impl/twin.h as a table (name, SPEC
 * id, topology, kind, how), for the twin build's selector (twin.c) and for
 * twin-list (twin_list.c), which prints it for the kill matrix. Each
 * includer gets its own copy; call ref_twin_table_init() first.
 */
#ifndef TWIN_TABLE_H
#define TWIN_TABLE_H

#ifndef REF_TWINS
#define REF_TWINS 1
#endif
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>

#include "twin.h"

#define REF_TWIN_NAME_MAX 64

typedef struct ref_twin_row {
  const char *ident;            /* the C name of the row: NUMA1_FIRST_TOUCH_NEXT_NODE */
  const char *spec;             /* the SPEC id it breaks */
  const char *topology;         /* --topology of its kill-matrix run */
  int kind;                     /* REF_TWIN_BROKEN or REF_TWIN_LIAR */
  const char *how;              /* one line */
  char name[REF_TWIN_NAME_MAX]; /* ident in lower case, '-' for '_' (init) */
} ref_twin_row_t;

/* Indexed by enum ref_twin_id; row 0 is the reference itself. */
static ref_twin_row_t ref_twin_table[REF_TWIN_ID_COUNT] = {
    {"NONE", "", "", REF_TWIN_BROKEN, "the reference", ""},
#define REF_TWIN_ROW(id, spec, topo, kind, how) {#id, spec, topo, kind, how, ""},
    REF_TWIN_LIST(REF_TWIN_ROW)
#undef REF_TWIN_ROW
};

static inline void ref_twin_table_init(void) {
  for (int i = 0; i < REF_TWIN_ID_COUNT; i++) {
    const char *s = ref_twin_table[i].ident;
    size_t k = 0;
    for (; s[k] && k + 1 < REF_TWIN_NAME_MAX; k++)
      ref_twin_table[i].name[k] = s[k] == '_' ? '-' : (char)tolower((unsigned char)s[k]);
    ref_twin_table[i].name[k] = '\0';
  }
}

#endif
