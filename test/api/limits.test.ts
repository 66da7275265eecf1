// CONTRACT §4 limits and abuse protection: every bad input names its field; no internals leak.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { codes, gql, startHarness, type Harness } from './harness.ts';

const CREATE = `mutation($input: CreateAlertInput!) { createAlert(input: $input) { id } }`;
const base = { product: 'BTC-USD', direction: 'ABOVE', threshold: '100' };

let harness: Harness;
let dave: string;

beforeAll(async () => {
  harness = await startHarness({ connectionInitWaitMs: 300 });
  dave = await harness.token('dave');
});
afterAll(() => harness?.stop());

describe('createAlert input limits give BAD_USER_INPUT naming the field', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['threshold', { threshold: '0' }],
    ['threshold', { threshold: '1.1234567890123456789' }],
    ['threshold', { threshold: 100.5 }],
    ['threshold', { threshold: '1e5' }],
    ['note', { note: 'x'.repeat(281) }],
    ['product', { product: 'DOGE-USD' }],
    ['window', { window: '7m' }],
    ['rearmBy', { rearmBy: '-1' }],
    ['expiresAt', { expiresAt: '2020-01-01T00:00:00Z' }],
    ['expiresAt', { expiresAt: 'tomorrow' }],
  ];
  it.each(cases)('%s: %j', async (field, change) => {
    const response = await gql(harness.url, CREATE, { input: { ...base, ...change } }, dave);
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message).toContain(field);
  });

  it('accepts the limits themselves: 18 decimal places and a 280-character note', async () => {
    const response = await gql(
      harness.url,
      CREATE,
      { input: { ...base, threshold: '0.000000000000000001', note: 'y'.repeat(280) } },
      dave,
    );
    expect(response.errors).toBeUndefined();
  });
});

describe('other inputs', () => {
  it('names the argument for bad page sizes, products, windows and cursors', async () => {
    const checks: [string, string][] = [
      ['{ trades(product: "BTC-USD", last: 0) { tradeId } }', 'last'],
      ['{ trades(product: "BTC-USD", last: 1001) { tradeId } }', 'last'],
      ['{ trades(product: "NOPE-USD") { tradeId } }', 'product'],
      ['{ price(product: "BTC-USD", window: "3m") { last } }', 'window'],
      ['{ triggers(first: 5000) { cursor } }', 'first'],
      ['{ triggers(after: "garbage") { cursor } }', 'after'],
    ];
    for (const [query, field] of checks) {
      const response = await gql(harness.url, query, {}, dave);
      expect(codes(response), query).toEqual(['BAD_USER_INPUT']);
      expect(response.errors![0]!.message, query).toContain(field);
    }
  });

  it('rejects trades that break CONTRACT §2 with the field named', async () => {
    const feeder = await harness.token('f', 'feeder');
    const trade = {
      product: 'BTC-USD',
      tradeId: 'x1',
      price: '1',
      size: '1',
      side: 'buy',
      time: '2026-11-26T08:00:00.123456Z',
    };
    for (const [field, change] of [
      ['price', { price: '0' }],
      ['side', { side: 'short' }],
      ['time', { time: '26/11/2026' }],
    ] as const) {
      const response = await gql(
        harness.url,
        'mutation($input: RecordTradeInput!) { recordTrade(input: $input) { tradeId } }',
        { input: { ...trade, ...change } },
        feeder,
      );
      expect(codes(response), field).toEqual(['BAD_USER_INPUT']);
      expect(response.errors![0]!.message).toContain(field);
    }
    const recorded = await gql(
      harness.url,
      'mutation($input: RecordTradeInput!) { recordTrade(input: $input) { time price } }',
      { input: trade },
      feeder,
    );
    expect(recorded.data!.recordTrade).toEqual({ time: '2026-11-26T08:00:00.123456Z', price: '1' });
  });

  it('answers abusive documents with LIMIT_EXCEEDED and never shows internals', async () => {
    const aliases = `{ ${Array.from({ length: 20 }, (_, index) => `p${index}: products`).join(' ')} }`;
    expect(codes(await gql(harness.url, aliases))).toEqual(['LIMIT_EXCEEDED']);
    const nested = `{ __schema { types { fields { type { ${'ofType { '.repeat(30)}name${' }'.repeat(30)} } } } } }`;
    expect(codes(await gql(harness.url, nested))).toEqual(['LIMIT_EXCEEDED']);
    const tokens = `{ ${'products '.repeat(3000)} }`;
    expect(codes(await gql(harness.url, tokens))).toEqual(['LIMIT_EXCEEDED']);
    const unknown = await gql(harness.url, '{ nope }');
    expect(unknown.errors![0]!.extensions?.code).toBeDefined();
    expect(JSON.stringify(unknown)).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('WebSocket limits', () => {
  const open = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const socket = new WebSocket(harness.wsUrl, 'graphql-transport-ws');
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  const closeCode = (socket: WebSocket): Promise<number> =>
    new Promise((resolve) => socket.once('close', (code) => resolve(code)));

  it('closes a connection that never sends connection_init (4408)', async () => {
    const socket = await open();
    expect(await closeCode(socket)).toBe(4408);
  });

  it('closes a connection that sends an oversized message (1009)', async () => {
    const socket = await open();
    const closed = closeCode(socket);
    socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(100_000) } }));
    expect(await closed).toBe(1009);
  });
});
