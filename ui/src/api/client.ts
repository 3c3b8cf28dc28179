import type {
  AdminInfo,
  CreateTaskRequest,
  Task,
  TaskFilters,
  TaskPage,
  TimelineEntry,
  TypeInfo,
  WorkerInfo,
} from "./types";
import { announceUnauthorized, getToken } from "../lib/auth";

/** A non-2xx answer: `message` is the server's error.message when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = getToken();
  const init: RequestInit = {
    method,
    headers: { Accept: "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", `cannot reach taskd: ${errorMessage(e)}`);
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.status === 401) announceUnauthorized();
  if (!res.ok) {
    const err = (data as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof err?.code === "string" ? err.code : `http_${res.status}`;
    const message = typeof err?.message === "string" ? err.message : `HTTP ${res.status} ${res.statusText}`.trim();
    throw new ApiError(res.status, code, message);
  }
  return data as T;
}

export function listQuery(filters: TaskFilters, limit: number, after: number | null): string {
  const q = new URLSearchParams();
  if (filters.status) q.set("status", filters.status);
  if (filters.type) q.set("type", filters.type);
  q.set("limit", String(limit));
  if (after !== null) q.set("after", String(after));
  q.set("order", "desc");
  return q.toString();
}

const enc = encodeURIComponent;

export const api = {
  types: () => request<{ types: TypeInfo[] }>("GET", "/api/v1/types").then((r) => r.types),
  createTask: (req: CreateTaskRequest) => request<Task>("POST", "/api/v1/tasks", req),
  listTasks: (filters: TaskFilters, limit: number, after: number | null) =>
    request<TaskPage>("GET", `/api/v1/tasks?${listQuery(filters, limit, after)}`),
  getTask: (id: number) => request<Task>("GET", `/api/v1/tasks/${id}`),
  taskEvents: (id: number) =>
    request<{ events: TimelineEntry[] }>("GET", `/api/v1/tasks/${id}/events`).then((r) => r.events),
  /** Raw answers: validated/normalised by lib/taskDebug (parseAttempts, parseLogLines). */
  taskAttempts: (id: number) => request<unknown>("GET", `/api/v1/tasks/${id}/attempts`),
  taskLogs: (id: number) => request<unknown>("GET", `/api/v1/tasks/${id}/logs`),
  retryTask: (id: number) => request<Task>("POST", `/api/v1/tasks/${id}/retry`),
  cancelTask: (id: number) => request<Task>("POST", `/api/v1/tasks/${id}/cancel`),
  promoteTask: (id: number) => request<Task>("POST", `/api/v1/tasks/${id}/promote`),
  deleteTask: (id: number) => request<unknown>("DELETE", `/api/v1/tasks/${id}`),
  pauseType: (name: string) => request<TypeInfo>("POST", `/api/v1/types/${enc(name)}/pause`),
  resumeType: (name: string) => request<TypeInfo>("POST", `/api/v1/types/${enc(name)}/resume`),
  retryFailed: (name: string) => request<{ count: number }>("POST", `/api/v1/types/${enc(name)}/retry-failed`),
  cancelPending: (name: string) =>
    request<{ count: number }>("POST", `/api/v1/types/${enc(name)}/cancel-pending`),
  clean: (olderThanMs: number, type?: string) =>
    request<{ count: number }>("POST", "/api/v1/tasks/clean", {
      older_than_ms: olderThanMs,
      ...(type ? { type } : {}),
    }),
  info: () => request<AdminInfo>("GET", "/api/v1/admin/info"),
  workers: () => request<{ workers: WorkerInfo[] }>("GET", "/api/v1/workers"),
};
