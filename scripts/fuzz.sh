#!/usr/bin/env bash
# Builds taskd's libFuzzer targets (fuzz/, clang with ASan+UBSan) and runs each for a
# bounded time, starting from the committed seed corpus (fuzz/corpus/<target>/; new inputs
# go to a scratch copy, the committed seeds are only read). Fails on any crash, leak or
# sanitizer report; prints the executions each target ran.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      default 60; scripts/test.sh uses 20
# Env: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_ARTIFACTS (default build-fuzz/artifacts:
# crashing inputs land there).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
artifacts=${FUZZ_ARTIFACTS:-$build/artifacts}
targets=(create_request config subscribe faktory_job worker_request)

if [ ! -f "$build/build.ninja" ]; then
  cmake -S fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --parallel "$(nproc)" >/dev/null
mkdir -p "$artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/taskd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

status=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  log=$scratch/$t.log
  if "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$scratch/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    echo "fuzz $t: ${execs:-?} executions in ${seconds} s, ${corpus:-?} inputs in the corpus, no crash"
  else
    echo "fuzz $t: FAILED (crash or sanitizer report); input saved under $artifacts" >&2
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -20 >&2 || true
    status=1
  fi
done
exit $status
