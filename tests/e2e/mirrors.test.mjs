// Admin page: the [bridge] mirrors' state, as taskd reports it, against a real Redis (the
// one scripts/test.sh starts) and a PostgreSQL address nobody listens on.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CONFIG, Taskd, diagnose, freePort, newPage, poll, screenshot, taskdAndBrowser, waitLive, waitVisible } from "./harness.mjs";

const redisPort = process.env.TASKD_TEST_REDIS_PORT;
if (!redisPort) throw new Error("TASKD_TEST_REDIS_PORT is not set: run through scripts/test.sh (it starts Redis)");
const closedPort = await freePort();

describe("mirrors on the admin page", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () =>
      new Taskd({
        name: "mirrors",
        config: `${DEFAULT_CONFIG}
[bridge]
retry_min_ms = 50
retry_max_ms = 300
[bridge.postgres]
url = "postgresql://postgres:x@127.0.0.1:${closedPort}/postgres"
[bridge.redis]
url = "redis://:taskd-test@127.0.0.1:${redisPort}/0"
prefix = "e2e_${process.pid}"
`,
      }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  it("shows a healthy mirror caught up and a failing one falling behind, with its error", async (t) => {
    const page = await newPage(browser);
    await diagnose(t.name, { taskd, page }, async () => {
      await page.goto(`${taskd.baseUrl}/admin`);
      await waitLive(page);
      const row = (sink) => page.locator(`[data-testid="mirror-row"][data-sink="${sink}"]`);
      await waitVisible(row("redis"), "the redis mirror row");
      for (let i = 0; i < 5; i++) await taskd.createTask("echo", { i });
      await waitVisible(row("postgres").locator('[data-testid="mirror-state"]', { hasText: /^retrying$/ }), "postgres shown retrying");
      await waitVisible(row("redis").locator('[data-testid="mirror-state"]', { hasText: /^ok$/ }), "redis shown ok");
      await poll(async () => Number(await row("postgres").getByTestId("mirror-lag").textContent()) >= 5, {
        message: "postgres shown at least 5 changes behind",
      });
      await poll(async () => (await row("redis").getByTestId("mirror-lag").textContent()) === "0", {
        message: "redis shown caught up",
      });
      const error = await row("postgres").getByTestId("mirror-error").textContent();
      assert.match(error, /Connection refused/);
      assert.ok(Number(await row("postgres").getByTestId("mirror-errors").textContent()) > 0);
      await screenshot(page, "admin-mirrors");
    });
  });
});
