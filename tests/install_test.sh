#!/bin/sh
# make install into a temporary DESTDIR, then use what was installed as a
# user would: a plain luajit that requires "omen" from the installed module
# directory, a C program built with `pkg-config --cflags --libs omen`, the
# installed omen-lua, its man page, a batch-job script and the examples.
# usage: install_test.sh BUILD
build=${1:-build}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install: $*"; exit 1; }
prefix=/usr/local
root=$tmp/root

make -s --no-print-directory BUILD="$build" install DESTDIR="$root" PREFIX=$prefix \
  >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "make install failed"; }
for f in lib/libomen.a lib/libomen.so lib/libomen.so.0 include/omen.h include/lomen.h \
         lib/lua/5.1/omen.so bin/omen-lua share/man/man1/omen-lua.1 lib/pkgconfig/omen.pc \
         share/omen/scripts/cli.lua share/omen/scripts/ingest.lua \
         share/omen/scripts/examples/quickstart.lua share/omen/scripts/examples/quickstart.c \
         share/omen/scripts/examples/catalog.lua share/omen/scripts/examples/filter_products.lua; do
  [ -e "$root$prefix/$f" ] || fail "$prefix/$f was not installed"
done

out=$(LUA_CPATH="$root$prefix/lib/lua/5.1/?.so" luajit -e '
  local omen = require "omen"
  local db = omen.open()
  local c = db:create_collection("x", {dim = 2})
  c:upsert("a", {1, 2})
  print(omen.version, c:search({1, 2}, 1)[1].id)') || fail "luajit cannot require the installed module"
[ "$out" = "0.1.0	a" ] || fail "installed module: unexpected output: $out"

# pkg-config prefixes the staged root to -I and -L (PKG_CONFIG_SYSROOT_DIR).
export PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs omen) || fail "pkg-config does not know omen"
cc -std=c11 -Wall -Werror scripts/examples/quickstart.c $flags -o "$tmp/quickstart" ||
  fail "a C program does not build with: $flags"
LD_LIBRARY_PATH="$root$prefix/lib" "$tmp/quickstart" | grep -q "^1. apple " ||
  fail "the C program against the installed shared library failed"
cc -std=c11 -Wall -Werror scripts/examples/quickstart.c $(pkg-config --cflags omen) \
  "$root$prefix/lib/libomen.a" $(pkg-config --libs-only-other --static omen) -lm \
  -o "$tmp/quickstart-static" && "$tmp/quickstart-static" >/dev/null ||
  fail "the C program against the installed static library failed"

"$root$prefix/bin/omen-lua" -v | grep -q "^omen 0.1.0" || fail "installed omen-lua -v"
# The installed scripts find their helpers (cli.lua, examples/catalog.lua)
# beside themselves, whatever the working directory.
share=$root$prefix/share/omen/scripts
out=$(cd "$tmp" && "$root$prefix/bin/omen-lua" "$share/examples/quickstart.lua") ||
  fail "installed omen-lua cannot run an installed example"
out=$(cd "$tmp" && "$root$prefix/bin/omen-lua" "$share/examples/filter_products.lua" 2>&1) ||
  fail "the installed filter_products.lua failed: $out"
out=$(cd "$tmp" && "$root$prefix/bin/omen-lua" "$share/ingest.lua" --help) &&
  echo "$out" | grep -q "^usage: " || fail "the installed ingest.lua --help failed: $out"
if command -v man >/dev/null; then
  man -l "$root$prefix/share/man/man1/omen-lua.1" 2>/dev/null | grep -q "omen-lua" ||
    fail "the man page does not render"
fi

make -s --no-print-directory BUILD="$build" uninstall DESTDIR="$root" PREFIX=$prefix ||
  fail "make uninstall failed"
left=$(find "$root" -type f | head -n 3)
[ -z "$left" ] || fail "make uninstall left files behind: $left"
echo "install: staged install used by luajit, pkg-config + cc, omen-lua and man; uninstall clean"
