import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readTradeFile, splitCsvLine, TradeFileError, type TradeLine } from '../../src/feeds/parse.ts';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'pricealert-parse-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function read(
  path: string,
  options: Partial<Parameters<typeof readTradeFile>[1]> = {},
): Promise<TradeLine[]> {
  const lines: TradeLine[] = [];
  for await (const line of readTradeFile(path, { source: 'coinbase', ...options })) lines.push(line);
  return lines;
}

function file(name: string, content: string | Buffer): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

describe('readTradeFile', () => {
  it('reads a CSV with a product column, in file order, with line numbers', async () => {
    const lines = await read(join(fixtures, 'trades.csv'));
    expect(lines).toHaveLength(60);
    expect(lines[0]).toEqual({
      line: 2,
      trade: {
        product: 'ETH-USD',
        tradeId: '512300001',
        price: '2311.65',
        size: '0.02423838',
        side: 'buy',
        time: '2026-11-26T08:00:00.340563Z',
        source: 'coinbase',
      },
    });
    expect(lines.at(-1)?.line).toBe(61);
  });

  it('reads NDJSON of REST trades and match messages alike', async () => {
    const lines = await read(join(fixtures, 'trades.ndjson'), { product: 'BTC-USD', source: 'coinbase' });
    expect(lines).toHaveLength(20);
    expect(lines.every((line) => 'trade' in line && line.trade.product === 'BTC-USD')).toBe(true);
    const csv = (await read(join(fixtures, 'trades.csv'))).filter(
      (line) => 'trade' in line && line.trade.product === 'BTC-USD',
    );
    expect(lines.map((line) => ('trade' in line ? line.trade : undefined))).toEqual(
      csv.slice(0, 20).map((line) => ('trade' in line ? line.trade : undefined)),
    );
  });

  it('reports each bad line with its number and goes on', async () => {
    const lines = await read(join(fixtures, 'trades-bad.csv'), { product: 'BTC-USD', products: ['BTC-USD'] });
    const errors = lines.filter((line) => 'error' in line);
    expect(errors).toEqual([
      { line: 4, error: 'price: must be a decimal number greater than 0' },
      { line: 7, error: 'side must be "buy" or "sell"' },
      { line: 9, error: expect.stringContaining('time') },
      { line: 11, error: 'expected 5 fields, got 3' },
    ]);
    expect(lines.filter((line) => 'trade' in line)).toHaveLength(8);
  });

  it('checks products only when given them', async () => {
    const path = join(fixtures, 'trades.csv');
    expect((await read(path, { products: ['BTC-USD'] })).filter((line) => 'error' in line)).toHaveLength(20);
    expect((await read(path)).filter((line) => 'error' in line)).toHaveLength(0);
  });

  it('skips blank lines but keeps counting them, handles CRLF, BOM, quotes and .gz', async () => {
    const text =
      '\uFEFFTime,Trade_ID,Price,Size,Side\r\n\r\n"2026-01-01T00:00:00Z",1,"100.5",0.1,buy\r\n2026-01-01T00:00:01Z,2,"10""0",0.1,sell\r\n';
    const expected = [
      {
        line: 3,
        trade: expect.objectContaining({ tradeId: '1', price: '100.5', time: '2026-01-01T00:00:00Z' }),
      },
      { line: 4, trade: expect.objectContaining({ tradeId: '2', price: '10"0' }) },
    ];
    expect(await read(file('a.csv', text), { product: 'BTC-USD' })).toEqual(expected);
    expect(await read(file('a.csv.gz', gzipSync(text)), { product: 'BTC-USD' })).toEqual(expected);
  });

  it('names what is wrong with NDJSON lines', async () => {
    const path = file(
      'b.jsonl',
      '{"type":"heartbeat"}\nnope\n[1]\n{"time":"2026-01-01T00:00:00Z","trade_id":1,"price":"1","size":"1","side":"buy"}\n',
    );
    expect(await read(path)).toEqual([
      { line: 1, error: 'not a trade (type "heartbeat")' },
      { line: 2, error: 'not valid JSON' },
      { line: 3, error: 'not a JSON object' },
      { line: 4, error: 'no product (give product_id or --product)' },
    ]);
  });

  it('refuses a file it cannot read as trades before the first line', async () => {
    await expect(read(file('c.csv', 'when,price\n1,2\n'), { product: 'BTC-USD' })).rejects.toThrow(
      TradeFileError,
    );
    await expect(read(file('c.csv', 'time,trade_id,price,size,side\n'))).rejects.toThrow(/--product/);
    await expect(read(file('c.txt', ''))).rejects.toThrow(/--format/);
    await expect(read(join(scratch, 'missing.csv'))).rejects.toThrow(/ENOENT/);
  });

  it('splits CSV lines with RFC 4180 quoting', () => {
    expect(splitCsvLine('a,b,,c')).toEqual(['a', 'b', '', 'c']);
    expect(splitCsvLine('"a,b","c""d",e')).toEqual(['a,b', 'c"d', 'e']);
    expect(splitCsvLine('"a')).toBeUndefined();
    expect(splitCsvLine('a"b,c')).toBeUndefined();
    expect(splitCsvLine('"a"b')).toBeUndefined();
  });
});
