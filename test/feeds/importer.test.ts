// The import pipeline's own guarantees, with a sink that answers out of order on purpose.
import { describe, expect, it } from 'vitest';
import type { TradeInput } from '../../src/domain/types.ts';
import { importTrades } from '../../src/feeds/importer.ts';
import type { TradeLine } from '../../src/feeds/parse.ts';
import { seededRandom } from '../../src/feeds/simulated.ts';
import { tape } from './fakeCoinbase.ts';

async function* linesOf(items: TradeLine[]): AsyncGenerator<TradeLine> {
  yield* items;
}

function interleaved(): TradeLine[] {
  const products = [tape('BTC-USD', 1, 120), tape('ETH-USD', 1, 60), tape('SOL-USD', 1, 30)];
  const random = seededRandom(5);
  const lines: TradeLine[] = [];
  while (products.some((trades) => trades.length > 0)) {
    const pick = products.filter((trades) => trades.length > 0);
    const trade = pick[Math.floor(random() * pick.length)]!.shift()!;
    lines.push({ line: lines.length + 2, trade });
  }
  return lines;
}

function jitterySink() {
  const random = seededRandom(9);
  const recorded: TradeInput[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    recorded,
    maxInFlight: () => maxInFlight,
    record: async (trades: TradeInput[]) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 8)));
      recorded.push(...trades);
      inFlight -= 1;
      return { recorded: trades.length, alreadyPresent: 0, rejected: [] };
    },
  };
}

describe('importTrades', () => {
  it('keeps each product in file order while batches of different products overlap', async () => {
    const lines = interleaved();
    const sink = jitterySink();
    const summary = await importTrades({
      lines: linesOf(lines),
      record: sink.record,
      batchSize: 5,
      concurrency: 4,
    });
    expect(summary).toEqual({ read: 210, recorded: 210, alreadyPresent: 0, rejected: 0 });
    for (const product of ['BTC-USD', 'ETH-USD', 'SOL-USD']) {
      const inFile = lines.flatMap((line) =>
        'trade' in line && line.trade.product === product ? [line.trade] : [],
      );
      expect(sink.recorded.filter((trade) => trade.product === product)).toEqual(inFile);
    }
    expect(sink.maxInFlight()).toBeGreaterThan(1);
    expect(sink.maxInFlight()).toBeLessThanOrEqual(4);
  });

  it('with strict, records the trades before the first bad line and nothing from it on', async () => {
    const lines = interleaved();
    lines.splice(77, 0, { line: 79, error: 'price: must be a decimal number greater than 0' });
    const sink = jitterySink();
    const bad: number[] = [];
    const summary = await importTrades({
      lines: linesOf(lines),
      record: sink.record,
      strict: true,
      batchSize: 5,
      onBadLine: (line) => bad.push(line),
    });
    expect(summary).toMatchObject({ read: 78, recorded: 77, rejected: 1, stoppedAt: 79 });
    expect(bad).toEqual([79]);
    const before = lines.slice(0, 77).map((line) => ('trade' in line ? line.trade : undefined));
    expect(new Set(sink.recorded)).toEqual(new Set(before));
  });

  it('maps a rejection from the store back to its line', async () => {
    const lines = tape('BTC-USD', 1, 10).map((trade, index) => ({ line: index + 2, trade }));
    const bad: string[] = [];
    const summary = await importTrades({
      lines: linesOf(lines),
      record: async (trades) => ({
        recorded: trades.length - 1,
        alreadyPresent: 0,
        rejected: [{ index: 3, reason: 'no' }],
      }),
      onBadLine: (line, reason) => bad.push(`line ${line}: ${reason}`),
    });
    expect(bad).toEqual(['line 5: no']);
    expect(summary).toEqual({ read: 10, recorded: 9, alreadyPresent: 0, rejected: 1 });
  });
});
