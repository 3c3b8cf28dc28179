#!/usr/bin/env bash
# Checks scripts/monitoring/ (Prometheus config, alert rules, Grafana dashboard) against a
# real taskd and a real Prometheus.
#
#   TASKD_BINARY=build/taskd tests/monitoring/monitoring_test.sh
#
# Needs promtool, prometheus (Debian package `prometheus`), curl, jq and python3. Steps:
#  1. promtool check config / check rules / test rules (tests/monitoring/alert-rules.test.yml);
#     dashboard JSON structure.
#  2. a taskd on a free port with a temp data dir: one task is left in_progress by a
#     kill -9 and recovered (stalled, abandoned) by a second taskd on the same data; that
#     one then gets echo, fail, retried, paused, rejected (429) and cancelled tasks.
#  3. its /metrics: `promtool check metrics` lint, histogram consistency, and the values
#     the scenario implies.
#  4. a Prometheus scraping it every second, with the alert rules: the scraped sum, every
#     rule healthy, the stalled/abandoned alerts firing, every dashboard and rule
#     expression accepted by Prometheus (dashboard panels also non-empty), and every metric
#     name they use present on the live /metrics.
# Exits non-zero with a message on the first failure; prints `monitoring test: N checks
# passed` at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MON=$ROOT/scripts/monitoring
HERE=$ROOT/tests/monitoring
LIB=$HERE/monitoring_lib.py
DASHBOARD=$MON/grafana/taskd-dashboard.json
RULES=$MON/alert-rules.yml

# Lines of `promtool check metrics` that are accepted. None today: taskd's exposition must
# lint clean. Add an extended regex here (with the reason) only for a problem that is
# deliberately not fixed.
LINT_ALLOW=()

checks=0
ok() { checks=$((checks + 1)); echo "  ok  $*"; }
fail() {
  echo "monitoring test: FAILED: $*" >&2
  exit 1
}

for tool in promtool prometheus curl jq python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/setup.sh installs it)"
done
TASKD_BINARY=${TASKD_BINARY:-}
[ -n "$TASKD_BINARY" ] || fail "set TASKD_BINARY to the taskd executable"
[ -x "$TASKD_BINARY" ] || fail "TASKD_BINARY=$TASKD_BINARY is not an executable"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskd-monitoring.XXXXXX")
taskd_pid=""
prom_pid=""

