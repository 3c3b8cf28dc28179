import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { App, routeFor } from "./App";
import type { Task } from "./api/types";
import { StreamProvider } from "./hooks/stream";
import { EventStream } from "./lib/eventStream";
import { FakeSocket } from "./test/fakeSocket";
import { makeTask, makeType, stubFetch } from "./test/fixtures";

const XSS = "<img src=x onerror=alert(1)>";

function mount(pathname: string) {
  const stream = new EventStream({ url: "ws://test/api/v1/events", createSocket: (u) => new FakeSocket(u) });
  stream.start();
  const view = render(
    <StreamProvider stream={stream}>
      <App pathname={pathname} />
    </StreamProvider>,
  );
  const sock = FakeSocket.last();
  const send = (msg: unknown) => act(() => sock.receive(msg));
  return { stream, view, sock, send };
}

beforeEach(() => {
  FakeSocket.all = [];
  window.history.replaceState(null, "", "/");
});

describe("routing", () => {
  it("maps paths to pages", () => {
    expect(routeFor("/")).toBe("tasks");
    expect(routeFor("/admin")).toBe("admin");
    expect(routeFor("/admin/")).toBe("admin");
    expect(routeFor("/administrator")).toBe("tasks");
  });
});

describe("Tasks page", () => {
  function routes(tasks: Task[]) {
    return stubFetch({
      "GET /api/v1/types": () => [200, { types: [makeType()] }],
      "GET /api/v1/tasks": () => [200, { tasks, next_after: null }],
      "GET /api/v1/tasks/5": () => [200, tasks.find((t) => t.id === 5)],
      "GET /api/v1/tasks/5/events": () => [
        200,
        { events: [{ seq: 3, event: "task", task: makeTask({ id: 5, status: "pending" }) }] },
      ],
      "POST /api/v1/tasks/5/retry": () => [409, { error: { code: "conflict", message: "task 5 is not failed" } }],
    });
  }

  it("shows the connection state, lists tasks and applies live changes", async () => {
    const api = routes([makeTask({ id: 5, status: "pending" }), makeTask({ id: 4, status: "completed" })]);
    vi.stubGlobal("fetch", api.fn);
    const { send } = mount("/");
    const conn = screen.getByTestId("connection");
    expect(conn.textContent).toBe("reconnecting");
    expect(conn.getAttribute("data-state")).toBe("reconnecting");

    await waitFor(() => expect(screen.getAllByTestId("task-row")).toHaveLength(2));
    const listCall = api.calls.find((c) => c.url.startsWith("/api/v1/tasks?"));
    expect(listCall?.url).toBe("/api/v1/tasks?limit=50&order=desc");

    send({ event: "hello", seq: 10 });
    expect(conn.textContent).toBe("live");
    expect(conn.getAttribute("data-state")).toBe("live");
    await waitFor(() => expect(api.calls.filter((c) => c.url.startsWith("/api/v1/tasks?"))).toHaveLength(2));

    send({ seq: 11, event: "task", task: makeTask({ id: 5, status: "completed", updated_at: "2026-01-01T00:00:05Z" }) });
    send({ seq: 12, event: "task", task: makeTask({ id: 6, type: XSS, status: "pending" }) });
    await waitFor(() => expect(screen.getAllByTestId("task-row")).toHaveLength(3));
    const statuses = screen.getAllByTestId("task-status").map((b) => [b.getAttribute("data-task-id"), b.textContent]);
    expect(statuses).toEqual([
      ["6", "pending"],
      ["5", "completed"],
      ["4", "completed"],
    ]);
    expect(document.querySelector("img")).toBeNull();

    send({ seq: 13, event: "deleted", id: 4 });
    await waitFor(() => expect(screen.getAllByTestId("task-row")).toHaveLength(2));
  });

  it("filters server-side", async () => {
    const api = routes([]);
    vi.stubGlobal("fetch", api.fn);
    mount("/");
    await waitFor(() => expect(api.calls.some((c) => c.url.startsWith("/api/v1/tasks?"))).toBe(true));
    fireEvent.change(screen.getByTestId("filter-status"), { target: { value: "failed" } });
    await waitFor(() =>
      expect(api.calls.map((c) => c.url)).toContain("/api/v1/tasks?status=failed&limit=50&order=desc"),
    );
  });

  it("opens details with text-only payload/result and a live timeline", async () => {
    const task = makeTask({
      id: 5,
      status: "failed",
      payload: { html: XSS },
      result: { echo: XSS },
      error: XSS,
      attempts: 3,
    });
    const api = routes([task]);
    vi.stubGlobal("fetch", api.fn);
    const { send } = mount("/");
    send({ event: "hello", seq: 2 });
    fireEvent.click(await screen.findByTestId("task-row"));
    const details = await screen.findByTestId("task-details");
    await waitFor(() => expect(within(details).getByTestId("details-status").textContent).toBe("failed"));
    expect(within(details).getByTestId("task-result").textContent).toBe(JSON.stringify({ echo: XSS }, null, 2));
    expect(within(details).getByTestId("task-error").textContent).toBe(XSS);
    expect(document.querySelector("img")).toBeNull();
    expect(window.location.search).toBe("?task=5");
    expect(within(details).getAllByTestId("timeline-entry")).toHaveLength(1);
    expect(within(details).queryByTestId("cancel-task")).toBeNull();

    // 409 from an action shows inline
    fireEvent.click(within(details).getByTestId("retry-task"));
    expect((await within(details).findByTestId("details-error")).textContent).toBe("task 5 is not failed");

    send({ seq: 7, event: "task", task: makeTask({ id: 5, status: "pending", updated_at: "2026-01-02T00:00:00Z" }) });
    await waitFor(() => expect(within(details).getAllByTestId("timeline-entry")).toHaveLength(2));
    expect(within(details).getByTestId("details-status").textContent).toBe("pending");
    expect(within(details).getByTestId("cancel-task")).toBeTruthy();
    expect(within(details).queryByTestId("retry-task")).toBeNull();
  });
});

