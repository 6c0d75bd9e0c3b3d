#!/usr/bin/env bash
# The whole addon (reactor, buffers, server core, parser, binding) built with
# ASan + UBSan from the same sources through CMake, then the socket test
# suite run against it. Any sanitizer report fails the run.
#   scripts/sanitize-addon.sh [test-file-pattern]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cmake >/dev/null || { echo "sanitize-addon: cmake not found" >&2; exit 1; }
command -v g++ >/dev/null || { echo "sanitize-addon: g++ not found" >&2; exit 1; }

nodeinc="$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")"
[ -f "$nodeinc/node_api.h" ] || nodeinc=/usr/include/node
cmake -S . -B build-asan-addon -DCMAKE_CXX_COMPILER=g++ -DCMAKE_BUILD_TYPE=Debug \
  -DFARAD_SANITIZE=ON -DCMAKE_JS_INC="$nodeinc" >/dev/null
cmake --build build-asan-addon --target farad -j "$(nproc 2>/dev/null || echo 2)"

node scripts/ensure-built.js >/dev/null
pattern="${1:-(server|client)-.*\.test\.js$}"
# Node itself is not instrumented: preload the runtime, and leave leak
# checking to the native tests (V8's own allocations would drown it here).
export LD_PRELOAD="$(g++ -print-file-name=libasan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export FARAD_ADDON="$PWD/build-asan-addon/farad.node"
npx uvu dist/test "$pattern"
