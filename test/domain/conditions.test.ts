// Conditions as the README states them, one spec per rule: given an alert, when these trades come,
// then these changes — the same through the book alone (a backtest) and as the reactor decides them.
import { describe, expect, it } from 'vitest';
import {
  decideCreateAlert,
  decideOnTrade,
  evolveAlert,
  type AlertState,
  type CreateAlertCommand,
} from '../../src/domain/alerts.ts';
import { DomainError } from '../../src/domain/errors.ts';
import type { AlertCreated, AlertEvent, TradeRecorded } from '../../src/domain/events.ts';
import { parseEvent } from '../../src/domain/events.ts';
import { alertOf, bookChanges, lines, reactorChanges, tapeOf, trade } from '../helpers/conditions.ts';

/** Runs one alert both ways, checks they agree, and gives the changes as `kind@trade value`. */
function run(fields: Partial<AlertCreated>, trades: TradeRecorded[], windows = ['1m']): string[] {
  const alert = alertOf('a', fields);
  const book = lines(bookChanges([alert], trades, windows));
  expect(lines(reactorChanges([alert], trades, { windows }).seen)).toEqual(book);
  expect(lines(reactorChanges([alert], trades, { windows, everyTrade: true }).seen)).toEqual(book);
  return book;
}
const at = (...points: [number, string][]): TradeRecorded[] =>
  points.map(([second, price], index) => trade(index, second, price));

describe('LEVEL (the default, unchanged)', () => {
  it('given an alert created while already above, when the next trade comes, then it fires at once', () => {
    expect(run({ direction: 'ABOVE', threshold: '100' }, tapeOf(['101', '102']))).toEqual(['fire@0 101']);
  });
  it('given a repeat alert with a cooldown, when the level holds again inside it, then it waits, still armed, and fires at its end', () => {
    const trades = at([0, '101'], [1, '99'], [2, '101'], [4.999999, '102'], [5, '103']);
    expect(run({ direction: 'ABOVE', threshold: '100', repeat: true, cooldown: '5s' }, trades)).toEqual([
      'fire@0 101',
      'rearm@1 99',
      'fire@4 103',
    ]);
  });
});

describe('CROSS', () => {
  it('given an alert created while above, when the price stays above, then nothing: the first value only sets the side', () => {
    expect(
      run({ condition: 'CROSS', direction: 'ABOVE', threshold: '100' }, tapeOf(['101', '102', '100'])),
    ).toEqual([]);
  });
  it('given an alert created while above, when the price dips and crosses again, then it fires on the fresh cross', () => {
    expect(
      run(
        { condition: 'CROSS', direction: 'ABOVE', threshold: '100' },
        tapeOf(['101', '102', '99', '100', '98', '101']),
      ),
    ).toEqual(['rearm@2 99', 'fire@3 100']);
  });
  it('given a repeat BELOW alert with rearmBy, when the price chops around the threshold, then only crosses from beyond the band fire', () => {
    const trades = tapeOf(['102', '100', '100.5', '101', '101.5', '100']);
    expect(
      run({ condition: 'CROSS', direction: 'BELOW', threshold: '100', repeat: true, rearmBy: '1' }, trades),
    ).toEqual(['rearm@0 102', 'fire@1 100', 'rearm@4 101.5', 'fire@5 100']);
  });
  it('given a repeat alert with a cooldown, when it crosses again inside it, then that edge is spent and only the next fresh cross fires', () => {
    const trades = at([0, '99'], [1, '101'], [2, '99'], [3, '101'], [12, '101'], [13, '99'], [14, '101']);
    expect(
      run(
        { condition: 'CROSS', direction: 'ABOVE', threshold: '100', repeat: true, cooldown: '10s' },
        trades,
      ),
    ).toEqual(['rearm@0 99', 'fire@1 101', 'rearm@2 99', 'disarm@3 101', 'rearm@5 99', 'fire@6 101']);
  });
  it('given equal trade times, when it crosses twice within one timestamp, then each is a cross and a cooldown counts them as inside', () => {
    const trades = at([0, '99'], [1, '101'], [1, '99'], [1, '101']);
    const fields = { condition: 'CROSS', direction: 'ABOVE', threshold: '100', repeat: true } as const;
    expect(run(fields, trades)).toEqual(['rearm@0 99', 'fire@1 101', 'rearm@2 99', 'fire@3 101']);
    expect(run({ ...fields, cooldown: '1s' }, trades)).toEqual([
      'rearm@0 99',
      'fire@1 101',
      'rearm@2 99',
      'disarm@3 101',
    ]);
  });
  it('given a MEAN alert, when a late trade pulls the window’s mean across, then it crosses on that trade', () => {
    // Mean over 1m: 99, then (99 + 99.5) / 2, then a late 103 at 5 s joins: (99 + 103 + 99.5) / 3 = 100.5.
    const trades = at([0, '99'], [10, '99.5'], [5, '103']);
    expect(
      run({ condition: 'CROSS', direction: 'ABOVE', threshold: '100', measure: 'MEAN' }, trades),
    ).toEqual(['rearm@0 99', 'fire@2 100.5']);
  });
});

