#!/usr/bin/env bash
# Accepts a deliberate change of the API's JSON: rewrites tests/snapshots/ from a real
# taskd (the snapshot test with TASKD_UPDATE_SNAPSHOTS=1). Review `git diff tests/snapshots`
# before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
TASKD_UPDATE_SNAPSHOTS=1 build/integration_tests --test-case='snapshots:*' --minimal
git status --short tests/snapshots
