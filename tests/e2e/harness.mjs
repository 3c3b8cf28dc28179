// Harness for taskd's browser end-to-end tests: a real taskd process on a free port with a
// temp data dir, a headless Debian Chromium through playwright-core, REST helpers, polling
// with deadlines (never fixed sleeps), screenshots, and diagnostics on failure.
import { after, before } from "node:test";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const TASKD_BINARY = process.env.TASKD_BINARY || "/tmp/e2e-taskd";
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const ARTIFACTS = path.resolve(process.env.E2E_ARTIFACTS || path.join(HERE, "artifacts"));

/** The config every test runs with unless it passes its own. */
export const DEFAULT_CONFIG = `log_level = "info"
[server]
[limits]
shutdown_grace_ms = 2000
[types.echo]
handler = "builtin:echo"
[types.slow]
handler = "builtin:sleep"
concurrency = 2
[types.flaky]
handler = "builtin:fail"
max_attempts = 3
backoff = { type = "fixed", delay_ms = 1000 }
`;

// ---------------------------------------------------------------------------------------
// Waiting

/**
 * Calls `fn` until it returns a truthy value (returned) or the deadline passes (throws with
 * `message` and the last value/error seen). `fn` may be async; exceptions count as "not yet".
 */
export async function poll(fn, { timeout = 10_000, interval = 50, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      lastErr = undefined;
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const detail = lastErr ? `last error: ${lastErr.message}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${message} (${detail})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits for a locator to be visible; on timeout says what was expected. */
export async function waitVisible(locator, what, timeout = 10_000) {
  try {
    await locator.first().waitFor({ state: "visible", timeout });
  } catch (e) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}: ${e.message.split("\n")[0]}`);
  }
  return locator.first();
}

/** Waits until there is no element for the locator. */
export async function waitGone(locator, what, timeout = 10_000) {
  try {
    await locator.first().waitFor({ state: "detached", timeout });
  } catch (e) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what} to go away: ${e.message.split("\n")[0]}`);
  }
}

// ---------------------------------------------------------------------------------------
// Ports and processes

/** A port that was free a moment ago (bind port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set(); // children to kill if this process exits without cleaning up
process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

export class ApiError extends Error {
  constructor(status, body, method, url) {
    super(`${method} ${url} → ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

/** One taskd process (restartable on the same port and data dir). */
export class Taskd {
  /**
   * `tmpRoot`: where the temp dir (config, data, log) goes; default os.tmpdir().
   * `files`: extra files written into the temp dir before the config, as
   * `{ "rel/name": text | { content, mode } }` (e.g. an exec handler's script, mode 0o755).
   * `config`: the TOML text, or a function `(dir) => text` of the temp dir's absolute path
   * (to point at those files).
   */
  constructor({ name = "taskd", config = DEFAULT_CONFIG, tmpRoot = os.tmpdir(), files = {} } = {}) {
    this.name = name;
    this.dir = fs.mkdtempSync(path.join(tmpRoot, `taskd-e2e-${name}-`));
    this.configPath = path.join(this.dir, "taskd.toml");
    this.dataDir = path.join(this.dir, "data");
    this.logPath = path.join(this.dir, "taskd.log");
    for (const [rel, spec] of Object.entries(files)) {
      const { content, mode = 0o644 } = typeof spec === "string" ? { content: spec } : spec;
      const file = this.file(rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content, { mode });
      fs.chmodSync(file, mode); // writeFileSync's mode is filtered by the umask
    }
    fs.writeFileSync(this.configPath, typeof config === "function" ? config(this.dir) : config);
    this.port = null;
    this.child = null;
    this.exited = null;
  }