describe('MOVE', () => {
  it('given up 5 %, when the newest price is 5 % over the window’s oldest, then it fires with the move in percent', () => {
    expect(
      run({ condition: 'MOVE', direction: 'ABOVE', percent: '5' }, at([0, '100'], [10, '103'], [20, '105'])),
    ).toEqual(['fire@2 5']);
  });
  it('given down 2 %, when the price falls by 2.5 %, then the value is negative', () => {
    expect(
      run({ condition: 'MOVE', direction: 'BELOW', percent: '2' }, tapeOf(['100', '99', '97.5'])),
    ).toEqual(['fire@2 -2.5']);
  });
  it('given a 1m window, when the old trades slide out, then p0 is the oldest trade still in the window', () => {
    const trades = at([0, '100'], [30, '104'], [70, '106']);
    expect(run({ condition: 'MOVE', direction: 'ABOVE', percent: '5' }, trades)).toEqual([]);
    expect(run({ condition: 'MOVE', direction: 'ABOVE', percent: '5', window: 'all' }, trades)).toEqual([
      'fire@2 6',
    ]);
  });
  it('given a late trade older than the window’s oldest, when it arrives, then it becomes p0', () => {
    // At 40 s the 1m window holds 100 (20 s) and 104 (40 s): 4 %. The late 98 at 10 s is older: 6.12244898 %.
    const trades = at([20, '100'], [40, '104'], [10, '98']);
    expect(run({ condition: 'MOVE', direction: 'ABOVE', percent: '5' }, trades)).toEqual([
      'fire@2 6.12244898',
    ]);
  });
  it('given a repeat alert, when the move stops holding and holds again, then it re-arms and fires again', () => {
    const trades = at([0, '100'], [1, '106'], [2, '107'], [3, '104'], [4, '105']);
    expect(run({ condition: 'MOVE', direction: 'ABOVE', percent: '5', repeat: true }, trades)).toEqual([
      'fire@1 6',
      'rearm@3 4',
      'fire@4 5',
    ]);
  });
  it('rounds the value half-even to 8 places and ignores the measure', () => {
    const trades = tapeOf(['3', '3.1']);
    expect(run({ condition: 'MOVE', direction: 'ABOVE', percent: '3', measure: 'VWAP' }, trades)).toEqual([
      'fire@1 3.33333333',
    ]);
  });
});

describe('ENTER and EXIT', () => {
  it('given ENTER 99..101, when the first value is inside, then it waits for the price to leave and come back', () => {
    expect(
      run({ condition: 'ENTER', low: '99', high: '101' }, tapeOf(['100', '100.5', '102', '101'])),
    ).toEqual(['rearm@2 102', 'fire@3 101']);
  });
  it('given ENTER created outside, when the price reaches the bound, then it fires (the range is inclusive)', () => {
    expect(run({ condition: 'ENTER', low: '99', high: '101' }, tapeOf(['98', '99']))).toEqual([
      'rearm@0 98',
      'fire@1 99',
    ]);
  });
  it('given a repeat EXIT, when the price leaves on either side, then it fires each time after coming back in', () => {
    const trades = tapeOf(['100', '101', '101.01', '105', '99', '98.99']);
    expect(run({ condition: 'EXIT', low: '99', high: '101', repeat: true }, trades)).toEqual([
      'rearm@0 100',
      'fire@2 101.01',
      'rearm@4 99',
      'fire@5 98.99',
    ]);
  });
  it('given a repeat ENTER with a cooldown, when it enters again inside it, then the entry is spent', () => {
    const trades = at([0, '98'], [1, '100'], [2, '98'], [3, '100'], [4, '98'], [70, '100']);
    expect(run({ condition: 'ENTER', low: '99', high: '101', repeat: true, cooldown: '1m' }, trades)).toEqual(
      ['rearm@0 98', 'fire@1 100', 'rearm@2 98', 'disarm@3 100', 'rearm@4 98', 'fire@5 100'],
    );
  });
});

