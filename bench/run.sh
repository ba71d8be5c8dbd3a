#!/bin/sh
# run.sh: omen against hnswlib, same run, same machine, same parameters.
#
#   sh bench/run.sh [BUILD_DIR]        (`make bench` builds what it needs first)
#
# Needs BUILD_DIR/omen-lua and BUILD_DIR/bench/ann (make), g++, gnuplot,
# hnswlib's header, Fashion-MNIST and lua-cjson (Debian: libhnswlib-dev,
# dataset-fashion-mnist, gnuplot-nox, g++, lua-cjson; `make bench` installs
# them).
#
#  1. bench/prepare.lua: the data as float32 files in BUILD_DIR/bench/data
#     (made once);
#  2. the hnswlib runner, bench/hnswlib.cpp, built as hnswlib recommends:
#     g++ -O3 -march=native; with OMEN_ISA=avx2 in the environment, omen's
#     kernels stop at AVX2 and hnswlib is built with -O3 -mavx2 -mfma
#     (OMEN_ISA=scalar: plain -O3), so both compare at one level; the report
#     says which set omen ran and which the CPU has;
#  3. the exact ground truth of each data set with omen's exact search
#     (made once);
#  4. Fashion-MNIST (60,000 x 784, 10,000 queries), M 16, ef_construction
#     200, one thread: omen through C (bench/ann.c) and through Lua
#     (bench/ann.lua), each with float vectors (quantization none), sq8 codes
#     and pca8 codes, and hnswlib; for omen-c also batch search on 1 and on
#     every core, and exact search against a plain read of memory; the same
#     images through a random rotation (real values: sq8 and pca8 through C,
#     pca8 through Lua, hnswlib); synthetic clusters (100,000 x 128, 10,000
#     queries), M 16, ef_construction 100, 1 and 2 build threads: omen-c,
#     omen-c-sq8, omen-c-pca8, hnswlib, and omen-c building into a database
#     file through its log (omen-c-file). Every sweep runs 3 rounds, each ef
#     keeping its best time. One JSON file per run in BUILD_DIR/bench/results;
#     then bench/follow.c: a live reader's queries/s against a plain one's on
#     128-d clusters, with the writer idle and ingesting (BUILD_DIR/bench/follow.json);
#     and bench/nginx.sh: HTTP searches through the nginx example under wrk
#     (BUILD_DIR/bench/nginx.json; skipped where nginx's Lua module cannot be
#     installed); then bench/text.c: the text index against SQLite FTS5 on the
#     package descriptions of `apt-cache dumpavail` and on the installed man
#     pages split into paragraphs (bench/text_prep.lua, made once): build
#     speed, index size, top-10 agreement, OR queries/s, fused queries
#     (BUILD_DIR/bench/text-apt.json, text-man.json);
#  5. bench/report.lua: the tables and ratios, BUILD_DIR/bench/results.json
#     and BUILD_DIR/bench/fashion-mnist.png.
set -eu

BUILD=${1:-build}
B=$BUILD/bench
DATA=$B/data
RES=$B/results
LUA=$BUILD/omen-lua
CXX=${CXX:-g++}
[ "$CXX" = c++ ] && CXX=g++ # make's default; hnswlib's recommendation is g++
K=10
START=$(date +%s)

say() { printf '[bench %4ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }
die() { echo "bench: $*" >&2; exit 1; }

for f in "$LUA" "$B/ann" "$B/follow" "$B/text"; do
  [ -x "$f" ] || die "$f is missing: run \`make bench\` (or make all $B/ann)"
done
command -v "$CXX" >/dev/null || die "$CXX is missing (Debian: g++)"
command -v gnuplot >/dev/null || die "gnuplot is missing (Debian: gnuplot-nox)"
echo '#include <hnswlib/hnswlib.h>' | "$CXX" -E -x c++ - >/dev/null 2>&1 \
  || die "hnswlib's header is missing (Debian: libhnswlib-dev)"
mkdir -p "$DATA" "$RES"

# The instruction set omen's kernels run (OMEN_ISA caps it: avx2, scalar)
# and hnswlib built to match: -march=native, or at the same cap.
omen_isa=$("$LUA" -e 'io.write(omen.open():isa())') || die "omen-lua cannot open a database"
case ${OMEN_ISA:-} in
  avx2) HNSW_FLAGS="-O3 -mavx2 -mfma" ;;
  scalar) HNSW_FLAGS="-O3" ;;
  *) HNSW_FLAGS="-O3 -march=native" ;;
esac
HNSW_BIN=$B/hnswlib-$(echo "$HNSW_FLAGS" | tr -d ' -' )
cpu_sets=$(grep -o -w 'avx2\|fma\|avx512f\|avx512_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')

# What the figures were measured on, for the report.
load_before=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
hnsw_version=$(dpkg-query -W -f='${Version}' libhnswlib-dev 2>/dev/null || echo unknown)
cat > "$B/machine.json" <<EOF
{"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "cpu": "$cpu", "cores": $(nproc),
 "hnswlib": "hnswlib $hnsw_version (libhnswlib-dev), $CXX $HNSW_FLAGS",
 "omen_isa": "$omen_isa${OMEN_ISA:+ (OMEN_ISA=$OMEN_ISA)}", "cpu_sets": "${cpu_sets% }",
 "cxx": "$("$CXX" --version | head -n1)",
 "omen_cflags": "${OMEN_BENCH_CFLAGS:--O2 -g (the Makefile's default)}",
 "load_before": "$load_before"}
EOF
case $load_before in
  0.[0-4]*) ;;
  *) say "warning: load average $load_before before the runs: other work is using" \
         "the CPU, the timings will suffer" ;;
