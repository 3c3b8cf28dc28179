import { act, render, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { StreamProvider } from "../hooks/stream";
import { EventStream } from "../lib/eventStream";
import { FakeSocket } from "../test/fakeSocket";
import { makeTask, stubFetch } from "../test/fixtures";
import { TaskDetails } from "./TaskDetails";

function attempt(n: number, over: Record<string, unknown> = {}) {
  return {
    attempt: n,
    started_at: `2026-01-01T00:00:0${n}.000Z`,
    ended_at: `2026-01-01T00:00:0${n}.013Z`,
    duration_ms: 13,
    outcome: "failed",
    error: "exit code 3: <b>bold</b>",
    detail: { exit_code: 3 },
    ...over,
  };
}

beforeEach(() => {
  FakeSocket.all = [];
});

describe("TaskDetails attempts and logs", () => {
  it("loads them, reloads (coalesced) on changes of this task, keeps errors inline", async () => {
    let attempts: [number, unknown] = [200, { task_id: 5, attempts: [attempt(1, { outcome: "running", ended_at: null, duration_ms: null, error: null, detail: null })] }];
    let logs: [number, unknown] = [200, { task_id: 5, lines: ["[attempt 1] starting"] }];
    const api = stubFetch({
      "GET /api/v1/tasks/5": () => [200, makeTask({ id: 5, status: "in_progress", attempts: 1 })],
      "GET /api/v1/tasks/5/events": () => [200, { events: [] }],
      "GET /api/v1/tasks/5/attempts": () => attempts,
      "GET /api/v1/tasks/5/logs": () => logs,
    });
    vi.stubGlobal("fetch", api.fn);
    const stream = new EventStream({ url: "ws://test/api/v1/events", createSocket: (u) => new FakeSocket(u) });
    stream.start();
    render(
      <StreamProvider stream={stream}>
        <TaskDetails id={5} onClose={() => {}} />
      </StreamProvider>,
    );
    const sock = FakeSocket.last();
    const send = (msg: unknown) => act(() => sock.receive(msg));
    const calls = (what: string) => api.calls.filter((c) => c.url === `/api/v1/tasks/5/${what}`).length;
    send({ event: "hello", seq: 1 });

    const details = await screen.findByTestId("task-details");
    await waitFor(() => expect(within(details).getAllByTestId("attempt-row")).toHaveLength(1));
    expect(within(details).getByTestId("attempt-outcome").textContent).toBe("running");
    expect(within(details).getAllByTestId("log-line").map((l) => l.textContent)).toEqual(["[attempt 1] starting"]);
    // The initial load, then one more for the stream's initial resync (hello).
    await waitFor(() => expect({ attempts: calls("attempts"), logs: calls("logs") }).toEqual({ attempts: 2, logs: 2 }));
    const first = { attempts: calls("attempts"), logs: calls("logs") };

    // A burst of changes to this task → one reload; a change of another task → none.
    attempts = [200, { task_id: 5, attempts: [attempt(1), attempt(2)] }];
    logs = [200, { task_id: 5, lines: ["[attempt 1] starting", "[attempt 1] <b>bold</b>", "[attempt 2] <b>bold</b>"] }];
    send({ seq: 2, event: "task", task: makeTask({ id: 5, status: "pending", attempts: 1, updated_at: "2026-01-01T00:00:01Z" }) });
    send({ seq: 3, event: "task", task: makeTask({ id: 5, status: "in_progress", attempts: 2, updated_at: "2026-01-01T00:00:02Z" }) });
    send({ seq: 4, event: "task", task: makeTask({ id: 5, status: "failed", attempts: 2, updated_at: "2026-01-01T00:00:03Z" }) });
    send({ seq: 5, event: "task", task: makeTask({ id: 6, status: "failed" }) });
    await waitFor(() => expect(within(details).getAllByTestId("attempt-row")).toHaveLength(2));
    await waitFor(() => expect(within(details).getAllByTestId("log-line")).toHaveLength(3));
    expect(within(details).getAllByTestId("attempt-detail").map((d) => d.textContent)).toEqual(["exit 3", "exit 3"]);
    expect(within(details).getByTestId("task-logs").querySelector("b")).toBeNull();
    expect(within(details).getAllByText("[attempt 1] <b>bold</b>")).toHaveLength(1);
    expect({ attempts: calls("attempts"), logs: calls("logs") }).toEqual({
      attempts: first.attempts + 1,
      logs: first.logs + 1,
    });

    // A server error shows inline and keeps what was shown; the rest of the view is intact.
    attempts = [500, { error: { code: "internal", message: "storage unavailable" } }];
    send({ seq: 6, event: "task", task: makeTask({ id: 5, status: "failed", attempts: 2, updated_at: "2026-01-01T00:00:04Z" }) });
    expect((await within(details).findByTestId("attempts-error")).textContent).toBe("attempts: storage unavailable");
    expect(within(details).getAllByTestId("attempt-row")).toHaveLength(2);
    expect(within(details).getByTestId("details-status").textContent).toBe("failed");
    expect(within(details).queryByTestId("logs-error")).toBeNull();

    // Deleted: 404s are not errors.
    attempts = [404, { error: { code: "not_found", message: "task 5 not found" } }];
    logs = [404, { error: { code: "not_found", message: "task 5 not found" } }];
    send({ seq: 7, event: "task", task: makeTask({ id: 5, status: "failed", attempts: 2, updated_at: "2026-01-01T00:00:05Z" }) });
    await waitFor(() => expect(within(details).queryByTestId("attempts-error")).toBeNull());
    expect(within(details).queryByTestId("logs-error")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
    stream.stop();
  });

  it("shows nothing (and no error) for a task whose debug endpoints 404", async () => {
    const api = stubFetch({
      "GET /api/v1/tasks/8": () => [200, makeTask({ id: 8, status: "completed" })],
      "GET /api/v1/tasks/8/events": () => [200, { events: [] }],
      "GET /api/v1/tasks/8/logs": () => [200, { task_id: 8, lines: [] }],
    });
    vi.stubGlobal("fetch", api.fn);
    render(<TaskDetails id={8} onClose={() => {}} />);
    const details = await screen.findByTestId("task-details");
    await waitFor(() => expect(within(details).getByTestId("task-logs").textContent).toBe("no log lines"));
    await waitFor(() => expect(api.calls.some((c) => c.url === "/api/v1/tasks/8/attempts")).toBe(true));
    expect(within(details).queryByTestId("attempts")).toBeNull();
    expect(within(details).queryByTestId("attempts-error")).toBeNull();
    expect(within(details).getByTestId("details-status").textContent).toBe("completed");
  });
});
