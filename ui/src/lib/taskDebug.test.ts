import { describe, expect, it, vi } from "vitest";
import {
  formatAttemptDetail,
  formatAttemptDuration,
  parseAttempts,
  parseLogLines,
  trailingThrottle,
} from "./taskDebug";

describe("formatAttemptDetail", () => {
  it("renders each known shape as short text", () => {
    expect(formatAttemptDetail({ exit_code: 3 })).toBe("exit 3");
    expect(formatAttemptDetail({ exit_code: 0 })).toBe("exit 0");
    expect(formatAttemptDetail({ signal: 9, signal_name: "SIGKILL" })).toBe("signal 9 (SIGKILL)");
    expect(formatAttemptDetail({ signal: 15 })).toBe("signal 15");
    expect(formatAttemptDetail({ timed_out: true, signal: 9, signal_name: "SIGKILL" })).toBe("timed out");
    expect(formatAttemptDetail({ http_status: 503 })).toBe("HTTP 503");
  });

  it("handles missing, empty and unknown details", () => {
    expect(formatAttemptDetail(null)).toBe("");
    expect(formatAttemptDetail(undefined)).toBe("");
    expect(formatAttemptDetail({})).toBe("");
    expect(formatAttemptDetail({ timed_out: false, exit_code: 1 })).toBe("exit 1");
    expect(formatAttemptDetail({ exit_code: "3" as unknown as number })).toBe('{"exit_code":"3"}');
    expect(formatAttemptDetail({ something: "<b>x</b>" })).toBe('{"something":"<b>x</b>"}');
  });
});

describe("formatAttemptDuration", () => {
  const now = Date.parse("2026-01-01T00:00:10.000Z");
  it("uses duration_ms, counts a running attempt up, else —", () => {
    expect(formatAttemptDuration({ duration_ms: 13, started_at: null, outcome: "failed" }, now)).toBe("13ms");
    expect(formatAttemptDuration({ duration_ms: 1234, started_at: null, outcome: "completed" }, now)).toBe("1.2s");
    expect(
      formatAttemptDuration({ duration_ms: null, started_at: "2026-01-01T00:00:08.500Z", outcome: "running" }, now),
    ).toBe("1.5s");
    expect(formatAttemptDuration({ duration_ms: null, started_at: "2026-01-01T00:00:08.500Z", outcome: "lost" }, now)).toBe(
      "—",
    );
    expect(formatAttemptDuration({ duration_ms: null, started_at: "garbage", outcome: "running" }, now)).toBe("—");
  });
});

describe("parseAttempts", () => {
  it("keeps well-formed attempts", () => {
    const raw = {
      task_id: 4,
      attempts: [
        {
          attempt: 1,
          started_at: "2026-01-01T00:00:00.000Z",
          ended_at: "2026-01-01T00:00:00.013Z",
          duration_ms: 13,
          outcome: "failed",
          error: "exit code 3",
          detail: { exit_code: 3 },
        },
        { attempt: 2, started_at: "2026-01-01T00:00:01.000Z", ended_at: null, duration_ms: null, outcome: "running", error: null, detail: null },
      ],
    };
    expect(parseAttempts(raw)).toEqual(raw.attempts);
  });

  it("drops or nulls malformed parts instead of throwing", () => {
    expect(parseAttempts(null)).toEqual([]);
    expect(parseAttempts({ attempts: "nope" })).toEqual([]);
    expect(parseAttempts([1, 2])).toEqual([]);
    expect(
      parseAttempts({ attempts: [null, { attempt: "1" }, { attempt: 3, duration_ms: "5", detail: [1], error: 7 }] }),
    ).toEqual([
      { attempt: 3, started_at: null, ended_at: null, duration_ms: null, outcome: "unknown", error: null, detail: null },
    ]);
  });
});

describe("parseLogLines", () => {
  it("returns the string lines", () => {
    expect(parseLogLines({ task_id: 1, lines: ["[attempt 1] a", "<b>html</b>"] })).toEqual(["[attempt 1] a", "<b>html</b>"]);
    expect(parseLogLines({ task_id: 1, lines: [] })).toEqual([]);
    expect(parseLogLines({ lines: ["ok", 5, null] })).toEqual(["ok"]);
    expect(parseLogLines(undefined)).toEqual([]);
    expect(parseLogLines({ lines: "x" })).toEqual([]);
  });
});

describe("trailingThrottle", () => {
  it("coalesces a burst into one call after the interval", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const t = trailingThrottle(fn, 300);
    t.trigger();
    t.trigger();
    vi.advanceTimersByTime(200);
    t.trigger();
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("runs at most once per interval under a steady stream, and after the last trigger", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const t = trailingThrottle(fn, 300);
    for (let ms = 0; ms < 1000; ms += 50) {
      t.trigger();
      vi.advanceTimersByTime(50);
    }
    // triggers from 0 to 950 ms: runs at 300, 600, 900 and one for the triggers after 900
    vi.advanceTimersByTime(300);
    expect(fn).toHaveBeenCalledTimes(4);
  });

  it("cancel drops the pending run", () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const t = trailingThrottle(fn, 300);
    t.trigger();
    t.cancel();
    vi.advanceTimersByTime(1000);
    expect(fn).not.toHaveBeenCalled();
    t.trigger();
    vi.advanceTimersByTime(300);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
