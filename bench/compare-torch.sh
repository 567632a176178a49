#!/usr/bin/env bash
# Our CPU backend, the PyTorch reference and a plain cblas_sgemm, in one run
# on the same machine, with the ratios. Usage: bench/compare-torch.sh [BUILDDIR]
#
# OpenBLAS's tuning variables are unset for this command only, so it picks the
# kernels it would pick for the CPU (printed below); tests and CI keep them.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
threads=$(nproc)

unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS=$threads
# OpenBLAS 0.3.21 does not recognise some virtualised AVX-512 CPUs and falls
# back to its Prescott (SSE3) kernels; name the kernel it should have chosen.
if "$build/bench/sgemm-bench" 64 64 64 1 | grep -q "kernel Prescott" &&
   grep -q avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
  echo "== OpenBLAS detected Prescott on an AVX-512 CPU: OPENBLAS_CORETYPE=SkylakeX for this run"
fi

echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $threads threads, $(date -u +%F)"
echo "== sgemm 3136x512x512"
sg=$("$build/bench/sgemm-bench" 3136 512 512 50 | tee /dev/stderr)
echo "== lesionseg bench --config full --backend cpu"
ls=$(/usr/bin/time -f "max RSS: %M KB" "$build/tools/lesionseg" bench --config full --backend cpu --iters 20 2>&1 | tee /dev/stderr)
echo "== PyTorch reference"
pt=$(/usr/bin/python3 "$here/torch-bench.py" --iters 10 --threads "$threads" | tee /dev/stderr)

value() { echo "$1" | grep "^$2" | head -1 | sed -E 's/^[^:]*: *([0-9.]+).*/\1/'; }
sg_gflops=$(value "$sg" "GFLOP/s")
ls_gflops=$(value "$ls" "GFLOP/s")
ls_exec_gflops=$(value "$ls" "executed GFLOP/s")
ls_median=$(value "$ls" "median")
pt_median=$(value "$pt" "median")
echo
echo "== summary"
echo "lesionseg cpu: $ls_median ms median, $ls_gflops GFLOP/s"
echo "PyTorch reference: $pt_median ms median"
echo "sgemm 3136x512x512: $sg_gflops GFLOP/s"
awk -v a="$ls_gflops" -v b="$sg_gflops" 'BEGIN { printf "lesionseg / sgemm GFLOP/s: %.2f (target >= 0.60; the network'"'"'s GFLOP)\n", a / b }'
awk -v a="$ls_exec_gflops" -v b="$sg_gflops" 'BEGIN { printf "  the same with the GFLOP executed after folding: %.2f\n", a / b }'
awk -v a="$pt_median" -v b="$ls_median" 'BEGIN { printf "speed-up over PyTorch (median / median): %.2fx (target >= 4)\n", a / b }'
