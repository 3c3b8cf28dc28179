#!/usr/bin/env bash
# Installs what is missing, builds if needed and starts taskd on its embedded default
# (RocksDB in ./data, UI and API at http://127.0.0.1:8080). Extra arguments go to taskd,
# e.g. scripts/run.sh --listen 0.0.0.0:8080 or scripts/run.sh --config my.toml
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build --target taskd --parallel "$(nproc)" >/dev/null
exec build/taskd "$@"
