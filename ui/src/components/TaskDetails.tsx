import { useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Task } from "../api/types";
import { useNow } from "../hooks/useNow";
import { useTaskDebug } from "../hooks/useTaskDebug";
import { useTaskDetails } from "../hooks/useTaskDetails";
import { formatAge, formatTaskDuration, isFutureTime, prettyJson } from "../lib/format";
import { StatusBadge } from "./StatusBadge";
import { AttemptsTable, TaskLogs } from "./TaskDebug";
import { Timeline } from "./Timeline";

interface Props {
  id: number;
  onClose: () => void;
  onChanged?: (task: Task) => void;
}

export function TaskDetails({ id, onClose, onChanged }: Props) {
  const { task, timeline, deleted, error, update } = useTaskDetails(id);
  const debug = useTaskDebug(id);
  const now = useNow();
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);

  async function act(fn: (id: number) => Promise<Task>) {
    setBusy(true);
    setActionError(null);
    try {
      const t = await fn(id);
      update(t);
      onChanged?.(t);
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    setActionError(null);
    try {
      await api.deleteTask(id);
      onClose();
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setBusy(false);
      setConfirmDelete(false);
    }
  }

  return (
    <section className="details card" data-testid="task-details" data-task-id={id} aria-label={`task ${id}`}>
      <header className="row">
        <h2>Task #{id}</h2>
        {task && <StatusBadge status={task.status} testId="details-status" taskId={task.id} />}
        {deleted && <span className="badge badge-deleted">deleted</span>}
        <span className="spacer" />
        <button type="button" className="link" onClick={onClose} data-testid="close-details">
          close
        </button>
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!task && !error && <p className="muted">Loading…</p>}
      {task && (
        <>
          <div className="row actions">
            {(task.status === "failed" || task.status === "abandoned") && (
              <button type="button" data-testid="retry-task" disabled={busy} onClick={() => act(api.retryTask)}>
                Retry
              </button>
            )}
            {task.status === "pending" && (
              <button type="button" data-testid="cancel-task" disabled={busy} onClick={() => act(api.cancelTask)}>
                Cancel
              </button>
            )}
            {task.status === "pending" && isFutureTime(task.run_at, now) && (
              <button type="button" data-testid="promote-task" disabled={busy} onClick={() => act(api.promoteTask)}>
                Run now
              </button>
            )}
            {!deleted &&
              (confirmDelete ? (
                <>
                  <button type="button" className="danger" data-testid="confirm-action" disabled={busy} onClick={remove}>
                    Confirm delete #{id}
                  </button>
                  <button type="button" data-testid="cancel-action" onClick={() => setConfirmDelete(false)}>
                    Keep
                  </button>
                </>
              ) : (
                <button type="button" data-testid="delete-task" disabled={busy} onClick={() => setConfirmDelete(true)}>
                  Delete
                </button>
              ))}
            {actionError && (
              <span className="error" data-testid="details-error" role="alert">
                {actionError}
              </span>
            )}
          </div>
          <dl className="facts">
            <dt>type</dt>
            <dd data-testid="details-type">{task.type}</dd>
            <dt>mode</dt>
            <dd>{task.mode}</dd>
            <dt>priority</dt>
            <dd>{task.priority}</dd>
            <dt>attempts</dt>
            <dd data-testid="details-attempts">
              {task.attempts}/{task.max_attempts}
            </dd>
            <dt>backoff</dt>
            <dd>
              {task.backoff?.type} {task.backoff?.delay_ms} ms, timeout {task.timeout_ms} ms
            </dd>
            <dt>created</dt>
            <dd className="mono">
              {task.created_at} ({formatAge(task.created_at, now)} ago)
            </dd>
            <dt>run at</dt>
            <dd className="mono">{task.run_at}</dd>
            <dt>started</dt>
            <dd className="mono">{task.started_at ?? "—"}</dd>
            <dt>finished</dt>
            <dd className="mono">{task.finished_at ?? "—"}</dd>
            <dt>duration</dt>
            <dd>{formatTaskDuration(task, now)}</dd>
            <dt>updated</dt>
            <dd className="mono">{task.updated_at}</dd>
            {task.idempotency_key !== null && task.idempotency_key !== undefined && (
              <>
                <dt>idempotency key</dt>
                <dd className="mono">{task.idempotency_key}</dd>
              </>
            )}
          </dl>
          <h3>payload</h3>
          <pre data-testid="task-payload">{prettyJson(task.payload)}</pre>
          <h3>result</h3>
          <pre data-testid="task-result">{prettyJson(task.result)}</pre>
          <h3>error</h3>
          <pre className="err" data-testid="task-error">
            {task.error ?? "—"}
          </pre>
          <h3>attempts</h3>
          <AttemptsTable attempts={debug.attempts} error={debug.attemptsError} now={now} />
          <h3>logs</h3>
          <TaskLogs lines={debug.logs} error={debug.logsError} />
          <h3>timeline</h3>
          <Timeline entries={timeline} />
        </>
      )}
    </section>
  );
}
