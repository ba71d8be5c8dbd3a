# omen: an embedded vector database in C, scripted from LuaJIT.
#
#   make              build/libomen.a, build/libomen.so, build/omen.so (the Lua
#                     module) and build/omen-lua: needs a C compiler, and LuaJIT
#                     2.1 with its headers and readline for the last two
#   make test         build and run every suite, normally and under
#                     AddressSanitizer + UBSan; ends with one PASS/FAIL line
#   make demo         index Fashion-MNIST and search it
#   make asan         only the sanitizer run of the suites
#   make tsan         the threaded suites under ThreadSanitizer
#   make amalgamation build/amalgamation/omen.c + omen.h: the library as one file
#   make bench        omen against hnswlib on Fashion-MNIST and clusters
#   make fuzz         fuzz the file and log loaders (FUZZ_SECONDS each, 60)
#   make scale        insert and search 1,000,000 x 128 vectors in memory
#   make deps         install the Debian packages the build needs (as root)
#   make install      under PREFIX (/usr/local), staged in DESTDIR if given
#
# Flags given in CFLAGS are added to omen's own, not substituted for them.
# Warnings are errors in omen's own checks (make test, CI: WERROR=-Werror),
# not for whoever builds the library with a newer compiler.

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2 -g
WERROR  ?=
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes $(WERROR)
SAN     ?=
OMEN_CFLAGS = -std=c11 $(OPT) $(WARN) $(SAN) -fPIC -pthread -MMD -MP $(CFLAGS)
LDLIBS_CORE = -pthread -lm

# Evaluated when a recipe runs, after `deps` has had its chance to install.
LUAJIT_CFLAGS = $(shell pkg-config --cflags luajit)
LUAJIT_LIBS   = $(shell pkg-config --libs luajit)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)
READLINE_LIBS = $(shell pkg-config --libs readline 2>/dev/null || echo -lreadline)
LUAJIT        = luajit