  /** Absolute path of `rel` inside the temp dir. */
  file(rel) {
    return path.join(this.dir, rel);
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts taskd (on a new free port the first time, the same port afterwards), waits for /healthz. */
  async start({ timeout = 15_000 } = {}) {
    if (this.child) throw new Error("taskd already running");
    if (!fs.existsSync(TASKD_BINARY)) throw new Error(`TASKD_BINARY not found: ${TASKD_BINARY}`);
    if (this.port === null) this.port = await freePort();
    const log = fs.openSync(this.logPath, "a");
    fs.writeSync(log, `--- e2e: starting ${TASKD_BINARY} on port ${this.port} at ${new Date().toISOString()}\n`);
    const child = spawn(
      TASKD_BINARY,
      ["--config", this.configPath, "--data-dir", this.dataDir, "--listen", `127.0.0.1:${this.port}`],
      { stdio: ["ignore", log, log] },
    );
    fs.closeSync(log);
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        live.delete(child);
        if (this.child === child) this.child = null;
        resolve({ code, signal });
      });
      child.on("error", (err) => {
        live.delete(child);
        if (this.child === child) this.child = null;
        resolve({ code: null, signal: null, error: err });
      });
    });
    let exitedEarly = null;
    this.exited.then((r) => (exitedEarly = r));
    await poll(
      async () => {
        if (exitedEarly) throw new Error(`taskd exited during startup: ${JSON.stringify(exitedEarly)}`);
        const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.status === 200;
      },
      { timeout, interval: 25, message: `taskd /healthz on port ${this.port}` },
    ).catch((e) => {
      throw new Error(`${e.message}\n${this.logTail()}`);
    });
    return this;
  }

  /** Stops taskd: SIGTERM (SIGKILL after `timeout`), or SIGKILL right away. Idempotent. */
  async stop({ signal = "SIGTERM", timeout = 5_000 } = {}) {
    const child = this.child;
    if (!child) return null;
    const exited = this.exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  kill() {
    return this.stop({ signal: "SIGKILL" });
  }

  async restart({ signal = "SIGKILL" } = {}) {
    await this.stop({ signal });
    return this.start();
  }

  logTail(lines = 40) {
    try {
      const all = fs.readFileSync(this.logPath, "utf8").trimEnd().split("\n");
      return `--- taskd log tail (${this.logPath}) ---\n${all.slice(-lines).join("\n")}\n--- end of taskd log ---`;
    } catch (e) {
      return `(no taskd log: ${e.message})`;
    }
  }

  /** Stops taskd, keeps a copy of its log in the artifacts, removes the temp dir unless `keep`. */
  async dispose({ keep = false } = {}) {
    await this.stop({ signal: "SIGTERM" }).catch(() => this.kill());
    try {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      fs.copyFileSync(this.logPath, path.join(ARTIFACTS, `${this.name}-taskd.log`));
    } catch {
      /* no log */
    }
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // REST ------------------------------------------------------------------------------

  async request(method, route, body) {
    const url = `${this.baseUrl}${route}`;
    const init = { method, headers: {}, signal: AbortSignal.timeout(5000) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    const res = await fetch(url, init);
    const text = await res.text();
    let data = text;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      /* keep text */
    }
    if (!res.ok) throw new ApiError(res.status, data, method, route);
    return data;
  }

  createTask(type, payload, extra = {}) {
    return this.request("POST", "/api/v1/tasks", { type, payload, ...extra });
  }
  getTask(id) {
    return this.request("GET", `/api/v1/tasks/${id}`);
  }
  taskEvents(id) {
    return this.request("GET", `/api/v1/tasks/${id}/events`).then((r) => r.events);
  }
  taskAttempts(id) {
    return this.request("GET", `/api/v1/tasks/${id}/attempts`).then((r) => r.attempts);
  }
  taskLogs(id) {
    return this.request("GET", `/api/v1/tasks/${id}/logs`).then((r) => r.lines);
  }
  async types() {
    return (await this.request("GET", "/api/v1/types")).types;
  }
  async type(name) {
    const t = (await this.types()).find((x) => x.name === name);
    if (!t) throw new Error(`no type ${name}`);
    return t;
  }

  /** Polls GET /api/v1/tasks/{id} until `pred(task)`; returns the task. */
  waitForTask(id, pred, { timeout = 10_000, message } = {}) {
    let last;
    return poll(
      async () => {
        last = await this.getTask(id);
        return pred(last) ? last : null;
      },
      { timeout, message: message ?? `task ${id} to match ${pred}` },
    ).catch((e) => {
      throw new Error(`${e.message}; last task: ${JSON.stringify(last)}`);
    });
  }
}

// ---------------------------------------------------------------------------------------
// Browser

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-dev-shm-usage",
];

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * A fresh page with guards: any JS dialog (alert/confirm/prompt) and any uncaught page error
 * is recorded in `page.problems` (dialogs are dismissed so nothing blocks).
 */
