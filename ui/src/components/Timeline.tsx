import type { TimelineEntry } from "../api/types";
import { StatusBadge } from "./StatusBadge";

export function Timeline({ entries }: { entries: readonly TimelineEntry[] }) {
  if (entries.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <table className="timeline" data-testid="timeline">
      <thead>
        <tr>
          <th>seq</th>
          <th>status</th>
          <th>attempts</th>
          <th>error</th>
          <th>updated_at</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.seq} data-testid="timeline-entry" data-seq={e.seq}>
            <td className="num">{e.seq}</td>
            <td>
              <StatusBadge status={e.task.status} testId="timeline-status" />
            </td>
            <td className="num">
              {e.task.attempts}/{e.task.max_attempts}
            </td>
            <td className="err">{e.task.error ?? ""}</td>
            <td className="mono">{e.task.updated_at}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
