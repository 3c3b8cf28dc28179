#!/usr/bin/env bash
# Line and branch coverage of taskd's own code (src/, actors/, storage/, http/, plus
# mirror/ reported alongside) by the unit and integration tests, from a gcov-instrumented
# build (-DTASKD_COVERAGE=ON). Prints coverage per folder, writes an HTML report to
# BUILD_DIR/coverage/index.html, and fails when the line coverage of src/, actors/,
# storage/ and http/ together is under the bar below (the one place it lives).
#
# Usage: scripts/coverage.sh [--report-only] [BUILD_DIR]   (default build-cov)
#   without --report-only: configures and builds BUILD_DIR with coverage, clears old data,
#   and runs the unit and integration tests (the mirror tests need the PostgreSQL and
#   Redis that scripts/test.sh starts; without TASKD_TEST_PG_PORT they are skipped here).
#   --report-only: only reports what the tests already run in BUILD_DIR recorded
#   (scripts/test.sh runs its whole suite on the coverage build, then this).
set -euo pipefail
cd "$(dirname "$0")/.."

min_line_percent=80 # the bar: line coverage of src/, actors/, storage/ and http/

report_only=0
if [ "${1:-}" = "--report-only" ]; then report_only=1; shift; fi
build_dir=${1:-build-cov}

if [ "$report_only" = 0 ]; then
  scripts/setup.sh
  scripts/build.sh "$build_dir" -DTASKD_COVERAGE=ON
  find "$build_dir" -name '*.gcda' -delete
  exclude=()
  [ -n "${TASKD_TEST_PG_PORT:-}" ] || exclude=(-E 'integration/mirror')
  (cd "$build_dir" && ctest -L 'unit|integration' "${exclude[@]}" --output-on-failure -j2 --timeout 300)
fi

grep -q 'TASKD_COVERAGE:BOOL=ON' "$build_dir/CMakeCache.txt" ||
  { echo "coverage: $build_dir is not a coverage build (-DTASKD_COVERAGE=ON)" >&2; exit 2; }
mkdir -p "$build_dir/coverage"
# gcov can meet a .gcda whose counters a killed process left half-written: skip, not fail.
gcovr --root . --object-directory "$build_dir" \
  --filter 'src/' --filter 'actors/' --filter 'storage/' --filter 'http/' --filter 'mirror/' \
  --exclude-unreachable-branches --exclude-throw-branches --gcov-ignore-parse-errors \
  --json-summary "$build_dir/coverage/summary.json" \
  --html-details "$build_dir/coverage/index.html" >/dev/null

python3 - "$build_dir/coverage/summary.json" "$min_line_percent" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
bar = float(sys.argv[2])
folders = {}
for f in summary["files"]:
    top = f["filename"].split("/")[0]
    d = folders.setdefault(top, [0, 0, 0, 0])
    d[0] += f["line_covered"]; d[1] += f["line_total"]
    d[2] += f["branch_covered"]; d[3] += f["branch_total"]
pct = lambda a, b: 100.0 * a / b if b else 100.0
print(f"{'folder':<10} {'lines':>16} {'line %':>7} {'branches':>16} {'branch %':>9}")
for name in sorted(folders):
    lc, lt, bc, bt = folders[name]
    print(f"{name + '/':<10} {lc:>7}/{lt:<8} {pct(lc, lt):>6.1f}% {bc:>7}/{bt:<8} {pct(bc, bt):>8.1f}%")
barred = [folders.get(k, [0, 0, 0, 0]) for k in ("src", "actors", "storage", "http")]
lc, lt = sum(d[0] for d in barred), sum(d[1] for d in barred)
total = pct(lc, lt)
print(f"src/ actors/ storage/ http/ together: {total:.1f}% of lines (bar {bar:.0f}%)")
sys.exit(0 if total >= bar else 1)
PY
echo "coverage: HTML report in $build_dir/coverage/index.html"
