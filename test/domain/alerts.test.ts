import { describe, expect, it } from 'vitest';
import {
  decideCancelAlert,
  decideCreateAlert,
  decideOnTrade,
  evolveAlert,
  type AlertState,
  type CreateAlertCommand,
  type TradeCause,
} from '../../src/domain/alerts.ts';
import { DomainError } from '../../src/domain/errors.ts';
import type { AlertEvent } from '../../src/domain/events.ts';

const NOW = '2026-11-26T08:00:00.000000Z';
const rules = { products: ['BTC-USD'], windows: ['1m', '10m'], activeCount: 0 };
const command = (more: Partial<CreateAlertCommand> = {}): CreateAlertCommand => ({
  alertId: 'a1',
  userId: 'u1',
  product: 'BTC-USD',
  direction: 'ABOVE',
  threshold: '100',
  now: NOW,
  ...more,
});
const given = (events: AlertEvent[]): AlertState | undefined =>
  events.reduce<AlertState | undefined>(
    (state, event, index) =>
      evolveAlert(state, event, { revision: BigInt(index), cause: BigInt(index * 10) }),
    undefined,
  );
const created = (more: Partial<CreateAlertCommand> = {}): AlertEvent => ({
  type: 'AlertCreated',
  data: decideCreateAlert(command(more), undefined, rules)[0]!,
});
const failure = (run: () => unknown): { code: string; field?: string } => {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError)
      return { code: error.code, ...(error.field ? { field: error.field } : {}) };
    throw error;
  }
  throw new Error('expected a DomainError');
};

describe('decideCreateAlert', () => {
  it('given nothing, when created with defaults, then AlertCreated is normalised and leaves out absent fields', () => {
    expect(decideCreateAlert(command({ threshold: '100.500' }), undefined, rules)).toEqual([
      {
        alertId: 'a1',
        userId: 'u1',
        product: 'BTC-USD',
        direction: 'ABOVE',
        threshold: '100.5',
        measure: 'MEAN',
        window: '10m',
        repeat: false,
        rearmBy: '0',
        createdAt: NOW,
      },
    ]);
  });

  it('given nothing, when created with every option, then they are kept', () => {
    const [event] = decideCreateAlert(
      command({
        measure: 'VWAP',
        window: 'all',
        repeat: true,
        rearmBy: '2.50',
        expiresAt: '2026-11-27T00:00:00Z',
        note: 'ping',
      }),
      undefined,
      rules,
    );
    expect(event).toMatchObject({
      measure: 'VWAP',
      window: 'all',
      repeat: true,
      rearmBy: '2.5',
      expiresAt: '2026-11-27T00:00:00.000000Z',
      note: 'ping',
    });
  });

  it.each([
    [{ product: 'DOGE-USD' }, 'product'],
    [{ threshold: '0' }, 'threshold'],
    [{ threshold: '-5' }, 'threshold'],
    [{ threshold: '1e5' }, 'threshold'],
    [{ threshold: '0.0000000000000000001' }, 'threshold'],
    [{ window: '5m' }, 'window'],
    [{ rearmBy: 'x' }, 'rearmBy'],
    [{ note: 'n'.repeat(281) }, 'note'],
    [{ expiresAt: '2026-11-25T00:00:00Z' }, 'expiresAt'],
    [{ expiresAt: 'tomorrow' }, 'expiresAt'],
  ] as const)('given bad input %o, when created, then BAD_USER_INPUT names %s', (input, field) => {
    expect(failure(() => decideCreateAlert(command(input), undefined, rules))).toEqual({
      code: 'BAD_USER_INPUT',
      field,
    });
  });

  it('accepts 18 decimal places, a 280-character note, and any window for LAST', () => {
    expect(() =>
      decideCreateAlert(
        command({ threshold: '0.000000000000000001', note: '✓'.repeat(280), measure: 'LAST', window: '5m' }),
        undefined,
        rules,
      ),
    ).not.toThrow();
  });

  it('given 1000 active alerts, when one more is created, then LIMIT_EXCEEDED', () => {
    expect(failure(() => decideCreateAlert(command(), undefined, { ...rules, activeCount: 1000 }))).toEqual({
      code: 'LIMIT_EXCEEDED',
    });
  });

  it('given an existing alert, when created again, then CONFLICT', () => {
    expect(failure(() => decideCreateAlert(command(), given([created()]), rules))).toEqual({
      code: 'CONFLICT',
    });
  });
});

