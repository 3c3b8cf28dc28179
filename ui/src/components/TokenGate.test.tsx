import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { announceUnauthorized, getToken, setToken } from "../lib/auth";
import { TokenGate } from "./TokenGate";

describe("TokenGate", () => {
  afterEach(() => sessionStorage.clear());

  it("stays hidden until the server answers 401, then keeps the token and reloads", () => {
    const reload = vi.fn();
    render(<TokenGate reload={reload} />);
    expect(screen.queryByTestId("token-gate")).toBeNull();
    act(() => announceUnauthorized());
    expect(screen.getByTestId("token-gate")).toBeTruthy();
    expect(screen.queryByTestId("token-rejected")).toBeNull();
    fireEvent.change(screen.getByTestId("token-input"), { target: { value: "  s3cret " } });
    fireEvent.click(screen.getByTestId("token-submit"));
    expect(getToken()).toBe("s3cret");
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it("says so when the kept token is refused", () => {
    setToken("old");
    render(<TokenGate reload={() => {}} />);
    act(() => announceUnauthorized());
    expect(screen.getByTestId("token-rejected").textContent).toBe("The token was refused.");
  });
});
