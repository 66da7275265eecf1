// The API's real-time path, measured end to end over real WebSockets:
//   1. trade recorded → AlertTriggered frame at the owner's graphql-ws client, at 1k trades/s with
//      100k alerts and 1k connected clients; beside it the seed's 10 s batch job on the same trades;
//   2. `price` fan-out to 1k and 10k connected clients: messages/s, delivery latency, memory per connection.
// The store node runs in its own process, the server and reactor in this one, and the clients in a
// child process (this file again, with `clients`), so client work does not compete with the server's
// event loop. Latencies use process.hrtime (CLOCK_MONOTONIC), comparable across the two processes.
// BENCH_QUICK=1 shrinks every size; its figures are a smoke test, not the real ones.
// BENCH_API_PART=triggers or =fanout runs only that part.
// Memory is read after forced collections: `npm run bench` passes --expose-gc, and without it the
// flag is turned on here, so a plain `node --import tsx bench/api.bench.ts` measures the same way.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { loadSecret, signToken } from '../src/api/auth.ts';
import { startApiServer } from '../src/api/server.ts';
import { loadConfig } from '../src/config.ts';
import { createAlert } from '../src/domain/alerts.ts';
import { dateToIso } from '../src/domain/time.ts';
import { tradeEventId } from '../src/domain/trades.ts';
import { tradeStream } from '../src/domain/types.ts';
import { appendToStream, END, subscribeToAll } from '../src/eventstore/store.ts';
import { createLogger } from '../src/logger.ts';
import { startReactor } from '../src/runtime/reactor.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { fmt, perItem, QUICK, report, summarize } from './stats.ts';

const ALERTS = QUICK ? 2_000 : 100_000;
const USERS = QUICK ? 50 : 1_000;
const TRADE_RATE = Number(process.env.BENCH_TRADE_RATE ?? 1_000);
const TRADES = QUICK ? 500 : 10_000;
const FAN_OUT = QUICK ? [100, 500] : [1_000, 10_000];
const BROADCASTS = QUICK ? 5 : 20;
const BATCH_TICK_MS = 10_000;
const CREATE_CONCURRENCY = 256;
const PART = process.env.BENCH_API_PART;

type ToChild =
  | { cmd: 'connect'; url: string; tokens: string[] }
  | { cmd: 'subscribe'; query: string; settle: boolean }
  | { cmd: 'collect' }
  | { cmd: 'close' };
type FromChild =
  | { type: 'connected'; count: number }
  | { type: 'subscribed' }
  | { type: 'received'; count: number }
  | { type: 'collected'; triggers: number[]; prices: [string, number][]; cpuMicros: number }
  | { type: 'closed' };

// ─── the client process ───────────────────────────────────────────────────────────────────────────

