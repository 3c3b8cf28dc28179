// Task details for debugging: an exec task that always exits 3 shows its two attempts
// ("exit 3") and its captured stderr, markup included, as text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_CONFIG,
  Taskd,
  taskdAndBrowser,
  assertNoPageProblems,
  diagnose,
  newPage,
  screenshot,
  sel,
  waitForRowStatus,
  waitLive,
  waitVisible,
} from "./harness.mjs";

const SCRIPT = `#!/bin/sh
echo "starting up" >&2
echo "giving up: <b>bold</b>" >&2
exit 3
`;

describe("task details: attempts and logs", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () => new Taskd({
      name: "debug",
      files: { "exit3.sh": { content: SCRIPT, mode: 0o755 } },
      config: (dir) => `${DEFAULT_CONFIG}[types.exit3]
handler = "exec"
command = [${JSON.stringify(`${dir}/exit3.sh`)}]
max_attempts = 2
backoff = { type = "fixed", delay_ms = 50 }
`,
    }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  it("shows each attempt's exit status and the task's log lines as text", async (t) => {
    const page = await newPage(browser);
    await diagnose(t.name, { taskd, page }, async () => {
      await page.goto(`${taskd.baseUrl}/`);
      await waitLive(page);

      // Delayed, so its details are open (and empty) before it runs; "Run now" starts it.
      const task = await taskd.createTask("exit3", { why: "debug view" }, { delay_ms: 600_000 });
      assert.equal(task.max_attempts, 2);
      await waitVisible(page.locator(sel.row(task.id)), `row for task ${task.id}`);
      await page.locator(sel.row(task.id)).click();
      const details = page.locator(sel.details(task.id));
      await waitVisible(details.locator('[data-testid="details-status"]', { hasText: /^pending$/ }), "details status pending");
      await waitVisible(details.getByTestId("attempts-empty"), "'No attempts yet.' before the first run");
      await waitVisible(details.getByTestId("task-logs").filter({ hasText: /^no log lines$/ }), "'no log lines' before the first run");

      await details.getByTestId("promote-task").click();
      await waitVisible(details.locator('[data-testid="details-status"]', { hasText: /^failed$/ }), "details status failed");
      await waitForRowStatus(page, task.id, "failed");
      const stored = await taskd.waitForTask(task.id, (x) => x.status === "failed");
      assert.equal(stored.attempts, 2);

      // Attempts and logs follow the change stream (throttled), so wait for their final state.
      const rows = details.getByTestId("attempt-row");
      await page.waitForFunction(
        (s) => document.querySelectorAll(`${s} [data-testid="attempt-row"]`).length === 2,
        sel.details(task.id),
      );
      const lines = details.getByTestId("log-line");
      await page.waitForFunction(
        (s) => document.querySelectorAll(`${s} [data-testid="task-logs"] [data-testid="log-line"]`).length === 4,
        sel.details(task.id),
      );
      await waitVisible(
        details.locator('[data-testid="attempt-outcome"]', { hasText: /^failed$/ }).nth(1),
        "both attempts' outcome failed",
      );

      assert.deepEqual(await details.getByTestId("attempt-detail").allTextContents(), ["exit 3", "exit 3"]);
      assert.deepEqual(await details.getByTestId("attempt-outcome").allTextContents(), ["failed", "failed"]);
      assert.deepEqual(
        await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-attempt"))),
        ["1", "2"],
      );

      const shown = await lines.allTextContents();
      assert.equal(shown.length, 4, `log lines: ${JSON.stringify(shown)}`);
      assert.deepEqual(shown, await taskd.taskLogs(task.id), "the UI shows the server's log lines, verbatim");
      assert.equal(shown.filter((l) => l.includes("<b>bold</b>")).length, 2, `log lines: ${JSON.stringify(shown)}`);
      assert.equal(shown.filter((l) => l.includes("starting up")).length, 2, `log lines: ${JSON.stringify(shown)}`);
      const block = details.getByTestId("task-logs");
      assert.equal(await block.locator("b").count(), 0, "no <b> element inside the log block");
      await waitVisible(block.getByText("<b>bold</b>", { exact: false }), "the markup as visible text in the log block");
      assert.equal(await details.getByTestId("attempts-error").count(), 0);
      assert.equal(await details.getByTestId("logs-error").count(), 0);

      await screenshot(page, "task-details-debug");
      assertNoPageProblems(page);
    });
    await page.context().close();
  });
});
