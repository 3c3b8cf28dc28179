import { createContext, useContext, useEffect, useRef, useSyncExternalStore, type ReactNode } from "react";
import type { ChangeEvent } from "../api/types";
import type { ConnectionState, EventStream, ResyncReason } from "../lib/eventStream";

const StreamContext = createContext<EventStream | null>(null);

export function StreamProvider({ stream, children }: { stream: EventStream | null; children: ReactNode }) {
  return <StreamContext.Provider value={stream}>{children}</StreamContext.Provider>;
}

export function useStream(): EventStream | null {
  return useContext(StreamContext);
}

const noop = () => () => {};

export function useConnectionState(): ConnectionState {
  const stream = useStream();
  return useSyncExternalStore(
    stream ? (cb) => stream.onState(() => cb()) : noop,
    () => stream?.state ?? "reconnecting",
  );
}

export interface StreamHandlers {
  onEvent?: (ev: ChangeEvent) => void;
  onResync?: (seq: number, reason: ResyncReason) => void;
}

/** Subscribes to the stream for the component's lifetime; handlers may change every render. */
export function useStreamEvents(handlers: StreamHandlers): void {
  const stream = useStream();
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    if (!stream) return undefined;
    const offEvent = stream.onEvent((ev) => ref.current.onEvent?.(ev));
    const offResync = stream.onResync((seq, reason) => ref.current.onResync?.(seq, reason));
    return () => {
      offEvent();
      offResync();
    };
  }, [stream]);
}
