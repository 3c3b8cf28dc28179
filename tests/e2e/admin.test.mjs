// Admin page: pausing a type holds its tasks (other types keep running), resuming releases them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Taskd,
  taskdAndBrowser,
  assertNoPageProblems,
  diagnose,
  newPage,
  poll,
  screenshot,
  sel,
  waitGone,
  waitLive,
  waitVisible,
} from "./harness.mjs";

describe("admin page", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () => new Taskd({ name: "admin" }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  it("pauses a type (its tasks stay pending while others run) and resumes it", async (t) => {
    const page = await newPage(browser);
    await diagnose(t.name, { taskd, page }, async () => {
      await page.goto(`${taskd.baseUrl}/admin`);
      await waitLive(page);
      const slow = page.locator(sel.typeRow("slow"));
      await waitVisible(slow, "type row for slow");
      for (const name of ["echo", "flaky", "slow"]) await waitVisible(page.locator(sel.typeRow(name)), `type row ${name}`);
      const paused = slow.getByTestId("type-paused");
      assert.equal(await paused.textContent(), "active");
      assert.equal(await slow.getByTestId("type-running").textContent(), "0/2");
      await waitVisible(page.getByTestId("info-version"), "engine info");

      // Pause asks first; nothing happens until confirmed.
      await slow.getByTestId("pause-type").click();
      const confirm = await waitVisible(slow.getByTestId("confirm-action"), "confirm button in the slow row");
      assert.equal((await taskd.type("slow")).paused, false, "pause must wait for the confirmation");
      await confirm.click();
      await waitVisible(slow.locator('[data-testid="type-paused"]', { hasText: /^paused$/ }), "slow shown paused");
      await waitVisible(page.getByTestId("action-result").filter({ hasText: "slow paused" }), "action result 'slow paused'");
      await waitGone(slow.getByTestId("confirm-action"), "the confirmation");
      await waitVisible(slow.getByTestId("resume-type"), "resume button");
      assert.equal((await taskd.type("slow")).paused, true);
      assert.equal(await page.locator(sel.typeRow("echo")).getByTestId("type-paused").textContent(), "active");

      // Tasks of the paused type are accepted but not run; a later task of another type runs.
      const held = [await taskd.createTask("slow", { ms: 50 }), await taskd.createTask("slow", { ms: 50 })];
      const echo = await taskd.createTask("echo", { after: "held" });
      assert.ok(echo.id > held[1].id);
      await taskd.waitForTask(echo.id, (x) => x.status === "completed", { message: "the echo task to complete" });
      for (const h of held) {
        const now = await taskd.getTask(h.id);
        assert.equal(now.status, "pending", `slow task ${h.id} must stay pending while paused`);
        assert.equal(now.attempts, 0);
      }
      await waitVisible(slow.locator('[data-testid="count-pending"]', { hasText: /^2$/ }), "slow pending count 2", 8_000);
      await waitVisible(
        page.locator(sel.typeRow("echo")).locator('[data-testid="count-completed"]', { hasText: /^1$/ }),
        "echo completed count 1",
        8_000,
      );
      assert.equal(await slow.getByTestId("count-completed").textContent(), "0");
      // taskd refreshes the oldest pending task at most once a second, the page polls every 2 s.
      await poll(async () => (await slow.getByTestId("type-oldest").textContent()) !== "—", {
        timeout: 8_000,
        message: "the oldest pending age to be shown",
      });
      await screenshot(page, "admin-paused");

      // Resume (with confirmation): the held tasks run.
      await slow.getByTestId("resume-type").click();
      await slow.getByTestId("confirm-action").click();
      await waitVisible(slow.locator('[data-testid="type-paused"]', { hasText: /^active$/ }), "slow shown active again");
      await waitVisible(page.getByTestId("action-result").filter({ hasText: "slow resumed" }), "action result 'slow resumed'");
      await waitVisible(slow.getByTestId("pause-type"), "pause button again");
      for (const h of held) await taskd.waitForTask(h.id, (x) => x.status === "completed", { message: `slow task ${h.id} to complete` });
      await waitVisible(slow.locator('[data-testid="count-completed"]', { hasText: /^2$/ }), "slow completed count 2", 8_000);
      await waitVisible(slow.locator('[data-testid="count-pending"]', { hasText: /^0$/ }), "slow pending count 0", 8_000);
      assert.equal((await taskd.type("slow")).paused, false);
      await screenshot(page, "admin-page");
      assertNoPageProblems(page);
    });
    await page.context().close();
  });
});
