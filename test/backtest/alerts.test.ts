import { describe, expect, it } from 'vitest';
import { parseBacktestAlerts } from '../../src/backtest/alerts.ts';

const windows = ['1m', '10m', '1h', '24h'];

describe('backtest alerts', () => {
  it('fills in the defaults of BacktestAlertInput', () => {
    expect(parseBacktestAlerts([{ direction: 'ABOVE', threshold: '43000.50' }], windows)).toEqual([
      {
        direction: 'ABOVE',
        threshold: '43000.50',
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
      windows,
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
    [{ direction: 'UP', threshold: '1' }, 'alerts[1].direction: must be one of ABOVE, BELOW'],
    [{ direction: 'ABOVE' }, 'alerts[1].threshold: is required'],
    [{ direction: 'ABOVE', threshold: '0.000' }, 'alerts[1].threshold: must be greater than 0'],
    [{ direction: 'ABOVE', threshold: '1e5' }, 'alerts[1].threshold: must be a non-negative decimal'],
    [{ direction: 'ABOVE', threshold: '-3' }, 'alerts[1].threshold: must be a non-negative decimal'],
    [
      { direction: 'ABOVE', threshold: '1.0000000000000000001' },
      'alerts[1].threshold: must have at most 18 decimal places',
    ],
    [
      { direction: 'ABOVE', threshold: '1', measure: 'MEDIAN' },
      'alerts[1].measure: must be one of LAST, MEAN, VWAP',
    ],
    [
      { direction: 'ABOVE', threshold: '1', window: '5m' },
      'alerts[1].window: must be one of 1m, 10m, 1h, 24h, all',
    ],
    [{ direction: 'ABOVE', threshold: '1', repeat: 'yes' }, 'alerts[1].repeat: must be true or false'],
    [
      { direction: 'ABOVE', threshold: '1', rearmBy: 'x' },
      'alerts[1].rearmBy: must be a non-negative decimal',
    ],
    [{ direction: 'ABOVE', threshold: '1', treshold: '2' }, 'alerts[1].treshold: unknown field'],
    ['ABOVE 1', 'alerts[1]: must be an object'],
  ])('names the entry and the field of a bad alert: %j', (bad, message) => {
    expect(() => parseBacktestAlerts([{ direction: 'ABOVE', threshold: '1' }, bad], windows)).toThrow(
      message,
    );
  });

  it('wants a non-empty array', () => {
    expect(() => parseBacktestAlerts({ direction: 'ABOVE' }, windows)).toThrow(
      'alerts: must be a JSON array',
    );
    expect(() => parseBacktestAlerts([], windows)).toThrow('alerts: must name at least one alert');
  });
});
