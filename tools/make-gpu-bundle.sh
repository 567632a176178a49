#!/usr/bin/env bash
# Packs what bench/gpu-vulkan.sh needs on a lent GPU machine (which has no
# compiler, no build dependencies and no network) into .gpu-bundle/: the
# built `lesionseg` CLI, liblesionseg and every shared library they load
# except the C runtime's own, as one xz tarball (OpenBLAS alone is 35 MB
# unpacked; the device tool carries at most 64 MiB with the repository).
#
# Usage: tools/make-gpu-bundle.sh [BUILDDIR]     (default: build)
# Then carry .gpu-bundle and .gl (see bench/gpu-vulkan.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=$root/.gpu-bundle
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

test -x "$build/tools/lesionseg" || { echo "no $build/tools/lesionseg: build first" >&2; exit 1; }
grep -qx '/.gpu-bundle/' "$root/.git/info/exclude" 2>/dev/null \
  || echo '/.gpu-bundle/' >>"$root/.git/info/exclude"

mkdir -p "$stage/lesionseg/lib"
cp "$build/tools/lesionseg" "$stage/lesionseg/lesionseg.bin"
find "$build/core" -maxdepth 1 -name 'liblesionseg.so*' ! -type d -exec cp -P {} "$stage/lesionseg/lib/" \;
# every library the loader resolves, minus the C runtime that any Linux
# machine has in a compatible version
ldd "$build/tools/lesionseg" | awk '/=> \// { print $3 }' | while read -r lib; do
  case $(basename "$lib") in
    libc.so.*|libm.so.*|ld-linux*|libdl.so.*|libpthread.so.*|librt.so.*|liblesionseg.so*) ;;
    *) cp -L "$lib" "$stage/lesionseg/lib/" ;;
  esac
done
cat >"$stage/lesionseg/lesionseg" <<'WRAP'
#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/lesionseg.bin" "$@"
WRAP
chmod +x "$stage/lesionseg/lesionseg"

rm -rf "$out"
mkdir -p "$out"
tar -C "$stage" -cJf "$out/lesionseg.tar.xz" lesionseg
echo "$out/lesionseg.tar.xz: $(du -h "$out/lesionseg.tar.xz" | cut -f1) ($(ls "$stage/lesionseg/lib" | wc -l) libraries)"
