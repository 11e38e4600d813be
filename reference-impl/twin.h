/*
 * twin.h — broken twins of the reference: the compile-time switch and the
 * list of twins (prefix ref_twin_, REF_TWIN). Internal header, never
 * installed.
 *
 * What. A twin is the reference with one documented behaviour broken, the
 * way implementations really get it wrong: a wrong comparison, a missed
 * setting, a skipped copy, an off-by-one, a dropped margin; and twins that
 * lie, reporting the documented behaviour in their statistics and events
 * while doing otherwise, which only the suite's independent probes can
 * catch. The kill matrix (tests/twins/kill-matrix.pl, run by `make check`
 * and published by `make kill-matrix` as doc/kill-matrix.md) runs each twin
 * through the cases that name its SPEC id and requires the certificate to
 * fail that id: a twin the suite passes is a hole in the suite. Every SPEC
 * id of doc/spec.md has at least one twin (the matrix refuses an id
 * without).
 *
 * How. The reference's sources carry hooks, `if (REF_TWIN(NAME)) ...`, at
 * the line a twin breaks. In the normal build REF_TWINS is undefined and
 * REF_TWIN(NAME) is the constant 0: the compiler drops every hook, and no
 * twin name, table or selector exists in libmmref.so or libmmref.a
 * (tests/cli/kill-matrix.t checks the library for them). The twin build
 * compiles the same sources once more with -DREF_TWINS=1 into
 * build/tests/twins/libmmref-twins.so, every hook compiled in, and
 * tests/twins/twin.c chooses the one twin the library runs as, at load,
 * from the file name it was loaded by: build/tests/twins/NAME.so is a
 * symbolic link to the library, so
 *     mmcert run --impl build/tests/twins/NAME.so --spec ID
 * runs twin NAME, and its certificate names the implementation "twin:NAME".
 * Loaded by any other name the library is the reference itself.
 *
 * Why one build with hooks and links rather than a build or patch per
 * twin: 60 builds of the reference would cost minutes of a 2-core
 * `make check`; the one extra build costs what the reference's own does
 * (about 10 s) and a link nothing. A patch set would stop applying with
 * the next change of the code it patches; a hook sits in that code, is
 * compiled with it in every `make check`, and says in place what breaking
 * it means. Choosing by file name rather than an environment variable
 * keeps a twin a plain implementation path, whatever the runner does with
 * its children's environment.
 *
 * Invariants: REF_TWIN(NAME) is 0 unless REF_TWINS is defined; at most one
 * twin is active in a process (ref_twin_active, set once at load); a hook
 * changes only what its row says; twins break behaviour, they do not
 * crash (a crash proves nothing about the suite's checks).
 *
 * A row: X(NAME, "SPEC id", "topology", kind, "how, in one line"), kind
 * REF_TWIN_BROKEN (the behaviour is wrong and reported as it is) or
 * REF_TWIN_LIAR (wrong, while statistics and events report it right). The
 * name a twin is run by is NAME in lower case with '-' for '_'.
 */
#ifndef REF_TWIN_H
#define REF_TWIN_H

#define REF_TWIN_BROKEN 0
#define REF_TWIN_LIAR 1

/* clang-format off */
#define REF_TWIN_LIST(X)                                                                           \
  X(SET1_RANGE_OFF_BY_ONE, "SET-1", "builtin:2", REF_TWIN_BROKEN,                                  \
    "range check compares with > max + 1: one above the maximum is accepted")                      \
  X(NUMA1_FIRST_TOUCH_NEXT_NODE, "NUMA-1", "builtin:2", REF_TWIN_LIAR,                             \
    "first touch takes its frame from the nearest other node; pages_per_node counts it on the home") \
  X(SEC1_FRAMES_NOT_ZEROED, "SEC-1", "builtin:2", REF_TWIN_BROKEN,                                 \
    "a freed frame goes back to the free list without being punched: reused unzeroed")
/* clang-format on */

#ifdef REF_TWINS
enum ref_twin_id {
  REF_TWIN_ID_NONE = 0,
#define REF_TWIN_ENUM(name, spec, topo, kind, how) REF_TWIN_ID_##name,
  REF_TWIN_LIST(REF_TWIN_ENUM)
#undef REF_TWIN_ENUM
      REF_TWIN_ID_COUNT
};
/* The twin this process runs as (tests/twins/twin.c); REF_TWIN_ID_NONE = the
 * reference. Set once, before any host exists. */
extern int ref_twin_active;
#define REF_TWIN(name) (ref_twin_active == REF_TWIN_ID_##name)
#define REF_TWIN_CONST /* the contract table: twin.c writes the twin's name */
#else
#define REF_TWIN(name) 0
#define REF_TWIN_CONST const
#endif

#endif
