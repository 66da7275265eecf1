// `pricealert import` as a user runs it, on files that are not what they should be (empty, truncated,
// oversized ids) and killed with SIGKILL part way; the store behind it is a real embedded node.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { storedTrades } from '../feeds/storeReads.ts';

const root = new URL('../../', import.meta.url).pathname;
const BIN = join(root, 'bin/pricealert.js');
const HEADER = 'time,trade_id,price,size,side';

let store: TestStore;
let dir: string;
beforeAll(async () => {
  store = await startTestStore();
  dir = mkdtempSync(join(tmpdir(), 'pricealert-import-adv-'));
});
afterAll(async () => {
  await store?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = (on: TestStore = store) => ({
  ...process.env,
  EVENTSTORE_URL: on.connectionString,
  LOG_LEVEL: 'warn',
});

function importInto(
  on: TestStore,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'import', ...args],
      { cwd: root, env: env(on) },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}
const cli = (...args: string[]) => importInto(store, args);

const file = (name: string, content: string | Buffer): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** CSV lines of `count` trades with ids from `fromId`, a millisecond apart. */
const csvTrades = (fromId: number, count: number): string[] =>
  Array.from(
    { length: count },
    (_, index) =>
      `${new Date(Date.UTC(2026, 10, 26, 9) + index).toISOString()},${fromId + index},${100 + (index % 50)}.5,0.01,buy`,
  );

const storedIds = async (
  product: string,
  from: number,
  to: number,
  on: TestStore = store,
): Promise<number[]> =>
  (await storedTrades(on.client, product))
    .map((trade) => Number(trade.tradeId))
    .filter((id) => id >= from && id <= to);

// Each run starts a Node process and opens the store: seconds apiece on a busy machine.
describe('pricealert import of files that are not what they should be', { timeout: 90_000 }, () => {
  it('calls an empty file, a blank one or one without a header bad usage (exit 2, one line)', async () => {
    const runs = await Promise.all([
      cli(file('empty.csv', ''), '--product', 'BTC-USD'),
      cli(file('blank.csv', '\n  \n\n'), '--product', 'BTC-USD'),
      cli(file('empty.ndjson', ''), '--product', 'BTC-USD'),
      cli(file('no-header.csv', `${csvTrades(1, 2).join('\n')}\n`), '--product', 'BTC-USD'),
    ]);
    for (const run of runs) {
      expect(run).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr).toMatch(/^pricealert: [^\n]+\n$/);
    }
    expect(runs[0]!.stderr).toContain('empty.csv is empty: a CSV needs a header naming time,trade_id');
    expect(runs[2]!.stderr).toContain('empty.ndjson is empty');
    expect(runs[3]!.stderr).toContain('the CSV header must name');
  });

  it('records the readable lines of a truncated .gz, prints the summary, reports the break, exits 1', async () => {
    const lines = csvTrades(700_001, 3_000);
    const full = Buffer.from(`${HEADER}\n${lines.join('\n')}\n`);
    const gz = gzipSync(full);
    const truncated = file('cut.csv.gz', gz.subarray(0, Math.floor(gz.length / 2)));

    const run = await cli(truncated, '--product', 'ETH-USD');
    expect(run.code).toBe(1);
    const summary = /^read (\d+), recorded (\d+), already present 0, rejected 0\n$/.exec(run.stdout);
    expect(summary).not.toBeNull();
    const recorded = Number(summary![2]);
    expect(recorded).toBeGreaterThan(0);
    expect(recorded).toBeLessThan(3_000);
    expect(Number(summary![1])).toBe(recorded);
    expect(run.stderr).toMatch(
      /^pricealert: .*cut\.csv\.gz: cannot be read past line \d+ \(unexpected end of file\)/m,
    );
    const ids = await storedIds('ETH-USD', 700_001, 703_000);
    expect(ids).toEqual(Array.from({ length: recorded }, (_, index) => 700_001 + index));

    const whole = await cli(file('whole.csv.gz', gz), '--product', 'ETH-USD');
    expect(whole.stdout).toBe(
      `read 3000, recorded ${3_000 - recorded}, already present ${recorded}, rejected 0\n`,
    );
    expect(whole.code).toBe(0);
  });

  it('rejects lines whose trade_id is too long or not plain, naming the line and the field', async () => {
    const [good, long, spaced, huge] = csvTrades(800_001, 4);
    const content = [
      HEADER,
      good,
      long!.replace(',800002,', `,${'7'.repeat(65)},`),
      spaced!.replace(',800003,', ',"800 003",'),
      huge!.replace(',800004,', `,${'x'.repeat(100_000)},`),
    ].join('\n');
    const run = await cli(file('ids.csv', `${content}\n`), '--product', 'BTC-USD');
    expect(run.stdout).toBe('read 4, recorded 1, already present 0, rejected 3\n');
    expect(run.stderr.split('\n').filter(Boolean)).toEqual([
      'line 3: tradeId: must be 1–64 letters, digits or . _ : -',
      'line 4: tradeId: must be 1–64 letters, digits or . _ : -',
      'line 5: tradeId: must be 1–64 letters, digits or . _ : -',
    ]);
    expect(run.code).toBe(0);
    expect(await storedIds('BTC-USD', 800_001, 800_004)).toEqual([800_001]);
  });

  it('refuses a --source that is too long or not plain, before touching the store', async () => {
    const path = file('one.csv', `${HEADER}\n${csvTrades(810_001, 1).join('\n')}\n`);
    const runs = await Promise.all([
      cli(path, '--product', 'BTC-USD', '--source', 'v'.repeat(33)),
      cli(path, '--product', 'BTC-USD', '--source', 'coin:base'),
    ]);
    for (const run of runs) {
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^pricealert: --source ".*": use 1–32 letters, digits or \. _ -\n$/);
    }
    expect(await storedIds('BTC-USD', 810_001, 810_001)).toEqual([]);
  });
});

// `recent`: the node recognises replays as EventStoreDB does, from a small cache of recent ids only.
describe.each(['full', 'recent'] as const)(
  'pricealert import killed with SIGKILL part way (idempotency %s)',
  { timeout: 90_000 },
  (idempotency) => {
    let own: TestStore;
    beforeAll(async () => {
      own = await startTestStore({ idempotency, limits: { idempotencyCacheSize: 64 } });
    });
    afterAll(() => own?.stop());

    it('records each trade exactly once when the same file is imported again', async () => {
      const count = 20_000;
      const path = file('big.csv', `${HEADER}\n${csvTrades(1_000_001, count).join('\n')}\n`);
      const child = spawn(process.execPath, [BIN, 'import', path, '--product', 'BTC-USD'], {
        cwd: root,
        env: env(own),
        stdio: 'ignore',
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Kill it once the store holds some of the file and not all of it.
      let seen = 0;
      while (seen === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        seen = (await storedIds('BTC-USD', 1_000_001, 1_000_000 + count, own)).length;
      }
      child.kill('SIGKILL');
      await exited;
      const before = (await storedIds('BTC-USD', 1_000_001, 1_000_000 + count, own)).length;
      expect(before).toBeGreaterThan(0);

      const again = await importInto(own, [path, '--product', 'BTC-USD']);
      expect(again.code).toBe(0);
      expect(again.stdout).toBe(
        `read ${count}, recorded ${count - before}, already present ${before}, rejected 0\n`,
      );
      const ids = await storedIds('BTC-USD', 1_000_001, 1_000_000 + count, own);
      expect(ids).toHaveLength(count);
      expect(new Set(ids).size).toBe(count);
      expect(readFileSync(path, 'utf8').split('\n').length - 2).toBe(count);
    });
  },
);
