// Trigger cursors at the boundary: another user's cursor, one that is not a cursor, one of the old
// format, and one older than what the server keeps are each a clear BAD_USER_INPUT naming `after`,
// over HTTP and over WebSocket, and never show anyone else's triggers.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  codes,
  connect,
  eventually,
  gql,
  settled,
  startHarness,
  subscribe,
  type Harness,
} from '../api/harness.ts';
import { recordPrices } from '../api/trades.ts';

let harness: Harness;
let alice: string;
let bob: string;
let feeder: string;

beforeAll(async () => {
  // Each user's log keeps two triggers (and up to twice that before it is trimmed).
  harness = await startHarness({}, { triggersPerUser: 2 });
  [alice, bob, feeder] = await Promise.all([
    harness.token('alice'),
    harness.token('bob'),
    harness.token('feeder', 'feeder'),
  ]);
});
afterAll(() => harness?.stop());

const TRIGGERS = 'query($after: String) { triggers(after: $after) { cursor value } }';

async function triggersOf(token: string): Promise<{ cursor: string; value: string }[]> {
  const response = await gql(harness.url, TRIGGERS, {}, token);
  return response.data!.triggers as { cursor: string; value: string }[];
}

it('refuses foreign, malformed, old-format and evicted cursors, and serves the owner the rest', async () => {
  for (const token of [alice, bob]) {
    const created = await gql(
      harness.url,
      'mutation { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: "10", measure: LAST, repeat: true }) { id } }',
      {},
      token,
    );
    expect(created.errors).toBeUndefined();
  }
  await recordPrices(harness, feeder, ['11', '9', '12', '9']);
  const bobs = await eventually(async () => {
    const list = await triggersOf(bob);
    return list.length === 2 ? list : undefined;
  });

  const refusals: [string, RegExp][] = [
    [bobs[0]!.cursor, /another user/],
    ['t2.bm90LWEtY3Vyc29y.xxxxxxxx', /not a cursor/],
    ['hello', /not a cursor/],
    ['t1.MTI6MTI', /older pricealert version/],
    ['t2.' + 'A'.repeat(5000), /not a cursor/],
  ];
  for (const [after, reason] of refusals) {
    const response = await gql(harness.url, TRIGGERS, { after }, alice);
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message).toMatch(/^after: /);
    expect(response.errors![0]!.message).toMatch(reason);
  }

  // More triggers than the log keeps: alice's first cursor is older than what is left.
  const first = (await triggersOf(alice))[0]!;
  await recordPrices(harness, feeder, ['13', '9', '14', '9', '15', '9']);
  await eventually(async () => ((await triggersOf(alice)).at(-1)?.value === '15' ? true : undefined));
  const tooOld = await gql(harness.url, TRIGGERS, { after: first.cursor }, alice);
  expect(codes(tooOld)).toEqual(['BAD_USER_INPUT']);
  expect(tooOld.errors![0]!.message).toMatch(/older than the triggers this server keeps/);

  // Over WebSocket the same refusals end that subscription with an error; the socket lives on.
  const socket = connect(harness.wsUrl, alice);
  const foreign = subscribe(
    socket.client,
    'subscription($after: String) { alertTriggered(after: $after) { value } }',
    {
      after: bobs[0]!.cursor,
    },
  );
  const error = (await foreign.error) as { message: string; extensions: { code: string } }[];
  expect(error[0]!.extensions.code).toBe('BAD_USER_INPUT');
  const live = subscribe(socket.client, 'subscription { alertTriggered { value } }');
  await settled(socket.client);
  await recordPrices(harness, feeder, ['16']);
  expect((await live.next()).alertTriggered.value).toBe('16');
  await socket.dispose();

  // Bob's own cursors still work for him.
  const bobNow = await triggersOf(bob);
  const bobAfter = await gql(harness.url, TRIGGERS, { after: bobNow.at(-2)!.cursor }, bob);
  expect(bobAfter.errors).toBeUndefined();
  expect(bobAfter.data!.triggers).toEqual([bobNow.at(-1)]);
});
