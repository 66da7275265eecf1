// End to end through the embedded node: trade appended → AlertTriggered appended, at 1k trades/s with
// 100k active alerts; beside it the seed's batch job (an AVG query every 10 s), whose alerts wait for
// the next run; then a tape on which every trade fires an alert (1,000 triggers/s). The node runs in
// its own process; the reactor and this driver share this one.
// BENCH_QUICK=1 shrinks the sizes; its figures are a smoke test, not the real ones.
import { join } from 'node:path';
import { createAlert } from '../src/domain/alerts.ts';
import { formatMicros } from '../src/domain/time.ts';
import { recordTrades } from '../src/domain/trades.ts';
import type { TradeInput } from '../src/domain/types.ts';
import { END, subscribeToAll } from '../src/eventstore/store.ts';
import { createLogger } from '../src/logger.ts';
import { startReactor } from '../src/runtime/reactor.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { fmt, QUICK, report, summarize } from './stats.ts';

const WINDOWS = ['1m', '10m', '1h', '24h'];
const ALERTS = QUICK ? 2_000 : 100_000;
const TRADES = QUICK ? 2_000 : 10_000;
/** Trades of the second tape, each firing an alert of its own. */
const HOT_TRADES = QUICK ? 1_000 : 5_000;
const RATE = 1_000;
const TICK_MS = 10;
const PROBE_EVERY_TICKS = 5;
const BATCH_JOB_MS = 10_000;
const rules = { products: ['BTC-USD'], windows: WINDOWS, activeCount: 0 };
const NOW = '2026-11-26T00:00:00.000000Z';

