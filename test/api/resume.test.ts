// alertTriggered(after:) resumes with exactly the missed triggers, in order, then live ones.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, gql, settled, startHarness, subscribe, type Harness } from './harness.ts';
import { recordPrices } from './trades.ts';

const TRIGGERED = `subscription($after: String) { alertTriggered(after: $after) { cursor value trade { tradeId } } }`;

let harness: Harness;
let carol: string;
let feeder: string;

beforeAll(async () => {
  harness = await startHarness();
  [carol, feeder] = await Promise.all([harness.token('carol'), harness.token('feeder', 'feeder')]);
});
afterAll(() => harness?.stop());

it('a client that reconnects with its last cursor gets exactly what it missed, in order, then live triggers', async () => {
  const created = await gql(
    harness.url,
    `mutation { createAlert(input: { product: "BTC-USD", direction: ABOVE, threshold: "10", measure: LAST, repeat: true }) { id } }`,
    {},
    carol,
  );
  expect(created.errors).toBeUndefined();

  // Each pair of trades (above, then below) fires the repeat alert once and re-arms it.
  const fire = async (above: string): Promise<string> =>
    (await recordPrices(harness, feeder, [above, '9']))[0]!;

  const first = connect(harness.wsUrl, carol);
  const live = subscribe(first.client, TRIGGERED);
  await settled(first.client);
  const seen = [];
  for (const price of ['11', '12']) {
    const tradeId = await fire(price);
    const trigger = (await live.next()).alertTriggered;
    expect(trigger.trade.tradeId).toBe(tradeId);
    seen.push(trigger);
  }
  await first.dispose();

  const missed = [];
  for (const price of ['13', '14', '15']) missed.push(await fire(price));

  const second = connect(harness.wsUrl, carol);
  const resumed = subscribe(second.client, TRIGGERED, { after: seen.at(-1)!.cursor });
  const replayed = [];
  for (let index = 0; index < missed.length; index += 1) replayed.push((await resumed.next()).alertTriggered);
  expect(replayed.map((trigger) => trigger.trade.tradeId)).toEqual(missed);
  expect(replayed.map((trigger) => trigger.value)).toEqual(['13', '14', '15']);

  const liveAgain = await fire('16');
  const next = (await resumed.next()).alertTriggered;
  expect(next.trade.tradeId).toBe(liveAgain);
  expect(resumed.pending).toHaveLength(0);

  // Resuming from the very first trigger's cursor replays everything after it, without it.
  const third = connect(harness.wsUrl, carol);
  const fromFirst = subscribe(third.client, TRIGGERED, { after: seen[0]!.cursor });
  const values = [];
  for (let index = 0; index < 5; index += 1) values.push((await fromFirst.next()).alertTriggered.value);
  expect(values).toEqual(['12', '13', '14', '15', '16']);
  await settled(third.client);
  expect(fromFirst.pending).toHaveLength(0);

  // The same history through the triggers query, a page at a time.
  const page = async (after: string | undefined, first: number) =>
    (
      await gql(
        harness.url,
        'query($after: String, $first: Int) { triggers(after: $after, first: $first) { cursor value } }',
        { after, first },
        carol,
      )
    ).data!.triggers as { cursor: string; value: string }[];
  const firstTwo = await page(undefined, 2);
  expect(firstTwo.map((trigger) => trigger.value)).toEqual(['11', '12']);
  expect(firstTwo[0]!.cursor).toBe(seen[0]!.cursor);
  expect((await page(firstTwo[1]!.cursor, 100)).map((trigger) => trigger.value)).toEqual([
    '13',
    '14',
    '15',
    '16',
  ]);
  expect((await page(seen[0]!.cursor, 3)).map((trigger) => trigger.value)).toEqual(['12', '13', '14']);
  await Promise.all([second.dispose(), third.dispose()]);
});
