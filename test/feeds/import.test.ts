// Importing files into the real embedded node: through importTrades, and through the CLI as a user runs it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordTrades } from '../../src/domain/trades.ts';
import { importTrades } from '../../src/feeds/importer.ts';
import { readTradeFile } from '../../src/feeds/parse.ts';
import { startTestStore, type TestStore } from '../helpers/store.ts';
import { storedTrades } from './storeReads.ts';

const root = new URL('../../', import.meta.url).pathname;
const fixtures = join(root, 'test/fixtures');
const PRODUCTS = ['BTC-USD', 'ETH-USD'];

// `recent`: the node recognises replays as EventStoreDB does, remembering only a few recent event ids,
// so a second import of the same file meets none of them there.
describe.each(['full', 'recent'] as const)(
  'importing trades into the store (idempotency %s)',
  (idempotency) => {
    let store: TestStore;
    beforeAll(async () => {
      store = await startTestStore({ idempotency, limits: { idempotencyCacheSize: 8 } });
    });
    afterAll(async () => {
      await store?.stop();
    });

    const importFile = (
      name: string,
      options: { product?: string; strict?: boolean; batchSize?: number } = {},
    ) => {
      const bad: string[] = [];
      return importTrades({
        lines: readTradeFile(join(fixtures, name), {
          source: 'coinbase',
          product: options.product,
          products: PRODUCTS,
        }),
        record: (trades) => recordTrades(store.client, trades, { products: PRODUCTS }),
        strict: options.strict ?? false,
        batchSize: options.batchSize ?? 7,
        onBadLine: (line, reason) => bad.push(`line ${line}: ${reason}`),
      }).then((summary) => ({ summary, bad }));
    };

    it('records a file once: importing it again, or the same trades in another format, adds nothing', async () => {
      const first = await importFile('trades.csv');
      expect(first.summary).toEqual({ read: 60, recorded: 60, alreadyPresent: 0, rejected: 0 });
      const again = await importFile('trades.csv', { batchSize: 1000 });
      expect(again.summary).toEqual({ read: 60, recorded: 0, alreadyPresent: 60, rejected: 0 });
      const ndjson = await importFile('trades.ndjson', { product: 'BTC-USD' });
      expect(ndjson.summary).toEqual({ read: 20, recorded: 0, alreadyPresent: 20, rejected: 0 });

      const btc = await storedTrades(store.client, 'BTC-USD');
      expect(btc).toHaveLength(40);
      expect(new Set(btc.map((trade) => trade.tradeId)).size).toBe(40);
      expect(btc.map((trade) => trade.time)).toEqual(btc.map((trade) => trade.time).sort());
      expect(btc[0]).toEqual({
        product: 'BTC-USD',
        tradeId: '741852001',
        price: '43243.13',
        size: '0.29143572',
        side: 'buy',
        time: '2026-11-26T08:00:00.725015Z',
        source: 'coinbase',
      });
      expect(await storedTrades(store.client, 'ETH-USD')).toHaveLength(20);
    });
  },
);

const exec = promisify(execFile);

async function cli(
  args: string[],
  dataDir: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(root, 'bin/pricealert.js'), ...args], {
      cwd: root,
      // The node the CLI starts recognises replays only as EventStoreDB does (a few recent ids).
      env: {
        ...process.env,
        PRICEALERT_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        EVENTSTORE_URL: '',
        EVENTSTORE_IDEMPOTENCY: 'recent',
        EVENTSTORE_IDEMPOTENCY_CACHE_SIZE: '4',
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// Each run starts a Node process and a store: seconds apiece, more on a busy machine.
describe('pricealert import (the CLI)', { timeout: 90_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pricealert-import-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const badFile = join(fixtures, 'trades-bad.csv');

  it('prints the summary, reports bad lines by number, skips them, and adds nothing the second time', async () => {
    const first = await cli(['import', badFile, '--product', 'BTC-USD'], dataDir);
    expect(first.stdout).toBe('read 12, recorded 8, already present 0, rejected 4\n');
    expect(first.stderr).toContain('line 4: price: must be a decimal number greater than 0\n');
    expect(first.stderr.match(/^line \d+: /gm)).toEqual(['line 4: ', 'line 7: ', 'line 9: ', 'line 11: ']);
    expect(first.code).toBe(0);

    const second = await cli(['import', badFile, '--product', 'BTC-USD'], dataDir);
    expect(second.stdout).toBe('read 12, recorded 0, already present 8, rejected 4\n');
    expect(second.code).toBe(0);
  });

  it('with --strict stops at the first bad line, exit 1, having recorded nothing from it on', async () => {
    const strictDir = mkdtempSync(join(tmpdir(), 'pricealert-import-strict-'));
    try {
      const run = await cli(['import', badFile, '--product', 'BTC-USD', '--strict'], strictDir);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('read 3, recorded 2, already present 0, rejected 1\n');
      expect(run.stderr).toContain('line 4: ');
      expect(run.stderr).not.toContain('line 7: ');
      const check = await cli(['import', join(fixtures, 'trades.ndjson'), '--product', 'BTC-USD'], strictDir);
      // the NDJSON's first 12 trades are the CSV's; only its lines 1–2 (CSV lines 2–3) were there
      expect(check.stdout).toBe('read 20, recorded 18, already present 2, rejected 0\n');
    } finally {
      rmSync(strictDir, { recursive: true, force: true });
    }
  });

  it('exits 2 with a one-line reason on bad usage, before touching the store', async () => {
    const [missing, noProduct, unknownProduct, badFormat, help] = await Promise.all([
      cli(['import', join(fixtures, 'nope.csv')], dataDir),
      cli(['import', badFile], dataDir),
      cli(['import', badFile, '--product', 'DOGE-USD'], dataDir),
      cli(['import', badFile, '--format', 'xml'], dataDir),
      cli(['import', '--help'], dataDir),
    ]);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toMatch(/^pricealert: .*nope\.csv: no such file\n$/);
    expect(noProduct.code).toBe(2);
    expect(noProduct.stderr).toMatch(/no product column; pass --product/);
    expect(unknownProduct.code).toBe(2);
    expect(unknownProduct.stderr).toMatch(/DOGE-USD is not a configured product/);
    expect(badFormat.code).toBe(2);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--strict');
  });
});
