// Tasks page: create → completed live, details and result, retries and Retry, XSS, validation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Taskd,
  taskdAndBrowser,
  assertNoPageProblems,
  diagnose,
  newPage,
  screenshot,
  sel,
  waitForRowStatus,
  waitGone,
  waitLive,
  waitVisible,
} from "./harness.mjs";

const XSS = "<img src=x onerror=alert(1)>";

describe("tasks page", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () => new Taskd({ name: "tasks" }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  /** Opens `/` (plus `query`), waits for the stream to be live and the type list to load. */
  async function openTasksPage(query = "") {
    const page = await newPage(browser);
    await page.goto(`${taskd.baseUrl}/${query}`);
    await waitLive(page);
    await waitVisible(page.locator('[data-testid="create-type"] option[value="echo"]').locator(".."), "type select with echo");
    // A marker that only survives if the page is never reloaded.
    await page.evaluate(() => (window.__e2eNoReload = "still-here"));
    return page;
  }

  async function assertNotReloaded(page) {
    assert.equal(await page.evaluate(() => window.__e2eNoReload), "still-here", "the page was reloaded");
  }

  /** Fills the create form and submits; returns the task from the POST answer. */
  async function createInUi(page, type, payloadText) {
    await page.getByTestId("create-type").selectOption(type);
    await page.getByTestId("create-payload").fill(payloadText);
    const submit = page.getByTestId("create-task");
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/tasks"),
      submit.click(),
    ]);
    assert.equal(resp.status(), 201, `create answered ${resp.status()}: ${await resp.text()}`);
    const task = await resp.json();
    assert.equal(task.type, type);
    return task;
  }

  it("creates a task in the UI, sees it complete live and shows its result", async (t) => {
    const page = await openTasksPage();
    await diagnose(t.name, { taskd, page }, async () => {
      // Some other tasks so the table has content; created over REST, they must show up live.
      const others = [
        await taskd.createTask("echo", { n: 1 }),
        await taskd.createTask("slow", { ms: 50 }),
        await taskd.createTask("flaky", { message: "always fails" }),
      ];

      const marker = `hello-e2e-${Date.now()}`;
      const task = await createInUi(page, "echo", JSON.stringify({ greeting: marker }));
      await waitVisible(page.locator(sel.row(task.id)), `row for task ${task.id}`);
      await waitForRowStatus(page, task.id, "completed");
      await waitForRowStatus(page, others[0].id, "completed");
      await waitForRowStatus(page, others[1].id, "completed");
      await waitForRowStatus(page, others[2].id, "failed");
      await assertNotReloaded(page);
      assert.match(
        await page.getByTestId("create-result").textContent(),
        new RegExp(`Created task #${task.id}\\b`),
      );

      // Close the details the form opened, screenshot the table, then open them from the row.
      const details = page.locator(sel.details(task.id));
      if (await details.count()) {
        await page.getByTestId("close-details").click();
        await waitGone(page.getByTestId("task-details"), "details panel");
      }
      assert.equal(await page.getByTestId("task-row").count(), 4);
      await screenshot(page, "tasks-page");

      await page.locator(sel.row(task.id)).click();
      await waitVisible(details, `details of task ${task.id}`);
      await waitVisible(details.locator('[data-testid="details-status"]', { hasText: /^completed$/ }), "details status completed");
      const result = await details.getByTestId("task-result").textContent();
      assert.ok(result.includes(marker), `task-result should contain ${marker}, got: ${result}`);
      assert.deepEqual(JSON.parse(result), { greeting: marker });
      assert.ok((await details.getByTestId("task-payload").textContent()).includes(marker));
      assert.equal(await details.getByTestId("details-type").textContent(), "echo");
      assert.equal(new URL(page.url()).searchParams.get("task"), String(task.id), "?task= should name the open task");

      // The server agrees.
      const stored = await taskd.getTask(task.id);
      assert.equal(stored.status, "completed");
      assert.deepEqual(stored.result, { greeting: marker });
      await assertNotReloaded(page);
      await screenshot(page, "task-details");
      assertNoPageProblems(page);
    });
    await page.context().close();
  });

  it("shows a failing task's retries, ends failed, and Retry runs it again", async (t) => {
    const page = await openTasksPage();
    await diagnose(t.name, { taskd, page }, async () => {
      // Record every value the details panel shows for attempts and status, as they change.
      await page.evaluate(() => {
        window.__seen = { attempts: [], status: [] };
        const record = () => {
          for (const [key, id] of [
            ["attempts", "details-attempts"],
            ["status", "details-status"],
          ]) {
            const el = document.querySelector(`[data-testid="${id}"]`);
            const list = window.__seen[key];
            if (el && list[list.length - 1] !== el.textContent) list.push(el.textContent);
          }
        };
        new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
      const seen = () => page.evaluate(() => window.__seen);
      const resetSeen = () => page.evaluate(() => (window.__seen = { attempts: [], status: [] }));

      const task = await createInUi(page, "flaky", '{"message":"nope"}');
      assert.equal(task.max_attempts, 3);
      const details = page.locator(sel.details(task.id));
      await waitVisible(details, `details of task ${task.id} (opened by create)`);
      await waitVisible(details.locator('[data-testid="details-status"]', { hasText: /^failed$/ }), "details status failed");
      await waitForRowStatus(page, task.id, "failed");
      assert.equal(await details.getByTestId("details-attempts").textContent(), "3/3");
      assert.equal(await details.getByTestId("task-error").textContent(), "nope");
      assert.equal(await page.locator(`${sel.row(task.id)} td.err`).textContent(), "nope");

      // Attempts climbed 1 → 2 → 3 in front of us.
      const first = await seen();
      const climbed = ["1/3", "2/3", "3/3"].map((a) => first.attempts.indexOf(a));
      assert.ok(
        climbed.every((i) => i >= 0) && climbed[0] < climbed[1] && climbed[1] < climbed[2],
        `attempts should climb 1/3 → 2/3 → 3/3, saw ${JSON.stringify(first.attempts)}`,
      );
      assert.ok(first.status.includes("pending"), `the backoff should show pending, saw ${JSON.stringify(first.status)}`);

      // Timeline: three attempts (in_progress 1/3, 2/3, 3/3), ending failed.
      const timeline = async () =>
        page.$$eval('[data-testid="timeline-entry"]', (rows) =>
          rows.map((r) => ({
            status: r.querySelector('[data-testid="timeline-status"]').textContent,
            attempts: r.children[2].textContent,
          })),
        );
      let entries = await timeline();
      assert.deepEqual(
        entries.filter((e) => e.status === "in_progress").map((e) => e.attempts),
        ["1/3", "2/3", "3/3"],
        `timeline: ${JSON.stringify(entries)}`,
      );
      assert.deepEqual(entries.at(-1), { status: "failed", attempts: "3/3" });
      const before = entries.length;
      await screenshot(page, "task-details-failed");

      // Retry: back to pending with attempts reset, runs again, fails again.
      await resetSeen();
      await page.getByTestId("retry-task").click();
      await page.waitForFunction(
        ([s, n]) => document.querySelectorAll(s).length >= n,
        ['[data-testid="timeline-entry"]', before * 2],
        { timeout: 10_000 },
      );
      await waitVisible(details.locator('[data-testid="details-status"]', { hasText: /^failed$/ }), "details status failed again");
      await waitForRowStatus(page, task.id, "failed");
      const second = await seen();
      assert.ok(
        second.status.includes("pending") || second.status.includes("in_progress"),
        `after Retry the task should be pending/in_progress before failing again, saw ${JSON.stringify(second.status)}`,
      );
      assert.equal(second.status.at(-1), "failed");
      entries = await timeline();
      const again = entries.slice(before);
      assert.deepEqual(again[0], { status: "pending", attempts: "0/3" }, `the retry entry resets attempts: ${JSON.stringify(again)}`);
      assert.deepEqual(
        again.filter((e) => e.status === "in_progress").map((e) => e.attempts),
        ["1/3", "2/3", "3/3"],
        `timeline after retry: ${JSON.stringify(again)}`,
      );
      assert.deepEqual(again.at(-1), { status: "failed", attempts: "3/3" });

      const stored = await taskd.getTask(task.id);
      assert.equal(stored.status, "failed");
      assert.equal(stored.attempts, 3);
      assert.equal((await taskd.taskEvents(task.id)).length, entries.length, "the timeline shows every change-log entry");
      await assertNotReloaded(page);
      await screenshot(page, "task-details-retried");
      assertNoPageProblems(page);
    });
    await page.context().close();
  });

  it("renders hostile payloads and errors as text (no HTML, no dialog)", async (t) => {
    const page = await openTasksPage();
    await diagnose(t.name, { taskd, page }, async () => {
      // Through the UI: an echo task whose payload (and so result) holds markup.
      const echo = await createInUi(page, "echo", JSON.stringify({ html: XSS }));
      // Over REST: a failing task whose error (shown in the table) is markup.
      const flaky = await taskd.createTask("flaky", { message: XSS });
      await waitForRowStatus(page, echo.id, "completed");
      await waitForRowStatus(page, flaky.id, "failed");

      const errCell = page.locator(`${sel.row(flaky.id)} td.err`);
      assert.equal(await errCell.textContent(), XSS);
      assert.ok(await errCell.isVisible());
      await waitVisible(page.getByText(XSS, { exact: true }), "the markup as visible text in the table");

      const details = page.locator(sel.details(echo.id));
      await waitVisible(details.locator('[data-testid="details-status"]', { hasText: /^completed$/ }), "details status completed");
      for (const id of ["task-payload", "task-result"]) {
        const box = details.getByTestId(id);
        assert.ok((await box.textContent()).includes(XSS), `${id} should show the markup as text`);
        assert.ok(await box.isVisible());
      }
      assert.deepEqual(JSON.parse(await details.getByTestId("task-result").textContent()), { html: XSS });

      // Open the failing one's details too: its error is markup.
      await page.locator(sel.row(flaky.id)).click();
      const fd = page.locator(sel.details(flaky.id));
      await waitVisible(fd.locator('[data-testid="details-status"]', { hasText: /^failed$/ }), "flaky details failed");
      assert.equal(await fd.getByTestId("task-error").textContent(), XSS);

      const imgs = await page.evaluate(() => ({
        table: document.querySelectorAll('[data-testid="task-table"] img').length,
        details: document.querySelectorAll('[data-testid="task-details"] img').length,
        anywhere: document.querySelectorAll("img").length,
      }));
      assert.deepEqual(imgs, { table: 0, details: 0, anywhere: 0 });
      await screenshot(page, "xss-as-text");
      assertNoPageProblems(page); // includes: no alert() dialog fired
    });
    await page.context().close();
  });

  it("validates the payload inline and shows the server's 400 inline", async (t) => {
    const page = await openTasksPage();
    await diagnose(t.name, { taskd, page }, async () => {
      const payload = page.getByTestId("create-payload");
      const submit = page.getByTestId("create-task");
      const error = page.getByTestId("payload-error");
      assert.equal(await submit.isEnabled(), true);
      assert.equal(await error.count(), 0);

      await payload.fill('{"a": ');
      await waitVisible(error, "payload-error for invalid JSON");
      assert.match(await error.textContent(), /Invalid JSON/);
      assert.equal(await submit.isDisabled(), true, "submit must be disabled while the payload is invalid");
      assert.equal(await payload.getAttribute("aria-invalid"), "true");
      await screenshot(page, "payload-error");

      await payload.fill("   ");
      await waitVisible(error.filter({ hasText: /required/ }), "payload-error for an empty payload");
      assert.equal(await submit.isDisabled(), true);

      // Nothing may have been posted while invalid.
      const posted = [];
      page.on("request", (r) => {
        if (r.method() === "POST") posted.push(r.url());
      });
      await submit.click({ force: true, timeout: 2000 }).catch(() => {});

      await payload.fill('{"a": 1}');
      await waitGone(error, "payload-error once the JSON is valid");
      assert.equal(await submit.isEnabled(), true);
      assert.deepEqual(posted, [], "no create request while the payload was invalid");

      // A value only the server rejects: its 400 message is shown inline, nothing is created.
      const countBefore = (await taskd.type("echo")).counts;
      await page.getByTestId("create-type").selectOption("echo");
      await page.getByTestId("create-priority").fill("1.5");
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/tasks"),
        submit.click(),
      ]);
      assert.equal(resp.status(), 400);
      const createError = await waitVisible(page.getByTestId("create-error"), "create-error with the server message");
      assert.match(await createError.textContent(), /priority: must be an integer/);
      assert.deepEqual((await taskd.type("echo")).counts, countBefore, "nothing was created");

      // Fixing it clears the error and creates the task.
      await page.getByTestId("create-priority").fill("2");
      const [ok] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/tasks"),
        submit.click(),
      ]);
      assert.equal(ok.status(), 201);
      await waitGone(page.getByTestId("create-error"), "create-error after a successful create");
      const created = await ok.json();
      assert.equal(created.priority, 2);
      await waitForRowStatus(page, created.id, "completed");
      assertNoPageProblems(page);
    });
    await page.context().close();
  });
});
