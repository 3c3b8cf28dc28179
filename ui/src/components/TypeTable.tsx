import type { TypeInfo } from "../api/types";
import { formatAge, formatThroughput } from "../lib/format";
import type { AdminAction } from "../lib/adminActions";
import { ConfirmableButton } from "./ConfirmableButton";

export interface ActionControls {
  pendingKey: string | null;
  busy: boolean;
  actionsFor: (t: TypeInfo) => AdminAction[];
  onRequest: (a: AdminAction) => void;
  onConfirm: () => void;
  onCancel: () => void;
}

interface Props extends ActionControls {
  types: readonly TypeInfo[];
  now: number;
}

const COUNT_COLUMNS = ["in_progress", "completed", "failed", "abandoned", "cancelled"] as const;

export function TypeTable({ types, now, ...controls }: Props) {
  return (
    <table className="types" data-testid="type-table">
      <thead>
        <tr>
          <th>type</th>
          <th>state</th>
          <th>running</th>
          <th>pending</th>
          <th>oldest pending</th>
          {COUNT_COLUMNS.map((c) => (
            <th key={c}>{c}</th>
          ))}
          <th>throughput</th>
          <th>actions</th>
        </tr>
      </thead>
      <tbody>
        {types.length === 0 && (
          <tr>
            <td colSpan={12} className="empty">
              No task types.
            </td>
          </tr>
        )}
        {types.map((t) => (
          <TypeRow key={t.name} t={t} now={now} {...controls} />
        ))}
      </tbody>
    </table>
  );
}

function TypeRow({ t, now, actionsFor, ...controls }: { t: TypeInfo; now: number } & ActionControls) {
  const pending = t.counts?.pending ?? 0;
  const maxPending = t.max_pending === null || t.max_pending === undefined ? "" : ` / ${t.max_pending}`;
  return (
    <tr data-testid="type-row" data-type={t.name}>
      <td>
        <strong>{t.name}</strong>
        <div className="muted small">
          {t.handler} · {t.mode} · max {t.max_attempts} attempts
        </div>
      </td>
      <td>
        <span className={`badge ${t.paused ? "badge-paused" : "badge-active"}`} data-testid="type-paused">
          {t.paused ? "paused" : "active"}
        </span>
      </td>
      <td className="num" data-testid="type-running">
        {t.running ?? 0}/{t.concurrency}
      </td>
      <td className="num" data-testid="count-pending">
        {pending}
        {maxPending}
      </td>
      <td className="num" data-testid="type-oldest">
        {t.oldest_pending_at ? formatAge(t.oldest_pending_at, now) : "—"}
      </td>
      {COUNT_COLUMNS.map((c) => (
        <td key={c} className="num" data-testid={`count-${c}`}>
          {t.counts?.[c] ?? 0}
        </td>
      ))}
      <td className="num" data-testid="type-throughput" title={`${t.completed_last_minute ?? 0} completed in the last minute`}>
        {formatThroughput(t.throughput_per_s ?? 0)}
        <div className="muted small">{t.completed_last_minute ?? 0}/min</div>
      </td>
      <td className="actions">
        {actionsFor(t).map((a) => (
          <ConfirmableButton key={a.key} action={a} {...controls} />
        ))}
      </td>
    </tr>
  );
}
