// Finding a revision by trade time in a trade stream, which has no time index: a search over revisions
// with single-event reads.

/**
 * Probes per round. Each read is a round trip, so latency is what a seek costs; reading three
 * positions at once splits the range in four per round: log4(n) rounds (10 for a million trades)
 * instead of log2(n) (20), for half again as many reads, which the store serves side by side.
 */
export const PROBES_PER_ROUND = 3;

/**
 * The first position in `[low, high)` whose time is after `afterMicros` (`high` when there is none).
 * Correct when times are non-decreasing in stream order; with late (out-of-order) trades it lands on
 * *a* boundary, which is why callers step back a margin. `timeAt` is called concurrently within a round.
 */
export async function firstPositionAfter(
  low: number,
  high: number,
  afterMicros: number,
  timeAt: (position: number) => Promise<number>,
  probesPerRound = PROBES_PER_ROUND,
): Promise<number> {
  while (low < high) {
    const span = high - low;
    const probes = new Set<number>();
    for (let part = 1; part <= probesPerRound; part += 1) {
      probes.add(low + Math.floor((span * part) / (probesPerRound + 1)));
    }
    const positions = [...probes].sort((a, b) => a - b);
    const times = await Promise.all(positions.map(timeAt));
    const first = times.findIndex((time) => time > afterMicros);
    if (first < 0) {
      low = positions[positions.length - 1]! + 1;
    } else {
      high = positions[first]!;
      if (first > 0) low = positions[first - 1]! + 1;
    }
  }
  return low;
}
