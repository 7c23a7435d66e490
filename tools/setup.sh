#!/usr/bin/env bash
# Installs every Debian package vq2d needs (idempotent: apt runs only when something is missing),
# then configures and builds the project (Release) in build/. Safe to rerun: an up-to-date build
# is a no-op, a stale one is rebuilt incrementally.
#
#   tools/setup.sh              install + build everything
#   VQ2D_BUILD_DIR=dir tools/setup.sh   build elsewhere
#   VQ2D_CMAKE_ARGS="-DVQ2D_SANITIZE=ON" tools/setup.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${VQ2D_BUILD_DIR:-$here/build}

packages=(
  build-essential cmake ccache pkg-config git
  libtorch-dev libopenblas0-pthread
  libopencv-dev libavformat-dev libhdf5-dev libyaml-cpp-dev nlohmann-json3-dev
  libopenmpi-dev openmpi-bin
  libgtest-dev shellcheck ffmpeg
  clang-14 libclang-rt-14-dev  # tools/fuzz.sh (libFuzzer + sanitizers)
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ccache: share compiled objects between checkouts (paths are made relative to the repo root).
export CCACHE_BASEDIR="$here"
export CCACHE_NOHASHDIR=1

jobs=${VQ2D_JOBS:-$(nproc)}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release ${VQ2D_CMAKE_ARGS:-}
fi
cmake --build "$build_dir" -j "$jobs"
echo "setup: build ready in $build_dir"
