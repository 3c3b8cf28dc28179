#!/usr/bin/env bash
# Installs, builds and runs every test; exits non-zero on any failure.
#  1. clang-format check of our C++ sources
#  2. an optimised build with gcov instrumentation (-Wall -Wextra -Werror, build-cov): unit,
#     integration (real taskd processes; the mirror tests against the PostgreSQL 15 and
#     Redis started here on private ports), API snapshot, UI, browser (with visual
#     regression), Faktory, monitoring, compose and hooks tests under ctest
#  3. the crash/fault suite, short form (scripts/chaos.sh: 5 kill -9 and 5 SIGSTOP cycles)
#  4. line coverage of src/ actors/ storage/ http/ against the bar (scripts/coverage.sh)
#  5. ASan+UBSan build of the unit tests
#  6. libFuzzer targets of the parsers (scripts/fuzz.sh), 20 s each
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
start=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

step "setup"
scripts/setup.sh

step "format check"
scripts/format.sh --check

step "build (with coverage instrumentation)"
scripts/build.sh build-cov -DTASKD_COVERAGE=ON
grep -q 'TASKD_COVERAGE:BOOL=ON' build-cov/CMakeCache.txt ||
  cmake -S . -B build-cov -DTASKD_COVERAGE=ON >/dev/null
cmake --build build-cov --parallel "$(nproc)"
find build-cov -name '*.gcda' -delete # coverage of this run only

step "PostgreSQL and Redis for the mirror tests"
services_dir=$(mktemp -d /tmp/taskd-test-services.XXXXXX)
stop_services() {
  scripts/services.sh remove postgres "$services_dir/postgres" || true
  scripts/services.sh remove redis "$services_dir/redis" || true
  rm -rf "$services_dir"
}
trap stop_services EXIT
export TASKD_TEST_SERVICES_DIR=$services_dir
TASKD_TEST_PG_PORT=$(scripts/services.sh free-port)
TASKD_TEST_REDIS_PORT=$(scripts/services.sh free-port)
export TASKD_TEST_PG_PORT TASKD_TEST_REDIS_PORT
scripts/services.sh start postgres "$services_dir/postgres" "$TASKD_TEST_PG_PORT"
scripts/services.sh start redis "$services_dir/redis" "$TASKD_TEST_REDIS_PORT"
echo "postgres on 127.0.0.1:$TASKD_TEST_PG_PORT, redis on 127.0.0.1:$TASKD_TEST_REDIS_PORT"

step "unit, integration, UI and browser tests"
(cd build-cov && ctest --output-on-failure --timeout 300 -j2)

step "crash and fault suite (short form)"
scripts/chaos.sh --taskd build-cov/taskd --cycles 5 --report build-cov/chaos-report.json

step "coverage"
scripts/coverage.sh --report-only build-cov

step "ASan/UBSan unit tests"
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DTASKD_SANITIZE=ON -DTASKD_INTEGRATION_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
cmake --build build-asan --target unit_tests --parallel "$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-asan/unit_tests

step "fuzzing the parsers (libFuzzer, 20 s per target)"
scripts/fuzz.sh 20

step "all tests passed"
