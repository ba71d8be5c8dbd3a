#!/bin/sh
# run.sh: start or stop the omen search service under nginx.
#
#   sh scripts/nginx/run.sh start DB COLLECTION [PORT] [WORKERS] [DIR]
#   sh scripts/nginx/run.sh stop [DIR]
#
# start writes DIR/nginx.conf from scripts/nginx/nginx.conf (DB, COLLECTION,
# PORT 8080, WORKERS 2, the built module in build/ or OMEN_MODULE_DIR) and
# runs nginx in the background with DIR (default /tmp/omen-nginx) for its pid,
# log and temporary files. The database need not exist yet; writes come from
# another process (e.g. omen-lua scripts/ingest.lua DB COLLECTION FILE).
# nginx's workers run as its user (nobody, when started as root): they need
# read access to the database file, its log and their directory, no more.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
case $cmd in
  start)
    [ $# -ge 3 ] || { echo "usage: run.sh start DB COLLECTION [PORT] [WORKERS] [DIR]" >&2; exit 2; }
    db=$(realpath -m "$2"); coll=$3; port=${4:-8080}; workers=${5:-2}; dir=${6:-/tmp/omen-nginx}
    module=${OMEN_MODULE_DIR:-$here/../../build}
    [ -f "$module/omen.so" ] || { echo "run.sh: $module/omen.so is missing: run make" >&2; exit 1; }
    mods=${NGINX_MODULES:-/usr/lib/nginx/modules}
    [ -f "$mods/ngx_http_lua_module.so" ] || {
      echo "run.sh: nginx's Lua module is missing (Debian: libnginx-mod-http-lua lua-resty-core)" >&2
      exit 1; }
    mkdir -p "$dir"
    sed -e "s|@NGINX_MODULES@|$mods|g" -e "s|@WORKERS@|$workers|g" -e "s|@PREFIX@|$dir|g" \
        -e "s|@SCRIPTS@|$here|g" -e "s|@MODULE_DIR@|$(cd "$module" && pwd)|g" \
        -e "s|@DB@|$db|g" -e "s|@COLLECTION@|$coll|g" -e "s|@PORT@|$port|g" \
        "$here/nginx.conf" > "$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    echo "omen search service on http://127.0.0.1:$port/search ($workers workers; $dir)"
    ;;
  stop)
    dir=${2:-/tmp/omen-nginx}
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" && echo "stopped"
    ;;
  *) echo "usage: run.sh start DB COLLECTION [PORT] [WORKERS] [DIR] | stop [DIR]" >&2; exit 2 ;;
esac
