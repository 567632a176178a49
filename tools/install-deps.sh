#!/usr/bin/env bash
# Installs what building, testing and running lesionseg needs on Debian 12.
# Used by the README's quick start and by CI; safe to run again.
set -euo pipefail

packages=(
  # build
  gcc meson ninja-build pkg-config
  libglib2.0-dev libjson-glib-dev libopenblas-dev libgdk-pixbuf-2.0-dev libpng-dev
  # the GStreamer plugin, its tests and the demo (vp8enc, webmmux, pngenc)
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  # the Vulkan backend, and lavapipe to test it without a GPU
  libvulkan-dev glslc mesa-vulkan-drivers
  # tests: PyTorch reference, goldens, converter and trainer
  python3 python3-torch python3-numpy python3-pil python3-gi gir1.2-gdkpixbuf-2.0
  # fuzzing (libFuzzer) in CI
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
