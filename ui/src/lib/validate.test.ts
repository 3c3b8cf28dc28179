import { describe, expect, it } from "vitest";
import { makeTask } from "../test/fixtures";
import { parseOptionalNumber, parsePayload, parseServerMessage } from "./validate";

describe("parsePayload", () => {
  it("accepts any JSON value", () => {
    expect(parsePayload('{"a": [1, 2]}')).toEqual({ ok: true, value: { a: [1, 2] } });
    expect(parsePayload(" 42 ")).toEqual({ ok: true, value: 42 });
    expect(parsePayload('"x"')).toEqual({ ok: true, value: "x" });
    expect(parsePayload("null")).toEqual({ ok: true, value: null });
  });

  it("rejects empty and invalid text with a message", () => {
    const empty = parsePayload("   ");
    expect(empty.ok).toBe(false);
    const bad = parsePayload("{hello: 1}");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/^Invalid JSON: /);
    expect(parsePayload('{"a":1,}').ok).toBe(false);
  });
});

describe("parseOptionalNumber", () => {
  it("treats empty as absent and leaves range checks to the server", () => {
    expect(parseOptionalNumber("priority", "")).toEqual({ ok: true, value: undefined });
    expect(parseOptionalNumber("priority", "-3")).toEqual({ ok: true, value: -3 });
    expect(parseOptionalNumber("priority", "1e12")).toEqual({ ok: true, value: 1e12 });
    expect(parseOptionalNumber("priority", "abc")).toEqual({ ok: false, error: "priority: must be a number" });
  });
});

describe("parseServerMessage", () => {
  it("parses hello, reset, task and deleted", () => {
    expect(parseServerMessage('{"event":"hello","seq":7}')).toEqual({ event: "hello", seq: 7 });
    expect(parseServerMessage('{"event":"reset","seq":9}')).toEqual({ event: "reset", seq: 9 });
    const task = makeTask({ id: 3 });
    expect(parseServerMessage(JSON.stringify({ seq: 8, event: "task", task }))).toEqual({ event: "task", seq: 8, task });
    expect(parseServerMessage('{"seq":10,"event":"deleted","id":3}')).toEqual({ event: "deleted", seq: 10, id: 3 });
  });

  it("rejects malformed frames", () => {
    for (const raw of [
      "not json",
      "[]",
      '{"event":"hello"}',
      '{"event":"hello","seq":-1}',
      '{"event":"task","seq":1}',
      '{"event":"task","seq":1,"task":{"id":"1"}}',
      '{"event":"deleted","seq":1}',
      '{"event":"other","seq":1}',
    ]) {
      expect(parseServerMessage(raw)).toBeNull();
    }
    expect(parseServerMessage(new ArrayBuffer(2))).toBeNull();
  });
});