/**
 * Registers a suite's before/after: `make()` builds the Taskd to start, `bind(taskd, browser)`
 * hands both to the tests; both are torn down even when a test fails.
 */
export function taskdAndBrowser(make, bind) {
  let taskd;
  let browser;
  before(async () => {
    taskd = make();
    await taskd.start();
    browser = await launchBrowser();
    bind(taskd, browser);
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await taskd?.dispose();
  });
}

export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  page.problems = { dialogs: [], errors: [], console: [] };
  page.on("dialog", (d) => {
    page.problems.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on("pageerror", (err) => page.problems.errors.push(String(err?.stack ?? err)));
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") page.problems.console.push(`${msg.type()}: ${msg.text()}`);
  });
  return page;
}

/** Throws if the page showed a dialog or threw an uncaught error. */
export function assertNoPageProblems(page) {
  const { dialogs, errors } = page.problems;
  if (dialogs.length) throw new Error(`page opened dialog(s): ${dialogs.join(" | ")}`);
  if (errors.length) throw new Error(`uncaught page error(s):\n${errors.join("\n")}`);
}

function safeName(name) {
  return name.replace(/[^a-zA-Z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
}

export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${safeName(name)}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Runs a test body; on failure prints the taskd log tail and the page's console errors,
 * saves a failure screenshot, then rethrows.
 */
export async function diagnose(name, { taskd, page }, fn) {
  try {
    return await fn();
  } catch (err) {
    const parts = [`\n=== e2e failure in "${name}": ${err?.message ?? err}`];
    if (taskd) parts.push(taskd.logTail());
    if (page?.problems) {
      const { console: con, errors, dialogs } = page.problems;
      if (con.length) parts.push(`--- page console (last 20) ---\n${con.slice(-20).join("\n")}`);
      if (errors.length) parts.push(`--- page errors ---\n${errors.join("\n")}`);
      if (dialogs.length) parts.push(`--- dialogs ---\n${dialogs.join("\n")}`);
    }
    if (page && !page.isClosed()) {
      try {
        parts.push(`failure screenshot: ${await screenshot(page, `FAILED-${name}`)}`);
      } catch {
        /* page unusable */
      }
    }
    console.error(parts.join("\n"));
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// UI helpers (test ids from ui/README.md)

export const sel = {
  status: (id) => `[data-testid="task-status"][data-task-id="${id}"]`,
  row: (id) => `[data-testid="task-row"][data-task-id="${id}"]`,
  details: (id) => `[data-testid="task-details"][data-task-id="${id}"]`,
  typeRow: (name) => `[data-testid="type-row"][data-type="${name}"]`,
  connection: (state) => `[data-testid="connection"][data-state="${state}"]`,
};

/** Waits until the table shows task `id` with a status in `statuses` (string or array). */
export async function waitForRowStatus(page, id, statuses, timeout = 10_000) {
  const want = [statuses].flat();
  try {
    await page.waitForFunction(
      ([s, want]) => {
        const el = document.querySelector(s);
        return !!el && want.includes(el.textContent.trim());
      },
      [sel.status(id), want],
      { timeout, polling: "raf" },
    );
  } catch (e) {
    const now = await page
      .locator(sel.status(id))
      .first()
      .textContent({ timeout: 100 })
      .catch(() => "(no row)");
    throw new Error(`task ${id} did not show status ${want.join("|")} in the table within ${timeout} ms (shows: ${now})`);
  }
}

/** Waits for the page's event stream to be live. */
export function waitLive(page, timeout = 10_000) {
  return waitVisible(page.locator(sel.connection("live")), "connection indicator 'live'", timeout);
}
