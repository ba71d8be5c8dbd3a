#!/bin/sh
# omen inside nginx: the example service (scripts/nginx) with 2 worker
# processes, each a live reader, while an omen-lua process writes; checked by
# tests/hosts/nginx_test.lua. scripts/nginx/deps.sh installs nginx, its Lua
# module and curl where that removes nothing (nginx's Lua module needs
# OpenResty's luajit2: beside Debian's luajit it cannot be installed);
# otherwise the test skips with one line.
# usage: nginx_test.sh BUILD
build=${1:-build}
why=$(sh scripts/nginx/deps.sh) || { echo "SKIP: nginx test: $why"; exit 0; }
tmp=$(mktemp -d) || exit 1
chmod 755 "$tmp" # nginx's workers (nobody, when started as root) only read
trap 'sh scripts/nginx/run.sh stop "$tmp/nginx" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
"$build/omen-lua" tests/hosts/nginx_test.lua "$build" "$tmp"
