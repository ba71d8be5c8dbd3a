#!/bin/sh
# Run every suite against each build directory given (build, build-asan, ...)
# and end with one PASS/FAIL line. Suites: the cmocka binaries in
# BUILD/tests, the Lua contract tests, the omen-lua prompt test; the
# collection suites of the first build again over each code kind
# (OMEN_TEST_QUANT, tests/testutil.h); an install
# of the first build into a staging directory, the check that its core/
# calls only go down (tests/layers.lua), its module inside Tarantool and
# inside nginx (tests/hosts); then the
# C suites linked against the amalgamation (AMALG_TESTS), the suites named in
# TSAN_SUITES from build-tsan, and the fuzzers if built.
failed=""
total=0
run() { # label, command...
  label=$1; shift
  total=$((total + 1))
  printf '== %s\n' "$label"
  if ! "$@"; then failed="$failed $label"; fi
}
for build in "$@"; do
  for t in "$build"/tests/test_*; do
    [ -x "$t" ] && run "$build: $(basename "$t")" "$t"
  done
  run "$build: lua" "$build/omen-lua" tests/lua/run.lua
  run "$build: examples" sh tests/examples_test.sh "$build"
  run "$build: repl" sh tests/repl_test.sh "$build/omen-lua"
done
# The collection suites again with every collection on each code kind.
for kind in sq8 pca8; do
  for t in test_write test_query test_filter test_hnsw test_compact test_storage \
           test_catalog test_crash test_wal; do
    run "$1: $t over $kind" env OMEN_TEST_QUANT=$kind "$1/tests/$t"
  done
done
run "$1: install" sh tests/install_test.sh "$1"
run "$1: layers" "$1/omen-lua" tests/layers.lua "$1/core"
run "$1: tarantool" sh tests/hosts/tarantool_test.sh "$1"
run "$1: nginx" sh tests/hosts/nginx_test.sh "$1"
for t in ${AMALG_TESTS:-}; do
  run "amalgamation: $(basename "$t")" "$t"
done
for t in ${TSAN_SUITES:-}; do
  run "build-tsan: $t" env TSAN_OPTIONS=halt_on_error=1 "build-tsan/tests/$t"
done
if [ -n "${FUZZ_SECONDS:-}" ] && [ -x build-fuzz/fuzz/fuzz_open ]; then
  run "fuzz (${FUZZ_SECONDS} s each)" sh tests/run_fuzz.sh build-fuzz "$1" "$FUZZ_SECONDS"
fi
if [ -z "$failed" ]; then
  echo "PASS: all $total suites passed ($*)"
else
  echo "FAIL:$failed"
  exit 1
fi
