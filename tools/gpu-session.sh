#!/usr/bin/env bash
# All that a lent GPU is for, in one device call (a task's device time allows
# about one): benchmark the Vulkan backend, then train both models in the time
# that is left.
#
# Prepared here: .train-data (tools/python/prepare_train_data.py), and
# .gpu-bundle and .gl (bench/gpu-vulkan.sh says how). On the device, carrying
# those three, from the repository root:
#   OUT=$OUT bash tools/gpu-session.sh [TOTAL_SECONDS=560]
# The benchmark comes first, capped at BENCH_SECONDS (300), since its
# figures are wanted whatever happens to training (its per-dispatch profiles
# and tile sweeps come last, so a cap cuts those first); training gets the
# rest. Back in $OUT: the models (the published config in 15 MiB parts) and
# logs.tar.gz (gpu-vulkan.log, its per-dispatch profiles and the tile files
# its sweeps wrote, gpu-train.log,
# each training's log and summary), at most 8 files as the device tool
# brings back; stdout ends with both summaries.
set -u
T0=$(date +%s)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${OUT:?set OUT to the folder whose files come back}"
total=${1:-560}
bench_cap=${BENCH_SECONDS:-300}
mkdir -p "$OUT"

echo "== Vulkan benchmark (bench/gpu-vulkan.sh, at most ${bench_cap}s)"
PROFILE_DIR=$OUT timeout -k 5 "$bench_cap" bash bench/gpu-vulkan.sh >"$OUT/gpu-vulkan.log" 2>&1
echo "gpu-vulkan.sh: exit $? after $(( $(date +%s) - T0 ))s"
grep -A14 '^== summary' "$OUT/gpu-vulkan.log"

budget=$(( total - ($(date +%s) - T0) - 10 ))
echo "== training (tools/python/gpu_train.sh, ${budget}s)"
OUT=$OUT bash tools/python/gpu_train.sh .train-data "$budget" >"$OUT/gpu-train.log" 2>&1
echo "gpu_train.sh: exit $?"
grep -E '^(real|small|base|==|split)|epoch .*best|finished' "$OUT/gpu-train.log" | tail -30

(cd "$OUT" && tar -czf logs.tar.gz --remove-files ./*.log ./*.json ./*.csv ./*.tiles 2>/dev/null)
ls -la "$OUT"
echo "== gpu-session.sh done in $(( $(date +%s) - T0 ))s"
