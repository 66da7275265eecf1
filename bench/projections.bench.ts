// Projections, in one process on one core:
//   1. averagePrice fold rate with the default windows (1m, 10m, 1h, 24h + all), bytes per trade held;
//      beside it the seed's batch job: SQLite AVG(price) over the last 10 minutes every 10 s;
//   2. alert-book cost per trade at 1k / 100k / 1M active alerts that do not trigger, bytes per alert;
//      beside it the seed's linear scan of every alert per trade (with the same exact comparisons);
//   3. conditions decided one by one (ENTER/EXIT, cooldowns) at 1k / 10k / 100k alerts, beside as many
//      CROSS alerts in the heaps.
// BENCH_QUICK=1 shrinks the sizes; its figures are a smoke test, not the real ones.
import Database from 'better-sqlite3';
import * as alertBook from '../projections/alertBook.ts';
import * as averagePrice from '../projections/averagePrice.ts';
import { createMarket, addAlert, applyTrade } from '../projections/market.ts';
import { alertKeys, fires, scaledNumerator } from '../src/domain/crossing.ts';
import type { AlertCreated, TradeRecorded } from '../src/domain/events.ts';
import { formatMicros } from '../src/domain/time.ts';
import type { Measure } from '../src/domain/types.ts';
import { fmt, mib, perItem, QUICK, report } from './stats.ts';

const WINDOWS = ['1m', '10m', '1h', '24h'];
const FOLD_TRADES = QUICK ? 300_000 : 3_000_000;
const TRADES_PER_SECOND = 30;
const CHUNK = 100_000;
const BOOK_SIZES = QUICK ? [1_000, 100_000] : [1_000, 100_000, 1_000_000];
const BOOK_TRADES = QUICK ? 20_000 : 100_000;
const SCAN_TRADES = (alerts: number) => Math.max(20, Math.min(2_000, Math.floor(20_000_000 / alerts)));
const START = Date.UTC(2026, 10, 26) * 1000;

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

let seed = 12_345;
const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;

/** A random-walk tape around 43,000 with cents and 8-decimal sizes, as Coinbase sends BTC-USD. */
function* tape(count: number): Generator<TradeRecorded[]> {
  let cents = 4_300_000;
  for (let start = 0; start < count; start += CHUNK) {
    const chunk: TradeRecorded[] = [];
    for (let index = start; index < Math.min(count, start + CHUNK); index += 1) {
      cents = Math.max(100, cents + Math.round((random() - 0.5) * 200));
      chunk.push({
        product: 'BTC-USD',
        tradeId: String(index),
        price: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
        size: `0.${String(1 + Math.floor(random() * 99_999_999)).padStart(8, '0')}`,
        side: random() < 0.5 ? 'buy' : 'sell',
        time: formatMicros(START + Math.floor((index * 1_000_000) / TRADES_PER_SECOND)),
        source: 'bench',
      });
    }
    yield chunk;
  }
}

function foldRate(): number {
  const state = averagePrice.initialState(WINDOWS);
  let nanos = 0n;
  for (const chunk of tape(FOLD_TRADES)) {
    const began = process.hrtime.bigint();
    for (const trade of chunk) averagePrice.evolve(state, trade);
    nanos += process.hrtime.bigint() - began;
  }
  const rate = FOLD_TRADES / (Number(nanos) / 1e9);
  report('averagePrice fold, 4 windows + all (trades/s)', fmt(rate, 0), '≥ 200,000');
  const book = state.products.get('BTC-USD')!;
  const held = book.tail - book.head;
  report(
    `  bytes per trade held (${fmt(held, 0)} trades in 24h window)`,
    fmt(averagePrice.storeBytes(book) / held, 1),
    '≤ 64',
  );
  return rate;
}

