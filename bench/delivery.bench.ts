// From the wire to the screen: a local Coinbase-protocol feed → `pricealert serve` (its own process,
// Coinbase connector, embedded node) → 1,000 `pricealert/client` consumers, with 10,000 alerts.
// Each trade fires exactly one alert (once-alerts ABOVE thresholds 1000, 1001, …; trade i is priced
// 1000 + i), so every trade gives one sample: from the moment the feed writes the frame to the moment
// the owner's client receives the trigger. A catch-up subscription of this process to the same store
// splits the time into hops: feed frame → trade committed and seen, → trigger committed and seen,
// → client. Beside it, the store's floor measured in the same run on a fresh node: append → ack and
// append → subscription.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  EventStoreDBClient,
  eventTypeFilter,
  END,
  jsonEvent,
  NO_STREAM,
  type AllStreamSubscription,
} from '@eventstore/db-client';
import { createPriceAlertClient, type PriceAlertClient } from 'pricealert/client';
import WebSocket from 'ws';
import { signToken } from '../src/api/auth.ts';
import { startEmbeddedNode } from '../src/eventstore/embedded/index.ts';
import { alertStream } from '../src/domain/types.ts';
import { freePort, serve } from '../test/e2e/process.ts';
import { startFakeCoinbase, type FakeConnection } from '../test/feeds/fakeCoinbase.ts';
import { fmt, QUICK, report, summarize } from './stats.ts';

const CLIENTS = QUICK ? 100 : 1_000;
const ALERTS = QUICK ? 1_000 : 10_000;
const SECRET = 'delivery-bench-secret-0123456789';
const RUNS = [
  { rate: 50, seconds: QUICK ? 4 : 12, target: 'p50 ≤ 5 ms, p99 ≤ 15 ms' },
  { rate: 1_000, seconds: QUICK ? 2 : 8, target: 'p50 ≤ 10 ms, p99 ≤ 50 ms' },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value: number) => `${fmt(value, 2)} ms`;
const line = (samples: number[]) => {
  const { p50, p99, max } = summarize(samples);
  const sorted = [...samples].sort((a, b) => a - b);
  const p90 = sorted[Math.max(0, Math.ceil(0.9 * sorted.length) - 1)] ?? Number.NaN;
  return `p50 ${ms(p50)}, p90 ${ms(p90)}, p99 ${ms(p99)}, max ${ms(max)}`;
};

