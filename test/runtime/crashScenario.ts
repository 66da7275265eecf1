// kill -9 of a reactor process at random points while trades arrive; used by the runtime test (a few
// kills) and the soak test (many).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createAlert } from '../../src/domain/alerts.ts';
import type { AlertCreated } from '../../src/domain/events.ts';
import { formatMicros } from '../../src/domain/time.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { connectClient } from '../../src/eventstore/store.ts';
import { startTestStore } from '../helpers/store.ts';
import { changesOf, expectedChanges, WINDOWS } from './helpers.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function startReactorProcess(connectionString: string, dataDir: string): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'src/runtime/reactorProcess.ts', connectionString, '150'],
    {
      cwd: ROOT,
      // Snapshots every 150 ms beside the store's data, so restarts also go through restoring one.
      env: {
        ...process.env,
        PRICEALERT_WINDOWS: WINDOWS.join(','),
        LOG_LEVEL: 'silent',
        PRICEALERT_DATA_DIR: dataDir,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
}

async function untilReady(child: ChildProcess): Promise<void> {
  let output = '';
  for await (const chunk of child.stdout!) {
    output += String(chunk);
    if (output.includes('ready\n')) return;
  }
  throw new Error('reactor process ended before it was ready');
}

const random = (seed: number) => () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

/** Returns, per alert, what was written and what one uninterrupted reactor would have written. */
export async function crashScenario(
  kills: number,
  seed: number,
  options: { idempotency?: 'full' | 'recent' } = {},
): Promise<{ written: Map<string, string[]>; expected: Map<string, string[]> }> {
  const next = random(seed);
  // In `recent` mode the node remembers only the last 64 event ids, as EventStoreDB remembers only recent ones.
  const store = await startTestStore({
    ...(options.idempotency ? { idempotency: options.idempotency } : {}),
    limits: { idempotencyCacheSize: 64 },
  });
  const children: ChildProcess[] = [];
  try {
    const alerts: AlertCreated[] = [];
    for (let index = 0; index < 24; index += 1) {
      const state = await createAlert(
        store.client,
        {
          alertId: `crash-${index}`,
          userId: 'u',
          product: 'BTC-USD',
          direction: index % 2 ? 'ABOVE' : 'BELOW',
          threshold: String(90 + index),
          measure: (['LAST', 'MEAN', 'VWAP'] as const)[index % 3],
          window: '1m',
          repeat: index % 5 !== 0,
          rearmBy: String(index % 3),
          now: '2026-11-26T08:00:00.000000Z',
        },
        { products: ['BTC-USD'], windows: WINDOWS },
      );
      alerts.push(state.state.created);
    }
    const start = Date.UTC(2026, 10, 26, 9) * 1000;
    const trades: TradeInput[] = Array.from({ length: 120 * (kills + 1) }, (_, index) => ({
      product: 'BTC-USD',
      tradeId: String(index),
      price: String(80 + Math.floor(next() * 40)),
      size: String(1 + Math.floor(next() * 5)),
      side: 'sell',
      time: formatMicros(start + index * 250_000),
      source: 'test',
    }));
    let sent = 0;
    const send = async (count: number) => {
      while (count > 0 && sent < trades.length) {
        const batch = trades.slice(sent, sent + Math.min(count, 1 + Math.floor(next() * 8)));
        await recordTrades(store.client, batch, { products: ['BTC-USD'] });
        sent += batch.length;
        count -= batch.length;
      }
    };
    for (let round = 0; round < kills; round += 1) {
      const child = startReactorProcess(store.connectionString, store.dataDir);
      children.push(child);
      await untilReady(child);
      // Trades keep arriving while the reactor works; it dies at a random moment in the middle.
      const sending = send(120);
      await new Promise((resolve) => setTimeout(resolve, 20 + next() * 300));
      child.kill('SIGKILL');
      await sending;
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      // The feed restarts too and sends the tape so far again, from a connection of its own.
      const replay = connectClient(store.connectionString);
      await recordTrades(replay, trades.slice(0, sent), { products: ['BTC-USD'] });
      await replay.dispose();
    }
    const last = startReactorProcess(store.connectionString, store.dataDir);
    children.push(last);
    await untilReady(last);
    await send(trades.length);
    const expected = expectedChanges(
      alerts,
      trades.map((trade) => ({ ...trade })),
    );
    const written = new Map<string, string[]>();
    const readAll = async () => {
      for (const alert of alerts) written.set(alert.alertId, await changesOf(store.client, alert.alertId));
    };
    const deadline = Date.now() + 30_000;
    // Wait for the last reactor to work through the tape (it converges; the test asserts the result).
    for (
      await readAll();
      Date.now() < deadline && JSON.stringify([...written]) !== JSON.stringify([...expected]);
      await readAll()
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    last.kill('SIGTERM');
    await once(last, 'exit');
    return { written, expected };
  } finally {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await store.stop();
  }
}
