import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/feeds/backoff.ts';

describe('backoffDelay', () => {
  const backoff = { baseMs: 500, maxMs: 30_000 };

  it('doubles from the base up to the maximum, with the upper half left to chance', () => {
    const lowest = Array.from({ length: 10 }, (_, attempt) => backoffDelay(attempt, backoff, () => 0));
    const highest = Array.from({ length: 10 }, (_, attempt) => backoffDelay(attempt, backoff, () => 1));
    expect(highest).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000]);
    expect(lowest).toEqual(highest.map((ceiling) => ceiling / 2));
    expect(backoffDelay(1_000, backoff, () => 0.5)).toBe(22_500);
  });
});
