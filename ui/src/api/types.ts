export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const TASK_STATUSES = [
  "pending",
  "in_progress",
  "completed",
  "failed",
  "abandoned",
  "cancelled",
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type TaskMode = "async" | "sync";

export interface Backoff {
  type: "exponential" | "fixed" | string;
  delay_ms: number;
}

export interface Task {
  id: number;
  type: string;
  payload: Json;
  status: TaskStatus | string;
  mode: TaskMode | string;
  priority: number;
  attempts: number;
  max_attempts: number;
  backoff: Backoff;
  timeout_ms: number;
  result: Json;
  error: string | null;
  run_at: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  idempotency_key: string | null;
}

export type StatusCounts = Record<TaskStatus, number>;

export interface TypeInfo {
  name: string;
  handler: string;
  mode: TaskMode | string;
  concurrency: number;
  max_attempts: number;
  backoff: Backoff;
  timeout_ms: number;
  max_pending: number | null;
  running: number;
  counts: StatusCounts;
  paused: boolean;
  oldest_pending_at: string | null;
  completed_last_minute: number;
  throughput_per_s: number;
}

export interface TaskPage {
  tasks: Task[];
  next_after: number | null;
}

export interface TimelineEntry {
  seq: number;
  event: "task";
  task: Task;
}

/** How one run of a task ended (GET /api/v1/tasks/{id}/attempts). */
export type AttemptOutcome = "running" | "completed" | "failed" | "stalled" | "lost";

/** Handler-specific facts about an attempt: exec exit code/signal/timeout, HTTP status. */
export interface AttemptDetail {
  exit_code?: number;
  signal?: number;
  signal_name?: string;
  timed_out?: boolean;
  http_status?: number;
  [key: string]: Json | undefined;
}

export interface TaskAttempt {
  attempt: number;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  outcome: AttemptOutcome | string;
  error: string | null;
  detail: AttemptDetail | null;
}

export interface TaskAttempts {
  task_id: number;
  attempts: TaskAttempt[];
}

export interface TaskLogs {
  task_id: number;
  lines: string[];
}

/** A remote worker (GET /api/v1/workers). */
export interface WorkerInfo {
  id: string;
  last_seen: string;
  types: string[];
  in_flight: number;
}

/** A [bridge] mirror (PostgreSQL or Redis) and how far behind the change log it is. */
export interface MirrorInfo {
  sink: string;
  state: "starting" | "resyncing" | "ok" | "retrying" | "refused" | string;
  cursor: number;
  lag_events: number;
  errors: number;
  last_error: string | null;
}

export interface AdminInfo {
  version: string;
  uptime_s: number;
  data_dir: string;
  disk_bytes: number;
  head_seq: number;
  subscribers: number;
  /** Absent from servers older than the bridge. */
  mirrors?: MirrorInfo[];
}

export interface CreateTaskRequest {
  type: string;
  payload: Json;
  mode?: TaskMode;
  priority?: number;
  delay_ms?: number;
}

export interface TaskFilters {
  status: string; // "" = any
  type: string; // "" = any
}

// Messages on the /api/v1/events WebSocket.
export type ServerMessage =
  | { event: "hello"; seq: number }
  | { event: "reset"; seq: number }
  | { event: "task"; seq: number; task: Task }
  | { event: "deleted"; seq: number; id: number };

export type ChangeEvent = Extract<ServerMessage, { event: "task" } | { event: "deleted" }>;
