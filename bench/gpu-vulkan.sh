#!/usr/bin/env bash
# The Vulkan backend on a lent NVIDIA GPU against PyTorch eager CUDA, in one
# run on the same card: parity with the CPU backend on the device, then the
# full published config at 224x224, batch 1; the plan's switches timed one
# by one; every dispatch timed alone, and every GEMM tile forced in turn, so
# that the slow GEMM shapes and the tile each wants show (CSVs in
# PROFILE_DIR).
#
# Prepared here (once), in the repository root:
#   tools/make-gpu-bundle.sh build          # -> .gpu-bundle/lesionseg.tar.xz
#   the Vulkan loader debs in .gl/ (/work/.library/device/README.md):
#     echo /.gl/ >>.git/info/exclude; mkdir -p .gl /tmp/amd64/partial
#     o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#     apt-get $o update; (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 \
#       libopengl0 libgl1 libglx0 libgles2)
# On the device (carry .gpu-bundle and .gl):  bash bench/gpu-vulkan.sh
# BASELINE_BUNDLE=DIR (a .gpu-bundle made from an earlier commit, carried
# too) times that build beside this one in the variants, first and last;
# SWEEPS=0 leaves out the tile sweeps (the longest part), SWEEPS=default
# keeps the default kernel's only.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
iters=${ITERS:-100}

# The Vulkan loader, when the machine lacks one, and NVIDIA's ICD.
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then
  export VK_DRIVER_FILES=$icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi

bundle=/tmp/lesionseg-bundle
rm -rf "$bundle" && mkdir -p "$bundle"
tar -C "$bundle" -xJf .gpu-bundle/lesionseg.tar.xz || exit 1
ls="$bundle/lesionseg/lesionseg"
baseline_ls=
if [ -n "${BASELINE_BUNDLE:-}" ]; then
  rm -rf "$bundle-baseline" && mkdir -p "$bundle-baseline"
  tar -C "$bundle-baseline" -xJf "$BASELINE_BUNDLE/lesionseg.tar.xz" || exit 1
  baseline_ls="$bundle-baseline/lesionseg/lesionseg"
fi

echo "== $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null), $(nproc) CPU cores, $(date -u +%F)"
echo "== parity: full config, 224x224, vulkan against the CPU backend on this machine"
G_MESSAGES_DEBUG=lesionseg "$ls" bench --config full --backend vulkan --iters 3 --warmup 1 --check-cpu \
  || { echo "vulkan backend failed"; exit 1; }
# the other GEMM paths the variants below time: LayerNorms folded into the
# GEMMs (a specialization constant of each kernel), and the fp32 kernel
for v in LS_VULKAN_FUSE_LN=1 LS_VULKAN_COOPMAT=0; do
  echo "-- parity with $v"
  env "$v" "$ls" bench --config full --backend vulkan --iters 2 --warmup 1 --check-cpu 2>&1 \
    | grep -E '^check against cpu|rror' || echo "(no parity lines: see above)"
done
echo "== lesionseg bench --config full --backend vulkan --profile ($iters iterations)"
# (captured, then echoed: `tee /dev/stderr` reopens a redirected log and
# truncates it, which lost this part of the first H100 log)
vk=$("$ls" bench --config full --backend vulkan --iters "$iters" --warmup 10 --profile)
echo "$vk"
echo "== PyTorch eager CUDA, same model and size"
pt=$(python3 bench/torch-bench.py --device cuda --iters "$iters" --warmup 10)
echo "$pt"

value() { echo "$1" | grep "^$2" | head -1 | sed -E 's/^[^:]*: *([0-9.]+).*/\1/'; }
vk_median=$(value "$vk" median)
pt_median=$(value "$pt" median)

