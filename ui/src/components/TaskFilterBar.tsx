import { TASK_STATUSES, type TaskFilters, type TypeInfo } from "../api/types";

interface Props {
  filters: TaskFilters;
  types: readonly TypeInfo[];
  onChange: (f: TaskFilters) => void;
}

export function TaskFilterBar({ filters, types, onChange }: Props) {
  return (
    <div className="row filters">
      <label>
        status
        <select
          data-testid="filter-status"
          value={filters.status}
          onChange={(e) => onChange({ ...filters, status: e.target.value })}
        >
          <option value="">any</option>
          {TASK_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        type
        <select
          data-testid="filter-type"
          value={filters.type}
          onChange={(e) => onChange({ ...filters, type: e.target.value })}
        >
          <option value="">any</option>
          {types.map((t) => (
            <option key={t.name} value={t.name}>
              {t.name}
            </option>
          ))}
          {filters.type && !types.some((t) => t.name === filters.type) && (
            <option value={filters.type}>{filters.type}</option>
          )}
        </select>
      </label>
    </div>
  );
}
