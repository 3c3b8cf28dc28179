import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { makeTask, makeType, stubFetch } from "../test/fixtures";
import { CreateTaskForm } from "./CreateTaskForm";

const types = [makeType({ name: "echo", mode: "async" }), makeType({ name: "voice", mode: "sync" })];

function payloadBox() {
  return screen.getByTestId("create-payload") as HTMLTextAreaElement;
}
function submitButton() {
  return screen.getByTestId("create-task") as HTMLButtonElement;
}

describe("CreateTaskForm", () => {
  it("disables submit and explains while the payload is not JSON", () => {
    render(<CreateTaskForm types={types} onCreated={() => {}} />);
    expect(submitButton().disabled).toBe(false);
    fireEvent.change(payloadBox(), { target: { value: '{"a": ' } });
    expect(submitButton().disabled).toBe(true);
    expect(screen.getByTestId("payload-error").textContent).toMatch(/Invalid JSON/);
    fireEvent.change(payloadBox(), { target: { value: '{"a": 1}' } });
    expect(submitButton().disabled).toBe(false);
    expect(screen.queryByTestId("payload-error")).toBeNull();
  });

  it("defaults the mode to the type's mode", () => {
    render(<CreateTaskForm types={types} onCreated={() => {}} />);
    const mode = screen.getByTestId("create-mode") as HTMLSelectElement;
    expect(mode.value).toBe("async");
    fireEvent.change(screen.getByTestId("create-type"), { target: { value: "voice" } });
    expect(mode.value).toBe("sync");
  });

  it("posts the task and reports it", async () => {
    const api = stubFetch({ "POST /api/v1/tasks": () => [201, makeTask({ id: 12, type: "echo" })] });
    vi.stubGlobal("fetch", api.fn);
    const onCreated = vi.fn();
    render(<CreateTaskForm types={types} onCreated={onCreated} />);
    fireEvent.change(payloadBox(), { target: { value: '{"hello":"world"}' } });
    fireEvent.change(screen.getByTestId("create-priority"), { target: { value: "5" } });
    fireEvent.change(screen.getByTestId("create-delay"), { target: { value: "1000" } });
    fireEvent.click(submitButton());
    await waitFor(() => expect(onCreated).toHaveBeenCalled());
    expect(api.calls[0].body).toEqual({ type: "echo", payload: { hello: "world" }, priority: 5, delay_ms: 1000 });
    expect(screen.getByTestId("create-result").textContent).toContain("#12");
  });

  it("shows the server's 4xx message inline, as text", async () => {
    const msg = "priority: must be an integer between -1000 and 1000 <b>x</b>";
    vi.stubGlobal("fetch", stubFetch({ "POST /api/v1/tasks": () => [400, { error: { code: "invalid_request", message: msg } }] }).fn);
    const { container } = render(<CreateTaskForm types={types} onCreated={() => {}} />);
    fireEvent.change(screen.getByTestId("create-priority"), { target: { value: "1.5" } });
    fireEvent.click(submitButton());
    expect(await screen.findByTestId("create-error")).toHaveProperty("textContent", msg);
    expect(container.querySelector("b")).toBeNull();
  });
});
