// What an abusive client costs everyone else: recordTrade latency and trade → `price` frame latency
// for a well-behaved client, first alone, then beside 50 anonymous sockets × 100 `price`
// subscriptions each made distinct by a comment (the flood that used to take recordTrade's median
// from 7 to 223 ms), with the default limits; then the same flood with the limits lifted, so that
// only the shared executions (keyed on the printed document) stand between it and the others; last,
// alone again, to show how much the figures move by themselves.
// The abusers run in a child process (this file again, with `abuser`) so their work is not the server's.
// BENCH_QUICK=1 shrinks the sizes.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadSecret, signToken } from '../src/api/auth.ts';
import type { ApiLimits } from '../src/api/limits.ts';
import { startApiServer } from '../src/api/server.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startReactor } from '../src/runtime/reactor.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { QUICK, fmt, mib, summarize } from './stats.ts';

const SOCKETS = 50;
const SUBSCRIPTIONS = 100;
const TRADES = QUICK ? 100 : 400;
const TRADE_GAP_MS = 20;
const PRICE = 'subscription { price(product: "BTC-USD", window: "1m") { last count vwap } }';

interface AbuseReport {
  connected: number;
  refusedConnections: number;
  accepted: number;
  refused: Record<string, number>;
}

// ─── the abusive process ──────────────────────────────────────────────────────────────────────────

async function runAbuser(url: string): Promise<void> {
  const report: AbuseReport = { connected: 0, refusedConnections: 0, accepted: 0, refused: {} };
  const pending: Promise<void>[] = [];
  const clients = Array.from({ length: SOCKETS }, (_, socket) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => {},
      on: {
        connected: () => (report.connected += 1),
        closed: (event) => {
          if ((event as { code: number }).code === 4429) report.refusedConnections += 1;
        },
      },
    });
    for (let index = 0; index < SUBSCRIPTIONS; index += 1)
      pending.push(
        new Promise<void>((settle) => {
          let first = true;
          client.subscribe(
            { query: `${PRICE} # ${socket}.${index}` },
            {
              next: () => {
                if (first) report.accepted += 1;
                first = false;
                settle();
              },
              error: (error: unknown) => {
                const code = Array.isArray(error)
                  ? String((error[0] as { extensions?: { code?: string } }).extensions?.code)
                  : 'closed';
                report.refused[code] = (report.refused[code] ?? 0) + 1;
                settle();
              },
              complete: () => settle(),
            },
          );
        }),
      );
    return client;
  });
  await Promise.all(pending);
  process.send!(report);
  process.once('message', () => {
    void Promise.all(clients.map((client) => client.dispose())).then(() => process.exit(0));
  });
}

// ─── the server process ───────────────────────────────────────────────────────────────────────────

interface Figures {
  record: ReturnType<typeof summarize>;
  frame: ReturnType<typeof summarize>;
  rss: number;
}

async function main(): Promise<void> {
  process.stdout.write(
    `abuse bench${QUICK ? ' (QUICK)' : ''}: ${TRADES} trades at ${1000 / TRADE_GAP_MS}/s per phase; ` +
      `abuse = ${SOCKETS} anonymous sockets × ${SUBSCRIPTIONS} comment-varied price subscriptions\n`,
  );
  const store = await startTestStore();
  const config = loadConfig({
    PORT: '0',
    PRICEALERT_DATA_DIR: store.dataDir,
    PRICEALERT_FEED: 'none',
    LOG_LEVEL: 'warn',
  });
  const logger = createLogger('warn');
  const reactor = await startReactor({ client: store.client, config, logger });
  const feeder = await signToken(await loadSecret(config), { userId: 'feeder', role: 'feeder' }, 3600);
  let sequence = 0;

  /** One phase on a fresh API server: the abuse (if any) is in place before the trades start. */
  async function phase(name: string, abuse: boolean, limits: Partial<ApiLimits> = {}): Promise<Figures> {
    const api = await startApiServer({ config, store, reactor, logger, limits });
    const wsUrl = api.url.replace(/^http/, 'ws');
    const frames = new Map<string, (at: number) => void>();
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    client.subscribe<{ price: { last: string } }>(
      { query: PRICE },
      {
        next: (result) => frames.get(result.data!.price.last)?.(performance.now()),
        error: () => {},
        complete: () => {},
      },
    );
    const abuser = abuse ? fork(fileURLToPath(import.meta.url), ['abuser', wsUrl]) : undefined;
    if (abuser) {
      const report = await new Promise<AbuseReport>((resolve) => abuser.once('message', resolve as never));
      process.stdout.write(
        `  ${name}: abuser connected ${report.connected}/${SOCKETS} sockets (${report.refusedConnections} refused), ` +
          `${report.accepted} subscriptions accepted, refused ${JSON.stringify(report.refused)}\n`,
      );
    }
    const record: number[] = [];
    const frame: number[] = [];
    for (let index = 0; index < TRADES; index += 1) {
      sequence += 1;
      const price = String(20_000 + sequence);
      const arrived = new Promise<number>((resolve) => frames.set(price, resolve));
      const sent = performance.now();
      const response = await fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${feeder}` },
        body: JSON.stringify({
          query: 'mutation($input: RecordTradeInput!) { recordTrade(input: $input) { tradeId } }',
          variables: {
            input: {
              product: 'BTC-USD',
              tradeId: `abuse-${sequence}`,
              price,
              size: '0.1',
              side: 'buy',
              time: new Date(Date.parse('2026-11-26T08:00:00Z') + sequence * 1000).toISOString(),
            },
          },
        }),
      });
      await response.json();
      record.push(performance.now() - sent);
      frame.push((await arrived) - sent);
      frames.delete(price);
      await new Promise((resolve) => setTimeout(resolve, TRADE_GAP_MS));
    }
    const rss = process.memoryUsage().rss;
    abuser?.send('close');
    if (abuser) await new Promise((resolve) => abuser.once('exit', resolve));
    await client.dispose();
    await api.stop();
    return { record: summarize(record), frame: summarize(frame), rss };
  }

  try {
    const rows: [string, Figures][] = [
      ['alone (baseline)', await phase('alone', false)],
      ['beside the abuse, default limits', await phase('default limits', true)],
      [
        'beside the abuse, limits lifted',
        await phase('limits lifted', true, {
          maxConnectionsPerAddress: Infinity,
          maxAnonymousOperationsPerAddress: Infinity,
        }),
      ],
      // Alone again: how far the figures move with no abuse at all (other load on the machine).
      ['alone again (noise reference)', await phase('alone again', false)],
    ];
    process.stdout.write(
      '\n| well-behaved client | recordTrade p50 / p99 | trade → price frame p50 / p99 | API RSS |\n',
    );
    process.stdout.write('| --- | --- | --- | --- |\n');
    for (const [name, { record, frame, rss }] of rows)
      process.stdout.write(
        `| ${name} | ${fmt(record.p50)} / ${fmt(record.p99)} ms | ${fmt(frame.p50)} / ${fmt(frame.p99)} ms | ${mib(rss)} |\n`,
      );
  } finally {
    await reactor.stop();
    await store.stop();
  }
}

if (process.argv[2] === 'abuser') await runAbuser(process.argv[3]!);
else await main();
