// Reconnect and retry delays: exponential with jitter, so many clients that lost the same server do not
// come back in lockstep.

export interface Backoff {
  /** Delay ceiling of the first retry, in ms. */
  baseMs: number;
  /** The ceiling never grows past this, in ms. */
  maxMs: number;
}

/** "Equal jitter": half the exponential ceiling for sure, the other half at random. */
export function backoffDelay(
  attempt: number,
  { baseMs, maxMs }: Backoff,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
