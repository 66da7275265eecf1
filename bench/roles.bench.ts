// pricealert in one process and in roles, in the same run. Single process: `pricealert serve` (every
// role, its own embedded node). Roles: one `pricealert store`, two API replicas, two reactors, two feed
// connectors, each its own process (test/e2e/cluster.ts). Both read the same local Coinbase-protocol
// feed; each trade fires exactly one once-alert (trade i on product i mod 2 is priced 1000 + i, alert
// i sits on that product at threshold 1000 + i), so each trade gives one sample, from the moment the
// feed writes the frame to the moment the owner's `pricealert/client` receives the trigger; the
// owners' clients are spread over the APIs. Then, in the roles deployment: a reactor holding a lease
// is killed -9, and the time until the survivor has taken its products (its ReactorLeaseTaken
// committed) is measured; a fresh reactor then takes its share back, and again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPriceAlertClient, type PriceAlertClient } from 'pricealert/client';
import WebSocket from 'ws';
import { signToken } from '../src/api/auth.ts';
import { alertStream } from '../src/domain/types.ts';
import {
  appendToStream,
  connectClient,
  END,
  NO_STREAM,
  subscribeToAll,
  type StoreClient,
} from '../src/eventstore/store.ts';
import { leaseHolders, PRODUCTS, SECRET, startCluster } from '../test/e2e/cluster.ts';
import { freePort, serve } from '../test/e2e/process.ts';
import { startFakeCoinbase, type FakeConnection } from '../test/feeds/fakeCoinbase.ts';
import { fmt, QUICK, report, summarize } from './stats.ts';

const RATE = 50;
const SECONDS = QUICK ? 4 : 12;
const TRADES = RATE * SECONDS;
const USERS = 20;
const TAKEOVERS = QUICK ? 2 : 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value: number) => `${fmt(value, 1)} ms`;
const line = (samples: number[]) => {
  const { p50, p99, max } = summarize(samples);
  return `p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(max)} (n=${samples.length})`;
};

interface Deployment {
  apiUrls: string[];
  client: StoreClient;
  connections: FakeConnection[];
}

interface Samples {
  /** Feed frame written → trigger received by the owner's client. */
  endToEnd: number[];
  /** Feed frame written → trade seen committed (by a subscription of this process). */
  toStore: number[];
  /** Trade seen → trigger seen committed. */
  reactor: number[];
  /** Trigger seen committed → client. */
  toClient: number[];
}

/** Trade → trigger samples (ms) for one deployment: alerts written, clients connected, the tape sent. */
async function latency({ apiUrls, client, connections }: Deployment): Promise<Samples> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let alert = next++; alert < TRADES; alert = next++) {
        const alertId = `roles-bench-${alert}`;
        await appendToStream(
          client,
          alertStream(alertId),
          {
            type: 'AlertCreated',
            data: {
              alertId,
              userId: `user-${alert % USERS}`,
              product: PRODUCTS[alert % 2],
              direction: 'ABOVE',
              threshold: String(1000 + alert),
              measure: 'LAST',
              window: '10m',
              repeat: false,
              rearmBy: '0',
              createdAt: new Date().toISOString(),
            },
          },
          { expectedRevision: NO_STREAM },
        );
      }
    }),
  );
  const secret = new TextEncoder().encode(SECRET);
  const receivedAt = new Map<string, number>();
  const clients: PriceAlertClient[] = [];
  for (let user = 0; user < USERS; user += 1) {
    const consumer = createPriceAlertClient({
      url: apiUrls[user % apiUrls.length]!,
      token: await signToken(secret, { userId: `user-${user}`, role: 'user' }, 3600),
      webSocketImpl: WebSocket,
    });
    clients.push(consumer);
    void (async () => {
      for await (const trigger of consumer.alertTriggered())
        receivedAt.set(trigger.trade.tradeId, performance.now());
    })();
  }
  await Promise.all(clients.map((consumer) => consumer.request('{ products }')));
  // Every alert folded on every API: each user's alerts are listed by each.
  for (const consumer of clients) {
    for (;;) {
      const listed = await consumer
        .request<{ alerts: unknown[] }>('{ alerts { id } }')
        .catch(() => ({ alerts: [] }));
      if (listed.alerts.length === TRADES / USERS) break;
      await sleep(200);
    }
  }
  await sleep(500);

  // Hops, seen from a subscription of this process to the same store.
  const committedAt = new Map<string, number>();
  const triggerSeenAt = new Map<string, number>();
  let live!: () => void;
  const subscribed = new Promise<void>((resolve) => (live = resolve));
  const hop = subscribeToAll(client, {
    fromPosition: END,
    eventTypePrefixes: ['TradeRecorded', 'AlertTriggered'],
    onCaughtUp: () => live(),
  });
  const seeing = (async () => {
    for await (const event of hop) {
      if (!event.isJson) continue;
      const data = event.data as { tradeId?: string; trade?: { tradeId: string } };
      if (event.type === 'TradeRecorded') committedAt.set(data.tradeId!, performance.now());
      else triggerSeenAt.set(data.trade!.tradeId, performance.now());
    }
  })();
  await subscribed;

  const sentAt = new Map<string, number>();
  const startedAt = performance.now();
  for (let index = 0; index < TRADES;) {
    const due = Math.min(TRADES, Math.floor(((performance.now() - startedAt) / 1000) * RATE) + 1);
    for (; index < due; index += 1) {
      const trade = {
        product: PRODUCTS[index % 2]!,
        tradeId: String(index + 1),
        price: String(1000 + index),
        size: '0.01',
        side: 'buy' as const,
        time: new Date(Date.UTC(2026, 10, 26, 9) + index).toISOString().replace('Z', '000Z'),
        source: 'coinbase',
      };
      sentAt.set(trade.tradeId, performance.now());
      for (const connection of connections) connection.sendTrade(trade);
    }
    await sleep(Math.floor(1000 / RATE));
  }
  const deadline = performance.now() + 30_000;
  while (receivedAt.size < TRADES && performance.now() < deadline) await sleep(100);
  await hop.unsubscribe();
  await seeing;
  await Promise.all(clients.map((consumer) => consumer.dispose()));
  const samples: Samples = { endToEnd: [], toStore: [], reactor: [], toClient: [] };
  for (const [id, sent] of sentAt) {
    const [committed, triggered, received] = [committedAt.get(id), triggerSeenAt.get(id), receivedAt.get(id)];
    if (received !== undefined) samples.endToEnd.push(received - sent);
    if (committed !== undefined) samples.toStore.push(committed - sent);
    if (committed !== undefined && triggered !== undefined) samples.reactor.push(triggered - committed);
    if (triggered !== undefined && received !== undefined) samples.toClient.push(received - triggered);
  }
  return samples;
}

