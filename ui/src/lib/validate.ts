import type { ChangeEvent, Json, ServerMessage, Task } from "../api/types";

export type PayloadResult = { ok: true; value: Json } | { ok: false; error: string };

/** Validates the create form's payload textarea: any JSON value, non-empty. */
export function parsePayload(text: string): PayloadResult {
  if (text.trim() === "") return { ok: false, error: "Payload is required (use {} for none)" };
  try {
    return { ok: true, value: JSON.parse(text) as Json };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return { ok: false, error: `Invalid JSON: ${detail}` };
  }
}

export type NumberFieldResult = { ok: true; value: number | undefined } | { ok: false; error: string };

/**
 * Parses an optional numeric form field. Range and integer checks are left to the server,
 * whose 400 message is shown inline; here only "not a number at all" is rejected.
 */
export function parseOptionalNumber(label: string, text: string): NumberFieldResult {
  const t = text.trim();
  if (t === "") return { ok: true, value: undefined };
  const n = Number(t);
  if (!Number.isFinite(n)) return { ok: false, error: `${label}: must be a number` };
  return { ok: true, value: n };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSeq(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

/** Minimal structural check of a task object from the server. */
export function isTask(v: unknown): v is Task {
  return (
    isObject(v) &&
    typeof v.id === "number" &&
    typeof v.type === "string" &&
    typeof v.status === "string" &&
    typeof v.created_at === "string" &&
    typeof v.updated_at === "string"
  );
}

/** Parses one WebSocket text frame; null for anything malformed or unknown. */
export function parseServerMessage(raw: unknown): ServerMessage | null {
  if (typeof raw !== "string") return null;
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(msg) || !isSeq(msg.seq)) return null;
  switch (msg.event) {
    case "hello":
    case "reset":
      return { event: msg.event, seq: msg.seq };
    case "task":
      return isTask(msg.task) ? { event: "task", seq: msg.seq, task: msg.task } : null;
    case "deleted":
      return typeof msg.id === "number" ? { event: "deleted", seq: msg.seq, id: msg.id } : null;
    default:
      return null;
  }
}

export function isChangeEvent(m: ServerMessage): m is ChangeEvent {
  return m.event === "task" || m.event === "deleted";
}
