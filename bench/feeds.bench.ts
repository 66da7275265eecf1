// Feed and import throughput into the embedded node: trades/s from a local Coinbase-protocol server at
// full speed (batched, with one-trade-per-call as the baseline), and `pricealert import`'s path over
// CSVs of two sizes, each in a fresh process so its peak RSS is the import's alone. BENCH_QUICK=1 shrinks
// the sizes tenfold.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { recordTrades } from '../src/domain/trades.ts';
import type { TradeInput } from '../src/domain/types.ts';
import { startEmbeddedNode } from '../src/eventstore/embedded/index.ts';
import { connectClient, type StoreClient } from '../src/eventstore/store.ts';
import { startCoinbaseFeed } from '../src/feeds/coinbase.ts';
import { importTrades } from '../src/feeds/importer.ts';
import { readTradeFile } from '../src/feeds/parse.ts';
import { simulateTape, type TapeTrade } from '../src/feeds/simulated.ts';
import { startFakeCoinbase } from '../test/feeds/fakeCoinbase.ts';
import { fmt, mib, QUICK, report } from './stats.ts';

const PRODUCTS = ['BTC-USD', 'ETH-USD'];
const INGEST_TRADES = QUICK ? 10_000 : 100_000;
const BASELINE_TRADES = QUICK ? 500 : 2_000;
const IMPORT_SIZES = QUICK ? [25_000, 100_000] : [250_000, 1_000_000];
const logger = pino({ level: 'silent' });

interface WorkerResult {
  read: number;
  recorded: number;
  seconds: number;
  maxRssBytes: number;
  /** Live heap after a full GC at the end: what the import kept, as opposed to what V8 had not yet collected. */
  heapAfterBytes: number;
}

