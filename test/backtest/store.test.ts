// Reading a real trade stream: seeking by trade time in a few single-event reads, then fast or public reads.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestFromFile, backtestFromStore } from '../../src/backtest/index.ts';
import { openStoreRange, SEEK_MARGIN } from '../../src/backtest/storeSource.ts';
import { parseTime } from '../../src/domain/time.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { canReadFast } from '../../src/eventstore/fastRead.ts';
import type { StoreClient } from '../../src/eventstore/store.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { appendTrades, tape, toCsv } from './tape.ts';

const COUNT = 50_000;
const micros = (trade: TradeInput): number => parseTime(trade.time)!.micros;

/** The client, with every event the store sends to a read counted. */
function counting(client: StoreClient) {
  const counter = { calls: 0, events: 0 };
  const proxy = new Proxy(client, {
    get(target, key, receiver) {
      if (key !== 'readStream') return Reflect.get(target, key, receiver);
      return (...args: Parameters<StoreClient['readStream']>) => {
        counter.calls += 1;
        const read = target.readStream(...args);
        read.on('data', () => (counter.events += 1));
        return read;
      };
    },
  });
  return { client: proxy, counter };
}

describe('reading trades-{product}', () => {
  let store: TestStore;
  const trades = [...tape({ count: COUNT, maxGapMicros: 1_000_000 })];

  beforeAll(async () => {
    store = await startTestStore();
    await appendTrades(store.client, trades);
  });
  afterAll(() => store?.stop());

  it('starts a margin before the first trade after the target, reading about 3·log4(n) single events', async () => {
    const { client, counter } = counting(store.client);
    const target = micros(trades[30_000]!);
    const firstAfter = trades.findIndex((trade) => micros(trade) > target);
    const range = await openStoreRange(client, 'BTC-USD', { afterMicros: target });
    expect(range.seek.startRevision).toBe(firstAfter - SEEK_MARGIN);
    expect(range.seek.streamLength).toBe(COUNT);
    expect(range.expectedTrades).toBe(COUNT - range.seek.startRevision);
    expect(counter.events).toBe(range.seek.reads);
    expect(counter.events).toBeLessThanOrEqual(1 + 3 * (Math.ceil(Math.log(COUNT) / Math.log(4)) + 1));

    const first: TradeInput[] = [];
    for await (const trade of range.trades) {
      first.push(trade);
      if (first.length === 3) break;
    }
    expect(first.map((trade) => trade.tradeId)).toEqual(
      trades.slice(firstAfter - SEEK_MARGIN, firstAfter - SEEK_MARGIN + 3).map((trade) => trade.tradeId),
    );
  });

  it('ends the expected range at the first trade after `to`, and reads from 0 without a target', async () => {
    const to = micros(trades[40_000]!);
    const end = trades.findIndex((trade) => micros(trade) > to);
    const range = await openStoreRange(store.client, 'BTC-USD', { toMicros: to });
    expect(range.seek.startRevision).toBe(0);
    expect(range.expectedTrades).toBe(end);
  });

  it('still warms up with a trade stored before later-timed ones, within the margin', async () => {
    const eth = [...tape({ product: 'ETH-USD', count: 12_000, maxGapMicros: 100_000, seed: 5 })];
    const from = eth[10_000]!.time;
    // A trade from inside the 1m window at `from`, stored some hundred revisions before older trades
    // (where a search by time cannot find it), with a price that dominates the 1m mean if counted.
    const [outlier] = eth.splice(9_500, 1);
    const boundary = eth.findIndex((trade) => micros(trade) > micros(outlier!) - 60_000_000);
    eth.splice(boundary - 400, 0, { ...outlier!, price: '100000000' });
    await appendTrades(store.client, eth);
    const dir = await mkdtemp(join(tmpdir(), 'pricealert-seek-'));
    try {
      await writeFile(join(dir, 'eth.csv'), toCsv(eth));
      const common = {
        product: 'ETH-USD',
        products: ['ETH-USD'],
        windows: ['1m'],
        alerts: [{ direction: 'ABOVE', threshold: '100000', window: '1m' }],
        from,
      };
      const fromStore = await backtestFromStore({ ...common, client: store.client });
      const fromFile = await backtestFromFile({ ...common, path: join(dir, 'eth.csv') });
      expect(fromStore.seek!.startRevision).toBeGreaterThan(0);
      expect(fromStore.triggers.map((trigger) => trigger.trade.tradeId)).toEqual([eth[10_000]!.tradeId]);
      expect(fromFile.triggers).toEqual(fromStore.triggers);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replays the same through the client when the hand decoder cannot be used', async () => {
    // The client as seen from outside without the internal the hand decoder needs; its own methods keep theirs.
    const plain = new Proxy(store.client, {
      get: (target, key) => {
        if (key === 'GRPCStreamCreator') return undefined;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    expect(canReadFast(plain)).toBe(false);
    const request = {
      product: 'BTC-USD',
      products: ['BTC-USD'],
      windows: ['1m'],
      alerts: [{ direction: 'ABOVE', threshold: '43000', window: '1m', repeat: true }],
      from: trades[20_000]!.time,
      to: trades[30_000]!.time,
    };
    const viaClient = await backtestFromStore({ ...request, client: plain });
    const byHand = await backtestFromStore({ ...request, client: store.client });
    expect(viaClient.triggers.length).toBeGreaterThan(0);
    expect(viaClient.triggers).toEqual(byHand.triggers);
    expect(viaClient.tradesReplayed).toBe(byHand.tradesReplayed);
  });

  it('finds nothing to read in a stream that does not exist', async () => {
    const range = await openStoreRange(store.client, 'SOL-USD', { afterMicros: 0 });
    expect(range.seek).toMatchObject({ startRevision: 0, streamLength: 0 });
    const read: TradeInput[] = [];
    for await (const trade of range.trades) read.push(trade);
    expect(read).toEqual([]);
  });
});
