#!/usr/bin/env node
// A taskd worker in plain Node.js (no dependencies; Node >= 18 for fetch).
//
// Leases tasks of the given types, runs handle() on each payload, heartbeats while it
// works, and reports the result or the error. Usage:
//
//   TASKD_URL=http://127.0.0.1:8080 node worker.mjs render [more types...]
//
// TASKD_API_TOKEN is sent as a Bearer token when set.
//
// Set MAX_TASKS to stop after that many tasks (used by the tests).
import os from "node:os";

const URL = process.env.TASKD_URL ?? "http://127.0.0.1:8080";
const WORKER = `${os.hostname()}:${process.pid}`;
const LEASE_MS = 30_000;

async function call(path, body) {
  const res = await fetch(URL + path, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(process.env.TASKD_API_TOKEN ? { Authorization: `Bearer ${process.env.TASKD_API_TOKEN}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// Your work goes here: return a JSON value, or throw to fail the attempt.
async function handle(task) {
  return { echo: task.payload, by: WORKER };
}

async function run(task) {
  const token = task.lease.token;
  const path = `/api/v1/tasks/${task.id}`;
  const beat = setInterval(() => call(`${path}/heartbeat`, { token }).catch(() => {}), LEASE_MS / 3);
  let reply;
  try {
    reply = await call(`${path}/complete`, { token, result: await handle(task) });
  } catch (e) {
    reply = await call(`${path}/fail`, { token, error: String(e?.message ?? e) });
  } finally {
    clearInterval(beat);
  }
  if (reply.status === 409) console.error(`task ${task.id}: lease lost (it ran again elsewhere)`);
}

const types = process.argv.slice(2);
let left = Number(process.env.MAX_TASKS ?? 0) || Infinity;
while (left > 0) {
  const { status, body } = await call("/api/v1/workers/lease", {
    worker: WORKER,
    types: types.length ? types : ["default"],
    max: 1,
    wait_ms: 30_000,
    lease_ms: LEASE_MS,
  });
  if (status !== 200) throw new Error(`lease failed: ${status} ${JSON.stringify(body)}`);
  for (const task of body.tasks) {
    await run(task);
    left -= 1;
  }
}
