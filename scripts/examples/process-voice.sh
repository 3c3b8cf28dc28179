#!/usr/bin/env bash
# processVoice: the seed app's voice task, run by taskd's exec handler.
#
# stdin:  the task object, e.g. {"id": 7, "type": "processVoice", "payload": {...}, ...}
# payload (one of):
#   {"text": "hello world", "voice": "en-us"}  synthesize with espeak-ng (text defaults to
#                                              "taskd", voice to espeak-ng's default)
#   {"file": "/path/in.wav"}                   transcode an existing file to 16 kHz mono
# stdout: {"file": "<dir>/task-<id>.wav", "duration_s": 1.23, "text": "..." | null}
# env:    TASKD_VOICE_DIR, where the wav goes (default ${TMPDIR:-/tmp}/taskd-voice)
#
# Bad input or a missing tool: exit 1 (2 for a missing tool) with the reason on stderr.
set -euo pipefail

readonly max_text_chars=10000

die() {
  echo "process-voice: $*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "process-voice: missing tool '$1' (install: $2)" >&2
    exit 2
  }
}

need jq jq
need sox sox
need soxi sox

task=$(cat)
jq -e 'type == "object"' >/dev/null 2>&1 <<<"$task" || die "stdin is not a JSON task object"

# The id names the output file, so only plain ids are accepted.
id=$(jq -r '.id // empty | if type == "number" or type == "string" then tostring else empty end' \
  <<<"$task")
[[ "$id" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "task.id is missing or not a plain id: '${id}'"

payload_type=$(jq -r '.payload | type' <<<"$task")
[[ "$payload_type" == object || "$payload_type" == null ]] ||
  die "payload must be an object (got $payload_type)"

# The JSON type of payload.<name>, or "absent".
field_type() {
  jq -r --arg k "$1" '(.payload // {}) | if has($k) then .[$k] | type else "absent" end' \
    <<<"$task"
}

text_type=$(field_type text)
file_type=$(field_type file)
voice_type=$(field_type voice)
[[ "$text_type" == absent || "$file_type" == absent ]] ||
  die "payload has both text and file; give one"

out_dir=${TASKD_VOICE_DIR:-${TMPDIR:-/tmp}/taskd-voice}
mkdir -p -- "$out_dir" || die "cannot create $out_dir"
out="$out_dir/task-$id.wav"
# Written under a temporary name and renamed, so nobody sees a half-written file.
tmp="$out_dir/.task-$id.$$.wav"
trap 'rm -f -- "$tmp"' EXIT

if [[ "$file_type" != absent ]]; then
  [[ "$file_type" == string ]] || die "payload.file must be a string (got $file_type)"
  in=$(jq -r '.payload.file' <<<"$task")
  [[ -f "$in" && -r "$in" ]] || die "payload.file is not a readable file: $in"
  sox -- "$in" -r 16000 -c 1 "$tmp" >&2 || die "sox cannot transcode $in"
  text_json=null
else
  need espeak-ng espeak-ng
  case "$text_type" in
    absent) text=taskd ;;
    string) text=$(jq -r '.payload.text' <<<"$task") ;;
    *) die "payload.text must be a string (got $text_type)" ;;
  esac
  [[ -n "${text//[[:space:]]/}" ]] || die "payload.text is empty"
  ((${#text} <= max_text_chars)) || die "payload.text is longer than $max_text_chars characters"
  voice_args=()
  case "$voice_type" in
    absent | null) ;;
    string) voice_args=(-v "$(jq -r '.payload.voice' <<<"$task")") ;;
    *) die "payload.voice must be a string (got $voice_type)" ;;
  esac
  # `--` so a text starting with "-" is spoken, not parsed as an option.
  espeak-ng "${voice_args[@]}" -w "$tmp" -- "$text" >&2 || die "espeak-ng failed"
  text_json=$(jq -n --arg t "$text" '$t')
fi

duration=$(soxi -D "$tmp" 2>/dev/null) || die "soxi cannot read the produced wav"
mv -f -- "$tmp" "$out"

jq -n -c --arg file "$out" --argjson d "$duration" --argjson text "$text_json" \
  '{file: $file, duration_s: (($d * 1000 | round) / 1000), text: $text}'
