#!/usr/bin/env bash
# Fuzzes a parser with libFuzzer for N seconds (default 60).
#   scripts/fuzz.sh [seconds] [request|response]
# request (the default) fuzzes the request parser (fuzz_request), seeded
# into fuzz-corpus/ from test/fixtures/requests.txt; response fuzzes the
# response parser (fuzz_response), seeded into fuzz-corpus-response/ from
# test/fixtures/responses.txt. The corpora are kept between runs (they are
# git-ignored) and separate, since the two targets read their control
# bytes differently. Builds build-fuzz/ with clang, and exits non-zero on a
# crash, leaving crash-* files in the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
target="${2:-request}"
case "$seconds" in ''|*[!0-9]*) echo "fuzz: seconds must be a number" >&2; exit 2;; esac
case "$target" in
  request) runner=parser_test; corpus=fuzz-corpus ;;
  response) runner=response_test; corpus=fuzz-corpus-response ;;
  *) echo "fuzz: target must be request or response" >&2; exit 2;;
esac
command -v cmake >/dev/null || { echo "fuzz: cmake not found" >&2; exit 1; }
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (libFuzzer needs clang)" >&2; exit 1; }

cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFARAD_FUZZ=ON
cmake --build build-fuzz --target "fuzz_$target" "$runner" -j "$(nproc 2>/dev/null || echo 2)"

mkdir -p "$corpus"
"./build-fuzz/$runner" --write-seeds "$corpus"

# FUZZ_JOBS=N runs N fuzzers in parallel (their logs go to fuzz-<i>.log).
jobs="${FUZZ_JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
status=0
"./build-fuzz/fuzz_$target" "$corpus" \
  -dict="test/native/fuzz_$target.dict" \
  -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "${parallel[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (exit $status); see crash-* and the log above" >&2
  exit "$status"
fi
echo "fuzz: no crash in ${seconds}s ($target)"
