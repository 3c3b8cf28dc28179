// taskd dies and comes back while the page is open: the page reconnects by itself and shows
// what happened while it was away, without a reload.
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
  waitForRowStatus,
  waitLive,
  waitVisible,
} from "./harness.mjs";

// Failed reconnect attempts to wait for before restarting taskd. The UI's backoff
// (ui/src/lib/backoff.ts: 250 ms doubling, equal jitter) then waits 2–4 s before its next
// attempt, which leaves taskd time to start and take new tasks while the page is still away.
const FAILED_ATTEMPTS_BEFORE_RESTART = 4;

describe("restart while the page is open", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () => new Taskd({ name: "restart" }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  it("goes reconnecting on kill -9, comes back live and shows tasks created meanwhile", async (t) => {
    const page = await newPage(browser);
    await diagnose(t.name, { taskd, page }, async () => {
      // Every WebSocket the page opens, with when it closed and whether a frame ever arrived.
      const sockets = [];
      page.on("websocket", (ws) => {
        const s = { opened: Date.now(), closed: null, frames: 0 };
        sockets.push(s);
        ws.on("framereceived", () => s.frames++);
        ws.on("close", () => (s.closed = Date.now()));
        ws.on("socketerror", () => (s.closed ??= Date.now()));
      });

      await page.goto(`${taskd.baseUrl}/`);
      await waitLive(page);
      await page.evaluate(() => (window.__e2eNoReload = "still-here"));
      const firstTask = await taskd.createTask("echo", { before: "restart" });
      await waitForRowStatus(page, firstTask.id, "completed");

      // kill -9: the indicator must say so.
      const killedAt = Date.now();
      await taskd.kill();
      await waitVisible(page.locator(sel.connection("reconnecting")), "connection indicator 'reconnecting'", 5_000);
      assert.equal(await page.getByTestId("connection").textContent(), "reconnecting");
      await screenshot(page, "reconnecting");

      // Let the page fail a few reconnects so its next attempt is seconds away.
      await poll(() => sockets.filter((s) => s.opened > killedAt && s.closed).length >= FAILED_ATTEMPTS_BEFORE_RESTART, {
        timeout: 10_000,
        message: `${FAILED_ATTEMPTS_BEFORE_RESTART} failed reconnect attempts`,
      });
      const socketsBefore = sockets.length;

      // Start taskd again (same port, same data) and create tasks right away, before the page is back.
      const restartAt = Date.now();
      await taskd.start();
      const upAt = Date.now();
      const created = [];
      created.push(await taskd.createTask("echo", { during: "reconnect", n: 1 }));
      created.push(await taskd.createTask("slow", { ms: 300 }));
      created.push(await taskd.createTask("echo", { during: "reconnect", n: 2 }));
      created.push(await taskd.createTask("flaky", { message: "x", until_attempt: 2 })); // fails once, then completes

      // The page must not have reconnected yet (or the test would not test the catch-up).
      assert.equal(
        await page.getByTestId("connection").getAttribute("data-state"),
        "reconnecting",
        "the page reconnected before the tasks were created; raise FAILED_ATTEMPTS_BEFORE_RESTART",
      );
      assert.equal(
        sockets.slice(socketsBefore).filter((s) => s.frames > 0).length,
        0,
        "no WebSocket may have been live while the tasks were created",
      );
      for (const task of created) assert.equal(await page.locator(sel.row(task.id)).count(), 0);

      const createdAt = Date.now();

      // It comes back by itself, and everything shows up and completes without a reload.
      await waitLive(page, 10_000);
      t.diagnostic(
        `down ${restartAt - killedAt} ms (${socketsBefore} sockets so far); taskd up in ${upAt - restartAt} ms; ` +
          `tasks created ${createdAt - upAt} ms later; page live again ${Date.now() - createdAt} ms after that`,
      );
      for (const task of created) await waitForRowStatus(page, task.id, "completed", 10_000);
      await waitForRowStatus(page, firstTask.id, "completed");
      assert.equal(await page.getByTestId("connection").textContent(), "live");
      assert.equal(await page.evaluate(() => window.__e2eNoReload), "still-here", "the page was reloaded");
      const rowIds = await page.$$eval('[data-testid="task-row"]', (rows) => rows.map((r) => Number(r.dataset.taskId)));
      assert.deepEqual(rowIds, [...created.map((x) => x.id).reverse(), firstTask.id], "newest first, each once");

      // The flaky one retried once: 2/3 attempts in the table, as the server says.
      const flaky = created[3];
      assert.equal(await page.locator(`${sel.row(flaky.id)} td:nth-child(4)`).textContent(), "2/3");
      assert.equal((await taskd.getTask(flaky.id)).attempts, 2);
      await screenshot(page, "after-restart");
      assertNoPageProblems(page);
    });
    await page.context().close();
  });
});
