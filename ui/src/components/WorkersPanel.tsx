import type { WorkerInfo } from "../api/types";
import { formatAge } from "../lib/format";

/** Remote workers that leased tasks since taskd started (types with handler "worker"). */
export function WorkersPanel({ workers, now }: { workers: WorkerInfo[]; now: number }) {
  if (workers.length === 0) return null;
  return (
    <section className="card" data-testid="workers">
      <h2>Workers</h2>
      <table className="mirrors">
        <thead>
          <tr>
            <th>worker</th>
            <th>types</th>
            <th>tasks leased now</th>
            <th>last seen</th>
          </tr>
        </thead>
        <tbody>
          {workers.map((w) => (
            <tr key={w.id} data-testid="worker-row" data-worker={w.id}>
              <td className="mono">{w.id}</td>
              <td data-testid="worker-types">{w.types.join(", ")}</td>
              <td data-testid="worker-in-flight">{w.in_flight}</td>
              <td data-testid="worker-last-seen" title={w.last_seen}>
                {formatAge(w.last_seen, now)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
