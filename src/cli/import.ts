// `pricealert import <file>`: appends historical trades from a CSV or NDJSON file (CONTRACT §1).
import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { loadConfig } from '../config.ts';
import { recordTrades, SOURCE_PATTERN, SOURCE_RULE } from '../domain/trades.ts';
import { openStore } from '../eventstore/connect.ts';
import { ImportReadError, importTrades, type ImportSummary } from '../feeds/importer.ts';
import {
  readTradeFile,
  tradeFileFormat,
  TradeFileError,
  TRADE_FILE_FORMATS,
  type TradeFileFormat,
  type TradeLine,
} from '../feeds/parse.ts';
import { createLogger } from '../logger.ts';
import { UsageError } from './errors.ts';

interface ImportFlags {
  product?: string;
  source: string;
  format?: TradeFileFormat;
  strict?: boolean;
}

const HELP = `
Formats (from --format, else the extension: .csv, .ndjson/.jsonl/.json; a further .gz is decompressed):
  CSV     header time,trade_id,price,size,side and optionally product; one trade per line, e.g.
            time,trade_id,price,size,side
            2026-11-26T08:16:27.123456Z,741852963,43250.10,0.00512000,buy
  NDJSON  one JSON object per line: a Coinbase REST trade {"time","trade_id","price","size","side"}
          or a Coinbase feed message {"type":"match"|"last_match","product_id",...}.
Lines that name no product take --product. Every trade is identified by source, product and
trade_id, so importing the same file again, or trades the live feed already recorded, adds nothing.

Output: "read N, recorded N, already present N, rejected N" on stdout; each bad line on stderr as
"line N: reason". Bad lines are skipped (exit 0), or with --strict the import stops at the first one
(exit 1) having recorded nothing from that line on. An empty file, or a CSV without the header, is
bad usage (exit 2). A file that ends early (a truncated .gz) has the lines before the break recorded
and the summary printed, then the break reported on stderr (exit 1). Uses EVENTSTORE_URL if set, else the node
running on PRICEALERT_DATA_DIR (its node.lock), else starts the embedded node for the import.
`;

export function defineImport(command: Command): void {
  command
    .argument('<file>', 'the trades file (CSV or NDJSON, optionally .gz)')
    .option('--product <product>', 'product of the lines that name none (a configured product)')
    .option('--source <venue>', "venue the trades happened on; part of each trade's identity", 'coinbase')
    .addOption(
      new Option('--format <format>', 'file format (default: from the extension)').choices(
        TRADE_FILE_FORMATS,
      ),
    )
    .option('--strict', 'stop at the first bad line with exit code 1')
    .addHelpText('after', HELP)
    .action(async (file: string, flags: ImportFlags) => {
      await importCommand(file, flags);
    });
}

async function importCommand(file: string, flags: ImportFlags): Promise<void> {
  const config = loadConfig();
  const products = config.PRICEALERT_PRODUCTS;
  if (flags.product !== undefined && !products.includes(flags.product)) {
    throw new UsageError(
      `--product ${flags.product} is not a configured product (PRICEALERT_PRODUCTS=${products.join(',')})`,
    );
  }
  if (!SOURCE_PATTERN.test(flags.source))
    throw new UsageError(`--source "${flags.source.slice(0, 40)}": use ${SOURCE_RULE}`);
  const size = await fileSize(file);
  const format = asUsage(() => tradeFileFormat(file, flags.format));

  const progress = progressBar(size);
  const lines = readTradeFile(file, {
    format,
    product: flags.product,
    source: flags.source,
    products,
    onProgress: progress?.bytes,
  })[Symbol.asyncIterator]();
  // Read the header before starting a node: a file that is not trades at all (or empty) is bad usage,
  // found fast. A file unreadable from its start is reported after the (empty) summary like any other.
  const first = await lines.next().then(
    (result) => result,
    (error: unknown) => {
      if (error instanceof TradeFileError) throw new UsageError(error.message);
      return { error };
    },
  );

  const logger = createLogger(config.LOG_LEVEL);
  const store = await openStore(config, logger);
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const summary = await importTrades({
      lines: 'error' in first ? failing(first.error) : prepend(first, lines),
      record: (trades) => recordTrades(store.client, trades, { products }),
      strict: flags.strict ?? false,
      signal: abort.signal,
      onBadLine: (line, reason) => {
        process.stderr.write(`line ${line}: ${reason}\n`);
      },
      onRecorded: progress?.trades,
    }).catch((error: unknown) => {
      if (!(error instanceof ImportReadError)) throw error;
      progress?.stop();
      printSummary(error.summary);
      throw error;
    });
    progress?.stop();
    printSummary(summary);
    if (summary.stoppedAt !== undefined) {
      throw new Error(
        `stopped at line ${summary.stoppedAt} (--strict); nothing from that line on was recorded`,
      );
    }
    if (abort.signal.aborted) process.exitCode = 130;
  } finally {
    progress?.stop();
    process.removeListener('SIGINT', onSigint);
    await store.close();
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a file`);
    return info.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
}

function asUsage<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw error instanceof TradeFileError ? new UsageError(error.message) : error;
  }
}

function printSummary(summary: ImportSummary): void {
  process.stdout.write(
    `read ${summary.read}, recorded ${summary.recorded}, already present ${summary.alreadyPresent}, rejected ${summary.rejected}\n`,
  );
}

// eslint-disable-next-line require-yield -- a line source that fails before its first line
async function* failing(error: unknown): AsyncGenerator<TradeLine> {
  throw error;
}

async function* prepend(
  first: IteratorResult<TradeLine>,
  rest: AsyncIterator<TradeLine>,
): AsyncGenerator<TradeLine> {
  if (first.done) return;
  yield first.value;
  try {
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
  } finally {
    await rest.return?.();
  }
}

/** A bar by bytes read with the trades/s rate and ETA, on stderr, only when stderr is a terminal. */
function progressBar(
  totalBytes: number,
): { bytes: (read: number) => void; trades: (summary: ImportSummary) => void; stop: () => void } | undefined {
  if (!process.stderr.isTTY || totalBytes === 0) return undefined;
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'importing {bar} {percentage}% | {done} trades | {rate} trades/s | ETA {eta_formatted}',
    hideCursor: true,
    etaBuffer: 50,
  });
  const started = Date.now();
  let done = 0;
  let bytes = 0;
  bar.start(totalBytes, 0, { done: 0, rate: 0 });
  const payload = () => ({ done, rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
  return {
    bytes: (read) => {
      bytes = read;
      bar.update(bytes, payload());
    },
    trades: (summary) => {
      done = summary.recorded + summary.alreadyPresent;
      bar.update(bytes, payload());
    },
    stop: () => bar.stop(),
  };
}
