#!/usr/bin/env bash
# CI check: the repository stands alone. Clones the committed HEAD into an empty folder (nothing beside
# it, no sibling folders), checks that the clone carries every fixture area the tests read, and runs the
# fixture-driven tests of an existing build against that clone (VQ2D_SOURCE_DIR=<clone>, VQ2D_FIXTURES
# unset), so the fixture root the tests resolve is the clone's own tests/fixtures.
#
#   tools/check_standalone.sh [BUILD_DIR]      default build/
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$(cd "${1:-${VQ2D_BUILD_DIR:-$here/build}}" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
clone="$scratch/vq2d"
git clone --quiet --no-hardlinks "$here" "$clone"

fail=0
for area in vit_ren sam2 logic prepare pipeline_e2e; do
  n=$(find "$clone/tests/fixtures/$area" -mindepth 2 -maxdepth 2 -name case.json 2>/dev/null | wc -l)
  if [ "$n" -eq 0 ]; then
    echo "standalone: the clone has no fixture cases in tests/fixtures/$area" >&2
    fail=1
  else
    echo "standalone: tests/fixtures/$area: $n cases"
  fi
done
[ -e "$scratch/shared" ] && { echo "standalone: unexpected folder beside the clone" >&2; fail=1; }
[ "$fail" -eq 0 ] || exit 1

# One fixture-driven test per area and kind (the quick ones; the full suite already ran on the
# repo's own root), run against the clone's copy only.
unset VQ2D_FIXTURES
export VQ2D_SOURCE_DIR="$clone"
cd "$build_dir"
ctest --output-on-failure --no-tests=error -j "${VQ2D_TEST_JOBS:-2}" --timeout 900 -R "${VQ2D_STANDALONE_TESTS:-^(VitRenFixtures|Sam2Fixtures|SafetensorsFixtures|TorchCheckpointFixtures|GeometryFixture|SelectionFixture|TrackingFixture|RefinementFixture|OrchestrationFixture|PilResize|EvalMetricsFixtureTest|RenPredictionsFixtureTest|SubmissionFixtureTest|Sam2FillHoles|VitRenParity)\\.}"
echo "standalone: fixture tests pass on a clone with nothing beside it"
