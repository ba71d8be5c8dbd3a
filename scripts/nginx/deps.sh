#!/bin/sh
# deps.sh: make nginx with its Lua module (and curl, wrk if asked) available:
# installed as root with apt-get where that removes nothing, since nginx's Lua
# module needs OpenResty's luajit2, which Debian's luajit pair excludes.
# Exits 0 when everything is there; else prints why on one line and exits 1.
#   sh scripts/nginx/deps.sh [EXTRA_PACKAGE...]
pkgs="nginx libnginx-mod-http-lua lua-resty-core curl $*"
have() {
  command -v nginx >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 &&
    [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] &&
    [ -f /usr/share/lua/5.1/resty/core.lua ] || return 1
  for extra in "$@"; do command -v "$extra" >/dev/null 2>&1 || return 1; done
}
have "$@" && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  if apt-get install -s --no-install-recommends $pkgs 2>/dev/null | grep -q '^Remv'; then
    echo "installing nginx's Lua module here would remove packages (it needs luajit2;" \
         "this machine has Debian's luajit pair)"
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs \
    >/dev/null 2>&1
fi
have "$@" && exit 0
echo "nginx with its Lua module, curl $* are not installed (Debian: $pkgs)"
exit 1
