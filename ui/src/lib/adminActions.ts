import type { api as apiClient } from "../api/client";
import type { TypeInfo } from "../api/types";

type Api = Pick<typeof apiClient, "pauseType" | "resumeType" | "retryFailed" | "cancelPending" | "clean">;

export interface ActionOutcome {
  message: string;
  count?: number;
}

/** An admin action that needs a visible confirm click before it runs. */
export interface AdminAction {
  /** Unique on the page: which action is waiting for confirmation. */
  key: string;
  testId: string;
  label: string;
  question: string;
  danger: boolean;
  run: () => Promise<ActionOutcome>;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function typeActions(t: TypeInfo, client: Api): AdminAction[] {
  const name = t.name;
  const pauseResume: AdminAction = t.paused
    ? {
        key: `resume:${name}`,
        testId: "resume-type",
        label: "Resume",
        question: `Resume ${name}?`,
        danger: false,
        run: async () => (await client.resumeType(name), { message: `${name} resumed` }),
      }
    : {
        key: `pause:${name}`,
        testId: "pause-type",
        label: "Pause",
        question: `Pause ${name}? Tasks are still accepted but not run.`,
        danger: false,
        run: async () => (await client.pauseType(name), { message: `${name} paused` }),
      };
  return [
    pauseResume,
    {
      key: `retry-failed:${name}`,
      testId: "retry-failed",
      label: "Retry failed",
      question: `Retry all failed and abandoned ${name} tasks?`,
      danger: false,
      run: async () => {
        const { count } = await client.retryFailed(name);
        return { count, message: `Retried ${plural(count, "failed task")} of ${name}` };
      },
    },
    {
      key: `cancel-pending:${name}`,
      testId: "cancel-pending",
      label: "Cancel pending",
      question: `Cancel all pending ${name} tasks?`,
      danger: true,
      run: async () => {
        const { count } = await client.cancelPending(name);
        return { count, message: `Cancelled ${plural(count, "pending task")} of ${name}` };
      },
    },
  ];
}

/** Minutes from the clean form's field → ms; null when not a number ≥ 0. */
export function minutesToMs(text: string): number | null {
  const t = text.trim();
  if (t === "") return null;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) return null;
  return Math.round(n * 60_000);
}

export function cleanAction(olderThanMs: number, type: string, client: Api): AdminAction {
  const scope = type ? `${type} tasks` : "tasks";
  const mins = olderThanMs / 60_000;
  return {
    key: "clean",
    testId: "clean-tasks",
    label: "Delete",
    question: `Delete finished ${scope} that finished more than ${mins} min ago?`,
    danger: true,
    run: async () => {
      const { count } = await client.clean(olderThanMs, type || undefined);
      return { count, message: `Deleted ${plural(count, "finished task")}` };
    },
  };
}
