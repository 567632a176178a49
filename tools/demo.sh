#!/usr/bin/env bash
# The main job: installs what is missing, builds, and segments 300 frames of
# the synthetic dermatoscope camera (dermsrc) with the lesionseg element,
# scoring each mask against dermsrc's ground truth. Writes under demo-out/:
#   demo.webm     the annotated video (VP8)
#   snapshot.png  one annotated frame
#   summary.txt   frames, fps, mean Dice, backend, ...
# Usage: bash tools/demo.sh [NUM_FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."

frames=${1:-300}
build=${LS_BUILD_DIR:-build}   # another build directory, for trying the script

bash tools/install-deps.sh

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build"
fi
ninja -C "$build"

export GST_PLUGIN_PATH="$(cd "$build" && pwd)/plugin"
# a registry of our own: never a stale copy of the plugin from elsewhere
export GST_REGISTRY_1_0="$(cd "$build" && pwd)/demo-registry.bin"
mkdir -p demo-out
rm -f demo-out/demo.webm demo-out/snapshot.png demo-out/summary.txt

echo "=== segmenting $frames frames of dermsrc into demo-out/demo.webm"
# lesionseg-embed runs the pipeline and reads lesionseg's bus messages (one
# per inference, with the Dice against the ground truth) and pad probes.
"$build/examples/lesionseg-embed" --quiet \
  "dermsrc num-buffers=$frames ! lesionseg message=true ! videoconvert !" \
  "vp8enc deadline=1 target-bitrate=2000000 ! webmmux ! filesink location=demo-out/demo.webm" \
  | tee demo-out/summary.txt

echo "=== one annotated frame into demo-out/snapshot.png"
gst-launch-1.0 -q dermsrc num-buffers=1 seed=3 ! lesionseg mode=sync ! videoconvert ! \
  pngenc ! filesink location=demo-out/snapshot.png

value() { sed -n "s/^$1: //p" demo-out/summary.txt; }
echo
echo "=== summary"
echo "frames:    $(value frames)"
echo "fps:       $(value fps)"
echo "mean Dice: $(value mean-dice) (lesionseg's masks against dermsrc's ground truth)"
echo "backend:   $(value backend)"
echo "inference: $(value inference-ms) ms a frame"
echo "outputs:   demo-out/demo.webm ($(du -h demo-out/demo.webm | cut -f1)), demo-out/snapshot.png, demo-out/summary.txt"
