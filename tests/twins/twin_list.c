/*
 * twin_list.c — twin-list: print the twins of the twin build
 * (reference-impl/twin.h), one a line, tab-separated: name, SPEC id,
 * topology, kind ("broken" or "liar"), how. The kill matrix
 * (kill-matrix.pl) reads it; `twin-list --names` prints the names only.
 */
#include <stdio.h>
#include <string.h>

#include "twin_table.h"

int main(int argc, char **argv) {
  bool names = argc > 1 && strcmp(argv[1], "--names") == 0;
  if (argc > 2 || (argc == 2 && !names)) {
    fprintf(stderr, "usage: twin-list [--names]\n");
    return 2;
  }
  ref_twin_table_init();
  for (int i = 1; i < REF_TWIN_ID_COUNT; i++) {
    const ref_twin_row_t *r = &ref_twin_table[i];
    if (names)
      printf("%s\n", r->name);
    else
      printf("%s\t%s\t%s\t%s\t%s\n", r->name, r->spec, r->topology,
             r->kind == REF_TWIN_LIAR ? "liar" : "broken", r->how);
  }
  return 0;
}
