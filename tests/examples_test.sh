#!/bin/sh
# The quick starts of the README, built and run as a user would: the C one
# against the static library, the Lua one under omen-lua and under a plain
# luajit that finds the module through package.cpath; the embedding
# examples (C with its own allocator and threads; a host with one lua_State
# per thread).
# usage: examples_test.sh BUILD
build=${1:-build}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "examples: $*"; exit 1; }
san=""
case "$build" in *asan*) san="-fsanitize=address,undefined" ;; esac

cc -std=c11 -Wall -Wextra -Werror $san -Icore scripts/examples/quickstart.c \
  "$build/libomen.a" -pthread -lm -o "$tmp/quickstart" || fail "C quick start does not build"
out=$("$tmp/quickstart") || fail "C quick start failed"
echo "$out" | grep -q "^1. apple " || fail "C quick start: unexpected output: $out"
"$tmp/quickstart" "$tmp/q.omen" >/dev/null && "$tmp/quickstart" "$tmp/q.omen" >/dev/null ||
  fail "C quick start on a file failed"

# Embedding without Lua: an allocator with a budget, a loader thread.
cc -std=c11 -Wall -Wextra -Werror $san -Icore scripts/examples/embed.c "$build/libomen.a" \
  -pthread -lm -o "$tmp/embed" || fail "embed.c does not build"
out=$("$tmp/embed") || fail "embed.c failed: $out"
echo "$out" | grep -q "^loader: stopped at the budget after [0-9]* records" ||
  fail "embed.c: the budget did not stop the loader: $out"
echo "$out" | grep -q "^after close: 0 bytes held$" || fail "embed.c: memory left: $out"

# One lua_State per thread over one database the host opened.
lib=$(cd "$build" && pwd)
cc -std=c11 -Wall -Wextra -Werror $san -Icore -Ilua $(pkg-config --cflags luajit) \
  scripts/examples/lua_states.c "$lib/omen.so" $(pkg-config --libs luajit) -pthread \
  -Wl,-rpath,"$lib" -o "$tmp/lua_states" || fail "lua_states.c does not build"
out=$("$tmp/lua_states") || fail "lua_states.c failed: $out"
echo "$out" | grep -q "^writer stored 2000 records, reader saw [0-9]* hits in 500 searches, count 2000$" ||
  fail "lua_states.c: unexpected output: $out"

out=$("$build/omen-lua" scripts/examples/quickstart.lua) || fail "Lua quick start failed"
echo "$out" | grep -q "^1	apple" || fail "Lua quick start: unexpected output: $out"
echo "$out" | grep -q "count	4" || fail "Lua quick start: wrong count: $out"

# The worked examples over the synthetic catalog (scripts/examples/catalog.lua).
# Each checks its own answers and exits non-zero on a mismatch; here, its
# exit status and one line of its output.
example() { # NAME PATTERN
  out=$("$build/omen-lua" "scripts/examples/$1.lua" 2>&1) || fail "$1 failed: $out"
  echo "$out" | grep -q "$2" || fail "$1: unexpected output: $out"
}
example filter_products '^deleted 591 stale products: 3000 -> 2409$'
example rerank_mmr '^categories: plain 1 (jackets 10), MMR 3 '
example rerank_boost '^entered the top 10: .* from #'
example hybrid_search '^renamed p[0-9]*: found by .glacier.$'
example hybrid_score '^  1\. Trail Bomber 143 .* = \$60\.99  words 0\.5$'
"$build/omen-lua" scripts/examples/rerank_mmr.lua --help | grep -q "^usage: " ||
  fail "rerank_mmr --help: no usage"

if [ -z "$san" ]; then # plain luajit cannot load an ASan-built module
  out=$(luajit -e "package.cpath = '$build/?.so;' .. package.cpath
    local omen = require('omen')
    local db = omen.open()
    local c = db:create_collection('x', {dim = 2})
    c:upsert('a', {1, 2})
    print(omen.version, c:count(), c:search({1, 2}, 1)[1].id)") || fail "luajit require failed"
  [ "$out" = "0.1.0	1	a" ] || fail "luajit require: unexpected output: $out"
fi
echo "examples: C and Lua quick starts, the embedding examples and the worked examples ran"