async function runClients(): Promise<void> {
  let clients: Client[] = [];
  const triggerLatencies: number[] = [];
  // [price.last, receive time in ns as a number of microseconds]
  const priceArrivals: [string, number][] = [];
  let received = 0;
  const send = (message: FromChild): void => void process.send!(message);

  const reportProgress = setInterval(() => send({ type: 'received', count: received }), 50);
  reportProgress.unref();

  process.on('message', async (message: ToChild) => {
    if (message.cmd === 'connect') {
      const batch = 250;
      for (let start = 0; start < message.tokens.length; start += batch) {
        const group = message.tokens.slice(start, start + batch).map(async (token) => {
          const client = createClient({
            url: message.url,
            webSocketImpl: WebSocket,
            lazy: false,
            retryAttempts: 0,
            connectionParams: token ? { authorization: `Bearer ${token}` } : {},
            onNonLazyError: () => {},
          });
          await new Promise<void>((resolve) => client.on('connected', () => resolve()));
          clients.push(client);
        });
        await Promise.all(group);
      }
      send({ type: 'connected', count: clients.length });
    } else if (message.cmd === 'subscribe') {
      const batch = 250;
      for (let start = 0; start < clients.length; start += batch) {
        await Promise.all(
          clients.slice(start, start + batch).map(async (client) => {
            client.subscribe<{ alertTriggered?: { trade: { tradeId: string } }; price?: { last: string } }>(
              { query: message.query },
              {
                next: ({ data }) => {
                  const now = process.hrtime.bigint();
                  received += 1;
                  if (data?.alertTriggered) {
                    const sent = BigInt(data.alertTriggered.trade.tradeId.split('-')[1]!);
                    triggerLatencies.push(Number(now - sent) / 1e6);
                  } else if (data?.price) {
                    priceArrivals.push([data.price.last, Number(now / 1000n)]);
                  }
                },
                error: () => {},
                complete: () => {},
              },
            );
            if (message.settle) for await (const _ of client.iterate({ query: '{ products }' })) break;
          }),
        );
      }
      send({ type: 'subscribed' });
    } else if (message.cmd === 'collect') {
      const cpu = process.cpuUsage();
      send({
        type: 'collected',
        triggers: triggerLatencies.splice(0),
        prices: priceArrivals.splice(0),
        cpuMicros: cpu.user + cpu.system,
      });
      received = 0;
    } else if (message.cmd === 'close') {
      await Promise.all(clients.map((client) => client.dispose()));
      clients = [];
      send({ type: 'closed' });
    }
  });
}

// ─── the server process ───────────────────────────────────────────────────────────────────────────

