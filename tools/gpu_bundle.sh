#!/usr/bin/env bash
# Prepares, on the CPU machine, what a GPU host lacks to build the core layer, its tests and
# vq2d_model_bench against the host's pip torch (tools/gpu_check.sh; docs/gpu.md). The host has
# python3 + pip torch (CUDA), nvcc, cmake and ninja but no system -dev packages, so the bundle carries:
#
#   <out>/nlohmann_json/include/nlohmann/...           the header-only JSON library
#   <out>/nlohmann_json/share/cmake/nlohmann_json/...  its CMake package files (find_package)
#   <out>/googletest/...                               GoogleTest sources, built on the host with the
#                                                      host's compiler and torch's ABI flags
#   <out>/MANIFEST                                     origin, version and SHA-256 of every file
#
# Nothing else: the core layer needs only LibTorch and nlohmann_json (docs/gpu.md says what the check
# therefore does not build). The result must stay under 64 MiB (what one device call carries).
#
# Usage: tools/gpu_bundle.sh [out dir, default <repo>/gpu_bundle]
#   Sources (override for another machine): NLOHMANN_INCLUDE (/usr/include/nlohmann),
#   NLOHMANN_CMAKE (/usr/share/cmake/nlohmann_json), GTEST_SRC (/usr/src/googletest).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/gpu_bundle}
nl_inc=${NLOHMANN_INCLUDE:-/usr/include/nlohmann}
nl_cmake=${NLOHMANN_CMAKE:-/usr/share/cmake/nlohmann_json}
gtest_src=${GTEST_SRC:-/usr/src/googletest}
limit_mib=64

die() { echo "gpu_bundle: $*" >&2; exit 1; }
[[ -f $nl_inc/json.hpp ]] || die "no nlohmann/json.hpp under $nl_inc (set NLOHMANN_INCLUDE)"
[[ -f $nl_cmake/nlohmann_jsonConfig.cmake ]] || die "no nlohmann_jsonConfig.cmake in $nl_cmake (set NLOHMANN_CMAKE)"
[[ -f $gtest_src/CMakeLists.txt && -d $gtest_src/googletest ]] ||
  die "no GoogleTest sources in $gtest_src (CMakeLists.txt + googletest/; set GTEST_SRC)"

rm -rf "$out"
mkdir -p "$out/nlohmann_json/include" "$out/nlohmann_json/share/cmake"
cp -a "$nl_inc" "$out/nlohmann_json/include/nlohmann"
cp -a "$nl_cmake" "$out/nlohmann_json/share/cmake/nlohmann_json"
# GoogleTest without googlemock's tests/docs (not built: BUILD_GMOCK=OFF), but its CMake files stay.
cp -a "$gtest_src" "$out/googletest"
rm -rf "$out/googletest/googletest/test" "$out/googletest/googletest/samples" "$out/googletest/googlemock/test" \
  "$out/googletest/googletest/docs" "$out/googletest/googlemock/docs"

version_of() {  # <package> -> Debian version, or "unknown" off Debian
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown
}
{
  echo "# vq2d GPU bundle (tools/gpu_bundle.sh), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "repo $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo "nlohmann_json from $nl_inc + $nl_cmake (nlohmann-json3-dev $(version_of nlohmann-json3-dev))"
  echo "googletest from $gtest_src (googletest $(version_of googletest))"
  echo "# sha256  path"
  (cd "$out" && find . -type f ! -name MANIFEST -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} >"$out/MANIFEST"

size_kib=$(du -sk "$out" | cut -f1)
if ((size_kib > limit_mib * 1024)); then
  die "$out is $((size_kib / 1024)) MiB, over the $limit_mib MiB a device call carries"
fi
echo "gpu_bundle: $out ready ($((size_kib / 1024 + 1)) MiB at most, $(grep -c '^[0-9a-f]\{64\} ' "$out/MANIFEST") files)"
