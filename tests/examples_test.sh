#!/bin/sh
# The quick starts of the README, built and run as a user would: the C one
# against the static library, the Lua one under omen-lua and under a plain
# luajit that finds the module through package.cpath.
# usage: examples_test.sh BUILD
build=${1:-build}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "examples: $*"; exit 1; }
san=""
case "$build" in *asan*) san="-fsanitize=address,undefined" ;; esac

cc -std=c11 -Wall -Wextra -Werror $san -Icore scripts/quickstart.c \
  "$build/libomen.a" -pthread -lm -o "$tmp/quickstart" || fail "C quick start does not build"
out=$("$tmp/quickstart") || fail "C quick start failed"
echo "$out" | grep -q "^1. apple " || fail "C quick start: unexpected output: $out"
"$tmp/quickstart" "$tmp/q.omen" >/dev/null && "$tmp/quickstart" "$tmp/q.omen" >/dev/null ||
  fail "C quick start on a file failed"

out=$("$build/omen-lua" scripts/quickstart.lua) || fail "Lua quick start failed"
echo "$out" | grep -q "^1	apple" || fail "Lua quick start: unexpected output: $out"
echo "$out" | grep -q "count	4" || fail "Lua quick start: wrong count: $out"

if [ -z "$san" ]; then # plain luajit cannot load an ASan-built module
  out=$(luajit -e "package.cpath = '$build/?.so;' .. package.cpath
    local omen = require('omen')
    local db = omen.open()
    local c = db:create_collection('x', {dim = 2})
    c:upsert('a', {1, 2})
    print(omen.version, c:count(), c:search({1, 2}, 1)[1].id)") || fail "luajit require failed"
  [ "$out" = "0.1.0	1	a" ] || fail "luajit require: unexpected output: $out"
fi
echo "examples: C and Lua quick starts ran"
