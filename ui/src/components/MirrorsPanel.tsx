import type { MirrorInfo } from "../api/types";

const stateClass: Record<string, string> = {
  ok: "ok",
  resyncing: "busy",
  starting: "busy",
  retrying: "warn",
  refused: "bad",
};

/** The [bridge] mirrors: state, changes not yet applied, failed writes, the last error. */
export function MirrorsPanel({ mirrors }: { mirrors: MirrorInfo[] }) {
  if (mirrors.length === 0) return null;
  return (
    <section className="card" data-testid="mirrors">
      <h2>Mirrors</h2>
      <table className="mirrors">
        <thead>
          <tr>
            <th>sink</th>
            <th>state</th>
            <th title="changes in taskd's change log not yet applied by the mirror">behind</th>
            <th>applied through seq</th>
            <th>failed writes</th>
            <th>last error</th>
          </tr>
        </thead>
        <tbody>
          {mirrors.map((m) => (
            <tr key={m.sink} data-testid="mirror-row" data-sink={m.sink}>
              <td className="mono">{m.sink}</td>
              <td>
                <span className={`mirror-state ${stateClass[m.state] ?? ""}`} data-testid="mirror-state">
                  {m.state}
                </span>
              </td>
              <td data-testid="mirror-lag">{m.lag_events}</td>
              <td data-testid="mirror-cursor">{m.cursor}</td>
              <td data-testid="mirror-errors">{m.errors}</td>
              <td className="mono wrap" data-testid="mirror-error">
                {m.last_error ?? "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
