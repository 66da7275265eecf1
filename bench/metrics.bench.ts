// What a Prometheus scrape costs: GET /metrics on a server holding 10k alerts with 1k WebSocket clients
// connected (each with an alertTriggered subscription), beside a trivial GET /health in the same run.
// The scrape walks the connections for the subscription gauge and reads the reactor's and the
// process's figures (open file descriptors and handles grow with the connections); nothing in it grows
// with the alerts. The clients run in a child process (this file again, with `clients`), as remote
// clients would, and sit idle while the scrapes are timed. BENCH_QUICK=1 shrinks the sizes.
import { fork } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { loadSecret, signToken } from '../src/api/auth.ts';
import { startApiServer } from '../src/api/server.ts';
import { loadConfig } from '../src/config.ts';
import { recordTrades } from '../src/domain/trades.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { startReactor } from '../src/runtime/reactor.ts';
import { seedAlerts } from '../test/helpers/seed.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { fmt, QUICK, report, summarize } from './stats.ts';

const USERS = QUICK ? 10 : 1_000;
const ALERTS_PER_USER = 10;
const CLIENTS = QUICK ? 10 : 1_000;
const TRADES = QUICK ? 100 : 1_000;
const SCRAPES = QUICK ? 10 : 50;
const WARM_UP = 5;
const CONNECT_BATCH = 250;
const TARGET_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The client process: opens a subscribed graphql-ws client per token, says `connected`, then waits. */
async function runClients(): Promise<void> {
  const clients: Client[] = [];
  process.once('message', async ({ url, tokens }: { url: string; tokens: string[] }) => {
    for (let start = 0; start < tokens.length; start += CONNECT_BATCH) {
      await Promise.all(
        tokens.slice(start, start + CONNECT_BATCH).map(async (token) => {
          const client = createClient({
            url,
            webSocketImpl: WebSocket,
            lazy: false,
            retryAttempts: 0,
            connectionParams: { authorization: `Bearer ${token}` },
            onNonLazyError: () => {},
          });
          await new Promise<void>((resolve) => client.on('connected', () => resolve()));
          client.subscribe(
            { query: 'subscription { alertTriggered { alert { id } } }' },
            { next: () => {}, error: () => {}, complete: () => {} },
          );
          clients.push(client);
        }),
      );
    }
    process.send!('connected');
  });
}

/** Milliseconds from sending the request to the whole body read, and the body's size. */
async function timedGet(url: URL): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(url);
  const body = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`${url.pathname} answered ${response.status}`);
  return { ms, bytes: Buffer.byteLength(body) };
}

async function main(): Promise<void> {
  const alerts = USERS * ALERTS_PER_USER;
  process.stdout.write(
    `metrics bench${QUICK ? ' (QUICK: small sizes, figures are a smoke test)' : ''}: ${fmt(alerts)} alerts, ` +
      `${fmt(CLIENTS)} WebSocket clients, ${SCRAPES} scrapes\n`,
  );
  const store = await startTestStore();
  const config = loadConfig({
    PORT: '0',
    PRICEALERT_DATA_DIR: store.dataDir,
    PRICEALERT_FEED: 'none',
    LOG_LEVEL: 'warn',
  });
  const logger = createLogger('warn');
  const metrics = createMetrics();
  const client = metrics.timeAppends(store.client);
  const reactor = await startReactor({ client, config, logger, observer: metrics.reactor });
  // Every client connects from loopback: one address, so its limits are lifted.
  const api = await startApiServer({
    config,
    store: { client, connectionString: store.connectionString },
    reactor,
    logger,
    metrics,
    limits: { maxConnectionsPerAddress: Infinity, maxAnonymousOperationsPerAddress: Infinity },
  });
  const clients = fork(fileURLToPath(import.meta.url), ['clients'], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  try {
    for (let user = 0; user < USERS; user += 1)
      await seedAlerts(store.client, `user-${user}`, ALERTS_PER_USER);
    while (reactor.stats().eventsProcessed < alerts) await sleep(50);
    // Some trades, so the trade counters and append histograms have series to render.
    const base = Date.parse('2026-11-26T08:00:00Z');
    await recordTrades(
      client,
      Array.from({ length: TRADES }, (_, index) => ({
        source: 'bench',
        product: index % 2 === 0 ? 'BTC-USD' : 'ETH-USD',
        tradeId: `m${index}`,
        price: '100',
        size: '1',
        side: 'buy' as const,
        time: new Date(base + index).toISOString(),
      })),
      { products: config.PRICEALERT_PRODUCTS },
    );
    while (reactor.stats().eventsProcessed < alerts + TRADES) await sleep(50);

    const secret = await loadSecret(config);
    const wsUrl = api.url.replace(/^http/, 'ws');
    const tokens = await Promise.all(
      Array.from({ length: CLIENTS }, (_, index) =>
        signToken(secret, { userId: `user-${index % USERS}`, role: 'user' }, 3600),
      ),
    );
    const connected = new Promise((resolve) => clients.once('message', resolve));
    clients.send({ url: wsUrl, tokens });
    await connected;
    // Until the server holds every subscription (it registers them as the frames arrive).
    const metricsUrl = new URL('/metrics', api.url);
    const healthUrl = new URL('/health', api.url);
    for (;;) {
      const text = await (await fetch(metricsUrl)).text();
      if (new RegExp(`^pricealert_ws_subscriptions ${CLIENTS}$`, 'm').test(text)) break;
      await sleep(50);
    }

    const scrapes: number[] = [];
    const healths: number[] = [];
    const inProcess: number[] = [];
    const cpuMs: number[] = [];
    let bytes = 0;
    for (let round = 0; round < WARM_UP + SCRAPES; round += 1) {
      const scrape = await timedGet(metricsUrl);
      const health = await timedGet(healthUrl);
      const started = performance.now();
      const cpu = process.cpuUsage();
      await metrics.scrape();
      const collected = performance.now() - started;
      const used = process.cpuUsage(cpu);
      if (round < WARM_UP) continue;
      scrapes.push(scrape.ms);
      healths.push(health.ms);
      inProcess.push(collected);
      cpuMs.push((used.user + used.system) / 1000);
      bytes = scrape.bytes;
    }
    const scrape = summarize(scrapes);
    const health = summarize(healths);
    const collect = summarize(inProcess);
    report(
      `GET /metrics (${fmt(alerts)} alerts, ${fmt(CLIENTS)} clients) p50 / p99`,
      `${fmt(scrape.p50)} / ${fmt(scrape.p99)} ms`,
      `< ${TARGET_MS} ms`,
    );
    report('  baseline: GET /health p50 / p99', `${fmt(health.p50)} / ${fmt(health.p99)} ms`);
    report(
      '  registry.metrics() alone, in process p50 / p99',
      `${fmt(collect.p50)} / ${fmt(collect.p99)} ms`,
    );
    const cpu = summarize(cpuMs);
    report('  registry.metrics() CPU time p50 / p99', `${fmt(cpu.p50)} / ${fmt(cpu.p99)} ms`);
    report('  body', `${fmt(bytes / 1024, 1)} KiB`);
    // Wall-clock figures on a shared machine stretch with its load; the CPU time less so.
    report('  load average (1 min) / cores', `${fmt(loadavg()[0]!)} / ${availableParallelism()}`);
  } finally {
    clients.kill();
    await api.stop();
    await reactor.stop();
    await store.stop();
  }
}

if (process.argv[2] === 'clients') await runClients();
else await main();
