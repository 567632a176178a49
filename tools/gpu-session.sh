#!/usr/bin/env bash
# All that a lent GPU is for, in one device call (a task's device time allows
# about one): train both models first, then benchmark the Vulkan backend.
#
# Prepared here: .train-data (tools/python/prepare_train_data.py), and
# .gpu-bundle and .gl (bench/gpu-vulkan.sh says how). On the device, carrying
# those three, from the repository root:
#   OUT=$OUT bash tools/gpu-session.sh [TRAIN_BUDGET_SECONDS=420]
# Back in $OUT: what tools/python/gpu_train.sh leaves (the models, their logs
# and summaries) and gpu-vulkan.log; stdout ends with both summaries.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${OUT:?set OUT to the folder whose files come back}"
budget=${1:-420}
mkdir -p "$OUT"

echo "== training (tools/python/gpu_train.sh, ${budget}s)"
OUT=$OUT bash tools/python/gpu_train.sh .train-data "$budget" >"$OUT/gpu-train.log" 2>&1
echo "gpu_train.sh: exit $?"
grep -E '^(real|small|base|==|split)|epoch .*best' "$OUT/gpu-train.log" | tail -30

echo "== Vulkan benchmark (bench/gpu-vulkan.sh)"
bash bench/gpu-vulkan.sh >"$OUT/gpu-vulkan.log" 2>&1
echo "gpu-vulkan.sh: exit $?"
grep -A12 '^== summary' "$OUT/gpu-vulkan.log"
grep -E '^(check|  [a-z_]+ +[0-9.]+ ms)' "$OUT/gpu-vulkan.log" | head -20