async function singleProcess(): Promise<Samples> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-bench-single-'));
  const coinbase = await startFakeCoinbase({ heartbeatMs: 500 });
  const server = await serve(dataDir, {
    PORT: String(await freePort()),
    PRICEALERT_FEED: 'coinbase',
    COINBASE_WS_URL: coinbase.url,
    PRICEALERT_PRODUCTS: PRODUCTS.join(','),
    PRICEALERT_JWT_SECRET: SECRET,
  });
  const { connectionString } = JSON.parse(readFileSync(join(dataDir, 'node.lock'), 'utf8')) as {
    connectionString: string;
  };
  const client = connectClient(connectionString);
  const samples = await latency({
    apiUrls: [server.url],
    client,
    connections: [await coinbase.connection(1)],
  });
  await client.dispose();
  server.process.kill('SIGTERM');
  await server.exited;
  await coinbase.close();
  rmSync(dataDir, { recursive: true, force: true });
  return samples;
}

async function roles(): Promise<{ samples: Samples; takeovers: number[] }> {
  const cluster = await startCluster();
  try {
    const connections = await Promise.all(
      cluster.feeds.map((_, index) => cluster.coinbase.connection(index + 1)),
    );
    const samples = await latency({
      apiUrls: cluster.apis.map((api) => api.url),
      client: cluster.client,
      connections,
    });

    const takeovers: number[] = [];
    const live = [...cluster.reactors];
    for (let round = 0; round < TAKEOVERS; round += 1) {
      // Balanced first: each live reactor holds one product.
      const split = await until(async () => {
        const holders = await leaseHolders(cluster.client);
        const pids = new Set([...holders.values()].map((lease) => lease.pid));
        return holders.size === PRODUCTS.length && pids.size === live.length ? holders : undefined;
      });
      const victim = live.shift()!;
      const orphaned = PRODUCTS.filter((product) => split.get(product)!.pid === victim.process.pid);
      const killedAt = Date.now();
      victim.process.kill('SIGKILL');
      await victim.exited;
      const taken = await until(async () => {
        const holders = await leaseHolders(cluster.client);
        const leases = orphaned.map((product) => holders.get(product));
        return leases.every((lease) => lease?.takenAt && lease.pid !== victim.process.pid)
          ? leases
          : undefined;
      });
      takeovers.push(Math.max(...taken.map((lease) => lease!.takenAt!.getTime() - killedAt)));
      live.push(await cluster.add('reactor'));
    }
    return { samples, takeovers };
  } finally {
    await cluster.stop();
  }
}

async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

const single = await singleProcess();
const split = await roles();
process.stdout.write(
  `${TRADES} trades at ${RATE}/s on ${PRODUCTS.join(' and ')}, one trigger each, ${USERS} consumers\n`,
);
const hops = (label: string, samples: Samples): void => {
  report(`${label}: feed frame → client`, line(samples.endToEnd));
  report('  hop: feed frame → trade committed, seen', line(samples.toStore));
  report('  hop: trade seen → trigger committed, seen', line(samples.reactor));
  report('  hop: trigger seen → client', line(samples.toClient));
};
hops('single process (serve)', single);
hops('roles (store, 2 api, 2 reactor, 2 feed)', split.samples);
report('roles: takeover after kill -9 (lease taken)', line(split.takeovers), '≤ 5000 ms');
