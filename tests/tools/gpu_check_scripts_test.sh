#!/usr/bin/env bash
# The cheap part of tools/gpu_check.sh's rehearsal (docs/gpu.md): both scripts pass shellcheck and
# bash -n, gpu_check.sh's usage errors stop before any work, and gpu_bundle.sh builds a bundle under
# the 64 MiB a device call carries. Exit 77 (skipped) where shellcheck or the bundle's sources are
# missing. Usage: gpu_check_scripts_test.sh <repo root> <scratch dir>
set -euo pipefail
root=$1
tmp=$2
rm -rf "$tmp" && mkdir -p "$tmp"
check=$root/tools/gpu_check.sh
bundle=$root/tools/gpu_bundle.sh
bash -n "$check"
bash -n "$bundle"
command -v shellcheck >/dev/null || { echo "shellcheck not installed"; exit 77; }
shellcheck "$check" "$bundle"
"$check" --help | grep -q -- '--rehearse'
rc=0; "$check" --no-such-flag >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || { echo "unknown argument: exit $rc, expected 2"; exit 1; }
rc=0; "$check" --bundle "$tmp/none" --out "$tmp/out" >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || { echo "missing bundle: exit $rc, expected 2"; exit 1; }
rc=0; "$check" --budget soon --bundle "$tmp" --out "$tmp/out" >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || { echo "bad budget: exit $rc, expected 2"; exit 1; }
[[ ! -e $tmp/out ]] || { echo "a usage error wrote $tmp/out"; exit 1; }
if [[ ! -f ${GTEST_SRC:-/usr/src/googletest}/CMakeLists.txt || ! -f ${NLOHMANN_INCLUDE:-/usr/include/nlohmann}/json.hpp ]]; then
  echo "bundle sources not on this machine"; exit 77
fi
"$bundle" "$tmp/bundle" >/dev/null
[[ -f $tmp/bundle/nlohmann_json/include/nlohmann/json.hpp ]]
[[ -f $tmp/bundle/nlohmann_json/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake ]]
[[ -f $tmp/bundle/googletest/CMakeLists.txt ]]
(cd "$tmp/bundle" && sed -n '/^# sha256/,$p' MANIFEST | tail -n +2 | sha256sum --quiet -c -)
(($(du -sk "$tmp/bundle" | cut -f1) < 64 * 1024))
rm -rf "$tmp"
echo "gpu check scripts OK"