CORE_SRC  = $(sort $(wildcard core/*.c))
CORE_OBJ  = $(CORE_SRC:core/%.c=$(BUILD)/core/%.o)
CORE_HDR  = $(wildcard core/*.h)
LUA_HDR   = $(BUILD)/gen/omen_lua.h $(BUILD)/gen/repl_lua.h
UNIT_SRC  = $(sort $(wildcard tests/test_*.c))
UNIT_BIN  = $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)
AMALG     = $(BUILD)/amalgamation
# test_kinds links its own registry of code kinds in place of kinds.o, so it
# runs against core/*.o only, not the amalgamation.
AMALG_TESTS = $(filter-out %/test_kinds,$(UNIT_SRC:tests/%.c=$(AMALG)/tests/%))

DEPS_STAMP = $(BUILD)/.deps-ok
LUAJIT_STAMP = $(BUILD)/.luajit-ok

.PHONY: all deps suites test checks unit lua-tests repl-test demo asan tsan fuzz fuzzers scale \
        clean amalgamation amalgamation-test install uninstall
.DELETE_ON_ERROR:
.SECONDARY: $(LUA_HDR)

all: $(BUILD)/libomen.a $(BUILD)/libomen.so $(BUILD)/omen.so $(BUILD)/omen-lua

# -- Dependencies -------------------------------------------------------------
# The library needs nothing. The Lua module and omen-lua need LuaJIT with
# headers and readline, checked (not installed) when they are built. The
# checks (test, fuzz, bench, demo) install what they use (`make deps`: the
# whole list, as root on Debian).

# LuaJIT comes as two Debian pairs that conflict: luajit + libluajit-5.1-dev,
# and OpenResty's luajit2 + libluajit2-5.1-dev, which nginx's Lua module
# needs. omen builds with either. deps keeps the pair that is installed and,
# where neither is, takes luajit2 (so nginx can come too); it never swaps one
# pair for the other.
LUAJIT_PAIR = $(shell if dpkg-query -W -f='$${Status}' libluajit-5.1-2 2>/dev/null \
                | grep -q 'ok installed'; then echo luajit libluajit-5.1-dev; \
                else echo luajit2 libluajit2-5.1-dev; fi)
LUA_PKGS = $(LUAJIT_PAIR) libreadline-dev pkg-config
DEB_PKGS = $(LUA_PKGS) libcmocka-dev tmux lua-cjson clang libclang-rt-dev
DEMO_PKGS = dataset-fashion-mnist

# Install missing Debian packages (idempotent); elsewhere say what is needed.
deps:
	@missing=""; for p in $(or $(PKGS),$(DEB_PKGS)) $(EXTRA_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q '^install ok installed' \
	    || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends$$missing >/dev/null || exit 1; \
	else \
	  echo "omen needs:$$missing"; \
	  echo "  on Debian/Ubuntu: sudo apt-get install$$missing"; \
	  echo "  elsewhere: LuaJIT 2.1 with headers, cmocka, readline, pkg-config, tmux"; \
	  exit 1; fi

# What `make` alone needs for the Lua side: said, not installed.
$(LUAJIT_STAMP):
	@mkdir -p $(BUILD)
	@if pkg-config --exists luajit 2>/dev/null && command -v $(LUAJIT) >/dev/null \
	   && [ -f /usr/include/readline/readline.h ]; then :; else \
	  echo "omen's Lua module and omen-lua need LuaJIT 2.1 with its headers, pkg-config"; \
	  echo "and readline: on Debian, apt-get install luajit libluajit-5.1-dev pkg-config"; \
	  echo "(or luajit2 libluajit2-5.1-dev, beside nginx's Lua module)"; \
	  echo "libreadline-dev (or make deps, as root). The C library alone:"; \
	  echo "make $(BUILD)/libomen.a $(BUILD)/libomen.so"; exit 1; fi
	@touch $@

$(DEPS_STAMP):
	@mkdir -p $(BUILD)
	@if pkg-config --exists luajit cmocka && command -v $(LUAJIT) >/dev/null \
	   && $(LUAJIT) -e 'require "cjson"' 2>/dev/null \
	   && command -v tmux >/dev/null && [ -f /usr/include/readline/readline.h ] \
	   && command -v clang >/dev/null && ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; \
	 then :; else $(MAKE) --no-print-directory deps; fi
	@touch $@

# -- Library -------------------------------------------------------------------

$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -c $< -o $@

$(BUILD)/libomen.a: $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libomen.so: $(CORE_OBJ)
	$(CC) $(OMEN_CFLAGS) -shared -Wl,-soname,libomen.so.0 -o $@ $^ $(LDLIBS_CORE)

# -- Lua module and omen-lua ----------------------------------------------------

$(BUILD)/gen/%_lua.h: lua/%.lua scripts/build/embed.lua | $(LUAJIT_STAMP)
	@mkdir -p $(@D)
	$(LUAJIT) scripts/build/embed.lua $* $< $@

$(BUILD)/lua/%.o: lua/%.c $(LUA_HDR) | $(LUAJIT_STAMP)
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -Icore -I$(BUILD)/gen $(LUAJIT_CFLAGS) -c $< -o $@

$(BUILD)/omen.so: $(BUILD)/lua/binding.o $(CORE_OBJ)
	$(CC) $(OMEN_CFLAGS) -shared -o $@ $^ $(LDLIBS_CORE)

$(BUILD)/omen-lua: $(BUILD)/lua/omen-lua.o $(BUILD)/lua/binding.o $(CORE_OBJ)
	$(CC) $(OMEN_CFLAGS) -o $@ $^ $(LUAJIT_LIBS) $(READLINE_LIBS) -ldl $(LDLIBS_CORE) \
	  -Wl,-E

# -- Tests ------------------------------------------------------------------------

$(BUILD)/tests/%: tests/%.c $(CORE_OBJ) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -Icore -o $@ $< $(CORE_OBJ) $(CMOCKA_LIBS) $(LDLIBS_CORE)

KINDLESS_OBJ = $(filter-out $(BUILD)/core/kinds.o,$(CORE_OBJ))
$(BUILD)/tests/test_kinds: tests/test_kinds.c $(KINDLESS_OBJ) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -Icore -o $@ $< $(KINDLESS_OBJ) $(CMOCKA_LIBS) $(LDLIBS_CORE)

# Everything the suites need, in $(BUILD).
suites: all $(UNIT_BIN)

unit: $(UNIT_BIN)
	@sh tests/run_unit.sh $(UNIT_BIN)

lua-tests: $(DEPS_STAMP) all
	@$(BUILD)/omen-lua tests/lua/run.lua

repl-test: $(DEPS_STAMP) all
	@sh tests/repl_test.sh $(BUILD)/omen-lua

ASAN_BUILD = $(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" suites

# ThreadSanitizer over the suites that run threads: parallel builds, readers
# beside writers, filter caches, batch searches.
TSAN_SUITES = test_stress test_write test_query test_catalog test_hnsw test_filter test_codes \
  test_follow
TSAN_BUILD = $(MAKE) --no-print-directory BUILD=build-tsan OPT="-O1 -g" \
  SAN="-fsanitize=thread" $(TSAN_SUITES:%=build-tsan/tests/%)

FUZZ_SECONDS ?= 60
FUZZ_BUILD = $(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT="-O1 -g" \
  SAN="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all \
       -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION" fuzzers
FUZZERS = fuzz_open fuzz_wal

# Every check, with warnings as errors (CI runs exactly this).
test:
	@$(MAKE) --no-print-directory WERROR=-Werror checks

checks: $(DEPS_STAMP) suites amalgamation $(AMALG_TESTS)
	@$(ASAN_BUILD)
	@$(TSAN_BUILD)
	@$(FUZZ_BUILD)
	@FUZZ_SECONDS=15 TSAN_SUITES="$(TSAN_SUITES)" AMALG_TESTS="$(AMALG_TESTS)" \
	  sh tests/run_all.sh $(BUILD) build-asan

# The threaded suites under ThreadSanitizer only.
tsan: $(DEPS_STAMP)
	@$(TSAN_BUILD)
	@fail=0; for t in $(TSAN_SUITES); do echo "== build-tsan: $$t"; \
	  TSAN_OPTIONS=halt_on_error=1 build-tsan/tests/$$t || fail=1; done; \
	  if [ $$fail = 0 ]; then echo "PASS: $(TSAN_SUITES) under TSan"; \
	  else echo "FAIL: under TSan"; exit 1; fi

# The suites under AddressSanitizer and UndefinedBehaviorSanitizer only.
asan: $(DEPS_STAMP)
	@$(ASAN_BUILD)
	@sh tests/run_all.sh build-asan

# -- Amalgamation ------------------------------------------------------------------
# One omen.c beside omen.h, as SQLite ships: `cc -c omen.c` builds the whole
# library. It is built here with omen's own warnings, and the C suites are
# linked against it instead of core/*.o.

amalgamation: $(AMALG)/omen.c $(AMALG)/omen.h $(AMALG)/omen.o $(AMALG)/omen-clang.o

$(AMALG)/omen.c: $(CORE_SRC) $(CORE_HDR) scripts/build/amalgamate.awk
	@mkdir -p $(@D)
	awk -v dir=core -f scripts/build/amalgamate.awk $(CORE_SRC) > $@

$(AMALG)/omen.h: core/omen.h
	@mkdir -p $(@D)
	cp core/omen.h $@

$(AMALG)/omen.o: $(AMALG)/omen.c $(AMALG)/omen.h
	$(CC) $(OMEN_CFLAGS) -I$(AMALG) -c $< -o $@

# and clean under clang's warnings too
$(AMALG)/omen-clang.o: $(AMALG)/omen.c $(AMALG)/omen.h | $(DEPS_STAMP)
	clang $(OMEN_CFLAGS) -I$(AMALG) -c $< -o $@

$(AMALG)/tests/%: tests/%.c $(AMALG)/omen.o | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -Icore -o $@ $< $(AMALG)/omen.o $(CMOCKA_LIBS) $(LDLIBS_CORE)

amalgamation-test: $(AMALG_TESTS)
	@sh tests/run_unit.sh $(AMALG_TESTS)

# -- Fuzzing --------------------------------------------------------------------
# libFuzzer targets over the loaders, built with clang, ASan and UBSan, and
# with checksums accepted so the checks behind them are reached. The tests
# leave their database and log files as the seed corpus.

$(BUILD)/fuzz/%: tests/%.c $(CORE_OBJ) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -fsanitize=fuzzer -Icore -o $@ $< $(CORE_OBJ) $(LDLIBS_CORE)

fuzzers: $(FUZZERS:%=$(BUILD)/fuzz/%)

fuzz: $(UNIT_BIN)
	@$(FUZZ_BUILD)
	@sh tests/run_fuzz.sh build-fuzz $(BUILD) $(FUZZ_SECONDS)

# -- Demo -----------------------------------------------------------------------

# The demo needs only the Lua side and the data: installed if missing.
demo:
	@$(MAKE) --no-print-directory deps PKGS="$(LUA_PKGS) $(DEMO_PKGS)"
	@$(MAKE) --no-print-directory all
	$(BUILD)/omen-lua scripts/examples/demo.lua

# -- Benchmarks -------------------------------------------------------------------

$(BUILD)/bench/%: bench/%.c bench/bench.h $(BUILD)/libomen.a
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -Icore -o $@ $< $(BUILD)/libomen.a $(LDLIBS_CORE)

$(BUILD)/bench/text: bench/text.c bench/bench.h $(BUILD)/libomen.a
	@mkdir -p $(@D)
	$(CC) $(OMEN_CFLAGS) -Icore -o $@ $< $(BUILD)/libomen.a -lsqlite3 $(LDLIBS_CORE)

scale: $(BUILD)/bench/scale
	$(BUILD)/bench/scale 1000000 128

# omen (through C and through Lua) against hnswlib on Fashion-MNIST and on
# synthetic clusters, and its text index against SQLite FTS5 on Debian's
# package descriptions and man pages, in one run: tables and ratios on the terminal,
# $(BUILD)/bench/results.json and $(BUILD)/bench/fashion-mnist.png. The
# hnswlib runner is built by bench/run.sh with g++ -O3 -march=native.
BENCH_PKGS = libhnswlib-dev dataset-fashion-mnist gnuplot-nox g++ lua-cjson libsqlite3-dev

.PHONY: bench
bench:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(BENCH_PKGS)"
	@$(MAKE) --no-print-directory all $(BUILD)/bench/ann $(BUILD)/bench/follow $(BUILD)/bench/text
	@OMEN_BENCH_CFLAGS="$(strip $(OPT) $(CFLAGS))" sh bench/run.sh $(BUILD)

# -- Install ----------------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=staging]: the libraries, the
# headers (omen.h; lomen.h for hosts that hand databases to lua_States), the
# Lua module where LuaJIT looks for C modules under PREFIX, omen-lua, its man
# page, the batch-job scripts (scripts/*.lua) in share/omen/scripts, the
# examples (scripts/examples/) in share/omen/scripts/examples, and omen.pc for
# pkg-config. The build helpers (scripts/build/) are not installed.

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
LUA_CMOD ?= $(LIBDIR)/lua/5.1
SHARE    = $(PREFIX)/share
VERSION  = $(shell sed -n 's/^\#define OMEN_VERSION  *"\(.*\)"/\1/p' core/omen.h)
INSTALL_SCRIPTS  = $(wildcard scripts/*.lua)
INSTALL_EXAMPLES = $(wildcard scripts/examples/*.lua scripts/examples/*.c)

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LUA_CMOD) $(DESTDIR)$(SHARE)/man/man1 \
	  $(DESTDIR)$(SHARE)/omen/scripts/examples
	install -m 644 $(BUILD)/libomen.a $(DESTDIR)$(LIBDIR)/libomen.a
	install -m 755 $(BUILD)/libomen.so $(DESTDIR)$(LIBDIR)/libomen.so.$(VERSION)
	ln -sf libomen.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libomen.so.0
	ln -sf libomen.so.0 $(DESTDIR)$(LIBDIR)/libomen.so
	install -m 644 core/omen.h lua/lomen.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/omen.so $(DESTDIR)$(LUA_CMOD)/omen.so
	install -m 755 $(BUILD)/omen-lua $(DESTDIR)$(PREFIX)/bin/omen-lua
	install -m 644 lua/omen-lua.1 $(DESTDIR)$(SHARE)/man/man1/omen-lua.1
	install -m 644 $(INSTALL_SCRIPTS) $(DESTDIR)$(SHARE)/omen/scripts/
	install -m 644 $(INSTALL_EXAMPLES) $(DESTDIR)$(SHARE)/omen/scripts/examples/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$${prefix}/include' '' \
	  'Name: omen' 'Description: embedded vector database' 'Version: $(VERSION)' \
	  'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lomen' 'Libs.private: -pthread -lm' \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/omen.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libomen.a $(DESTDIR)$(LIBDIR)/libomen.so* \
	  $(DESTDIR)$(PREFIX)/include/omen.h $(DESTDIR)$(PREFIX)/include/lomen.h \
	  $(DESTDIR)$(LUA_CMOD)/omen.so $(DESTDIR)$(PREFIX)/bin/omen-lua \
	  $(DESTDIR)$(SHARE)/man/man1/omen-lua.1 $(DESTDIR)$(LIBDIR)/pkgconfig/omen.pc
	rm -rf $(DESTDIR)$(SHARE)/omen

clean:
	rm -rf build build-asan build-tsan build-fuzz

# Header dependencies, as the compiler found them (-MMD).
-include $(wildcard $(BUILD)/core/*.d $(BUILD)/lua/*.d $(BUILD)/tests/*.d \
                    $(BUILD)/bench/*.d $(BUILD)/fuzz/*.d $(AMALG)/*.d $(AMALG)/tests/*.d)
