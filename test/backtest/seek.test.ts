import { describe, expect, it } from 'vitest';
import { firstPositionAfter } from '../../src/backtest/seek.ts';

function probeCounter(times: readonly number[]) {
  const probe = { count: 0, timeAt: async (position: number) => (probe.count++, times[position]!) };
  return probe;
}

describe('firstPositionAfter', () => {
  const times = Array.from({ length: 100_000 }, (_, i) => Math.floor(i / 3) * 10); // runs of equal times

  it.each([
    [-1, 0],
    [0, 3],
    [5, 3],
    [10, 6],
    [333_320, 99_999],
    [333_330, 100_000],
  ])(
    'finds the first time after %d at %d, in about log4(n) rounds of three probes',
    async (after, expected) => {
      const probe = probeCounter(times);
      expect(await firstPositionAfter(0, times.length, after, probe.timeAt)).toBe(expected);
      expect(probe.count).toBeLessThanOrEqual(3 * (Math.ceil(Math.log(times.length) / Math.log(4)) + 1));
    },
  );

  it('is a plain binary search with one probe per round', async () => {
    const probe = probeCounter(times);
    expect(await firstPositionAfter(0, times.length, 10, probe.timeAt, 1)).toBe(6);
    expect(probe.count).toBeLessThanOrEqual(Math.ceil(Math.log2(times.length)) + 1);
  });

  it('searches only inside its bounds', async () => {
    const probe = probeCounter(times);
    expect(await firstPositionAfter(50, 60, 0, probe.timeAt)).toBe(50);
    expect(await firstPositionAfter(50, 60, 1_000_000, probe.timeAt)).toBe(60);
    expect(await firstPositionAfter(0, 0, 5, probe.timeAt)).toBe(0);
  });
});