describe('exactness', () => {
  it('given ENTER 99..100 on the mean, when the mean is above high by half of 10^-18, then it is outside', () => {
    // (101 + 99.000000000000000001) / 2 = 100.0000000000000000005: printed 100, yet not ≤ 100.
    const trades = tapeOf(['101', '99.000000000000000001']);
    expect(run({ condition: 'ENTER', low: '99', high: '100', measure: 'MEAN' }, trades)).toEqual([
      'rearm@0 101',
    ]);
  });
  it('given EXIT 100..101 on the mean, when the mean is below low by half of 10^-18, then it fires', () => {
    // (100.5 + 99.499999999999999999) / 2 = 99.9999999999999999995 < 100, printed 100.
    const trades = tapeOf(['100.5', '99.499999999999999999']);
    expect(run({ condition: 'EXIT', low: '100', high: '101', measure: 'MEAN' }, trades)).toEqual([
      'rearm@0 100.5',
      'fire@1 100',
    ]);
  });
});

describe('deciding from the stream', () => {
  const cross = alertOf('a', {
    condition: 'CROSS',
    direction: 'ABOVE',
    threshold: '100',
    repeat: true,
    cooldown: '10s',
  });
  const trades = at([0, '99'], [1, '101'], [2, '99'], [3, '101'], [4, '99']);

  it('given the events written, when the stream is folded again (a restart, a conflict), then the state is the same', () => {
    const { states, streams } = reactorChanges([cross], trades);
    const refolded = streams
      .get('a')!
      .reduce<AlertState | undefined>(
        (state, event, index) => evolveAlert(state, event, { revision: BigInt(index), cause: BigInt(index) }),
        undefined,
      )!;
    const live = states.get('a')!;
    expect({ armed: refolded.armed, lastFiredAt: refolded.lastFiredAt }).toEqual({
      armed: live.armed,
      lastFiredAt: live.lastFiredAt,
    });
    expect(streams.get('a')!.map((event) => event.type)).toEqual([
      'AlertCreated',
      'AlertRearmed',
      'AlertTriggered',
      'AlertRearmed',
      'AlertDisarmed',
      'AlertRearmed',
    ]);
    // Every event written parses back (AlertDisarmed is an event of the store's schema).
    for (const event of streams.get('a')!) expect(parseEvent(event.type, event.data).ok).toBe(true);
  });

  it('given a spent edge already written for a trade, when that trade is decided again, then nothing', () => {
    const { states } = reactorChanges([cross], trades.slice(0, 4));
    const state = states.get('a')!;
    expect(state.armed).toBe(false);
    const again = decideOnTrade(
      state,
      { trade: trades[3]!, position: 4n, recordedAt: 0, ratio: { num: 101n, den: 1n }, value: '101' },
      '2026-11-26T10:00:00.000000Z',
    );
    expect(again).toBeUndefined();
  });

  it('given an AlertCreated written before conditions existed, when folded, then it is an armed LEVEL alert', () => {
    const old: AlertEvent = {
      type: 'AlertCreated',
      data: alertOf('old', { direction: 'BELOW', threshold: '100' }),
    };
    expect(parseEvent('AlertCreated', old.data).ok).toBe(true);
    expect(evolveAlert(undefined, old, { revision: 0n })).toMatchObject({ armed: true, status: 'ACTIVE' });
  });

  it('refuses a stored AlertCreated that lacks what its condition needs', () => {
    const parsed = parseEvent('AlertCreated', alertOf('x', { condition: 'ENTER', low: '1' }));
    expect(parsed).toMatchObject({ ok: false });
  });
});

