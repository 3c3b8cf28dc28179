import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { makeTask } from "../test/fixtures";
import { TaskTable } from "./TaskTable";

const XSS = "<img src=x onerror=alert(1)>";
const now = Date.parse("2026-01-01T00:00:10.000Z");

describe("TaskTable", () => {
  it("renders server strings as text, never as HTML", () => {
    const { container } = render(
      <TaskTable
        tasks={[makeTask({ id: 7, type: XSS, status: "failed", error: XSS, payload: { x: XSS } })]}
        now={now}
        selectedId={null}
        onSelect={() => {}}
      />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getAllByText(XSS)).toHaveLength(2); // type and error cells
  });

  it("gives every row and status badge its test ids", () => {
    render(
      <TaskTable
        tasks={[
          makeTask({ id: 3, status: "completed", attempts: 1, started_at: "2026-01-01T00:00:01.000Z", finished_at: "2026-01-01T00:00:01.500Z" }),
          makeTask({ id: 2, status: "in_progress", attempts: 2 }),
        ]}
        now={now}
        selectedId={null}
        onSelect={() => {}}
      />,
    );
    const rows = screen.getAllByTestId("task-row");
    expect(rows.map((r) => r.getAttribute("data-task-id"))).toEqual(["3", "2"]);
    const badges = screen.getAllByTestId("task-status");
    expect(badges.map((b) => [b.getAttribute("data-task-id"), b.textContent])).toEqual([
      ["3", "completed"],
      ["2", "in_progress"],
    ]);
    expect(rows[0].textContent).toContain("1/3");
    expect(rows[0].textContent).toContain("500ms");
    expect(rows[0].textContent).toContain("10s");
  });

  it("opens a task on click", () => {
    const onSelect = vi.fn();
    render(<TaskTable tasks={[makeTask({ id: 9 })]} now={now} selectedId={null} onSelect={onSelect} />);
    fireEvent.click(screen.getByTestId("task-row"));
    expect(onSelect).toHaveBeenCalledWith(9);
  });
});