describe("Admin page", () => {
  it("shows types, asks before acting and reports the count", async () => {
    let paused = false;
    const api = stubFetch({
      "GET /api/v1/types": () => [
        200,
        { types: [makeType({ name: "echo", paused }), makeType({ name: XSS, counts: { pending: 7, in_progress: 0, completed: 1, failed: 0, abandoned: 0, cancelled: 0 } })] },
      ],
      "GET /api/v1/admin/info": () => [
        200,
        { version: "0.1.0", uptime_s: 75, data_dir: "/var/lib/taskd", disk_bytes: 1536, head_seq: 991, subscribers: 2 },
      ],
      "POST /api/v1/types/echo/pause": () => {
        paused = true;
        return [200, makeType({ name: "echo", paused: true })];
      },
      "POST /api/v1/types/echo/retry-failed": () => [200, { count: 3 }],
      "POST /api/v1/tasks/clean": () => [200, { count: 12 }],
    });
    vi.stubGlobal("fetch", api.fn);
    mount("/admin");
    await waitFor(() => expect(screen.getAllByTestId("type-row")).toHaveLength(2));
    expect(document.querySelector("img")).toBeNull();
    const echo = () => document.querySelector('[data-testid="type-row"][data-type="echo"]') as HTMLElement;
    expect(within(echo()).getByTestId("type-paused").textContent).toBe("active");
    expect(within(echo()).getByTestId("type-running").textContent).toBe("1/4");
    expect(screen.getByTestId("info-disk").textContent).toBe("1.5 KiB");
    expect(screen.getByTestId("info-uptime").textContent).toBe("1m 15s");

    fireEvent.click(within(echo()).getByTestId("pause-type"));
    expect(api.calls.some((c) => c.method === "POST")).toBe(false);
    fireEvent.click(screen.getByTestId("confirm-action"));
    await waitFor(() => expect(within(echo()).getByTestId("type-paused").textContent).toBe("paused"));
    expect(screen.getByTestId("action-result").textContent).toBe("echo paused");
    expect(within(echo()).getByTestId("resume-type")).toBeTruthy();

    fireEvent.click(within(echo()).getByTestId("retry-failed"));
    fireEvent.click(screen.getByTestId("confirm-action"));
    expect((await screen.findByTestId("action-result")).textContent).toBe("Retried 3 failed tasks of echo");

    fireEvent.change(screen.getByTestId("clean-age"), { target: { value: "30" } });
    fireEvent.click(screen.getByTestId("clean-tasks"));
    fireEvent.click(screen.getByTestId("confirm-action"));
    await waitFor(() => expect(screen.getByTestId("action-result").textContent).toBe("Deleted 12 finished tasks"));
    expect(api.calls.find((c) => c.url === "/api/v1/tasks/clean")?.body).toEqual({ older_than_ms: 1_800_000 });
  });
});
