import { describe, expect, it } from 'vitest';
import * as alertsView from '../../projections/alertsView.ts';
import { addAlert, applyTrade, createMarket } from '../../projections/market.ts';
import type { AlertCreated, AlertEvent, TradeRecorded } from '../../src/domain/events.ts';
import { formatMicros } from '../../src/domain/time.ts';

const T0 = Date.UTC(2026, 10, 26, 9) * 1000;
const trade = (second: number, price: string, size = '1'): TradeRecorded => ({
  product: 'BTC-USD',
  tradeId: `t${second}`,
  price,
  size,
  side: 'buy',
  time: formatMicros(T0 + second * 1_000_000),
  source: 's',
});
const alert = (alertId: string, more: Partial<AlertCreated> = {}): AlertCreated => ({
  alertId,
  userId: 'u1',
  product: 'BTC-USD',
  direction: 'ABOVE',
  threshold: '100',
  measure: 'MEAN',
  window: '1m',
  repeat: false,
  rearmBy: '0',
  createdAt: '2026-11-26T08:00:00.000000Z',
  ...more,
});

describe('applyTrade', () => {
  it('given alerts, when a trade moves the mean across, then the fire carries the value printed by the output rule', () => {
    const market = createMarket(['1m']);
    addAlert(market, alert('mean'));
    addAlert(market, alert('vwap', { measure: 'VWAP', threshold: '100.0000001' }));
    expect(applyTrade(market, trade(0, '99.99999999', '2'))).toEqual([]);
    const changes = applyTrade(market, trade(1, '100.00000002'));
    // Mean (99.99999999 + 100.00000002) / 2 = 100.000000005 ≥ 100, printed half-even at 8 places: 100.
    // VWAP (199.99999998 + 100.00000002) / 3 = 100 < 100.0000001: does not fire.
    expect(changes.map((change) => [change.kind, change.alert.alertId, change.value])).toEqual([
      ['fire', 'mean', '100'],
    ]);
  });

  it('given an alert added after some trades, then only later trades can fire it', () => {
    const market = createMarket(['1m']);
    applyTrade(market, trade(0, '500'));
    addAlert(market, alert('late', { measure: 'LAST' }));
    expect(applyTrade(market, trade(1, '400')).map((change) => change.alert.alertId)).toEqual(['late']);
  });

  it('given an alert on a window that is not kept, then it never fires', () => {
    const market = createMarket(['1m']);
    addAlert(market, alert('no-window', { window: '5m' }));
    expect(applyTrade(market, trade(0, '1000'))).toEqual([]);
  });

  it('given a late trade that lifts a window it falls in, then it can fire that window’s alert', () => {
    const market = createMarket(['10s']);
    addAlert(market, alert('ten', { window: '10s', threshold: '60' }));
    applyTrade(market, trade(0, '10'));
    applyTrade(market, trade(20, '50'));
    expect(applyTrade(market, trade(5, '1000'))).toEqual([]); // outside (10 s, 20 s]
    expect(applyTrade(market, trade(15, '70')).map((change) => change.value)).toEqual(['60']);
  });
});

describe('alertsView', () => {
  const at = (event: AlertEvent, revision: bigint) => ({ alertId: event.data.alertId, event, revision });
  const created = (alertId: string, userId = 'u1'): AlertEvent => ({
    type: 'AlertCreated',
    data: { ...alert(alertId), userId },
  });

  it('given alerts of two users, then each sees its own with status and counts', () => {
    const view = [at(created('a'), 0n), at(created('b'), 0n), at(created('c', 'u2'), 0n)].reduce(
      alertsView.evolve,
      alertsView.initialState(),
    );
    alertsView.evolve(
      view,
      at(
        {
          type: 'AlertCancelled',
          data: { alertId: 'b', userId: 'u1', cancelledAt: '2026-11-26T08:01:00.000000Z' },
        },
        1n,
      ),
    );
    expect(alertsView.alertsOf(view, 'u1')!.map((a) => [a.id, a.status])).toEqual([
      ['a', 'ACTIVE'],
      ['b', 'CANCELLED'],
    ]);
    expect(alertsView.alertsOf(view, 'u1', { status: 'ACTIVE' })!.map((a) => a.id)).toEqual(['a']);
    expect(alertsView.activeAlertCount(view, 'u1')).toBe(1);
    expect(alertsView.alert(view, 'c')).toMatchObject({
      userId: 'u2',
      status: 'ACTIVE',
      armed: true,
      triggerCount: 0,
    });
  });

  it('given a trigger folded twice (own append, then the subscription), then it counts once', () => {
    const triggered: AlertEvent = {
      type: 'AlertTriggered',
      data: {
        ...alert('a'),
        value: '101',
        trade: { tradeId: 't', price: '101', size: '1', side: 'buy', time: '2026-11-26T09:00:00.000000Z' },
        triggeredAt: '2026-11-26T09:00:00.100000Z',
      },
    };
    const view = [at(created('a'), 0n), at(triggered, 1n), at(triggered, 1n)].reduce(
      alertsView.evolve,
      alertsView.initialState(),
    );
    expect(alertsView.alert(view, 'a')).toMatchObject({
      status: 'TRIGGERED',
      triggerCount: 1,
      lastTriggeredAt: '2026-11-26T09:00:00.100000Z',
      armed: false,
    });
    expect(alertsView.activeAlertCount(view, 'u1')).toBe(0);
  });
});
