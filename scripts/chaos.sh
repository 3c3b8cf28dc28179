#!/usr/bin/env bash
# taskd's crash/fault suite: kill -9 and SIGSTOP under a mixed load, then checks that no
# acknowledged task is lost or altered, everything ends, the sync lane and per-type
# concurrency hold, and every re-run is explained (see scripts/chaos.py).
#
# Usage: scripts/chaos.sh [--taskd PATH] [--cycles N] [--mode kill|stop|both] [--seed S]
#                         [--report FILE] [--keep]
#   defaults: build/taskd, 5 cycles per fault kind, both kinds; --cycles 20 is the long form.
# Exit status non-zero if any check failed (each failing check is named on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/chaos.py "$@"
