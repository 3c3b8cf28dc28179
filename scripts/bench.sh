#!/usr/bin/env bash
# taskd's benchmark, side by side with the BullMQ peer (/work/shared/bench/peer-bullmq):
# same scenario and field names, one JSON object per scenario on stdout (also appended to
# BUILD_DIR/bench-results/<stamp>.jsonl); progress on stderr.
#
# Usage: scripts/bench.sh [--quick] [--scenario NAME]... [--no-build]
#                         [--compare FILE [--strict]] [--write-baseline FILE]
#   --quick      every scenario at a tenth of its size (e2e_latency sends for 5 s, not 15)
#   --compare    afterwards, each scenario's figures against a baseline (bench/baseline.json)
#                with the change; worse by over 25% is flagged (scripts/bench_compare.py)
#   --strict     with --compare: exit 1 when anything is flagged (otherwise it only reports)
#   --write-baseline  afterwards, write this run's figures as a baseline to FILE
#   --scenario   run only these (repeatable); default: all of all_scenarios below
#                (process_c200_delayed only on request)
#   --no-build   use the binaries as they are (when someone else's edit breaks the build)
# Env: BUILD_DIR (default build), SCENARIO_TIMEOUT_S (default 300, hard kill per scenario),
#      FLOW_TASKS (flow: tasks through; default 2,000,000, 200,000 with --quick; the issue's
#      10,000,000 run: FLOW_TASKS=10000000 SCENARIO_TIMEOUT_S=1800 --scenario flow),
#      BENCH_CONFIG_APPEND (a TOML file appended to every bench config, e.g. a [bridge]
#      section to measure with mirrors on; said on stderr, and each scenario's table and
#      Redis prefix are then the ones in that file).
#
# Each scenario gets a fresh taskd with an empty data dir in a temp folder, on a free port,
# with the bench config written below; taskd is stopped with SIGTERM (its pid, then wait)
# and its data removed afterwards. taskd's only durability mode is "sync": every
# acknowledged write is on a synced WAL, the peer's "appendfsync always".
set -euo pipefail
cd "$(dirname "$0")/.."

all_scenarios=(enqueue_bulk enqueue_bulk_held enqueue_single enqueue_single_held
  process_c50 process_c200 process_c50_delayed worker_process e2e_latency e2e_worker scale flow)
known_scenarios=("${all_scenarios[@]}" process_c200_delayed)
scenarios=()
quick=0
build=1
compare=""
strict=""
write_baseline=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --scenario) scenarios+=("${2:?--scenario needs a name}"); shift ;;
    --no-build) build=0 ;;
    --compare) compare=${2:?--compare needs a baseline file}; shift ;;
    --strict) strict=--strict ;;
    --write-baseline) write_baseline=${2:?--write-baseline needs a file}; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=("${all_scenarios[@]}")
for sc in "${scenarios[@]}"; do
  case " ${known_scenarios[*]} " in *" $sc "*) ;; *) echo "unknown scenario $sc" >&2; exit 2 ;; esac
done

build_dir=${BUILD_DIR:-build}
scenario_timeout=${SCENARIO_TIMEOUT_S:-300}
if [ "$quick" = 1 ]; then scale=0.1; e2e_seconds=5; else scale=1; e2e_seconds=15; fi

if [ "$build" = 1 ]; then
  echo "# building in $build_dir" >&2
  scripts/build.sh "$build_dir" >&2
fi
taskd_bin=$build_dir/taskd
bench_bin=$build_dir/taskd-bench
for b in "$taskd_bin" "$bench_bin"; do
  [ -x "$b" ] || { echo "$b is missing: build first" >&2; exit 1; }
done
version=$(git rev-parse --short HEAD)
# Others edit the tree between commits: say when the measured code is not HEAD's.
# (git diff only reads; it does not refresh the index as git status may.)
tree_dirty=false
git diff --quiet HEAD -- . ':!bench' ':!scripts/bench.sh' || tree_dirty=true

results_dir=$build_dir/bench-results
mkdir -p "$results_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
suffix=""
[ "$quick" = 0 ] || suffix=_quick
out_file=$results_dir/$stamp$suffix.jsonl
work=$(mktemp -d "${TMPDIR:-/tmp}/taskd-bench.XXXXXX")
taskd_pid=""

