// The embedded node under load, through the unmodified client, node in its own process on durable
// storage (synchronous=FULL): append throughput, $all catch-up, append→subscription latency, RSS.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client as GrpcClient, credentials } from '@grpc/grpc-js';
import { END, START, jsonEvent, type EventStoreDBClient, type ResolvedEvent } from '@eventstore/db-client';
import { startTestStore } from '../test/helpers/store.ts';
import { QUICK, fmt, mib, report, summarize } from './stats.ts';

const sizes = QUICK
  ? {
      sequential: 300,
      concurrent: 2_000,
      batches: 50,
      catchUp: 20_000,
      latency1: 300,
      latency32: 2_000,
      rssAt: 40_000,
    }
  : {
      sequential: 2_000,
      concurrent: 20_000,
      batches: 1_000,
      catchUp: 500_000,
      latency1: 2_000,
      latency32: 10_000,
      rssAt: 1_000_000,
    };

const trade = (n: number) =>
  jsonEvent({
    type: 'TradeRecorded',
    data: {
      product: 'BTC-USD',
      tradeId: String(n),
      price: '43250.12',
      size: '0.0105',
      side: n % 2 ? 'buy' : 'sell',
      time: new Date().toISOString(),
      source: 'bench',
    },
  });

const rate = (count: number, ms: number): string => `${fmt((count / ms) * 1000, 0)} events/s`;

function rss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/** CPU seconds (user + system) a process has used; /proc counts in ticks of 1/100 s. */
function nodeCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Runs `phase` and reports the CPU it cost per event in this process (the client: event encoding in
 * @eventstore/db-client and gRPC) and in the node's: what bounds throughput on two shared cores.
 */
async function withCpu(pid: number, events: number, phase: () => Promise<void>): Promise<void> {
  const client = process.cpuUsage();
  const node = nodeCpu(pid);
  await phase();
  const used = process.cpuUsage(client);
  const perEvent = (seconds: number): string => `${fmt((seconds * 1e6) / events, 1)} µs`;
  report(
    '  CPU per event: client / node',
    `${perEvent((used.user + used.system) / 1e6)} / ${perEvent(nodeCpu(pid) - node)}`,
  );
}

async function inFlight(
  total: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

/** Appends batches of 100 until `$all` holds `target` events. */
async function fillTo(client: EventStoreDBClient, stored: { count: number }, target: number): Promise<void> {
  await inFlight(Math.ceil(Math.max(0, target - stored.count) / 100), 8, async (batch) => {
    await client.appendToStream(
      `fill-${batch % 64}`,
      Array.from({ length: 100 }, (_, n) => trade(n)),
    );
    stored.count += 100;
  });
}

async function latency(client: EventStoreDBClient, writers: number, total: number): Promise<number[]> {
  const stream = `latency-${randomUUID()}`;
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  const subscription = client.subscribeToStream(stream, { fromRevision: END });
  await new Promise((resolve) => subscription.once('caughtUp', resolve));
  const received = new Promise<void>((resolve) => {
    subscription.on('data', (resolved: ResolvedEvent) => {
      const started = sentAt.get(resolved.event!.id);
      if (started !== undefined) samples.push(performance.now() - started);
      if (samples.length === total) resolve();
    });
  });
  await inFlight(total, writers, async (n) => {
    const event = trade(n);
    sentAt.set(event.id, performance.now());
    await client.appendToStream(stream, event);
  });
  await received;
  await subscription.unsubscribe();
  return samples;
}

/** The machine's floor: bare gRPC round trips (Gossip.Read, no storage) at the same concurrency. */
async function grpcBaseline(connectionString: string, calls: number): Promise<number> {
  const raw = new GrpcClient(
    connectionString.replace('esdb://', '').replace('?tls=false', ''),
    credentials.createInsecure(),
  );
  const bytes = (value: Buffer): Buffer => value;
  const call = () =>
    new Promise<void>((resolve, reject) =>
      raw.makeUnaryRequest(
        '/event_store.client.gossip.Gossip/Read',
        bytes,
        bytes,
        Buffer.alloc(0),
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  await call();
  const started = performance.now();
  await inFlight(calls, 32, call);
  const elapsed = performance.now() - started;
  raw.close();
  return elapsed;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-bench-'));
  const store = await startTestStore({ dataDir, keepData: true });
  const { client } = store;
  const stored = { count: 0 };
  process.stdout.write(`${QUICK ? 'QUICK run: small sizes, figures are not the real ones\n' : ''}`);
  try {
    let started = performance.now();
    for (let n = 0; n < sizes.sequential; n += 1) await client.appendToStream(`seq-${n % 16}`, trade(n));
    stored.count += sizes.sequential;
    report('append, 1 event per call, sequential', rate(sizes.sequential, performance.now() - started));

    const baselineMs = await grpcBaseline(store.connectionString, sizes.concurrent);
    report(
      'baseline: bare gRPC unary calls, 32 in flight',
      `${fmt((sizes.concurrent / baselineMs) * 1000, 0)} calls/s`,
    );

    await withCpu(store.node.pid, sizes.concurrent, async () => {
      started = performance.now();
      await inFlight(sizes.concurrent, 32, (n) => client.appendToStream(`conc-${n % 256}`, trade(n)));
      stored.count += sizes.concurrent;
      report(
        'append, 1 event per call, 32 in flight',
        rate(sizes.concurrent, performance.now() - started),
        '≥ 20,000 events/s',
      );
    });

    await withCpu(store.node.pid, sizes.batches * 100, async () => {
      started = performance.now();
      for (let batch = 0; batch < sizes.batches; batch += 1) {
        await client.appendToStream(
          `batch-${batch % 16}`,
          Array.from({ length: 100 }, (_, n) => trade(n)),
        );
      }
      stored.count += sizes.batches * 100;
      report(
        'append, 100 events per call, sequential',
        rate(sizes.batches * 100, performance.now() - started),
        '≥ 60,000 events/s',
      );
    });

    await fillTo(client, stored, sizes.catchUp);
    started = performance.now();
    let caughtUp = 0;
    const subscription = client.subscribeToAll({ fromPosition: START });
    await new Promise<void>((resolve, reject) => {
      subscription.on('data', () => (caughtUp += 1));
      subscription.once('caughtUp', () => resolve());
      subscription.once('error', reject);
    });
    const catchUpMs = performance.now() - started;
    await subscription.unsubscribe();
    report(
      `catch-up subscription over $all (${fmt(caughtUp, 0)} events)`,
      rate(caughtUp, catchUpMs),
      '≥ 50,000 events/s',
    );

    for (const writers of [1, 32]) {
      const stats = summarize(
        await latency(client, writers, writers === 1 ? sizes.latency1 : sizes.latency32),
      );
      report(
        `append→subscription latency, ${writers} writer${writers === 1 ? '' : 's'}`,
        `p50 ${fmt(stats.p50)} ms, p99 ${fmt(stats.p99)} ms`,
        writers === 1 ? 'p99 ≤ 2 ms' : undefined,
      );
    }

    await fillTo(client, stored, sizes.rssAt);
    report(
      `node RSS with ${fmt(stored.count, 0)} events stored`,
      mib(rss(store.node.pid)),
      '≤ 300 MiB at 1M events',
    );
  } finally {
    await store.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
