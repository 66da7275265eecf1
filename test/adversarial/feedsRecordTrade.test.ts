// recordTrade over GraphQL/HTTP against a real server and store, fed what a careless or hostile feeder
// sends: oversized ids and sources, fuzzed decimals and times, a known trade id with other values.
// Whatever comes in, the answer is a trade or BAD_USER_INPUT naming the field, and the store holds only
// trades the domain accepts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateTrade } from '../../src/domain/trades.ts';
import type { TradeInput } from '../../src/domain/types.ts';
import { codes, gql, startHarness, type Harness } from '../api/harness.ts';
import { storedTrades } from '../feeds/storeReads.ts';

const RECORD = `mutation($input: RecordTradeInput!) {
  recordTrade(input: $input) { product tradeId price size side time conflictingFields }
}`;

let harness: Harness;
let feeder: string;
beforeAll(async () => {
  harness = await startHarness();
  feeder = await harness.token('feeder-1', 'feeder');
});
afterAll(async () => {
  await harness?.stop();
});

const trade = (tradeId: string, more: Record<string, unknown> = {}): Record<string, unknown> => ({
  product: 'ETH-USD',
  tradeId,
  price: '2500.5',
  size: '0.25',
  side: 'buy',
  time: '2026-11-26T08:00:00.123456Z',
  ...more,
});
const record = (input: Record<string, unknown>) => gql(harness.url, RECORD, { input }, feeder);
const stored = () => storedTrades(harness.store.client, 'ETH-USD');

describe('recordTrade with oversized or odd identities', () => {
  it.each([
    ['tradeId', { tradeId: 'x'.repeat(65) }],
    ['tradeId', { tradeId: 'x'.repeat(100_000) }],
    ['tradeId', { tradeId: 'has space' }],
    ['tradeId', { tradeId: 'line\nbreak' }],
    ['tradeId', { tradeId: '' }],
    ['source', { source: 's'.repeat(33) }],
    ['source', { source: 's'.repeat(100_000) }],
    ['source', { source: 'coinbase:BTC-USD' }],
    ['source', { source: '' }],
  ])('refuses a bad %s with BAD_USER_INPUT naming it, storing nothing', async (field, change) => {
    const before = (await stored()).length;
    const response = await record(trade('ok-1', change));
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.extensions?.field).toBe(field);
    expect(response.errors![0]!.message).toMatch(new RegExp(`^${field}: must be 1–(64|32) letters`));
    expect(response.errors![0]!.message.length).toBeLessThan(200);
    expect((await stored()).length).toBe(before);
  });

  it('refuses a 2 MB tradeId without an internal error, storing nothing', async () => {
    const before = (await stored()).length;
    const response = await record(trade('y'.repeat(2_000_000)));
    // A request-size limit may answer before the domain does; either way the client is told why.
    expect(codes(response)).toEqual([expect.stringMatching(/^(BAD_USER_INPUT|LIMIT_EXCEEDED)$/)]);
    expect((await stored()).length).toBe(before);
  });

  it('takes the longest tradeId and source allowed', async () => {
    const response = await record(trade('9'.repeat(64), { source: 'a'.repeat(32) }));
    expect(response.errors).toBeUndefined();
    expect(response.data!.recordTrade).toMatchObject({ tradeId: '9'.repeat(64), conflictingFields: [] });
  });
});

describe('recordTrade of a trade id already stored', () => {
  it('answers with the stored trade and names the fields the caller gave differently', async () => {
    const first = await record(trade('same-1'));
    expect(first.data!.recordTrade).toEqual({
      product: 'ETH-USD',
      tradeId: 'same-1',
      price: '2500.5',
      size: '0.25',
      side: 'buy',
      time: '2026-11-26T08:00:00.123456Z',
      conflictingFields: [],
    });

    const identical = await record(trade('same-1', { price: '2500.50' }));
    expect(identical.data!.recordTrade).toEqual(first.data!.recordTrade);

    const other = await record(trade('same-1', { price: '9999', side: 'sell' }));
    expect(other.errors).toBeUndefined();
    expect(other.data!.recordTrade).toEqual({
      ...first.data!.recordTrade,
      conflictingFields: ['price', 'side'],
    });

    const otherSource = await record(trade('same-1', { price: '9999', source: 'kraken' }));
    expect(otherSource.data!.recordTrade).toMatchObject({ price: '9999', conflictingFields: [] });

    const kept = (await stored()).filter((event) => event.tradeId === 'same-1');
    expect(kept.map((event) => [event.source, event.price])).toEqual([
      ['api', '2500.5'],
      ['kraken', '9999'],
    ]);
  });
});

/** A small seeded generator, so a failing case can be run again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const DECIMALS: unknown[] = [
  '1',
  '0.00000001',
  '43250.10',
  '-1',
  '0',
  '0.0',
  '-0',
  '00001.5',
  '.5',
  '5.',
  '1e5',
  '1E-3',
  'NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  ' 1',
  '1 ',
  '1,5',
  '١٢٣',
  '１',
  '1'.repeat(79),
  '9'.repeat(400),
  '0.' + '0'.repeat(60) + '1',
  '',
  '+1',
  '1..2',
  '--1',
  null,
  1,
  1.5,
  true,
  [],
  {},
  '\u0000',
  'ǅ',
];
const TIMES: unknown[] = [
  '2026-11-26T08:00:00Z',
  '2026-11-26T08:00:00.123456Z',
  '2026-11-26T08:00:00.1234567Z',
  '2026-11-26T08:00:00.123456000Z',
  '2026-11-26T08:00:00+05:30',
  '2026-11-26 08:00:00Z',
  '2026-11-26T08:00:00',
  '2026-02-29T00:00:00Z',
  '2028-02-29T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-11-26T24:00:00Z',
  '2026-11-26T08:60:00Z',
  '2026-11-26T08:00:60Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999Z',
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '1969-12-31T23:59:59.999999Z',
  '2026-11-26T08:00:00+99:99',
  '2026-11-26T08:00:00.Z',
  'now',
  '',
  1_764_144_000_000,
  null,
  '２０２６-11-26T08:00:00Z',
  '2026-11-26T08:00:00Z\n',
];
const SIDES: unknown[] = ['buy', 'sell', 'BUY', 'hold', '', null, 1];

describe('recordTrade under fuzzed decimals and times', () => {
  it('never answers INTERNAL_SERVER_ERROR and never stores a trade the domain would refuse', async () => {
    const next = random(20261126);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
    const answered = new Map<string, number>();
    for (let index = 0; index < 300; index += 1) {
      const response = await record(
        trade(`fuzz-${index}`, {
          price: pick(DECIMALS),
          size: pick(DECIMALS),
          side: next() < 0.8 ? 'buy' : pick(SIDES),
          time: pick(TIMES),
        }),
      );
      const outcome = response.errors ? [...new Set(codes(response))].join() : 'recorded';
      answered.set(outcome, (answered.get(outcome) ?? 0) + 1);
      expect(codes(response), JSON.stringify(response.errors)).not.toContain('INTERNAL_SERVER_ERROR');
      expect(response.status).toBeLessThan(500);
    }
    expect([...answered.keys()].sort()).toEqual(['BAD_USER_INPUT', 'recorded']);

    const fuzzed = (await stored()).filter((event) => String(event.tradeId).startsWith('fuzz-'));
    expect(fuzzed.length).toBe(answered.get('recorded'));
    for (const event of fuzzed) {
      expect(validateTrade(event as unknown as TradeInput, ['ETH-USD'])).toEqual(event);
    }
  });
});
