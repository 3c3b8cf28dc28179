import type { AttemptDetail, TaskAttempt } from "../api/types";
import { formatDuration } from "./format";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

const strOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * Normalises a GET /api/v1/tasks/{id}/attempts answer: entries without an integer `attempt`
 * are dropped, other fields of the wrong type become null (the view never has to guess).
 */
export function parseAttempts(raw: unknown): TaskAttempt[] {
  if (!isObject(raw) || !Array.isArray(raw.attempts)) return [];
  const out: TaskAttempt[] = [];
  for (const a of raw.attempts) {
    if (!isObject(a) || !isInt(a.attempt)) continue;
    out.push({
      attempt: a.attempt,
      started_at: strOrNull(a.started_at),
      ended_at: strOrNull(a.ended_at),
      duration_ms: numOrNull(a.duration_ms),
      outcome: typeof a.outcome === "string" ? a.outcome : "unknown",
      error: strOrNull(a.error),
      detail: isObject(a.detail) ? (a.detail as AttemptDetail) : null,
    });
  }
  return out;
}

/** Normalises a GET /api/v1/tasks/{id}/logs answer to its lines (non-strings are dropped). */
export function parseLogLines(raw: unknown): string[] {
  if (!isObject(raw) || !Array.isArray(raw.lines)) return [];
  return raw.lines.filter((l): l is string => typeof l === "string");
}

function signalText(d: AttemptDetail): string | null {
  if (!isInt(d.signal)) return null;
  const name = typeof d.signal_name === "string" && d.signal_name !== "" ? ` (${d.signal_name})` : "";
  return `signal ${d.signal}${name}`;
}

/**
 * An attempt's detail as short text: "exit 3", "signal 9 (SIGKILL)", "timed out", "HTTP 503".
 * A timeout wins over the signal that ended it; unknown shapes fall back to compact JSON;
 * no detail is "".
 */
export function formatAttemptDetail(detail: AttemptDetail | null | undefined): string {
  if (!isObject(detail)) return "";
  const d = detail;
  if (d.timed_out === true) return "timed out";
  const parts: string[] = [];
  if (isInt(d.exit_code)) parts.push(`exit ${d.exit_code}`);
  const sig = signalText(d);
  if (sig) parts.push(sig);
  if (isInt(d.http_status)) parts.push(`HTTP ${d.http_status}`);
  if (parts.length > 0) return parts.join(", ");
  return Object.keys(d).length === 0 ? "" : JSON.stringify(d);
}

function parseTime(iso: string | null): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** The attempt's duration; a running one counts up from started_at; "—" when unknown. */
export function formatAttemptDuration(a: Pick<TaskAttempt, "duration_ms" | "started_at" | "outcome">, now: number): string {
  if (a.duration_ms !== null) return formatDuration(a.duration_ms);
  if (a.outcome === "running") {
    const start = parseTime(a.started_at);
    if (start !== null) return formatDuration(now - start);
  }
  return "—";
}

export interface Throttle {
  /** Asks for a run: at most one per `intervalMs`, always after the last trigger. */
  trigger: () => void;
  /** Drops a pending run (e.g. on unmount). */
  cancel: () => void;
}

/**
 * Coalesces bursts of triggers into one trailing call of `fn`: the first trigger schedules a
 * run `intervalMs` later, triggers until then join it, a trigger after it schedules the next.
 * So `fn` runs at most once per `intervalMs` and always after the last trigger.
 */
export function trailingThrottle(fn: () => void, intervalMs: number): Throttle {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    trigger() {
      if (timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, intervalMs);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
