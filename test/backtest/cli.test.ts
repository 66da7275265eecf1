// `pricealert backtest` as a user runs it: a child process, a temp data dir, JSON or a table on stdout.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestFromStore } from '../../src/backtest/index.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { appendTrades, tape, toCsv } from './tape.ts';

const BIN = join(import.meta.dirname, '../../bin/pricealert.js');
const TRADES = [...tape({ count: 1_500, maxGapMicros: 1_000_000, seed: 3 })];
const ALERTS = [
  { direction: 'ABOVE', threshold: '43300', measure: 'MEAN', window: '1m', repeat: true, rearmBy: '20' },
  { direction: 'BELOW', threshold: '43250', measure: 'LAST' },
];

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'backtest', ...args],
      { env: { ...process.env, PRICEALERT_PRODUCTS: 'BTC-USD,ETH-USD', LOG_LEVEL: 'warn', ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('pricealert backtest', () => {
  let dir: string;
  let dataDir: string;
  let alertsFile: string;
  let tradesFile: string;
  let store: TestStore;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pricealert-backtest-cli-'));
    dataDir = join(dir, 'data');
    alertsFile = join(dir, 'alerts.json');
    tradesFile = join(dir, 'trades.csv');
    await writeFile(alertsFile, JSON.stringify(ALERTS));
    await writeFile(tradesFile, toCsv(TRADES));
    store = await startTestStore();
    await appendTrades(store.client, TRADES);
  });
  afterAll(async () => {
    await store?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints one BacktestReport-shaped JSON object for a file, without starting a store', async () => {
    const from = TRADES[500]!.time;
    const to = TRADES[1_200]!.time;
    const result = await run(
      ['--alerts', alertsFile, '--source', tradesFile, '--from', from, '--to', to, '--json'],
      { PRICEALERT_DATA_DIR: dataDir },
    );
    expect(result.stderr).not.toContain('pricealert:');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ product: 'BTC-USD', from, to, complete: true, seek: null });
    expect(Number.isInteger(report.elapsedMs)).toBe(true);
    // The trades in [from, to], and the warm-up apart (the same number as warmUp.trades).
    expect(report.tradesReplayed).toBe(TRADES.filter((t) => t.time >= from && t.time <= to).length);
    expect(report.warmUpTrades).toBe(report.warmUp.trades);
    expect(report.warmUpTrades).toBeGreaterThan(0);
    expect(report.triggers.length).toBeGreaterThan(0);
    for (const trigger of report.triggers) {
      expect(Object.keys(trigger).sort()).toEqual(['alertIndex', 'trade', 'triggeredAt', 'value']);
      expect(Object.keys(trigger.trade).sort()).toEqual([
        'price',
        'product',
        'side',
        'size',
        'time',
        'tradeId',
      ]);
      expect(trigger.triggeredAt).toBe(trigger.trade.time);
      expect(trigger.triggeredAt >= from && trigger.triggeredAt <= to).toBe(true);
    }
    expect(report.summary).toHaveLength(2);
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('replays the store (EVENTSTORE_URL) with the same triggers as the engine, and as a table by default', async () => {
    const json = await run(['--alerts', alertsFile, '--json'], { EVENTSTORE_URL: store.connectionString });
    expect(json.code).toBe(0);
    const expected = await backtestFromStore({
      client: store.client,
      product: 'BTC-USD',
      alerts: ALERTS,
      products: ['BTC-USD', 'ETH-USD'],
      windows: ['1m', '10m', '1h', '24h'],
    });
    const report = JSON.parse(json.stdout);
    expect(report.triggers).toEqual(expected.triggers);
    expect(report.seek).toMatchObject({ startRevision: 0, streamLength: TRADES.length });

    const table = await run(['--alerts', alertsFile], { EVENTSTORE_URL: store.connectionString });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`Replayed ${TRADES.length.toLocaleString('en-US')} trades`);
    expect(table.stdout).toContain('#1 BELOW 43250 LAST');
    expect(table.stdout).toContain(expected.triggers[0]!.trade.tradeId);
  });

  it('rejects a bad alerts file with exit code 2, naming the entry and the field', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify([ALERTS[0], { direction: 'ABOVE', threshold: '43000', window: '5m' }]),
    );
    const result = await run(['--alerts', bad, '--source', tradesFile], { PRICEALERT_DATA_DIR: dataDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `pricealert: ${bad}: alerts[1].window: must be one of 1m, 10m, 1h, 24h, all\n`,
    );
    expect(result.stdout).toBe('');
  });

  it.each([
    [['--from', 'last week'], '--from: must be an ISO-8601 time'],
    [['--product', 'DOGE-USD'], '--product: must be one of BTC-USD, ETH-USD'],
    [['--from', '2026-11-02T00:00:00Z', '--to', '2026-11-01T00:00:00Z'], '--to: must not be before from'],
  ])('rejects bad flags %j with exit code 2', async (flags, message) => {
    const result = await run(['--alerts', alertsFile, '--source', tradesFile, ...flags], {
      PRICEALERT_DATA_DIR: dataDir,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
