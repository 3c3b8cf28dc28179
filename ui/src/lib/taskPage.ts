import type { ChangeEvent, Task, TaskFilters } from "../api/types";

/** One page of the task table (newest first) plus the seq of the last change applied to it. */
export interface PageState {
  tasks: Task[];
  nextAfter: number | null;
  lastSeq: number;
}

export interface PageContext {
  filters: TaskFilters;
  /** Only the first (newest) page accepts tasks it did not already show. */
  firstPage: boolean;
  limit: number;
}

export const EMPTY_PAGE: PageState = { tasks: [], nextAfter: null, lastSeq: -1 };

export function matchesFilters(task: Task, filters: TaskFilters): boolean {
  if (filters.status && task.status !== filters.status) return false;
  if (filters.type && task.type !== filters.type) return false;
  return true;
}

function time(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
}

/**
 * Where a copy of a task came from. updated_at has millisecond resolution, so two copies
 * can tie (a task created and completed in the same millisecond). Stream events arrive in
 * seq order, so on a tie the event is the later state and wins; a REST answer (a create's or
 * an action's) may race the stream and wins only when strictly newer — otherwise a create's
 * "pending" answer could replace a streamed "completed" for good.
 */
export type TaskSource = "event" | "answer";

/** Whether a copy from `source` should replace the one held (same task, by updated_at). */
export function shouldReplace(candidate: Task, current: Task, source: TaskSource): boolean {
  const c = time(candidate.updated_at);
  const held = time(current.updated_at);
  return source === "event" ? c >= held : c > held;
}

/**
 * Puts a full task into the page: replaces it in place when shown (see `shouldReplace`), or —
 * on the first page, when it matches the filters and falls inside the page's id range —
 * inserts it in id-descending position, trimming the page back to `limit`.
 */
export function upsertTask(
  state: PageState,
  task: Task,
  ctx: PageContext,
  source: TaskSource = "answer",
): PageState {
  const idx = state.tasks.findIndex((t) => t.id === task.id);
  if (idx >= 0) {
    if (!shouldReplace(task, state.tasks[idx], source)) return state;
    const tasks = state.tasks.slice();
    tasks[idx] = task;
    return { ...state, tasks };
  }
  if (!ctx.firstPage || !matchesFilters(task, ctx.filters)) return state;
  const last = state.tasks[state.tasks.length - 1];
  // Older than everything shown while more pages exist: it belongs on a later page.
  if (last && task.id < last.id && state.nextAfter !== null) return state;
  let pos = state.tasks.findIndex((t) => t.id < task.id);
  if (pos < 0) pos = state.tasks.length;
  const tasks = [...state.tasks.slice(0, pos), task, ...state.tasks.slice(pos)];
  if (tasks.length <= ctx.limit) return { ...state, tasks };
  const kept = tasks.slice(0, ctx.limit);
  return { ...state, tasks: kept, nextAfter: kept[kept.length - 1].id };
}

export function removeTask(state: PageState, id: number): PageState {
  if (!state.tasks.some((t) => t.id === id)) return state;
  return { ...state, tasks: state.tasks.filter((t) => t.id !== id) };
}

/** Applies one change from the event stream; changes at or below `lastSeq` are ignored. */
export function applyEvent(state: PageState, ev: ChangeEvent, ctx: PageContext): PageState {
  if (ev.seq <= state.lastSeq) return state;
  const next = ev.event === "task" ? upsertTask(state, ev.task, ctx, "event") : removeTask(state, ev.id);
  return { ...next, lastSeq: ev.seq };
}

export function applyEvents(state: PageState, evs: readonly ChangeEvent[], ctx: PageContext): PageState {
  return evs.reduce((s, ev) => applyEvent(s, ev, ctx), state);
}

/** Merges a timeline entry into a seq-ordered timeline (dedup by seq). */
export function mergeTimeline<T extends { seq: number }>(entries: readonly T[], add: readonly T[]): T[] {
  const bySeq = new Map<number, T>();
  for (const e of entries) bySeq.set(e.seq, e);
  for (const e of add) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** Back/forward cursors for server-side paging with order=desc. */
export interface Cursor {
  /** `after` of the page being shown (null = first page). */
  after: number | null;
  /** `after` values of the pages before it, for "newer". */
  history: (number | null)[];
}

export const FIRST_CURSOR: Cursor = { after: null, history: [] };

export function olderCursor(c: Cursor, nextAfter: number): Cursor {
  return { after: nextAfter, history: [...c.history, c.after] };
}

export function newerCursor(c: Cursor): Cursor {
  if (c.history.length === 0) return FIRST_CURSOR;
  return { after: c.history[c.history.length - 1], history: c.history.slice(0, -1) };
}
