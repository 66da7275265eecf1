// Backtest replay rate from the store and from a file (10 and 10,000 alerts), and the time to seek by trade
// time to the middle of the trade stream. BENCH_QUICK=1 shrinks the tape from 1M to 20k trades.
// Then the API side: latency of a small `products` query while a large public backtest runs (in its
// worker thread), beside the same latency with no backtest running, measured in the same run.
// BENCH_BACKTEST_PART=replay or =api runs only that part.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer } from '../src/api/server.ts';
import { backtestFromFile, backtestFromStore } from '../src/backtest/index.ts';
import { openStoreRange } from '../src/backtest/storeSource.ts';
import { readForwardsFast } from '../src/eventstore/fastRead.ts';
import { loadConfig } from '../src/config.ts';
import { parseTime } from '../src/domain/time.ts';
import { tradeStream, type TradeInput } from '../src/domain/types.ts';
import { readTradeFile } from '../src/feeds/parse.ts';
import { createLogger } from '../src/logger.ts';
import { startReactor } from '../src/runtime/reactor.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { appendTrades, tape, toCsv } from '../test/backtest/tape.ts';
import { fmt, QUICK, report, summarize } from './stats.ts';

const TRADES = QUICK ? 20_000 : 1_000_000;
// The node refuses appends over 1 MiB; a TradeRecorded is about 250 bytes.
const APPEND_BATCH = 3_000;
const SEEK_SAMPLES = QUICK ? 10 : 30;
/** Events the baselines read: enough for a steady rate, without three more full passes. */
const BASELINE = Math.min(TRADES, 200_000);
const PRODUCT = 'BTC-USD';
/** The size: 20,000 alerts over 20,000 trades, as one anonymous `backtest` query. */
const API_TRADES = QUICK ? 5_000 : 20_000;
const API_ALERTS = QUICK ? 5_000 : 20_000;
const LATENCY_SAMPLES = QUICK ? 50 : 300;
const PART = process.env.BENCH_BACKTEST_PART;
const WINDOWS = ['1m', '10m', '1h', '24h'];

/** A spread of alerts around the tape's prices: every measure, window and direction, half of them repeating. */
function alertSet(count: number): object[] {
  const measures = ['LAST', 'MEAN', 'VWAP'];
  return Array.from({ length: count }, (_, i) => ({
    direction: i % 2 === 0 ? 'ABOVE' : 'BELOW',
    threshold: (43_000 + ((i * 7919) % 4_000) - 2_000 + (i % 100) / 100).toFixed(2),
    measure: measures[i % 3],
    window: WINDOWS[i % WINDOWS.length],
    repeat: i % 4 < 2,
    rearmBy: '5',
  }));
}

if (PART !== 'api') await replayRates();
if (PART !== 'replay') await apiLatency();

