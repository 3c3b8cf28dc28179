import type { Json, Task } from "../api/types";

/** Compact human duration: 850ms, 12.3s, 4m 05s, 2h 03m, 3d 04h. Negative → 0ms. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.floor(s)}s`;
  const totalS = Math.floor(s);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (totalS < 3600) return `${Math.floor(totalS / 60)}m ${pad(totalS % 60)}s`;
  if (totalS < 86400) return `${Math.floor(totalS / 3600)}h ${pad(Math.floor((totalS % 3600) / 60))}m`;
  return `${Math.floor(totalS / 86400)}d ${pad(Math.floor((totalS % 86400) / 3600))}h`;
}

function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** Age of an RFC 3339 timestamp relative to now, e.g. "12s"; "—" when missing. */
export function formatAge(iso: string | null | undefined, now: number): string {
  const t = parseTime(iso);
  return t === null ? "—" : formatDuration(now - t);
}

/** finished_at − started_at; while running, now − started_at; "—" if never started. */
export function taskDurationMs(task: Pick<Task, "started_at" | "finished_at">, now: number): number | null {
  const start = parseTime(task.started_at);
  if (start === null) return null;
  const end = parseTime(task.finished_at) ?? now;
  return Math.max(0, end - start);
}

export function formatTaskDuration(task: Pick<Task, "started_at" | "finished_at">, now: number): string {
  const ms = taskDurationMs(task, now);
  return ms === null ? "—" : formatDuration(ms);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatUptime(seconds: number): string {
  return formatDuration(seconds * 1000);
}

/** Pretty JSON for display (always rendered as text, never as HTML). */
export function prettyJson(v: Json | undefined): string {
  if (v === undefined) return "";
  return JSON.stringify(v, null, 2);
}

export function formatThroughput(perS: number): string {
  if (!Number.isFinite(perS)) return "—";
  return `${perS < 10 ? perS.toFixed(2) : perS.toFixed(1)}/s`;
}

export function isFutureTime(iso: string | null | undefined, now: number): boolean {
  const t = parseTime(iso);
  return t !== null && t > now;
}
