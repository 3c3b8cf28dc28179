// taskd speaks Faktory: the npm package `faktory-worker` (a Faktory client and worker
// library nobody here wrote) pushes jobs to a real taskd and processes them through it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import faktoryModule from "faktory-worker";

const TASKD = process.env.TASKD_BINARY;
if (!TASKD) throw new Error("set TASKD_BINARY to the taskd executable");

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function poll(fn, { timeout = 20_000, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}; last: ${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

class Taskd {
  constructor(extraConfig = "") {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "taskd-faktory-"));
    this.extra = extraConfig;
  }
  async start() {
    this.httpPort = await freePort();
    this.faktoryPort = await freePort();
    fs.writeFileSync(
      path.join(this.dir, "taskd.toml"),
      `log_level = "info"
[server]
listen = "127.0.0.1:${this.httpPort}"
data_dir = "${this.dir}/data"
[logging]
files = false
[limits]
shutdown_grace_ms = 1000
[faktory]
listen = "127.0.0.1:${this.faktoryPort}"
${this.extra}
[types.Resize]
handler = "worker"
concurrency = 10
[types.Flaky]
handler = "worker"
backoff = { type = "fixed", delay_ms = 20 }
[types.Later]
handler = "worker"
[types.Critical]
handler = "worker"
queue = "critical"
`,
    );
    const log = fs.openSync(path.join(this.dir, "taskd.log"), "a");
    this.child = spawn(TASKD, ["--config", path.join(this.dir, "taskd.toml")], { stdio: ["ignore", log, log] });
    this.exited = new Promise((r) => this.child.on("exit", r));
    await poll(async () => (await fetch(`http://127.0.0.1:${this.httpPort}/healthz`)).ok, { message: "taskd to start" });
  }
  async api(route) {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${route}`);
    return res.json();
  }
  async counts(type) {
    return (await this.api(`/api/v1/types/${type}`)).counts;
  }
  async tasks(type) {
    return (await this.api(`/api/v1/tasks?type=${type}&limit=1000`)).tasks;
  }
  log() {
    return fs.readFileSync(path.join(this.dir, "taskd.log"), "utf8");
  }
  async stop() {
    this.child.kill("SIGTERM");
    await this.exited;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("Faktory protocol with faktory-worker", () => {
  let taskd;
  before(async () => {
    taskd = new Taskd();
    await taskd.start();
  });
  after(async () => {
    await taskd?.stop();
  });

  it("pushes 1,000 jobs and processes them through taskd", async () => {
    const faktory = faktoryModule.create();
    const client = await faktory.connect({ host: "127.0.0.1", port: taskd.faktoryPort });
    const jids = [];
    for (let chunk = 0; chunk < 4; chunk++) {
      const jobs = [];
      for (let i = 0; i < 249; i++) jobs.push(client.job("Resize", chunk * 1000 + i, "thumb"));
      const rejected = await client.pushBulk(jobs);
      assert.deepEqual(rejected, {});
      for (const j of jobs) jids.push(j.jid);
    }
    for (let i = 0; i < 4; i++) jids.push(await client.job("Resize", 9000 + i, "big").push());
    assert.equal(jids.length, 1000);
    const seen = new Map();
    faktory.register("Resize", async (id, size) => {
      seen.set(id, (seen.get(id) ?? 0) + 1);
      assert.ok(size === "thumb" || size === "big");
    });
    const worker = await faktory.work({ host: "127.0.0.1", port: taskd.faktoryPort, concurrency: 20, queues: ["default"] });
    try {
      await poll(async () => (await taskd.counts("Resize")).completed === 1000, { timeout: 60_000, message: "1,000 completed" });
    } finally {
      await worker.stop();
      await client.close();
    }
    assert.equal(seen.size, 1000);
    for (const n of seen.values()) assert.equal(n, 1);
    // The jid is the task's idempotency key: pushing the same jid again creates nothing.
    const again = await faktory.connect({ host: "127.0.0.1", port: taskd.faktoryPort });
    const job = again.job("Resize", 1, "thumb");
    job.jid = jids[0];
    await job.push();
    await again.close();
    const counts = await taskd.counts("Resize");
    assert.equal(counts.completed + counts.pending, 1000);
  });

  it("retries a failing job per its retry, and fails it when retries run out", async () => {
    const faktory = faktoryModule.create();
    const client = await faktory.connect({ host: "127.0.0.1", port: taskd.faktoryPort });
    const attempts = new Map();
    faktory.register("Flaky", async (name, failTimes) => {
      const n = (attempts.get(name) ?? 0) + 1;
      attempts.set(name, n);
      if (n <= failTimes) throw new Error(`attempt ${n} of ${name} failed`);
    });
    const recovers = client.job("Flaky", "recovers", 2);
    recovers.retry = 3;
    await recovers.push();
    const exhausts = client.job("Flaky", "exhausts", 99);
    exhausts.retry = 1; // two attempts in all
    await exhausts.push();
    const worker = await faktory.work({ host: "127.0.0.1", port: taskd.faktoryPort, concurrency: 2 });
    try {
      await poll(async () => {
        const c = await taskd.counts("Flaky");
        return c.completed === 1 && c.failed === 1;
      }, { message: "one Flaky completed and one failed" });
    } finally {
      await worker.stop();
      await client.close();
    }
    assert.equal(attempts.get("recovers"), 3);
    assert.equal(attempts.get("exhausts"), 2);
    const failed = (await taskd.tasks("Flaky")).find((t) => t.status === "failed");
    assert.equal(failed.max_attempts, 2);
    assert.match(failed.error, /attempt 2 of exhausts failed/);
  });

  it("holds a job with `at` in the future until then; queues select types", async () => {
    const faktory = faktoryModule.create();
    const criticalOnly = faktoryModule.create(); // one worker per instance
    const client = await faktory.connect({ host: "127.0.0.1", port: taskd.faktoryPort });
    const ran = [];
    faktory.register("Later", async () => ran.push(Date.now()));
    criticalOnly.register("Critical", async () => ran.push("critical"));
    const at = new Date(Date.now() + 1500);
    const later = client.job("Later");
    later.at = at;
    await later.push();
    await client.job("Critical").push();
    const worker = await faktory.work({ host: "127.0.0.1", port: taskd.faktoryPort, concurrency: 2, queues: ["default"] });
    const critical = await criticalOnly.work({ host: "127.0.0.1", port: taskd.faktoryPort, concurrency: 1, queues: ["critical"] });
    try {
      await poll(async () => (await taskd.counts("Later")).completed === 1, { message: "the Later job to run" });
      await poll(async () => (await taskd.counts("Critical")).completed === 1, { message: "the Critical job to run" });
    } finally {
      await worker.stop();
      await critical.stop();
      await client.close();
    }
    const startedLater = ran.find((x) => typeof x === "number");
    assert.ok(startedLater >= at.getTime() - 5, `ran ${at.getTime() - startedLater} ms before its at`);
  });

  it("answers INFO, refuses FLUSH, and rejects unknown job types", async () => {
    const faktory = faktoryModule.create();
    const client = await faktory.connect({ host: "127.0.0.1", port: taskd.faktoryPort });
    const info = await client.info();
    assert.match(info.server.faktory_version, /^taskd /);
    await assert.rejects(client.flush().then((r) => assert.fail(`FLUSH answered ${r}`)), /FLUSH is disabled/);
    await assert.rejects(client.job("Nope").push(), /unknown task type/);
    await client.close();
  });
});

describe("Faktory protocol with a password", () => {
  let taskd;
  before(async () => {
    taskd = new Taskd('password = "s3cret"');
    await taskd.start();
  });
  after(async () => {
    await taskd?.stop();
  });

  it("accepts the right password and refuses a wrong one", async () => {
    const faktory = faktoryModule.create();
    const good = await faktory.connect({ host: "127.0.0.1", port: taskd.faktoryPort, password: "s3cret" });
    await good.job("Resize", 1, "thumb").push();
    await good.close();
    assert.equal((await taskd.counts("Resize")).pending, 1);
    const bad = faktory.connect({ host: "127.0.0.1", port: taskd.faktoryPort, password: "wrong" });
    await assert.rejects(bad, /invalid password|closed|OK/);
  });
});