/** The seed's batch job: every trade inserted into SQLite, AVG(price) of the last 10 minutes every 10 s of trade time. */
function batchJobRate(): number {
  const db = new Database(':memory:');
  db.exec(
    'CREATE TABLE trades (time INTEGER NOT NULL, price REAL NOT NULL); CREATE INDEX trades_time ON trades(time);',
  );
  const insert = db.prepare('INSERT INTO trades (time, price) VALUES (?, ?)');
  const average = db.prepare('SELECT AVG(price) AS mean FROM trades WHERE time > ?');
  const count = Math.min(FOLD_TRADES, QUICK ? 300_000 : 1_000_000);
  let nextRun = START + 10_000_000;
  let nanos = 0n;
  for (const chunk of tape(count)) {
    const began = process.hrtime.bigint();
    const insertMany = db.transaction((trades: TradeRecorded[]) => {
      for (const trade of trades) {
        const micros = Date.parse(trade.time) * 1000;
        insert.run(micros, Number(trade.price));
        if (micros >= nextRun) {
          average.get(micros - 600_000_000);
          nextRun += 10_000_000;
        }
      }
    });
    insertMany(chunk);
    nanos += process.hrtime.bigint() - began;
  }
  db.close();
  const rate = count / (Number(nanos) / 1e9);
  report('seed batch job: SQLite insert + AVG(10m) every 10 s (trades/s)', fmt(rate, 0));
  return rate;
}

const far = (index: number, total: number): Pick<AlertCreated, 'direction' | 'threshold'> =>
  index % 2 === 0
    ? {
        direction: 'ABOVE',
        threshold: String(1_000_000 + (index % 100_000) + (index / total).toFixed(6).slice(1)),
      }
    : { direction: 'BELOW', threshold: `${1 + (index % 1000)}.${String(index % 97).padStart(2, '0')}` };

function alerts(total: number): AlertCreated[] {
  const measures = ['MEAN', 'VWAP', 'LAST'] as const;
  const windows = [...WINDOWS, 'all'];
  return Array.from({ length: total }, (_, index) => ({
    alertId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    userId: `user-${index % 1000}`,
    product: 'BTC-USD',
    ...far(index, total),
    measure: measures[index % 3]!,
    window: windows[index % windows.length]!,
    repeat: index % 4 === 0,
    rearmBy: index % 4 === 0 ? '10' : '0',
    createdAt: '2026-11-26T00:00:00.000000Z',
  }));
}

function bookCost(total: number): void {
  const warm = [...tape(20_000)].flat();
  const trades = [...tape(BOOK_TRADES)].flat();
  gc();
  const before = process.memoryUsage().heapUsed;
  const given = alerts(total);
  gc();
  const dataBytes = (process.memoryUsage().heapUsed - before) / total;
  const market = createMarket(WINDOWS);
  for (const alert of given) addAlert(market, alert);
  gc();
  const bytesPerAlert = (process.memoryUsage().heapUsed - before) / total - dataBytes;
  for (const trade of warm) applyTrade(market, trade);
  const product = () => market.prices.products.get('BTC-USD')!;
  let nanos = 0n;
  let changes = 0;
  for (const trade of trades) {
    averagePrice.evolve(market.prices, trade);
    const book = product();
    const began = process.hrtime.bigint();
    changes += alertBook.cross(
      market.book,
      'BTC-USD',
      (measure, window) =>
        averagePrice.measureRatio(
          book,
          measure as Measure,
          measure === 'LAST' ? 0 : averagePrice.windowIndex(market.prices, window),
        ),
      0,
    ).length;
    nanos += process.hrtime.bigint() - began;
  }
  if (changes !== 0) throw new Error(`expected no triggers, got ${changes}`);
  const perTrade = Number(nanos) / trades.length / 1000;
  report(
    `alert book, ${fmt(total, 0)} active alerts: µs per trade`,
    fmt(perTrade, 3),
    total >= 1_000_000 ? '≤ 5 µs' : undefined,
  );
  report(`  bytes per alert in the book`, fmt(bytesPerAlert, 0), '≤ 300');
  report(
    `  bytes per alert of AlertCreated data (held by the alerts view)`,
    perItem(dataBytes * total, total, 'B'),
  );

  // The seed: every alert compared on every trade (here with the same exact comparisons).
  const keyed = given.map((alert) => ({
    alert,
    direction: alert.direction!,
    key: alertKeys({ ...alert, direction: alert.direction!, threshold: alert.threshold! })!.key,
  }));
  const scanTrades = trades.slice(0, SCAN_TRADES(total));
  const scanBegan = process.hrtime.bigint();
  let scanned = 0;
  for (const trade of scanTrades) {
    averagePrice.evolve(market.prices, trade);
    const book = product();
    for (const { alert, direction, key } of keyed) {
      const ratio = averagePrice.measureRatio(
        book,
        alert.measure,
        alert.measure === 'LAST' ? 0 : averagePrice.windowIndex(market.prices, alert.window),
      );
      if (fires(direction, key, ratio, scaledNumerator(ratio))) scanned += 1;
    }
  }
  if (scanned !== 0) throw new Error('the linear scan found a trigger');
  const scanPerTrade = Number(process.hrtime.bigint() - scanBegan) / scanTrades.length / 1000;
  report(`  seed linear scan: µs per trade`, fmt(scanPerTrade, 1));
  report(`  book is faster than the scan by`, `${fmt(scanPerTrade / perTrade, 0)}×`);
  report(`  heap after (${fmt(total, 0)} alerts)`, mib(process.memoryUsage().heapUsed));
}

