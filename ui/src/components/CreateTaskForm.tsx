import { useState, type FormEvent } from "react";
import { api, errorMessage } from "../api/client";
import type { CreateTaskRequest, Task, TaskMode, TypeInfo } from "../api/types";
import { parseOptionalNumber, parsePayload } from "../lib/validate";

interface Props {
  types: readonly TypeInfo[];
  onCreated: (task: Task) => void;
}

export function CreateTaskForm({ types, onCreated }: Props) {
  const [typeName, setTypeName] = useState("");
  const [payload, setPayload] = useState("{}");
  const [modeOverride, setModeOverride] = useState<TaskMode | "">("");
  const [priority, setPriority] = useState("0");
  const [delay, setDelay] = useState("");
  const [busy, setBusy] = useState(false);
  const [serverError, setServerError] = useState<string | null>(null);
  const [created, setCreated] = useState<Task | null>(null);

  const type = types.find((t) => t.name === typeName) ?? types[0];
  const typeMode: TaskMode = type?.mode === "sync" ? "sync" : "async";
  const mode = modeOverride || typeMode;
  const parsed = parsePayload(payload);
  const prio = parseOptionalNumber("priority", priority);
  const delayMs = parseOptionalNumber("delay_ms", delay);
  const fieldError = !prio.ok ? prio.error : !delayMs.ok ? delayMs.error : null;
  const canSubmit = !!type && parsed.ok && !fieldError && !busy;

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!canSubmit || !type || !parsed.ok || !prio.ok || !delayMs.ok) return;
    const req: CreateTaskRequest = { type: type.name, payload: parsed.value };
    if (mode !== typeMode) req.mode = mode;
    if (prio.value !== undefined) req.priority = prio.value;
    if (delayMs.value !== undefined) req.delay_ms = delayMs.value;
    setBusy(true);
    setServerError(null);
    try {
      const task = await api.createTask(req);
      setCreated(task);
      onCreated(task);
    } catch (err) {
      setServerError(errorMessage(err));
      setCreated(null);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="create card" onSubmit={submit} aria-label="create task">
      <h2>New task</h2>
      <div className="row">
        <label>
          type
          <select
            data-testid="create-type"
            value={type?.name ?? ""}
            onChange={(e) => {
              setTypeName(e.target.value);
              setModeOverride("");
            }}
          >
            {types.length === 0 && <option value="">(loading…)</option>}
            {types.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          mode
          <select data-testid="create-mode" value={mode} onChange={(e) => setModeOverride(e.target.value as TaskMode)}>
            <option value="async">async</option>
            <option value="sync">sync</option>
          </select>
        </label>
        <label>
          priority
          <input
            data-testid="create-priority"
            type="number"
            step="1"
            value={priority}
            onChange={(e) => setPriority(e.target.value)}
          />
        </label>
        <label>
          delay (ms)
          <input
            data-testid="create-delay"
            type="number"
            min="0"
            step="1"
            placeholder="none"
            value={delay}
            onChange={(e) => setDelay(e.target.value)}
          />
        </label>
      </div>
      <label className="block">
        payload (JSON)
        <textarea
          data-testid="create-payload"
          rows={5}
          spellCheck={false}
          value={payload}
          aria-invalid={!parsed.ok}
          onChange={(e) => setPayload(e.target.value)}
        />
      </label>
      {!parsed.ok && (
        <div className="error" data-testid="payload-error" role="alert">
          {parsed.error}
        </div>
      )}
      {fieldError && (
        <div className="error" data-testid="field-error" role="alert">
          {fieldError}
        </div>
      )}
      <div className="row">
        <button type="submit" data-testid="create-task" disabled={!canSubmit}>
          {busy ? (mode === "sync" ? "Running…" : "Creating…") : "Create task"}
        </button>
        {serverError && (
          <span className="error" data-testid="create-error" role="alert">
            {serverError}
          </span>
        )}
        {created && !serverError && (
          <span className="ok" data-testid="create-result">
            Created task #{created.id} ({created.status})
          </span>
        )}
      </div>
    </form>
  );
}
