import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, errorMessage } from "../api/client";
import type { TaskAttempt } from "../api/types";
import { parseAttempts, parseLogLines, trailingThrottle, type Throttle } from "../lib/taskDebug";
import { useStreamEvents } from "./stream";

/** Live changes of the task reload its attempts and logs at most this often. */
export const DEBUG_REFRESH_MS = 300;

export interface TaskDebugState {
  /** null until the first answer (or when the task was never found). */
  attempts: TaskAttempt[] | null;
  attemptsError: string | null;
  logs: string[] | null;
  logsError: string | null;
}

interface Slot<T> {
  data: T | null;
  error: string | null;
}

const EMPTY: Slot<never> = { data: null, error: null };

/**
 * A task's attempts and log lines, loaded on mount and again (throttled) whenever the event
 * stream reports a change of the task or resyncs. Failures stay per endpoint and keep the
 * last good data; a 404 (the task is gone) is not an error.
 */
export function useTaskDebug(id: number, refreshMs = DEBUG_REFRESH_MS): TaskDebugState {
  const [attempts, setAttempts] = useState<Slot<TaskAttempt[]>>(EMPTY);
  const [logs, setLogs] = useState<Slot<string[]>>(EMPTY);
  // Answers may overtake each other: only one newer than the last applied one is used.
  const seq = useRef(0);
  const applied = useRef({ attempts: 0, logs: 0 });
  const alive = useRef(true);

  const load = useCallback(() => {
    const my = ++seq.current;
    function fetchInto<T>(
      key: "attempts" | "logs",
      get: () => Promise<unknown>,
      parse: (raw: unknown) => T,
      set: (f: (prev: Slot<T>) => Slot<T>) => void,
    ) {
      get().then(
        (raw) => {
          if (!alive.current || my <= applied.current[key]) return;
          applied.current[key] = my;
          set(() => ({ data: parse(raw), error: null }));
        },
        (e: unknown) => {
          if (!alive.current || my <= applied.current[key]) return;
          applied.current[key] = my;
          const gone = e instanceof ApiError && e.status === 404;
          set((prev) => ({ data: prev.data, error: gone ? null : errorMessage(e) }));
        },
      );
    }
    fetchInto("attempts", () => api.taskAttempts(id), parseAttempts, setAttempts);
    fetchInto("logs", () => api.taskLogs(id), parseLogLines, setLogs);
  }, [id]);

  const throttle = useRef<Throttle | null>(null);
  useEffect(() => {
    alive.current = true;
    applied.current = { attempts: 0, logs: 0 };
    setAttempts(EMPTY);
    setLogs(EMPTY);
    const t = trailingThrottle(load, refreshMs);
    throttle.current = t;
    load();
    return () => {
      alive.current = false;
      t.cancel();
      throttle.current = null;
    };
  }, [load, refreshMs]);

  useStreamEvents({
    onEvent: (ev) => {
      if (ev.event === "task" && ev.task.id === id) throttle.current?.trigger();
    },
    onResync: () => throttle.current?.trigger(),
  });

  return { attempts: attempts.data, attemptsError: attempts.error, logs: logs.data, logsError: logs.error };
}
