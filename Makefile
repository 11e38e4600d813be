# mmcert — top-level Makefile.
#
# Sources are picked up by directory; nothing needs listing here:
#   common/*.c          -> build/libmmcommon.a   (topology, text/size parsing; shared)
#   reference-impl/*.c  -> build/libmmref.so + build/libmmref.a (the reference implementation)
#   linux-impl/*.c      -> build/libmmlinux.so + build/libmmlinux.a (the Linux kernel's own)
#   workloads/*.c       -> build/libworkloads.a + build/libworkloads.so
#   suite/**/*.c        -> build/mmcert          (main.c) + build/libmmsuite.a (the rest)
#   doc/spec.md         -> build/gen/spec_table.c (suite/spec_gen.awk; in libmmsuite.a)
#   tests/unit/test_*.c -> build/tests/test_*    (cmocka, TAP, run by prove)
#   tests/cli/*.t       -> shell tests (TAP), run by prove
#
# `make V=1` shows the commands. Flags changes rebuild everything (build/.flags).
# `make BUILD=build-asan SANITIZE=address,undefined check-unit` builds and tests a
# sanitizer variant beside the normal one.
# MMREF_DEBUG: the reference's debug level (reference-impl/debug.h): 0 (none),
# 1 (O(1) assertions at transitions, the lock order), 2 (+ invariant walks).
# 2 in the sanitizer builds, 0 otherwise; the broken twins always 0.

# A fresh checkout configures itself; as root it also installs the missing
# Debian packages, so `make suite` works on a new machine.
ifeq ($(wildcard config.mk),)
CONFIGURE_AUTO := ./configure $(if $(filter 0,$(shell id -u)),--install-deps,)
$(info config.mk is missing: running $(CONFIGURE_AUTO))
$(shell $(CONFIGURE_AUTO) >&2)
endif
include config.mk

BUILD ?= build
SANITIZE ?=
MMREF_DEBUG ?= $(if $(SANITIZE),2,0)
V ?= 0
Q := $(if $(filter 1,$(V)),,@)
say = $(if $(filter 1,$(V)),,@printf '  %-7s %s\n' $(1) $(2);)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all,)
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CPPFLAGS_ALL := -D_GNU_SOURCE -DMMCERT_VERSION='"$(VERSION)"' -DMMREF_DEBUG=$(MMREF_DEBUG) \
	-Isuite/include -Icommon -Ireference-impl -Iworkloads -Isuite -I. $(DEP_CFLAGS)
CFLAGS_ALL := -std=c11 -O2 -g -fPIC -pthread $(WARN) $(SAN_FLAGS) $(CFLAGS)
LDFLAGS_ALL := -pthread $(SAN_FLAGS) $(LDFLAGS)

