#!/usr/bin/env bash
# Builds the native parser tests with CMake into build-native/ and runs them:
# parser_test (requests) and response_test (responses). Both run even if the
# first fails; the exit status is non-zero if either does.
# Needs cmake and a C++17 compiler; not Node.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cmake >/dev/null || { echo "native-test: cmake not found" >&2; exit 1; }
cmake -S . -B build-native -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-native --target parser_test response_test -j "$(nproc 2>/dev/null || echo 2)"
status=0
./build-native/parser_test || status=1
./build-native/response_test || status=1
exit "$status"