const store = await startTestStore();
try {
  const measures = ['MEAN', 'VWAP', 'LAST'] as const;
  const windows = [...WINDOWS, 'all'];
  const createdAt = process.hrtime.bigint();
  const create = (index: number) =>
    createAlert(
      store.client,
      {
        alertId: `far-${index}`,
        userId: `user-${index % 1000}`,
        product: 'BTC-USD',
        now: NOW,
        // Far from any price the tape reaches: these never fire, they only have to be stepped over.
        ...(index % 2 === 0
          ? { direction: 'ABOVE' as const, threshold: String(10_000_000 + index) }
          : { direction: 'BELOW' as const, threshold: String(1 + (index % 1000)) }),
        measure: measures[index % 3]!,
        window: windows[index % windows.length]!,
        repeat: index % 4 === 0,
      },
      rules,
    );
  for (let start = 0; start < ALERTS; start += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, ALERTS - start) }, (_, offset) => create(start + offset)),
    );
  }
  // Probe k fires on exactly the k-th spike trade (price 1,000,000 + k); earlier probes have fired already.
  const probes = Math.floor(TRADES / ((RATE * TICK_MS) / 1000) / PROBE_EVERY_TICKS);
  for (let k = 0; k < probes; k += 1) {
    await createAlert(
      store.client,
      {
        alertId: `probe-${k}`,
        userId: 'probe',
        product: 'BTC-USD',
        direction: 'ABOVE',
        threshold: String(1_000_000 + k),
        measure: 'LAST',
        now: NOW,
      },
      rules,
    );
  }
  report(
    `created ${fmt(ALERTS + probes, 0)} alerts (s)`,
    fmt(Number(process.hrtime.bigint() - createdAt) / 1e9, 1),
  );

  const rebuildBegan = process.hrtime.bigint();
  const snapshotPath = join(store.dataDir, 'reactor.snapshot');
  const options = {
    client: store.client,
    config: { PRICEALERT_WINDOWS: WINDOWS },
    logger: createLogger('warn'),
    snapshotPath,
  };
  const reactor = await startReactor(options);
  await reactor.ready;
  const rebuildSeconds = Number(process.hrtime.bigint() - rebuildBegan) / 1e9;
  report(
    `reactor rebuild from the store, ${fmt(ALERTS + probes, 0)} alerts (events/s)`,
    fmt((ALERTS + probes) / rebuildSeconds, 0),
  );

  const arrivals = new Map<string, bigint>();
  const triggers = subscribeToAll(store.client, { fromPosition: END, eventTypePrefixes: ['AlertTriggered'] });
  void (async () => {
    for await (const event of triggers) {
      const data = event.data as { alertId?: string } | undefined;
      if (data?.alertId) arrivals.set(data.alertId, process.hrtime.bigint());
    }
  })().catch(() => undefined);

  const start = Date.UTC(2026, 10, 26, 1) * 1000;
  const perTick = (RATE * TICK_MS) / 1000;
  let cents = 4_300_000;
  let tradeCount = 0;
  /**
   * Records `count` trades at RATE, a random walk except where `spike(index)` names an alert and the
   * price that fires it. Returns the rate achieved and when each named alert's trade was sent.
   */
  const sendTape = async (
    count: number,
    spike: (index: number) => { alertId: string; price: string } | undefined,
  ): Promise<{ achieved: number; sentAt: Map<string, bigint> }> => {
    const sentAt = new Map<string, bigint>();
    const began = Date.now();
    for (let sent = 0, tick = 1; sent < count; sent += perTick, tick += 1) {
      const fired: string[] = [];
      const batch: TradeInput[] = Array.from({ length: Math.min(perTick, count - sent) }, (_, offset) => {
        cents += Math.round((Math.random() - 0.5) * 200);
        const walk = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
        const fires = spike(sent + offset);
        if (fires) fired.push(fires.alertId);
        tradeCount += 1;
        return {
          product: 'BTC-USD',
          tradeId: String(tradeCount),
          price: fires?.price ?? walk,
          size: '0.01',
          side: 'buy',
          time: formatMicros(start + tradeCount * 1000),
          source: 'bench',
        };
      });
      const at = process.hrtime.bigint();
      for (const alertId of fired) sentAt.set(alertId, at);
      await recordTrades(store.client, batch, rules);
      const wait = began + tick * TICK_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const achieved = count / ((Date.now() - began) / 1000);
    const deadline = Date.now() + 30_000;
    while ([...sentAt.keys()].some((alertId) => !arrivals.has(alertId)) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return { achieved, sentAt };
  };
  const latenciesOf = (sentAt: Map<string, bigint>): number[] =>
    [...sentAt].flatMap(([alertId, at]) => {
      const arrived = arrivals.get(alertId);
      return arrived === undefined ? [] : [Number(arrived - at) / 1e6];
    });

  // Probe k is the last trade of every PROBE_EVERY_TICKS-th batch.
  const { achieved, sentAt } = await sendTape(TRADES, (index) => {
    const probe = (index + 1) / (perTick * PROBE_EVERY_TICKS);
    return Number.isInteger(probe) && probe <= probes
      ? { alertId: `probe-${probe - 1}`, price: String(1_000_000 + probe - 1) }
      : undefined;
  });

  // Every trade fires one alert, as in the API benchmark: the reactor's appends must overlap to keep up.
  for (let first = 0; first < HOT_TRADES; first += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, HOT_TRADES - first) }, (_, offset) =>
        createAlert(
          store.client,
          {
            alertId: `hot-${first + offset}`,
            userId: 'hot',
            product: 'BTC-USD',
            direction: 'ABOVE',
            threshold: String(2_000_000 + first + offset),
            measure: 'LAST',
            now: NOW,
          },
          rules,
        ),
      ),
    );
  }
  while ((reactor.views.alertsOf('hot')?.length ?? 0) < HOT_TRADES)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const hot = await sendTape(HOT_TRADES, (index) => ({
    alertId: `hot-${index}`,
    price: String(2_000_000 + index),
  }));

  await triggers.unsubscribe();
  await reactor.stop();
  // stop() wrote the snapshot: a restart restores it and folds nothing more.
  const restartBegan = process.hrtime.bigint();
  const restarted = await startReactor(options);
  await restarted.ready;
  const restartMs = Number(process.hrtime.bigint() - restartBegan) / 1e6;
  await restarted.stop();

  const latencies = latenciesOf(sentAt);
  const ours = summarize(latencies);
  report('trade rate achieved (trades/s)', fmt(achieved, 0), '1,000');
  report(`triggers seen / expected`, `${latencies.length} / ${sentAt.size}`);
  report(`trade → AlertTriggered p50 (ms), ${fmt(ALERTS, 0)} alerts`, fmt(ours.p50, 2));
  report(`trade → AlertTriggered p99 (ms), ${fmt(ALERTS, 0)} alerts`, fmt(ours.p99, 2), '≤ 5 ms');
  const hotLatencies = latenciesOf(hot.sentAt);
  const hotSummary = summarize(hotLatencies);
  report('every trade fires an alert: trade rate achieved (trades/s)', fmt(hot.achieved, 0), '1,000');
  report('  triggers seen / expected', `${hotLatencies.length} / ${hot.sentAt.size}`);
  report('  trade → AlertTriggered p50 (ms)', fmt(hotSummary.p50, 2));
  report('  trade → AlertTriggered p99 (ms)', fmt(hotSummary.p99, 2), '≤ 5 ms');
  report(
    `restart from the snapshot (${fmt(ALERTS + probes + HOT_TRADES, 0)} alerts, ${fmt(TRADES + HOT_TRADES, 0)} trades) (ms)`,
    fmt(restartMs, 0),
  );
  report('  vs the rebuild from the store above (ms)', fmt(rebuildSeconds * 1000, 0));
  // The seed's batch job notices a crossing at its next run, 0–10 s later for a trade arriving at a
  // random moment (its own query time, well under a millisecond here, left out).
  const batchWaits = Array.from({ length: 10_000 }, (_, index) => ((index + 0.5) / 10_000) * BATCH_JOB_MS);
  const batch = summarize(batchWaits);
  report(
    'seed batch job (every 10 s): detection delay p50 / p99 (ms)',
    `${fmt(batch.p50, 0)} / ${fmt(batch.p99, 0)}`,
  );
  report(
    '  reactor is sooner than the batch job by (p50, p99)',
    `${fmt(batch.p50 / ours.p50, 0)}× / ${fmt(batch.p99 / ours.p99, 0)}×`,
  );
} finally {
  await store.stop();
}
