#!/usr/bin/env bash
# ASan + UBSan build of the native parser tests (build-sanitize/), then runs
# them: parser_test (requests) and response_test (responses). Any sanitizer
# report aborts the run (-fno-sanitize-recover=all); the exit status is
# non-zero if either runner fails. Uses clang++ when present, else g++.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cmake >/dev/null || { echo "sanitize: cmake not found" >&2; exit 1; }
if command -v clang++ >/dev/null; then cxx=clang++
elif command -v g++ >/dev/null; then cxx=g++
else echo "sanitize: no clang++ or g++" >&2; exit 1; fi

cmake -S . -B build-sanitize -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug -DFARAD_SANITIZE=ON
cmake --build build-sanitize --target parser_test response_test -j "$(nproc 2>/dev/null || echo 2)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
./build-sanitize/parser_test || status=1
./build-sanitize/response_test || status=1
exit "$status"
