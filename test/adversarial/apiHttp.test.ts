// A hostile client over HTTP: broken bodies and headers, huge ids, fuzzed values, other users' alerts.
// Each is refused with a clear code, never INTERNAL_SERVER_ERROR, and a well-behaved user is still served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, eventually, gql, startHarness, type Harness } from '../api/harness.ts';
import { recordPrices } from '../api/trades.ts';

const CREATE = `mutation($input: CreateAlertInput!) { createAlert(input: $input) { id status } }`;
const base = { product: 'BTC-USD', direction: 'ABOVE', threshold: '100' };

let harness: Harness;
let alice: string;
let bob: string;
let aliceAlert: string;

beforeAll(async () => {
  // The fuzzing sends a mutation per value: rate limits are tested in apiRate.test.ts.
  harness = await startHarness({ userMutationBurst: 1_000, addressMutationBurst: 1_000 });
  alice = await harness.token('alice');
  bob = await harness.token('bob');
  const created = await gql(harness.url, CREATE, { input: { ...base, threshold: '500' } }, alice);
  aliceAlert = created.data!.createAlert.id as string;
});
afterAll(() => harness?.stop());

/** Alice, who did nothing wrong, still lists her alert and reads the products. */
async function aliceStillServed(): Promise<void> {
  const response = await gql(harness.url, '{ products alerts { id } }', {}, alice);
  expect(response.errors).toBeUndefined();
  expect(response.data!.alerts.map((alert: { id: string }) => alert.id)).toContain(aliceAlert);
}

describe('broken requests get a status and a JSON error', () => {
  it('a broken multipart body is 400 with a JSON error', async () => {
    const response = await fetch(harness.url, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz', accept: 'application/json' },
      body: '--xyz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBeDefined();
    expect(body.errors[0]!.extensions.code).not.toBe('INTERNAL_SERVER_ERROR');
    await aliceStillServed();
  });

  it('a 200 KB Authorization header is 431 with a JSON error', async () => {
    const response = await fetch(harness.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${'x'.repeat(200_000)}`,
      },
      body: JSON.stringify({ query: '{ products }' }),
    });
    expect(response.status).toBe(431);
    expect(await response.json()).toEqual({
      errors: [{ message: expect.stringContaining('headers'), extensions: { code: 'BAD_REQUEST' } }],
    });
    await aliceStillServed();
  });

  it('a syntax error is GRAPHQL_PARSE_FAILED', async () => {
    const response = await gql(harness.url, '{ products', {}, alice);
    expect(codes(response)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });
});

describe('ids a client sends are not echoed back whole', () => {
  it('cancelAlert of a 500 KB id is refused as no alert id, with a short message', async () => {
    const id = 'a'.repeat(500_000);
    const response = await gql(
      harness.url,
      'mutation($id: ID!) { cancelAlert(id: $id) { id } }',
      { id },
      alice,
    );
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message).toBe('id: is not an alert id');
    await aliceStillServed();
  });

  it('a 100 KB bad variable is BAD_USER_INPUT with a short message', async () => {
    const response = await gql(
      harness.url,
      CREATE,
      { input: { ...base, threshold: '9'.repeat(100_000) + 'x' } },
      alice,
    );
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message.length).toBeLessThan(400);
  });
});

describe("another user's alert is invisible", () => {
  it('alert, alerts, triggers and cancelAlert of alice’s alert, asked by bob', async () => {
    await recordPrices(harness, await harness.token('feeder', 'feeder'), ['600']);
    // The reactor folds the trade asynchronously: wait until alice sees her trigger.
    await eventually(async () => {
      const trigger = await gql(harness.url, '{ triggers(first: 10) { alert { id } } }', {}, alice);
      const ids = trigger.data!.triggers.map((item: { alert: { id: string } }) => item.alert.id);
      return ids.includes(aliceAlert) ? true : undefined;
    });

    const read = await gql(harness.url, 'query($id: ID!) { alert(id: $id) { id } }', { id: aliceAlert }, bob);
    expect(read.data).toEqual({ alert: null });
    const listed = await gql(harness.url, '{ alerts { id } triggers(first: 10) { cursor } }', {}, bob);
    expect(listed.data).toEqual({ alerts: [], triggers: [] });
    const cancelled = await gql(
      harness.url,
      'mutation($id: ID!) { cancelAlert(id: $id) { id } }',
      { id: aliceAlert },
      bob,
    );
    expect(codes(cancelled)).toEqual(['NOT_FOUND']);
    await aliceStillServed();
  });
});

describe('fuzzed values never reach INTERNAL_SERVER_ERROR', () => {
  /** A fixed pseudo-random sequence, so a failure can be replayed. */
  function* strings(seed: number, count: number): Generator<string> {
    const alphabet = '0123456789.-+eE ,_xX\u0000\u00a0٣\uFFFF"\\/{}t1';
    let state = seed;
    const next = (): number => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let index = 0; index < count; index += 1)
      yield Array.from({ length: next() % 40 }, () => alphabet[next() % alphabet.length]).join('');
    yield* [
      '',
      ' ',
      '1'.repeat(400),
      '0.0000000000000000001',
      '1e400',
      'NaN',
      'Infinity',
      '-0',
      '0x10',
      '١٢٣',
    ];
  }

  it('thresholds', async () => {
    for (const threshold of strings(7, 60)) {
      const response = await gql(harness.url, CREATE, { input: { ...base, threshold } }, bob);
      expect(codes(response), JSON.stringify(threshold)).not.toContain('INTERNAL_SERVER_ERROR');
      if (response.errors) expect(codes(response), JSON.stringify(threshold)).toEqual(['BAD_USER_INPUT']);
    }
    await aliceStillServed();
  });

  it('cursors', async () => {
    const cursors = [...strings(11, 60), 't1.', 't1.abc', 't1.-1', `t1.${'9'.repeat(50)}`, 't1.1.1.1'];
    for (const after of cursors) {
      const response = await gql(
        harness.url,
        'query($after: String) { triggers(after: $after) { cursor } }',
        { after },
        bob,
      );
      expect(codes(response), JSON.stringify(after)).not.toContain('INTERNAL_SERVER_ERROR');
      if (response.errors) expect(codes(response), JSON.stringify(after)).toEqual(['BAD_USER_INPUT']);
    }
    await aliceStillServed();
  });
});
