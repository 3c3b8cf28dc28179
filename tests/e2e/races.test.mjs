// Regression test for a UI race (fixed in ui/src/lib/taskPage.ts, shouldReplace): after a
// create in the form, the POST answer (status pending) is put into the table. When the event
// stream has already delivered `completed` and the task completed in the same millisecond it
// was created (common with a fast disk: on tmpfs ~1 echo task in 5), a tie on updated_at
// used to let the stale `pending` answer replace `completed` for good.
//
// To make it reproducible, taskd's data dir is on /dev/shm, and the browser's POST answer is
// held back until the table shows the task completed (the order the race needs).
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { Taskd, taskdAndBrowser, diagnose, newPage, poll, sel, waitLive, waitVisible } from "./harness.mjs";

const WANT_TIES = 2; // same-millisecond create→complete tasks to observe
const MAX_TASKS = 60;

describe("races", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () => {
      const shm = "/dev/shm";
      const tmpRoot = fs.existsSync(shm) && fs.statSync(shm).isDirectory() ? shm : undefined;
      return new Taskd({ name: "races", tmpRoot });
    },
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  it("a task created in the form shows its final status even when it completes within the same ms", async (t) => {
    const page = await newPage(browser);
    await diagnose(t.name, { taskd, page }, async () => {
      await page.goto(`${taskd.baseUrl}/`);
      await waitLive(page);
      await waitVisible(page.locator('[data-testid="create-type"] option[value="echo"]').locator(".."), "type select");
      await page.getByTestId("create-type").selectOption("echo");

      // Hold each create's answer until the stream has shown the task completed.
      await page.route("**/api/v1/tasks", async (route) => {
        if (route.request().method() !== "POST") return route.continue();
        const response = await route.fetch();
        const task = await response.json();
        await page
          .waitForFunction((s) => document.querySelector(s)?.textContent === "completed", sel.status(task.id), {
            timeout: 3_000,
          })
          .catch(() => {});
        await route.fulfill({ response });
      });

      const created = [];
      let ties = 0;
      const submit = page.getByTestId("create-task");
      while (ties < WANT_TIES && created.length < MAX_TASKS) {
        const [resp] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/tasks"),
          submit.click(),
        ]);
        const task = await resp.json();
        created.push(task.id);
        const done = await taskd.waitForTask(task.id, (x) => x.status === "completed");
        if (done.updated_at === done.created_at) ties++;
        await waitVisible(page.getByTestId("create-result").filter({ hasText: `#${task.id} ` }), `create result for #${task.id}`);
      }
      t.diagnostic(`${created.length} tasks created, ${ties} completed in the millisecond they were created`);
      if (ties === 0) {
        t.skip("this machine never completed a task in the millisecond it was created");
        return;
      }

      // Every row must end up showing what the server says.
      const rowStatus = (id) => page.locator(sel.status(id)).textContent({ timeout: 1000 });
      const wrong = [];
      try {
        await poll(
          async () => {
            wrong.length = 0;
            for (const id of created) {
              const ui = await rowStatus(id);
              if (ui !== "completed") wrong.push(`#${id}: table shows ${ui}, server says completed`);
            }
            return wrong.length === 0;
          },
          { timeout: 3_000, interval: 200, message: "every row to show completed" },
        );
      } catch {
        /* reported below */
      }
      assert.deepEqual(wrong, [], `rows stuck on a stale status:\n${wrong.join("\n")}`);
    });
    await page.context().close();
  });
});