stop_taskd() { # SIGTERM, then wait (KILL after 60 s); sets stop_rc and stop_s
  stop_rc=""
  stop_s=""
  [ -n "$taskd_pid" ] || return 0
  local t0 t1
  t0=$(date +%s%N)
  kill -TERM "$taskd_pid" 2>/dev/null || true
  for _ in $(seq 1 600); do kill -0 "$taskd_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$taskd_pid" 2>/dev/null; then
    echo "# taskd $taskd_pid did not stop in 60 s: KILL" >&2
    kill -KILL "$taskd_pid" 2>/dev/null || true
  fi
  stop_rc=0
  wait "$taskd_pid" || stop_rc=$?
  t1=$(date +%s%N)
  stop_s=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')
  taskd_pid=""
}
cleanup() {
  stop_taskd
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Types every scenario uses; max_pending above the scale backlog (1M) plus the rest.
# $1 = file, $2 = concurrency of drain50/drain200 (1 in the "hold" config that process_cN
# fills under, so that almost nothing runs before the restart that starts the drain).
write_config() {
  local c50=${2:-50} c200=${2:-200}
  cat >"$1" <<EOF
# Written by scripts/bench.sh.
log_level = "warn"

[server]
listen = "127.0.0.1:0"
data_dir = "data"

[limits]
max_pending = 5000000
max_batch = 1000
shutdown_grace_ms = 10000

[types.bulk]       # enqueue_*: runs while it is being filled (taskd's normal behaviour)
handler = "builtin:noop"
concurrency = 50

[types.held]       # enqueue_*_held: created 1 h ahead, so nothing runs (the peer's case)
handler = "builtin:noop"
concurrency = 50

[types.drain50]    # process_c50, process_c50_delayed
handler = "builtin:noop"
concurrency = $c50

[types.drain200]   # process_c200, process_c200_delayed
handler = "builtin:noop"
concurrency = $c200

[types.e2e]        # e2e_latency
handler = "builtin:noop"
concurrency = 50

[types.scale]      # scale: created a day ahead, stays pending
handler = "builtin:noop"
concurrency = 50

[types.e2e_remote] # e2e_worker: run by 50 remote worker slots
handler = "worker"
concurrency = 50

[types.remote]     # worker_process: drained by remote workers (2 x 50 HTTP slots)
handler = "worker"
concurrency = 100
EOF
}
config=$work/bench.toml
hold_config=$work/bench-hold.toml
flow_config=$work/bench-flow.toml
write_config "$config"
write_config "$hold_config" 1
# flow: retention keeps the newest 100,000 completed tasks and prunes the rest as they come.
write_config "$flow_config"
if [ -n "${BENCH_CONFIG_APPEND:-}" ]; then
  echo "# appending $BENCH_CONFIG_APPEND to the bench config" >&2
  for f in "$config" "$hold_config"; do cat "$BENCH_CONFIG_APPEND" >>"$f"; done
fi
cat >>"$flow_config" <<EOF

[types.flow]
handler = "builtin:noop"
concurrency = 50

[retention]
completed_max = 100000
prune_batch = 5000
prune_interval_ms = 100
EOF
"$taskd_bin" --check-config "$flow_config" >&2
"$taskd_bin" --check-config "$hold_config" >&2
"$taskd_bin" --check-config "$config" >&2

free_port() { # a port nothing listens on (a bind race is caught by start_taskd)
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

start_taskd() { # $1 = data dir, $2 = log file, [$3 = config]; sets taskd_pid, port, ready_s
  local t0 t1 cfg=${3:-$config}
  for _ in 1 2 3; do
    port=$(free_port)
    t0=$(date +%s%N)
    "$taskd_bin" --config "$cfg" --listen "127.0.0.1:$port" --data-dir "$1" \
      --log-level warn >>"$2" 2>&1 &
    taskd_pid=$!
    if "$bench_bin" --url "http://127.0.0.1:$port" --wait-ready 120 >/dev/null &&
      kill -0 "$taskd_pid" 2>/dev/null; then
      t1=$(date +%s%N)
      ready_s=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }')
      return 0
    fi
    echo "# taskd did not get ready on port $port; log:" >&2
    tail -n 20 "$2" >&2
    stop_taskd
  done
  return 1
}

# Appends fields to a one-line JSON object.
add_fields() { # $1 = line, $2 = ',"k":v,...'
  printf '%s\n' "${1%\}}$2}"
}

error_line() { # $1 = scenario, $2 = message
  printf '{"scenario":"%s","mode":"sync","durability":"sync","taskd_version":"%s","error":"%s"}\n' \
    "$1" "$version" "$2"
}

run_bench() { # args for taskd-bench after the common ones
  timeout -k 5 "$scenario_timeout" "$bench_bin" --url "http://127.0.0.1:$port" \
    --pid "$taskd_pid" --data-dir "$data" --scale "$scale" --taskd-version "$version" "$@" ||
    echo "# taskd-bench exited with $?" >&2
}

echo "# taskd $version (tree dirty: $tree_dirty), scale $scale," \
  "scenarios: ${scenarios[*]} -> $out_file" >&2
t_all=$(date +%s)
for sc in "${scenarios[@]}"; do
  echo "# [$(date +%T)] $sc" >&2
  data=$work/data-$sc
  log=$work/taskd-$sc.log
  : >"$log"
  first_config=$config
  case "$sc" in
    process_c50 | process_c200) first_config=$hold_config ;;
    flow) first_config=$flow_config ;;
  esac
  if ! start_taskd "$data" "$log" "$first_config"; then
    error_line "$sc" "taskd did not start" | tee -a "$out_file"
    continue
  fi
  extra=""
  line=""
  case "$sc" in
    scale | process_c50 | process_c200)
      # Two phases around a restart: fill, SIGTERM + wait, start again, then query/drain.
      second=query
      [ "$sc" = scale ] || second=drain
      state=$work/$sc-state.json
      run_bench --scenario "$sc" --phase fill --state "$state"
      if [ -s "$state" ]; then
        stop_taskd
        extra=",\"first_stop_exit_code\":$stop_rc,\"first_stop_s\":$stop_s"
        first_stop_s=$stop_s
        restart_at_ms=$(date +%s%3N)
        if start_taskd "$data" "$log"; then
          line=$(run_bench --scenario "$sc" --phase "$second" --state "$state" \
            --restart-at-ms "$restart_at_ms" --restart-ready-s "$ready_s" \
            --shutdown-s "$first_stop_s")
        else
          line=$(error_line "$sc" "taskd did not restart")
        fi
      else
        line=$(error_line "$sc" "fill phase failed")
      fi
      ;;
    e2e_latency | e2e_worker) line=$(run_bench --scenario "$sc" --duration "$e2e_seconds") ;;
    flow) line=$(run_bench --scenario "$sc" --flow-tasks "${FLOW_TASKS:-0}") ;;
    *) line=$(run_bench --scenario "$sc") ;;
  esac
  [ -n "$line" ] || line=$(error_line "$sc" "no output (timeout or crash)")
  alive=true
  kill -0 "$taskd_pid" 2>/dev/null || alive=false
  stop_taskd
  # Anything taskd logged at warn or above is worth a look: count it into the line.
  log_lines=$(grep -c . "$log" || true)
  extra+=",\"taskd_tree_dirty\":$tree_dirty"
  extra+=",\"taskd_alive_at_end\":$alive,\"taskd_exit_code\":${stop_rc:-null}"
  extra+=",\"taskd_stop_s\":${stop_s:-null},\"taskd_log_lines\":$log_lines"
  line=$(add_fields "$line" "$extra")
  if [ "$log_lines" -gt 0 ]; then
    echo "# taskd logged $log_lines line(s) during $sc; first ones:" >&2
    head -n 5 "$log" >&2
  fi
  printf '%s\n' "$line" | tee -a "$out_file"
  rm -rf "$data"
done
echo "# done in $(($(date +%s) - t_all)) s; results in $out_file" >&2
if [ -n "$write_baseline" ]; then
  python3 scripts/bench_compare.py --make-baseline "$out_file" >"$write_baseline"
  echo "# baseline written to $write_baseline" >&2
fi
if [ -n "$compare" ]; then
  python3 scripts/bench_compare.py "$compare" "$out_file" $strict >&2
fi
