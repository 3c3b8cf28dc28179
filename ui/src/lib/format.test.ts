import { describe, expect, it } from "vitest";
import {
  formatAge,
  formatBytes,
  formatDuration,
  formatTaskDuration,
  formatThroughput,
  isFutureTime,
  prettyJson,
} from "./format";

const at = (iso: string) => Date.parse(iso);

describe("formatDuration", () => {
  it("picks a compact unit", () => {
    expect(formatDuration(0)).toBe("0ms");
    expect(formatDuration(850)).toBe("850ms");
    expect(formatDuration(1234)).toBe("1.2s");
    expect(formatDuration(12_900)).toBe("12s");
    expect(formatDuration(245_000)).toBe("4m 05s");
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe("2h 03m");
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe("3d 04h");
    expect(formatDuration(-5)).toBe("0ms");
    expect(formatDuration(NaN)).toBe("0ms");
  });
});

describe("age and task duration", () => {
  const now = at("2026-01-01T00:01:00.000Z");
  it("formats age from created_at", () => {
    expect(formatAge("2026-01-01T00:00:30.000Z", now)).toBe("30s");
    expect(formatAge(null, now)).toBe("—");
    expect(formatAge("garbage", now)).toBe("—");
  });

  it("uses finished − started, or running time, or a dash", () => {
    expect(
      formatTaskDuration({ started_at: "2026-01-01T00:00:00.000Z", finished_at: "2026-01-01T00:00:00.250Z" }, now),
    ).toBe("250ms");
    expect(formatTaskDuration({ started_at: "2026-01-01T00:00:50.000Z", finished_at: null }, now)).toBe("10s");
    expect(formatTaskDuration({ started_at: null, finished_at: null }, now)).toBe("—");
  });

  it("knows future times", () => {
    expect(isFutureTime("2026-01-01T00:02:00.000Z", now)).toBe(true);
    expect(isFutureTime("2026-01-01T00:00:00.000Z", now)).toBe(false);
    expect(isFutureTime(null, now)).toBe(false);
  });
});

describe("formatBytes, throughput, json", () => {
  it("is human readable", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(123_456_789)).toBe("118 MiB");
    expect(formatBytes(-1)).toBe("—");
    expect(formatThroughput(1)).toBe("1.00/s");
    expect(formatThroughput(123.45)).toBe("123.5/s");
    expect(prettyJson({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(prettyJson(null)).toBe("null");
  });
});
