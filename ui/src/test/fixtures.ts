import type { Task, TypeInfo } from "../api/types";

export function makeTask(over: Partial<Task> = {}): Task {
  return {
    id: 1,
    type: "echo",
    payload: { hello: "world" },
    status: "pending",
    mode: "async",
    priority: 0,
    attempts: 0,
    max_attempts: 3,
    backoff: { type: "exponential", delay_ms: 1000 },
    timeout_ms: 30000,
    result: null,
    error: null,
    run_at: "2026-01-01T00:00:00.000Z",
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    started_at: null,
    finished_at: null,
    idempotency_key: null,
    ...over,
  };
}

export function makeType(over: Partial<TypeInfo> = {}): TypeInfo {
  return {
    name: "echo",
    handler: "echo",
    mode: "async",
    concurrency: 4,
    max_attempts: 3,
    backoff: { type: "exponential", delay_ms: 1000 },
    timeout_ms: 30000,
    max_pending: null,
    running: 1,
    counts: { pending: 2, in_progress: 1, completed: 10, failed: 3, abandoned: 1, cancelled: 0 },
    paused: false,
    oldest_pending_at: null,
    completed_last_minute: 60,
    throughput_per_s: 1,
    ...over,
  };
}

/** A fetch stub answering by "METHOD path" (path without query unless the key has one). */
export function stubFetch(routes: Record<string, (body: unknown, url: string) => [number, unknown]>) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  const fn = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, url, body });
    const handler = routes[`${method} ${url}`] ?? routes[`${method} ${url.split("?")[0]}`];
    const [status, data] = handler ? handler(body, url) : [404, { error: { code: "not_found", message: "no route" } }];
    return new Response(JSON.stringify(data), { status, headers: { "Content-Type": "application/json" } });
  };
  return { fn, calls };
}