/** Replay and read rates from the store and a file, and the seek. */
async function replayRates(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pricealert-bench-backtest-'));
  const file = join(dir, 'trades.csv');
  const store = await startTestStore();
  try {
    // One pass over the tape: the CSV written and the store filled batch by batch, never all in memory.
    const csv = createWriteStream(file);
    let middle = 0;
    let appendMs = 0;
    let batch: TradeInput[] = [];
    let header = true;
    const flush = async (): Promise<void> => {
      if (!csv.write(toCsv(batch, header))) await once(csv, 'drain');
      header = false;
      const started = performance.now();
      await appendTrades(store.client, batch, APPEND_BATCH);
      appendMs += performance.now() - started;
      batch = [];
    };
    let index = 0;
    for (const trade of tape({ count: TRADES, maxGapMicros: 100_000 })) {
      if (index++ === TRADES / 2) middle = parseTime(trade.time)!.micros;
      batch.push(trade);
      if (batch.length === APPEND_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    csv.end();
    await once(csv, 'finish');
    report(
      `setup: append ${fmt(TRADES)} trades in batches of ${fmt(APPEND_BATCH)}`,
      `${fmt(TRADES / (appendMs / 1000), 0)} trades/s`,
    );

    // Baselines: what the store and the file reader deliver with nothing done to the trades.
    let started = performance.now();
    let read = 0;
    for await (const _ of store.client.readStream(tradeStream(PRODUCT), { maxCount: BASELINE })) read += 1;
    report(
      `baseline: client.readStream of ${fmt(BASELINE)} trades, no processing`,
      `${fmt(read / ((performance.now() - started) / 1000), 0)} events/s`,
    );
    started = performance.now();
    read = 0;
    for await (const _ of readForwardsFast(store.client, tradeStream(PRODUCT), 0)) {
      if ((read += 1) === BASELINE) break;
    }
    report(
      `baseline: hand-decoded read (src/eventstore/fastRead.ts) of ${fmt(BASELINE)}, no processing`,
      `${fmt(read / ((performance.now() - started) / 1000), 0)} events/s`,
    );
    started = performance.now();
    read = 0;
    for await (const _ of readTradeFile(file, { source: 'coinbase' })) {
      if ((read += 1) === BASELINE) break;
    }
    report(
      `baseline: readTradeFile of ${fmt(BASELINE)} CSV lines, no checks`,
      `${fmt(read / ((performance.now() - started) / 1000), 0)} lines/s`,
    );

    const common = { product: PRODUCT, products: [PRODUCT], windows: WINDOWS };
    for (const alertCount of [10, 10_000]) {
      const alerts = alertSet(alertCount);
      const fromStore = await backtestFromStore({ ...common, client: store.client, alerts });
      report(
        `replay from store, ${fmt(alertCount)} alerts (${fmt(fromStore.triggers.length)} triggers)`,
        `${fmt(fromStore.tradesReplayed / (fromStore.elapsedMs / 1000), 0)} trades/s`,
        '≥ 50,000 trades/s',
      );
      const fromFile = await backtestFromFile({ ...common, path: file, alerts });
      report(
        `replay from file, ${fmt(alertCount)} alerts (${fmt(fromFile.triggers.length)} triggers)`,
        `${fmt(fromFile.tradesReplayed / (fromFile.elapsedMs / 1000), 0)} trades/s`,
        '≥ 200,000 trades/s',
      );
    }

    const seekMs: number[] = [];
    let reads = 0;
    for (let sample = 0; sample < SEEK_SAMPLES; sample += 1) {
      const started = performance.now();
      const range = await openStoreRange(store.client, PRODUCT, { afterMicros: middle });
      seekMs.push(performance.now() - started);
      reads = range.seek.reads;
    }
    const seek = summarize(seekMs);
    report(
      `seek to the middle of ${fmt(TRADES)} trades (${reads} single-event reads), p50`,
      `${fmt(seek.p50)} ms`,
      '≤ 100 ms',
    );
    report(`seek to the middle, p99`, `${fmt(seek.p99)} ms`, '≤ 100 ms');
  } finally {
    await store.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** p50/p99 of `{ products }` over HTTP, idle and while a large backtest runs, on one API server. */
async function apiLatency(): Promise<void> {
  const apiStore = await startTestStore();
  const config = loadConfig({
    PORT: '0',
    PRICEALERT_DATA_DIR: apiStore.dataDir,
    PRICEALERT_FEED: 'none',
    PRICEALERT_WINDOWS: '1m,10m',
    LOG_LEVEL: 'warn',
  });
  const logger = createLogger('warn');
  await appendTrades(apiStore.client, [...tape({ count: API_TRADES, maxGapMicros: 100_000 })], APPEND_BATCH);
  const reactor = await startReactor({ client: apiStore.client, config, logger });
  // The alert cap raised to the size, so the backtest is the large one it describes.
  const api = await startApiServer({
    config,
    store: apiStore,
    reactor,
    logger,
    limits: { maxBacktestAlerts: API_ALERTS },
  });
  const post = (query: string, variables: object = {}) =>
    fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  const productsLatency = async (whileRunning: boolean): Promise<number[]> => {
    const samples: number[] = [];
    while (samples.length < LATENCY_SAMPLES && (!whileRunning || api.runningBacktests > 0)) {
      const started = performance.now();
      await (await post('{ products }')).json();
      samples.push(performance.now() - started);
    }
    return samples;
  };
  try {
    for (let warm = 0; warm < 20; warm += 1) await (await post('{ products }')).json();
    const idle = summarize(await productsLatency(false));

    const alerts = Array.from({ length: API_ALERTS }, (_, i) => ({
      direction: 'ABOVE',
      threshold: String(1_000_000 + i), // never reached: the replay runs to the end, reporting nothing
      measure: ['LAST', 'MEAN', 'VWAP'][i % 3],
      window: i % 2 === 0 ? '1m' : '10m',
    }));
    const started = performance.now();
    const backtest = post(
      'query($input: BacktestInput!) { backtest(input: $input) { tradesReplayed elapsedMs } }',
      { input: { product: PRODUCT, alerts } },
    ).then(async (response) => ({
      body: (await response.json()) as { data?: { backtest: { tradesReplayed: number } } },
      ms: performance.now() - started,
    }));
    while (api.runningBacktests === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const samples = await productsLatency(true);
    const busy = summarize(samples);
    const done = await backtest;

    report(`API: { products } p50, no backtest running`, `${fmt(idle.p50)} ms`);
    report(`API: { products } p99, no backtest running`, `${fmt(idle.p99)} ms`);
    report(
      `API: { products } p50, during a ${fmt(API_ALERTS)}-alert backtest (${samples.length} samples)`,
      `${fmt(busy.p50)} ms`,
    );
    report(`API: { products } p99, during that backtest`, `${fmt(busy.p99)} ms`);
    report(
      `API: that backtest over ${fmt(done.body.data?.backtest.tradesReplayed ?? 0)} trades, answered in`,
      `${fmt(done.ms / 1000)} s`,
    );
  } finally {
    await api.stop();
    await reactor.stop();
    await apiStore.stop();
  }
}
