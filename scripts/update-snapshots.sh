#!/usr/bin/env bash
# Accepts a deliberate change of the API's JSON or of the UI's look: rewrites
# tests/snapshots/ (the snapshot test with TASKD_UPDATE_SNAPSHOTS=1) and
# tests/e2e/visual-baselines/ (the visual test with E2E_UPDATE_VISUAL=1) from a real taskd.
# Review `git diff` of both before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build >/dev/null
TASKD_UPDATE_SNAPSHOTS=1 build/integration_tests --test-case='snapshots:*' --minimal
git status --short tests/snapshots
# The browser tests' visual baselines (tests/e2e/visual-baselines/), from the same build.
(cd tests/e2e && E2E_UPDATE_VISUAL=1 TASKD_BINARY="$PWD/../../build/taskd" node --test visual.test.mjs >/dev/null)
git status --short tests/e2e/visual-baselines