# The plan's choices, each switched in turn, timed on the same card in the same
# run (the default again last, so drift shows): LayerNorms folded into GEMMs
# (not by default on a discrete GPU), split-K, the workgroup count taken as
# "busy" (split-K choice), the fp32 register-blocked GEMM instead of
# cooperative matrices, dispatches in graph order, each attention's K, Q (and
# V) from one Linear (a graph choice: both backends), a split-K reduce taking
# on the LayerNorm after it, the attention context's partials summed by the
# Linear that reads them (not by default on a discrete GPU), the query
# softmax taken on load (likewise). The table is printed once, with the
# summary.
variant() {  # label, env assignments...
  local label=$1; shift
  local out plan
  out=$(env "$@" G_MESSAGES_DEBUG=lesionseg "${variant_ls:-$ls}" bench --config full --backend vulkan \
        --iters "$iters" --warmup 10 2>&1)
  plan=$(echo "$out" | grep -o '[0-9]* dispatches, [0-9]* barriers' | head -1)
  printf '%-44s %8s ms median %8s ms min   %s\n' "$label" \
    "$(value "$out" median)" "$(value "$out" min)" "$plan"
}
echo "== variants (same card, same run)"
variants=$(
  [ -n "$baseline_ls" ] && variant_ls=$baseline_ls variant "baseline build ($BASELINE_BUNDLE)" LS_VULKAN_NONE=1
  variant "default" LS_VULKAN_NONE=1
  variant "LayerNorms folded into GEMMs (FUSE_LN=1)" LS_VULKAN_FUSE_LN=1
  variant "no split-K (SPLIT_K=1)" LS_VULKAN_SPLIT_K=1
  variant "busy groups 132 (one per SM)" LS_VULKAN_BUSY_GROUPS=132
  variant "busy groups 528" LS_VULKAN_BUSY_GROUPS=528
  variant "busy groups 132, no split-K" LS_VULKAN_BUSY_GROUPS=132 LS_VULKAN_SPLIT_K=1
  variant "fp32 register-blocked GEMM (COOPMAT=0)" LS_VULKAN_COOPMAT=0
  variant "the same, LayerNorms folded" LS_VULKAN_COOPMAT=0 LS_VULKAN_FUSE_LN=1
  variant "dispatches in graph order (REORDER=0)" LS_VULKAN_REORDER=0
  variant "K, Q, V as separate Linears (MERGE_QKV=0)" LS_GRAPH_MERGE_QKV=0
  variant "split-K reduce and LayerNorm apart (REDUCE_LN=0)" LS_VULKAN_REDUCE_LN=0
  variant "context's split-K summed on load (SLICES_ON_LOAD=1)" LS_VULKAN_SLICES_ON_LOAD=1
  variant "query softmax on load (QUERY_SOFTMAX_APART=0)" LS_VULKAN_QUERY_SOFTMAX_APART=0
  variant "GEMM flags from push constants (SPEC_FLAGS=0)" LS_VULKAN_SPEC_FLAGS=0
  variant "default, again" LS_VULKAN_NONE=1
  [ -n "$baseline_ls" ] && variant_ls=$baseline_ls variant "baseline build, again" LS_VULKAN_NONE=1
)

echo
echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null))"
echo "lesionseg vulkan: $vk_median ms median (target <= 2 ms)"
echo "PyTorch eager CUDA: $pt_median ms median"
awk -v a="$pt_median" -v b="$vk_median" \
  'BEGIN { if (b > 0) printf "speed-up over PyTorch eager (median / median): %.2fx (target >= 3)\n", a / b }'
echo "$variants"

