import type { Task } from "../api/types";
import { formatAge, formatTaskDuration } from "../lib/format";
import { StatusBadge } from "./StatusBadge";

interface Props {
  tasks: readonly Task[];
  now: number;
  selectedId: number | null;
  onSelect: (id: number) => void;
}

export function TaskTable({ tasks, now, selectedId, onSelect }: Props) {
  return (
    <table className="tasks" data-testid="task-table">
      <thead>
        <tr>
          <th>id</th>
          <th>type</th>
          <th>status</th>
          <th>attempts</th>
          <th>age</th>
          <th>duration</th>
          <th>error</th>
        </tr>
      </thead>
      <tbody>
        {tasks.length === 0 && (
          <tr>
            <td colSpan={7} className="empty">
              No tasks.
            </td>
          </tr>
        )}
        {tasks.map((t) => (
          <tr
            key={t.id}
            data-testid="task-row"
            data-task-id={t.id}
            className={t.id === selectedId ? "selected" : undefined}
            onClick={() => onSelect(t.id)}
            tabIndex={0}
            onKeyDown={(e) => {
              if (e.key === "Enter") onSelect(t.id);
            }}
          >
            <td className="num">{t.id}</td>
            <td>{t.type}</td>
            <td>
              <StatusBadge status={t.status} testId="task-status" taskId={t.id} />
            </td>
            <td className="num">
              {t.attempts}/{t.max_attempts}
            </td>
            <td className="num">{formatAge(t.created_at, now)}</td>
            <td className="num">{formatTaskDuration(t, now)}</td>
            <td className="err" title={t.error ?? undefined}>
              {t.error ?? ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
