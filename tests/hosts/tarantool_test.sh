#!/bin/sh
# The Lua module inside Tarantool (Debian's tarantool): open, upsert, a live
# reader, search (tests/hosts/tarantool_smoke.lua). Installs tarantool as root
# where apt-get can; skips with one line where it cannot be had.
# usage: tarantool_test.sh BUILD
build=${1:-build}
if ! command -v tarantool >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tarantool \
    >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tarantool \
      >/dev/null 2>&1; }
fi
if ! command -v tarantool >/dev/null 2>&1; then
  echo "SKIP: tarantool smoke test: tarantool is not installed and cannot be installed here"
  exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
OMEN_MODULE_DIR=$(cd "$build" && pwd) OMEN_TMP=$tmp HOME=$tmp \
  tarantool tests/hosts/tarantool_smoke.lua