# Last, since they take longest and a time limit may cut them short:
# Each dispatch timed alone (a barrier before every one), written as CSV
# (core/vulkan/vk-profile.c) to PROFILE_DIR and summed up here: the slowest
# dispatches with their GEMM shapes and rates, and the time per shader. The
# GEMM kernels' push constants begin M N K; the rate counts 2 M N K.
profile_dir=${PROFILE_DIR:-$bundle}
mkdir -p "$profile_dir"
record_profile() {  # name, env assignments...: profile-NAME.csv, each dispatch alone,
  local name=$1; shift  # and prints the run's parity line against the CPU backend
  env "$@" LS_VULKAN_PROFILE_SERIAL=1 LS_VULKAN_PROFILE_CSV="$profile_dir/profile-$name.csv" \
    "$ls" bench --config "${PROFILE_CONFIG:-full}" --backend vulkan --iters 5 --warmup 3 \
    --profile --check-cpu 2>&1 | grep -E '^check against cpu|rror'
  return "${PIPESTATUS[0]}"
}
dispatch_profile() {  # name, env assignments...
  local name=$1
  local csv="$profile_dir/profile-$name.csv"
  record_profile "$@" || { echo "($name: failed)"; return; }
  echo "-- $name ($csv): the slowest dispatches, each timed alone"
  awk -F, 'NR > 1 {
      split($11, p, " ")
      gemm = $4 ~ /^(gemm|effattn_context|effattn_apply)/ && $4 != "gemm_reduce"
      shape = gemm ? sprintf("%d x %d x %d", p[1], p[2], p[3]) : ""
      rate = gemm && $9 > 0 ? sprintf("%.2f TFLOP/s", 2 * p[1] * p[2] * p[3] / ($9 * 1e6)) : ""
      printf "%9.1f us  %-24s %-36s %5dx%dx%d groups  %-18s %s\n", $9, $4, $2, $5, $6, $7, shape, rate
    }' "$csv" | sort -rn | head -16
  echo "-- $name: time per shader, each dispatch alone"
  awk -F, 'NR > 1 { by[$4] += $9; n[$4]++; all += $9 }
    END { for (s in by) printf "%9.1f us  %-24s %d dispatches\n", by[s], s, n[s]
          printf "%9.1f us  %-24s %d dispatches\n", all, "(all)", NR - 1 }' "$csv" | sort -rn
}
# Every GEMM tile of a kernel forced in turn (LS_VULKAN_GEMM_TILE=i, split-K
# following the tile; the candidate tiles that the plan never picks by
# itself included, core/vulkan/vk-ops.c): for each GEMM node, the tile that
# ran it fastest against the plan's own choice (bench/tile-sweep.awk), i.e.
# what a choice of tile per shape would save; then those winners, written as
# a tile file (gemm-tiles-NAME.tiles, LS_VULKAN_GEMM_TILES), timed against the
# plan's choice and checked against the CPU backend. Each forced tile's logits
# are checked against the CPU backend in the same run: a tile that computes
# garbage must not look fast.
tile_sweep() {  # name, number of tiles, env assignments...
  local name=$1 tiles=$2; shift 2
  local files=("$profile_dir/profile-$name.csv")
  local parity
  for ((i = 0; i < tiles; i++)); do
    parity=$(record_profile "$name-tile$i" "$@" LS_VULKAN_GEMM_TILE=$i) \
      && files+=("$profile_dir/profile-$name-tile$i.csv")
    echo "tile $i: $parity"
  done
  echo "-- $name: each GEMM node's fastest tile (of ${#files[@]} runs; the first is the plan's choice)"
  local tiles="$profile_dir/gemm-tiles-$name.tiles"
  awk -F, -v tiles_out="$tiles" -f "$root/bench/tile-sweep.awk" "${files[@]}"
  # the winners applied at once, timed as the variants were: a per-shape
  # choice measured, not estimated from dispatches timed alone
  echo "-- $name: the plan's tiles against $tiles (LS_VULKAN_GEMM_TILES), same run"
  variant "$name, the plan's tiles" "$@"
  variant "$name, the sweep's tiles" "$@" LS_VULKAN_GEMM_TILES="$tiles"
  variant "$name, the plan's tiles, again" "$@"
  echo "$name, the sweep's tiles: $(record_profile "$name-tuned" "$@" LS_VULKAN_GEMM_TILES="$tiles")"
}
# The default path first (the one the targets are about), the fp32 one after
echo "== per-dispatch profiles (serial) and GEMM tiles, each forced in turn"
dispatch_profile default LS_VULKAN_NONE=1
[ "${SWEEPS:-all}" = 0 ] || tile_sweep default 14 LS_VULKAN_NONE=1   # the cooperative-matrix tiles
dispatch_profile coopmat0 LS_VULKAN_COOPMAT=0
[ "${SWEEPS:-all}" != all ] || tile_sweep coopmat0 8 LS_VULKAN_COOPMAT=0  # the register-blocked ones
