import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { WorkersPanel } from "./WorkersPanel";

describe("WorkersPanel", () => {
  it("lists each worker with its types, leased tasks and last contact, as text", () => {
    const now = Date.parse("2026-11-28T10:00:10Z");
    render(
      <WorkersPanel
        now={now}
        workers={[
          { id: "<b>host-1</b>:42", last_seen: "2026-11-28T10:00:05Z", types: ["render", "voice"], in_flight: 3 },
          { id: "host-2:7", last_seen: "2026-11-28T09:58:10Z", types: ["render"], in_flight: 0 },
        ]}
      />,
    );
    const rows = screen.getAllByTestId("worker-row");
    expect(rows).toHaveLength(2);
    expect(rows[0].querySelector("b")).toBeNull();
    expect(rows[0].textContent).toContain("<b>host-1</b>:42");
    expect(within(rows[0]).getByTestId("worker-types").textContent).toBe("render, voice");
    expect(within(rows[0]).getByTestId("worker-in-flight").textContent).toBe("3");
    expect(within(rows[0]).getByTestId("worker-last-seen").textContent).toBe("5.0s");
    expect(within(rows[1]).getByTestId("worker-last-seen").textContent).toBe("2m 00s");
  });

  it("renders nothing without workers", () => {
    const { container } = render(<WorkersPanel workers={[]} now={0} />);
    expect(container.innerHTML).toBe("");
  });
});
