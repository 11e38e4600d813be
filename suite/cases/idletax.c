/* placeholder replaced below */
#include "memsim.h"
void case_alloc_2(suite_ctx_t *c) { sc_skip(c, "todo"); }
void case_alloc_3(suite_ctx_t *c) { sc_skip(c, "todo"); }
void case_alloc_5(suite_ctx_t *c) { sc_skip(c, "todo"); }
void case_alloc_6(suite_ctx_t *c) { sc_skip(c, "todo"); }
void case_alloc_osdi02(suite_ctx_t *c) { sc_skip(c, "todo"); }
