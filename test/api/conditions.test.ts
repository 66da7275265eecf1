// Conditions over the API: createAlert and the backtest query take them, check every field (naming it),
// echo them on Alert, and a CROSS alert fires over the real reactor only on a fresh cross.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, eventually, gql, startHarness, type Harness } from './harness.ts';
import { recordPrices } from './trades.ts';

const ALERT_FIELDS =
  'id condition direction threshold percent low high cooldown measure window repeat rearmBy status armed triggerCount';
const CREATE = `mutation($input: CreateAlertInput!) { createAlert(input: $input) { ${ALERT_FIELDS} } }`;
const BACKTEST = `query($input: BacktestInput!) { backtest(input: $input) { tradesReplayed triggers { alertIndex value } } }`;

let harness: Harness;
let erin: string;
let feeder: string;

beforeAll(async () => {
  harness = await startHarness();
  [erin, feeder] = await Promise.all([harness.token('erin'), harness.token('feed-1', 'feeder')]);
});
afterAll(() => harness?.stop());

describe('createAlert with conditions', () => {
  it('keeps a query written before conditions valid and LEVEL, and echoes each condition’s own fields', async () => {
    const level = await gql(
      harness.url,
      CREATE,
      { input: { product: 'BTC-USD', direction: 'ABOVE', threshold: '100' } },
      erin,
    );
    expect(level.errors).toBeUndefined();
    expect(level.data!.createAlert).toMatchObject({
      condition: 'LEVEL',
      direction: 'ABOVE',
      threshold: '100',
      percent: null,
      low: null,
      high: null,
      cooldown: null,
      armed: true,
    });
    const move = await gql(
      harness.url,
      CREATE,
      {
        input: {
          product: 'BTC-USD',
          condition: 'MOVE',
          direction: 'BELOW',
          percent: '2.50',
          window: '1m',
          repeat: true,
          cooldown: '5m',
        },
      },
      erin,
    );
    expect(move.errors).toBeUndefined();
    expect(move.data!.createAlert).toMatchObject({
      condition: 'MOVE',
      direction: 'BELOW',
      threshold: null,
      percent: '2.5',
      cooldown: '5m',
      armed: true,
    });
    const enter = await gql(
      harness.url,
      CREATE,
      { input: { product: 'BTC-USD', condition: 'ENTER', low: '99', high: '101.50' } },
      erin,
    );
    expect(enter.errors).toBeUndefined();
    // An edge alert waits for its first value to know its side.
    expect(enter.data!.createAlert).toMatchObject({
      condition: 'ENTER',
      direction: null,
      threshold: null,
      low: '99',
      high: '101.5',
      armed: false,
    });
  });

  const base = { product: 'BTC-USD' };
  const cases: [string, Record<string, unknown>][] = [
    ['direction', { threshold: '100' }],
    ['threshold', { direction: 'ABOVE' }],
    ['threshold', { condition: 'CROSS', direction: 'ABOVE' }],
    ['percent', { condition: 'MOVE', direction: 'ABOVE' }],
    ['percent', { condition: 'MOVE', direction: 'ABOVE', percent: '0' }],
    ['percent', { condition: 'MOVE', direction: 'ABOVE', percent: '0.123456789' }],
    ['threshold', { condition: 'MOVE', direction: 'ABOVE', percent: '1', threshold: '100' }],
    ['rearmBy', { condition: 'MOVE', direction: 'ABOVE', percent: '1', rearmBy: '1' }],
    ['high', { condition: 'ENTER', low: '100' }],
    ['high', { condition: 'ENTER', low: '100', high: '99' }],
    ['direction', { condition: 'EXIT', low: '99', high: '100', direction: 'ABOVE' }],
    ['percent', { direction: 'ABOVE', threshold: '100', percent: '5' }],
    ['cooldown', { direction: 'ABOVE', threshold: '100', cooldown: '5m' }],
    ['cooldown', { direction: 'ABOVE', threshold: '100', repeat: true, cooldown: 'often' }],
    ['cooldown', { direction: 'ABOVE', threshold: '100', repeat: true, cooldown: '0s' }],
  ];
  it.each(cases)('refuses with BAD_USER_INPUT naming %s: %j', async (field, input) => {
    const response = await gql(harness.url, CREATE, { input: { ...base, ...input } }, erin);
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.extensions!.field).toBe(field);
    expect(response.errors![0]!.message).toContain(field);
  });

  it('refuses a condition that is not one, as the schema says', async () => {
    const response = await gql(
      harness.url,
      CREATE,
      { input: { ...base, condition: 'SIDEWAYS', direction: 'ABOVE', threshold: '1' } },
      erin,
    );
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
  });

  it('fires a CROSS alert over the reactor only on a fresh cross, and a backtest of the same trades agrees', async () => {
    const frank = await harness.token('frank');
    const created = await gql(
      harness.url,
      CREATE,
      {
        input: {
          product: 'ETH-USD',
          condition: 'CROSS',
          direction: 'ABOVE',
          threshold: '2000',
          measure: 'LAST',
        },
      },
      frank,
    );
    expect(created.errors).toBeUndefined();
    const id = created.data!.createAlert.id as string;
    const [, , , cross] = await recordPrices(harness, feeder, ['2001', '2002', '1999', '2000'], 'ETH-USD');
    const alert = await eventually(async () => {
      const response = await gql(harness.url, `{ alert(id: "${id}") { status triggerCount } }`, {}, frank);
      return response.data?.alert?.status === 'TRIGGERED' ? response.data.alert : undefined;
    });
    expect(alert).toEqual({ status: 'TRIGGERED', triggerCount: 1 });
    const triggers = await gql(harness.url, '{ triggers { value trade { tradeId } } }', {}, frank);
    expect(triggers.data!.triggers).toEqual([{ value: '2000', trade: { tradeId: cross } }]);

    const report = await gql(harness.url, BACKTEST, {
      input: {
        product: 'ETH-USD',
        alerts: [
          { condition: 'CROSS', direction: 'ABOVE', threshold: '2000', measure: 'LAST' },
          { direction: 'ABOVE', threshold: '2000', measure: 'LAST' },
        ],
      },
    });
    expect(report.errors).toBeUndefined();
    // The LEVEL alert fires on the first trade; the CROSS alert only on the cross.
    expect(report.data!.backtest.triggers).toEqual([
      { alertIndex: 1, value: '2001' },
      { alertIndex: 0, value: '2000' },
    ]);
  });

  it('checks a backtest’s alerts as createAlert does, naming the entry and field', async () => {
    const response = await gql(harness.url, BACKTEST, {
      input: { product: 'BTC-USD', alerts: [{ condition: 'ENTER', low: '2', high: '1' }] },
    });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.message).toContain('alerts[0].high');
  });
});
