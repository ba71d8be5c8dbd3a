#!/bin/sh
# Run every suite of `make test` and end with one PASS/FAIL line.
# usage: run_all.sh BUILD unit-test-binaries...
build=$1; shift
failed=""
run() { # name, command...
  name=$1; shift
  printf '== %s\n' "$name"
  if "$@"; then :; else failed="$failed $name"; fi
}
for t in "$@"; do run "$(basename "$t")" "$t"; done
run lua "$build/omen-lua" tests/lua/run.lua
run repl sh tests/repl_test.sh "$build/omen-lua"
if [ -z "$failed" ]; then
  echo "PASS: all suites passed"
else
  echo "FAIL:$failed"
  exit 1
fi
