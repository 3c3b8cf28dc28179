import { describe, expect, it, vi } from "vitest";
import { makeType } from "../test/fixtures";
import { cleanAction, minutesToMs, plural, typeActions } from "./adminActions";

function fakeApi() {
  return {
    pauseType: vi.fn(async () => makeType({ paused: true })),
    resumeType: vi.fn(async () => makeType()),
    retryFailed: vi.fn(async () => ({ count: 4 })),
    cancelPending: vi.fn(async () => ({ count: 1 })),
    clean: vi.fn(async () => ({ count: 0 })),
  };
}

describe("admin actions", () => {
  it("offers pause for an active type and resume for a paused one", async () => {
    const api = fakeApi();
    const active = typeActions(makeType({ name: "mail" }), api);
    expect(active.map((a) => a.testId)).toEqual(["pause-type", "retry-failed", "cancel-pending"]);
    expect(await active[0].run()).toEqual({ message: "mail paused" });
    expect(api.pauseType).toHaveBeenCalledWith("mail");
    const paused = typeActions(makeType({ name: "mail", paused: true }), api);
    expect(paused[0].testId).toBe("resume-type");
    await paused[0].run();
    expect(api.resumeType).toHaveBeenCalledWith("mail");
  });

  it("reports counts", async () => {
    const api = fakeApi();
    const [, retry, cancel] = typeActions(makeType({ name: "mail" }), api);
    expect(await retry.run()).toEqual({ count: 4, message: "Retried 4 failed tasks of mail" });
    expect(await cancel.run()).toEqual({ count: 1, message: "Cancelled 1 pending task of mail" });
  });

  it("cleans by age in ms and optional type", async () => {
    const api = fakeApi();
    expect(minutesToMs("90")).toBe(5_400_000);
    expect(minutesToMs("0.5")).toBe(30_000);
    expect(minutesToMs("")).toBeNull();
    expect(minutesToMs("-1")).toBeNull();
    expect(await cleanAction(60_000, "", api).run()).toEqual({ count: 0, message: "Deleted 0 finished tasks" });
    expect(api.clean).toHaveBeenLastCalledWith(60_000, undefined);
    await cleanAction(60_000, "mail", api).run();
    expect(api.clean).toHaveBeenLastCalledWith(60_000, "mail");
    expect(plural(1, "task")).toBe("1 task");
  });
});
