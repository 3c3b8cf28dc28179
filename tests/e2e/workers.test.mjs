// The UI with a remote worker: the admin page lists the worker with its leased task, and
// the task list follows the task the worker runs, live.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CONFIG, Taskd, diagnose, newPage, poll, screenshot, taskdAndBrowser, waitForRowStatus, waitLive, waitVisible } from "./harness.mjs";

describe("remote workers in the UI", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () =>
      new Taskd({
        name: "workers",
        config: `${DEFAULT_CONFIG}
[types.render]
handler = "worker"
concurrency = 2
`,
      }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  it("lists the worker holding a task; the task list follows it to completed", async (t) => {
    const page = await newPage(browser);
    await diagnose(t.name, { taskd, page }, async () => {
      const task = await taskd.createTask("render", { frame: 1 });
      const { tasks } = await taskd.request("POST", "/api/v1/workers/lease", {
        worker: "render-box:1",
        types: ["render"],
        wait_ms: 5000,
      });
      assert.equal(tasks.length, 1);
      assert.equal(tasks[0].id, task.id);
      const token = tasks[0].lease.token;

      await page.goto(`${taskd.baseUrl}/admin`);
      await waitLive(page);
      const row = page.locator('[data-testid="worker-row"][data-worker="render-box:1"]');
      await waitVisible(row, "the worker's row");
      await poll(async () => (await row.getByTestId("worker-in-flight").textContent()) === "1", {
        message: "one task shown leased",
      });
      assert.equal(await row.getByTestId("worker-types").textContent(), "render");
      await screenshot(page, "admin-workers");

      await taskd.request("POST", `/api/v1/tasks/${task.id}/heartbeat`, { token, progress: 40 });
      await page.goto(`${taskd.baseUrl}/`);
      await waitLive(page);
      await waitForRowStatus(page, task.id, "in_progress");
      await taskd.request("POST", `/api/v1/tasks/${task.id}/complete`, { token, result: { ok: 1 } });
      await waitForRowStatus(page, task.id, "completed");
    });
  });
});
