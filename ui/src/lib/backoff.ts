export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 5000 };

/** Un-jittered delay before reconnect attempt `attempt` (0-based): 250, 500, 1000, … capped. */
export function backoffCeiling(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const exp = Math.min(attempt, 30); // avoid overflow
  return Math.min(opts.maxMs, opts.baseMs * 2 ** exp);
}

/**
 * Delay with "equal jitter": uniformly in [ceiling/2, ceiling], so clients that lost the same
 * server don't all come back at the same instant. `random` returns [0, 1).
 */
export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  opts: BackoffOptions = DEFAULT_BACKOFF,
): number {
  const ceiling = backoffCeiling(attempt, opts);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
