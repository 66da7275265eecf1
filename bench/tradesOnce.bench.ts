// The trade-write path with exactly-once on EventStoreDB's terms (src/domain/trades.ts): recordTrades'
// latency per batch and throughput beside the floor — the same events appended straight with expected
// revision ANY, no index, no checks — and the first write of a new writer to a stream of a million
// trades, without the index snapshot (it reads the whole stream) and with it. BENCH_QUICK=1 shrinks it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decideRecordTrade, recordTrades, tradeIndexStream } from '../src/domain/trades.ts';
import { tradeStream, type TradeInput } from '../src/domain/types.ts';
import { startEmbeddedNode } from '../src/eventstore/embedded/index.ts';
import { ANY, appendToStream, connectClient, readStream } from '../src/eventstore/store.ts';
import { fmt, mib, QUICK, report, summarize } from './stats.ts';

const PRODUCT = 'BTC-USD';
const PRODUCTS = [PRODUCT];
const BATCHES = QUICK ? 100 : 400;
const BIG_STREAM = QUICK ? 100_000 : 1_000_000;

const trade = (id: number): TradeInput => ({
  product: PRODUCT,
  tradeId: String(id),
  price: (40_000 + (id % 500) + 0.25).toFixed(2),
  size: '0.001',
  side: id % 3 === 0 ? 'sell' : 'buy',
  time: new Date(Date.UTC(2026, 0, 1) + id).toISOString().replace('Z', '123Z'),
  source: 'coinbase',
});

async function withNode<T>(run: (connectionString: string) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pricealert-bench-once-'));
  // EventStoreDB's rules, so that nothing measured leans on the node's stricter idempotency.
  const node = await startEmbeddedNode({ dataDir, logLevel: 'warn', limits: { idempotency: 'recent' } });
  try {
    return await run(node.connectionString);
  } finally {
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const asEvents = (trades: readonly TradeInput[]) =>
  trades.map((input) => {
    const { id, data } = decideRecordTrade(input, PRODUCTS);
    return { id, type: 'TradeRecorded', data };
  });

/** Per-call latencies (ms) and trades/s of `write` over BATCHES batches of `size` new trades. */
async function timeBatches(
  size: number,
  firstId: number,
  write: (trades: TradeInput[]) => Promise<unknown>,
): Promise<{ latencies: number[]; rate: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  for (let batch = 0; batch < BATCHES; batch += 1) {
    const trades = Array.from({ length: size }, (_, at) => trade(firstId + batch * size + at));
    const before = performance.now();
    await write(trades);
    latencies.push(performance.now() - before);
  }
  return { latencies, rate: (BATCHES * size) / ((performance.now() - started) / 1000) };
}

async function batchPath(size: number): Promise<void> {
  await withNode(async (connectionString) => {
    const client = connectClient(connectionString);
    try {
      // Alternating rounds so that neither side gets the warmer node.
      const floor = await timeBatches(size, 1, (trades) =>
        appendToStream(client, 'floor-BTC-USD', asEvents(trades), { expectedRevision: ANY }),
      );
      const once = await timeBatches(size, 1, (trades) =>
        recordTrades(client, trades, { products: PRODUCTS }),
      );
      const f = summarize(floor.latencies);
      const o = summarize(once.latencies);
      report(
        `recordTrades, ${size} new trades a call: median / p99`,
        `${fmt(o.p50)} / ${fmt(o.p99)} ms, ${fmt(once.rate, 0)} trades/s`,
      );
      report(
        `  floor: appendToStream ANY, same events: median / p99`,
        `${fmt(f.p50)} / ${fmt(f.p99)} ms, ${fmt(floor.rate, 0)} trades/s`,
      );
    } finally {
      await client.dispose();
    }
  });
}

/** Fills a stream with BIG_STREAM trades straight (no index, no snapshot), then times new writers' first calls. */
async function firstWrite(): Promise<void> {
  await withNode(async (connectionString) => {
    const filler = connectClient(connectionString);
    const filled = performance.now();
    for (let from = 1; from <= BIG_STREAM; from += 1000) {
      const trades = Array.from({ length: Math.min(1000, BIG_STREAM - from + 1) }, (_, at) =>
        trade(from + at),
      );
      await appendToStream(filler, tradeStream(PRODUCT), asEvents(trades), { expectedRevision: ANY });
    }
    report(
      `stream filled with ${fmt(BIG_STREAM, 0)} trades (straight appends)`,
      `${fmt((performance.now() - filled) / 1000, 1)} s`,
    );
    await filler.dispose();

    const first = async (label: string, id: number): Promise<void> => {
      const client = connectClient(connectionString);
      globalThis.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      await recordTrades(client, [trade(id)], { products: PRODUCTS });
      const firstMs = performance.now() - started;
      const steady: number[] = [];
      for (let n = 1; n <= 20; n += 1) {
        const before = performance.now();
        await recordTrades(client, [trade(id + n)], { products: PRODUCTS });
        steady.push(performance.now() - before);
      }
      globalThis.gc?.();
      report(
        `first recordTrades of a new writer, ${label}`,
        `${fmt(firstMs, 0)} ms (then median ${fmt(summarize(steady).p50)} ms; index heap ${mib(process.memoryUsage().heapUsed - heapBefore)})`,
      );
      await client.dispose();
    };
    // No snapshot yet: the writer reads the whole stream, and then writes the first snapshot.
    await first('no snapshot (reads the whole stream)', BIG_STREAM + 1);
    const reader = connectClient(connectionString);
    let snapshots = 0;
    for await (const event of readStream(reader, tradeIndexStream(tradeStream(PRODUCT))))
      if (event.type === 'TradeIndexSnapshot') snapshots += 1;
    await reader.dispose();
    report('  snapshots written by it', String(snapshots));
    await first('from the snapshot and the tail after it', BIG_STREAM + 100);
  });
}

await batchPath(1);
await batchPath(50);
await batchPath(500);
await firstWrite();
