import type { AdminInfo } from "../api/types";
import { formatBytes, formatUptime } from "../lib/format";

export function InfoPanel({ info, error }: { info: AdminInfo | null; error: string | null }) {
  return (
    <section className="card info" data-testid="engine-info">
      <h2>Engine</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {info ? (
        <dl className="facts">
          <dt>version</dt>
          <dd data-testid="info-version">{info.version}</dd>
          <dt>uptime</dt>
          <dd data-testid="info-uptime">{formatUptime(info.uptime_s)}</dd>
          <dt>data dir</dt>
          <dd className="mono" data-testid="info-data-dir">
            {info.data_dir}
          </dd>
          <dt>disk size</dt>
          <dd data-testid="info-disk" title={`${info.disk_bytes} bytes`}>
            {formatBytes(info.disk_bytes)}
          </dd>
          <dt>head seq</dt>
          <dd data-testid="info-head-seq">{info.head_seq}</dd>
          <dt>live subscribers</dt>
          <dd data-testid="info-subscribers">{info.subscribers}</dd>
        </dl>
      ) : (
        !error && <p className="muted">Loading…</p>
      )}
    </section>
  );
}
