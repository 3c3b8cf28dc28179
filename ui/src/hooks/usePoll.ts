import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage } from "../api/client";

export interface Polled<T> {
  data: T | null;
  error: string | null;
  refresh: () => void;
}

/** Calls `fetcher` now and every `intervalMs`; keeps the last good data when a poll fails. */
export function usePoll<T>(fetcher: () => Promise<T>, intervalMs: number): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const seq = useRef(0);
  const inFlight = useRef(0);

  const refresh = useCallback(() => {
    const my = ++seq.current;
    inFlight.current++;
    fetcherRef
      .current()
      .then(
        (d) => {
          if (my !== seq.current) return;
          setData(d);
          setError(null);
        },
        (e: unknown) => {
          if (my === seq.current) setError(errorMessage(e));
        },
      )
      .finally(() => inFlight.current--);
  }, []);

  useEffect(() => {
    refresh();
    // A slow server is not piled up on: the timer skips while a poll is outstanding.
    const t = setInterval(() => {
      if (inFlight.current === 0) refresh();
    }, intervalMs);
    return () => {
      clearInterval(t);
      seq.current++;
    };
  }, [refresh, intervalMs]);

  return { data, error, refresh };
}
