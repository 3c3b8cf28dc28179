// A taskd with an API token: the UI asks for the token once, then works (REST and the
// live event stream), and a wrong token is said to be refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CONFIG, Taskd, diagnose, newPage, sel, taskdAndBrowser, waitLive, waitVisible } from "./harness.mjs";

const TOKEN = "e2e-token-123";

describe("API token in the UI", () => {
  let taskd;
  let browser;

  taskdAndBrowser(
    () =>
      new Taskd({
        name: "auth",
        config: DEFAULT_CONFIG.replace("[server]\n", `[server]\napi_token = "${TOKEN}"\n`),
      }),
    (t, b) => {
      taskd = t;
      browser = b;
    },
  );

  it("asks for the token, refuses a wrong one, then shows live data", async (t) => {
    const page = await newPage(browser);
    await diagnose(t.name, { taskd, page }, async () => {
      await page.goto(`${taskd.baseUrl}/admin`);
      const gate = await waitVisible(page.getByTestId("token-gate"), "the token prompt");
      await gate.getByTestId("token-input").fill("wrong");
      await gate.getByTestId("token-submit").click();
      await waitVisible(page.getByTestId("token-rejected"), "the wrong token refused");
      await page.getByTestId("token-input").fill(TOKEN);
      await page.getByTestId("token-submit").click();
      await waitVisible(page.locator(sel.typeRow("echo")), "the echo type row (data with the token)");
      await waitLive(page);
      assert.equal(await page.getByTestId("token-gate").count(), 0);
    });
  });
});
