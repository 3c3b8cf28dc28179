import { useConnectionState } from "../hooks/stream";

export function ConnectionIndicator() {
  const state = useConnectionState();
  return (
    <span className={`conn conn-${state}`} data-testid="connection" data-state={state} title="event stream">
      {state}
    </span>
  );
}