stop_pid() { # pid signal-first: TERM, then KILL after 10 s
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_pid "$prom_pid"
  stop_pid "$taskd_pid"
  if [ "$rc" -ne 0 ]; then
    for log in "$tmp"/taskd-*.log "$tmp"/prometheus.log; do
      [ -s "$log" ] || continue
      echo "--- last lines of $(basename "$log")" >&2
      tail -n 12 "$log" | cut -c1-400 >&2
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# until DEADLINE_S WHAT CMD...: runs CMD every 0.1 s until it succeeds; fails after DEADLINE_S.
until_ok() {
  local deadline=$(($(date +%s) + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.1
  done
}

# http METHOD PATH [JSON]: sets $code and $body (taskd at $base).
code="" body=""
http() {
  local args=(-s -o "$tmp/resp" -w '%{http_code}' --max-time 10 -X "$1")
  [ $# -lt 3 ] || args+=(-H 'Content-Type: application/json' --data-binary "$3")
  code=$(curl "${args[@]}" "$base$2") || code=000
  body=$(cat "$tmp/resp" 2>/dev/null || true)
}
expect_code() { # expected METHOD PATH [JSON]
  local want=$1
  shift
  http "$@"
  [ "$code" = "$want" ] || fail "$1 $2 answered $code, want $want: $body"
}

task_status_is() { # id status...
  local id=$1 s
  shift
  http GET "/api/v1/tasks/$id"
  [ "$code" = 200 ] || return 1
  s=$(jq -r .status <<<"$body")
  for want in "$@"; do [ "$s" = "$want" ] && return 0; done
  return 1
}

start_taskd() { # log-name
  port=$(free_port)
  base=http://127.0.0.1:$port
  "$TASKD_BINARY" --config "$tmp/taskd.toml" --data-dir "$tmp/data" \
    --listen "127.0.0.1:$port" >"$tmp/taskd-$1.log" 2>&1 &
  taskd_pid=$!
  local deadline=$(($(date +%s) + 30))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/healthz")" = 200 ]; do
    kill -0 "$taskd_pid" 2>/dev/null || fail "taskd exited at start (log: taskd-$1.log)"
    [ "$(date +%s)" -lt "$deadline" ] || fail "taskd did not answer /healthz within 30 s"
    sleep 0.1
  done
  until_ok 30 "taskd /readyz" curl -sf --max-time 2 "$base/readyz"
}

# metric NAME [k=v...]: the value of the one sample NAME{k=v,...} (other labels free) of
# the /metrics fetched last ($tmp/metrics.tsv, made by `monitoring_lib.py flatten`).
metric() {
  local name=$1
  shift
  awk -F'\t' -v name="$name" -v want="$(IFS=$'\037' && echo "$*")" '
    BEGIN { m = (want == "") ? 0 : split(want, ws, "\037") }
    $1 == name {
      n = split($2, ls, "\037")
      for (k in have) delete have[k]
      for (i = 1; i <= n; i++) have[ls[i]] = 1
      for (i = 1; i <= m; i++) if (!(ws[i] in have)) next
      count++; v = $3; all = all "\n  " $1 "{" $2 "} " $3
    }
    END {
      if (count != 1) {
        printf "%s{%s}: %d samples on /metrics match, want exactly 1%s\n", name, want, count, all > "/dev/stderr"
        exit 1
      }
      print v
    }' "$tmp/metrics.tsv" | tr '\037' ','
}
value_of() { metric "$@" 2>"$tmp/metric.err" || fail "$(tr '\037' ',' <"$tmp/metric.err")"; }
expect_metric() { # want NAME [k=v...]
  local want=$1 got
  shift
  got=$(value_of "$@")
  [ "$got" = "$want" ] || fail "$1{${*:2}} is $got on /metrics, want $want"
  ok "$1{${*:2}} = $want"
}
expect_metric_cmp() { # OP BOUND NAME [k=v...]: e.g. '>' 0; BOUND may be awk arithmetic
  local op=$1 bound=$2 got
  shift 2
  got=$(value_of "$@")
  awk "BEGIN { exit !(($got) $op ($bound)) }" ||
    fail "$1{${*:2}} is $got on /metrics, want $op $bound"
  ok "$1{${*:2}} = $got ($op $bound)"
}

echo "== static checks"
out=$(promtool check config "$MON/prometheus.yml" 2>&1) || fail "promtool check config:"$'\n'"$out"
ok "promtool check config scripts/monitoring/prometheus.yml"
out=$(promtool check rules "$RULES" 2>&1) || fail "promtool check rules:"$'\n'"$out"
ok "promtool check rules scripts/monitoring/alert-rules.yml"
out=$(promtool test rules "$HERE/alert-rules.test.yml" 2>&1) || fail "promtool test rules:"$'\n'"$out"
ok "promtool test rules tests/monitoring/alert-rules.test.yml"
jq -e . "$DASHBOARD" >/dev/null || fail "$DASHBOARD is not valid JSON"
n=$(python3 "$LIB" dashboard-lint "$DASHBOARD") || fail "dashboard lint"
ok "dashboard JSON: $n panels, ids, gridPos, datasource variable, type variable"
python3 "$LIB" exprs dashboard "$DASHBOARD" >"$tmp/dashboard-exprs.jsonl" || fail "dashboard expressions"
python3 "$LIB" exprs rulesfile "$RULES" >"$tmp/rules-file-exprs.jsonl" || fail "rule expressions"

echo "== taskd: a task stalled by kill -9"
mkdir -p "$tmp/data"
cat >"$tmp/taskd.toml" <<'EOF'
log_level = "warn"
[server]
[limits]
shutdown_grace_ms = 2000
[types.echo]
handler = "builtin:echo"
[types.fail]
handler = "builtin:fail"
max_attempts = 1
[types.gate]
handler = "builtin:noop"
max_pending = 2
[types.slow]
handler = "builtin:sleep"
max_attempts = 1
timeout_ms = 120000
[types.idle]
handler = "builtin:noop"
# A mirror whose Redis is not there: its lag and failure metrics exist and move.
[bridge]
retry_max_ms = 500
[bridge.redis]
url = "redis://127.0.0.1:CLOSED_PORT"
EOF
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/CLOSED_PORT/$closed_port/" "$tmp/taskd.toml"
start_taskd first
expect_code 201 POST /api/v1/tasks '{"type":"slow","payload":{"ms":60000}}'
slow_id=$(jq -r .id <<<"$body")
until_ok 20 "the slow task to start" task_status_is "$slow_id" in_progress
kill -KILL "$taskd_pid"
wait "$taskd_pid" 2>/dev/null || true
taskd_pid=""
ok "taskd killed with task $slow_id in_progress"

echo "== taskd: the scenario"
start_taskd second
until_ok 20 "task $slow_id to be abandoned" task_status_is "$slow_id" abandoned
ok "task $slow_id recovered as abandoned"

expect_code 200 POST /api/v1/types/gate/pause
expect_code 201 POST /api/v1/tasks '{"type":"gate","payload":{}}'
gate_started=$(date +%s.%N)
expect_code 201 POST /api/v1/tasks '{"type":"gate","payload":{}}'
gate2=$(jq -r .id <<<"$body")
expect_code 429 POST /api/v1/tasks '{"type":"gate","payload":{}}'
expect_code 200 POST "/api/v1/tasks/$gate2/cancel"
ok "gate paused, 2 created, 1 refused with 429, 1 cancelled"

ids=()
for _ in 1 2 3 4 5 6 7; do
  expect_code 201 POST /api/v1/tasks '{"type":"echo","payload":{}}'
  ids+=("$(jq -r .id <<<"$body")")
done
fail_ids=()
for _ in 1 2; do
  expect_code 201 POST /api/v1/tasks '{"type":"fail","payload":{}}'
  fail_ids+=("$(jq -r .id <<<"$body")")
done
for id in "${ids[@]}"; do until_ok 30 "echo task $id to complete" task_status_is "$id" completed; done
for id in "${fail_ids[@]}"; do until_ok 30 "fail task $id to fail" task_status_is "$id" failed; done
ok "7 echo tasks completed, 2 fail tasks failed"
expect_code 200 POST "/api/v1/tasks/${fail_ids[0]}/retry"
until_ok 30 "retried task ${fail_ids[0]} to fail again" task_status_is "${fail_ids[0]}" failed
ok "task ${fail_ids[0]} retried by request and failed again"
expect_code 404 GET /api/v1/tasks/987654321
expect_code 404 GET /api/v1/no-such-route-zq9x/4242
created_total=11 # echo 7 + fail 2 + gate 2 (the slow task was created by the first process)

echo "== /metrics"
read -r mcode ctype < <(curl -s --max-time 10 -o "$tmp/metrics.txt" -w '%{http_code} %{content_type}\n' "$base/metrics" || true)
[ "${mcode:-000}" = 200 ] || fail "GET /metrics answered ${mcode:-nothing}, want 200"
[ -s "$tmp/metrics.txt" ] || fail "GET /metrics returned an empty body"
[[ "$ctype" == text/plain* ]] || fail "GET /metrics Content-Type is '$ctype', want text/plain; version=0.0.4"
ok "GET /metrics: $(wc -l <"$tmp/metrics.txt") lines, $ctype"
python3 "$LIB" flatten "$tmp/metrics.txt" >"$tmp/metrics.tsv" || fail "cannot parse /metrics"
expect_code 200 GET /api/v1/admin/info
admin=$body
expect_code 200 GET /api/v1/types
types=$body

lint=$(promtool check metrics <"$tmp/metrics.txt" 2>&1) || true
problems=$(printf '%s\n' "$lint" | while IFS= read -r line; do
  [ -n "$line" ] || continue
  for allow in ${LINT_ALLOW[@]+"${LINT_ALLOW[@]}"}; do [[ "$line" =~ $allow ]] && continue 2; done
  printf '%s\n' "$line"
done)
[ -z "$problems" ] || fail "promtool check metrics reports:"$'\n'"$problems"
ok "promtool check metrics: clean"
n=$(python3 "$LIB" histograms "$tmp/metrics.txt") || fail "histograms on /metrics are inconsistent"
ok "$n histogram series: cumulative buckets, +Inf == _count"

# counters of this process
expect_metric 7 taskd_tasks_created_total type=echo
expect_metric 2 taskd_tasks_created_total type=fail
expect_metric 2 taskd_tasks_created_total type=gate
expect_metric 7 taskd_tasks_completed_total type=echo
expect_metric 0 taskd_tasks_completed_total type=fail
expect_metric 3 taskd_tasks_failed_total type=fail
expect_metric 0 taskd_tasks_failed_total type=echo
expect_metric 3 taskd_attempts_failed_total type=fail
expect_metric 0 taskd_attempts_failed_total type=echo
expect_metric 1 taskd_tasks_retried_total type=fail
expect_metric 1 taskd_tasks_stalled_total type=slow
expect_metric 1 taskd_tasks_abandoned_total type=slow
expect_metric 0 taskd_tasks_retried_total type=slow
expect_metric 1 taskd_tasks_cancelled_total type=gate
expect_metric 1 taskd_admission_rejected_total type=gate
# every configured type has its series from the start (at 0), so rate() and increase()
# see the first event and the dashboard's type list is complete
for name in taskd_tasks_created_total taskd_tasks_completed_total taskd_tasks_failed_total \
  taskd_attempts_failed_total taskd_tasks_retried_total taskd_tasks_stalled_total \
  taskd_tasks_abandoned_total taskd_tasks_cancelled_total taskd_admission_rejected_total \
  taskd_tasks_running taskd_type_paused taskd_oldest_pending_age_seconds; do
  expect_metric 0 "$name" type=idle
done
# gauges
expect_metric 7 taskd_tasks type=echo status=completed
expect_metric 2 taskd_tasks type=fail status=failed
expect_metric 1 taskd_tasks type=gate status=pending
expect_metric 1 taskd_tasks type=gate status=cancelled
expect_metric 1 taskd_tasks type=slow status=abandoned
for t in echo fail gate slow idle; do
  for s in pending in_progress completed failed abandoned cancelled; do
    got=$(value_of taskd_tasks type=$t status=$s)
    want=$(jq -r --arg t "$t" --arg s "$s" '.types[] | select(.name == $t) | .counts[$s]' <<<"$types")
    [ "$got" = "$want" ] || fail "taskd_tasks{type=\"$t\",status=\"$s\"} is $got, GET /api/v1/types says $want"
  done
  want=$(jq -r --arg t "$t" '.types[] | select(.name == $t) | .concurrency' <<<"$types")
  expect_metric "$want" taskd_type_concurrency type=$t
  expect_metric 0 taskd_tasks_running type=$t
done
ok "taskd_tasks{type,status} equals GET /api/v1/types counts for all 5 types x 6 statuses"
expect_metric 1 taskd_type_paused type=gate
expect_metric 0 taskd_type_paused type=echo
expect_metric 0 taskd_oldest_pending_age_seconds type=echo
age_max=$(awk "BEGIN { printf \"%.3f\", $(date +%s.%N) - $gate_started + 1 }")
expect_metric_cmp '>' 0 taskd_oldest_pending_age_seconds type=gate
expect_metric_cmp '<=' "$age_max" taskd_oldest_pending_age_seconds type=gate
expect_metric 0 taskd_event_subscribers
expect_metric "$(jq -r .head_seq <<<"$admin")" taskd_change_log_head_sequence
expect_metric_cmp '>' 0 taskd_storage_size_bytes
expect_metric_cmp '>=' 0 taskd_storage_table_files column_family=tasks
expect_metric 1 taskd_build_info "version=$(jq -r .version <<<"$admin")"
# histograms
expect_metric 7 taskd_task_run_seconds_count type=echo
expect_metric 3 taskd_task_run_seconds_count type=fail
expect_metric 7 taskd_task_wait_seconds_count type=echo
expect_metric 3 taskd_task_wait_seconds_count type=fail
expect_metric_cmp '>=' 0 taskd_task_run_seconds_sum type=echo
expect_metric_cmp '>=' 1 taskd_store_commit_seconds_count
expect_metric 11 taskd_http_request_duration_seconds_count method=POST route=/api/v1/tasks code=201
expect_metric 1 taskd_http_request_duration_seconds_count method=POST route=/api/v1/tasks code=429
expect_metric_cmp '>=' 9 taskd_http_request_duration_seconds_count \
  method=GET 'route=/api/v1/tasks/{id}' code=200
expect_metric_cmp '>=' 1 taskd_http_request_duration_seconds_count \
  method=GET 'route=/api/v1/tasks/{id}' code=404
routes=$(python3 "$LIB" labels "$tmp/metrics.txt" taskd_http_request_duration_seconds_count route)
bad=$(grep -E '[0-9]{3,}|zq9x' <<<"$routes" || true)
[ -z "$bad" ] || fail "http route labels carry ids or unknown paths (unbounded):"$'\n'"$bad"
ok "http route labels are templates ($(wc -l <<<"$routes") routes)"
# process
expect_metric_cmp '>' 0 process_resident_memory_bytes
expect_metric_cmp '>=' "$(value_of process_resident_memory_bytes)" process_virtual_memory_bytes
expect_metric_cmp '>' 0 process_open_fds
expect_metric_cmp '>=' "$(value_of process_open_fds)" process_max_fds
expect_metric_cmp '>=' 0 process_cpu_seconds_total
now=$(date +%s)
expect_metric_cmp '>' "$now - 600" process_start_time_seconds
expect_metric_cmp '<=' "$now + 1" process_start_time_seconds

echo "== metric names used by the dashboard and the alert rules"
cat "$tmp/dashboard-exprs.jsonl" "$tmp/rules-file-exprs.jsonl" >"$tmp/all-exprs.jsonl"
n=$(python3 "$LIB" names "$tmp/all-exprs.jsonl" "$tmp/metrics.txt") || fail "unknown metric names (above)"
ok "all $n metric names used by the dashboard and the alert rules are on the live /metrics"
unused=$(comm -23 \
  <(cut -f1 "$tmp/metrics.tsv" | grep -E '^(taskd|process)_' | sed -E 's/_(bucket|count|sum)$//' | sort -u) \
  <(python3 "$LIB" names-list "$tmp/all-exprs.jsonl" | sed -E 's/_(bucket|count|sum)$//' | sort -u))
[ -z "$unused" ] || echo "  note: exported but used by neither the dashboard nor the alerts: $(tr '\n' ' ' <<<"$unused")"

echo "== Prometheus"
prom_port=$(free_port)
prom=http://127.0.0.1:$prom_port
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: taskd
    static_configs:
      - targets: ["127.0.0.1:$port"]
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
deadline=$(($(date +%s) + 30))
until curl -sf --max-time 2 "$prom/-/ready" >/dev/null 2>&1; do
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited at start (log: prometheus.log)"
  [ "$(date +%s)" -lt "$deadline" ] || fail "prometheus not ready within 30 s"
  sleep 0.1
done
ok "prometheus ready on 127.0.0.1:$prom_port"

promql() { # EXPR -> the /api/v1/query JSON answer in $tmp/q.json; fails on an error status
  curl -s --max-time 10 -G "$prom/api/v1/query" --data-urlencode "query=$1" >"$tmp/q.json" &&
    [ "$(jq -r .status "$tmp/q.json")" = success ]
}
scalar_of() { # EXPR -> the single value, or nothing
  promql "$1" && jq -r 'if (.data.result | length) == 1 then .data.result[0].value[1] else empty end' "$tmp/q.json"
}
sum_is() { [ "$(scalar_of 'sum(taskd_tasks_created_total{job="taskd"})')" = "$created_total" ]; }
until_ok 60 "Prometheus to scrape sum(taskd_tasks_created_total) = $created_total" sum_is
ok "Prometheus scraped sum(taskd_tasks_created_total) = $created_total"
enough_samples() {
  [ "$(scalar_of 'min(count_over_time(up{job="taskd"}[1m]))')" -ge 4 ] 2>/dev/null &&
    [ "$(scalar_of 'min(up{job="taskd"})')" = 1 ]
}
until_ok 30 "4 successful scrapes of taskd" enough_samples

# every rule evaluated at least once after those scrapes (in a later second than now), so
# that rate() in the rules has samples and matching errors would show
evaluated_after=$(date -u +%Y-%m-%dT%H:%M:%S)
rules_evaluated() {
  curl -s --max-time 10 "$prom/api/v1/rules" >"$tmp/rules.json" &&
    jq -e --arg t "$evaluated_after" '[.data.groups[].rules[]] | length > 0 and
      all(.lastEvaluation[0:19] > $t)' "$tmp/rules.json"
}
until_ok 30 "every alert rule to be evaluated" rules_evaluated
n_rules=$(jq '[.data.groups[].rules[]] | length' "$tmp/rules.json")
n_file=$(wc -l <"$tmp/rules-file-exprs.jsonl")
[ "$n_rules" = "$n_file" ] || fail "Prometheus loaded $n_rules rules, alert-rules.yml has $n_file"
unhealthy=$(jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.health) \(.lastError)"' "$tmp/rules.json")
[ -z "$unhealthy" ] || fail "alert rules failing on real data:"$'\n'"$unhealthy"
ok "Prometheus loaded all $n_rules alert rules; every one evaluates with health ok"

alert_firing() { # alertname type
  curl -s --max-time 10 "$prom/api/v1/alerts" >"$tmp/alerts.json" &&
    jq -e --arg a "$1" --arg t "$2" \
      'any(.data.alerts[]; .labels.alertname == $a and .labels.type == $t and .state == "firing")' \
      "$tmp/alerts.json"
}
until_ok 20 "alert TaskdTasksStalled{type=slow} to fire" alert_firing TaskdTasksStalled slow
ok "alert TaskdTasksStalled fires for type slow after the restart"
until_ok 20 "alert TaskdTasksAbandoned{type=slow} to fire" alert_firing TaskdTasksAbandoned slow
ok "alert TaskdTasksAbandoned fires for type slow after the restart"
firing=$(jq -r '.data.alerts[] | select(.labels.alertname == "TaskdDown") | .state' "$tmp/alerts.json")
[ -z "$firing" ] || fail "TaskdDown is $firing while taskd is up"
ok "TaskdDown is not pending or firing"

python3 "$LIB" exprs rules "$tmp/rules.json" >"$tmp/rules-exprs.jsonl"
python3 "$LIB" names "$tmp/rules-exprs.jsonl" "$tmp/metrics.txt" >/dev/null ||
  fail "unknown metric names in the rules Prometheus loaded (above)"
n_exprs=0
while IFS=$'\037' read -r kind title expr; do
  promql "$expr" ||
    fail "Prometheus rejects the expression of $kind '$title': $(jq -r .error "$tmp/q.json" 2>/dev/null)"$'\n'"  $expr"
  if [ "$kind" = panel ] || [ "$kind" = variable ]; then
    # a panel must show data on a taskd that has done all of the above
    nonempty() { jq -e '.data.result | length > 0' "$tmp/q.json" || { promql "$expr" && false; }; }
    until_ok 15 "a result for $kind '$title': $expr" nonempty
  fi
  n_exprs=$((n_exprs + 1))
done < <(cat "$tmp/dashboard-exprs.jsonl" "$tmp/rules-exprs.jsonl" |
  jq -r '[.kind, .title, (.query | gsub("\\s+"; " "))] | join("\u001f")')
ok "Prometheus accepts all $n_exprs dashboard and rule expressions; every dashboard panel and variable has data"

stop_pid "$prom_pid"
prom_pid=""

stop_pid "$taskd_pid"
taskd_pid=""
echo "monitoring test: $checks checks passed"
