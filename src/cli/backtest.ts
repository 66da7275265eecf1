// `pricealert backtest`: replays stored or file trades through the live projection code with hypothetical alerts.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { openStore } from '../eventstore/connect.ts';
import { parseBacktestAlerts, type BacktestAlert } from '../backtest/alerts.ts';
import { DomainError } from '../domain/errors.ts';
import { TradeFileError } from '../feeds/parse.ts';
import { formatReport } from '../backtest/format.ts';
import { backtestFromFile, backtestFromStore, type BacktestProgress } from '../backtest/index.ts';
import type { BacktestReport } from '../backtest/report.ts';
import { UsageError } from './errors.ts';

interface BacktestFlags {
  alerts: string;
  product?: string;
  from?: string;
  to?: string;
  source: string;
  json?: boolean;
}

const HELP = `
The alerts file is a JSON array of BacktestAlertInput objects (the GraphQL input), e.g.
  [{"direction":"ABOVE","threshold":"43000","measure":"MEAN","window":"10m"},
   {"direction":"BELOW","threshold":"41000","measure":"LAST","repeat":true,"rearmBy":"50"},
   {"condition":"MOVE","direction":"ABOVE","percent":"5","window":"1h","repeat":true,"cooldown":"30m"},
   {"condition":"ENTER","low":"42000","high":"43000","measure":"LAST"}]
Defaults: condition LEVEL, measure MEAN, window 10m (a configured window or "all"; ignored for LAST
but by MOVE), repeat false, rearmBy 0. CROSS takes direction and threshold, MOVE direction and percent,
ENTER and EXIT low and high; cooldown is for repeat alerts (README "Conditions").

Rules:
  - Every alert counts as created just before the first trade at or after --from (or the first
    trade); alerts fire after each trade is applied, in the trade stream's order, exactly as the
    live reactor decides (the same code), once or repeat with re-arm.
  - --from and --to are inclusive and compare trade times to the microsecond. Trades before --from
    fill the windows (warm-up) but cannot fire; the replay ends at the first trade after --to.
  - The replay reads back from --from by the largest window the alerts use (from the first trade
    for "all" or without --from), and says how far back it read.
  - triggeredAt is the time of the trade that fired the alert.
  - --product defaults to the first product in PRICEALERT_PRODUCTS; trades of other products in a
    file are skipped.
  - --source store (default) replays trades-{product} from the store of PRICEALERT_DATA_DIR or
    EVENTSTORE_URL; --source <file> reads a CSV/NDJSON file in the import formats and never
    touches the store.
  - Ctrl-C stops the replay and prints what was found so far (exit code 130).
`;

export function defineBacktest(command: Command): void {
  command
    .requiredOption('--alerts <file.json>', 'JSON array of alerts to test')
    .option('--product <product>', 'product to replay (default: the first configured product)')
    .option('--from <ISO>', 'first trade time that can fire an alert (inclusive)')
    .option('--to <ISO>', 'last trade time replayed (inclusive)')
    .option('--source <store|file>', 'where the trades come from: the store, or a CSV/NDJSON file', 'store')
    .option('--json', 'print one JSON object shaped like the GraphQL BacktestReport')
    .addHelpText('after', HELP)
    .action(async (flags: BacktestFlags) => {
      await backtestCommand(flags);
    });
}

async function backtestCommand(flags: BacktestFlags): Promise<void> {
  const config = loadConfig();
  const product = flags.product ?? config.PRICEALERT_PRODUCTS[0]!;
  const alerts = await readAlertsFile(flags.alerts, { product, windows: config.PRICEALERT_WINDOWS });

  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  const progress = startProgressBar();
  const common = {
    product,
    alerts,
    from: flags.from,
    to: flags.to,
    products: config.PRICEALERT_PRODUCTS,
    windows: config.PRICEALERT_WINDOWS,
    signal: abort.signal,
    onProgress: progress?.update,
  };

  let report: BacktestReport;
  try {
    if (flags.source === 'store') {
      const store = await openStore(config, createLogger(config.LOG_LEVEL));
      try {
        report = await asUsage(backtestFromStore({ client: store.client, ...common }));
      } finally {
        await store.close();
      }
    } else {
      let rejected = 0;
      let first = '';
      const onRejected = (line: number, reason: string): void => {
        if (rejected === 0) first = `line ${line}: ${reason}`;
        rejected += 1;
      };
      report = await asUsage(backtestFromFile({ path: flags.source, ...common, onRejected }));
      if (rejected > 0)
        process.stderr.write(`skipped ${rejected} lines that are not valid trades; the first: ${first}\n`);
    }
  } finally {
    progress?.stop();
    process.removeListener('SIGINT', onSigint);
  }

  process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : formatReport(report, alerts));
  if (!report.complete) process.exitCode = 130;
}

/** Parses and checks the alerts file; every problem is bad usage, named by file, entry and field. */
async function readAlertsFile(
  path: string,
  rules: { product: string; windows: readonly string[] },
): Promise<BacktestAlert[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${path}: cannot read the alerts file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  try {
    return parseBacktestAlerts(raw, rules);
  } catch (error) {
    if (error instanceof DomainError) throw new UsageError(`${path}: ${error.message}`);
    throw error;
  }
}

/** Bad flags (product, times, the file) surface as input errors from the backtest; on the CLI they are usage. */
async function asUsage<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof DomainError && error.code === 'BAD_USER_INPUT')
      throw new UsageError(`--${error.message}`);
    if (error instanceof TradeFileError) throw new UsageError(error.message);
    const { code, path } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
      throw new UsageError(`--source: cannot read ${path ?? 'the trade file'} (${code})`);
    }
    throw error;
  }
}

/** A bar with rate and ETA on stderr, only when a person is watching it. */
function startProgressBar(): { update: (progress: BacktestProgress) => void; stop: () => void } | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'replaying [{bar}] {percentage}% {value}/{total} trades | {rate} trades/s | ETA {eta_formatted}',
    hideCursor: true,
    etaBuffer: 50,
  });
  let started = false;
  let startedAt = 0;
  return {
    update(progress) {
      if (!started) {
        started = true;
        startedAt = performance.now();
        bar.start(Math.max(1, progress.expectedTrades ?? progress.trades), 0, { rate: '0' });
      }
      bar.setTotal(Math.max(1, progress.expectedTrades ?? 0, progress.trades));
      const seconds = (performance.now() - startedAt) / 1000;
      bar.update(progress.trades, {
        rate: seconds > 0 ? Math.round(progress.trades / seconds).toLocaleString('en-US') : '0',
      });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
