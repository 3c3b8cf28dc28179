import { useCallback, useEffect, useRef, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { ChangeEvent, Task, TaskFilters } from "../api/types";
import {
  applyEvent,
  applyEvents,
  EMPTY_PAGE,
  upsertTask,
  type Cursor,
  type PageContext,
  type PageState,
} from "../lib/taskPage";
import { useStreamEvents } from "./stream";

export interface TaskList {
  page: PageState;
  loading: boolean;
  error: string | null;
  reload: () => void;
  /** Shows a task we got from a REST answer (e.g. the one just created). */
  upsert: (task: Task) => void;
}

/** One server-side page of tasks for `filters`/`cursor`, kept current from the event stream. */
export function useTaskList(filters: TaskFilters, cursor: Cursor, limit: number): TaskList {
  const [page, setPage] = useState<PageState>(EMPTY_PAGE);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const ctx: PageContext = { filters, firstPage: cursor.after === null, limit };
  const ctxRef = useRef(ctx);
  ctxRef.current = ctx;
  // Changes that arrive while a page is being fetched are applied on top of it afterwards.
  const loadId = useRef(0);
  const queued = useRef<ChangeEvent[] | null>(null);

  const { status, type } = filters;
  const after = cursor.after;
  const reload = useCallback(() => {
    const my = ++loadId.current;
    queued.current = [];
    setLoading(true);
    api.listTasks({ status, type }, limit, after).then(
      (r) => {
        if (my !== loadId.current) return;
        const q = queued.current ?? [];
        queued.current = null;
        // A fresh page starts at lastSeq -1: after a reset the stream's seq may have gone down.
        setPage(applyEvents({ tasks: r.tasks, nextAfter: r.next_after, lastSeq: -1 }, q, ctxRef.current));
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (my !== loadId.current) return;
        queued.current = null;
        setError(errorMessage(e));
        setLoading(false);
      },
    );
  }, [status, type, after, limit]);

  useEffect(() => {
    reload();
  }, [reload]);

  useStreamEvents({
    onEvent: (ev) => {
      if (queued.current) queued.current.push(ev);
      else setPage((p) => applyEvent(p, ev, ctxRef.current));
    },
    onResync: () => reload(),
  });

  const upsert = useCallback((task: Task) => setPage((p) => upsertTask(p, task, ctxRef.current)), []);

  return { page, loading, error, reload, upsert };
}
