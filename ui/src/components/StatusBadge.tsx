/** Status text in a coloured pill. The class only uses [a-z_] so server text can't inject one. */
export function StatusBadge({ status, testId, taskId }: { status: string; testId: string; taskId?: number }) {
  const cls = status.replace(/[^a-z_]/g, "");
  return (
    <span className={`badge badge-${cls}`} data-testid={testId} data-task-id={taskId}>
      {status}
    </span>
  );
}
