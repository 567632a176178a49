#!/usr/bin/env bash
# lesionseg in the two pipelines it is for, on this machine's CPUs:
#  1. live: dermsrc is-live=true 1920x1080 at 30 fps -> lesionseg (async,
#     bundled model, CPU backend) -> fakesink sync=true, for SECONDS: fps
#     delivered, frames lesionseg dropped (buffers in - out, from pad probes),
#     the streaming thread's time per frame inside lesionseg, the mask refresh
#     rate, and what dermsrc's own rendering cost;
#  2. file: a recorded 1080p WebM -> decode -> lesionseg mode=sync -> fakesink,
#     as fast as it goes: fps.
# Usage: bench/pipeline.sh [BUILDDIR] [SECONDS] [FILE_FRAMES]
#
# OpenBLAS's tuning variables are unset for this command only, so it picks the
# kernels it would pick for the CPU (printed below); tests and CI keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${2:-60}
file_frames=${3:-90}

unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# OpenBLAS 0.3.21 does not recognise some virtualised AVX-512 CPUs and falls
# back to its Prescott (SSE3) kernels; name the kernel it should have chosen.
if "$build/bench/sgemm-bench" 64 64 64 1 | grep -q "kernel Prescott" &&
   grep -q avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
  echo "== OpenBLAS detected Prescott on an AVX-512 CPU: OPENBLAS_CORETYPE=SkylakeX for this run"
fi
echo "== OpenBLAS: $("$build/bench/sgemm-bench" 64 64 64 1 | head -1 | sed 's/^[^:]*: //')"
echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) threads, $(date -u +%F)"

export GST_PLUGIN_PATH="$(cd "$build" && pwd)/plugin"
export GST_REGISTRY_1_0="$(cd "$build" && pwd)/bench-registry.bin"
export GST_DEBUG_NO_COLOR=1
embed="$build/examples/lesionseg-embed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

value() { sed -n "s/^$2: //p" "$1"; }

echo
echo "== 1. live 1080p30: dermsrc is-live=true -> lesionseg mode=async backend=cpu -> fakesink sync=true, ${seconds} s"
GST_DEBUG=dermsrc:6 GST_DEBUG_FILE="$tmp/dermsrc.log" "$embed" --quiet --seconds "$seconds" \
  "dermsrc is-live=true ! video/x-raw,width=1920,height=1080,framerate=30/1 !" \
  "lesionseg mode=async backend=cpu message=true ! fakesink sync=true" | tee "$tmp/live.txt"
# dermsrc logs each frame's rendering: "rendered in W ms (C ms CPU)"
render=$(sed -n 's/.*rendered in \([0-9.]*\) ms (\([0-9.]*\) ms CPU).*/\1 \2/p' "$tmp/dermsrc.log" |
         awk '{ w += $1; c += $2; n++ } END { if (n) printf "%.2f ms wall, %.2f ms CPU (%d frames)", w / n, c / n, n }')

echo
echo "== 2. file 1080p: filesrc (WebM, VP8) -> lesionseg mode=sync backend=cpu -> fakesink, ${file_frames} frames"
gst-launch-1.0 -q dermsrc num-buffers="$file_frames" ! video/x-raw,width=1920,height=1080,framerate=30/1 ! \
  videoconvert ! vp8enc deadline=1 target-bitrate=8000000 ! webmmux ! filesink location="$tmp/clip.webm"
"$embed" --quiet \
  "filesrc location=$tmp/clip.webm ! matroskademux ! vp8dec ! videoconvert !" \
  "lesionseg mode=sync backend=cpu message=true ! fakesink sync=false" | tee "$tmp/file.txt"

echo
echo "== summary"
echo "live 1080p30 async: $(value "$tmp/live.txt" fps) fps delivered (target >= 29.5)," \
     "$(value "$tmp/live.txt" frames-dropped) of $(value "$tmp/live.txt" frames-in) frames dropped by lesionseg (target 0)"
echo "live streaming thread in lesionseg: $(value "$tmp/live.txt" streaming-ms-per-frame) ms a frame (target < 3)," \
     "of which $(value "$tmp/live.txt" streaming-cpu-ms-per-frame) ms on the CPU (the rest: other threads held the core)"
echo "live mask refresh: $(value "$tmp/live.txt" mask-refresh-hz) Hz, inference $(value "$tmp/live.txt" inference-ms) ms," \
     "backend $(value "$tmp/live.txt" backend), mean Dice $(value "$tmp/live.txt" mean-dice)"
echo "dermsrc rendering a 1080p frame: ${render:-n/a}"
echo "file 1080p sync: $(value "$tmp/file.txt" fps) fps ($(value "$tmp/file.txt" frames) frames)," \
     "inference $(value "$tmp/file.txt" inference-ms) ms"