/** The store alone: one append at a time, its ack, and when a live subscriber sees it. */
async function storeFloor(): Promise<{ ack: number[]; seen: number[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-bench-floor-'));
  const node = await startEmbeddedNode({ dataDir, logLevel: 'warn' });
  const client = EventStoreDBClient.connectionString(node.connectionString);
  const sent = new Map<string, number>();
  const ack: number[] = [];
  const seen: number[] = [];
  const subscription = client.subscribeToAll({
    fromPosition: END,
    filter: eventTypeFilter({ prefixes: ['Floor'] }),
  });
  subscription.on('data', (resolved) => {
    const at = sent.get(resolved.event?.id ?? '');
    if (at !== undefined) seen.push(performance.now() - at);
  });
  await new Promise((resolve) => subscription.once('confirmation', resolve));
  for (let index = 0; index < (QUICK ? 200 : 1_000); index += 1) {
    const event = jsonEvent({ type: 'Floor', data: { index } });
    const started = performance.now();
    sent.set(event.id, started);
    await client.appendToStream('floor', event);
    ack.push(performance.now() - started);
    if (index % 2 === 0) await sleep(1);
  }
  await sleep(200);
  await subscription.unsubscribe();
  await client.dispose();
  await node.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return { ack, seen };
}

async function main(): Promise<void> {
  const floor = await storeFloor();

  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-bench-delivery-'));
  const feed = await startFakeCoinbase({ heartbeatMs: 1_000 });
  const port = await freePort();
  const server = await serve(dataDir, {
    PORT: String(port),
    PRICEALERT_FEED: 'coinbase',
    COINBASE_WS_URL: feed.url,
    PRICEALERT_PRODUCTS: 'BTC-USD',
    PRICEALERT_JWT_SECRET: SECRET,
    PRICEALERT_ADDR_CONNECTIONS: String(CLIENTS + 10),
  });
  const { connectionString } = JSON.parse(readFileSync(join(dataDir, 'node.lock'), 'utf8')) as {
    connectionString: string;
  };
  const store = EventStoreDBClient.connectionString(connectionString);

  // 10,000 once-alerts, ten per user, written straight into the store (creating them is not measured).
  const userOf = (alert: number) => `user-${alert % CLIENTS}`;
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let alert = next++; alert < ALERTS; alert = next++) {
        const alertId = `bench-${alert}`;
        await store.appendToStream(
          alertStream(alertId),
          jsonEvent({
            type: 'AlertCreated',
            data: {
              alertId,
              userId: userOf(alert),
              product: 'BTC-USD',
              direction: 'ABOVE',
              threshold: String(1000 + alert),
              measure: 'LAST',
              window: '10m',
              repeat: false,
              rearmBy: '0',
              createdAt: new Date().toISOString(),
            },
          }),
          { expectedRevision: NO_STREAM },
        );
      }
    }),
  );

  // Hops, seen from a subscription of this process to the same store.
  const committedAt = new Map<number, number>();
  const triggerSeenAt = new Map<number, number>();
  const hop: AllStreamSubscription = store.subscribeToAll({
    fromPosition: END,
    filter: eventTypeFilter({ prefixes: ['TradeRecorded', 'AlertTriggered'] }),
  });
  hop.on('data', (resolved) => {
    const event = resolved.event;
    if (!event?.isJson) return;
    const data = event.data as { tradeId?: string; trade?: { tradeId: string } };
    if (event.type === 'TradeRecorded') committedAt.set(Number(data.tradeId), performance.now());
    else triggerSeenAt.set(Number(data.trade?.tradeId), performance.now());
  });

  // One consumer per user, as a person's screen would be.
  const secret = new TextEncoder().encode(SECRET);
  const receivedAt = new Map<number, number>();
  const clients: PriceAlertClient[] = [];
  for (let user = 0; user < CLIENTS; user += 1) {
    const client = createPriceAlertClient({
      url: server.url,
      token: await signToken(secret, { userId: `user-${user}`, role: 'user' }, 3600),
      webSocketImpl: WebSocket,
    });
    clients.push(client);
    void (async () => {
      for await (const trigger of client.alertTriggered())
        receivedAt.set(Number(trigger.trade.tradeId), performance.now());
    })();
  }
  // Each client answers a query once its subscription is registered (the socket handles messages in order).
  await Promise.all(clients.map((client) => client.request('{ products }')));
  // Every alert folded: the last user's ten are listed.
  for (;;) {
    const listed = await clients[CLIENTS - 1]!.request<{ alerts: unknown[] }>('{ alerts { id } }').catch(
      () => ({ alerts: [] }),
    );
    if (listed.alerts.length === ALERTS / CLIENTS) break;
    await sleep(200);
  }
  const connection: FakeConnection = await feed.connection(1);
  await sleep(1_000);

  process.stdout.write(
    `${ALERTS.toLocaleString('en-US')} alerts, ${CLIENTS.toLocaleString('en-US')} connected clients; one trigger per trade\n`,
  );
  report('store floor: append → ack (1 writer)', line(floor.ack));
  report('store floor: append → subscription', line(floor.seen));

  let tradeIndex = 0;
  const sentAt = new Map<number, number>();
  for (const run of RUNS) {
    const total = run.rate * run.seconds;
    const first = tradeIndex;
    const startedAt = performance.now();
    while (tradeIndex - first < total) {
      const due = Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * run.rate) + 1);
      while (tradeIndex - first < due) {
        const id = tradeIndex + 1;
        const trade = {
          product: 'BTC-USD',
          tradeId: String(id),
          price: String(1000 + tradeIndex),
          size: '0.01',
          side: 'buy' as const,
          time: new Date(Date.UTC(2026, 10, 26, 9) + tradeIndex).toISOString().replace('Z', '000Z'),
          source: 'coinbase',
        };
        sentAt.set(id, performance.now());
        connection.sendTrade(trade);
        tradeIndex += 1;
      }
      await sleep(run.rate >= 500 ? 1 : Math.floor(1000 / run.rate));
    }
    const ids = Array.from({ length: total }, (_, index) => first + index + 1);
    const deadline = performance.now() + 30_000;
    while (ids.some((id) => !receivedAt.has(id)) && performance.now() < deadline) await sleep(100);

    const endToEnd: number[] = [];
    const toStore: number[] = [];
    const reactor: number[] = [];
    const toClient: number[] = [];
    for (const id of ids) {
      const sent = sentAt.get(id)!;
      const received = receivedAt.get(id);
      const committed = committedAt.get(id);
      const triggered = triggerSeenAt.get(id);
      if (received !== undefined) endToEnd.push(received - sent);
      if (committed !== undefined) toStore.push(committed - sent);
      if (committed !== undefined && triggered !== undefined) reactor.push(triggered - committed);
      if (triggered !== undefined && received !== undefined) toClient.push(received - triggered);
    }
    process.stdout.write(
      `\n${run.rate.toLocaleString('en-US')} trades/s for ${run.seconds} s (${total} trades)\n`,
    );
    report('wire → client (feed frame written → trigger received)', line(endToEnd), run.target);
    report('  hop: feed frame → trade committed, seen', line(toStore));
    report('  hop: trade seen → trigger committed, seen', line(reactor));
    report('  hop: trigger seen → client', line(toClient));
    report('  triggers received / trades sent', `${endToEnd.length} / ${total}`);
  }

  await hop.unsubscribe();
  await Promise.all(clients.map((client) => client.dispose()));
  await store.dispose();
  server.process.kill('SIGTERM');
  await server.exited;
  await feed.close();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