function clientProcess(): {
  child: ChildProcess;
  ask(message: ToChild, until: FromChild['type']): Promise<FromChild>;
  received(): number;
} {
  const child = fork(fileURLToPath(import.meta.url), ['clients'], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  let received = 0;
  child.on('message', (message: FromChild) => {
    if (message.type === 'received') received = message.count;
  });
  return {
    child,
    received: () => received,
    ask: (message, until) =>
      new Promise((resolve) => {
        const listener = (reply: FromChild): void => {
          if (reply.type !== until) return;
          child.off('message', listener);
          resolve(reply);
        };
        child.on('message', listener);
        child.send(message);
      }),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

const collectGarbage: () => void =
  globalThis.gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

interface Memory {
  /** V8 heap in use plus memory held outside it (Buffers, ArrayBuffers), after full collections. */
  live: number;
  rss: number;
}

async function serverMemory(): Promise<Memory> {
  // Several passes with turns of the event loop between them: weak refs, finalizers and sockets'
  // close callbacks free more only after a pass and a turn.
  for (let pass = 0; pass < 4; pass += 1) {
    collectGarbage();
    await sleep(20);
  }
  const usage = process.memoryUsage();
  return { live: usage.heapUsed + usage.external, rss: usage.rss };
}

const perItemKb = (after: Memory, before: Memory, count: number, key: keyof Memory): string =>
  perItem(after[key] - before[key], count, 'KB');

async function main(): Promise<void> {
  process.stdout.write(
    `API bench${QUICK ? ' (QUICK: small sizes, figures are a smoke test)' : ''}: ${fmt(ALERTS)} alerts, ${fmt(USERS)} clients, ` +
      `${fmt(TRADES)} trades at ${fmt(TRADE_RATE)}/s; price fan-out to ${FAN_OUT.map((n) => fmt(n)).join(' and ')} clients\n`,
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
  // Every client of the bench connects from loopback: one address, so its limits are lifted.
  const api = await startApiServer({
    config,
    store,
    reactor,
    logger,
    limits: { maxConnectionsPerAddress: Infinity, maxAnonymousOperationsPerAddress: Infinity },
  });
  const wsUrl = api.url.replace(/^http/, 'ws');
  const secret = await loadSecret(config);
  const clients = clientProcess();

  try {
    if (PART !== 'fanout') await triggerLatency();
    if (PART !== 'triggers') await priceFanOut();
  } finally {
    clients.child.kill();
    await api.stop();
    await reactor.stop();
    await store.stop();
  }

  async function triggerLatency(): Promise<void> {
    // 1. Alerts: alert i fires at exactly the i-th trade of the run (LAST ABOVE 10000 + i/100).
    const created = performance.now();
    const ids: string[] = [];
    for (let start = 0; start < ALERTS; start += CREATE_CONCURRENCY) {
      await Promise.all(
        Array.from({ length: Math.min(CREATE_CONCURRENCY, ALERTS - start) }, async (_, offset) => {
          const index = start + offset;
          const state = await createAlert(
            store.client,
            {
              alertId: `bench-${index}`,
              userId: `user-${index % USERS}`,
              product: 'BTC-USD',
              direction: 'ABOVE',
              threshold: (10_000 + index / 100).toFixed(2),
              measure: 'LAST',
              now: dateToIso(new Date()),
            },
            { products: config.PRICEALERT_PRODUCTS, windows: config.PRICEALERT_WINDOWS },
          );
          ids[index] = state.state.created.alertId;
        }),
      );
    }
    await until(() => ids.every((id) => reactor.views.alert(id) !== undefined), 120_000);
    report(
      'alerts created and in the reactor',
      `${fmt(ALERTS)} in ${fmt((performance.now() - created) / 1000, 1)} s`,
    );

    const tokens = await Promise.all(
      Array.from({ length: USERS }, (_, user) =>
        signToken(secret, { userId: `user-${user}`, role: 'user' }, 3600),
      ),
    );
    await clients.ask({ cmd: 'connect', url: wsUrl, tokens }, 'connected');
    await clients.ask(
      {
        cmd: 'subscribe',
        query: 'subscription { alertTriggered { cursor value trade { tradeId } alert { id } } }',
        settle: true,
      },
      'subscribed',
    );

    // A second store subscription, for the breakdown: when did each AlertTriggered reach the store?
    const storedAt: number[] = [];
    const watch = subscribeToAll(store.client, { fromPosition: END, eventTypePrefixes: ['AlertTriggered'] });
    void (async () => {
      for await (const event of watch) {
        const data = event.data as { trade?: { tradeId?: string } } | undefined;
        const sent = data?.trade?.tradeId?.split('-')[1];
        if (sent) storedAt.push(Number(process.hrtime.bigint() - BigInt(sent)) / 1e6);
      }
    })().catch(() => undefined);

    // Open-loop at TRADE_RATE: trade n is sent at start + n ms whatever happened to trade n − 1.
    const tradeWallTimes: number[] = [];
    const started = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let n = 0; n < TRADES; n += 1) {
      const due = started + (n * 1000) / TRADE_RATE;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const sentAt = process.hrtime.bigint();
      tradeWallTimes.push(Date.now());
      const tradeId = `b${n}-${sentAt}`;
      const data = {
        product: 'BTC-USD',
        tradeId,
        price: (10_000 + n / 100 + 0.005).toFixed(3),
        size: '0.1',
        side: 'buy',
        time: dateToIso(new Date()),
        source: 'bench',
      };
      const append = appendToStream(store.client, tradeStream('BTC-USD'), {
        id: tradeEventId('bench', 'BTC-USD', tradeId),
        type: 'TradeRecorded',
        data,
      });
      inFlight.add(append);
      void append.finally(() => inFlight.delete(append));
      if (inFlight.size >= 256) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const sendSeconds = (performance.now() - started) / 1000;
    const expected = Math.min(TRADES, ALERTS);
    const complete = await until(() => clients.received() >= expected, 60_000);
    const { triggers } = (await clients.ask({ cmd: 'collect' }, 'collected')) as Extract<
      FromChild,
      { type: 'collected' }
    >;
    const ours = summarize(triggers);
    report(
      'trades sent',
      `${fmt(TRADES)} in ${fmt(sendSeconds, 2)} s (${fmt(TRADES / sendSeconds, 0)}/s)`,
      `${fmt(TRADE_RATE)}/s`,
    );
    report(
      'triggers received',
      `${fmt(triggers.length)} of ${fmt(expected)}${complete ? '' : ' (timed out)'}`,
    );
    report('trade → trigger frame p50', `${fmt(ours.p50)} ms`);
    report('trade → trigger frame p99', `${fmt(ours.p99)} ms`, '≤ 5 ms');
    report('trade → trigger frame p99.9', `${fmt(ours.p999)} ms`);
    report('trade → trigger frame max', `${fmt(ours.max)} ms`);
    await watch.unsubscribe();
    const reactorPart = summarize(storedAt);
    report(
      '  of which trade → AlertTriggered in the store p50 / p99',
      `${fmt(reactorPart.p50)} / ${fmt(reactorPart.p99)} ms`,
    );
    report(
      '  of which AlertTriggered → frame (API) p50 / p99',
      `${fmt(ours.p50 - reactorPart.p50)} / ${fmt(ours.p99 - reactorPart.p99)} ms`,
    );

    // Baseline: the seed's batch job looked every 10 s, so a crossing was noticed at the next tick. Its
    // clock's phase is arbitrary, so every trade is taken against 100 evenly spread phases.
    const PHASES = 100;
    const seed = summarize(
      tradeWallTimes.slice(0, expected).flatMap((wall) =>
        Array.from({ length: PHASES }, (_, phase) => {
          const sinceTick = (wall - (phase * BATCH_TICK_MS) / PHASES) % BATCH_TICK_MS;
          return BATCH_TICK_MS - sinceTick;
        }),
      ),
    );
    report('seed batch job (10 s poll) p50', `${fmt(seed.p50, 0)} ms`);
    report('seed batch job (10 s poll) p99', `${fmt(seed.p99, 0)} ms`);
    report(
      'improvement (seed ÷ pricealert) at p50 / p99',
      `${fmt(seed.p50 / ours.p50, 0)}× / ${fmt(seed.p99 / ours.p99, 0)}×`,
    );
    await clients.ask({ cmd: 'close' }, 'closed');
  }

  async function priceFanOut(): Promise<void> {
    // 2. price fan-out: every client subscribes to ETH-USD's 1m window; each trade is one broadcast.
    let ethTrade = 0;
    const recordEth = async (price: string): Promise<void> => {
      ethTrade += 1;
      const tradeId = `eth-${ethTrade}`;
      const data = {
        product: 'ETH-USD',
        tradeId,
        price,
        size: '1',
        side: 'sell',
        time: dateToIso(new Date()),
        source: 'bench',
      };
      await appendToStream(store.client, tradeStream('ETH-USD'), {
        id: tradeEventId('bench', 'ETH-USD', tradeId),
        type: 'TradeRecorded',
        data,
      });
    };
    await recordEth('29999');
    for (const count of FAN_OUT) {
      // Per connection from the second half of the connections: the first half also pays one-time
      // costs (code compiled, pools and maps grown) that are no connection's own.
      const half = Array.from({ length: count / 2 }, () => '');
      const before = await serverMemory();
      await clients.ask({ cmd: 'connect', url: wsUrl, tokens: half }, 'connected');
      await sleep(500);
      const halfway = await serverMemory();
      await clients.ask({ cmd: 'connect', url: wsUrl, tokens: half }, 'connected');
      await sleep(500);
      const connected = await serverMemory();
      // The current price arrives at once on subscribing: it tells the client its subscription is live.
      await clients.ask(
        {
          cmd: 'subscribe',
          query: 'subscription { price(product: "ETH-USD", window: "1m") { last count time } }',
          settle: false,
        },
        'subscribed',
      );
      await until(() => clients.received() >= count, 60_000);
      const { cpuMicros: clientCpuBefore } = (await clients.ask({ cmd: 'collect' }, 'collected')) as Extract<
        FromChild,
        { type: 'collected' }
      >;
      await sleep(500);
      const subscribed = await serverMemory();

      const sentAt = new Map<string, number>();
      // When the reactor announced each change: the API's own share of the delivery time starts here.
      const changedAt = new Map<string, number>();
      // How long the server took to write every frame of a change to its socket: the fan-out runs in
      // promise jobs after the reactor's change (the hub listens before this), so by the next
      // setImmediate every frame has been handed to the kernel.
      const writtenIn: number[] = [];
      const stopWatching = reactor.onChange((product) => {
        const last = product === 'ETH-USD' ? reactor.views.price(product, '1m')?.last : undefined;
        if (!last) return;
        const changed = performance.now();
        changedAt.set(last, Number(process.hrtime.bigint() / 1000n));
        setImmediate(() => writtenIn.push(performance.now() - changed));
      });
      const phase = performance.now();
      const serverCpu = process.cpuUsage();
      for (let k = 0; k < BROADCASTS; k += 1) {
        const price = String(30_000 + k);
        const target = clients.received() + count;
        sentAt.set(price, Number(process.hrtime.bigint() / 1000n));
        await recordEth(price);
        await until(() => clients.received() >= target, 30_000);
      }
      const phaseSeconds = (performance.now() - phase) / 1000;
      const serverCpuUsed = process.cpuUsage(serverCpu);
      const { prices, cpuMicros: clientCpuAfter } = (await clients.ask(
        { cmd: 'collect' },
        'collected',
      )) as Extract<FromChild, { type: 'collected' }>;
      const latencies = prices
        .filter(([last]) => sentAt.has(last))
        .map(([last, at]) => (at - sentAt.get(last)!) / 1000);
      const delivery = summarize(latencies);
      stopWatching();
      const fanOut = summarize(
        prices
          .filter(([last]) => changedAt.has(last))
          .map(([last, at]) => (at - changedAt.get(last)!) / 1000),
      );
      report(
        `price fan-out to ${fmt(count)} clients: messages delivered`,
        `${fmt(latencies.length)} of ${fmt(count * BROADCASTS)}`,
      );
      report(`price fan-out to ${fmt(count)} clients: messages/s`, fmt(latencies.length / phaseSeconds, 0));
      // CPU time per message, less sensitive than latency to what else the machine is doing.
      report(
        `  CPU per message: server (reactor + API) / client process`,
        `${fmt((serverCpuUsed.user + serverCpuUsed.system) / latencies.length)} / ${fmt((clientCpuAfter - clientCpuBefore) / latencies.length)} µs`,
      );
      report(`price fan-out to ${fmt(count)} clients: delivery p50`, `${fmt(delivery.p50)} ms`);
      report(
        `price fan-out to ${fmt(count)} clients: delivery p95`,
        `${fmt(delivery.p95)} ms`,
        count >= 10_000 ? '≤ 250 ms' : undefined,
      );
      report(`price fan-out to ${fmt(count)} clients: delivery p99`, `${fmt(delivery.p99)} ms`);
      report(
        `  of which reactor change → frame (API) p50 / p95`,
        `${fmt(fanOut.p50)} / ${fmt(fanOut.p95)} ms`,
      );
      const written = summarize(writtenIn);
      report(
        `  server: reactor change → all ${fmt(count)} frames written p50 / max`,
        `${fmt(written.p50)} / ${fmt(written.max)} ms`,
      );
      report(
        `server memory per idle connection (${fmt(count / 2)} → ${fmt(count)}), heap + external`,
        perItemKb(connected, halfway, count / 2, 'live'),
        '≤ 20 KB',
      );
      report(`  the same, RSS`, perItemKb(connected, halfway, count / 2, 'rss'));
      report(
        `  averaged over all ${fmt(count)} (0 → ${fmt(count)}), heap + external / RSS`,
        `${perItemKb(connected, before, count, 'live')} / ${perItemKb(connected, before, count, 'rss')}`,
      );
      report(
        `  plus per price subscription on it, heap + external`,
        perItemKb(subscribed, connected, count, 'live'),
      );
      await clients.ask({ cmd: 'close' }, 'closed');
      await sleep(500);
    }
  }
}

if (process.argv[2] === 'clients') await runClients();
else await main();
