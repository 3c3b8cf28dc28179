// Visual regression: screenshots of the tasks page, a task's details and the admin page
// (fixed viewport, fixed data, animations off, times and run-specific figures replaced
// by fixed text) compared with the baselines in visual-baselines/, allowing a small
// share of differing pixels (anti-aliasing). On a mismatch the actual image and a diff
// image are kept in the artifacts. Accept a deliberate change with
//   E2E_UPDATE_VISUAL=1 npm test --prefix tests/e2e   (or scripts/update-snapshots.sh)
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";
import {
  ARTIFACTS,
  Taskd,
  diagnose,
  sel,
  taskdAndBrowser,
  waitForRowStatus,
  waitLive,
  waitVisible,
} from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BASELINES = path.join(HERE, "visual-baselines");
const UPDATE = process.env.E2E_UPDATE_VISUAL === "1";
const MAX_DIFF_SHARE = 0.002; // of all pixels

const CONFIG = `log_level = "info"
[server]
[limits]
shutdown_grace_ms = 2000
[types.echo]
handler = "builtin:echo"
[types.held]
handler = "builtin:noop"
[types.flaky]
handler = "builtin:fail"
max_attempts = 1
`;

/** Freezes what differs between runs: animations, times, durations, run-specific figures. */
async function steady(page) {
  // Animations: the screenshot's own `animations: "disabled"` (the page's CSP refuses
  // injected styles, rightly).
  await page.evaluate(() => {
    const iso = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g;
    const dur = /\b\d+(\.\d+)?\s?(ms|s|min|m|h|d)\b/g;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const t = n.nodeValue.replace(iso, "2026-01-01T00:00:00.000Z").replace(dur, "1 s");
      if (t !== n.nodeValue) n.nodeValue = t;
    }
    for (const id of ["info-version", "info-uptime", "info-data-dir", "info-disk", "info-head-seq", "info-subscribers"]) {
      const el = document.querySelector(`[data-testid="${id}"]`);
      if (el) el.textContent = "(varies)";
    }
    document.activeElement?.blur?.();
  });
}

/** Compares a screenshot with its baseline (or writes the baseline when updating). */
async function matchesBaseline(page, name) {
  await steady(page);
  const actual = await page.screenshot({ fullPage: true, animations: "disabled", caret: "hide" });
  const file = path.join(BASELINES, `${name}.png`);
  if (UPDATE) {
    fs.mkdirSync(BASELINES, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  assert.ok(fs.existsSync(file), `no baseline ${file}: run with E2E_UPDATE_VISUAL=1`);
  const want = PNG.sync.read(fs.readFileSync(file));
  const got = PNG.sync.read(actual);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const keep = (suffix, png) => fs.writeFileSync(path.join(ARTIFACTS, `visual-${name}-${suffix}.png`), PNG.sync.write(png));
  if (want.width !== got.width || want.height !== got.height) {
    keep("actual", got);
    assert.fail(`${name}: ${got.width}x${got.height}, baseline ${want.width}x${want.height} (actual kept in ${ARTIFACTS})`);
  }
  const diff = new PNG({ width: want.width, height: want.height });
  const differing = pixelmatch(want.data, got.data, diff.data, want.width, want.height, { threshold: 0.1 });
  const share = differing / (want.width * want.height);
  if (share > MAX_DIFF_SHARE) {
    keep("actual", got);
    keep("diff", diff);
  }
  assert.ok(
    share <= MAX_DIFF_SHARE,
    `${name}: ${differing} pixels (${(share * 100).toFixed(2)}%) differ from the baseline; actual and diff in ${ARTIFACTS}`,
  );
}

describe("visual regression", () => {
  let taskd;
  let browser;
  let tasks;

  taskdAndBrowser(
    () => new Taskd({ name: "visual", config: CONFIG }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  async function page() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: "reduce" });
    const p = await context.newPage();
    p.problems = { dialogs: [], errors: [], console: [] };
    return p;
  }

  async function fixedData() {
    if (tasks) return tasks;
    await taskd.request("POST", "/api/v1/types/held/pause");
    tasks = {
      done: await taskd.createTask("echo", { greeting: "hello", n: 1 }),
      failed: await taskd.createTask("flaky", { reason: "always fails" }),
      held: await taskd.createTask("held", { waits: true }, { priority: 5 }),
    };
    await taskd.waitForTask(tasks.done.id, (x) => x.status === "completed");
    await taskd.waitForTask(tasks.failed.id, (x) => x.status === "failed");
    return tasks;
  }

  it("the tasks page and a task's details look as they did", async (t) => {
    const { done, failed, held } = await fixedData();
    const p = await page();
    await diagnose(t.name, { taskd, page: p }, async () => {
      await p.goto(`${taskd.baseUrl}/`);
      await waitLive(p);
      await waitForRowStatus(p, done.id, "completed");
      await waitForRowStatus(p, failed.id, "failed");
      await waitForRowStatus(p, held.id, "pending");
      await matchesBaseline(p, "tasks-page");
      await p.locator(sel.row(done.id)).click();
      const details = p.locator(sel.details(done.id));
      await waitVisible(details.locator('[data-testid="details-status"]', { hasText: /^completed$/ }), "details of the completed task");
      await waitVisible(details.getByTestId("timeline"), "its timeline");
      await matchesBaseline(p, "task-details");
    });
  });

  it("the admin page looks as it did", async (t) => {
    await fixedData();
    const p = await page();
    await diagnose(t.name, { taskd, page: p }, async () => {
      await p.goto(`${taskd.baseUrl}/admin`);
      await waitLive(p);
      for (const name of ["echo", "flaky", "held"]) await waitVisible(p.locator(sel.typeRow(name)), `type row ${name}`);
      await waitVisible(p.locator(sel.typeRow("held")).locator('[data-testid="type-paused"]', { hasText: /^paused$/ }), "held paused");
      await waitVisible(p.getByTestId("info-version"), "engine info");
      await matchesBaseline(p, "admin-page");
    });
  });
});