esac

say "data: $DATA"
"$LUA" bench/prepare.lua "$DATA"

if [ ! -x "$HNSW_BIN" ] || [ bench/hnswlib.cpp -nt "$HNSW_BIN" ]; then
  say "building the hnswlib runner: $CXX $HNSW_FLAGS"
  "$CXX" $HNSW_FLAGS -std=c++11 -pthread -o "$HNSW_BIN.tmp" bench/hnswlib.cpp
  mv "$HNSW_BIN.tmp" "$HNSW_BIN"
fi

# truth NAME DIM: the exact k nearest base rows of every query, made once.
truth() {
  t=$DATA/$1-truth-k$K.i32
  if [ ! -s "$t" ]; then
    say "ground truth of $1 (omen's exact search)"
    "$B/ann" --truth-out "$t.tmp" --base "$DATA/$1-base.f32" \
      --queries "$DATA/$1-query.f32" --dim "$2" --k $K
    mv "$t.tmp" "$t"
  fi
}
truth fmnist 784
truth fmrot 784
truth synth 128

rm -f "$RES"/*.json

# run SYSTEM DATASET FILES DIM EFC THREADS EFS [EXTRA OPTIONS...]
run() {
  system=$1 name=$2 files=$3 dim=$4 efc=$5 threads=$6 efs=$7
  shift 7
  extra="$*"
  out=$RES/$name-$system-t$threads.json
  say "$system on $name: M 16, ef_construction $efc, $threads build thread(s)"
  case $system in
    omen-c) set -- "$B/ann" --quant none ;;
    omen-c-sq8|omen-c-pca8) set -- "$B/ann" --quant "${system#omen-c-}" ;;
    omen-c-file) set -- "$B/ann" --quant none --path "$B/durable.omen" ;;
    omen-lua) set -- "$LUA" bench/ann.lua --quant none ;;
    omen-lua-sq8|omen-lua-pca8) set -- "$LUA" bench/ann.lua --quant "${system#omen-lua-}" ;;
    hnswlib) set -- "$HNSW_BIN" ;;
  esac
  # shellcheck disable=SC2086 # extra options are words
  set -- "$@" $extra
  "$@" --name "$name" --base "$DATA/$files-base.f32" --queries "$DATA/$files-query.f32" \
    --dim "$dim" --truth "$DATA/$files-truth-k$K.i32" --m 16 --efc "$efc" \
    --threads "$threads" --ef "$efs" --k $K --out "$out.tmp"
  mv "$out.tmp" "$out"
  rm -f "$B/durable.omen" "$B/durable.omen-wal"
}

FM_EFS=10,15,20,30,40,80,120,200
run omen-c fashion-mnist fmnist 784 200 1 $FM_EFS --batch-ef 40 --exact
run omen-c-sq8 fashion-mnist fmnist 784 200 1 $FM_EFS --batch-ef 40
run omen-c-pca8 fashion-mnist fmnist 784 200 1 $FM_EFS --batch-ef 40
for s in omen-lua omen-lua-sq8 omen-lua-pca8 hnswlib; do
  run $s fashion-mnist fmnist 784 200 1 $FM_EFS
done
for s in omen-c-sq8 omen-c-pca8 omen-lua-pca8 hnswlib; do
  run $s fashion-mnist-rotated fmrot 784 200 1 $FM_EFS
done
for t in 1 2; do
  for s in omen-c omen-c-sq8 omen-c-pca8 hnswlib; do
    run $s synthetic synth 128 100 $t 10,15,20,30,40,80
  done
done
run omen-c-file synthetic synth 128 100 1 10,20,40,80

say "live readers: the cost of following a writer (bench/follow.c)"
"$B/follow" "$B/follow.omen" 100000 128 "$B/follow.json"
say "omen inside nginx under wrk (bench/nginx.sh)"
sh bench/nginx.sh "$BUILD" 1000 >/dev/null 2>"$B/nginx.log" || die "bench/nginx.sh failed: see $B/nginx.log"

# textbench NAME ROUNDS: omen's text index against FTS5 on a prepared corpus.
textbench() {
  say "full text against SQLite FTS5 on $1 (bench/text.c)"
  "$B/text" "$DATA/$1.txt" "$DATA/$1-q.txt" "$2" "$B/fts5.db" > "$B/text-$1.txt" ||
    die "bench/text failed on $1"
  tail -n1 "$B/text-$1.txt" > "$B/text-$1.json"
}
if [ ! -s "$DATA/apt.txt" ] || [ ! -s "$DATA/apt-q.txt" ]; then
  apt-cache dumpavail > "$DATA/dumpavail.tmp" || die "apt-cache dumpavail failed"
  "$LUA" bench/text_prep.lua apt "$DATA/dumpavail.tmp" "$DATA/apt.txt" "$DATA/apt-q.txt" 2000
  rm -f "$DATA/dumpavail.tmp"
fi
textbench apt 3
if { [ ! -s "$DATA/man.txt" ] || [ ! -s "$DATA/man-q.txt" ]; } &&
   ls /usr/share/man/man1/*.gz >/dev/null 2>&1; then
  say "man pages into paragraphs (once; a few minutes)"
  "$LUA" bench/text_prep.lua man /usr/share/man "$DATA/man.txt" "$DATA/man-q.txt" 300
fi
if [ -s "$DATA/man-q.txt" ]; then textbench man 2
else say "no man pages on this machine: the man-page corpus is skipped"; rm -f "$B/text-man.json"; fi

say "report"
"$LUA" bench/report.lua "$B"
say "done"
