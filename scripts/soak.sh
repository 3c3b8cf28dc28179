#!/usr/bin/env bash
# A bounded soak: taskd under a steady open-loop create load (about half the benchmarked
# enqueue_single rate) into a running noop type, with retention pruning as it goes, for a
# fixed time. RSS, open sockets and files, data size and create p99 are sampled per window;
# the report (JSON, one object) says whether they stayed flat. Not part of scripts/test.sh.
#
# Usage: scripts/soak.sh [--minutes M] [--rate R] [--report FILE] [--keep DIR] [--no-build]
#   --minutes  soak length (default 10)
#   --rate     creates per second (default 3000)
#   --report   where the JSON goes (default BUILD_DIR/soak-report.json); also on stdout
#   --keep     copy taskd's data directory and log to DIR at the end (for RocksDB's LOG)
# Exit status: 0 when flat, 1 when something grew (or creates failed), 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
rate=3000
build=1
build_dir=${BUILD_DIR:-build}
report=""
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=${2:?--minutes needs a number}; shift ;;
    --rate) rate=${2:?--rate needs a number}; shift ;;
    --report) report=${2:?--report needs a file}; shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
report=${report:-$build_dir/soak-report.json}
if [ "$build" = 1 ]; then
  scripts/setup.sh >&2
  scripts/build.sh "$build_dir" >&2
fi
taskd_bin=$build_dir/taskd
bench_bin=$build_dir/taskd-bench

work=$(mktemp -d /tmp/taskd-soak.XXXXXX)
taskd_pid=""
cleanup() {
  if [ -n "$taskd_pid" ] && kill -0 "$taskd_pid" 2>/dev/null; then
    kill -TERM "$taskd_pid" 2>/dev/null || true
    wait "$taskd_pid" 2>/dev/null || true
  fi
  if [ -n "$keep" ]; then
    mkdir -p "$keep" && cp -r "$work/data" "$work/taskd.log" "$keep/" && echo "# kept: $keep" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/soak.toml" <<EOF
log_level = "warn"
[server]
listen = "127.0.0.1:0"
[limits]
max_pending = 1000000
[types.e2e]
handler = "builtin:noop"
concurrency = 50
[retention]           # keeps disk flat: the newest 100,000 completed tasks
completed_max = 100000
prune_batch = 5000
prune_interval_ms = 200
EOF
"$taskd_bin" --check-config "$work/soak.toml" >&2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$taskd_bin" --config "$work/soak.toml" --listen "127.0.0.1:$port" --data-dir "$work/data" \
  >>"$work/taskd.log" 2>&1 &
taskd_pid=$!
"$bench_bin" --url "http://127.0.0.1:$port" --wait-ready 60 >/dev/null

seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
echo "# soak: $rate creates/s for $seconds s against taskd pid $taskd_pid" >&2
line=$("$bench_bin" --url "http://127.0.0.1:$port" --scenario soak --rate "$rate" \
  --duration "$seconds" --pid "$taskd_pid" --data-dir "$work/data")
data_mb=$(du -sm "$work/data" | cut -f1)
line=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["data_dir_mb_at_end"]=int(sys.argv[2]); print(json.dumps(r))' "$line" "$data_mb")
mkdir -p "$(dirname "$report")"
echo "$line" >"$report"
echo "$line"
echo "# report: $report" >&2
flat=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("flat"))' "$line")
[ "$flat" = "True" ]