/** In the child: imports one file into the node at `connectionString` the way `pricealert import` does. */
async function importWorker(path: string, connectionString: string): Promise<void> {
  const client = connectClient(connectionString);
  const started = performance.now();
  const summary = await importTrades({
    lines: readTradeFile(path, { source: 'coinbase', products: PRODUCTS }),
    record: (trades) => recordTrades(client, trades, { products: PRODUCTS }),
  });
  const seconds = (performance.now() - started) / 1000;
  globalThis.gc?.();
  const result: WorkerResult = {
    read: summary.read,
    recorded: summary.recorded,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    heapAfterBytes: process.memoryUsage().heapUsed,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await client.dispose();
}

function tapeOf(count: number, seed: number): TradeInput[] {
  const tape = simulateTape({ seed, products: PRODUCTS, ratePerSecond: 50, startMs: Date.UTC(2026, 0, 1) });
  return Array.from({ length: count }, () => ({
    ...(tape.next().value as TapeTrade).trade,
    source: 'coinbase',
  }));
}

async function withNode<T>(run: (connectionString: string, client: StoreClient) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pricealert-bench-feeds-'));
  const node = await startEmbeddedNode({ dataDir, logLevel: 'warn' });
  const client = connectClient(node.connectionString);
  try {
    return await run(node.connectionString, client);
  } finally {
    await client.dispose();
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Sends the whole tape from a local feed server as fast as the socket takes it; trades/s until all are recorded. */
async function ingest(count: number, maxBatch: number): Promise<{ rate: number; batches: number }> {
  return withNode(async (_, client) => {
    const server = await startFakeCoinbase({ heartbeatMs: 500 });
    const trades = tapeOf(count, 1);
    const feed = startCoinbaseFeed({
      url: server.url,
      products: PRODUCTS,
      record: (batch) => recordTrades(client, batch, { products: PRODUCTS }),
      logger,
      maxBatch,
      heartbeatTimeoutMs: 60_000,
    });
    try {
      const connection = await server.connection(1);
      const started = performance.now();
      for (const trade of trades) connection.sendTrade(trade);
      while (feed.stats().writer.recorded < count) await new Promise((resolve) => setTimeout(resolve, 5));
      const seconds = (performance.now() - started) / 1000;
      return { rate: count / seconds, batches: feed.stats().writer.batches };
    } finally {
      await feed.stop();
      await server.close();
    }
  });
}

/** The ceiling under both: recordTrades called directly with the whole tape, 1000 trades per call. */
async function directRecord(count: number): Promise<number> {
  return withNode(async (_, client) => {
    const trades = tapeOf(count, 3);
    const started = performance.now();
    for (let from = 0; from < count; from += 1000) {
      await recordTrades(client, trades.slice(from, from + 1000), { products: PRODUCTS });
    }
    return count / ((performance.now() - started) / 1000);
  });
}

async function writeCsv(path: string, count: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('time,trade_id,price,size,side,product\n');
  const tape = simulateTape({
    seed: 2,
    products: PRODUCTS,
    ratePerSecond: 50,
    startMs: Date.UTC(2026, 0, 1),
  });
  for (let written = 0; written < count;) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000 && written < count; i += 1, written += 1) {
      const { trade } = tape.next().value as TapeTrade;
      lines.push(
        `${trade.time},${trade.tradeId},${trade.price},${trade.size},${trade.side},${trade.product}\n`,
      );
    }
    if (!out.write(lines.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** The import path without the store (read, check, batch): what this side could feed a faster store. */
async function importWithoutStore(path: string): Promise<number> {
  const started = performance.now();
  const summary = await importTrades({
    lines: readTradeFile(path, { source: 'coinbase', products: PRODUCTS }),
    record: async (trades) => ({ recorded: trades.length, alreadyPresent: 0, rejected: [] }),
  });
  return summary.recorded / ((performance.now() - started) / 1000);
}

async function importInChild(path: string, connectionString: string): Promise<WorkerResult> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--expose-gc',
      fileURLToPath(import.meta.url),
      'import-worker',
      path,
      connectionString,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`import worker exited with ${code}`);
  return JSON.parse(output) as WorkerResult;
}

async function main(): Promise<void> {
  const batched = await ingest(INGEST_TRADES, 1000);
  report(
    `ingest, local feed → embedded node (${fmt(INGEST_TRADES, 0)} trades)`,
    `${fmt(batched.rate, 0)} trades/s`,
    '≥ 20,000 trades/s',
  );
  report(
    '  record calls (batches)',
    `${fmt(batched.batches, 0)} (mean ${fmt(INGEST_TRADES / batched.batches, 0)} trades)`,
  );
  const ceiling = await directRecord(INGEST_TRADES);
  report('  ceiling: recordTrades called directly, 1000 per call', `${fmt(ceiling, 0)} trades/s`);
  const single = await ingest(BASELINE_TRADES, 1);
  report(
    `  baseline: one trade per record call (${fmt(BASELINE_TRADES, 0)} trades)`,
    `${fmt(single.rate, 0)} trades/s`,
  );

  const dir = await mkdtemp(join(tmpdir(), 'pricealert-bench-import-'));
  try {
    const rss: number[] = [];
    for (const size of IMPORT_SIZES) {
      const path = join(dir, `trades-${size}.csv`);
      await writeCsv(path, size);
      const result = await withNode((connectionString) => importInChild(path, connectionString));
      if (result.recorded !== size) throw new Error(`imported ${result.recorded} of ${size}`);
      rss.push(result.maxRssBytes);
      report(
        `import CSV, ${fmt(size, 0)} lines`,
        `${fmt(size / result.seconds, 0)} trades/s`,
        '≥ 50,000 trades/s',
      );
      report(`  peak RSS of the importing process`, mib(result.maxRssBytes), 'flat in file size');
      report(`  live heap after the import (after GC)`, mib(result.heapAfterBytes));
      report(
        '  the same without the store (read, check, batch)',
        `${fmt(await importWithoutStore(path), 0)} trades/s`,
      );
    }
    const [small, large] = rss as [number, number];
    report(
      `  peak RSS ${fmt(IMPORT_SIZES[1]!, 0)} / ${fmt(IMPORT_SIZES[0]!, 0)} lines`,
      `${fmt(large / small, 2)}×`,
      `≈ 1× (file is ${IMPORT_SIZES[1]! / IMPORT_SIZES[0]!}× larger)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'import-worker') await importWorker(process.argv[3]!, process.argv[4]!);
else await main();
