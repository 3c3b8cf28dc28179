import { useCallback, useEffect, useRef, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Task, TimelineEntry } from "../api/types";
import { mergeTimeline, shouldReplace, type TaskSource } from "../lib/taskPage";
import { useStreamEvents } from "./stream";

export interface TaskDetailsState {
  task: Task | null;
  timeline: TimelineEntry[];
  deleted: boolean;
  error: string | null;
  /** Takes a task from an action's answer (retry/cancel/promote). */
  update: (task: Task) => void;
}

function newest(prev: Task | null, next: Task, source: TaskSource = "answer"): Task {
  return prev && prev.id === next.id && !shouldReplace(next, prev, source) ? prev : next;
}

/** A task and its timeline, loaded over REST and merged with live changes by seq. */
export function useTaskDetails(id: number): TaskDetailsState {
  const [task, setTask] = useState<Task | null>(null);
  const [timeline, setTimeline] = useState<TimelineEntry[]>([]);
  const [deleted, setDeleted] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const loadId = useRef(0);

  const load = useCallback(() => {
    const my = ++loadId.current;
    Promise.all([api.getTask(id), api.taskEvents(id)]).then(
      ([t, events]) => {
        if (my !== loadId.current) return;
        setTask((prev) => newest(prev, t));
        setTimeline((prev) => mergeTimeline(prev, events));
        setError(null);
      },
      (e: unknown) => {
        if (my === loadId.current) setError(errorMessage(e));
      },
    );
  }, [id]);

  useEffect(() => {
    setTask(null);
    setTimeline([]);
    setDeleted(false);
    setError(null);
    load();
    return () => {
      loadId.current++;
    };
  }, [load]);

  useStreamEvents({
    onEvent: (ev) => {
      if (ev.event === "deleted") {
        if (ev.id === id) setDeleted(true);
        return;
      }
      if (ev.task.id !== id) return;
      setTask((prev) => newest(prev, ev.task, "event"));
      setTimeline((prev) => mergeTimeline(prev, [ev]));
    },
    onResync: () => {
      setTimeline([]);
      load();
    },
  });

  const update = useCallback((t: Task) => setTask((prev) => newest(prev, t)), []);
  return { task, timeline, deleted, error, update };
}
