// Live reactor ≡ backtest for every condition: on one tape (with late trades and equal times), alerts of
// each condition — once, repeat, rearmBy, cooldowns — fire on the same trades with the same values live
// as in a backtest. The live reactor is stopped halfway and a new one starts from its snapshot, so the
// edge alerts' side and the cooldowns must survive a restart for the triggers to agree.
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestFromStore } from '../../src/backtest/index.ts';
import type { BacktestTrigger } from '../../src/backtest/report.ts';
import { createAlert, type CreateAlertCommand } from '../../src/domain/alerts.ts';
import { parseEvent } from '../../src/domain/events.ts';
import { dateToIso, formatMicros, parseTime } from '../../src/domain/time.ts';
import { recordTrades } from '../../src/domain/trades.ts';
import { alertStream, tradeStream, type TradeInput } from '../../src/domain/types.ts';
import { lastEvent, readStream } from '../../src/eventstore/store.ts';
import { createLogger } from '../../src/logger.ts';
import { startReactor, type Reactor } from '../../src/runtime/reactor.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { tape } from './tape.ts';

const PRODUCT = 'BTC-USD';
const PRODUCTS = [PRODUCT];
const WINDOWS = ['1m', '10m'];

/** A random walk, with every 37th trade at its predecessor's time and every 53rd up to 40 s late. */
const TRADES: TradeInput[] = [...tape({ count: 3_000, maxGapMicros: 1_000_000, seed: 11 })].map(
  (trade, index, all) => {
    if (index > 0 && index % 37 === 0) return { ...trade, time: all[index - 1]!.time };
    if (index % 53 === 0) {
      const micros = parseTime(trade.time)!.micros - ((index * 7919) % 40_000_000);
      return { ...trade, time: formatMicros(micros) };
    }
    return trade;
  },
);
const MID = Number(TRADES[0]!.price);
const at = (offset: number): string => (MID + offset).toFixed(2);

type AlertInput = Omit<CreateAlertCommand, 'alertId' | 'userId' | 'product' | 'now'>;
const ALERTS: AlertInput[] = [
  { condition: 'CROSS', direction: 'ABOVE', threshold: at(0), measure: 'LAST', repeat: true },
  {
    condition: 'CROSS',
    direction: 'BELOW',
    threshold: at(0),
    measure: 'MEAN',
    window: '1m',
    repeat: true,
    rearmBy: '20',
  },
  {
    condition: 'CROSS',
    direction: 'ABOVE',
    threshold: at(0),
    measure: 'LAST',
    repeat: true,
    cooldown: '30s',
  },
  { condition: 'CROSS', direction: 'BELOW', threshold: at(-40), measure: 'VWAP', window: '10m' },
  { condition: 'MOVE', direction: 'ABOVE', percent: '0.05', window: '1m', repeat: true },
  { condition: 'MOVE', direction: 'BELOW', percent: '0.05', window: '1m', repeat: true, cooldown: '2m' },
  { condition: 'MOVE', direction: 'ABOVE', percent: '0.2', window: 'all' },
  { condition: 'ENTER', low: at(-30), high: at(30), measure: 'LAST', repeat: true },
  {
    condition: 'EXIT',
    low: at(-30),
    high: at(30),
    measure: 'MEAN',
    window: '1m',
    repeat: true,
    cooldown: '1m',
  },
  {
    condition: 'ENTER',
    low: at(-30),
    high: at(30),
    measure: 'VWAP',
    window: '10m',
    repeat: true,
    cooldown: '5m',
  },
  { direction: 'ABOVE', threshold: at(0), measure: 'LAST', repeat: true, cooldown: '1m' },
];

interface Seen {
  alertIndex: number;
  value: string;
  tradeId: string;
}
const seen = (trigger: BacktestTrigger): Seen => ({
  alertIndex: trigger.alertIndex,
  value: trigger.value,
  tradeId: trigger.trade.tradeId,
});
const order = (a: Seen, b: Seen): number => a.tradeId.localeCompare(b.tradeId) || a.alertIndex - b.alertIndex;

describe('backtest ≡ live, for every condition', () => {
  let store: TestStore;
  let reactor: Reactor | undefined;
  let dir: string;
  const live: Seen[] = [];
  const eventTypes = new Map<string, number>();

  const start = async (snapshotPath: string): Promise<Reactor> => {
    const started = await startReactor({
      client: store.client,
      config: { PRICEALERT_WINDOWS: WINDOWS },
      logger: createLogger('silent'),
      snapshotPath,
    });
    await started.ready;
    return started;
  };
  /** Records trades as the feed does and waits until the reactor has settled the last one. */
  const feed = async (trades: TradeInput[]): Promise<void> => {
    for (let from = 0; from < trades.length; from += 500)
      await recordTrades(store.client, trades.slice(from, from + 500), { products: PRODUCTS });
    const last = await lastEvent(store.client, tradeStream(PRODUCT));
    await reactor!.caughtUpTo(last!.position!.commit);
  };

  beforeAll(async () => {
    store = await startTestStore();
    dir = await mkdtemp(join(tmpdir(), 'pricealert-conditions-'));
    const snapshotPath = join(dir, 'reactor.snapshot');
    reactor = await start(snapshotPath);
    for (const [index, alert] of ALERTS.entries()) {
      await createAlert(
        store.client,
        { ...alert, alertId: `c-${index}`, userId: 'u1', product: PRODUCT, now: dateToIso(new Date()) },
        { products: PRODUCTS, windows: WINDOWS },
      );
    }
    await feed(TRADES.slice(0, 1_500));
    await reactor.stop();
    await access(snapshotPath);
    reactor = await start(snapshotPath);
    await feed(TRADES.slice(1_500));

    for (const index of ALERTS.keys()) {
      for await (const event of readStream(store.client, alertStream(`c-${index}`))) {
        const parsed = parseEvent(event.type, event.data);
        if (!parsed.ok) continue;
        eventTypes.set(parsed.event.type, (eventTypes.get(parsed.event.type) ?? 0) + 1);
        if (parsed.event.type === 'AlertTriggered') {
          const { value, trade } = parsed.event.data;
          live.push({ alertIndex: index, value, tradeId: trade.tradeId });
        }
      }
    }
    live.sort(order);
  }, 180_000);

  afterAll(async () => {
    await reactor?.stop();
    await store?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fires the same alerts on the same trades with the same values, across a restart from the snapshot', async () => {
    const report = await backtestFromStore({
      client: store.client,
      product: PRODUCT,
      alerts: ALERTS,
      products: PRODUCTS,
      windows: WINDOWS,
    });
    expect(report.tradesReplayed).toBe(TRADES.length);
    expect(report.outOfOrderTrades).toBeGreaterThan(0);
    // Not vacuous: every alert fires, the repeat ones more than once; edges set their side (re-arms)
    // and some are spent inside a cooldown (AlertDisarmed); MOVE BELOW's values are negative.
    const fired = report.summary.map((entry) => entry.fired);
    expect(fired.every((count) => count >= 1)).toBe(true);
    ALERTS.forEach((alert, index) => {
      if (alert.repeat) expect(fired[index]).toBeGreaterThanOrEqual(2);
    });
    expect(eventTypes.get('AlertRearmed')).toBeGreaterThan(0);
    expect(eventTypes.get('AlertDisarmed')).toBeGreaterThan(0);
    expect(report.triggers.filter((t) => t.alertIndex === 5).every((t) => t.value.startsWith('-'))).toBe(
      true,
    );

    expect(report.triggers.map(seen).sort(order)).toEqual(live);
  });
});