/**
 * Alerts the book decides one by one (README "Conditions": ENTER/EXIT and cooldowns; O(n) per trade)
 * against as many CROSS alerts kept in the heaps, none of them firing: µs per trade through applyTrade.
 */
function conditionCost(total: number): void {
  const trades = [...tape(QUICK ? 5_000 : 20_000)].flat();
  const [base] = alerts(1);
  const run = (make: (index: number) => Partial<AlertCreated>): number => {
    const market = createMarket(WINDOWS);
    for (let index = 0; index < total; index += 1) {
      addAlert(market, {
        ...base!,
        alertId: `c-${index}`,
        direction: undefined,
        threshold: undefined,
        repeat: true,
        ...make(index),
      } as AlertCreated);
    }
    // The first trade sets the edge alerts' sides (a re-arm each); after it nothing changes.
    applyTrade(market, trades[0]!);
    let changes = 0;
    const began = process.hrtime.bigint();
    for (const trade of trades.slice(1)) changes += applyTrade(market, trade).length;
    const micros = Number(process.hrtime.bigint() - began) / (trades.length - 1) / 1000;
    if (changes !== 0) throw new Error(`expected no changes, got ${changes}`);
    return micros;
  };
  const measure = (index: number): Measure => (['MEAN', 'VWAP', 'LAST'] as const)[index % 3]!;
  const oneByOne = run((index) =>
    index % 2 === 0
      ? { condition: 'ENTER', low: '1000000', high: String(1_000_001 + index), measure: measure(index) }
      : { ...far(index, total), cooldown: '5m', measure: measure(index) },
  );
  const heaps = run((index) => ({ condition: 'CROSS', ...far(index, total), measure: measure(index) }));
  report(`conditions one by one, ${fmt(total, 0)} ENTER/cooldown alerts: µs per trade`, fmt(oneByOne, 2));
  report(`  as many CROSS alerts in the heaps: µs per trade`, fmt(heaps, 3));
}

process.stdout.write(QUICK ? '(BENCH_QUICK=1: small sizes, figures are a smoke test)\n' : '');
const fold = foldRate();
const batch = batchJobRate();
report('  fold vs batch job (per trade, and always exact and current)', `${fmt(fold / batch, 1)}×`);
for (const total of BOOK_SIZES) bookCost(total);
for (const total of QUICK ? [1_000, 10_000] : [1_000, 10_000, 100_000]) conditionCost(total);
