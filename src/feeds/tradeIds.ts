// Which Coinbase trade ids of a product have been seen: the newest, and the open gaps below it. Tells the
// connector whether a match is new, fills a gap (a late trade: two ids swapped in flight, or one a
// heartbeat showed missing that a reconnect's last_match brings), or was seen already (a re-send).
// No I/O: the connector logs and counts what the answers say.

/** Open gaps kept per product; past this the oldest are forgotten and their trades, should they come, are taken for re-sends. */
export const MAX_OPEN_GAPS = 1_000;

export type MatchVerdict =
  | { kind: 'next' }
  /** New, after ids that never came: `after` is the newest id seen before, `missed` how many lie between. */
  | { kind: 'gap'; after: number; missed: number }
  | { kind: 'late' }
  | { kind: 'duplicate' };

export interface TradeIdTracker {
  /** Call only for a match the store would record: a refused one must not move anything. */
  match(product: string, tradeId: number): MatchVerdict;
  /** A heartbeat's last_trade_id ahead of the newest id seen is a gap (its trades may yet come, late). */
  heartbeat(product: string, lastTradeId: number): { after: number; missed: number } | undefined;
}

interface ProductIds {
  /** The newest id seen in a match or reported by a heartbeat. */
  through: number;
  /** Inclusive ranges of ids below `through` not seen yet, oldest first, never overlapping. */
  gaps: { from: number; to: number }[];
}

export function createTradeIdTracker(maxOpenGaps = MAX_OPEN_GAPS): TradeIdTracker {
  const products = new Map<string, ProductIds>();

  function openGap(ids: ProductIds, to: number): { after: number; missed: number } {
    const after = ids.through;
    ids.gaps.push({ from: after + 1, to });
    if (ids.gaps.length > maxOpenGaps) ids.gaps.shift();
    ids.through = to;
    return { after, missed: to - after };
  }

  /** Takes the id out of the gap holding it; false when no open gap holds it. */
  function fill(ids: ProductIds, tradeId: number): boolean {
    const index = ids.gaps.findIndex((gap) => gap.from <= tradeId && tradeId <= gap.to);
    const gap = ids.gaps[index];
    if (!gap) return false;
    const parts = [
      ...(gap.from < tradeId ? [{ from: gap.from, to: tradeId - 1 }] : []),
      ...(tradeId < gap.to ? [{ from: tradeId + 1, to: gap.to }] : []),
    ];
    ids.gaps.splice(index, 1, ...parts);
    if (ids.gaps.length > maxOpenGaps) ids.gaps.shift();
    return true;
  }

  return {
    match(product, tradeId) {
      const ids = products.get(product);
      if (!ids) {
        products.set(product, { through: tradeId, gaps: [] });
        return { kind: 'next' };
      }
      if (tradeId === ids.through + 1) {
        ids.through = tradeId;
        return { kind: 'next' };
      }
      if (tradeId > ids.through) {
        const { after, missed } = openGap(ids, tradeId - 1);
        ids.through = tradeId;
        return { kind: 'gap', after, missed };
      }
      return fill(ids, tradeId) ? { kind: 'late' } : { kind: 'duplicate' };
    },
    heartbeat(product, lastTradeId) {
      const ids = products.get(product);
      if (!ids || lastTradeId <= ids.through) return undefined;
      return openGap(ids, lastTradeId);
    },
  };
}
