#!/usr/bin/env bash
# ThreadSanitizer check of nnkern's fork-join pool: builds tests/native/thread_pool_tsan.cpp with
# src/thread_pool.cpp under -fsanitize=thread and runs it (a few seconds). Any data race TSan
# sees fails it (halt_on_error), as does a lost or repeated work item. CI runs it (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"${CXX:-g++}" -std=c++17 -O1 -g -fsanitize=thread -Isrc tests/native/thread_pool_tsan.cpp src/thread_pool.cpp \
  -o "$out/thread_pool_tsan" -pthread
TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" "$out/thread_pool_tsan"
