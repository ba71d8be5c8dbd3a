#!/bin/sh
# nginx.sh: k-NN search over HTTP through the nginx example (scripts/nginx,
# 2 workers, each a live reader) under wrk (2 threads, 16 connections, 8 s,
# the 128-d clusters' queries, k 10), with the writer idle and with an
# omen-lua process upserting one vector per call, RATE a second (default
# 1,000), throughout. Writes
# BUILD_DIR/bench/nginx.json; skipped (said in the JSON) where nginx's Lua
# module cannot be installed (scripts/nginx/deps.sh).
#   sh bench/nginx.sh BUILD_DIR [RATE]
set -eu
BUILD=${1:-build}
RATE=${2:-1000}
B=$BUILD/bench
LUA=$BUILD/omen-lua
out=$B/nginx.json
if ! why=$(sh scripts/nginx/deps.sh wrk); then
  echo "bench nginx: skipped: $why"
  printf '{"skipped": "%s"}\n' "$why" > "$out"
  exit 0
fi
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'sh scripts/nginx/run.sh stop "$tmp/nginx" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
"$LUA" bench/nginx.lua load "$tmp/svc.omen" "$B/data/synth-base.f32" \
  "$B/data/synth-query.f32" 128 "$tmp/wrk.lua"
port=$((18000 + $$ % 4000))
while curl -s -o /dev/null "http://127.0.0.1:$port/"; do port=$((port + 1)); done
sh scripts/nginx/run.sh start "$tmp/svc.omen" synth "$port" 2 "$tmp/nginx"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/count" && break; sleep 0.05; done

# wrk's summary as JSON fields: requests/s, latency percentiles in ms, errors
measure() {
  wrk -t2 -c16 -d8s --latency -s "$tmp/wrk.lua" "http://127.0.0.1:$port/search" > "$tmp/wrk.txt"
  cat "$tmp/wrk.txt" >&2
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                        if (v ~ /s$/) return v * 1000; return v }
       /Requests\/sec/ { rps = $2 }
       $1 == "50%" { p50 = ms($2) } $1 == "90%" { p90 = ms($2) } $1 == "99%" { p99 = ms($2) }
       /Non-2xx/ { bad = $NF }
       END { printf "{\"rps\": %s, \"p50_ms\": %s, \"p90_ms\": %s, \"p99_ms\": %s, \"non_2xx\": %d}",
             rps, p50, p90, p99, bad }' "$tmp/wrk.txt"
}
idle=$(measure)
"$LUA" bench/nginx.lua ingest "$tmp/svc.omen" "$B/data/synth-base.f32" 128 9 "$RATE" > "$tmp/ingest.txt" &
ingest=$!
sleep 0.5
busy=$(measure)
wait $ingest
written=$(awk '{print $2}' "$tmp/ingest.txt")
count=$(curl -s "http://127.0.0.1:$port/count")
printf '{"workers": 2, "n": 100000, "dim": 128, "idle": %s, "ingesting": %s, "rate": %s, "ingested": %s, "count_after": %s}\n' \
  "$idle" "$busy" "$RATE" "$written" "$count" > "$out"
cat "$out"
