import { describe, expect, it } from "vitest";
import type { ChangeEvent } from "../api/types";
import { makeTask } from "../test/fixtures";
import {
  applyEvent,
  applyEvents,
  EMPTY_PAGE,
  FIRST_CURSOR,
  matchesFilters,
  mergeTimeline,
  newerCursor,
  olderCursor,
  upsertTask,
  type PageContext,
  type PageState,
} from "./taskPage";

const all: PageContext = { filters: { status: "", type: "" }, firstPage: true, limit: 3 };
const T = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, "0")}.000Z`;

function page(ids: number[], nextAfter: number | null = null, lastSeq = 10): PageState {
  return { tasks: ids.map((id) => makeTask({ id })), nextAfter, lastSeq };
}

const taskEv = (seq: number, over: Parameters<typeof makeTask>[0]): ChangeEvent => ({
  event: "task",
  seq,
  task: makeTask(over),
});

describe("matchesFilters", () => {
  it("matches on status and type, empty meaning any", () => {
    const t = makeTask({ status: "failed", type: "mail" });
    expect(matchesFilters(t, { status: "", type: "" })).toBe(true);
    expect(matchesFilters(t, { status: "failed", type: "" })).toBe(true);
    expect(matchesFilters(t, { status: "pending", type: "" })).toBe(false);
    expect(matchesFilters(t, { status: "", type: "mail" })).toBe(true);
    expect(matchesFilters(t, { status: "failed", type: "echo" })).toBe(false);
  });
});

describe("applyEvent", () => {
  it("updates a shown task in place", () => {
    const s = applyEvent(page([5, 4, 3]), taskEv(11, { id: 4, status: "completed", updated_at: T(5) }), all);
    expect(s.tasks.map((t) => t.id)).toEqual([5, 4, 3]);
    expect(s.tasks[1].status).toBe("completed");
    expect(s.lastSeq).toBe(11);
  });

  it("updates in place on later pages too, but does not insert there", () => {
    const ctx = { ...all, firstPage: false };
    const s1 = applyEvent(page([5, 4]), taskEv(11, { id: 4, status: "failed", updated_at: T(5) }), ctx);
    expect(s1.tasks[1].status).toBe("failed");
    const s2 = applyEvent(s1, taskEv(12, { id: 9 }), ctx);
    expect(s2.tasks.map((t) => t.id)).toEqual([5, 4]);
  });

  it("puts a new matching task on top of the first page and trims to the limit", () => {
    const s = applyEvent(page([5, 4, 3]), taskEv(11, { id: 6 }), all);
    expect(s.tasks.map((t) => t.id)).toEqual([6, 5, 4]);
    expect(s.nextAfter).toBe(4);
  });

  it("does not show a new task that doesn't match the filters", () => {
    const ctx: PageContext = { ...all, filters: { status: "", type: "mail" } };
    const s = applyEvent(page([5]), taskEv(11, { id: 6, type: "echo" }), ctx);
    expect(s.tasks.map((t) => t.id)).toEqual([5]);
    expect(s.lastSeq).toBe(11);
  });

  it("inserts a task that starts matching within the page's id range in order", () => {
    const ctx: PageContext = { ...all, limit: 10, filters: { status: "failed", type: "" } };
    const s = applyEvent(page([9, 3], 3), taskEv(11, { id: 5, status: "failed" }), ctx);
    expect(s.tasks.map((t) => t.id)).toEqual([9, 5, 3]);
  });

  it("leaves a task older than the page alone when more pages exist", () => {
    const s = applyEvent(page([9, 8], 8), taskEv(11, { id: 2 }), { ...all, limit: 10 });
    expect(s.tasks.map((t) => t.id)).toEqual([9, 8]);
  });

  it("removes deleted tasks", () => {
    const s = applyEvent(page([5, 4, 3]), { event: "deleted", seq: 11, id: 4 }, all);
    expect(s.tasks.map((t) => t.id)).toEqual([5, 3]);
  });

  it("ignores events with seq <= lastSeq", () => {
    const start = page([5, 4], null, 20);
    expect(applyEvent(start, taskEv(20, { id: 4, status: "failed", updated_at: T(9) }), all)).toBe(start);
    expect(applyEvent(start, { event: "deleted", seq: 3, id: 5 }, all)).toBe(start);
    expect(applyEvent(start, taskEv(21, { id: 4, status: "failed", updated_at: T(9) }), all).tasks[1].status).toBe(
      "failed",
    );
  });

  it("never replaces a task with an older copy of it", () => {
    const start: PageState = { tasks: [makeTask({ id: 4, status: "completed", updated_at: T(9) })], nextAfter: null, lastSeq: 1 };
    const s = applyEvent(start, taskEv(2, { id: 4, status: "pending", updated_at: T(1) }), all);
    expect(s.tasks[0].status).toBe("completed");
    expect(s.lastSeq).toBe(2);
  });

  it("applies a batch in order", () => {
    const s = applyEvents(
      EMPTY_PAGE,
      [taskEv(1, { id: 1 }), taskEv(2, { id: 2 }), taskEv(3, { id: 1, status: "completed", updated_at: T(3) })],
      all,
    );
    expect(s.tasks.map((t) => [t.id, t.status])).toEqual([
      [2, "pending"],
      [1, "completed"],
    ]);
  });
});

describe("upsertTask", () => {
  it("adds a created task to the first page", () => {
    const s = upsertTask(page([2]), makeTask({ id: 3 }), all);
    expect(s.tasks.map((t) => t.id)).toEqual([3, 2]);
    expect(s.lastSeq).toBe(10);
  });

  it("keeps a streamed completion over a create's answer from the same millisecond", () => {
    const completed = makeTask({ id: 3, status: "completed", updated_at: T(5) });
    const answer = makeTask({ id: 3, status: "pending", updated_at: T(5) });
    const s = upsertTask(upsertTask(page([2]), completed, all, "event"), answer, all);
    expect(s.tasks.find((t) => t.id === 3)?.status).toBe("completed");
  });

  it("takes a strictly newer answer, and stream events unless older", () => {
    const shown = makeTask({ id: 3, status: "failed", updated_at: T(5) });
    const retried = makeTask({ id: 3, status: "pending", updated_at: T(6) });
    let s = upsertTask(upsertTask(page([2]), shown, all, "event"), retried, all);
    expect(s.tasks.find((t) => t.id === 3)?.status).toBe("pending");
    const started = makeTask({ id: 3, status: "in_progress", updated_at: T(6) });
    s = upsertTask(s, started, all, "event");
    expect(s.tasks.find((t) => t.id === 3)?.status).toBe("in_progress");
  });
});

describe("mergeTimeline", () => {
  it("merges by seq, dedups and sorts", () => {
    const e = (seq: number) => ({ seq, v: seq });
    expect(mergeTimeline([e(1), e(3)], [e(2), e(3), e(0)]).map((x) => x.seq)).toEqual([0, 1, 2, 3]);
  });
});

describe("cursors", () => {
  it("walks older and back to newer", () => {
    const c1 = olderCursor(FIRST_CURSOR, 100);
    const c2 = olderCursor(c1, 50);
    expect(c2).toEqual({ after: 50, history: [null, 100] });
    expect(newerCursor(c2)).toEqual(c1);
    expect(newerCursor(newerCursor(c2))).toEqual({ after: null, history: [] });
    expect(newerCursor(FIRST_CURSOR)).toEqual(FIRST_CURSOR);
  });
});
