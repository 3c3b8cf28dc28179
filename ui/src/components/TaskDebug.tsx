import type { TaskAttempt } from "../api/types";
import { formatAttemptDetail, formatAttemptDuration } from "../lib/taskDebug";
import { StatusBadge } from "./StatusBadge";

/** One row per run of the task. Server text (error, detail) is rendered as text only. */
export function AttemptsTable({
  attempts,
  error,
  now,
}: {
  attempts: readonly TaskAttempt[] | null;
  error: string | null;
  now: number;
}) {
  return (
    <>
      {error && (
        <p className="error" data-testid="attempts-error">
          attempts: {error}
        </p>
      )}
      {attempts !== null && attempts.length === 0 && (
        <p className="muted" data-testid="attempts-empty">
          No attempts yet.
        </p>
      )}
      {attempts !== null && attempts.length > 0 && (
        <div className="table-scroll">
          <table className="attempts" data-testid="attempts">
            <thead>
              <tr>
                <th>#</th>
                <th>started</th>
                <th>duration</th>
                <th>outcome</th>
                <th>error</th>
                <th>detail</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={a.attempt} data-testid="attempt-row" data-attempt={a.attempt}>
                  <td className="num">{a.attempt}</td>
                  <td className="mono">{a.started_at ?? "—"}</td>
                  <td className="num">{formatAttemptDuration(a, now)}</td>
                  <td>
                    <StatusBadge status={a.outcome} testId="attempt-outcome" />
                  </td>
                  <td className="err" title={a.error ?? undefined}>
                    {a.error ?? ""}
                  </td>
                  <td className="mono detail" data-testid="attempt-detail">
                    {formatAttemptDetail(a.detail)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** The task's captured output, one element per line, as text. */
export function TaskLogs({ lines, error }: { lines: readonly string[] | null; error: string | null }) {
  return (
    <>
      {error && (
        <p className="error" data-testid="logs-error">
          logs: {error}
        </p>
      )}
      {lines !== null && (
        <div className="logs mono" data-testid="task-logs">
          {lines.length === 0 ? (
            <span className="muted">no log lines</span>
          ) : (
            lines.map((line, i) => (
              <div key={i} className="log-line" data-testid="log-line">
                {line}
              </div>
            ))
          )}
        </div>
      )}
    </>
  );
}
