#!/usr/bin/env bash
# Fuzzes the request parser with libFuzzer for N seconds (default 60).
#   scripts/fuzz.sh [seconds]
# Builds build-fuzz/ with clang, seeds fuzz-corpus/ from
# test/fixtures/requests.txt (kept between runs; it is git-ignored), and exits
# non-zero on a crash, leaving crash-* files in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
case "$seconds" in ''|*[!0-9]*) echo "fuzz: seconds must be a number" >&2; exit 2;; esac
command -v cmake >/dev/null || { echo "fuzz: cmake not found" >&2; exit 1; }
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (libFuzzer needs clang)" >&2; exit 1; }

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFARAD_FUZZ=ON
cmake --build build-fuzz --target fuzz_request parser_test -j "$(nproc 2>/dev/null || echo 2)"

mkdir -p fuzz-corpus
./build-fuzz/parser_test --write-seeds fuzz-corpus

# FUZZ_JOBS=N runs N fuzzers in parallel (their logs go to fuzz-<i>.log).
jobs="${FUZZ_JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
status=0
./build-fuzz/fuzz_request fuzz-corpus \
  -dict=test/native/fuzz_request.dict \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "${parallel[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (exit $status); see crash-* and the log above" >&2
  exit "$status"
fi
echo "fuzz: no crash in ${seconds}s"