describe('decideCancelAlert', () => {
  const cancel = { alertId: 'a1', userId: 'u1', now: NOW };
  it('given an active alert, when its owner cancels, then AlertCancelled', () => {
    expect(decideCancelAlert(cancel, given([created()]))).toEqual([
      { alertId: 'a1', userId: 'u1', cancelledAt: NOW },
    ]);
  });
  it('given another user’s alert or none, when cancelled, then NOT_FOUND', () => {
    expect(failure(() => decideCancelAlert({ ...cancel, userId: 'u2' }, given([created()])))).toEqual({
      code: 'NOT_FOUND',
    });
    expect(failure(() => decideCancelAlert(cancel, undefined))).toEqual({ code: 'NOT_FOUND' });
  });
  it('given a cancelled alert, when cancelled again, then nothing happens', () => {
    expect(
      decideCancelAlert(
        cancel,
        given([
          created(),
          { type: 'AlertCancelled', data: { alertId: 'a1', userId: 'u1', cancelledAt: NOW } },
        ]),
      ),
    ).toEqual([]);
  });
  it('given an expired alert, when cancelled, then CONFLICT', () => {
    expect(
      failure(() =>
        decideCancelAlert(
          cancel,
          given([created(), { type: 'AlertExpired', data: { alertId: 'a1', expiredAt: NOW } }]),
        ),
      ),
    ).toEqual({ code: 'CONFLICT' });
  });
});

describe('decideOnTrade', () => {
  const cause = (position: bigint, num: bigint, more: Partial<TradeCause> = {}): TradeCause => ({
    trade: {
      product: 'BTC-USD',
      tradeId: `t${position}`,
      price: String(num),
      size: '1',
      side: 'buy',
      time: NOW,
      source: 's',
    },
    position,
    recordedAt: Date.UTC(2026, 10, 26, 9) * 1000,
    ratio: { num, den: 1n },
    value: String(num),
    ...more,
  });
  it('given an armed alert, when the measure reaches the threshold, then AlertTriggered with the value and trade', () => {
    expect(decideOnTrade(given([created()])!, cause(100n, 100n), NOW)).toMatchObject({
      type: 'AlertTriggered',
      data: { alertId: 'a1', value: '100', threshold: '100', trade: { tradeId: 't100', price: '100' } },
    });
  });
  it('given an alert already changed by this trade or a later one, when decided again, then nothing', () => {
    const repeat = given([
      created({ repeat: true }),
      { type: 'AlertRearmed', data: { alertId: 'a1', value: '1', tradeId: 'x', rearmedAt: NOW } },
    ])!;
    expect(repeat.lastCause).toBe(10n);
    expect(decideOnTrade(repeat, cause(10n, 500n), NOW)).toBeUndefined();
    expect(decideOnTrade(repeat, cause(11n, 500n), NOW)?.type).toBe('AlertTriggered');
  });
  it('given a disarmed repeat alert, when the measure is back past rearmBy, then AlertRearmed', () => {
    const triggered = given([created({ repeat: true, rearmBy: '5' })])!;
    const disarmed = { ...triggered, armed: false };
    expect(decideOnTrade(disarmed, cause(5n, 95n), NOW)).toBeUndefined();
    expect(decideOnTrade(disarmed, cause(5n, 94n), NOW)?.type).toBe('AlertRearmed');
  });
  it('given an alert whose expiry passed before the trade was recorded, when crossed, then it expires instead', () => {
    const state = given([created({ expiresAt: '2026-11-26T08:30:00Z' })])!;
    expect(decideOnTrade(state, cause(3n, 200n), NOW)?.type).toBe('AlertExpired');
  });
});
