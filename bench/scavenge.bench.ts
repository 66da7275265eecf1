// A scavenge of a million hidden checkpoint-like events (`$maxCount` 1) on the embedded node: its
// duration, the store's bytes before and after, and the p99 of single appends while it runs beside
// the same appends with no scavenge.
import { performance } from 'node:perf_hooks';
import { followScavenge, startScavenge } from '../src/eventstore/scavenge.ts';
import { appendToStream, type StoreClient } from '../src/eventstore/store.ts';
import { CHECKPOINTS, onDisk, writeCheckpoints } from '../test/eventstore/scavengeStore.ts';
import { startTestStore } from '../test/helpers/store.ts';
import { QUICK, fmt, mib, report, summarize } from './stats.ts';

const EVENTS = QUICK ? 100_000 : 1_000_000;
/** Appends timed for the baseline; during the scavenge, as many as it lasts. */
const BASELINE_APPENDS = QUICK ? 300 : 1_000;

async function timedAppend(client: StoreClient, n: number): Promise<number> {
  const started = performance.now();
  await appendToStream(client, 'bench-live', { type: 'TradeRecorded', data: { n } });
  return performance.now() - started;
}

function latencies(label: string, samples: readonly number[]): void {
  const { p50, p99, max } = summarize(samples);
  report(
    label,
    `p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms, max ${fmt(max)} ms (${fmt(samples.length, 0)} appends)`,
  );
}

async function main(): Promise<void> {
  const store = await startTestStore();
  try {
    if (QUICK) process.stdout.write('QUICK run: small sizes, figures are not the real ones\n');
    await writeCheckpoints(store.client, EVENTS);
    report(`hidden events in ${CHECKPOINTS} ($maxCount 1)`, fmt(EVENTS - 1, 0));

    const baseline: number[] = [];
    for (let n = 0; n < BASELINE_APPENDS; n += 1) baseline.push(await timedAppend(store.client, n));
    latencies('baseline: append, no scavenge', baseline);

    const bytesBefore = onDisk(store.dataDir);
    const started = performance.now();
    const answer = await startScavenge(store.connectionString);
    let done = false;
    const completed = followScavenge(store.client, answer.scavengeId).finally(() => (done = true));
    const during: number[] = [];
    while (!done) during.push(await timedAppend(store.client, during.length));
    const result = await completed;
    const seconds = (performance.now() - started) / 1000;

    report(
      'scavenge: duration',
      `${fmt(seconds)} s (${fmt(Number(result.data.eventsRemoved) / seconds, 0)} events removed/s)`,
    );
    report('scavenge: result', String(result.data.result));
    report('store on disk (events.sqlite + WAL): before', mib(bytesBefore));
    report('store on disk (events.sqlite + WAL): after', mib(onDisk(store.dataDir)));
    latencies('append during the scavenge', during);
  } finally {
    await store.stop();
  }
}

await main();
