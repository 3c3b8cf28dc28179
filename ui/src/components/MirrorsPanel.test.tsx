import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { MirrorsPanel } from "./MirrorsPanel";

describe("MirrorsPanel", () => {
  it("shows each mirror's state, lag and last error as text", () => {
    render(
      <MirrorsPanel
        mirrors={[
          { sink: "postgres", state: "retrying", cursor: 10, lag_events: 32, errors: 4, last_error: "<img src=x onerror=alert(1)>" },
          { sink: "redis", state: "ok", cursor: 42, lag_events: 0, errors: 0, last_error: null },
        ]}
      />,
    );
    const rows = screen.getAllByTestId("mirror-row");
    expect(rows.map((r) => r.dataset.sink)).toEqual(["postgres", "redis"]);
    const pg = within(rows[0]);
    expect(pg.getByTestId("mirror-state").textContent).toBe("retrying");
    expect(pg.getByTestId("mirror-state").className).toContain("warn");
    expect(pg.getByTestId("mirror-lag").textContent).toBe("32");
    expect(pg.getByTestId("mirror-errors").textContent).toBe("4");
    expect(pg.getByTestId("mirror-error").textContent).toBe("<img src=x onerror=alert(1)>");
    expect(document.querySelector("img")).toBeNull();
    expect(within(rows[1]).getByTestId("mirror-error").textContent).toBe("—");
  });

  it("renders nothing without mirrors", () => {
    const { container } = render(<MirrorsPanel mirrors={[]} />);
    expect(container.innerHTML).toBe("");
  });
});