describe('decideCreateAlert with conditions', () => {
  const rules = { products: ['BTC-USD'], windows: ['1m', '10m'], activeCount: 0 };
  const command = (more: Partial<CreateAlertCommand>): CreateAlertCommand => ({
    alertId: 'a1',
    userId: 'u1',
    product: 'BTC-USD',
    now: '2026-11-26T08:00:00.000000Z',
    ...more,
  });
  const failure = (more: Partial<CreateAlertCommand>): { code: string; field?: string } => {
    try {
      decideCreateAlert(command(more), undefined, rules);
    } catch (error) {
      if (error instanceof DomainError)
        return { code: error.code, ...(error.field ? { field: error.field } : {}) };
      throw error;
    }
    throw new Error('expected a DomainError');
  };

  it('stores each condition with its own fields only, normalised; LEVEL leaves `condition` out', () => {
    const create = (more: Partial<CreateAlertCommand>) =>
      decideCreateAlert(command(more), undefined, rules)[0]!;
    expect(create({ direction: 'ABOVE', threshold: '100.0' })).not.toHaveProperty('condition');
    const move = create({
      condition: 'MOVE',
      direction: 'BELOW',
      percent: '2.50',
      repeat: true,
      cooldown: '5m',
    });
    expect(move).toMatchObject({
      condition: 'MOVE',
      direction: 'BELOW',
      percent: '2.5',
      cooldown: '5m',
      rearmBy: '0',
    });
    expect(move).not.toHaveProperty('threshold');
    const enter = create({ condition: 'ENTER', low: '99.90', high: '101' });
    expect(enter).toMatchObject({ condition: 'ENTER', low: '99.9', high: '101' });
    expect(enter).not.toHaveProperty('direction');
    expect(
      create({
        condition: 'MOVE',
        direction: 'ABOVE',
        percent: '0.00000001',
        measure: 'LAST',
        window: 'all',
      }),
    ).toMatchObject({
      percent: '0.00000001',
    });
  });

  it.each([
    [{ condition: 'SIDEWAYS' as never, direction: 'ABOVE', threshold: '1' }, 'condition'],
    [{ direction: 'ABOVE' }, 'threshold'],
    [{ threshold: '100' }, 'direction'],
    [{ condition: 'CROSS', direction: 'ABOVE' }, 'threshold'],
    [{ direction: 'ABOVE', threshold: '100', percent: '5' }, 'percent'],
    [{ condition: 'MOVE', direction: 'ABOVE', threshold: '100', percent: '5' }, 'threshold'],
    [{ condition: 'MOVE', direction: 'ABOVE' }, 'percent'],
    [{ condition: 'MOVE', percent: '5' }, 'direction'],
    [{ condition: 'MOVE', direction: 'ABOVE', percent: '0' }, 'percent'],
    [{ condition: 'MOVE', direction: 'ABOVE', percent: '1.123456789' }, 'percent'],
    [{ condition: 'MOVE', direction: 'ABOVE', percent: '5', rearmBy: '1' }, 'rearmBy'],
    [{ condition: 'MOVE', direction: 'ABOVE', percent: '5', measure: 'LAST', window: '5m' }, 'window'],
    [{ condition: 'ENTER', low: '100' }, 'high'],
    [{ condition: 'ENTER', low: '101', high: '100' }, 'high'],
    [{ condition: 'EXIT', low: '100', high: '100.0' }, 'high'],
    [{ condition: 'EXIT', low: '0', high: '100' }, 'low'],
    [{ condition: 'ENTER', direction: 'ABOVE', low: '99', high: '100' }, 'direction'],
    [{ condition: 'EXIT', low: '99', high: '100', threshold: '99' }, 'threshold'],
    [{ condition: 'ENTER', low: '99', high: '100', rearmBy: '0' }, 'rearmBy'],
    [{ direction: 'ABOVE', threshold: '100', cooldown: '5m' }, 'cooldown'],
    [{ direction: 'ABOVE', threshold: '100', repeat: true, cooldown: 'soon' }, 'cooldown'],
    [{ direction: 'ABOVE', threshold: '100', repeat: true, cooldown: '0m' }, 'cooldown'],
    [{ direction: 'ABOVE', threshold: '100', repeat: true, cooldown: '-5m' }, 'cooldown'],
  ] as [Partial<CreateAlertCommand>, string][])(
    'given %o, when created, then BAD_USER_INPUT names %s',
    (more, field) => {
      expect(failure(more)).toEqual({ code: 'BAD_USER_INPUT', field });
    },
  );
});
