// Which trades a product stream holds, by identity (source, tradeId), and at about which revision: the
// writer's memory of its stream, so that a trade is appended only when it is not there yet. Pure.
//
// Compact for the usual case: a venue's integer trade ids come mostly consecutive, so per source they
// are kept as runs `lo..hi` of ids that are all present (a million trades in order are one run). Any
// other id (UUIDs, ids with leading zeros) goes in a map of its own. A run also keeps the revisions its
// trades are stored between, so a stored trade can be found again without reading the whole stream.

/** An id kept in runs: a canonical decimal integer, exact as a JS number. */
const INTEGER_ID = /^(0|[1-9][0-9]{0,14})$/;

interface Run {
  lo: number;
  hi: number;
  /** The lowest and highest revision of a trade in this run. */
  from: number;
  to: number;
}

interface SourceTrades {
  /** Sorted by `lo`; never overlapping nor touching (touching runs are merged). */
  runs: Run[];
  others: Map<string, number>;
}

/** Where a stored trade is: at one of `guesses` when its run was written in order (either way), else somewhere in `from..to`. */
export interface TradeLocation {
  readonly guesses: readonly number[];
  readonly from: number;
  readonly to: number;
}

/** The index as JSON: per source, runs flattened as `[lo, hi, from, to, …]` and the other ids with their revision. */
export interface TradeIndexSnapshot {
  readonly sources: Record<string, { readonly runs: number[]; readonly others: Record<string, number> }>;
}

export interface TradeIndex {
  has(source: string, tradeId: string): boolean;
  /** Records that the trade is stored at `revision`; false when it was known already. */
  add(source: string, tradeId: string, revision: number): boolean;
  locate(source: string, tradeId: string): TradeLocation | undefined;
  /** How many trades are known. */
  size(): number;
  /** How many runs and other ids it takes to hold them: what the index costs. */
  entries(): number;
  snapshot(): TradeIndexSnapshot;
}

/** The first run whose `hi` is at least `id` (runs.length when none). */
function firstReaching(runs: readonly Run[], id: number): number {
  let low = 0;
  let high = runs.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (runs[middle]!.hi < id) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function createTradeIndex(from?: TradeIndexSnapshot): TradeIndex {
  const sources = new Map<string, SourceTrades>();
  let count = 0;

  const sourceOf = (source: string): SourceTrades => {
    let trades = sources.get(source);
    if (!trades) {
      trades = { runs: [], others: new Map() };
      sources.set(source, trades);
    }
    return trades;
  };

  const runOf = (trades: SourceTrades, id: number): Run | undefined => {
    const run = trades.runs[firstReaching(trades.runs, id)];
    return run && run.lo <= id ? run : undefined;
  };

  const widen = (run: Run, revision: number): void => {
    run.from = Math.min(run.from, revision);
    run.to = Math.max(run.to, revision);
  };

  const addInteger = (runs: Run[], id: number, revision: number): boolean => {
    const at = firstReaching(runs, id);
    const right = runs[at];
    if (right && right.lo <= id) return false;
    const left = runs[at - 1];
    const joinsLeft = left !== undefined && left.hi === id - 1;
    const joinsRight = right !== undefined && right.lo === id + 1;
    if (joinsLeft && joinsRight) {
      left.hi = right.hi;
      widen(left, revision);
      widen(left, right.from);
      widen(left, right.to);
      runs.splice(at, 1);
    } else if (joinsLeft) {
      left.hi = id;
      widen(left, revision);
    } else if (joinsRight) {
      right.lo = id;
      widen(right, revision);
    } else {
      runs.splice(at, 0, { lo: id, hi: id, from: revision, to: revision });
    }
    return true;
  };

  const index: TradeIndex = {
    has(source, tradeId) {
      const trades = sources.get(source);
      if (!trades) return false;
      return INTEGER_ID.test(tradeId)
        ? runOf(trades, Number(tradeId)) !== undefined
        : trades.others.has(tradeId);
    },
    add(source, tradeId, revision) {
      const trades = sourceOf(source);
      let added: boolean;
      if (INTEGER_ID.test(tradeId)) added = addInteger(trades.runs, Number(tradeId), revision);
      else {
        added = !trades.others.has(tradeId);
        if (added) trades.others.set(tradeId, revision);
      }
      if (added) count += 1;
      return added;
    },
    locate(source, tradeId) {
      const trades = sources.get(source);
      if (!trades) return undefined;
      if (!INTEGER_ID.test(tradeId)) {
        const revision = trades.others.get(tradeId);
        return revision === undefined ? undefined : { guesses: [revision], from: revision, to: revision };
      }
      const id = Number(tradeId);
      const run = runOf(trades, id);
      if (!run) return undefined;
      const rising = run.from + (id - run.lo);
      const falling = run.to - (id - run.lo);
      const guesses = rising === falling ? [rising] : [rising, falling];
      return { guesses: guesses.filter((at) => at >= run.from && at <= run.to), from: run.from, to: run.to };
    },
    size: () => count,
    entries: () =>
      [...sources.values()].reduce((sum, trades) => sum + trades.runs.length + trades.others.size, 0),
    snapshot() {
      const out: Record<string, { runs: number[]; others: Record<string, number> }> = {};
      for (const [source, trades] of sources)
        out[source] = {
          runs: trades.runs.flatMap((run) => [run.lo, run.hi, run.from, run.to]),
          others: Object.fromEntries(trades.others),
        };
      return { sources: out };
    },
  };

  if (from) {
    for (const [source, saved] of Object.entries(from.sources)) {
      const trades = sourceOf(source);
      for (let at = 0; at + 3 < saved.runs.length; at += 4) {
        const [lo, hi, first, last] = saved.runs.slice(at, at + 4) as [number, number, number, number];
        trades.runs.push({ lo, hi, from: first, to: last });
        count += hi - lo + 1;
      }
      for (const [tradeId, revision] of Object.entries(saved.others)) {
        trades.others.set(tradeId, revision);
        count += 1;
      }
    }
  }
  return index;
}

/** Whether a value read back from the store is a snapshot this code wrote: anything else is ignored. */
export function isTradeIndexSnapshot(value: unknown): value is TradeIndexSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const sources = (value as { sources?: unknown }).sources;
  if (typeof sources !== 'object' || sources === null) return false;
  return Object.values(sources).every((saved: unknown) => {
    if (typeof saved !== 'object' || saved === null) return false;
    const { runs, others } = saved as { runs?: unknown; others?: unknown };
    if (!Array.isArray(runs) || runs.length % 4 !== 0) return false;
    if (!runs.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return false;
    for (let at = 0; at < runs.length; at += 4) {
      const [lo, hi, first, last] = runs.slice(at, at + 4) as number[];
      if (lo! > hi! || first! > last! || (at > 0 && lo! <= (runs[at - 3] as number) + 1)) return false;
    }
    return (
      typeof others === 'object' &&
      others !== null &&
      Object.entries(others).every(([id, revision]) => !INTEGER_ID.test(id) && Number.isSafeInteger(revision))
    );
  });
}
