#!/bin/sh
# Seed the fuzzers' corpus with the files the tests make, then run each
# fuzzer for a bounded time. usage: run_fuzz.sh FUZZ_BUILD TEST_BUILD SECONDS
fb=$1 tb=$2 seconds=${3:-60}
corpus="$fb/corpus"
mkdir -p "$corpus/open" "$corpus/wal" || exit 1
OMEN_FUZZ_CORPUS="$corpus" "$tb/tests/test_storage" >/dev/null 2>&1 &&
  OMEN_FUZZ_CORPUS="$corpus" "$tb/tests/test_wal" >/dev/null 2>&1 &&
  OMEN_FUZZ_CORPUS="$corpus" "$tb/tests/test_codes" >/dev/null 2>&1 ||
  { echo "fuzz: the seed-making tests failed"; exit 1; }
status=0
for f in open wal; do
  log="$fb/fuzz_$f.log"
  if "$fb/fuzz/fuzz_$f" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
       -artifact_prefix="$fb/" \
       -print_final_stats=1 "$corpus/$f" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    echo "fuzz_$f: ${runs:-?} inputs in ${seconds} s, no failure ($(ls "$corpus/$f" | wc -l) in corpus)"
  else
    echo "fuzz_$f: FAILED, see $log:"
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
    status=1
  fi
done
rm -f /tmp/omen-fuzz-*
exit $status
