// Backtest replay rate from the store and from a file (10 and 10,000 alerts), and the time to seek by trade
// time to the middle of the trade stream. BENCH_QUICK=1 shrinks the tape from 1M to 20k trades.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backtestFromFile, backtestFromStore } from '../src/backtest/index.ts';
import { openStoreRange } from '../src/backtest/storeSource.ts';
import { readStreamForwards } from '../src/backtest/wireRead.ts';
import { parseTime } from '../src/domain/time.ts';
import { tradeStream, type TradeInput } from '../src/domain/types.ts';
import { readTradeFile } from '../src/feeds/parse.ts';
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
  for await (const _ of readStreamForwards(store.client, tradeStream(PRODUCT), 0)) {
    if ((read += 1) === BASELINE) break;
  }
  report(
    `baseline: hand-decoded read (wireRead.ts) of ${fmt(BASELINE)}, no processing`,
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
