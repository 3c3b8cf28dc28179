#!/usr/bin/env bash
# Configures and builds taskd. Usage: scripts/build.sh [BUILD_DIR [extra cmake args...]]
# Incremental: only what changed is rebuilt (ccache keeps clean rebuilds short).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
cmake --build "$build_dir" --parallel "$(nproc)"
