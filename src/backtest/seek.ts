// Finding a revision by trade time in a trade stream, which has no time index: binary search over revisions.

/**
 * The first position in `[low, high)` whose time is after `afterMicros` (`high` when there is none),
 * reading one time per probe: about log2(high − low) probes. Correct when times are non-decreasing in stream
 * order; with late (out-of-order) trades it lands on *a* boundary, which is why callers step back a margin.
 */
export async function firstPositionAfter(
  low: number,
  high: number,
  afterMicros: number,
  timeAt: (position: number) => Promise<number>,
): Promise<number> {
  while (low < high) {
    const middle = low + Math.floor((high - low) / 2);
    if ((await timeAt(middle)) > afterMicros) high = middle;
    else low = middle + 1;
  }
  return low;
}
