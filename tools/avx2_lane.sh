#!/usr/bin/env bash
# The CI AVX2 lane: nnkern built with -DNNK_NO_AVX512=ON (no x86-64-v4 clones, nnkern's GEMM
# capped at avx2; CMakeLists.txt) into its own virtual environment, then the kernel tests. On
# an AVX-512 CI machine this runs the code an AVX2-only CPU such as the AMD EPYC Zen 3 runs:
# the x86-64-v3 clones of every kernel and the 32-byte Winograd, direct and GEMM paths, which the
# default build there never selects. On an AVX2-only machine it is the default build again.
#   tools/avx2_lane.sh [pytest args...]     (default: the tests below)
set -euo pipefail
cd "$(dirname "$0")/.."
lane="avx2 lane"
# On a CPU without AVX-512 the default build already dispatches to exactly these paths (the
# x86-64-v3 clones, the 32-byte bodies), and the README and wheel lanes have just run the whole
# suite on them: the lane would build and test the same code again (~7 min on a 2-core Zen 3).
# NNK_AVX2_LANE_FORCE=1 runs it anyway.
if ! grep -qw avx512f /proc/cpuinfo 2>/dev/null && [ "${NNK_AVX2_LANE_FORCE:-0}" != 1 ]; then
  echo "$lane: not run: this CPU has no AVX-512, so the README and wheel lanes ran its AVX2 paths (NNK_AVX2_LANE_FORCE=1 runs it)"
  exit 0
fi
. tools/lane_build.sh
lane_build "${NNK_AVX2_VENV:-.venv-avx2}" -Ccmake.define.NNK_NO_AVX512=ON -Cbuild-dir=build/avx2
"$venv/bin/python" -c "import nnkern; i = nnkern._core.build_info(); assert not i['avx512_paths'], i; print(i['simd_path'])"
# The kernel tests: everything but the end-to-end commands, the bench smoke tests and the
# extras (the README lane runs those on the default build; they reach no other kernel path).
tests=(tests --ignore=tests/test_cli.py --ignore=tests/test_bench.py --ignore=tests/test_onnx.py
       --ignore=tests/test_onnx_cli.py)
if [ $# -gt 0 ]; then tests=("$@"); fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}"
echo "avx2 lane: build $((built - start)) s, tests $(($(date +%s) - built)) s"