COMMON_SRC := $(wildcard common/*.c)
REF_SRC := $(wildcard reference-impl/*.c)
LINUX_SRC := $(wildcard linux-impl/*.c)
WL_SRC := $(wildcard workloads/*.c)
SUITE_MAIN := suite/main.c
SUITE_SRC := $(filter-out $(SUITE_MAIN),$(wildcard suite/*.c suite/cases/*.c suite/probes/*.c suite/bench/*.c))
# test_linux_*: the Linux implementation's own tests, linked against it alone.
TEST_SRC := $(filter-out tests/unit/test_linux_%,$(wildcard tests/unit/test_*.c))
TEST_LINUX_SRC := $(wildcard tests/unit/test_linux_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
REF_OBJ := $(call obj,$(REF_SRC))
LINUX_OBJ := $(call obj,$(LINUX_SRC))
WL_OBJ := $(call obj,$(WL_SRC))
# The specification compiled in (suite/spec.h): generated from doc/spec.md.
SPEC_GEN := $(BUILD)/gen/spec_table.c
SPEC_OBJ := $(BUILD)/obj/gen/spec_table.o
SUITE_OBJ := $(call obj,$(SUITE_SRC)) $(SPEC_OBJ)
MAIN_OBJ := $(call obj,$(SUITE_MAIN))
TEST_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_LINUX_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_LINUX_SRC))
# Deliberately broken implementations (wrong ABI, missing symbol, crashing,
# hanging) that prove the runner survives them.
TEST_IMPL_SRC := $(wildcard tests/impls/*.c)
TEST_IMPL_SO := $(patsubst tests/impls/%.c,$(BUILD)/tests/impls/%.so,$(TEST_IMPL_SRC))

# Broken twins of the reference (reference-impl/twin.h): the reference's
# sources compiled once more with every twin hook in (-DREF_TWINS=1), one
# library, and a symbolic link NAME.so to it per twin (the name it is loaded
# by chooses the twin); twin-list prints the twins for the kill matrix.
TWIN_DIR := $(BUILD)/tests/twins
TWIN_OBJ := $(patsubst %.c,$(BUILD)/obj-twins/%.o,$(REF_SRC) tests/twins/twin.c)
TWIN_LIB := $(TWIN_DIR)/libmmref-twins.so
TWIN_LIST := $(TWIN_DIR)/twin-list
TWIN_LINKS := $(TWIN_DIR)/links.stamp

LIBMMREF_SO := $(BUILD)/libmmref.so
LIBMMREF_A := $(BUILD)/libmmref.a
LIBMMLINUX_SO := $(BUILD)/libmmlinux.so
LIBMMLINUX_A := $(BUILD)/libmmlinux.a
LINUX_LIBS ?= -lnuma -lpthread
LIBCOMMON_A := $(BUILD)/libmmcommon.a
LIBWL_A := $(BUILD)/libworkloads.a
LIBWL_SO := $(BUILD)/libworkloads.so
LIBSUITE_A := $(BUILD)/libmmsuite.a
MMCERT := $(BUILD)/mmcert

.PHONY: all check check-unit check-cli check-stats suite baseline bench certify-machines conformance check-numa install uninstall clean distclean format fuzz fuzz-targets fuzz-run fuzz-wire-seeds
all: $(LIBMMREF_SO) $(LIBMMREF_A) $(LIBMMLINUX_SO) $(LIBMMLINUX_A) $(LIBWL_A) $(LIBWL_SO) $(MMCERT) $(BUILD)/mmcert.pc

# configure changed since config.mk was written (a new dependency, a new
# check): run it again with the options it was given, and make restarts.
config.mk: configure
	@echo "configure is newer than config.mk: running ./configure $(CONFIGURE_ARGS)"
	@./configure $(CONFIGURE_ARGS) >&2

# Rebuild when the flags change.
FLAGS_NOW := $(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(LDFLAGS_ALL)
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(BUILD)/.flags config.mk
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# doc/spec.md -> C. A malformed entry or a default that differs from the
# settings table stops the build with doc/spec.md:LINE (nothing half-written).
AWK ?= awk
$(SPEC_GEN): doc/spec.md suite/spec_gen.awk
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q)$(AWK) -f suite/spec_gen.awk doc/spec.md > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }

$(SPEC_OBJ): $(SPEC_GEN) $(BUILD)/.flags config.mk
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBCOMMON_A): $(COMMON_OBJ)
	$(call say,AR,$@)
	$(Q)mkdir -p $(dir $@) && rm -f $@ && ar rcs $@ $^

$(LIBMMREF_A): $(REF_OBJ)
	$(call say,AR,$@)
	$(Q)mkdir -p $(dir $@) && rm -f $@ && ar rcs $@ $^

$(LIBMMREF_SO): $(REF_OBJ) $(LIBCOMMON_A) reference-impl/libmmref.map
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libmmref.so -Wl,--no-undefined -Wl,--version-script=reference-impl/libmmref.map -o $@ $(REF_OBJ) $(LIBCOMMON_A) $(LDFLAGS_ALL) $(REF_LIBS)

$(LIBMMLINUX_A): $(LINUX_OBJ)
	$(call say,AR,$@)
	$(Q)mkdir -p $(dir $@) && rm -f $@ && ar rcs $@ $^

$(LIBMMLINUX_SO): $(LINUX_OBJ) $(LIBCOMMON_A) linux-impl/libmmlinux.map
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libmmlinux.so -Wl,--no-undefined -Wl,--version-script=linux-impl/libmmlinux.map -o $@ $(LINUX_OBJ) $(LIBCOMMON_A) $(LDFLAGS_ALL) $(LINUX_LIBS)

$(LIBWL_A): $(WL_OBJ)
	$(call say,AR,$@)
	$(Q)mkdir -p $(dir $@) && rm -f $@ && ar rcs $@ $^

$(LIBWL_SO): $(WL_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libworkloads.so -o $@ $(WL_OBJ) $(LDFLAGS_ALL) $(WL_LIBS)

$(LIBSUITE_A): $(SUITE_OBJ)
	$(call say,AR,$@)
	$(Q)mkdir -p $(dir $@) && rm -f $@ && ar rcs $@ $^

$(MMCERT): $(MAIN_OBJ) $(LIBSUITE_A) $(LIBWL_A) $(LIBCOMMON_A)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $(MAIN_OBJ) $(LIBSUITE_A) $(LIBWL_A) $(LIBCOMMON_A) $(LDFLAGS_ALL) $(SUITE_LIBS) -Wl,-rpath,'$$ORIGIN'

# Unit tests link everything statically, so white-box tests of the reference
# implementation can reach its internal functions.
$(BUILD)/tests/%: tests/unit/%.c $(LIBSUITE_A) $(LIBWL_A) $(LIBMMREF_A) $(LIBCOMMON_A) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(call say,TEST,$@)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -Itests/unit -DMMCERT_SOURCE_DIR='"$(CURDIR)"' \
		-DMMCERT_BUILD_DIR='"$(abspath $(BUILD))"' -o $@ $< \
		$(LIBSUITE_A) $(LIBWL_A) $(LIBMMREF_A) $(LIBCOMMON_A) $(LDFLAGS_ALL) \
		$(SUITE_LIBS) $(REF_LIBS) $(CMOCKA_LIBS)

# Fuzz targets (tests/fuzz/fuzz_*.c, see tests/fuzz/fuzz.h): one per parser
# of input mmcert does not control. Each is linked twice: with
# tests/fuzz/replay.c by the ordinary compiler, so make check replays the
# committed corpus (tests/cli/fuzz.t), and with libFuzzer by `make fuzz`.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_HDR := $(wildcard tests/fuzz/*.h)
FUZZ_LINK = $(LIBSUITE_A) $(LIBWL_A) $(LIBCOMMON_A) $(LDFLAGS_ALL) $(SUITE_LIBS)
REPLAY_BIN := $(patsubst %,$(BUILD)/fuzz-replay/%,$(FUZZ_NAMES))

$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_HDR) $(LIBSUITE_A) $(LIBWL_A) $(LIBCOMMON_A) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -Itests/fuzz -DMMCERT_SOURCE_DIR='"$(CURDIR)"' -o $@ \
		$< tests/fuzz/replay.c $(FUZZ_LINK)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_HDR) $(LIBSUITE_A) $(LIBWL_A) $(LIBCOMMON_A) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -Itests/fuzz -DMMCERT_SOURCE_DIR='"$(CURDIR)"' \
		-fsanitize=fuzzer -o $@ $< $(FUZZ_LINK)

# `make fuzz`: every library again with clang, AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage in FUZZ_BUILD, then the
# targets. `make fuzz-run` runs each for FUZZ_SECONDS on a copy of its corpus
# (tests/fuzz/run.sh; CI does). FUZZ_CC comes from configure (clang when it
# links -fsanitize=fuzzer).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
fuzz:
	$(Q)[ -n "$(FUZZ_CC)" ] || { echo "make fuzz: configure found no clang that links -fsanitize=fuzzer (Debian: clang and libclang-rt-14-dev; ./configure --install-deps installs them)" >&2; exit 2; }
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) SANITIZE=address,undefined \
		CFLAGS=-fsanitize=fuzzer-no-link fuzz-targets

fuzz-targets: $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_NAMES))

fuzz-run: fuzz
	$(Q)tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

# The seeds of fuzz_topology_wire are encoded topologies: written again by
# this when the wire form changes (commit the files).
$(BUILD)/fuzz-tools/wire_seeds: tests/fuzz/wire_seeds.c $(LIBCOMMON_A) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(LIBCOMMON_A) $(LDFLAGS_ALL) $(SUITE_LIBS)

fuzz-wire-seeds: $(BUILD)/fuzz-tools/wire_seeds
	$(Q)rm -f tests/fuzz/corpus/fuzz_topology_wire/seed-*
	$(Q)$< tests/fuzz/corpus/fuzz_topology_wire builtin:2 builtin:4 builtin:8 \
		'synthetic:node:2 pu:2' 'synthetic:pack:2 node:2 core:2 pu:2;memory=1G' \
		tests/fixtures/topo-gapped-ids.xml tests/fixtures/topo-memory-only.xml \
		tests/fixtures/topo-no-memory.xml tests/fixtures/topo-restricted.xml

# The Linux implementation's white-box tests: its archive and common/ only
# (it shares no code with the reference or the suite).
$(BUILD)/tests/test_linux_%: tests/unit/test_linux_%.c $(LIBMMLINUX_A) $(LIBCOMMON_A) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(call say,TEST,$@)
	$(Q)$(CC) $(CPPFLAGS_ALL) -Ilinux-impl $(CFLAGS_ALL) -Itests/unit -DMMCERT_SOURCE_DIR='"$(CURDIR)"' \
		-DMMCERT_BUILD_DIR='"$(abspath $(BUILD))"' -o $@ $< \
		$(LIBMMLINUX_A) $(LIBCOMMON_A) $(LDFLAGS_ALL) $(LINUX_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/impls/%.so: tests/impls/%.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -shared -o $@ $< $(LDFLAGS_ALL)

$(BUILD)/obj-twins/%.o: %.c $(BUILD)/.flags config.mk
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(filter-out -DMMREF_DEBUG=%,$(CPPFLAGS_ALL)) -DMMREF_DEBUG=0 -Itests/twins \
		-DREF_TWINS=1 $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(TWIN_LIB): $(TWIN_OBJ) $(LIBCOMMON_A) reference-impl/libmmref.map
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libmmref-twins.so -Wl,--no-undefined \
		-Wl,--version-script=reference-impl/libmmref.map -o $@ $(TWIN_OBJ) $(LIBCOMMON_A) \
		$(LDFLAGS_ALL) $(REF_LIBS)

$(TWIN_LIST): tests/twins/twin_list.c tests/twins/twin_table.h reference-impl/twin.h $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)$(CC) $(CPPFLAGS_ALL) -Itests/twins $(CFLAGS_ALL) -o $@ $< $(LDFLAGS_ALL)

# One link per twin, and none for a twin that is gone.
$(TWIN_LINKS): $(TWIN_LIB) $(TWIN_LIST)
	$(Q)find $(TWIN_DIR) -maxdepth 1 -type l -name '*.so' -delete
	$(Q)for n in $$($(TWIN_LIST) --names); do ln -s libmmref-twins.so $(TWIN_DIR)/$$n.so || exit 1; done
	$(Q)touch $@

.PHONY: twins kill-matrix
twins: $(TWIN_LINKS)

# doc/kill-matrix.md, generated: every twin through the cases naming its
# SPEC id (KILL_MATRIX_JOBS at a time, 2 by default); commit the file.
# `make check` runs the same matrix and checks the file's rows.
kill-matrix: $(TWIN_LINKS) $(LIBMMREF_SO) $(MMCERT)
	$(Q)perl tests/twins/kill-matrix.pl --mmcert $(MMCERT) --twins $(TWIN_DIR) --spec doc/spec.md \
		--lib $(LIBMMREF_SO) --jobs $(or $(KILL_MATRIX_JOBS),2) --write doc/kill-matrix.md

$(BUILD)/mmcert.pc: mmcert.pc.in config.mk VERSION
	@mkdir -p $(BUILD)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

PROVE_FLAGS ?=
# The history tests run on SQLite and on a throw-away PostgreSQL server that
# tests/pg-server.sh starts around the tests (once for `make check`) and
# stops at the end; without the server binaries they SKIP with the reason.
PG_SERVER := PG_BINDIR=$(PG_BINDIR) $(CURDIR)/tests/pg-server.sh
# Unit tests (cmocka, TAP) and CLI tests (shell, TAP), through prove.
check-unit: $(TEST_BIN) $(TEST_LINUX_BIN) $(TEST_IMPL_SO) $(LIBMMREF_SO) $(LIBMMLINUX_SO) $(MMCERT)
	$(Q)CMOCKA_MESSAGE_OUTPUT=TAP MMCERT=$(abspath $(MMCERT)) MMCERT_BUILD=$(abspath $(BUILD)) \
		$(PG_SERVER) $(PROVE) $(PROVE_FLAGS) --exec $(CURDIR)/tests/cmocka-tap $(TEST_BIN) $(TEST_LINUX_BIN)

check-cli: $(TEST_IMPL_SO) $(LIBMMREF_SO) $(LIBMMLINUX_SO) $(MMCERT) $(TWIN_LINKS) $(REPLAY_BIN)
	$(Q)MMCERT=$(abspath $(MMCERT)) MMCERT_BUILD=$(abspath $(BUILD)) \
		$(PG_SERVER) $(PROVE) $(PROVE_FLAGS) --exec '/bin/sh' $(sort $(wildcard tests/cli/*.t))

check: all
	$(Q)CMOCKA_MESSAGE_OUTPUT=TAP MMCERT=$(abspath $(MMCERT)) MMCERT_BUILD=$(abspath $(BUILD)) \
		$(PG_SERVER) $(MAKE) --no-print-directory check-unit check-cli

# The statistical checks' false-failure rates over many seeds: test_bounds,
# which `make check` runs with 3000 seeds (about a second), here with
# STATS_SEEDS (100000: no failure in 30000 already bounds a rate below 1e-4
# at 95 %; a few minutes). CI runs it.
STATS_SEEDS ?= 100000
check-stats: $(BUILD)/tests/test_bounds
	$(Q)MMCERT_STATS_SEEDS=$(STATS_SEEDS) CMOCKA_MESSAGE_OUTPUT=TAP $(PROVE) $(PROVE_FLAGS) -v \
		--exec $(CURDIR)/tests/cmocka-tap $(BUILD)/tests/test_bounds

# The main job: conformance suite against the reference implementation on
# this machine's topology (and an emulated multi-node one on a 1-node host).
suite: all
	$(Q)./tests/run-suite.sh $(MMCERT) $(SUITE_ARGS)

# Refresh results/baselines/<machine class>/ (commit the files); `make suite`
# compares against them. BASELINE_REPEAT=N repetitions per case (default 5).
baseline: all
	$(Q)./tests/baseline.sh $(MMCERT) $(BASELINE_ARGS)

bench: all
	$(Q)$(MMCERT) bench $(BENCH_ARGS)

# doc/conformance.md: the reference and the Linux implementation side by side,
# one row per SPEC id (and the 4-node guest's runs when check-numa left them).
# doc/certified-machines.md, generated: the reference's whole suite on
# builtin:2/4/8, the unequal-nodes fixture and ../shared/topologies' real
# machines (when beside the checkout); commit the file.
certify-machines: all
	$(Q)./tests/certify-machines.sh $(MMCERT) doc/certified-machines.md

conformance: all
	$(Q)./tests/conformance.sh $(MMCERT) doc/conformance.md

check-numa: all
	$(Q)./tests/numa/check-numa.sh $(NUMA_ARGS)

DESTDIR ?=
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/mmcert $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(MMCERT) $(DESTDIR)$(PREFIX)/bin/mmcert
	install -m 0755 $(LIBMMREF_SO) $(DESTDIR)$(PREFIX)/lib/libmmref.so
	install -m 0644 $(LIBMMREF_A) $(DESTDIR)$(PREFIX)/lib/libmmref.a
	install -m 0755 $(LIBMMLINUX_SO) $(DESTDIR)$(PREFIX)/lib/libmmlinux.so
	install -m 0644 suite/include/mmcert/impl.h $(DESTDIR)$(PREFIX)/include/mmcert/impl.h
	install -m 0644 $(BUILD)/mmcert.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/mmcert.pc
	install -m 0644 doc/mmcert.1 $(DESTDIR)$(PREFIX)/share/man/man1/mmcert.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/mmcert $(DESTDIR)$(PREFIX)/lib/libmmref.so \
		$(DESTDIR)$(PREFIX)/lib/libmmref.a $(DESTDIR)$(PREFIX)/lib/libmmlinux.so \
		$(DESTDIR)$(PREFIX)/include/mmcert/impl.h \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/mmcert.pc $(DESTDIR)$(PREFIX)/share/man/man1/mmcert.1

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-*

distclean: clean
	rm -f config.mk config.h

-include $(shell find $(BUILD)/obj $(BUILD)/obj-twins $(BUILD)/tests/impls -name '*.d' 2>/dev/null)
