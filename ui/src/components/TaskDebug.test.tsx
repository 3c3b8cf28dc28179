import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { TaskAttempt } from "../api/types";
import { AttemptsTable, TaskLogs } from "./TaskDebug";

const now = Date.parse("2026-01-01T00:00:10.000Z");

function attempt(over: Partial<TaskAttempt>): TaskAttempt {
  return {
    attempt: 1,
    started_at: "2026-01-01T00:00:00.000Z",
    ended_at: "2026-01-01T00:00:00.013Z",
    duration_ms: 13,
    outcome: "failed",
    error: null,
    detail: null,
    ...over,
  };
}

describe("AttemptsTable", () => {
  it("renders one row per attempt with outcome, error and short detail", () => {
    render(
      <AttemptsTable
        now={now}
        error={null}
        attempts={[
          attempt({ attempt: 1, error: "exit code 3: <img src=x onerror=alert(1)>", detail: { exit_code: 3 } }),
          attempt({ attempt: 2, outcome: "failed", detail: { signal: 9, signal_name: "SIGKILL" } }),
          attempt({ attempt: 3, outcome: "failed", detail: { timed_out: true, signal: 9, signal_name: "SIGKILL" } }),
          attempt({ attempt: 4, outcome: "failed", detail: { http_status: 503 } }),
          attempt({ attempt: 5, outcome: "running", started_at: "2026-01-01T00:00:08.000Z", ended_at: null, duration_ms: null }),
        ]}
      />,
    );
    const rows = screen.getAllByTestId("attempt-row");
    expect(rows.map((r) => r.getAttribute("data-attempt"))).toEqual(["1", "2", "3", "4", "5"]);
    expect(screen.getAllByTestId("attempt-detail").map((d) => d.textContent)).toEqual([
      "exit 3",
      "signal 9 (SIGKILL)",
      "timed out",
      "HTTP 503",
      "",
    ]);
    expect(screen.getAllByTestId("attempt-outcome").map((b) => b.textContent)).toEqual([
      "failed",
      "failed",
      "failed",
      "failed",
      "running",
    ]);
    expect(rows[0].textContent).toContain("13ms");
    expect(rows[0].textContent).toContain("exit code 3: <img src=x onerror=alert(1)>");
    expect(rows[4].textContent).toContain("2.0s");
    expect(document.querySelector("img")).toBeNull();
    expect(screen.queryByTestId("attempts-error")).toBeNull();
  });

  it("says when there are none, shows errors inline, and nothing before the first answer", () => {
    const { rerender } = render(<AttemptsTable now={now} error={null} attempts={[]} />);
    expect(screen.getByTestId("attempts-empty").textContent).toBe("No attempts yet.");
    expect(screen.queryByTestId("attempts")).toBeNull();
    rerender(<AttemptsTable now={now} error="boom" attempts={null} />);
    expect(screen.getByTestId("attempts-error").textContent).toBe("attempts: boom");
    expect(screen.queryByTestId("attempts-empty")).toBeNull();
    rerender(<AttemptsTable now={now} error={null} attempts={null} />);
    expect(screen.queryByTestId("attempts-error")).toBeNull();
    expect(screen.queryByTestId("attempts")).toBeNull();
  });
});

describe("TaskLogs", () => {
  it("renders one line per entry, HTML-looking lines as text", () => {
    const lines = ["[attempt 1] starting", "[attempt 1] <b>html</b>", "", "[attempt 2] <script>alert(1)</script>"];
    render(<TaskLogs lines={lines} error={null} />);
    const block = screen.getByTestId("task-logs");
    expect(within(block).getAllByTestId("log-line").map((l) => l.textContent)).toEqual(lines);
    expect(block.querySelector("b")).toBeNull();
    expect(block.querySelector("script")).toBeNull();
    expect(within(block).getByText("[attempt 1] <b>html</b>")).toBeTruthy();
  });

  it("says 'no log lines' when empty and shows errors inline", () => {
    const { rerender } = render(<TaskLogs lines={[]} error={null} />);
    expect(screen.getByTestId("task-logs").textContent).toBe("no log lines");
    expect(screen.queryAllByTestId("log-line")).toHaveLength(0);
    rerender(<TaskLogs lines={["kept"]} error="HTTP 500" />);
    expect(screen.getByTestId("logs-error").textContent).toBe("logs: HTTP 500");
    expect(screen.getByTestId("log-line").textContent).toBe("kept");
  });
});
