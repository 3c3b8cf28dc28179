import { useCallback, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { TypeInfo } from "../api/types";
import { CleanForm } from "../components/CleanForm";
import { InfoPanel } from "../components/InfoPanel";
import { MirrorsPanel } from "../components/MirrorsPanel";
import { WorkersPanel } from "../components/WorkersPanel";
import { TypeTable } from "../components/TypeTable";
import { useNow } from "../hooks/useNow";
import { usePoll } from "../hooks/usePoll";
import { useStreamEvents } from "../hooks/stream";
import { typeActions, type ActionOutcome, type AdminAction } from "../lib/adminActions";

export const POLL_MS = 2000;

type Outcome = ({ ok: true } & ActionOutcome) | { ok: false; message: string };

export function AdminPage() {
  const types = usePoll(api.types, POLL_MS);
  const info = usePoll(api.info, POLL_MS);
  const workers = usePoll(api.workers, POLL_MS);
  const now = useNow();
  const [pending, setPending] = useState<AdminAction | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  useStreamEvents({ onResync: () => types.refresh() });

  const confirm = useCallback(async () => {
    if (!pending) return;
    setBusy(true);
    try {
      const r = await pending.run();
      setOutcome({ ok: true, ...r });
    } catch (e) {
      setOutcome({ ok: false, message: errorMessage(e) });
    } finally {
      setBusy(false);
      setPending(null);
      types.refresh();
      info.refresh();
    }
  }, [pending, types, info]);

  const controls = {
    pendingKey: pending?.key ?? null,
    busy,
    onRequest: (a: AdminAction) => {
      setPending(a);
      setOutcome(null);
    },
    onConfirm: () => void confirm(),
    onCancel: () => setPending(null),
  };
  const list: TypeInfo[] = types.data ?? [];

  return (
    <div className="admin-page">
      {outcome && (
        <p
          className={outcome.ok ? "ok banner" : "error banner"}
          data-testid={outcome.ok ? "action-result" : "action-error"}
          data-count={outcome.ok ? outcome.count : undefined}
          role="status"
        >
          {outcome.message}
        </p>
      )}
      <section className="card">
        <h2>Task types</h2>
        {types.error && (
          <p className="error" role="alert">
            {types.error}
          </p>
        )}
        <TypeTable types={list} now={now} actionsFor={(t) => typeActions(t, api)} {...controls} />
      </section>
      <div className="split">
        <CleanForm types={list} {...controls} />
        <InfoPanel info={info.data} error={info.error} />
      </div>
      <WorkersPanel workers={workers.data?.workers ?? []} now={now} />
      <MirrorsPanel mirrors={info.data?.mirrors ?? []} />
    </div>
  );
}
