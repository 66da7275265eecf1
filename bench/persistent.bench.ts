// Persistent subscriptions to `$all` on the embedded node, through the unmodified client: events/s
// delivered and acknowledged with 1 and with 4 consumers (RoundRobin, every event acked), beside the
// catch-up subscription read rate of the same node over the same events, and the node's RSS.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  ROUND_ROBIN,
  START,
  jsonEvent,
  persistentSubscriptionToAllSettingsFromDefaults,
  streamNameFilter,
  type EventStoreDBClient,
  type PersistentSubscriptionToAllResolvedEvent,
} from '@eventstore/db-client';
import { startTestStore } from '../test/helpers/store.ts';
import { QUICK, fmt, mib, report } from './stats.ts';

const EVENTS = QUICK ? 15_000 : 150_000;
/** Consumer and group sizing for throughput; EventStoreDB's defaults (10 in flight, batches of 20) suit slow handlers. */
const BUFFER_SIZE = 200;
const READ_BATCH = 500;
const HISTORY_BUFFER = 2_000;
const filter = streamNameFilter({ prefixes: ['fill-'] });

function rss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

async function fill(client: EventStoreDBClient): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < EVENTS / 100) {
        const batch = next++;
        await client.appendToStream(
          `fill-${batch % 64}`,
          Array.from({ length: 100 }, (_, n) =>
            jsonEvent({
              type: 'TradeRecorded',
              data: { product: 'BTC-USD', tradeId: `${batch}-${n}`, price: '43250.12' },
            }),
          ),
        );
      }
    }),
  );
}

/** Milliseconds for a catch-up subscription to `$all` to read every filled event. */
async function catchUp(client: EventStoreDBClient): Promise<number> {
  const started = performance.now();
  let seen = 0;
  const subscription = client.subscribeToAll({ fromPosition: START, filter });
  await new Promise<void>((resolve, reject) => {
    subscription.on('data', () => {
      seen += 1;
      if (seen === EVENTS) resolve();
    });
    subscription.once('error', reject);
  });
  const elapsed = performance.now() - started;
  await subscription.unsubscribe();
  return elapsed;
}

/** Milliseconds for `consumers` consumers of a new group to receive and ack every filled event. */
async function persistent(client: EventStoreDBClient, group: string, consumers: number): Promise<number> {
  await client.createPersistentSubscriptionToAll(
    group,
    persistentSubscriptionToAllSettingsFromDefaults({
      startFrom: START,
      consumerStrategyName: ROUND_ROBIN,
      readBatchSize: READ_BATCH,
      historyBufferSize: HISTORY_BUFFER,
    }),
    { filter },
  );
  const started = performance.now();
  let acked = 0;
  const subscriptions = Array.from({ length: consumers }, () =>
    client.subscribeToPersistentSubscriptionToAll(group, { bufferSize: BUFFER_SIZE }),
  );
  await new Promise<void>((resolve, reject) => {
    for (const subscription of subscriptions) {
      subscription.once('error', reject);
      subscription.on('data', (resolved: PersistentSubscriptionToAllResolvedEvent) => {
        subscription.ack(resolved).then(() => {
          acked += 1;
          if (acked === EVENTS) resolve();
        }, reject);
      });
    }
  });
  // Acked means the node has processed every ack: nothing left in flight.
  for (;;) {
    const info = await client.getPersistentSubscriptionToAllInfo(group);
    if (info.stats.totalInFlightMessages === 0 && info.stats.totalItems >= BigInt(EVENTS)) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const elapsed = performance.now() - started;
  await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
  return elapsed;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-bench-psub-'));
  const store = await startTestStore({ dataDir, keepData: true });
  const { client } = store;
  const rate = (ms: number): number => (EVENTS / ms) * 1000;
  try {
    if (QUICK) process.stdout.write('QUICK run: small sizes, figures are not the real ones\n');
    await fill(client);
    report(`events in $all (filtered on stream prefix fill-)`, fmt(EVENTS, 0));
    report(
      `consumer bufferSize / readBatchSize / historyBufferSize`,
      `${BUFFER_SIZE} / ${READ_BATCH} / ${HISTORY_BUFFER}`,
    );

    const catchUpRate = rate(await catchUp(client));
    report('baseline: catch-up subscription to $all', `${fmt(catchUpRate, 0)} events/s`);
    report('  node RSS', mib(rss(store.node.pid)));

    const one = rate(await persistent(client, 'bench-1', 1));
    report('persistent to $all, 1 consumer, delivered and acked', `${fmt(one, 0)} events/s`);
    report('  node RSS', mib(rss(store.node.pid)));

    const four = rate(await persistent(client, 'bench-4', 4));
    report(
      'persistent to $all, 4 consumers, delivered and acked',
      `${fmt(four, 0)} events/s (${fmt((four / catchUpRate) * 100, 0)}% of catch-up)`,
      `≥ ${fmt(catchUpRate / 2, 0)} events/s (half the catch-up rate)`,
    );
    report('  node RSS', mib(rss(store.node.pid)));
  } finally {
    await store.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
