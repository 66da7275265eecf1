import { describe, expect, it } from 'vitest';
import { parseBacktestAlerts } from '../../src/backtest/alerts.ts';

const rules = { product: 'BTC-USD', windows: ['1m', '10m', '1h', '24h'] };

describe('backtest alerts', () => {
  it('fills in the defaults of BacktestAlertInput and normalises decimals as AlertCreated does', () => {
    expect(parseBacktestAlerts([{ direction: 'ABOVE', threshold: '43000.50' }], rules)).toEqual([
      {
        direction: 'ABOVE',
        threshold: '43000.5',
        measure: 'MEAN',
        window: '10m',
        repeat: false,
        rearmBy: '0',
      },
    ]);
  });

  it('accepts every field, and plain JSON numbers for decimals', () => {
    const [alert] = parseBacktestAlerts(
      [
        {
          direction: 'BELOW',
          threshold: 41000,
          measure: 'VWAP',
          window: 'all',
          repeat: true,
          rearmBy: '12.5',
        },
      ],
      rules,
    );
    expect(alert).toEqual({
      direction: 'BELOW',
      threshold: '41000',
      measure: 'VWAP',
      window: 'all',
      repeat: true,
      rearmBy: '12.5',
    });
  });

  it.each([
    [{ threshold: '1' }, 'alerts[1].direction: is required'],
    [{ direction: 'UP', threshold: '1' }, 'alerts[1].direction: must be ABOVE or BELOW'],
    [{ direction: 'ABOVE' }, 'alerts[1].threshold: is required'],
    [{ direction: 'ABOVE', threshold: '0.000' }, 'alerts[1].threshold: must be greater than 0'],
    [{ direction: 'ABOVE', threshold: '1e5' }, 'alerts[1].threshold: must be a plain decimal number'],
    [{ direction: 'ABOVE', threshold: 1e21 }, 'alerts[1].threshold: must be a plain decimal number'],
    [{ direction: 'ABOVE', threshold: '-3' }, 'alerts[1].threshold: must be a plain decimal number'],
    [
      { direction: 'ABOVE', threshold: '1.0000000000000000001' },
      'alerts[1].threshold: must have at most 18 decimal places',
    ],
    [
      { direction: 'ABOVE', threshold: '1', measure: 'MEDIAN' },
      'alerts[1].measure: must be LAST, MEAN or VWAP',
    ],
    [
      { direction: 'ABOVE', threshold: '1', window: '5m' },
      'alerts[1].window: must be one of 1m, 10m, 1h, 24h, all',
    ],
    [{ direction: 'ABOVE', threshold: '1', window: 10 }, 'alerts[1].window: must be a string'],
    [{ direction: 'ABOVE', threshold: '1', repeat: 'yes' }, 'alerts[1].repeat: must be true or false'],
    [
      { direction: 'ABOVE', threshold: '1', rearmBy: 'x' },
      'alerts[1].rearmBy: must be a plain decimal number',
    ],
    [{ direction: 'ABOVE', threshold: '1', treshold: '2' }, 'alerts[1].treshold: unknown field'],
    ['ABOVE 1', 'alerts[1]: must be an object'],
  ])('names the entry and the field of a bad alert: %j', (bad, message) => {
    expect(() => parseBacktestAlerts([{ direction: 'ABOVE', threshold: '1' }, bad], rules)).toThrow(message);
  });

  it('ignores the window of a LAST alert, as createAlert does', () => {
    const [alert] = parseBacktestAlerts(
      [{ direction: 'ABOVE', threshold: '1', measure: 'LAST', window: '5m' }],
      rules,
    );
    expect(alert?.measure).toBe('LAST');
  });

  it('wants a non-empty array', () => {
    expect(() => parseBacktestAlerts({ direction: 'ABOVE' }, rules)).toThrow('alerts: must be a JSON array');
    expect(() => parseBacktestAlerts([], rules)).toThrow('alerts: must name at least one alert');
  });
});
