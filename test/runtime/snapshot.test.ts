import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMicros } from '../../src/domain/time.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import { createLogger } from '../../src/logger.ts';
import { startReactor } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { lastPosition, WINDOWS } from './helpers.ts';

const logger = createLogger('silent');
const products = ['BTC-USD'];
const T0 = Date.UTC(2026, 10, 26, 9) * 1000;
const trades = (from: number, count: number) =>
  Array.from({ length: count }, (_, index) => ({
    product: 'BTC-USD',
    tradeId: String(from + index),
    price: String(100 + ((from + index) % 7)),
    size: '0.5',
    side: 'buy' as const,
    time: formatMicros(T0 + (from + index) * 10_000_000),
    source: 'test',
  }));

describe('reactor snapshot', () => {
  const stores: TestStore[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pricealert-snapshot-'));
  const snapshotPath = join(dir, 'reactor.snapshot');
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  const run = async (store: TestStore, path?: string) => {
    // Taken first: starting writes events of its own (checkpoint metadata, the store's identity).
    const end = await lastPosition(store.client);
    const reactor = await startReactor({
      client: store.client,
      config: { PRICEALERT_WINDOWS: WINDOWS },
      logger,
      ...(path ? { snapshotPath: path } : {}),
    });
    await reactor.ready;
    await reactor.caughtUpTo(end);
    return reactor;
  };

  it('given a snapshot, when the reactor restarts and trades go on, then it answers as one rebuilt from scratch', async () => {
    const store = await startTestStore();
    stores.push(store);
    await recordTrades(store.client, trades(0, 40), { products });
    await (await run(store, snapshotPath)).stop();
    await recordTrades(store.client, trades(40, 15), { products });
    const restored = await run(store, snapshotPath);
    const rebuilt = await run(store);
    for (const window of [...WINDOWS, 'all']) {
      expect(restored.views.price('BTC-USD', window)).toEqual(rebuilt.views.price('BTC-USD', window));
    }
    expect(restored.views.price('BTC-USD', 'all')?.count).toBe(55);
    await Promise.all([restored.stop(), rebuilt.stop()]);
  });

  it('given a snapshot taken of another store with the same trade ids, then it is ignored', async () => {
    const other = await startTestStore();
    stores.push(other);
    const dearer = trades(0, 55).map((trade) => ({ ...trade, price: String(Number(trade.price) + 1000) }));
    await recordTrades(other.client, dearer, { products });
    const reactor = await run(other, snapshotPath);
    expect(reactor.views.price('BTC-USD', 'all')).toMatchObject({ count: 55, low: '1100' });
    await reactor.stop();
  });
});
