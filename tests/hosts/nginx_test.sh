#!/bin/sh
# omen inside nginx: the example service (scripts/nginx) with 2 worker
# processes, each a live reader, while an omen-lua process writes; checked by
# tests/hosts/nginx_test.lua. Installs nginx, its Lua module and curl as root
# where apt-get can without removing anything (nginx's Lua module needs
# OpenResty's luajit2: beside Debian's luajit it cannot be installed);
# otherwise skips with one line.
# usage: nginx_test.sh BUILD
build=${1:-build}
pkgs="nginx libnginx-mod-http-lua lua-resty-core curl"
have() { command -v nginx >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 &&
         [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] &&
         [ -f /usr/share/lua/5.1/resty/core.lua ]; }
if ! have && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  if apt-get install -s --no-install-recommends $pkgs 2>/dev/null | grep -q '^Remv'; then
    echo "SKIP: nginx test: installing nginx's Lua module here would remove packages"
    echo "      (it needs luajit2, and this machine has Debian's luajit pair)"
    exit 0
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs \
    >/dev/null 2>&1
fi
if ! have; then
  echo "SKIP: nginx test: nginx with its Lua module and curl are not installed"
  exit 0
fi
tmp=$(mktemp -d) || exit 1
chmod 755 "$tmp" # nginx's workers (nobody, when started as root) only read
trap 'sh scripts/nginx/run.sh stop "$tmp/nginx" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
"$build/omen-lua" tests/hosts/nginx_test.lua "$build" "$tmp"
