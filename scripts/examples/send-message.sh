#!/usr/bin/env bash
# sendMessage: the seed app's messaging task, run by taskd's exec handler. "Delivery" is
# one JSON line appended to an outbox file, so the example has no external dependency.
#
# stdin:   the task object, e.g. {"id": 7, "type": "sendMessage", "payload": {...}, ...}
# payload: {"to": "alice", "body": "hi"}  to: non-empty string; body: string
# stdout:  {"delivered": true, "outbox": "<path>"}
# outbox:  {"task_id": 7, "to": "alice", "body": "hi", "sent_at": "2026-...Z"} per line
# env:     TASKD_OUTBOX (default ${TMPDIR:-/tmp}/taskd-outbox.jsonl)
#
# Bad input: exit 1 with the reason on stderr.
set -euo pipefail

readonly lock_wait_s=10

die() {
  echo "send-message: $*" >&2
  exit 1
}

command -v jq >/dev/null 2>&1 || die "missing tool 'jq'"
command -v flock >/dev/null 2>&1 || die "missing tool 'flock' (util-linux)"

task=$(cat)
jq -e 'type == "object"' >/dev/null 2>&1 <<<"$task" || die "stdin is not a JSON task object"

problem=$(jq -r '
  (.payload // {}) as $p
  | if ($p | type) != "object" then "payload must be an object"
    elif ($p.to | type) != "string" then "payload.to is required and must be a string"
    elif $p.to == "" then "payload.to must not be empty"
    elif ($p.body | type) != "string" then "payload.body is required and must be a string"
    else empty end' <<<"$task")
[[ -z "$problem" ]] || die "$problem"

outbox=${TASKD_OUTBOX:-${TMPDIR:-/tmp}/taskd-outbox.jsonl}
mkdir -p -- "$(dirname -- "$outbox")" || die "cannot create the directory of $outbox"

sent_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
line=$(jq -c --arg sent_at "$sent_at" \
  '{task_id: .id, to: .payload.to, body: .payload.body, sent_at: $sent_at}' <<<"$task")

# One writer at a time, so concurrent tasks never interleave partial lines.
{
  flock -w "$lock_wait_s" 9 || die "cannot lock $outbox within ${lock_wait_s}s"
  printf '%s\n' "$line" >&9
} 9>>"$outbox" || die "cannot append to $outbox"

jq -n -c --arg outbox "$outbox" '{delivered: true, outbox: $outbox}'
