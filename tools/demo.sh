#!/usr/bin/env bash
# The main job: install what is missing, build, and segment synthetic
# dermoscopy with the bundled model, scoring it against the ground truth.
# Results under demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
[ -d build ] || meson setup build
ninja -C build

out=demo-out
rm -rf "$out"
mkdir -p "$out"
cli=build/tools/lesionseg
model=models/lesionseg-small.safetensors

"$cli" synth --count 40 --seed 777000 --size 640x480 "$out/synth" >/dev/null
first=$(ls "$out/synth/images" | head -1)
"$cli" infer --model "$model" "$out/synth/images/$first" -o "$out/mask.png" \
  --prob "$out/prob.png" --overlay "$out/overlay.png"
echo
"$cli" eval --model "$model" --save "$out/overlays" "$out/synth"
echo
echo "demo: overlays in $out/overlay.png and $out/overlays/"
