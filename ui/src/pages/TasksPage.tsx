import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { Task, TaskFilters, TypeInfo } from "../api/types";
import { CreateTaskForm } from "../components/CreateTaskForm";
import { TaskDetails } from "../components/TaskDetails";
import { TaskFilterBar } from "../components/TaskFilterBar";
import { TaskTable } from "../components/TaskTable";
import { useNow } from "../hooks/useNow";
import { useStreamEvents } from "../hooks/stream";
import { useTaskList } from "../hooks/useTaskList";
import { FIRST_CURSOR, newerCursor, olderCursor, type Cursor } from "../lib/taskPage";

export const PAGE_SIZE = 50;

function initialSelection(): number | null {
  const v = Number(new URLSearchParams(window.location.search).get("task"));
  return Number.isInteger(v) && v > 0 ? v : null;
}

export function TasksPage() {
  const [types, setTypes] = useState<TypeInfo[]>([]);
  const [typesError, setTypesError] = useState<string | null>(null);
  const [filters, setFilters] = useState<TaskFilters>({ status: "", type: "" });
  const [cursor, setCursor] = useState<Cursor>(FIRST_CURSOR);
  const [selected, setSelected] = useState<number | null>(initialSelection);
  const list = useTaskList(filters, cursor, PAGE_SIZE);
  const now = useNow();

  const loadTypes = () =>
    api.types().then(
      (t) => {
        setTypes(t);
        setTypesError(null);
      },
      (e: unknown) => setTypesError(e instanceof Error ? e.message : String(e)),
    );
  useEffect(() => {
    void loadTypes();
  }, []);
  useStreamEvents({ onResync: () => void loadTypes() });

  // Keep ?task=ID in the address so a reload reopens the same task.
  useEffect(() => {
    const url = new URL(window.location.href);
    if (selected === null) url.searchParams.delete("task");
    else url.searchParams.set("task", String(selected));
    window.history.replaceState(null, "", url);
  }, [selected]);

  function onCreated(task: Task) {
    list.upsert(task);
    setSelected(task.id);
  }

  const { page } = list;
  const firstPage = cursor.after === null;
  return (
    <div className="tasks-page">
      {typesError && (
        <p className="error" role="alert">
          Could not load task types: {typesError}
        </p>
      )}
      <CreateTaskForm types={types} onCreated={onCreated} />
      <div className="split">
        <section className="card list">
          <div className="row">
            <h2>Tasks</h2>
            <TaskFilterBar
              filters={filters}
              types={types}
              onChange={(f) => {
                setFilters(f);
                setCursor(FIRST_CURSOR);
              }}
            />
            <span className="spacer" />
            {list.loading && <span className="muted">loading…</span>}
          </div>
          {list.error && (
            <p className="error" role="alert" data-testid="list-error">
              {list.error}
            </p>
          )}
          <TaskTable tasks={page.tasks} now={now} selectedId={selected} onSelect={setSelected} />
          <div className="row pager">
            <button
              type="button"
              data-testid="page-newer"
              disabled={firstPage}
              onClick={() => setCursor(newerCursor(cursor))}
            >
              ← newer
            </button>
            <button type="button" data-testid="page-first" disabled={firstPage} onClick={() => setCursor(FIRST_CURSOR)}>
              newest
            </button>
            <span className="muted">
              page {cursor.history.length + 1}
              {page.tasks.length > 0 && ` · #${page.tasks[0].id}–#${page.tasks[page.tasks.length - 1].id}`}
            </span>
            <button
              type="button"
              data-testid="page-older"
              disabled={page.nextAfter === null}
              onClick={() => page.nextAfter !== null && setCursor(olderCursor(cursor, page.nextAfter))}
            >
              older →
            </button>
          </div>
        </section>
        {selected !== null && (
          <TaskDetails key={selected} id={selected} onClose={() => setSelected(null)} onChanged={list.upsert} />
        )}
      </div>
    </div>
  );
}
