#!/usr/bin/env bash
# Builds the native parser tests with CMake into build-native/ and runs them.
# Needs cmake and a C++17 compiler; not Node.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cmake >/dev/null || { echo "native-test: cmake not found" >&2; exit 1; }
cmake -S . -B build-native -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-native --target parser_test -j "$(nproc 2>/dev/null || echo 2)"
./build-native/parser_test
