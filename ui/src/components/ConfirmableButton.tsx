import type { AdminAction } from "../lib/adminActions";

interface Props {
  action: AdminAction;
  pendingKey: string | null;
  busy: boolean;
  disabled?: boolean;
  onRequest: (a: AdminAction) => void;
  onConfirm: () => void;
  onCancel: () => void;
}

/** A button whose first click asks in-page ("confirm-action"); no window.confirm. */
export function ConfirmableButton({ action, pendingKey, busy, disabled, onRequest, onConfirm, onCancel }: Props) {
  if (pendingKey === action.key) {
    return (
      <span className="confirm" role="group" aria-label="confirm">
        <span className="question">{action.question}</span>
        <button
          type="button"
          className={action.danger ? "danger" : "primary"}
          data-testid="confirm-action"
          disabled={busy}
          onClick={onConfirm}
        >
          {busy ? "Working…" : `Yes, ${action.label.toLowerCase()}`}
        </button>
        <button type="button" data-testid="cancel-action" disabled={busy} onClick={onCancel}>
          No
        </button>
      </span>
    );
  }
  return (
    <button
      type="button"
      className={action.danger ? "danger-outline" : undefined}
      data-testid={action.testId}
      disabled={busy || disabled}
      onClick={() => onRequest(action)}
    >
      {action.label}
    </button>
  );
}
