import { describe, expect, it } from "vitest";
import { backoffCeiling, backoffDelay } from "./backoff";

describe("reconnect backoff", () => {
  it("doubles from 250 ms and caps at 5 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffCeiling(a))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
  });

  it("jitters within [ceiling/2, ceiling]", () => {
    expect(backoffDelay(0, () => 0)).toBe(125);
    expect(backoffDelay(0, () => 0.999999)).toBe(250);
    expect(backoffDelay(3, () => 0.5)).toBe(1500);
    expect(backoffDelay(10, () => 0)).toBe(2500);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(4);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it("honours custom options", () => {
    expect(backoffCeiling(2, { baseMs: 100, maxMs: 300 })).toBe(300);
  });
});
