#!/usr/bin/env bash
# The CI sanitizer lane: nnkern built Debug (asserts on) with -fsanitize=address,undefined
# (-O1 -g0, no ISA clones: see NNK_SANITIZE in CMakeLists.txt) into its own virtual
# environment, then the test suite (but the end-to-end training runs) under ASan+UBSan.
# libasan must come first in the process (LD_PRELOAD: python itself is not instrumented),
# and libstdc++ with it, or ASan's interceptors break the first C++ exception thrown.
# Any ASan report or UBSan finding aborts the run (halt_on_error) and fails the lane.
#   tools/sanitize.sh [pytest args...]     (default: the tests below)
set -euo pipefail
cd "$(dirname "$0")/.."
lane="sanitizer lane"
. tools/lane_build.sh
lane_build "${NNK_SANITIZE_VENV:-.venv-sanitize}" -Ccmake.build-type=Debug -Ccmake.define.NNK_SANITIZE=ON \
  -Cbuild-dir=build/sanitize

# The whole suite but the end-to-end training runs and the benchmark smoke tests (minutes
# under ASan, and no kernel path they reach is not reached by the kernel tests).
# The ONNX export tests too: they run onnxruntime (not instrumented) and `nnkern train`, and reach
# the kernels only through models' predict, which the model tests cover.
tests=(tests --ignore=tests/test_cli.py --ignore=tests/test_bench.py --ignore=tests/test_onnx.py
       --ignore=tests/test_onnx_cli.py)

asan=$(gcc -print-file-name=libasan.so)
stdcxx=$(gcc -print-file-name=libstdc++.so)
export LD_PRELOAD="$asan:$stdcxx"
# detect_leaks=0: CPython's own allocations look like leaks; allocator_may_return_null=1:
# the tests that ask for absurd sizes must see MemoryError, not an ASan abort.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$venv/bin/python" -c "import nnkern; assert '-fsanitize=address,undefined' in nnkern._core.build_info()['cxx_flags']"
if [ $# -gt 0 ]; then tests=("$@"); fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}"
echo "sanitizer lane: build $((built - start)) s, tests $(($(date +%s) - built)) s"
