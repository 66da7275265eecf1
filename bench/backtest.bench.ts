// Backtest replay rate from the store and from a file (10 and 10,000 alerts), and the time to seek by trade
// time to the middle of the trade stream. BENCH_QUICK=1 shrinks the tape from 1M to 20k trades.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backtestFromFile, backtestFromStore } from '../src/backtest/index.ts';
import { openStoreRange } from '../src/backtest/storeSource.ts';
import { readStreamForwards } from '../src/backtest/wireRead.ts';
import { parseTime } from '../src/domain/time.ts';
import { tradeStream } from '../src/domain/types.ts';
import { readTradeFile } from '../src/feeds/parse.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { appendTrades, tape, toCsv } from '../test/backtest/tape.ts';
import { fmt, QUICK, report, summarize } from './stats.ts';

const TRADES = QUICK ? 20_000 : 1_000_000;
// The node refuses appends over 1 MiB; a TradeRecorded is about 250 bytes.
const APPEND_BATCH = 3_000;
const SEEK_SAMPLES = QUICK ? 10 : 30;
const PRODUCT = 'BTC-USD';
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

const trades = [...tape({ count: TRADES, maxGapMicros: 100_000 })];
const dir = await mkdtemp(join(tmpdir(), 'pricealert-bench-backtest-'));
const file = join(dir, 'trades.csv');
await writeFile(file, toCsv(trades));
const store = await startTestStore();
try {
  const written = performance.now();
  await appendTrades(store.client, trades, APPEND_BATCH);
  const writeSeconds = (performance.now() - written) / 1000;
  report(
    `setup: append ${fmt(TRADES)} trades in batches of ${fmt(APPEND_BATCH)}`,
    `${fmt(TRADES / writeSeconds, 0)} trades/s`,
  );

  // Baselines: what the store and the file reader deliver with nothing done to the trades.
  let started = performance.now();
  let read = 0;
  for await (const _ of store.client.readStream(tradeStream(PRODUCT))) read += 1;
  report(
    'baseline: client.readStream of the trades, no processing',
    `${fmt(read / ((performance.now() - started) / 1000), 0)} events/s`,
  );
  started = performance.now();
  read = 0;
  for await (const _ of readStreamForwards(store.client, tradeStream(PRODUCT), 0)) read += 1;
  report(
    'baseline: hand-decoded read (wireRead.ts), no processing',
    `${fmt(read / ((performance.now() - started) / 1000), 0)} events/s`,
  );
  started = performance.now();
  read = 0;
  for await (const _ of readTradeFile(file, { source: 'coinbase' })) read += 1;
  report(
    'baseline: raw readTradeFile of the CSV (no checks, no replay)',
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

  const middle = parseTime(trades[Math.floor(TRADES / 2)]!.time)!.micros;
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
