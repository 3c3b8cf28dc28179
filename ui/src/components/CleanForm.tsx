import { useState } from "react";
import type { TypeInfo } from "../api/types";
import { cleanAction, minutesToMs, type AdminAction } from "../lib/adminActions";
import { api } from "../api/client";
import { ConfirmableButton } from "./ConfirmableButton";

interface Props {
  types: readonly TypeInfo[];
  pendingKey: string | null;
  busy: boolean;
  onRequest: (a: AdminAction) => void;
  onConfirm: () => void;
  onCancel: () => void;
}

export function CleanForm({ types, ...controls }: Props) {
  const [minutes, setMinutes] = useState("60");
  const [type, setType] = useState("");
  const ms = minutesToMs(minutes);
  const action = cleanAction(ms ?? 0, type, api);
  return (
    <section className="card clean">
      <h2>Delete finished tasks</h2>
      <div className="row">
        <label>
          finished more than (minutes) ago
          <input
            data-testid="clean-age"
            type="number"
            min="0"
            step="any"
            value={minutes}
            aria-invalid={ms === null}
            onChange={(e) => {
              setMinutes(e.target.value);
              if (controls.pendingKey === "clean") controls.onCancel();
            }}
          />
        </label>
        <label>
          type
          <select
            data-testid="clean-type"
            value={type}
            onChange={(e) => {
              setType(e.target.value);
              if (controls.pendingKey === "clean") controls.onCancel();
            }}
          >
            <option value="">all types</option>
            {types.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
        <ConfirmableButton action={action} disabled={ms === null} {...controls} />
      </div>
      {ms === null && <p className="error">Enter a number of minutes ≥ 0.</p>}
      <p className="muted small">Completed, failed, abandoned and cancelled tasks only; pending and running are kept.</p>
    </section>
  );
}
