#!/usr/bin/env bash
# Soak: live 1080p30 `dermsrc is-live=true ! capsfilter ! lesionseg mode=async
# ! fakesink sync=true` for SECONDS (default 1800), with threshold, overlay,
# roi and interval changed every 3 s and the resolution changed every 60 s
# (every fifth of the run in runs under five minutes; capsfilter caps, dermsrc
# renegotiates). Fails on a crash, an ERROR on the bus, frames out of
# lesionseg != frames in (pad probes), or RSS ending more than 5% above its
# start (two 1080p windows, see bench/soak.c); prints RSS start, max and end.
# Usage: bench/soak.sh [SECONDS] [BUILDDIR]   (CI runs 100 s; at least 50)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
build=${2:-build}
# Live 1080p on the CPU backend: same OpenBLAS kernel choice as bench/pipeline.sh.
if "$build/bench/sgemm-bench" 64 64 64 1 2>/dev/null | grep -q "kernel Prescott" &&
   grep -q avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
# one malloc arena, as the plugin tests: RSS then shows live memory, not the
# arena glibc creates for each new thread (worker threads come and go on
# every resolution change)
export MALLOC_ARENA_MAX=1
# and a fixed mmap threshold: glibc otherwise raises it to the size of each
# large block freed, so after a resolution change frame-sized blocks come
# from the heap, which fragments and keeps RSS up to 30 MiB above the live
# memory for minutes (CI's 60 s soak once ended at +30 MiB that way; a
# 30-minute run came back down). A fixed value turns that adjustment off.
export MALLOC_MMAP_THRESHOLD_=1048576
export GST_PLUGIN_PATH="$(cd "$build" && pwd)/plugin"
export GST_REGISTRY_1_0="$(cd "$build" && pwd)/soak-registry.bin"
exec "$build/bench/soak" --seconds "$seconds"
