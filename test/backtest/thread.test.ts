// Backtests in worker threads against a real store: the same report as in-process, bounded heap, and
// nothing left running after an abort or a stop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestFromStore } from '../../src/backtest/index.ts';
import { startBacktestThreads, type BacktestThreads } from '../../src/backtest/thread.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { appendTrades, tape } from './tape.ts';

const TRADES = [...tape({ count: 2_000, maxGapMicros: 1_000_000, seed: 17 })];
const REQUEST = {
  product: 'BTC-USD',
  products: ['BTC-USD'],
  windows: ['1m', '10m'],
  from: TRADES[800]!.time,
  alerts: [
    { direction: 'ABOVE', threshold: '43000', window: '1m', repeat: true, rearmBy: '5' },
    { direction: 'BELOW', threshold: '43000', measure: 'VWAP', window: '10m', repeat: true },
  ],
};
/** Alerts enough to keep a thread busy far longer than any test waits. */
const BUSY = {
  ...REQUEST,
  from: undefined,
  alerts: Array.from({ length: 20_000 }, (_, i) => ({ direction: 'ABOVE', threshold: String(1e6 + i) })),
};

let store: TestStore;
const started: BacktestThreads[] = [];
const threads = (overrides: { maxHeapMb?: number } = {}): BacktestThreads => {
  const made = startBacktestThreads({
    connectionString: store.connectionString,
    maxPerClient: 1,
    maxRunning: 2,
    maxHeapMb: 256,
    ...overrides,
  });
  started.push(made);
  return made;
};
const until = async (check: () => boolean): Promise<void> => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
};

beforeAll(async () => {
  store = await startTestStore();
  await appendTrades(store.client, TRADES);
});
afterAll(async () => {
  await Promise.all(started.map((made) => made.stop()));
  await store?.stop();
});

describe('backtest threads', () => {
  it('report what the replay reports in-process, the time aside', async () => {
    const pool = threads();
    const inThread = await pool.run('a', REQUEST);
    const inProcess = await backtestFromStore({ ...REQUEST, client: store.client });
    expect(inThread.triggers.length).toBeGreaterThan(0);
    expect({ ...inThread, elapsedMs: 0, seek: { ...inThread.seek, ms: 0 } }).toEqual({
      ...inProcess,
      elapsedMs: 0,
      seek: { ...inProcess.seek, ms: 0 },
    });
    await until(() => pool.running === 0);
  });

  it('bring back input errors as DomainErrors naming the field', async () => {
    const pool = threads();
    await expect(
      pool.run('a', { ...REQUEST, alerts: [{ direction: 'SIDEWAYS', threshold: '1' }] }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'alerts[0].direction' });
  });

  it('end a thread that outgrows its heap with LIMIT_EXCEEDED', async () => {
    const pool = threads({ maxHeapMb: 8 });
    await expect(pool.run('a', REQUEST)).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: expect.stringContaining('at most 8 MiB'),
    });
    await until(() => pool.running === 0);
  });

  it('terminate on abort, start nothing for an aborted signal, and stop every running thread', async () => {
    const pool = threads();
    const abort = new AbortController();
    abort.abort();
    await expect(pool.run('a', BUSY, abort.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(pool.running).toBe(0);

    const leaving = new AbortController();
    const left = pool.run('a', BUSY, leaving.signal);
    expect(pool.running).toBe(1);
    await expect(pool.run('a', BUSY)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    leaving.abort();
    await expect(left).rejects.toMatchObject({ name: 'AbortError' });
    await until(() => pool.running === 0);

    const running = [pool.run('a', BUSY), pool.run('b', BUSY)].map((run) => run.catch((error) => error));
    expect(pool.running).toBe(2);
    await expect(pool.run('c', BUSY)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await pool.stop();
    expect(pool.running).toBe(0);
    for (const outcome of await Promise.all(running)) {
      expect(outcome).toMatchObject({ message: 'the backtest ended before reporting: the server stopped' });
    }
    await expect(pool.run('a', REQUEST)).rejects.toThrow(/stopping/);
  });
});
